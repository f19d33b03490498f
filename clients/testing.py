"""Test doubles that understand the library: a mock of every transport, and a fake clock.

`Mock` answers the requests of every client, sync and async, over every transport, from
routes the test registers; it attaches where requests enter a transport (the requests
adapter each sync client picks, `httpx.AsyncHTTPTransport` and
`clients.transports.AiohttpTransport`), so everything above (retries, redirects, auth,
cookies, decoding, deadlines, `max_body`) runs for real:

    mock.get('users/3').respond(json={'id': 3})      # any host, path ending in /users/3
    api = mock.at('https://api.test/v1/')            # routes relative to a base URL
    api.post('items', json={'name': 'x'}).respond(201, headers={'Location': '/items/1'})
    api.get('events').respond(events=[{'data': 'hi', 'id': '1'}])   # text/event-stream
    api.get('flaky').respond(503).respond(json=[])   # answers in turn; the last repeats
    api.get('down').respond(error='connect')         # or 'connect_timeout', 'timeout'

A route that was never called, or a request that matched none, fails `check` with a message
that lists every route. Unmatched requests may go to a cassette instead (`cassette`, see
`clients.cassettes`). The pytest plugin's `clients_mock` fixture starts one per test.

`FakeClock` makes every wait of the library instant and deterministic: retries and backoff,
rate-limit waits, circuit cool-downs (all read `clients.retry.Clock`), reconnect delays of
event streams, OAuth2 token expiry, and the mock's own delays. The `clients_clock` fixture
installs one per test.
"""

from __future__ import annotations

import asyncio
import http.client
import io
import json as json_module
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import parse_qsl, unquote, urlsplit

import requests
import requests.adapters
import urllib3

from . import retry, transports, urls
from .library import httpx

if TYPE_CHECKING:
    from .cassettes import Cassette

ERRORS = ('connect', 'connect_timeout', 'timeout')
_BODIES = ('json', 'text', 'content', 'stream', 'lines', 'events')
_CUT = 'clients.testing: the connection was cut in the middle of the body'
_FRAMING = ('transfer-encoding',)


class NoRoute(AssertionError):
    """A request that no route (nor cassette) answers; the message lists what was registered."""


@dataclass(frozen=True)
class Answer:
    """What a route answers: a response, or an error instead of one.

    Build one with `answer`; `delay` is the seconds before the head comes (past the request's
    read timeout it is a read timeout), `cut` ends the connection after the body's chunks.
    """

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    chunks: tuple[bytes, ...] = ()
    delay: float = 0.0
    cut: bool = False
    error: str | None = None


def _event(value: Any) -> bytes:
    if isinstance(value, str):
        value = {'data': value}
    lines = [f'{name}: {value[name]}' for name in ('event', 'id', 'retry') if value.get(name) is not None]
    lines += [f'data: {line}' for line in str(value.get('data', '')).split('\n')]
    return ('\n'.join(lines) + '\n\n').encode()


def answer(status: int = 200, *, json: Any = None, text: str | None = None, content: bytes | None = None,
           stream: Iterable[bytes | str] | None = None, lines: Iterable[Any] | None = None,
           events: Iterable[Mapping[str, Any] | str] | None = None, headers: Mapping[str, str] | None = None,
           delay: float = 0.0, cut: bool = False, error: str | None = None) -> Answer:
    """Return an `Answer`; at most one body: `json`, `text`, `content`, or a stream of chunks.

    Args:
        stream: body chunks, sent one at a time (str chunks in UTF-8)
        lines: JSON values, sent as NDJSON one line per chunk (`application/x-ndjson`)
        events: server-sent events (dicts of `data`, `event`, `id`, `retry`, or data strings),
            one per chunk (`text/event-stream`)
        delay: seconds before the response head comes
        cut: the connection ends after the chunks, before the body's end
        error: raise instead of answering: 'connect' (refused), 'connect_timeout' or 'timeout' (read)
    """
    given = [name for name, value in zip(_BODIES, (json, text, content, stream, lines, events), strict=True)
             if value is not None]
    if len(given) > 1:
        raise TypeError(f'an answer has one body, not {" and ".join(given)}')
    if error is not None and error not in ERRORS:
        raise ValueError(f'error must be one of {", ".join(ERRORS)}, not {error!r}')
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f'status must be an int from 100 to 599, not {status!r}')
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not delay >= 0:
        raise ValueError(f'delay must be seconds >= 0, not {delay!r}')
    kind: str | None = None
    chunks: tuple[bytes, ...] = ()
    if json is not None:
        kind, chunks = 'application/json', (json_module.dumps(json).encode(),)
    elif text is not None:
        kind, chunks = 'text/plain; charset=utf-8', (text.encode(),)
    elif content is not None:
        chunks = (bytes(content),)
    elif stream is not None:
        chunks = tuple(chunk.encode() if isinstance(chunk, str) else bytes(chunk) for chunk in stream)
    elif lines is not None:
        kind, chunks = 'application/x-ndjson', tuple(json_module.dumps(value).encode() + b'\n' for value in lines)
    elif events is not None:
        kind, chunks = 'text/event-stream', tuple(_event(value) for value in events)
    pairs = list((headers or {}).items())
    names = {name.lower() for name, _ in pairs}
    if kind is not None and 'content-type' not in names:
        pairs.append(('Content-Type', kind))
    if given and given[0] in ('json', 'text', 'content') and not cut and 'content-length' not in names:
        pairs.append(('Content-Length', str(len(chunks[0]))))
    return Answer(status, tuple(pairs), chunks, float(delay), cut, error)


@dataclass
class Call:
    """A request a mock received, and the route that answered it (None: a cassette, or none).

    `timeout` is the (connect, read) seconds it was sent with, None where it had none: what
    the shell handed its transport, after defaults and deadlines.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    content: bytes
    route: Route | None = None
    timeout: tuple[float | None, float | None] = (None, None)

    @property
    def path(self) -> str:
        """The URL's path."""
        return urlsplit(self.url).path

    @property
    def params(self) -> dict[str, list[str]]:
        """The query parameters, each name with its values."""
        found: dict[str, list[str]] = {}
        for name, value in parse_qsl(urlsplit(self.url).query, keep_blank_values=True):
            found.setdefault(name, []).append(value)
        return found

    def json(self) -> Any:
        """The body, decoded as JSON."""
        return json_module.loads(self.content)


_UNSET: Any = object()


class Route:
    """Requests matching a method, path, query, headers and body, and the answers they get, in turn."""

    def __init__(self, method: str | None, path: str, base: str | None, params: Mapping[str, Any] | None,
                 headers: Mapping[str, str] | None, json: Any, content: bytes | None, required: bool,
                 exact: bool = False) -> None:
        self.method = None if method is None else method.upper()
        self.path, self.base = path, base
        # joined as a client joins it (`users:1` is a path); without a base, a path matches as a suffix
        self.target = urls.join(base, path) if base is not None else path
        self._parts = urlsplit(self.target) if urls.absolute_url(self.target) else None
        self._suffix = unquote(self.target.partition('#')[0].partition('?')[0]).lstrip('/')
        pairs = parse_qsl(self.target.partition('#')[0].partition('?')[2], keep_blank_values=True)
        given = {name: str(value) for name, value in (params or {}).items()}
        self.params = {**dict(pairs), **given}
        # with `exact`, the request's query is these pairs and no other (in any order)
        self.exact = sorted([(name, value) for name, value in pairs if name not in given] + list(given.items())
                            ) if exact else None
        self.headers = {name.lower(): value for name, value in (headers or {}).items()}
        self.json, self.content, self.required = json, content, required
        self.answers: list[Answer | Callable[[Call], Answer]] = []
        self.calls: list[Call] = []

    def respond(self, status: int = 200, **kwargs: Any) -> Self:
        """Add an answer (the arguments of `answer`): answers are given in turn, the last repeats."""
        self.answers.append(answer(status, **kwargs))
        return self

    def handle(self, handler: Callable[[Call], Answer]) -> Self:
        """Add an answer made by `handler(call)`, which returns an `answer(...)`."""
        self.answers.append(handler)
        return self

    @property
    def called(self) -> int:
        """How many requests this route answered."""
        return len(self.calls)

    def matches(self, call: Call) -> bool:
        """Return whether `call` is a request of this route."""
        if self.method is not None and call.method != self.method:
            return False
        sent = urlsplit(call.url)
        parts = self._parts
        if parts is not None:
            if (sent.scheme, sent.hostname, _port(sent)) != (parts.scheme, parts.hostname, _port(parts)):
                return False
            if unquote(sent.path) != unquote(parts.path or '/'):
                return False
        elif self._suffix and not unquote(sent.path).endswith('/' + self._suffix):
            return False
        if self.exact is not None and sorted(parse_qsl(sent.query, keep_blank_values=True)) != self.exact:
            return False
        params = call.params
        if any(params.get(name) is None or value not in params[name] for name, value in self.params.items()):
            return False
        if any(call.headers.get(name) != value for name, value in self.headers.items()):
            return False
        if self.content is not None and call.content != self.content:
            return False
        if self.json is not _UNSET:
            try:
                return bool(call.json() == self.json)
            except ValueError:
                return False
        return True

    def next(self, call: Call) -> Answer:
        """Record `call` and return its answer."""
        self.calls.append(call)
        if not self.answers:
            return Answer()
        step = self.answers[min(len(self.calls), len(self.answers)) - 1]
        return step if isinstance(step, Answer) else step(call)

    def __repr__(self) -> str:
        where = self.target
        match = ''.join(f' {name}={value!r}' for name, value in (
            ('params', self.params), ('headers', self.headers), ('content', self.content)) if value)
        if self.exact is not None:
            match += ' exact'
        if self.json is not _UNSET:
            match += f' json={self.json!r}'
        return f'{self.method or "*"} {urls.redact(where) or "*"}{match} (called {self.called} times)'


def _port(parts: Any) -> int | None:
    return int(parts.port or {'http': 80, 'https': 443}.get(parts.scheme, 0))


class Routes:
    """Where routes are registered: a mock, or a view of it at a base URL (`Mock.at`)."""

    def __init__(self, mock: Mock, base: str | None = None) -> None:
        self.mock, self.base = mock, base

    def at(self, base: Any) -> Routes:
        """Return a view whose routes' paths are relative to `base`: a URL or a client (its `url`)."""
        url = getattr(base, 'url', base)
        return Routes(self.mock, urls.base(str(url)))

    def route(self, method: str | None, path: str = '', *, params: Mapping[str, Any] | None = None,
              headers: Mapping[str, str] | None = None, json: Any = _UNSET, content: bytes | None = None,
              required: bool = True, exact: bool = False) -> Route:
        """Register a route; without answers it answers 200 with no body.

        Args:
            method: the method, or None for any
            path: an absolute URL; or a path relative to the base (without a base: any URL whose
                path ends with it, segment by segment; '' matches every URL)
            params: query parameters the request carries (others may come too)
            headers: headers the request carries, with these values
            json: the request's body, as JSON
            content: the request's body, as bytes
            required: whether a test fails if the route is never called
            exact: whether the request's query must be exactly the route's (the path's and
                `params`, in any order), no other parameter
        """
        made = Route(method, path, self.base, params, headers, json, content, required, exact)
        with self.mock.lock:
            self.mock.routes.append(made)
        return made

    def get(self, path: str = '', **match: Any) -> Route:
        """Register a GET route (see `route`)."""
        return self.route('GET', path, **match)

    def post(self, path: str = '', **match: Any) -> Route:
        """Register a POST route (see `route`)."""
        return self.route('POST', path, **match)

    def put(self, path: str = '', **match: Any) -> Route:
        """Register a PUT route (see `route`)."""
        return self.route('PUT', path, **match)

    def patch(self, path: str = '', **match: Any) -> Route:
        """Register a PATCH route (see `route`)."""
        return self.route('PATCH', path, **match)

    def delete(self, path: str = '', **match: Any) -> Route:
        """Register a DELETE route (see `route`)."""
        return self.route('DELETE', path, **match)

    def head(self, path: str = '', **match: Any) -> Route:
        """Register a HEAD route (see `route`)."""
        return self.route('HEAD', path, **match)

    def options(self, path: str = '', **match: Any) -> Route:
        """Register an OPTIONS route (see `route`)."""
        return self.route('OPTIONS', path, **match)


class Mock(Routes):
    """Answers every client's requests from routes while started (a context manager, or `start`/`stop`)."""

    def __init__(self) -> None:
        super().__init__(self)
        self.lock = threading.Lock()
        self.routes: list[Route] = []
        self.calls: list[Call] = []
        self.unmatched: list[str] = []
        self.recorder: Cassette | None = None
        self._undo: list[tuple[Any, str, Any]] = []

    def cassette(self, path: str, mode: str = 'once') -> Cassette:
        """Answer the requests no route matches from the cassette file `path`, recording them in
        it from the real servers first (see `clients.cassettes.Cassette`: mode 'once',
        'record' or 'replay'); it is written, redacted, when the mock stops."""
        from .cassettes import Cassette
        self.recorder = Cassette(path, mode)
        return self.recorder

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        self._undo.append((owner, name, owner.__dict__.get(name, _UNSET)))
        setattr(owner, name, value)

    def start(self) -> Self:
        """Answer requests from now on."""
        from .base import Client
        mock, pick = self, Client.get_adapter

        def get_adapter(session: Any, url: str) -> requests.adapters.BaseAdapter:
            return _Adapter(mock, pick(session, url))

        self._patch(Client, 'get_adapter', get_adapter)
        for transport in (httpx.AsyncHTTPTransport, transports.AiohttpTransport):
            self._patch(transport, 'handle_async_request', _handler(self, transport.handle_async_request))
        return self

    def stop(self) -> None:
        """Stop answering requests; write the cassette, if any."""
        while self._undo:
            owner, name, old = self._undo.pop()
            if old is _UNSET:
                delattr(owner, name)
            else:
                setattr(owner, name, old)
        if self.recorder is not None:
            self.recorder.save()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def listing(self) -> str:
        """The routes registered, one a line."""
        with self.lock:
            return '\n'.join(f'  {route!r}' for route in self.routes) or '  (none)'

    def check(self) -> None:
        """Raise `AssertionError` if a required route was never called or a request matched none."""
        idle = [route for route in self.routes if route.required and not route.calls]
        problems = [f'a request matched no route: {text}' for text in self.unmatched]
        problems += [f'a route was never called: {route!r}' for route in idle]
        if problems:
            raise AssertionError('\n'.join(problems) + '\nroutes:\n' + self.listing())

    def _find(self, call: Call) -> Answer | None:
        """Record `call` and return the answer of the first route matching it (None: for the cassette)."""
        with self.lock:
            self.calls.append(call)
            for route in self.routes:
                if route.matches(call):
                    call.route = route
                    break
        if call.route is not None:
            return call.route.next(call)
        if self.recorder is not None:
            return None
        text = f'{call.method} {urls.redact(call.url)}'
        with self.lock:
            self.unmatched.append(text)
        raise NoRoute(f'clients.testing: no route matches {text}; routes:\n{self.listing()}')


# sync: a requests adapter


def _body(body: Any) -> bytes:
    if body is None:
        return b''
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if hasattr(body, 'read'):
        data = body.read()
        return data.encode() if isinstance(data, str) else bytes(data)
    return b''.join(part.encode() if isinstance(part, str) else bytes(part) for part in body)


class _Chunks(io.RawIOBase):
    """A response body read chunk by chunk, as from a socket; a cut raises as a reset connection does."""

    def __init__(self, chunks: Iterable[bytes], cut: bool = False, done: Callable[[], None] | None = None) -> None:
        self.chunks = iter(chunks)
        self.cut = cut
        self.left = b''
        self.done = done

    def read1(self, size: int = -1) -> bytes:
        if not self.left:
            self.left = next(self.chunks, b'')
            if not self.left:
                if self.cut:
                    raise ConnectionResetError(_CUT)
                return b''
        size = len(self.left) if size is None or size < 0 else size
        piece, self.left = self.left[:size], self.left[size:]
        return piece

    def read(self, size: int = -1) -> bytes:
        parts, want = [], (-1 if size is None else size)
        while want < 0 or want > 0:
            piece = self.read1(want)
            if not piece:
                break
            parts.append(piece)
            want = want - len(piece) if want > 0 else want
        return b''.join(parts)

    def close(self) -> None:
        if not self.closed and self.done is not None:
            self.done()
        super().close()


class _Head:
    """What requests and urllib3 read of http.client's response: the headers (for cookies)."""

    def __init__(self, headers: Iterable[tuple[str, str]]) -> None:
        self.msg = http.client.HTTPMessage()
        for name, value in headers:
            self.msg[name] = value
        self.closed = False

    def isclosed(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


def _seconds(value: Any) -> float | None:
    return value if isinstance(value, int | float) else None  # (not urllib3's default sentinel)


def _sync_timeout(timeout: Any) -> tuple[float | None, float | None]:
    """The (connect, read) seconds of a timeout as requests hands it to an adapter."""
    if isinstance(timeout, tuple):
        return _seconds(timeout[0]), _seconds(timeout[1])
    if isinstance(timeout, urllib3.Timeout):
        return _seconds(timeout.connect_timeout), _seconds(timeout.read_timeout)
    return _seconds(timeout), _seconds(timeout)


class _Connection:
    """What a deadline's watchdog cuts: here, the wait for a delayed answer."""

    def __init__(self) -> None:
        self.cut = threading.Event()
        self.sock = self

    def shutdown(self, how: int) -> None:
        self.cut.set()


def _wait(seconds: float) -> bool:
    """Wait `seconds` (on the fake clock when one is installed); return whether a deadline cut the wait."""
    if FakeClock.installed is not None:
        FakeClock.installed.sleep(seconds)
        return False
    from . import deadlines
    connection = _Connection()
    watch = deadlines.WATCHDOG.current()
    if watch is not None:
        watch.attach(connection)
    return connection.cut.wait(seconds)


def _sync_error(kind: str, request: requests.PreparedRequest) -> Exception:
    url = str(request.url)
    if kind == 'connect':
        reason: Exception = urllib3.exceptions.NewConnectionError(None, 'clients.testing: connection refused')  # type: ignore[arg-type]
        return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, url, reason),  # type: ignore[arg-type]
                                                   request=request)
    if kind == 'connect_timeout':
        reason = urllib3.exceptions.ConnectTimeoutError(None, 'clients.testing: connect timed out')
        return requests.exceptions.ConnectTimeout(urllib3.exceptions.MaxRetryError(None, url, reason),  # type: ignore[arg-type]
                                                  request=request)
    return requests.exceptions.ReadTimeout(
        urllib3.exceptions.ReadTimeoutError(None, url, 'clients.testing: read timed out'), request=request)  # type: ignore[arg-type]


def _reason(status: int) -> str:
    return http.client.responses.get(status, '')


def sync_response(adapter: Any, request: requests.PreparedRequest, status: int, headers: Iterable[tuple[str, str]],
                  chunks: Iterable[bytes], cut: bool = False, reason: str | None = None,
                  done: Callable[[], None] | None = None) -> requests.Response:
    """Return a requests response to `request`, its body read from `chunks` as from a socket."""
    kept = [(name, value) for name, value in headers if name.lower() not in _FRAMING]
    raw = urllib3.HTTPResponse(
        body=_Chunks(chunks, cut, done), headers=urllib3.HTTPHeaderDict(kept), status=status,
        version=11, version_string='HTTP/1.1', reason=_reason(status) if reason is None else reason,
        preload_content=False, decode_content=False, original_response=_Head(kept),  # type: ignore[arg-type]
        request_method=request.method, request_url=request.url,
    )
    response: requests.Response = requests.adapters.HTTPAdapter.build_response(adapter, request, raw)
    return response


class _Adapter(requests.adapters.BaseAdapter):
    """The adapter a mocked sync client sends with: it answers from the mock's routes."""

    def __init__(self, mock: Mock, real: requests.adapters.BaseAdapter) -> None:
        super().__init__()
        self.mock, self.real = mock, real

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        """Answer `request` from the routes (or the cassette)."""
        body = _body(request.body)
        if request.body is not None and not isinstance(request.body, str | bytes | bytearray):
            request.body = body  # (a file or generator is read once, as sending it would)
        call = Call(str(request.method), str(request.url), requests.structures.CaseInsensitiveDict(request.headers),
                    body, timeout=_sync_timeout(timeout))
        found = self.mock._find(call)
        if found is None:
            assert self.mock.recorder is not None
            options = {'stream': stream, 'timeout': timeout, 'verify': verify, 'cert': cert, 'proxies': proxies}
            return self.mock.recorder.sync(self, request, body, options)
        limit = call.timeout[1]
        if found.delay:
            wait = found.delay if limit is None else min(found.delay, limit)
            if _wait(wait):
                raise requests.exceptions.ConnectionError(
                    urllib3.exceptions.ProtocolError('clients.testing: the deadline cut the connection'),
                    request=request)
            if limit is not None and found.delay > limit:
                raise _sync_error('timeout', request)
        if found.error is not None:
            raise _sync_error(found.error, request)
        return sync_response(self, request, found.status, found.headers, found.chunks, found.cut)

    def close(self) -> None:
        """Nothing to close (the real adapter stays the session's)."""


# async: httpx's transport and the aiohttp transport


class _AsyncChunks(httpx.AsyncByteStream):
    """A response body handed over chunk by chunk; a cut raises as a dropped connection does."""

    def __init__(self, chunks: Iterable[bytes], cut: bool, request: httpx.Request) -> None:
        self.chunks, self.cut, self.request = tuple(chunks), cut, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            await asyncio.sleep(0)
            yield chunk
        if self.cut:
            raise httpx.RemoteProtocolError(_CUT, request=self.request)

    async def aclose(self) -> None:
        """Nothing to release."""


def async_response(request: httpx.Request, found: Answer) -> httpx.Response:
    """Return the httpx response of `found` to `request`, its body handed over chunk by chunk."""
    headers = [(name, value) for name, value in found.headers if name.lower() not in _FRAMING]
    extensions = {'http_version': b'HTTP/1.1', 'reason_phrase': http.client.responses.get(found.status, '').encode()}
    return httpx.Response(found.status, headers=headers, stream=_AsyncChunks(found.chunks, found.cut, request),
                          request=request, extensions=extensions)


def _async_error(kind: str, request: httpx.Request) -> Exception:
    if kind == 'connect':
        return httpx.ConnectError('clients.testing: connection refused', request=request)
    if kind == 'connect_timeout':
        return httpx.ConnectTimeout('clients.testing: connect timed out', request=request)
    return httpx.ReadTimeout('clients.testing: read timed out', request=request)


def _handler(mock: Mock, real: Any) -> Any:
    async def handle_async_request(transport: Any, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        given = request.extensions.get('timeout', {})
        call = Call(request.method, str(request.url), request.headers, body,
                    timeout=(given.get('connect'), given.get('read')))
        found = mock._find(call)
        if found is None:
            assert mock.recorder is not None
            return await mock.recorder.asynchronous(transport, request, real)
        limit = call.timeout[1]
        if found.delay:
            wait = found.delay if limit is None else min(found.delay, limit)
            await (FakeClock.installed.asleep(wait) if FakeClock.installed else asyncio.sleep(wait))
            if limit is not None and found.delay > limit:
                raise _async_error('timeout', request)
        if found.error is not None:
            raise _async_error(found.error, request)
        return async_response(request, found)
    return handle_async_request


# the fake clock


@dataclass
class FakeClock(retry.Clock):
    """A clock whose sleeps only move its time forward (recorded in `sleeps`), at once.

    Installed (`with FakeClock() as clock:`, or the `clients_clock` fixture), it is the time of
    every `clients.retry.Clock` (retries, backoff, rate limits, circuits), of event-stream
    reconnect delays, of OAuth2 token expiry and of the mock's delays.
    """

    monotonic: float = 1000.0
    wall: float = 1_700_000_000.0
    sleeps: list[float] = field(default_factory=list)
    installed: ClassVar[FakeClock | None] = None  # the clock installed, if any

    def now(self) -> float:
        """Return the fake monotonic time."""
        return self.monotonic

    def time(self) -> float:
        """Return the fake wall-clock time."""
        return self.wall

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`."""
        self.monotonic += seconds
        self.wall += seconds

    def sleep(self, seconds: float) -> None:
        """Move time forward by `seconds` at once, and record the sleep."""
        if seconds > 0:
            self.sleeps.append(seconds)
            self.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        """Move time forward by `seconds`, and let other tasks run."""
        self.sleep(seconds)
        await asyncio.sleep(0)

    def install(self) -> Self:
        """Make this the time of the whole library until `uninstall`."""
        from . import aio, base
        if FakeClock.installed is not None:
            raise RuntimeError('a FakeClock is installed already')
        clock = self
        self._undo: list[tuple[Any, str, Any]] = []
        methods = {
            'now': lambda _self: clock.now(), 'time': lambda _self: clock.time(),
            'sleep': lambda _self, seconds: clock.sleep(seconds),
            'asleep': lambda _self, seconds: clock.asleep(seconds),
        }
        for name, method in methods.items():
            self._set(retry.Clock, name, method)
            self._set(retry.CLOCK, name, getattr(self, name))
        self._set(base.Resource, '_sleep', staticmethod(self.sleep))
        self._set(aio.AsyncResource, '_sleep', staticmethod(self.asleep))
        FakeClock.installed = self
        return self

    def _set(self, owner: Any, name: str, value: Any) -> None:
        self._undo.append((owner, name, vars(owner).get(name, _UNSET)))
        setattr(owner, name, value)

    def uninstall(self) -> None:
        """Give the library its real time back."""
        while self._undo:
            owner, name, old = self._undo.pop()
            if old is _UNSET:
                delattr(owner, name)
            else:
                setattr(owner, name, old)
        FakeClock.installed = None

    def __enter__(self) -> Self:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()
