"""Transports for the async clients: httpx's own, or one over aiohttp (the fast path).

An httpx transport turns an `httpx.Request` into an `httpx.Response`; everything above it
(URL joining, auth, cookies, redirects, decoding, credential rules) stays httpx's and ours,
so both transports behave the same. `AiohttpTransport` sends over an `aiohttp` connection
pool, which is many times faster than httpx's own for concurrent requests, and maps every
aiohttp error to the httpx exception httpx's own transport raises in the same situation.
"httpx" here is the library in use, httpx2 or httpx (`clients.library`).

`choose` picks a transport by name: `'auto'` (the default, `DEFAULT`) is aiohttp, which a
plain `pip install clients` installs, unless HTTP/2 was asked for (or aiohttp is missing).

`reclaim` mends the pools of httpx's own transports: httpcore 1.0.9 (the newest) loses a
pool slot for good whenever a request is cancelled or times out just as the pool hands it a
new connection, until every later request waits out its pool timeout. httpcore2 2.16 drops
such unopened connections itself, but still keeps the slot of one opened for a request that
then ended (tests/test_pool.py has both cases), so its pools are mended too.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

from urllib3.util.wait import wait_for_read

from .library import httpcore, httpx

try:
    import aiohttp
    import aiohttp.client_proto
    import yarl
except ImportError:  # pragma: no cover (the test extra installs aiohttp)
    aiohttp = None  # type: ignore[assignment]

NAMES = ('auto', 'aiohttp', 'httpx')
# The transport used when none is named; set it to 'httpx' where httpx's transport is mocked.
DEFAULT = 'auto'
# aiohttp adds these headers on its own; httpx has already set every header it means to send.
_AUTO_HEADERS = ('Accept', 'Accept-Encoding', 'Content-Type', 'User-Agent')
_READ_BUFFER = 1 << 18
_CONTROL = re.compile('[\x00-\x08\x0a-\x1f\x7f]')  # not allowed in a reason phrase (RFC 9112, 4)
_SWITCHED = 'the server switched protocols (101) for a request that did not ask to'
_LARGE_BODY = 1 << 20
# The async clients' default pool: every connection a fan-out opens is kept for the next one,
# as raw aiohttp keeps them (httpx's own default keeps 20 of its 100 and reopens the rest).
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)


def choose(name: str | None = None, http2: bool = False) -> str:
    """Return `'aiohttp'` or `'httpx'`: the transport named (`DEFAULT` if None) can serve.

    Raises:
        ValueError: an unknown name, or aiohttp asked to speak HTTP/2
        ImportError: aiohttp asked for but not installed
    """
    name = DEFAULT if name is None else name
    if name not in NAMES:
        raise ValueError(f'transport must be an httpx transport or one of {", ".join(NAMES)}: not {name!r}')
    if name == 'auto':
        return 'aiohttp' if aiohttp is not None and not http2 else 'httpx'
    if name == 'aiohttp':
        if aiohttp is None:
            raise ImportError("transport='aiohttp' needs aiohttp: pip install aiohttp")
        if http2:
            raise ValueError("transport='aiohttp' speaks HTTP/1.1 only: use transport='httpx' with http2=True")
    return name


def _error(exc: Exception) -> type[httpx.TransportError]:
    """Return the httpx exception httpx's own transport raises where aiohttp raised `exc`."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientResponseError | aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol
    if isinstance(exc, aiohttp.ClientConnectionError | OSError):
        return httpx.ReadError
    return httpx.TransportError


def _mapped_error(exc: Exception, request: httpx.Request) -> httpx.TransportError:
    """Return the httpx error to raise from aiohttp's (or a socket's) `exc`."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ServerDisconnectedError) and not isinstance(exc.message, str):
        message = 'the server closed the connection in the middle of the response head'  # (not the part it sent)
    return _error(exc)(message, request=request)


@contextlib.contextmanager
def _mapped(request: httpx.Request) -> Iterator[None]:
    """Re-raise aiohttp errors (and socket errors) as their httpx equivalents."""
    try:
        yield
    except (aiohttp.ClientError, OSError) as exc:
        raise _mapped_error(exc, request) from exc


@functools.lru_cache(maxsize=64)
def _timeout(pool: float | None, connect: float | None, read: float | None) -> Any:
    """Return aiohttp's timeouts for httpx's (`pool` bounds waiting for a connection and connecting)."""
    return aiohttp.ClientTimeout(total=None, connect=pool, sock_connect=connect, sock_read=read)


@functools.cache
def _default_ssl(verify: bool, trust_env: bool, *env: str | None) -> ssl.SSLContext:
    """Return httpx's SSL context for these settings, built once: loading CA files is slow."""
    return httpx.create_ssl_context(verify, None, trust_env)


class _Stream(httpx.AsyncByteStream):
    """A response body read from aiohttp as it arrives."""

    def __init__(self, response: Any, request: httpx.Request) -> None:
        self.response = response
        self.request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped(self.request):
            async for chunk in self.response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        # A body read to its end returns the connection to the pool; a partly read one closes it.
        self.response.release()


class _Handler(aiohttp.client_proto.ResponseHandler if aiohttp else object):  # type: ignore[misc]
    """aiohttp's protocol for a connection, noting bytes that arrive while it waits in the pool."""

    idle = False  # in the pool: no request awaits an answer on it
    stray = False  # bytes came while it was idle

    def set_response_params(self, **kwargs: Any) -> None:
        self.idle = False
        super().set_response_params(**kwargs)

    def data_received(self, data: bytes) -> None:
        self.stray = self.stray or (self.idle and bool(data))
        super().data_received(data)


def _stale(protocol: _Handler) -> bool:
    """Return whether bytes past the end of its last answer came on an open, idle aiohttp connection.

    They came later (`stray`), or wait on the socket, or came with the answer's end: parsed
    into answers nobody asked for (`should_close`), or the beginning of one, which aiohttp's
    parser would report cut off if the connection ended now (its `feed_eof`).
    """
    if protocol.stray or protocol.should_close or wait_for_read(protocol.transport.get_extra_info('socket'), 0):
        return True
    try:
        return protocol._parser.feed_eof() is not None
    except Exception:  # the beginning of an answer it already refuses
        return True


class _Connector(aiohttp.TCPConnector if aiohttp else object):  # type: ignore[misc]
    """A TCP connector that keeps at most `max_keepalive` idle connections, like httpx's pool.

    It reuses a connection only if nothing came on it past the end of its last answer: aiohttp
    would read those bytes as the answer to the next request (it only checks that the
    connection is open).
    """

    def __init__(self, max_keepalive: int | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_keepalive = max_keepalive
        self._factory = functools.partial(_Handler, loop=self._loop)

    def _release(self, key: Any, protocol: Any, *, should_close: bool = False) -> None:
        if self.max_keepalive is not None and sum(map(len, self._conns.values())) >= self.max_keepalive:
            should_close = True
        protocol.idle = True
        super()._release(key, protocol, should_close=should_close)

    async def _get(self, key: Any, traces: list[Any]) -> Any:
        while (connection := await super()._get(key, traces)) is not None and _stale(connection.protocol):
            connection.close()
        return connection


class _Every:
    """Contains everything."""

    def __contains__(self, item: object) -> bool:
        return True


class _Request(aiohttp.ClientRequest if aiohttp else object):  # type: ignore[misc]
    """A request that adds no `Content-Length: 0` of its own: httpx has set one where it is due."""

    GET_METHODS = _Every()  # aiohttp adds the header to a bodiless request of any other method


class _Body:
    """A streamed request body that keeps the error its source raised (aiohttp wraps it)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.error: BaseException | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.stream:
                yield chunk
        except Exception as exc:
            self.error = exc
            raise


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport over an aiohttp connection pool (HTTP/1.1).

    The pool is created on first use, in the running event loop; `aclose` closes it, and the
    next request opens a new one (so `AsyncClient.run` can use the transport in each loop).

    Args:
        verify: `True`, `False`, a CA bundle path or an `ssl.SSLContext`, as in httpx
        cert: a client certificate, as in httpx
        trust_env: whether `SSL_CERT_FILE` / `SSL_CERT_DIR` are read, as in httpx
        limits: `httpx.Limits`: total connections, idle connections kept, keep-alive expiry
            (`LIMITS`: 100 connections, every idle one kept)
    """

    def __init__(
        self,
        verify: ssl.SSLContext | str | bool = True,
        cert: Any = None,
        trust_env: bool = True,
        limits: httpx.Limits = LIMITS,
    ) -> None:
        if isinstance(verify, bool) and cert is None:
            env = (os.environ.get('SSL_CERT_FILE'), os.environ.get('SSL_CERT_DIR')) if trust_env else (None, None)
            self.ssl = _default_ssl(verify, trust_env, *env)
        else:
            self.ssl = httpx.create_ssl_context(verify, cert, trust_env)
        self.limits = limits
        self.session: Any = None

    def _session(self) -> Any:
        if self.session is None or self.session.closed:
            limits = self.limits
            connector = _Connector(
                limits.max_keepalive_connections,
                limit=limits.max_connections or 0,
                keepalive_timeout=limits.keepalive_expiry,
                ssl=self.ssl,
            )
            self.session = aiohttp.ClientSession(
                connector=connector,
                request_class=_Request,
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=_AUTO_HEADERS,
                auto_decompress=False,
                read_bufsize=_READ_BUFFER,
                timeout=aiohttp.ClientTimeout(total=None),
            )
            # aiohttp quietly sends an idempotent request again when a reused connection drops;
            # retries are the retry policy's to make (and count), as with httpx's transport.
            self.session._retry_connection = False
        return self.session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` over the aiohttp pool and return the response, its body unread."""
        timeout = request.extensions.get('timeout', {})
        encoding = request.headers.encoding  # worked out once, not once per header
        headers = [(name.decode(encoding), value.decode(encoding)) for name, value in request.headers.raw]
        data: Any = None
        if 'Transfer-Encoding' in request.headers:  # chunked: aiohttp frames an async-iterable body so
            data = _Body(request.stream)
            headers = [(name, value) for name, value in headers if name.lower() != 'transfer-encoding']
        elif 'Content-Length' in request.headers:
            try:
                data = request.content
                if len(data) > _LARGE_BODY:  # aiohttp sends a file-like body in pieces (and warns otherwise)
                    data = io.BytesIO(data)
            except httpx.RequestNotRead:  # a streamed body of a stated length
                data = _Body(request.stream)
        url = request.url
        if url.userinfo:  # httpx has made it the Authorization header; aiohttp would add its own
            url = url.copy_with(userinfo=b'')
        try:
            response = await self._session().request(
                request.method,
                yarl.URL(str(url), encoded=True),  # httpx has encoded it: skip a second pass
                headers=headers,
                data=data,
                allow_redirects=False,
                compress=False,
                timeout=_timeout(timeout.get('pool'), timeout.get('connect'), timeout.get('read')),
            )
        except (aiohttp.ClientError, OSError) as exc:
            if isinstance(data, _Body) and data.error is not None:
                raise data.error from None  # the caller's body failed, as httpx's transport would say
            raise _mapped_error(exc, request) from exc
        if response.status == 101 and 'Upgrade' not in request.headers:  # httpx's transport refuses it too
            response.close()
            raise httpx.RemoteProtocolError(_SWITCHED, request=request)
        if _CONTROL.search(response.reason or ''):  # aiohttp lets them through; httpx's transport does not
            response.close()
            raise httpx.RemoteProtocolError(f'malformed status line: reason {response.reason!r}', request=request)
        stream: httpx.AsyncByteStream
        if response.content.is_eof():  # the whole body came with the head: hand it over as is
            stream = httpx.ByteStream(response.content.read_nowait())
            response.release()
        else:
            stream = _Stream(response, request)
        extensions = {
            'http_version': f'HTTP/{response.version.major}.{response.version.minor}'.encode(),
            'reason_phrase': (response.reason or '').encode(),
        }
        result = httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=stream,
            request=request,
            extensions=extensions,
        )
        # httpx works the headers' encoding out on each lookup; fix the same value once
        result.headers.encoding = result.headers.encoding
        return result

    async def aclose(self) -> None:
        """Close the connection pool; a later request opens a new one."""
        if self.session is not None:
            await self.session.close()
            self.session = None


class Cookies(httpx.Cookies):
    """`httpx.Cookies` that skips the costly cookie-jar pass for responses that set no cookie."""

    def extract_cookies(self, response: httpx.Response) -> None:
        """Load the cookies of the response's `Set-Cookie` headers, if it has any."""
        if 'Set-Cookie' in response.headers or 'Set-Cookie2' in response.headers:
            super().extract_cookies(response)


def _leftover(connection: Any) -> bool:
    """Return whether bytes past the end of its last answer wait in an httpcore connection's HTTP/1.1 buffer."""
    while (inner := getattr(connection, '_connection', None)) is not None:  # (through its wrappers)
        connection = inner
    state = getattr(connection, '_h11_state', None)
    return state is not None and bool(state.trailing_data[0])


class _Reclaiming(httpcore.AsyncConnectionPool):
    """An httpcore pool that takes back the connections no request holds and none can reuse.

    httpcore gives a queued request a new connection that the request itself opens; if the
    request ends first (cancelled, or its pool timeout just expired), the unopened connection
    is neither idle, closed nor available, so it keeps its slot forever.

    It closes an idle connection with bytes past the end of its last answer, which httpcore
    would read as the answer to the next request (it only closes an idle one whose socket has
    bytes to read).
    """

    def _assign_requests_to_connections(self) -> list[Any]:
        held = {id(waiting.connection) for waiting in self._requests}
        lost = [each for each in self._connections
                if id(each) not in held and not each.is_idle() and not each.is_closed()]
        lost += [each for each in self._connections if each.is_idle() and _leftover(each)]
        for connection in lost:
            self._connections.remove(connection)
        return lost + super()._assign_requests_to_connections()


_RECLAIMING: dict[type[Any], type[Any]] = {}


def _reclaiming(pool: type[Any]) -> type[Any]:
    """Return a class of `pool`'s name (httpcore's pool or a proxy pool) that takes back lost connections."""
    if pool not in _RECLAIMING:
        _RECLAIMING[pool] = type(pool.__name__, (_Reclaiming, pool), {})
    return _RECLAIMING[pool]


def reclaim(*candidates: httpx.AsyncBaseTransport | None) -> None:
    """Make the pools of httpx's own transports among `candidates` take back lost connections."""
    for transport in candidates:
        pool = getattr(transport, '_pool', None)
        if (isinstance(transport, httpx.AsyncHTTPTransport) and isinstance(pool, httpcore.AsyncConnectionPool)
                and not isinstance(pool, _Reclaiming)):
            pool.__class__ = _reclaiming(type(pool))


def build(name: str | None, **options: Any) -> httpx.AsyncBaseTransport | None:
    """Return the transport an `AsyncClient` uses: an `AiohttpTransport`, or None for httpx's own.

    Args:
        name: 'auto', 'aiohttp' or 'httpx' (`DEFAULT` if None)
        **options: the client's `verify`, `cert`, `trust_env`, `limits` and `http2`
    """
    if choose(name, bool(options.get('http2'))) == 'httpx':
        return None
    keep = {key: options[key] for key in ('verify', 'cert', 'trust_env', 'limits') if key in options}
    return AiohttpTransport(**keep)
