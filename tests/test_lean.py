"""The lean path of the async shell (`AsyncClient._build` and `_deliver`) against httpx's own.

A bodiless request with nothing to merge is built and sent without httpx's general machinery;
these tests hold it to exactly what `build_request` and `send` do: the same request object,
the same bytes on the wire, the same response, redirects, cookies and errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clients import AsyncClient, AsyncResource, aio, httpx

NAMES = st.sampled_from(['X-A', 'x-a', 'Accept', 'user-agent', 'Accept-Encoding', 'Cookie', 'Authorization',
                         'X-Long-Name', 'Host', 'Connection', 'Content-Type', 'X-É'])
VALUES = st.text(st.characters(min_codepoint=32, max_codepoint=255, exclude_characters='\x7f'), max_size=12)
HEADERS = st.none() | st.dictionaries(NAMES, VALUES, max_size=4) | st.lists(st.tuples(NAMES, VALUES), max_size=4)
TIMEOUTS = st.sampled_from([None, 3, 2.5, (1, 2), httpx.Timeout(4, connect=1)])
METHODS = st.sampled_from(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'POST', 'PUT', 'PATCH', 'QUERY', 'TRACE'])


def _request(request: httpx.Request) -> tuple[Any, ...]:
    return (type(request), set(vars(request)), request.method, str(request.url), request.headers.raw,
            request.headers.encoding, request.extensions, type(request.stream), request.content)


def _encodable(headers: Any) -> bool:
    pairs = headers.items() if isinstance(headers, dict) else headers or ()
    try:
        for name, value in pairs:
            name.encode('ascii')
            value.encode('ascii')
    except UnicodeEncodeError:
        return False
    return True


@functools.cache
def _client(base: str) -> AsyncClient:
    return AsyncClient(base, transport='aiohttp', headers={'X-Client': 'c'})  # (its pool opens on first use)


@settings(max_examples=300, deadline=None)
@given(METHODS, st.sampled_from(['http://h.test/a/', 'https://h.test:8443/', 'http://[::1]:81/x/']),
       st.sampled_from(['', 'items/1', 'a b/é', 'x?y=1', 'http://other.test/z', '/root']),
       HEADERS, TIMEOUTS, st.booleans())
def test_lean_requests_are_the_requests_httpx_builds(method, base, path, headers, limit, parsed):
    client = _client(base)
    url: Any = client._url(path)
    if parsed:
        url = aio._request_url(url, base)
    kwargs: dict[str, Any] = {} if headers is None else {'headers': headers}
    if limit is not None:
        kwargs['timeout'] = aio.timeout(limit)
    try:
        expected = client.build_request(method, url, **kwargs)
    except UnicodeEncodeError:
        assert not _encodable(headers)
        with pytest.raises(UnicodeEncodeError):
            client._build(method, url, dict(kwargs))
        return
    assert _request(client._build(method, url, dict(kwargs))) == _request(expected)


@pytest.mark.parametrize('setting', ['params', 'cookies', 'content', 'relative', 'hostless', 'merge', 'unusable'])
def test_requests_with_more_to_merge_are_httpx_builds(setting, monkeypatch):
    client = AsyncClient('http://h.test/a/', transport='aiohttp')
    url, kwargs = 'http://h.test/a/b', {}
    if setting == 'params':
        client.params = {'q': '1'}
    elif setting == 'cookies':
        client.cookies.set('n', 'v', domain='h.test')
    elif setting == 'content':
        kwargs = {'content': b'x'}
    elif setting == 'relative':
        url = 'b'
    elif setting == 'hostless':
        url = 'file:///tmp/x'
    elif setting == 'merge':  # a subclass's own header merge (httpx's hook) is respected
        monkeypatch.setattr(AsyncClient, '_merge_headers', lambda self, headers: {'Only': 'this'})
    else:
        monkeypatch.setattr(aio, '_PLAIN', False)
    built = client._build('GET', url, dict(kwargs))
    assert _request(built) == _request(client.build_request('GET', url, **kwargs))
    assert ('Cookie' in built.headers) == (setting == 'cookies')


def test_lean_requests_fall_back_when_httpx_requests_change(monkeypatch):
    assert aio._plain_usable()  # the httpx installed here sets only these attributes
    original = httpx.Request.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.more = None  # a Request that keeps more than the lean path sets

    monkeypatch.setattr(httpx.Request, '__init__', init)
    assert not aio._plain_usable()


class Wire:
    """A raw HTTP/1.1 server on 127.0.0.1 that records each request head as it arrived.

    `/redirect/<code>/<path>` answers `code` with `Location: /<path>` (no Location for `-`), `/cookie` sets
    a cookie, `/bad` redirects to a URL httpx refuses; anything else is a small JSON body.
    """

    def __init__(self) -> None:
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.port = self.listener.getsockname()[1]
        self.heads: list[bytes] = []
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.listener.accept()
                threading.Thread(target=self.serve, args=(connection,), daemon=True).start()

    def serve(self, connection: socket.socket) -> None:
        data = b''
        with connection, contextlib.suppress(OSError):
            while True:
                while b'\r\n\r\n' not in data:
                    if not (more := connection.recv(65536)):
                        return
                    data += more
                head, data = data.split(b'\r\n\r\n', 1)
                self.heads.append(head)
                connection.sendall(self.answer(head))

    @staticmethod
    def answer(head: bytes) -> bytes:
        method, target = head.split(b' ', 2)[:2]
        path = target.split(b'?')[0]
        extra, status, body = b'', b'200 OK', b'{"path": "%s"}' % path
        if path.startswith(b'/redirect/'):
            code, location = path.split(b'/', 3)[2:]
            status, body = code + b' Moved', b''
            extra = b'' if location == b'-' else b'Location: /' + location + b'\r\n'
        elif path == b'/cookie':
            extra = b'Set-Cookie: n=v; Path=/\r\n'
        elif path == b'/bad':
            status, extra = b'302 Found', b'Location: https://[bad\r\n'
        length = b'Content-Length: %d\r\n' % len(body)
        return b'HTTP/1.1 ' + status + b'\r\n' + extra + length + b'\r\n' + (b'' if method == b'HEAD' else body)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(scope='module')
def wire() -> Iterator[Wire]:
    found = Wire()
    yield found
    found.close()


async def _full(self: Any, request: httpx.Request, options: dict[str, Any]) -> httpx.Response:
    """httpx's own path, what `_deliver` stands for."""
    response: httpx.Response = await self.send(request, stream=True, **options)
    return response


def _response(response: httpx.Response | BaseException) -> Any:
    if isinstance(response, BaseException):
        return type(response), str(response)
    following = response.next_request
    return (response.status_code, response.headers.raw, response.content, str(response.url),
            [(each.status_code, str(each.url), each.request.headers.raw) for each in response.history],
            None if following is None else (following.method, str(following.url), following.headers.raw),
            response.request.headers.raw, response.extensions['http_version'])


async def _exchange(wire: Wire, transport: str, method: str, path: str, kwargs: dict[str, Any],
                    lean: bool) -> tuple[Any, list[bytes], list[tuple[str, str]]]:
    del wire.heads[:]
    async with AsyncResource(f'http://127.0.0.1:{wire.port}/', transport=transport,
                             headers={'X-Client': 'c'}, retry=None) as client:
        try:
            result: Any = await client.request(method, path, response=True, **kwargs)
        except Exception as exc:  # (the same error either way, whichever it is)
            result = exc
        return _response(result), list(wire.heads), [(cookie.name, cookie.value) for cookie in client.cookies.jar]


PATHS = st.sampled_from(['items/1', 'a b', 'cookie', 'redirect/302/items/2', 'redirect/303/cookie',
                         'redirect/307/redirect/301/x', 'redirect/308/-', 'redirect/301/redirect/302/bad', 'bad'])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(['GET', 'HEAD', 'OPTIONS', 'DELETE']), PATHS, HEADERS.filter(_encodable),
       st.sampled_from([None, True, False]), st.sampled_from([None, 5]))
@pytest.mark.parametrize('transport', ['httpx', 'aiohttp'])
def test_lean_and_full_paths_send_and_return_the_same(wire, monkeypatch, transport, method, path, headers, follow,
                                                      limit):
    kwargs: dict[str, Any] = {} if headers is None else {'headers': headers}
    if follow is not None:
        kwargs['follow_redirects'] = follow
    if limit is not None:
        kwargs['timeout'] = limit
    lean = asyncio.run(_exchange(wire, transport, method, path, dict(kwargs), True))
    with monkeypatch.context() as patched:
        patched.setattr(aio, '_PLAIN', False)
        patched.setattr(AsyncClient, '_deliver', _full)
        full = asyncio.run(_exchange(wire, transport, method, path, dict(kwargs), False))
    assert lean == full
    assert lean[1]  # the request reached the server


async def test_lean_path_of_a_closed_client_refuses_as_httpx_does():
    client = AsyncClient('http://127.0.0.1:9/', transport='httpx')
    await client.aclose()
    request = client.build_request('GET', 'http://127.0.0.1:9/')
    with pytest.raises(RuntimeError, match='the client has been closed'):
        await client._deliver(request, {})
    with pytest.raises(RuntimeError, match='the client has been closed'):
        await client.send(request)


async def test_lean_path_opens_the_client_as_httpx_does(wire):
    client = AsyncClient(f'http://127.0.0.1:{wire.port}/', transport='aiohttp')
    try:
        await client.get('items/1')
        with pytest.raises(RuntimeError, match='more than once'):
            await client.__aenter__()
    finally:
        await client.aclose()
