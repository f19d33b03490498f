"""The async transports: choosing one, and the aiohttp transport behaving as httpx's own does."""

import asyncio
import socket
import ssl
import types
from collections.abc import Iterator
from urllib.parse import quote

import aiohttp
import pytest

import clients
from clients import aio, httpx, transports


def test_choose(monkeypatch):
    assert transports.choose('httpx') == 'httpx'
    assert transports.choose('aiohttp') == 'aiohttp'
    assert transports.choose('auto') == 'aiohttp'
    assert transports.choose('auto', http2=True) == 'httpx'
    monkeypatch.setattr(transports, 'DEFAULT', 'auto')
    assert transports.choose() == 'aiohttp'
    with pytest.raises(ValueError, match="one of auto, aiohttp, httpx: not 'curl'"):
        transports.choose('curl')
    with pytest.raises(ValueError, match=r'HTTP/1\.1 only'):
        transports.choose('aiohttp', http2=True)
    monkeypatch.setattr(transports, 'aiohttp', None)
    assert transports.choose('auto') == 'httpx'
    with pytest.raises(ImportError, match='needs aiohttp: pip install aiohttp'):
        transports.choose('aiohttp')


async def test_client_transport_argument(monkeypatch):
    monkeypatch.setattr(transports, 'DEFAULT', 'auto')
    async with clients.AsyncResource('http://h/') as api:
        assert isinstance(api._transport, transports.AiohttpTransport)
        assert api.items._transport is api._transport
    async with clients.AsyncClient('http://h/', http2=True) as client:
        assert isinstance(client._transport, httpx.AsyncHTTPTransport)
    async with clients.AsyncClient('http://h/', transport='httpx') as client:
        assert isinstance(client._transport, httpx.AsyncHTTPTransport)
    mock = httpx.MockTransport(lambda request: httpx.Response(204))
    async with clients.AsyncClient('http://h/', transport=mock) as client:
        assert client._transport is mock
        assert (await client.get('x')).status_code == 204
    limits = httpx.Limits(max_connections=7, max_keepalive_connections=3, keepalive_expiry=2)
    client = clients.AsyncClient('https://h/', transport='aiohttp', limits=limits, verify=False)
    assert client._transport.limits is limits
    assert client._transport.ssl.verify_mode == 0
    context = ssl.create_default_context()
    assert clients.AsyncClient('https://h/', transport='aiohttp', verify=context)._transport.ssl is context
    first, second = (clients.AsyncClient('https://h/', transport='aiohttp') for _ in range(2))
    assert first._transport.ssl is second._transport.ssl  # CA files are loaded once
    with pytest.raises(ValueError, match=r"not 'udp'"):
        clients.AsyncClient('http://h/', transport='udp')


KEY = types.SimpleNamespace(host='h', port=80, ssl=True)
INFO = types.SimpleNamespace(real_url='http://h/')


@pytest.mark.parametrize(('error', 'expected'), [
    (aiohttp.ConnectionTimeoutError(), httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError(), httpx.ReadTimeout),
    (aiohttp.ClientConnectorError(KEY, OSError(111, 'refused')), httpx.ConnectError),
    (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError('short'), httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError(INFO, (), message='bad status line'), httpx.RemoteProtocolError),
    (aiohttp.InvalidURL('x'), httpx.UnsupportedProtocol),
    (aiohttp.ClientOSError(104, 'reset'), httpx.ReadError),
    (ConnectionResetError(104, 'reset'), httpx.ReadError),
    (aiohttp.ClientError('other'), httpx.TransportError),
])
def test_errors_map_to_httpx(error, expected):
    request = httpx.Request('GET', 'http://h/')
    with pytest.raises(expected) as info, transports._mapped(request):
        raise error
    assert type(info.value) is expected
    assert info.value.request is request
    assert info.value.__cause__ is error


@pytest.mark.parametrize('name', ['httpx', 'aiohttp'])
async def test_refused_connection(name):
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        async with clients.AsyncResource(f'http://127.0.0.1:{port}/', transport=name) as api:
            with pytest.raises(httpx.ConnectError):
                await api.get('x')


@pytest.mark.parametrize('name', ['aiohttp', 'httpx'])
async def test_an_error_of_the_request_body_is_raised_as_it_is(server, name):
    async def body():
        yield b'first part'
        raise KeyError('the source of the body failed')

    async with clients.AsyncClient(server.url, transport=name, retry=None) as client:
        with pytest.raises(KeyError, match='the source of the body failed'):
            await client.post('echo', content=body())


class ReadsBody(httpx.Auth):
    """An auth that reads the request body first (as signers do)."""

    requires_request_body = True

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers['X-Body-Length'] = str(len(request.content))
        yield request


async def test_requests_go_out_as_httpx_sends_them(server):
    async def body():
        yield b'one,'
        yield b'two'

    requests = [
        ('POST', {'content': b'raw'}), ('POST', {}), ('PUT', {'json': {'a': [1]}}),
        ('GET', {'headers': [('X-A', 'b'), ('X-A', 'c')], 'params': {'q': 'x y'}}),
        ('PATCH', {'data': {'form': 'field'}}), ('DELETE', {'cookies': {'c': '1'}}),
        ('POST', {'content': bytes(range(256)) * 8192}),  # 2 MiB
    ]
    async with (clients.AsyncResource(server.url, transport='httpx') as plain,
                clients.AsyncResource(server.url, transport='aiohttp') as fast):
        for method, kwargs in requests:
            expected = await plain.request(method, 'echo/x', **kwargs)
            assert await fast.request(method, 'echo/x', **kwargs) == expected
        for api in (plain, fast):
            response = await api.client.get('echo')
            assert (response.reason_phrase, response.http_version) == ('OK', 'HTTP/1.1')
            echoed = await api.post('echo', content=body())
            assert echoed['body'] == 'one,two'
            assert echoed['headers']['transfer-encoding'] == 'chunked'
            # A streamed body that an auth read before sending is still sent chunked, as httpx framed it.
            echoed = await api.post('echo', content=body(), auth=ReadsBody())
            assert (echoed['body'], echoed['headers']['x-body-length']) == ('one,two', '7')
            assert echoed['headers']['transfer-encoding'] == 'chunked'


@pytest.mark.parametrize(('user', 'password'), [('user', 'pw'), ('us@er', 'p:w/d%'), ('user', ''), ('', 'pw')])
async def test_userinfo_of_the_base_url_is_sent_as_basic_auth(twin, server, user, password):
    userinfo = f'{quote(user, safe="")}:{quote(password, safe="")}'
    url = server.url.replace('//', f'//{userinfo}@', 1)
    api = twin.Resource(url)
    expected = {'user': user, 'password': password}
    assert await twin(api.get('basic', params=expected)) == {'user': user}
    assert await twin((api / 'basic').get(params=expected)) == {'user': user}  # a derived client
    with pytest.raises(clients.HTTPError) as info:  # the credentials are checked: others are refused
        await twin(api.get('basic', params={'user': 'someone', 'password': 'else'}))
    assert info.value.status_code == 401
    other = {'user': 'a', 'password': 'b'}  # auth passed with the request wins, over both transports
    assert await twin(api.get('basic', params=other, auth=('a', 'b'))) == {'user': 'a'}
    await twin.close(api)


async def test_redirect_resends_the_body(server):
    async with clients.AsyncResource(server.url) as api:
        echoed = await api.redirect.post(params={'to': server.url + 'echo/307', 'code': '307'}, content=b'kept')
        assert (echoed['path'], echoed['body']) == ('/echo/307', 'kept')


async def test_idle_connections_are_capped_by_limits(fresh):
    limits = httpx.Limits(max_connections=10, max_keepalive_connections=1)
    async with clients.AsyncResource(fresh.url, limits=limits) as api:
        for _ in range(2):
            await asyncio.gather(*(api.slow.get(params={'delay': '0.2'}) for _ in range(3)))
    # the first round opens 3 connections and keeps 1; the second reuses it and opens 2
    assert fresh.connections == 5


async def test_the_default_pool_keeps_every_connection_a_fan_out_opens(fresh):
    # httpx's own default keeps 20 idle connections: each later round would reopen 5
    async with clients.AsyncResource(fresh.url) as api:
        for _ in range(3):
            await asyncio.gather(*(api.slow.get(params={'delay': '0.3'}) for _ in range(25)))
    assert fresh.connections == 25
    assert transports.LIMITS.max_connections == transports.LIMITS.max_keepalive_connections == 100


async def test_the_family_shares_one_pool(server, async_transport):
    api = clients.AsyncResource(server.url)
    child = api.echo / 'child'
    assert (await child.get())['path'] == '/echo/child'
    assert child._transport is api._transport
    assert (await api.echo.get())['path'] == '/echo'
    if async_transport == 'aiohttp':
        session = api._transport.session
        assert session is not None
        await child.aclose()
        assert not session.closed
        await api.aclose()
        assert session.closed
        assert api._transport.session is None
    else:
        await api.aclose()
    with pytest.raises(RuntimeError, match='root client has been closed'):
        await child.get()


async def test_waiting_for_a_pooled_connection_times_out(fresh, async_transport):
    limits = httpx.Limits(max_connections=1)
    timeout = httpx.Timeout(5, pool=0.2)
    expected = httpx.ConnectTimeout if async_transport == 'aiohttp' else httpx.PoolTimeout
    async with clients.AsyncResource(fresh.url, limits=limits, timeout=timeout) as api:
        items = api.gate.iter()
        assert await items.__anext__() == {'first': True}  # the stream holds the only connection
        with pytest.raises(expected):
            await api.echo.get()
        fresh.gate.set()
        assert [item async for item in items] == [{'gate_opened': True}]


@pytest.mark.parametrize('base', [
    'http://127.0.0.1:8080/', 'https://api.example.com/v1/', 'http://user:pw@h.test/a%20b/', 'http://[::1]:80/x/',
    'http://h.test/ü/', 'HTTP://H.TEST:443/A/',
])
@pytest.mark.parametrize('rest', [
    '', 'items/1', 'a/b/', 'a./b', 'a//b', 'A-Z_~.0/x..y', '.x', 'a/./b', 'a/../b', 'a/..', 'a b', 'é', 'x?y=1',
    'x#f', '%41', '/root',
])
def test_request_urls_are_the_urls_httpx_parses(base, rest):
    url = base + rest
    built = aio._request_url(url, base)
    expected = httpx.URL(url)
    parsed = built if isinstance(built, httpx.URL) else httpx.URL(built)
    assert (parsed, str(parsed), parsed.raw_path) == (expected, str(expected), expected.raw_path)
    # Only plain paths are built from the base's parts; the rest is left to httpx.
    assert isinstance(built, httpx.URL) == bool(aio._PLAIN_PATH.fullmatch(rest))
    assert aio._request_url('http://elsewhere.test/' + rest, base) == 'http://elsewhere.test/' + rest


def test_request_urls_fall_back_to_httpx_when_its_urls_change(monkeypatch):
    assert aio._url_parts_usable()  # the httpx installed here keeps only the parsed parts
    monkeypatch.setattr(aio, '_FAST_URLS', False)
    assert aio._request_url('http://h.test/a/items', 'http://h.test/a/') == 'http://h.test/a/items'
    probe = httpx.URL('http://h.test/')
    probe.__dict__['cache'] = None  # a URL that keeps more than its parts
    monkeypatch.setattr(httpx, 'URL', lambda url: probe)
    assert not aio._url_parts_usable()
