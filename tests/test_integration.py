"""Both shells against a real HTTP/1.1 server on 127.0.0.1."""

import io
import json

import pytest
import requests

import clients
from clients import httpx
from tests.conftest import each
from tests.server import versioned_state

PATTERN = bytes(range(256)) * 256


def pattern(size):
    return (PATTERN * (size // len(PATTERN) + 1))[:size]


async def test_navigation_reuses_one_connection(twin, fresh):
    api = twin.Resource(fresh.url)
    for i in range(1000):
        assert (await twin(api.echo.items.get(str(i))))['path'] == f'/echo/items/{i}'
    assert fresh.connections == 1
    child = api.echo / 'child'
    await twin.close(child)
    assert (await twin(child.get()))['path'] == '/echo/child'
    assert (await twin(api.echo.get()))['path'] == '/echo'
    assert fresh.connections == 1
    await twin.close(api)
    if twin.name == 'async':
        with pytest.raises(RuntimeError, match='root client has been closed'):
            await child.get()
        with pytest.raises(RuntimeError, match='client has been closed'):
            await api.get()
    else:
        api.echo.get()
        assert fresh.connections == 2


async def test_async_context_manager_closes_only_the_root(fresh):
    async with clients.AsyncResource(fresh.url) as api:
        async with api.echo as child:
            assert (await child.get())['path'] == '/echo'
        assert not api.is_closed
        assert (await api.echo.get())['path'] == '/echo'
    assert api.is_closed
    assert fresh.connections == 1


def test_sync_context_manager_closes_only_the_root(fresh):
    with clients.Resource(fresh.url) as api:
        with api.echo as child:
            assert child.get()['path'] == '/echo'
        assert api.echo.get()['path'] == '/echo'
    assert fresh.connections == 1


async def test_cookies_are_shared_by_the_family(twin, server):
    api = twin.Resource(server.url)
    await twin(api.cookie.get())
    assert (await twin(api.echo.get()))['headers']['cookie'] == 'session=abc'
    await twin.close(api)


@pytest.mark.parametrize('code', [301, 302, 303, 307, 308])
async def test_redirect_to_another_origin_drops_credentials(twin, server, other, code):
    api = twin.Resource(server.url, auth=('user', 'pass'), headers={'Cookie': 'a=1', 'Proxy-Authorization': 'Basic x'})
    echoed = await twin(api.redirect(to=other.url + 'echo', code=code))
    assert echoed['port'] == other.server_address[1]
    assert not {'authorization', 'cookie', 'proxy-authorization'} & set(echoed['headers'])
    await twin.close(api)


async def test_redirect_within_the_origin_keeps_credentials(twin, server):
    api = twin.Resource(server.url, headers={'Authorization': 'Bearer t'})
    echoed = await twin(api.redirect(to=server.url + 'echo/here'))
    assert echoed['path'] == '/echo/here'
    assert echoed['headers']['authorization'] == 'Bearer t'
    await twin.close(api)


def test_redirect_rules_are_strict_about_scheme():
    assert clients.Client('http://h/').should_strip_auth('http://h/a', 'https://h/b')
    assert not clients.Client('http://h/').should_strip_auth('http://h/a', 'http://h:80/b')
    client = clients.AsyncClient('http://h/')
    request = httpx.Request('GET', 'http://h/a', headers={'Authorization': 'x', 'Proxy-Authorization': 'y'})
    assert 'Authorization' not in client._redirect_headers(request, httpx.URL('https://h/b'), 'GET')
    kept = client._redirect_headers(request, httpx.URL('http://h/b'), 'GET')
    assert kept['Authorization'] == 'x'


async def test_short_body_raises(twin, server):
    api = twin.Resource(server.url)
    library_error = requests.exceptions.ChunkedEncodingError if twin.name == 'sync' else httpx.RemoteProtocolError
    with pytest.raises(clients.IncompleteBody, match=r'GET http://127.0.0.1:.*/short: the connection ended') as info:
        await twin(api.short.get())
    assert isinstance(info.value, library_error)
    assert isinstance(info.value, OSError)
    items = []
    with pytest.raises(clients.IncompleteBody):
        async for item in each(api.short.iter(params={'type': 'application/x-ndjson'})):
            items.append(item)
    assert items == [{'a': 1}]
    with pytest.raises(clients.IncompleteBody):
        await twin(api.download(io.BytesIO(), 'short'))
    with pytest.raises(clients.IncompleteBody):
        await twin(api.client.get('short'))
    await twin.close(api)



async def test_lines_split_across_chunks(twin, server):
    api = twin.Resource(server.url)
    parts = ['{"a": 1}\r', '\n', '\n{"b"', ': 2}\r\n\r\n', '{"c": 3}']
    got = await twin.list(api.chunks.iter(params={'parts': json.dumps(parts), 'delay': '0.01'}))
    assert got == [{'a': 1}, {'b': 2}, {'c': 3}]
    params = {'parts': json.dumps(['one\r', '\ntwo\n', '\nthree']), 'type': 'text/plain'}
    text = await twin.list(api.chunks.iter(params=params))
    assert text == ['one', 'two', '', 'three']
    await twin.close(api)


async def test_items_arrive_as_they_are_sent(twin, fresh):
    api = twin.Resource(fresh.url)
    items = api.gate.iter()
    if twin.name == 'async':
        first = await items.__anext__()
        fresh.gate.set()
        rest = [item async for item in items]
    else:
        first = next(items)
        fresh.gate.set()
        rest = list(items)
    assert first == {'first': True}
    assert rest == [{'gate_opened': True}]
    await twin.close(api)


async def test_leaving_iter_early_releases_the_connection(twin, fresh):
    api = twin.one_connection(fresh.url)
    for _ in range(5):
        if twin.name == 'async':
            async for chunk in api.bytes.iter('10000000'):
                assert chunk
                break
        else:
            for chunk in api.bytes.iter('10000000'):
                assert chunk
                break
    assert (await twin(api.echo.get()))['path'] == '/echo'
    await twin.close(api)


async def test_download_large_body(twin, server):
    api = twin.Resource(server.url)
    size = 5_000_000 + 17
    file = await twin(api.download(io.BytesIO(), f'bytes/{size}'))
    assert file.getvalue() == pattern(size)
    chunks = await twin.list(api.iter(f'bytes/{size}'))
    assert b''.join(chunks) == pattern(size)
    await twin.close(api)


async def test_compressed_bodies_are_decoded(twin, server):
    api = twin.Resource(server.url)
    assert await twin.list(api.gzip.iter()) == [{'n': 1}, {'n': 2}] * 1000
    assert await twin(api.gzip.get()) == [{'n': 1}, {'n': 2}] * 1000
    await twin.close(api)


async def test_async_download_to_async_writer(server):
    class Writer:
        def __init__(self):
            self.data = b''

        async def write(self, chunk):
            self.data += chunk

    async with clients.AsyncResource(server.url) as api:
        writer = await api.download(Writer(), 'bytes/100000')
    assert writer.data == pattern(100000)


async def test_timeouts_apply(twin, server):
    api = twin.Resource(server.url, timeout=0.2)
    error = requests.exceptions.Timeout if twin.name == 'sync' else httpx.TimeoutException
    with pytest.raises(error):
        await twin(api.slow.get(params={'delay': '2'}))
    await twin.close(api)


async def test_read_timeout_while_streaming(twin, server):
    api = twin.Resource(server.url, timeout=0.3)
    parts = json.dumps(['{"a": 1}\n', '{"b": 2}\n'])
    error = requests.exceptions.ConnectionError if twin.name == 'sync' else httpx.ReadTimeout
    items = []
    with pytest.raises(error):
        async for item in each(api.chunks.iter(params={'parts': parts, 'delay': '1'})):
            items.append(item)
    assert items == [{'a': 1}]
    await twin.close(api)


def test_run_from_sync_code(server):
    mounts = {'http://127.0.0.1': httpx.AsyncHTTPTransport(), 'http://nowhere.test': None}
    api = clients.AsyncResource(server.url, mounts=mounts)
    for i in range(3):
        assert api.run('get', f'echo/{i}')['path'] == f'/echo/{i}'
    assert api.echo.run('get', 'x')['path'] == '/echo/x'
    assert not api.is_closed
    api.run('aclose')
    assert api.is_closed


async def test_proxy_over_real_hosts(twin, server, other):
    class Api(twin.Proxy, twin.Resource):
        pass

    api = Api(server.url + 'echo', other.url + 'echo')
    ports = {(await twin(api.items[i]))['port'] for i in range(30)}
    assert ports == {server.server_address[1], other.server_address[1]}
    assert all(stats['connections'] == 0 for stats in api.urls.values())
    await twin.close(api)


class Trickle:
    """A raw file that takes at most `most` bytes per write, as a pipe may."""

    def __init__(self, most, asynchronous=False):
        self.most, self.data, self.asynchronous = most, b'', asynchronous

    def write(self, chunk):
        taken = bytes(chunk[:self.most])
        self.data += taken
        if self.asynchronous:
            async def done():
                return len(taken)
            return done()
        return len(taken)


async def test_download_writes_everything_to_a_file_that_takes_part(twin, server):
    api = twin.Resource(server.url)
    file = await twin(api.download(Trickle(1000, twin.name != 'sync'), 'bytes/100000'))
    assert file.data == pattern(100000)
    with pytest.raises(OSError, match='the file took no bytes of a'):
        await twin(api.download(Trickle(0), 'bytes/100'))
    await twin.close(api)


async def test_iter_in_pieces_of_chunk_size(twin, server):
    # Parts of 1, 700, 2500 and 49 bytes arrive one by one; pieces of 1000 bytes come out.
    parts = ['a', 'b' * 700, 'c' * 2500, 'd' * 49]
    api = twin.Resource(server.url)
    params = {'parts': json.dumps(parts), 'type': 'application/octet-stream'}
    pieces = await twin.list(api.chunks.iter(params=params, chunk_size=1000))
    assert [len(piece) for piece in pieces] == [1000, 1000, 1000, 250]
    assert b''.join(pieces) == ''.join(parts).encode()
    # A piece exactly as large as a part is handed over as it came; decoded items are unchanged.
    assert await twin.list(api.chunks.iter(params={**params, 'parts': '["xyz", "xyz"]'}, chunk_size=3)) == [
        b'xyz', b'xyz']
    lines = {'parts': json.dumps(['{"a": 1}\n{"b"', ': 2}\n'])}
    assert await twin.list(api.chunks.iter(params=lines, chunk_size=4)) == [{'a': 1}, {'b': 2}]
    await twin.close(api)



async def test_a_short_body_in_pieces_raises_after_the_whole_pieces(twin, server):
    api = twin.Resource(server.url)
    pieces = []
    with pytest.raises(clients.IncompleteBody):
        async for piece in each(api.short.iter(params={'type': 'application/octet-stream'}, chunk_size=4)):
            pieces.append(piece)
    assert pieces == [b'{"a"', b': 1}']  # not the unfinished third piece: the body was cut short
    await twin.close(api)


# RFC 9110 preconditions: the write is refused after a change whenever a validator allows it

@pytest.mark.parametrize(('validators', 'guarded'), [
    ('strong', True), ('strong+date', True), ('weak+date', True), ('date', True), ('weak', False), ('', False),
])
async def test_update_is_conditional_on_the_validators_a_server_has(twin, fresh, validators, guarded):
    api = twin.Resource(fresh.url, params={'validators': validators})
    state = versioned_state(fresh, 'doc')

    def increment(item, by):
        return {'n': item['n'] + by}

    assert await twin(api.update('versioned/doc', increment, by=1)) == {'n': 2}

    def changed_meanwhile(item):
        state.update(value={'n': 10}, version=state['version'] + 1, modified=state['modified'] + 1)
        return {'n': item['n'] + 1}

    if guarded:
        with pytest.raises(clients.HTTPError, match='412 Precondition Failed: changed meanwhile'):
            await twin(api.update('versioned/doc', changed_meanwhile))
        assert state['value'] == {'n': 10}
    else:  # nothing to make the write conditional on: it is sent unconditionally, as in 1.3
        assert await twin(api.update('versioned/doc', changed_meanwhile)) == {'n': 3}
    put = [headers for method, _, headers in fresh.requests if method == 'PUT'][-1]
    assert 'W/' not in put.get('If-Match', '')
    await twin.close(api)


@pytest.mark.parametrize('validators', ['strong', 'weak+date', 'weak', ''])
async def test_updating_writes_back_with_any_validator(twin, fresh, validators):
    api = twin.Resource(fresh.url, params={'validators': validators})
    if twin.name == 'sync':
        with api.updating('versioned/doc') as item:
            item['n'] += 1
    else:
        async with api.updating('versioned/doc') as item:
            item['n'] += 1
    assert versioned_state(fresh, 'doc') == {'value': {'n': 2}, 'version': 2, 'modified': 1_700_000_001}
    await twin.close(api)
