"""The sync shell: clients over `requests.Session`.

Only I/O lives here: sending, reading bodies and streams. URL rules, decoding, flows and
host choice come from the core modules.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import http.cookiejar
import math
import time
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any, Self

import requests
import urllib3
from requests.structures import CaseInsensitiveDict

from . import (
    agent,
    caching,
    connections,
    content,
    deadlines,
    downloads,
    environment,
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
    urls,
    webhooks,
)
from .auth import Replay, checked, renewable, signing
from .cookies import Pairs, RequestsLayered, bound
from .errors import (
    RequestsBodyTooLarge,
    RequestsDeadlineExceeded,
    RequestsDecodeError,
    RequestsGraphQLError,
    RequestsHTTPError,
    RequestsIncompleteBody,
    transport_errors,
)
from .navigation import TIMEOUT, Headers, Navigable, Navigation, redirects

# A timeout as requests takes it: seconds, (connect, read), or None for none.
Timeout = float | tuple[float | None, float | None] | None

# Auth as requests takes it: a (user, password) pair, or a callable such as `requests.auth.AuthBase`.
Authentication = tuple[str, str] | Callable[[requests.PreparedRequest], requests.PreparedRequest] | None

# Settings a derived client copies (the adapters' pools, cookies and policies are shared).
_COPIED = {dict, list, collections.OrderedDict, CaseInsensitiveDict, events.Hooks}
SETTINGS = frozenset(requests.Session.__attrs__) | {'timeout', 'retry', 'rate', 'deadline', 'follow_redirects',
                                                   'max_body', 'cache', 'coalesce', 'request_hooks'}


_untyped: Any = requests  # (types-requests leaves the helpers used below untyped)

# The setting types `_merge` merges itself: exactly these, whose items requests lists as they are.
_PLAIN_SETTINGS = frozenset({dict, collections.OrderedDict, CaseInsensitiveDict})
_NO_PARAMS = _PLAIN_SETTINGS | {str}  # (empty, these add no query)


def _merge(request_setting: Any, session_setting: Any, dict_class: type = collections.OrderedDict) -> Any:
    """Return requests' `merge_setting` of a request's and a session's setting.

    (requests checks each argument against typing protocols, several microseconds a check on
    Python 3.11; settings of the plain dict types are merged here as requests merges them.)
    """
    if session_setting is None or request_setting is None:  # (requests' first two rules)
        return request_setting if session_setting is None else session_setting
    if type(request_setting) not in _PLAIN_SETTINGS or type(session_setting) not in _PLAIN_SETTINGS:
        return _untyped.sessions.merge_setting(request_setting, session_setting, dict_class=dict_class)
    merged = dict_class()
    for key, value in session_setting.items():
        merged[key] = value
    for key, value in request_setting.items():
        merged[key] = value
    for key in [key for key, value in merged.items() if value is None]:
        del merged[key]
    return merged


@functools.lru_cache(maxsize=256)
def _prepared_root(root: str) -> str:
    prepared = requests.PreparedRequest()
    prepared.prepare_url(root, None)
    return str(prepared.url)


def _prepare_url(prepared: requests.PreparedRequest, url: Any, params: Any) -> None:
    """Set `prepared.url` as `prepared.prepare_url(url, params)` does.

    A URL of plain segments without parameters is its `scheme://authority/` as prepared once
    (parsing, IDNA and quoting leave plain segments as they are) followed by the segments.
    """
    none = params is None or (type(params) in _NO_PARAMS and not params)
    split = urls.plain_split(url) if none and type(url) is str else None
    if split is not None:
        with contextlib.suppress(Exception):  # (then requests raises its own error, naming the whole URL)
            prepared.url = _prepared_root(split[0]) + split[1]
            return
    prepared.prepare_url(url, params)


def _headers_copy(headers: CaseInsensitiveDict[Any]) -> CaseInsensitiveDict[Any]:
    """Return `headers.copy()`, without re-adding each header through `__setitem__`."""
    copied: CaseInsensitiveDict[Any] = CaseInsensitiveDict()
    copied._store = headers._store.copy()  # type: ignore[attr-defined]  # (its items are (name, value) tuples)
    return copied


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


class Client(caching.Settings, retry.Resilience, Navigable, requests.Session):  # type: ignore[misc]
    """A `requests.Session` that sends requests relative to a base URL.

    Args:
        url: base URL; a trailing `/` is ensured
        trailing: text appended to every request's path, e.g. `/`
        headers: headers sent with every request
        **attrs: Session attributes (`auth`, `params`, `verify`, `timeout`, ...), `retry`
            (a `clients.Retry`, or None for no retries), `rate` (requests per second or a
            `clients.RateLimit`), `request_hooks` (by event: see `clients.events`),
            `follow_redirects` (or requests' `allow_redirects`: the
            default of requests that do not say; True unless given), `deadline` (seconds a
            request may take in all: see `clients.deadlines`) and `max_body` (the largest
            decoded body a request that is not streamed reads, in bytes: 64 MiB by default,
            None for no limit; also per request), `cache` (a `clients.Cache`, or True for one
            in memory; also per request) and `coalesce` (identical concurrent GETs send one
            request: see `clients.coalesce`)
    """

    timeout: Timeout
    follow_redirects: bool
    # requests reads ~/.netrc (or $NETRC) for the credentials of a request without auth;
    # a client told to send none (`with_auth(None)`, a webhook delivery) does not.
    _netrc = True

    def __init__(self, url: str, trailing: str = '', headers: Headers = (), **attrs: Any) -> None:
        self.url = urls.base(url)
        follow = redirects(attrs)
        attrs['follow_redirects'] = True if follow is None else follow
        unknown = set(attrs) - SETTINGS
        if unknown:
            raise TypeError(f'unexpected keyword arguments: {", ".join(sorted(unknown))}')
        super().__init__()
        for prefix in ('https://', 'http://'):
            self.mount(prefix, connections.Adapter())
        self.headers['Accept-Encoding'] = content.ACCEPT_ENCODING
        self.headers['User-Agent'] = agent.sync()
        self.trailing = trailing
        self.timeout = TIMEOUT
        self._root = True
        if 'cookies' in attrs and not isinstance(attrs['cookies'], requests.cookies.RequestsCookieJar):
            jar = requests.cookies.RequestsCookieJar()
            for cookie in bound(self._bases(), dict(attrs['cookies'])):
                jar.set_cookie(cookie)
            attrs['cookies'] = jar
        for name, value in attrs.items():
            setattr(self, name, value)
        self.headers.update(headers or ())

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__, _root=True)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def _derive(self, path: object = None, cls: type | None = None) -> Self:
        """Return a view of this client at `path`: same pool and cookies, copied settings."""
        new: Self = object.__new__(cls or type(self))
        state = new.__dict__ = self.__dict__.copy()
        for name, value in state.items():
            kind = type(value)
            if kind is CaseInsensitiveDict:
                state[name] = _headers_copy(value)
            elif kind in _COPIED:
                state[name] = value.copy()
        new.hooks = {event: list(hooks) for event, hooks in self.hooks.items()}
        new._root = False
        if path is not None:
            new.url = urls.child(self.url, path)
        return new

    def close(self) -> None:
        """Close the connection pool if this is the root client; a derived view never does."""
        if self._root:
            super().close()

    def with_params(self, params: Any = (), **more: Any) -> Self:
        """Return a derived client whose query parameters are updated."""
        client = self._derive()
        current: Any = client.params or {}
        client.params = dict(current, **dict(params), **more)
        return client

    def with_timeout(self, timeout: Timeout) -> Self:
        """Return a derived client with another default timeout: seconds or (connect, read)."""
        client = self._derive()
        client.timeout = timeout
        return client

    def with_cookies(self, cookies: Pairs = (), **more: str) -> Self:
        """Return a derived client that also sends these cookies, bound to this client's origins.

        The view's cookies, and those the server sets in answer to its requests, stay in its
        own jar (see `clients.cookies.Layered`): this client's jar and other views never see them.
        """
        client = self._derive()
        client.cookies = RequestsLayered(self.cookies)
        for cookie in bound(self._bases(), cookies, **more):
            client.cookies.set_cookie(cookie)
        return client

    def with_auth(self, auth: Authentication) -> Self:
        """Return a derived client that authenticates with `auth` (None: not at all) instead of
        this client's `auth` and `Authorization` header; like them, it never leaves the origin."""
        client = self._derive()
        client.auth = checked(auth)
        client._netrc = auth is not None
        client.url = urls.anonymous(client.url)  # (a base URL's userinfo is the client's Basic auth)
        client.headers.pop('Authorization', None)
        return client

    def should_strip_auth(self, old_url: str, new_url: str) -> bool:
        """Strip credentials on any redirect to another scheme, host or port."""
        return urls.origin(old_url) != urls.origin(new_url)

    def resolve_redirects(  # type: ignore[override]
        self, resp: requests.Response, req: requests.PreparedRequest, **kwargs: Any
    ) -> Iterator[Any]:
        """Follow redirects; a redirect not followed keeps its body for `stream=True` (and has no `next`).

        (requests reads a redirect's body to prepare `response.next` even when not following it;
        `_attempt` prepares it once it has read the body of a request that is not streamed.)
        """
        if kwargs.get('yield_requests') and kwargs.get('stream'):
            return iter(())
        return super().resolve_redirects(resp, req, **kwargs)  # type: ignore[no-any-return]

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """Also strip the credential headers of the client's auth (API keys, signatures); a
        client that sends no credentials takes none from netrc for the redirect's host either."""
        if self._netrc:
            super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]  # (untyped)
        elif self.should_strip_auth(str(response.request.url), str(prepared_request.url)):
            prepared_request.headers.pop('Authorization', None)
        if self.should_strip_auth(str(response.request.url), str(prepared_request.url)):
            for name in getattr(self.auth, 'credential_headers', ()):
                prepared_request.headers.pop(name, None)

    def webhook(self, url: str, payload: Any, secret: str | bytes, **kwargs: Any) -> requests.Response:
        """POST JSON `payload` to absolute `url` as a signed webhook delivery (see `clients.webhooks`).

        The delivery carries an `Idempotency-Key`, the headers passed here, and none of the
        client's headers, `auth`, cookies or query parameters (they belong to the client's API),
        wherever it goes; redirects are not followed. Error statuses and redirects raise
        `HTTPError`.
        """
        body, headers = webhooks.delivery(payload, secret)
        headers.update(kwargs.pop('headers', None) or {})
        target = urls.absolute(url, 'webhook URL')
        view = self._derive()
        view.headers, view.auth, view.params = requests.utils.default_headers(), None, {}  # type: ignore[assignment]
        view._netrc = False
        view.cookies = requests.cookies.RequestsCookieJar()
        response = view.request('POST', target, data=body, headers=headers, allow_redirects=False, response=True,
                                **kwargs)
        return self._checked(response, redirects=True)

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        """Return `request` prepared with this session's settings, as `requests.Session.prepare_request` does."""
        cookies: Any = request.cookies or {}
        if not isinstance(cookies, http.cookiejar.CookieJar):
            cookies = _untyped.cookies.cookiejar_from_dict(cookies)
        jar = _untyped.cookies.merge_cookies(requests.cookies.RequestsCookieJar(), self.cookies)
        jar = _untyped.cookies.merge_cookies(jar, cookies)
        auth = request.auth
        if self.trust_env and self._netrc and not auth and not self.auth:
            auth = requests.utils.get_netrc_auth(request.url)
        prepared = requests.PreparedRequest()  # (the steps of `PreparedRequest.prepare`, in its order)
        prepared.prepare_method(request.method.upper())
        _prepare_url(prepared, request.url, _merge(request.params, self.params))
        prepared.prepare_headers(_merge(request.headers, self.headers, CaseInsensitiveDict))
        prepared.prepare_cookies(jar)
        prepared.prepare_body(request.data, request.files, request.json)
        prepared.prepare_auth(_merge(auth, self.auth), request.url)
        prepared.prepare_hooks(_untyped.sessions.merge_hooks(request.hooks, self.hooks))
        return prepared

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        """Return requests' merge of these settings with the environment's, read once per change of it."""
        no_proxy = None if proxies is None else proxies.get('no_proxy')
        if not (self.trust_env and isinstance(no_proxy, str | None) and environment.cacheable()):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        found, bundle = environment.settings(url, no_proxy)
        if proxies is not None:
            for scheme, proxy in found.items():
                proxies.setdefault(scheme, proxy)
        if verify is True or verify is None:
            verify = bundle or verify
        return {'proxies': _merge(proxies, self.proxies), 'stream': _merge(stream, self.stream),
                'verify': _merge(verify, self.verify), 'cert': _merge(cert, self.cert)}

    def request(self, method: str, path: object = '', **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Send a request to `path` (relative, `/`-rooted or absolute) and return the response.

        Every request the client sends comes here, those of multi-step flows too: override it
        to log or sign them all. (`response=True`, which flows pass, asks a `Resource` for the
        response instead of its content; a plain client always returns the response.)
        """
        kwargs.pop('response', None)
        return self._exchange(method, path, **kwargs)

    def _exchange(self, method: str, path: object = '', **kwargs: Any) -> requests.Response:
        """The send seam: every request, from `request`, becomes its last response here.

        Deadlines, retries and the rate limit attach here (`_send`), each attempt below in
        `_attempt`; an auth that renewed its credential after the answer (OAuth2 after a 401)
        has the request sent again through `request`, so an override sees the replay too.
        """
        with telemetry.logical():
            credential = renewable(kwargs.get('auth') or self.auth)
            if credential is None:
                return self._send(method, path, **kwargs)
            again = Replay(kwargs)
            response = self._send(method, path, **kwargs)
            refused = again.refused(credential, response)
            if refused is None:
                return response
            response.close()
            credential.renew_refused(refused)
            with telemetry.replay():
                return self.request(method, path, response=True, **again.kwargs(credential))

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Send a prepared request, each redirect hop as its own span when OpenTelemetry is installed."""
        if not telemetry.enabled():
            return super().send(request, **kwargs)
        with telemetry.Hop(str(request.method), str(request.url), request.headers) as hop:
            def answered(response: requests.Response, **_: Any) -> None:  # (before requests follows a redirect)
                if response.request is request:
                    hop.answered(response.status_code)
            hooks = request.hooks['response']
            hooks.insert(0, answered)
            try:
                return super().send(request, **kwargs)
            finally:
                hooks.remove(answered)

    def _send(self, method: str, path: object = '', **kwargs: Any) -> requests.Response:
        cache, flights = caching.options(self, kwargs)
        if cache is not None or flights is not None:  # (what they send comes back here without them)
            return caching.send(self, cache, flights, method, path, kwargs)
        seconds = self._deadline_of(kwargs)
        watching = contextlib.nullcontext() if seconds is None else deadlines.WATCHDOG.watch(seconds)
        with watching as watch:
            plan = retry.plan(self, method, kwargs, None if watch is None else watch.remaining)

            def overdue() -> RequestsDeadlineExceeded | None:
                if watch is None or not watch.expired:
                    return None
                return RequestsDeadlineExceeded(self._overdue(method, path, watch.seconds))
            try:
                with telemetry.deadline(overdue):
                    return self._retrying(plan, method, path, kwargs, watch)
            except Exception as exc:  # the request ends with an error: exactly one give_up tells it
                ended = overdue() or exc
                plan.ending(ended)
                events.fire(self.request_hooks, plan.events)
                if ended is exc:
                    raise
                raise ended from exc

    def _retrying(self, plan: retry.Plan, method: str, path: object, kwargs: dict[str, Any],
                  watch: deadlines.Watch | None = None) -> requests.Response:
        while True:
            plan.clock.sleep(telemetry.waited(plan.start()))
            try:
                response = self._attempt(plan, method, path, **kwargs)
            except transport_errors() as exc:
                if watch is not None and watch.expired:
                    raise
                try:
                    wait = plan.failed(exc)
                finally:
                    events.fire(self.request_hooks, plan.events)
                plan.clock.sleep(wait)
                continue
            finally:  # the head, and a body not streamed, have come: the connection may go back to the pool
                if watch is not None:
                    watch.release()
            delay = plan.answered(response.status_code, response.headers)
            events.fire(self.request_hooks, plan.events)
            if delay is None or delay == math.inf:
                return plan.last(response)
            response.close()
            plan.clock.sleep(delay)

    def _attempt(self, plan: retry.Plan, method: str, path: object = '', base: str | None = None,
                 **kwargs: Any) -> requests.Response:
        """Send one attempt of a request (to `path` under `base`, by default the client's URL), under `_exchange`."""
        url = plan.url = self._url(path, base)
        kwargs.setdefault('timeout', self.timeout)
        if 'content' in kwargs:  # httpx's name for a raw body
            kwargs['data'] = kwargs.pop('content')
        follow = redirects(kwargs)
        kwargs['allow_redirects'] = self.follow_redirects if follow is None else follow
        if self._foreign(path, url):
            names = urls.credentials(self.headers, kwargs.get('headers'))
            kwargs['headers'] = dict(kwargs.get('headers') or {}, **dict.fromkeys(names))
            if self.auth is not None and kwargs.get('auth') is None:
                kwargs['auth'] = _no_auth
        kwargs['auth'] = signing(kwargs.get('auth') or self.auth)
        stream = kwargs.pop('stream', None)
        limit = content.max_body(kwargs.pop('max_body', self.max_body))
        plan.sending(_target(url, kwargs.get('params'), self.params))
        events.fire(self.request_hooks, plan.events)
        response = super().request(method, url, stream=True, **kwargs)
        if stream or (stream is None and self.stream):
            return response
        try:  # read the body here, so that a failed read still closes the connection
            response._content = _read(response, limit)
            response._content_consumed = True  # type: ignore[attr-defined]  # (as requests marks a read body)
        finally:
            response.close()
        if response.is_redirect:  # `response.next`, prepared once the body is read (see resolve_redirects)
            response._next = next(  # type: ignore[attr-defined]
                requests.Session.resolve_redirects(self, response, response.request, yield_requests=True), None)
        return response

    @contextlib.contextmanager
    def streaming(self, method: str, path: object = '', **kwargs: Any) -> Iterator[requests.Response]:
        """Context manager: send a streamed request and close the response on exit.

        (`stream` is the `requests.Session` attribute that sets the default of `stream=`.)
        """
        response = self.request(method, path, stream=True, response=True, **kwargs)
        try:
            yield response
        finally:
            response.close()

    def _checked(self, response: requests.Response, streamed: bool = False,
                 redirects: bool = False) -> requests.Response:
        if response.status_code >= (300 if redirects else 400):
            body = next(_chunks(response, 1 << 16, whole=True), b'') if streamed else response.content
            message = content.status_message(
                str(response.request.method), str(response.url), response.status_code,
                response.reason or '', body, response.headers.get('Content-Type'),
            )
            raise retry.retried(RequestsHTTPError(message, response), response)
        return response

    def _content(self, response: requests.Response) -> Any:
        self._checked(response)
        where = urls.where(response.request.method, response.url)
        return content.decode(
            response.content, response.headers.get('Content-Type'), response.status_code, where, self._kind(response)
        )

    def _drive(self, flow: flows.Flow, reply: Any = None) -> Any:
        """Run a flow's calls until it pauses (returning the paused value) or returns."""
        try:
            step = flow.send(reply)
            while isinstance(step, flows.Call):
                response = self.request(step.method, step.path, response=True, **step.kwargs)
                step = flow.send(flows.Reply(self._content(response), response.headers, str(response.url)))
            return step.value
        except StopIteration as stop:
            return stop.value


def _target(url: str, params: Any, defaults: Any) -> str:
    """Return the URL requests sends to: `url` with the query of the request's and the client's `params`."""
    prepared = requests.PreparedRequest()
    _prepare_url(prepared, url, _merge(params, defaults))
    return str(prepared.url)


def _streamed(client: Client, kwargs: dict[str, Any]) -> bool:
    stream = kwargs.get('stream')
    return bool(client.stream if stream is None else stream)
# Errors of a connection that failed or dropped (a reconnecting stream tries again).
_DROPS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


def _incomplete(method: str, url: str, exc: Exception) -> RequestsIncompleteBody:
    return RequestsIncompleteBody(f'{urls.where(method, url)}: the connection ended before the whole body: {exc}')


def _read(response: requests.Response, limit: int | None) -> bytes:
    """Read a whole decoded body, refusing one over `limit` bytes before reading more of it."""
    where = urls.where(response.request.method, response.url)
    if not response.headers.get('Content-Encoding') and content.too_large(
            limit, fields.integer(response.headers.get('Content-Length'))):
        raise RequestsBodyTooLarge(where, limit or 0, response)
    parts, size = [], 0
    for chunk in _chunks(response, content.CHUNK_SIZE if limit is None else min(content.CHUNK_SIZE, limit + 1), True):
        size += len(chunk)
        if content.too_large(limit, size):
            raise RequestsBodyTooLarge(where, limit or 0, response)
        parts.append(chunk)
    return b''.join(parts)


def _chunks(response: requests.Response, size: int, whole: bool = False) -> Iterator[bytes]:
    """Yield decoded body chunks: as they arrive (up to `size`), or of `size` when `whole`."""
    raw = response.raw
    try:
        if whole:
            yield from raw.stream(size, decode_content=True)
        else:
            # Without a content-encoding, skip urllib3's decoding buffer (a copy per chunk).
            decode = response.headers.get('Content-Encoding', 'identity').lower() != 'identity'
            while chunk := raw.read1(size, decode_content=decode):
                yield chunk
    except urllib3.exceptions.ProtocolError as exc:
        raise _incomplete(str(response.request.method), str(response.url), exc) from exc
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc, response=response) from exc
    except urllib3.exceptions.DecodeError as exc:
        message = f'{urls.where(response.request.method, response.url)}: {exc}'
        raise RequestsDecodeError(message, response=response) from exc


class Resource(Navigation, Client):  # type: ignore[misc]
    """A `Client` that checks statuses, decodes content and navigates by attribute and item."""

    # How `pages` and `each` find the next page, unless given a strategy.
    pagination: paging.Strategy = paging.Link()

    def request(self, method: str, path: object = '', *, response: bool = False,  # type: ignore[override]
                **kwargs: Any) -> Any:
        """Send a request and return its decoded content; error statuses raise `HTTPError`.

        With `response=True`, return the response itself, unchecked, as a plain client does:
        the flows (`iter`, `pages`, `update`, ...) ask for it so, through this method.
        """
        sent = self._exchange(method, path, **kwargs)
        return sent if response else self._content(sent)

    if TYPE_CHECKING:
        @property
        def client(self) -> Client: ...

    def __getitem__(self, key: object) -> Any:
        """GET the resource at `key`, a path that stays under the base URL."""
        return self.get(self._item(key))

    def __setitem__(self, key: object, json: Any) -> None:
        """PUT JSON to the resource at `key`."""
        self.put(self._item(key), json)

    def __delitem__(self, key: object) -> None:
        """DELETE the resource at `key`."""
        self.delete(self._item(key))

    def __call__(self, path: object = '', **params: Any) -> Any:
        """GET with query parameters."""
        return self.get(path, params=params)

    def exists(self, path: object = '') -> bool:
        """Return whether a HEAD request to `path` succeeds (status below 400)."""
        return bool(self.request('HEAD', path, allow_redirects=False, response=True).ok)

    def __contains__(self, key: object) -> bool:
        """`key in resource`: whether a HEAD request to `key` succeeds."""
        return self.exists(self._item(key))

    def iter(self, path: object = '', *, reconnect: bool | int = False, chunk_size: int | None = None,
             max_line: int | None = None, **kwargs: Any) -> Iterator[Any]:
        """Stream a GET: JSON values per line, SSE events, text lines, or byte chunks, by content type.

        Args:
            reconnect: for `text/event-stream`, reconnect after a drop sending `Last-Event-ID`
                and waiting the server's `retry`: `True` until the server answers 204, or the
                number of reconnects in a row that may bring no event
            chunk_size: read the body in pieces of this many bytes, waiting to fill each (the
                last may be shorter), as `iter_content(chunk_size)` does; byte streams yield
                these pieces. By default the body is handed over as it arrives (up to 1 MiB
                at a time), so no item waits for data that has not come yet.
            max_line: the longest line of JSON lines, events or text, in bytes (default
                16 MiB); a longer one raises `DecodeError` before it is held whole
        """
        return self._stream(streams.stream(path, kwargs, reconnect, chunk_size, max_line))

    _sleep = staticmethod(time.sleep)

    def _stream(self, flow: streams.Stream) -> Generator[Any, None, None]:
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
                    yield from step.items
                    try:
                        reply = next(chunks, b'')
                    except _DROPS as exc:
                        reply = streams.Dropped(exc)
                elif isinstance(step, flows.Pause):
                    yield from step.value
                elif isinstance(step, streams.Open):
                    if response is not None:
                        response.close()
                    try:
                        response = self.request(step.method, step.path, stream=True, response=True, **step.kwargs)
                    except _DROPS as exc:
                        reply = streams.Dropped(exc)
                    else:
                        if response.status_code not in step.accept:
                            self._checked(response, streamed=True)
                        where = urls.where(step.method, response.url)
                        content.encodings(response.headers.get('Content-Encoding'), where, RequestsDecodeError)
                        chunks = _chunks(response, step.size or content.CHUNK_SIZE, whole=bool(step.size))
                        reply = streams.Opened(response.status_code, response.headers, str(response.url),
                                               self._kind(response))
                else:
                    self._sleep(step.seconds)
        finally:
            if response is not None:
                response.close()

    __iter__ = iter

    def pages(self, path: object = '', *, strategy: paging.Strategy | None = None, max_pages: int | None = None,
              max_items: int | None = None, **params: Any) -> Iterator[Any]:
        """GET `path` with query `params` and yield each page's content, following next links lazily.

        Args:
            strategy: how to find the next page (default `pagination`: RFC 8288 `Link` headers)
            max_pages: stop after this many pages
            max_items: stop once this many items have been seen
        """
        flow = paging.follow(path, params, strategy or self.pagination, self._bases(), max_pages, max_items)
        while (page := self._drive(flow)) is not paging.END:
            yield page

    def each(self, path: object = '', *, strategy: paging.Strategy | None = None, max_pages: int | None = None,
             max_items: int | None = None, **params: Any) -> Iterator[Any]:
        """GET `path` with query `params` and yield the items of every page, fetching pages lazily.

        Takes the arguments of `pages`; at most `max_items` items are yielded.
        """
        flow = paging.follow(path, params, strategy or self.pagination, self._bases(), max_pages, max_items, True)
        while (items := self._drive(flow)) is not paging.END:
            yield from items

    def download(self, file: downloads.Destination, path: object = '', *, resume: bool = False,
                 progress: downloads.Progress | None = None, **kwargs: Any) -> downloads.Destination:
        """Stream a GET's body into a binary file object, or to a path; return the file or path.

        A path is written through a temporary file in its directory, renamed into place only
        when the body is complete; a failed download leaves no file that looks complete.

        Args:
            file: a binary file object, or a path
            resume: continue `<path>.part` from an earlier failed download with `Range`
            progress: called as `progress(bytes_done, total_or_None)` as the body arrives
        """
        target = downloads.target(file, resume)
        try:
            flow = downloads.download(path, kwargs, target, progress, resume)
            with contextlib.closing(self._stream(flow)) as chunks:
                for chunk in chunks:
                    written = target.file.write(chunk)
                    while (rest := downloads.unwritten(chunk, written)):  # a raw file may write part
                        chunk, written = rest, target.file.write(rest)
        except BaseException:
            target.abort()
            raise
        result: downloads.Destination = target.result()
        return result

    def create(self, path: object = '', json: Any = None, **kwargs: Any) -> str | None:
        """POST and return the `Location` header of the created resource."""
        response = self._checked(self.request('POST', path, json=json, response=True, **kwargs))
        return response.headers.get('Location')

    def update(self, path: object = '', callback: Callable[..., Any] | None = None, **json: Any) -> Any:
        """PATCH `json`; or, with a callback, GET then PUT `callback(current, **json)`.

        The PUT carries `If-Match` / `If-Unmodified-Since` from the GET's strong `ETag` /
        `Last-Modified`, so a concurrent change makes it fail (412) instead of being lost.
        A weak `ETag` (`W/"..."`) never matches `If-Match`, so it is not sent; with no
        other validator the PUT is unconditional, as in 1.3.
        """
        return self._drive(flows.update(path, callback, json))

    @contextlib.contextmanager
    def updating(self, path: object = '', **kwargs: Any) -> Iterator[Any]:
        """Context manager: GET JSON, yield it for editing, then PUT it back if it changed.

        The PUT is conditional as in `update`.
        """
        flow = flows.updating(path, kwargs)
        yield self._drive(flow)
        self._drive(flow)

    def authorize(self, path: object = '', **kwargs: Any) -> Any:
        """Fetch an OAuth token (POST if `json` or `data` is given) and use it for requests.

        Sets `Authorization: <token_type> <access_token>` on this client and returns the
        token JSON; a failed request leaves the previous header in place.
        """
        token, header = self._drive(flows.authorize(path, kwargs))
        self.headers['Authorization'] = header
        return token


class Remote(Navigation, Client):  # type: ignore[misc]
    """A `Client` for RPC: calling it POSTs JSON defaults merged with keyword arguments.

    Args:
        url: base URL
        json: default JSON fields sent with every call
        **kwargs: `Client` options
    """

    def __init__(self, url: str, json: Any = (), **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.json = dict(json)

    if TYPE_CHECKING:
        @property
        def client(self) -> Client: ...

    def __call__(self, path: object = '', **json: Any) -> Any:
        """POST the defaults merged with `json` and return `check` of the decoded result."""
        return self.check(self._content(self.request('POST', path, json=rpc.merge(self.json, json), response=True)))

    @staticmethod
    def check(result: Any) -> Any:
        """Return the result of a call; override to validate or unwrap it."""
        return result


class Graph(Remote):
    """A `Remote` for GraphQL: `execute(query, **variables)` returns `data`."""

    Error = RequestsGraphQLError

    @classmethod
    def check(cls, result: Any) -> Any:
        """Return a GraphQL response's `data`, or raise `Error` with every error and the partial `data`.

        Override to validate or unwrap results; `execute` returns what it returns.
        """
        return graphql.data(result, cls.Error)

    def execute(self, query: str, operation_name: str | None = None, **variables: Any) -> Any:
        """Execute a GraphQL query and return its `data`.

        The decoded response goes through `check`: by default a response with `errors`
        raises `Graph.Error` carrying every error and the partial `data`, also when an error
        status comes with `application/graphql-response+json`.
        """
        payload = rpc.merge(self.json, graphql.body(query, operation_name, variables))
        response = self.request('POST', '', json=payload, headers={'Accept': graphql.ACCEPT}, response=True)
        where = urls.where('POST', response.url)
        result = graphql.result(response.status_code, response.headers.get('Content-Type'), response.content, where,
                                self._kind(response))
        if result is graphql.HTTP_ERROR:
            result = self._content(response)
        return self.check(result)


class JsonRpc(jsonrpc.Methods, Remote):  # type: ignore[misc]
    """A `Remote` speaking JSON-RPC 2.0: `rpc.subtract(42, 23)` returns the call's `result`.

    Attributes are method names (`rpc.math.add` calls `math.add`; `rpc['name']` reaches
    any name); `/` still derives a client at another URL. Errors raise `JsonRpcError`
    subclasses by code.
    """

    def _rpc(self, payload: Any) -> tuple[Any, str]:
        response = self.request('POST', '', json=payload, response=True)
        where = urls.where('POST', response.url)
        value = jsonrpc.read(response.status_code, response.headers.get('Content-Type'), response.content, where,
                             self._kind(response))
        return (self._content(response) if value is jsonrpc.HTTP_ERROR else value), str(response.url)

    def invoke(self, method: str, args: Any = (), kwargs: Any = None) -> Any:
        """Call `method` with positional `args` or named `kwargs` and return its result."""
        message = jsonrpc.request(method, args, kwargs, next(self.ids))
        value, url = self._rpc(message)
        return jsonrpc.result(value, message['id'], method, url)

    def notify(self, method: str, *args: Any, **kwargs: Any) -> None:
        """Send a notification: no id, no result awaited (an HTTP error status still raises)."""
        self._rpc(jsonrpc.request(method, args, kwargs))

    def batch(self, *calls: jsonrpc.Request) -> list[Any]:
        """Send `jsonrpc.call(...)` and `jsonrpc.notification(...)` items in one POST.

        Returns the results in call order (`None` for notifications), matched by id.
        """
        messages = jsonrpc.number(calls, self.ids)
        value, url = self._rpc(messages)
        return jsonrpc.results(messages, value, url)


class Proxy(hosts.Balancer, Client):  # type: ignore[misc]
    """A `Client` over several base URLs; each request goes to a healthy, least busy host.

    A retried request goes to another healthy host when there is one (see `hosts.Balancer`).

    Args:
        *urls: base URLs of the hosts
        **kwargs: `Client` options
    """

    def _attempt(self, plan: retry.Plan, method: str, path: object = '', base: str | None = None,
                 **kwargs: Any) -> requests.Response:
        host = self._route(plan)  # (the host is the base)
        with self.counting(host, plan) as stats:
            response = super()._attempt(plan, method, path, host, **kwargs)
            self.answered(host, response.status_code, plan)
            if _streamed(self, kwargs):  # count the connection until it is closed or read to the end
                stats.add(connections=1)
                release, close = hosts.Once(stats.end), response.close
                response.close = lambda: hosts.closing(close, release)  # type: ignore[method-assign]
                free = getattr(response.raw, 'release_conn', None)
                if free is not None:  # urllib3 calls it once the body is read
                    response.raw.release_conn = lambda: hosts.closing(free, release)  # type: ignore[method-assign]
        return response
