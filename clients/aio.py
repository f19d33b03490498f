"""The async shell: clients over `httpx.AsyncClient`.

Only I/O lives here; each method mirrors its sync twin in `base` and awaits where that one
blocks. URL rules, decoding, flows and host choice come from the core modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.cookiejar
import inspect
import math
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Self

from . import (
    agent,
    caching,
    content,
    deadlines,
    downloads,
    events,
    fields,
    flows,
    graphql,
    hosts,
    jsonrpc,
    paging,
    retry,
    rpc,
    streams,
    telemetry,
    transports,
    urls,
    webhooks,
)
from .aioerrors import (
    HttpxBodyTooLarge,
    HttpxDeadlineExceeded,
    HttpxDecodeError,
    HttpxGraphQLError,
    HttpxHTTPError,
    HttpxIncompleteBody,
)
from .auth import Auth, Replay, checked, renewable, signing
from .cookies import Layered, Pairs, bound
from .errors import AllHostsDown
from .library import httpx
from .navigation import TIMEOUT, Headers, Navigable, Navigation, redirects

_SEND_OPTIONS = ('auth',)
_COPIED = {dict, list, events.Hooks}  # settings a derived client copies (the pool, cookies and policies are shared)


# A timeout as httpx takes it, or (connect, read) as requests takes it.
Timeout = (float | tuple[float | None, float | None] | tuple[float | None, float | None, float | None, float | None]
           | httpx.Timeout | None)


# Auth as httpx takes it: a (user, password) pair, an `httpx.Auth`, or a callable on a request.
Authentication = (tuple[str | bytes, str | bytes] | Callable[[httpx.Request], httpx.Request] | httpx.Auth | None)

# Segments of characters httpx leaves as they are (no quoting), none of them `.` or `..`.
_SEGMENT = r'(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*)?'
_PLAIN_PATH = re.compile(f'{_SEGMENT}(?:/{_SEGMENT})*')


def _url_parts_usable() -> bool:
    """Whether an `httpx.URL` is its parsed parts alone, as `_request_url` builds one (httpx 0.23+)."""
    probe = httpx.URL('http://a.test/b/')
    return set(vars(probe)) == {'_uri_reference'} and hasattr(probe._uri_reference, '_replace')


_FAST_URLS = _url_parts_usable()

# Methods for which httpx adds no `Content-Length: 0` of its own (httpx2 adds it to QUERY, httpx not).
_LEAN_METHODS = frozenset({'GET', 'HEAD', 'OPTIONS', 'DELETE'})
_LEAN_OPTIONS = frozenset({'headers', 'timeout'})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})  # those of httpx's `has_redirect_location`
_OPENED = httpx._client.ClientState.OPENED


def _plain_request(method: str, url: httpx.URL, headers: httpx.Headers, extensions: dict[str, Any]) -> httpx.Request:
    """Return the bodiless request `httpx.Request(method, url, headers=headers, extensions=extensions)` makes,
    without its body encoding and header passes: `Host` first, then `headers` (which must not name `Host`)."""
    request = httpx.Request.__new__(httpx.Request)
    request.method = method
    request.url = url
    request.headers = httpx.Headers([(b'Host', url.netloc), *headers.raw]) if url.host else httpx.Headers(headers.raw)
    request.extensions = extensions
    request.stream = httpx.ByteStream(b'')
    request._content = b''
    return request


def _plain_usable() -> bool:
    """Whether `_plain_request` builds what httpx's `Request` does (checked once: it sets httpx's attributes)."""
    url, headers, extensions = httpx.URL('http://a.test:8/b?c'), httpx.Headers({'X-A': 'b', 'Accept': '*/*'}), {'t': 1}
    built, plain = httpx.Request('GET', url, headers=headers, extensions=extensions), _plain_request(
        'GET', url, headers, extensions)
    return (set(vars(built)) == set(vars(plain)) and type(built.stream) is type(plain.stream)
            and (built.method, built.url, built.headers.raw, built.extensions, built.content)
            == (plain.method, plain.url, plain.headers.raw, plain.extensions, plain.content))


_PLAIN = _plain_usable()


@functools.lru_cache(maxsize=256)
def _parsed(base: str) -> Any:
    """The parts of a base URL as httpx parses them (it checks and normalizes every URL)."""
    return httpx.URL(base)._uri_reference


def _request_url(url: str, base: str) -> httpx.URL | str:
    """Return `url` for httpx: parsed from its base's parts when the rest is a plain path.

    httpx parses each URL in about 30 µs; a path of plain segments joined to a base it has
    parsed once comes out the same (tested against httpx's parse), in about 2. Should a
    future httpx keep more in a URL than its parts, every URL goes to httpx's parse.
    """
    if not _FAST_URLS or not url.startswith(base) or not _PLAIN_PATH.fullmatch(url, len(base)):
        return url
    parts = _parsed(base)
    fast = httpx.URL.__new__(httpx.URL)
    fast._uri_reference = parts._replace(path=parts.path + url[len(base):])
    return fast


def timeout(value: Timeout) -> Any:
    """Return an httpx timeout; a (connect, read) pair sets connect and the rest to read."""
    if isinstance(value, tuple) and len(value) == 2:
        connect, read = value
        return httpx.Timeout(read, connect=connect)
    return value


class AsyncClient(caching.Settings, retry.Resilience, Navigable, httpx.AsyncClient):  # type: ignore[misc]
    """An `httpx.AsyncClient` that sends requests relative to a base URL.

    Args:
        url: base URL; a trailing `/` is ensured
        trailing: text appended to every request's path, e.g. `/`
        headers: headers sent with every request
        **kwargs: `httpx.AsyncClient` options (`auth`, `params`, `timeout`, `http2`, ...);
            redirects are followed by default, as in the sync clients (`follow_redirects`, or
            requests' `allow_redirects`, sets the default of requests that do not say);
            `retry`, `rate`, `deadline`, `max_body`, `cache`, `coalesce` and `request_hooks` as in `Client`; `transport`
            may also name one: 'aiohttp', 'httpx' or 'auto' (the default: aiohttp when installed); `limits` defaults to
            `transports.LIMITS` (100 connections, every idle one kept), over either transport
    """

    def __init__(self, url: str, trailing: str = '', headers: Headers = (), **kwargs: Any) -> None:
        self.url = urls.base(url)
        self.retry = kwargs.pop('retry', retry.DEFAULT)
        self.deadline = kwargs.pop('deadline', deadlines.DEFAULT)
        self.rate = kwargs.pop('rate', None)
        self.request_hooks = kwargs.pop('request_hooks', None)
        self.cache, self.coalesce = kwargs.pop('cache', None), kwargs.pop('coalesce', False)
        kwargs['timeout'] = timeout(kwargs.get('timeout', TIMEOUT))
        follow = redirects(kwargs)
        kwargs['follow_redirects'] = True if follow is None else follow
        cookies = kwargs.pop('cookies', None)
        self.max_body = kwargs.pop('max_body', content.MAX_BODY)
        kwargs.setdefault('limits', transports.LIMITS)
        if kwargs.get('transport') is None or isinstance(kwargs['transport'], str):
            kwargs['transport'] = transports.build(kwargs.get('transport'), **kwargs)
        super().__init__(headers=headers, **kwargs)
        given = {name.lower() for name in dict(headers or ())}
        if 'accept-encoding' not in given:  # what _chunks undoes
            self.headers['Accept-Encoding'] = content.ACCEPT_ENCODING
        if 'user-agent' not in given:
            self.headers['User-Agent'] = agent.asynchronous()
        transports.reclaim(self._transport, *self._mounts.values())
        self._cookies = transports.Cookies(self._cookies.jar)  # the same jar, extracted faster
        if isinstance(cookies, httpx.Cookies | http.cookiejar.CookieJar):
            self._cookies = transports.Cookies(cookies)
        elif cookies is not None:  # names and values: bound to this client's origins
            for cookie in bound(self._bases(), cookies):
                self._cookies.jar.set_cookie(cookie)
        self.trailing = trailing
        self._root = True
        self._owner: AsyncClient | None = None

    def __reduce__(self) -> Any:
        raise TypeError(
            f'{type(self).__name__} cannot be pickled or deep-copied: it owns a connection pool; '
            'use copy.copy or / for a view that shares it'
        )

    def _derive(self, path: object = None, cls: type | None = None) -> Self:
        """Return a view of this client at `path`: same pool and cookies, copied settings."""
        new: Self = object.__new__(cls or type(self))
        state = self.__dict__
        new.__dict__ = {name: value.copy() if type(value) in _COPIED else value for name, value in state.items()}
        new._headers = self._headers.copy()
        new._event_hooks = {event: list(hooks) for event, hooks in self._event_hooks.items()}
        new._root = False
        new._owner = self._owner or self
        if path is not None:
            new.url = urls.child(self.url, path)
        return new

    async def aclose(self) -> None:
        """Close the connection pool if this is the root client; a derived view never does."""
        if self._root:
            await super().aclose()

    async def __aenter__(self) -> Self:
        if self._root:
            await super().__aenter__()
        return self

    async def __aexit__(self, *args: Any) -> None:
        if self._root:
            await super().__aexit__(*args)

    def with_params(self, params: Any = (), **more: Any) -> Self:
        """Return a derived client whose query parameters are updated."""
        client = self._derive()
        client.params = client.params.merge(dict(dict(params), **more))
        return client

    def with_timeout(self, value: Timeout) -> Self:
        """Return a derived client with another default timeout: seconds or (connect, read)."""
        client = self._derive()
        client.timeout = timeout(value)
        return client

    def with_cookies(self, cookies: Pairs = (), **more: str) -> Self:
        """Return a derived client that also sends these cookies, bound to this client's origins
        (see `Client.with_cookies`: what the view stores stays in its own jar)."""
        client = self._derive()
        jar = Layered(self._cookies.jar)
        for cookie in bound(self._bases(), cookies, **more):
            jar.set_cookie(cookie)
        client._cookies = transports.Cookies(jar)
        return client

    def with_auth(self, auth: Authentication) -> Self:
        """Return a derived client that authenticates with `auth` (None: not at all) instead of
        this client's `auth` and `Authorization` header; like them, it never leaves the origin."""
        client = self._derive()
        client.auth = checked(auth, httpx.Auth)
        client.url = urls.anonymous(client.url)  # (a base URL's userinfo is the client's Basic auth)
        client.headers.pop('Authorization', None)
        return client

    def _redirect_headers(self, request: httpx.Request, url: httpx.URL, method: str) -> httpx.Headers:
        """Strip credentials on any redirect to another scheme, host or port."""
        headers = super()._redirect_headers(request, url, method)
        if urls.origin(str(url)) != urls.origin(str(request.url)):
            for name in (*urls.CREDENTIAL_HEADERS, *getattr(self._auth, 'credential_headers', ())):
                headers.pop(name, None)
        return headers

    async def webhook(self, url: str, payload: Any, secret: str | bytes, **kwargs: Any) -> httpx.Response:
        """POST JSON `payload` to absolute `url` as a signed webhook delivery (see `Client.webhook`)."""
        body, headers = webhooks.delivery(payload, secret)
        headers.update(kwargs.pop('headers', None) or {})
        target = urls.absolute(url, 'webhook URL')
        view = self._derive()
        view.headers, view.params = {}, {}  # (httpx's setter puts its default headers back)
        view._auth = None
        view._cookies = transports.Cookies()
        response = await view.request('POST', target, content=body, headers=headers, follow_redirects=False,
                                      response=True, **kwargs)
        return await self._checked(response, redirects=True)

    async def request(self, method: str, path: object = '', **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        """Send a request to `path` (relative, `/`-rooted or absolute) and return the response.

        Every request the client sends comes here, as in `Client.request` (`response=True`
        asks an `AsyncResource` for the response itself).
        """
        kwargs.pop('response', None)
        return await self._exchange(method, path, **kwargs)

    async def _exchange(self, method: str, path: object = '', **kwargs: Any) -> httpx.Response:
        """The send seam: every request, from `request`, becomes its last response here (see `Client._exchange`)."""
        with telemetry.logical():
            credential = renewable(kwargs.get('auth', self._auth))
            if credential is None:
                return await self._send(method, path, **kwargs)
            again = Replay(kwargs)
            response = await self._send(method, path, **kwargs)
            refused = again.refused(credential, response)
            if refused is None:
                return response
            await response.aclose()
            await credential.arenew_refused(refused)
            with telemetry.replay():
                replay: httpx.Response = await self.request(method, path, response=True, **again.kwargs(credential))
            return replay

    async def _send_single_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request on the wire (httpx calls it per redirect hop): a span when OpenTelemetry is installed."""
        if not telemetry.enabled():
            return await super()._send_single_request(request)
        with telemetry.Hop(request.method, str(request.url), request.headers) as hop:
            response: httpx.Response = await super()._send_single_request(request)
            hop.answered(response.status_code)
            return response

    async def _send(self, method: str, path: object = '', **kwargs: Any) -> httpx.Response:
        cache, flights = caching.options(self, kwargs)
        if cache is not None or flights is not None:  # (what they send comes back here without them)
            return await caching.asend(self, cache, flights, method, path, kwargs)
        seconds = self._deadline_of(kwargs)
        loop = asyncio.get_running_loop()
        end = None if seconds is None else loop.time() + seconds
        plan = retry.plan(self, method, kwargs, None if end is None else lambda: max(end - loop.time(), 0.0))
        scope = asyncio.timeout_at(end)  # (None: it never expires)

        def overdue() -> HttpxDeadlineExceeded | None:
            if not scope.expired():
                return None
            return HttpxDeadlineExceeded(self._overdue(method, path, seconds or 0.0))
        try:
            with telemetry.deadline(overdue):
                async with scope:
                    return await self._retrying(plan, method, path, kwargs)
        except Exception as exc:  # the request ends with an error: exactly one give_up tells it
            ended = overdue() or exc
            plan.ending(ended)
            await events.afire(self.request_hooks, plan.events)
            if ended is exc:
                raise
            raise ended from exc

    async def _retrying(self, plan: retry.Plan, method: str, path: object, kwargs: dict[str, Any]) -> httpx.Response:
        while True:
            await plan.clock.asleep(telemetry.waited(await _reserve(plan)))
            try:
                response = await self._attempt(plan, method, path, **kwargs)
            except (httpx.TransportError, AllHostsDown) as exc:
                try:
                    wait = plan.failed(exc)
                finally:
                    await events.afire(self.request_hooks, plan.events)
                await plan.clock.asleep(wait)
                continue
            delay = plan.answered(response.status_code, response.headers)
            await events.afire(self.request_hooks, plan.events)
            if delay is None or delay == math.inf:
                return plan.last(response)
            await response.aclose()
            await plan.clock.asleep(delay)

    async def _attempt(self, plan: retry.Plan, method: str, path: object = '', base: str | None = None,
                       **kwargs: Any) -> httpx.Response:
        """Send one attempt of a request (to `path` under `base`, by default the client's URL), under `_exchange`."""
        if self._owner is not None and self._owner.is_closed:
            raise RuntimeError('Cannot send a request, as the root client has been closed.')
        url = plan.url = self._url(path, base)
        stream = kwargs.pop('stream', False)
        limit = content.max_body(kwargs.pop('max_body', self.max_body))
        options = {name: kwargs.pop(name) for name in _SEND_OPTIONS if name in kwargs}
        follow = redirects(kwargs)
        if follow is not None:
            options['follow_redirects'] = follow
        if 'timeout' in kwargs:
            kwargs['timeout'] = timeout(kwargs['timeout'])
        foreign = self._foreign(path, url)
        request = self._build(method, _request_url(url, base or self.url), kwargs)
        plan.sending(str(request.url))
        await events.afire(self.request_hooks, plan.events)
        if foreign:
            for name in urls.credentials(self.headers, kwargs.get('headers')):
                del request.headers[name]
            options.setdefault('auth', None)
        if 'auth' in options or isinstance(self._auth, Auth):
            options['auth'] = signing(options.get('auth', self._auth))
        response = await self._deliver(request, options)
        if not stream:
            try:
                response._content = await _read(response, limit)
            finally:
                await response.aclose()
        return response

    def _build(self, method: str, url: httpx.URL | str, kwargs: dict[str, Any]) -> httpx.Request:
        """Return `build_request(method, url, **kwargs)`: for a bodiless request with no query or cookie to
        merge, built from the client's headers in one pass (httpx merges and checks every part)."""
        if (not _PLAIN or method not in _LEAN_METHODS or not _LEAN_OPTIONS.issuperset(kwargs) or self._params
                or self._cookies):
            return self.build_request(method, url, **kwargs)
        if not isinstance(url, httpx.URL):
            url = httpx.URL(url)
            if url.is_relative_url:
                return self.build_request(method, url, **kwargs)
        headers = self._merge_headers(kwargs.get('headers'))
        if not isinstance(headers, httpx.Headers) or 'Host' in headers:
            return self.build_request(method, url, **kwargs)
        limits = self.timeout if 'timeout' not in kwargs else httpx.Timeout(kwargs['timeout'])
        return _plain_request(method, url, headers, {'timeout': limits.as_dict()})

    async def _deliver(self, request: httpx.Request, options: dict[str, Any]) -> httpx.Response:
        """Return `send(request, stream=True, **options)`: without auth or httpx event hooks, the same
        steps without its auth flow (httpx's redirect loop takes over at a redirect)."""
        if (options.get('auth', self._auth) is not None or request.url.userinfo or self._event_hooks['request']
                or self._event_hooks['response'] or self.max_redirects < 0):
            response: httpx.Response = await self.send(request, stream=True, **options)
            return response
        if self.is_closed:
            raise RuntimeError('Cannot send a request, as the client has been closed.')
        self._state = _OPENED
        response = await self._send_single_request(request)
        response.history = []
        if response.status_code not in _REDIRECT_STATUSES or not response.has_redirect_location:
            return response
        try:
            if not options.get('follow_redirects', self.follow_redirects):
                with contextlib.suppress(httpx.RemoteProtocolError):
                    response.next_request = self._build_redirect_request(request, response)
                return response
            following = self._build_redirect_request(request, response)
            await response.aread()
        except BaseException:
            await response.aclose()
            raise
        response = await self._send_handling_redirects(following, follow_redirects=True, history=[response])
        return response

    @contextlib.asynccontextmanager
    async def stream(  # type: ignore[override]
        self, method: str, path: object = '', **kwargs: Any
    ) -> AsyncIterator[httpx.Response]:
        """Async context manager: send a streamed request and close the response on exit."""
        response = await self.request(method, path, stream=True, response=True, **kwargs)
        try:
            yield response
        finally:
            await response.aclose()

    streaming = stream

    async def _checked(self, response: httpx.Response, streamed: bool = False,
                       redirects: bool = False) -> httpx.Response:
        if response.status_code >= (300 if redirects else 400):
            body = b''
            if streamed:
                async for chunk in _chunks(response):
                    body += chunk
                    if len(body) >= 1 << 16:
                        break
            else:
                body = response.content
            message = content.status_message(
                response.request.method, str(response.url), response.status_code,
                response.reason_phrase, body, response.headers.get('Content-Type'),
            )
            raise retry.retried(HttpxHTTPError(message, response), response)
        return response

    async def _content(self, response: httpx.Response) -> Any:
        await self._checked(response)
        where = urls.where(response.request.method, response.url)
        return content.decode(
            response.content, response.headers.get('Content-Type'), response.status_code, where, self._kind(response)
        )

    async def _drive(self, flow: flows.Flow, reply: Any = None) -> Any:
        """Run a flow's calls until it pauses (returning the paused value) or returns."""
        try:
            step = flow.send(reply)
            while isinstance(step, flows.Call):
                response = await self.request(step.method, step.path, response=True, **step.kwargs)
                step = flow.send(flows.Reply(await self._content(response), response.headers, str(response.url)))
            return step.value
        except StopIteration as stop:
            return stop.value

    def run(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run the coroutine method `name` to completion from sync code, in a new event loop.

        Connections opened during the run are closed before it returns, so no pool is tied
        to a finished loop; the client stays usable for later runs.
        """
        return asyncio.run(self._run(name, args, kwargs))

    async def _run(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        owner = self._owner or self
        try:
            return await getattr(self, name)(*args, **kwargs)
        finally:
            await owner._transport.aclose()
            for transport in owner._mounts.values():
                if transport is not None:
                    await transport.aclose()


async def _reserve(plan: retry.Plan) -> float:
    """Count an attempt and take its rate-limit slot; a shared limit's round trip runs in a thread."""
    now, limit = plan.begin(), plan.limit
    if limit is None:
        return 0.0
    if limit.store is None:
        return limit.reserve(now)
    return await asyncio.to_thread(limit.reserve, now)


def _incomplete(response: httpx.Response, exc: Exception) -> HttpxIncompleteBody:
    message = f'{_where(response)}: the connection ended before the whole body: {exc}'
    return HttpxIncompleteBody(message, request=response.request)


def _where(response: httpx.Response) -> str:
    return urls.where(response.request.method, response.url)


async def _read(response: httpx.Response, limit: int | None) -> bytes:
    """Read a whole decoded body, refusing one over `limit` bytes before reading more of it."""
    if 'Content-Encoding' not in response.headers and content.too_large(
            limit, fields.integer(response.headers.get('Content-Length'))):
        raise HttpxBodyTooLarge(_where(response), limit or 0, request=response.request)
    parts, size = [], 0
    plain = 'Content-Encoding' not in response.headers and not response.is_stream_consumed  # (else httpx's copy)
    async for chunk in _raw(response) if plain else _chunks(response):
        size += len(chunk)
        if content.too_large(limit, size):
            raise HttpxBodyTooLarge(_where(response), limit or 0, request=response.request)
        parts.append(chunk)
    return b''.join(parts)


async def _raw(response: httpx.Response) -> AsyncIterator[bytes]:
    """Yield the chunks of a body without content-encodings as they arrive (what `_chunks` yields, with
    httpx's identity decoder left out)."""
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    except httpx.RemoteProtocolError as exc:
        raise _incomplete(response, exc) from exc


async def _chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """Yield decoded body chunks as they arrive, content-encodings undone in bounded pieces.

    httpx's own decoders are never used: they undo a whole chunk at once, however large it
    becomes. As from urllib3, a body whose encodings are all unknown comes as it is.
    """
    where = _where(response)
    applied = content.encodings(response.headers.get('Content-Encoding'), where, HttpxDecodeError)
    try:
        if applied:
            decompressor = content.Decompressor(content.undone(applied, where, HttpxDecodeError),
                                                where=where, error=HttpxDecodeError)
            async for data in response.aiter_raw():
                for piece in decompressor.feed(data):
                    yield piece
        else:
            async for chunk in response.aiter_bytes():
                yield chunk
    except httpx.RemoteProtocolError as exc:
        raise _incomplete(response, exc) from exc
    except HttpxDecodeError as exc:
        exc._request = response.request
        raise


class AsyncResource(Navigation, AsyncClient):  # type: ignore[misc]
    """An `AsyncClient` that checks statuses, decodes content and navigates by attribute and item."""

    # How `pages` and `each` find the next page, unless given a strategy.
    pagination: paging.Strategy = paging.Link()

    async def request(self, method: str, path: object = '', *, response: bool = False,  # type: ignore[override]
                      **kwargs: Any) -> Any:
        """Send a request and return its decoded content; error statuses raise `HTTPError`.

        With `response=True`, return the response itself, unchecked (see `Resource.request`).
        """
        sent = await self._exchange(method, path, **kwargs)
        return sent if response else await self._content(sent)

    if TYPE_CHECKING:
        @property
        def client(self) -> AsyncClient: ...

    def __getitem__(self, key: object) -> Coroutine[Any, Any, Any]:
        """Awaitable GET of the resource at `key`, a path that stays under the base URL."""
        return self.get(self._item(key))

    def __setitem__(self, key: object, json: Any) -> None:
        raise TypeError(f'assignment cannot be awaited: use `await resource.put({key!r}, json)`')

    def __delitem__(self, key: object) -> None:
        raise TypeError(f'deletion cannot be awaited: use `await resource.delete({key!r})`')

    def __call__(self, path: object = '', **params: Any) -> Coroutine[Any, Any, Any]:
        """Awaitable GET with query parameters."""
        return self.get(path, params=params)

    async def exists(self, path: object = '') -> bool:
        """Return whether a HEAD request to `path` succeeds (status below 400)."""
        response: httpx.Response = await self.request('HEAD', path, follow_redirects=False, response=True)
        return response.status_code < 400

    def __contains__(self, key: object) -> bool:
        raise TypeError(f'`in` cannot be awaited: use `await resource.exists({key!r})`')

    def iter(self, path: object = '', *, reconnect: bool | int = False, chunk_size: int | None = None,
             max_line: int | None = None, **kwargs: Any) -> AsyncIterator[Any]:
        """Stream a GET: JSON values per line, SSE events, text lines, or byte chunks, by content type.

        Takes the arguments of `Resource.iter` (`reconnect`, `chunk_size`, `max_line`).
        """
        return self._stream(streams.stream(path, kwargs, reconnect, chunk_size, max_line))

    _sleep = staticmethod(asyncio.sleep)

    async def _stream(self, flow: streams.Stream) -> AsyncGenerator[Any, None]:
        """Drive a stream flow: open, read and sleep as it asks, yield the items it hands over."""
        response = None
        chunks: Any = None
        reply: Any = None
        try:
            while True:
                try:
                    step = flow.send(reply)
                except StopIteration:
                    return
                reply = None
                if isinstance(step, streams.Read):
                    for item in step.items:
                        yield item
                    try:
                        reply = await anext(chunks, b'')
                    except httpx.TransportError as exc:
                        reply = streams.Dropped(exc)
                elif isinstance(step, flows.Pause):
                    for item in step.value:
                        yield item
                elif isinstance(step, streams.Open):
                    if response is not None:
                        await response.aclose()
                    try:
                        response = await self.request(step.method, step.path, stream=True, response=True,
                                                      **step.kwargs)
                    except httpx.TransportError as exc:
                        reply = streams.Dropped(exc)
                    else:
                        if response.status_code not in step.accept:
                            await self._checked(response, streamed=True)
                        chunks = _chunks(response)
                        reply = streams.Opened(response.status_code, response.headers, str(response.url),
                                               self._kind(response))
                else:
                    await self._sleep(step.seconds)
        finally:
            if response is not None:
                await response.aclose()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self.iter()

    async def pages(self, path: object = '', *, strategy: paging.Strategy | None = None,
                    max_pages: int | None = None, max_items: int | None = None, **params: Any) -> AsyncIterator[Any]:
        """GET `path` with query `params` and yield each page's content, following next links lazily."""
        flow = paging.follow(path, params, strategy or self.pagination, self._bases(), max_pages, max_items)
        while (page := await self._drive(flow)) is not paging.END:
            yield page

    async def each(self, path: object = '', *, strategy: paging.Strategy | None = None,
                   max_pages: int | None = None, max_items: int | None = None, **params: Any) -> AsyncIterator[Any]:
        """GET `path` with query `params` and yield the items of every page, fetching pages lazily."""
        flow = paging.follow(path, params, strategy or self.pagination, self._bases(), max_pages, max_items, True)
        while (items := await self._drive(flow)) is not paging.END:
            for item in items:
                yield item

    async def download(self, file: downloads.AsyncDestination, path: object = '', *, resume: bool = False,
                       progress: downloads.Progress | None = None, **kwargs: Any) -> downloads.AsyncDestination:
        """Stream a GET's body into a binary file object (sync or async `write`), or to a path.

        Takes the arguments of `Resource.download`; returns the file or the path.
        """
        target = downloads.target(file, resume)
        try:
            flow = downloads.download(path, kwargs, target, progress, resume)
            async with contextlib.aclosing(self._stream(flow)) as chunks:
                async for chunk in chunks:
                    written = target.file.write(chunk)
                    written = await written if inspect.isawaitable(written) else written
                    while (rest := downloads.unwritten(chunk, written)):  # a raw file may write part
                        chunk, written = rest, target.file.write(rest)
                        written = await written if inspect.isawaitable(written) else written
        except BaseException:
            target.abort()
            raise
        result: downloads.AsyncDestination = target.result()
        return result

    async def create(self, path: object = '', json: Any = None, **kwargs: Any) -> str | None:
        """POST and return the `Location` header of the created resource."""
        response = await self._checked(await self.request('POST', path, json=json, response=True, **kwargs))
        location: str | None = response.headers.get('Location')
        return location

    async def update(self, path: object = '', callback: Callable[..., Any] | None = None, **json: Any) -> Any:
        """PATCH `json`; or, with a callback, GET then conditionally PUT `callback(current, **json)`.

        The preconditions are those of `Resource.update`: a strong `ETag` and `Last-Modified`.
        """
        return await self._drive(flows.update(path, callback, json))

    @contextlib.asynccontextmanager
    async def updating(self, path: object = '', **kwargs: Any) -> AsyncIterator[Any]:
        """Async context manager: GET JSON, yield it for editing, then PUT it back if it changed.

        The PUT is conditional as in `update`.
        """
        flow = flows.updating(path, kwargs)
        yield await self._drive(flow)
        await self._drive(flow)

    async def authorize(self, path: object = '', **kwargs: Any) -> Any:
        """Fetch an OAuth token (POST if `json` or `data` is given) and use it for requests."""
        token, header = await self._drive(flows.authorize(path, kwargs))
        self.headers['Authorization'] = header
        return token


class AsyncRemote(Navigation, AsyncClient):  # type: ignore[misc]
    """An `AsyncClient` for RPC: calling it POSTs JSON defaults merged with keyword arguments."""

    def __init__(self, url: str, json: Any = (), **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.json = dict(json)

    if TYPE_CHECKING:
        @property
        def client(self) -> AsyncClient: ...

    async def __call__(self, path: object = '', **json: Any) -> Any:
        """POST the defaults merged with `json` and return `check` of the decoded result."""
        response = await self.request('POST', path, json=rpc.merge(self.json, json), response=True)
        return self.check(await self._content(response))

    @staticmethod
    def check(result: Any) -> Any:
        """Return the result of a call; override to validate or unwrap it."""
        return result


class AsyncGraph(AsyncRemote):
    """An `AsyncRemote` for GraphQL: `await execute(query, **variables)` returns `data`."""

    Error = HttpxGraphQLError

    @classmethod
    def check(cls, result: Any) -> Any:
        """Return a GraphQL response's `data`, or raise `Error` with every error and the partial `data`."""
        return graphql.data(result, cls.Error)

    async def execute(self, query: str, operation_name: str | None = None, **variables: Any) -> Any:
        """Execute a GraphQL query and return `check` of the response: its `data`; `errors` raise `AsyncGraph.Error`."""
        payload = rpc.merge(self.json, graphql.body(query, operation_name, variables))
        response = await self.request('POST', '', json=payload, headers={'Accept': graphql.ACCEPT}, response=True)
        where = urls.where('POST', response.url)
        result = graphql.result(response.status_code, response.headers.get('Content-Type'), response.content, where,
                                self._kind(response))
        if result is graphql.HTTP_ERROR:
            result = await self._content(response)
        return self.check(result)


class AsyncJsonRpc(jsonrpc.Methods, AsyncRemote):  # type: ignore[misc]
    """An `AsyncRemote` speaking JSON-RPC 2.0: `await rpc.subtract(42, 23)` returns `result`."""

    async def _rpc(self, payload: Any) -> tuple[Any, str]:
        response = await self.request('POST', '', json=payload, response=True)
        where = urls.where('POST', response.url)
        value = jsonrpc.read(response.status_code, response.headers.get('Content-Type'), response.content, where,
                             self._kind(response))
        return (await self._content(response) if value is jsonrpc.HTTP_ERROR else value), str(response.url)

    async def invoke(self, method: str, args: Any = (), kwargs: Any = None) -> Any:
        """Call `method` with positional `args` or named `kwargs` and return its result."""
        message = jsonrpc.request(method, args, kwargs, next(self.ids))
        value, url = await self._rpc(message)
        return jsonrpc.result(value, message['id'], method, url)

    async def notify(self, method: str, *args: Any, **kwargs: Any) -> None:
        """Send a notification: no id, no result awaited (an HTTP error status still raises)."""
        await self._rpc(jsonrpc.request(method, args, kwargs))

    async def batch(self, *calls: jsonrpc.Request) -> list[Any]:
        """Send `jsonrpc.call(...)` and `jsonrpc.notification(...)` items in one POST."""
        messages = jsonrpc.number(calls, self.ids)
        value, url = await self._rpc(messages)
        return jsonrpc.results(messages, value, url)


class AsyncProxy(hosts.Balancer, AsyncClient):  # type: ignore[misc]
    """An `AsyncClient` over several base URLs; each request goes to a healthy, least busy host."""

    async def _attempt(self, plan: retry.Plan, method: str, path: object = '', base: str | None = None,
                       **kwargs: Any) -> httpx.Response:
        if self._store() is None:
            host = self._route(plan)  # (the host is the base)
        else:  # the shared circuits are read (and a probe claimed) in a thread: the loop never waits on the store
            host = await asyncio.to_thread(self._route, plan)
        with self.counting(host, plan) as stats:
            response = await super()._attempt(plan, method, path, host, **kwargs)
            self.answered(host, response.status_code, plan)
            if kwargs.get('stream'):  # count the connection until it is closed (httpx closes it once read)
                stats.add(connections=1)
                release, close = hosts.Once(stats.end), response.aclose
                response.aclose = lambda: hosts.aclosing(close, release)  # type: ignore[method-assign]
        return response
