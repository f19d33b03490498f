"""Content-encodings: the chain limit and bounded decompression, in the core and both shells."""

import gzip
import io
import re
import zlib

import brotli
import pytest
import requests

import clients
from clients import content, httpx
from clients.content import zstd
from tests.conftest import URL, each


def test_encodings():
    assert content.encodings(None) == []
    assert content.encodings('identity') == []
    assert content.encodings(' GZIP , identity,, br') == ['gzip', 'br']
    assert content.encodings('gzip, ' * 5) == ['gzip'] * 5
    with pytest.raises(clients.DecodeError, match=r'^GET u: refusing a chain of 6 content-encodings \(at most 5\)$'):
        content.encodings('gzip, ' * 6, 'GET u')
    with pytest.raises(clients.errors.HttpxDecodeError, match=r'^refusing a chain of 7'):
        content.encodings('deflate,' * 7, error=clients.errors.HttpxDecodeError)


def decode(applied, body, limit=1000, pieces=1):
    decompressor = content.Decompressor(applied, limit)
    parts = []
    for start in range(0, len(body), len(body) // pieces + 1):
        parts += decompressor.feed(body[start:start + len(body) // pieces + 1])
    assert not any(stage.pending() for stage in decompressor.stages)
    return parts


def compress(encoding, data):
    """`data` with one content-encoding applied."""
    if encoding == 'br':
        return brotli.compress(data)
    if encoding == 'zstd':
        return zstd.compress(data)
    return gzip.compress(data) if encoding == 'gzip' else zlib.compress(data)


def raw_deflate(data):
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize('pieces', [1, 7])
def test_decompressor_is_bounded(pieces):
    data = bytes(range(256)) * 4000 + b'\0' * 3_000_000
    for applied, body in [
        (['gzip'], gzip.compress(data)),
        (['x-gzip'], gzip.compress(data)),
        (['deflate'], zlib.compress(data)),
        (['deflate'], raw_deflate(data)),
        (['deflate', 'gzip'], gzip.compress(zlib.compress(data))),
        (['br'], brotli.compress(data)),
        (['zstd'], zstd.compress(data)),
        (['zstd'], zstd.compress(data[:500_000]) + zstd.compress(data[500_000:])),  # two frames
        (['br', 'gzip', 'zstd'], zstd.compress(gzip.compress(brotli.compress(data)))),
    ]:
        parts = decode(applied, body, pieces=pieces)
        assert b''.join(parts) == data
        assert max(map(len, parts)) <= 1000


def test_decompressor_exact_limit_and_errors():
    data = b'x' * 4096
    assert b''.join(decode(['gzip', 'gzip'], gzip.compress(gzip.compress(data)), limit=1024)) == data
    for applied, body in [(['gzip'], b'not gzip at all'), (['deflate'], zlib.compress(data)[:10] + b'\xff' * 20),
                          (['br'], b'not brotli'), (['zstd'], b'not zstd at all'),
                          (['zstd'], zstd.compress(data) + b'not another frame')]:
        expected = f'^GET u: the {re.escape(repr(applied))} body cannot be decoded: '
        with pytest.raises(clients.DecodeError, match=expected) as info:
            list(content.Decompressor(applied, where='GET u').feed(body))
        assert isinstance(info.value.__cause__, content.CORRUPT)
    with pytest.raises(clients.errors.HttpxDecodeError, match=r"^the \['br'\] body"):
        list(content.Decompressor(['br'], error=clients.errors.HttpxDecodeError).feed(b'not brotli'))


def test_what_is_undone_and_asked_for():
    assert content.undone(['gzip', 'x-gzip', 'deflate', 'br', 'zstd']) == ['gzip', 'x-gzip', 'deflate', 'br', 'zstd']
    assert content.undone(['compress', 'x-unknown']) == []
    with pytest.raises(clients.DecodeError, match=r'^GET u: cannot undo the content-encoding compress of gzip, '):
        content.undone(['gzip', 'compress'], 'GET u')
    assert content.ACCEPT_ENCODING == 'gzip, deflate, br, zstd'  # (what urllib3 asks for, with these installed)
    assert requests.utils.default_headers()['Accept-Encoding'] == content.ACCEPT_ENCODING


async def test_a_long_chain_of_encodings_is_refused(twin, server, tmp_path):
    api = twin.Resource(server.url)
    assert await twin(api.layers(n=5)) == {'layers': 5}
    assert await twin.list(api.layers.iter(params={'n': 5})) == [{'layers': 5}]
    library = requests.exceptions.ContentDecodingError if twin.name == 'sync' else httpx.DecodingError
    calls = (lambda: api.layers(n=6), lambda: twin.list(api.layers.iter(params={'n': 6})),
             lambda: api.download(io.BytesIO(), 'layers', params={'n': 6}),
             lambda: api.download(tmp_path / 'f', 'layers', params={'n': 6}))
    for call in calls:
        with pytest.raises(clients.DecodeError, match=r'GET http://127.0.0.1:\d+/layers(\?n=6)?: .*6') as info:
            await twin(call())
        assert isinstance(info.value, library)
    assert list(tmp_path.iterdir()) == []
    await twin.close(api)


async def test_decompression_bombs_come_out_in_bounded_pieces(twin, server):
    api = twin.Resource(server.url)
    for encoding in ('gzip', 'deflate', 'br', 'zstd'):  # 16 MiB of zeros arrive in one network chunk or so
        sizes = [len(chunk) for chunk in await twin.list(api.iter('bomb', params={'encoding': encoding, 'mib': 16}))]
        assert sum(sizes) == 16 << 20
        assert max(sizes) <= content.CHUNK_SIZE

    class Sizes:
        def __init__(self):
            self.sizes = []

        def write(self, chunk):
            self.sizes.append(len(chunk))

    for encoding in ('gzip', 'br', 'zstd'):
        sink = await twin(api.download(Sizes(), 'bomb', params={'mib': 16, 'encoding': encoding}))
        assert sum(sink.sizes) == 16 << 20
        assert max(sink.sizes) <= content.CHUNK_SIZE
    await twin.close(api)


@pytest.mark.parametrize('encoding', ['br', 'zstd'])
async def test_a_small_bomb_stays_small(twin, server, encoding):
    # 2 GiB of zeros in about 3 KB (brotli) or 64 KB (zstd): read a few pieces, then stop
    api = twin.Resource(server.url)
    items = api.iter('bomb', params={'encoding': encoding, 'mib': 2048})
    sizes = []
    async for chunk in each(items):
        sizes.append(len(chunk))
        if len(sizes) == 3:
            break
    assert len(sizes) == 3
    assert max(sizes) <= content.CHUNK_SIZE
    await _close(items)
    await twin.close(api)



async def _close(items):
    await (items.aclose() if hasattr(items, 'aclose') else _none(items.close()))


async def _none(value):
    return value


async def test_encodings_that_cannot_be_undone(twin, server):
    api = twin.Resource(server.url)
    assert await twin(api.get('encoded', params={'encoding': 'x-unknown', 'hex': b'raw'.hex()})) == b'raw'
    assert await twin.list(api.iter('encoded', params={'encoding': 'compress', 'hex': b'raw'.hex()})) == [b'raw']
    params = {'encoding': 'gzip, compress', 'hex': gzip.compress(b'abc').hex()}
    for call in (lambda: api.get('encoded', params=params), lambda: twin.list(api.iter('encoded', params=params))):
        with pytest.raises(clients.DecodeError, match=r'^GET http://127\.0\.0\.1:\d+/encoded'):
            await twin(call())
    await twin.close(api)


async def test_corrupt_bodies_raise_decode_errors(twin, server):
    api = twin.Resource(server.url)
    library = requests.exceptions.ContentDecodingError if twin.name == 'sync' else httpx.DecodingError
    for call in (lambda: api.get('bomb', params={'corrupt': 1, 'mib': 1}),
                 lambda: twin.list(api.iter('bomb', params={'corrupt': 1, 'mib': 1}))):
        with pytest.raises(clients.DecodeError, match=r'GET http://127.0.0.1:\d+/bomb(\?corrupt=1&mib=1)?: ') as info:
            await twin(call())
        assert isinstance(info.value, library)
    await twin.close(api)


async def test_json_nested_too_deeply(twin):
    deep = b'[' * 100_000 + b']' * 100_000
    twin.mock('GET', URL + 'deep', body=deep, headers={'Content-Type': 'application/json'})
    twin.mock('GET', URL + 'failed', status=500, body=b'{"error":' * 900 + b'"x"' + b'}' * 900,
              headers={'Content-Type': 'application/json'})
    twin.mock('POST', URL + 'graph', body=deep, headers={'Content-Type': 'application/json'})
    api = twin.Resource(URL, retry=None)
    with pytest.raises(clients.DecodeError, match=r'^GET http://api.test/v1/deep: invalid JSON \(nested too deeply\)'):
        await twin(api.deep())
    with pytest.raises(clients.DecodeError, match='nested too deeply'):
        await twin.list(api.iter('deep'))
    with pytest.raises(twin.HTTPError, match=r'^GET http://api.test/v1/failed returned 500 Internal Server Error: '
                                             r'\{"error":\{"error":'):
        await twin(api.failed())
    graph = twin.Graph(URL + 'graph')
    with pytest.raises(clients.DecodeError, match='nested too deeply'):
        await twin(graph.execute('{ a }'))
    await twin.close(graph)
    await twin.close(api)


async def test_max_body_bounds_what_is_read_into_memory(twin, server):
    api = twin.Resource(server.url, retry=None)
    assert api.max_body == content.MAX_BODY == 64 << 20
    library = requests.RequestException if twin.name == 'sync' else httpx.RequestError
    # a 2 GiB brotli bomb of 3 KB, a 256 MiB gzip one, a body that never ends: read no further than the limit
    for path, params in [('bomb', {'encoding': 'br', 'mib': 2048}), ('bomb', {'encoding': 'gzip', 'mib': 256}),
                         ('endless', {})]:
        with pytest.raises(clients.BodyTooLarge, match=rf'^GET http://127\.0\.0\.1:\d+/{path}\S*: the body is larger '
                                                       r'than max_body=67108864 bytes; raise max_body, or stream it$'):
            await twin(api.get(path, params=params))
    small = api / 'bomb'  # derived clients inherit it; a request may set its own
    small.max_body = 1 << 20
    assert (api.max_body, (small / 'x').max_body) == (64 << 20, 1 << 20)
    assert len(await twin(small.get(params={'mib': 1}))) == 1 << 20
    with pytest.raises(clients.BodyTooLarge, match=r'max_body=1048575 bytes') as info:
        await twin(small.get(params={'mib': 1}, max_body=(1 << 20) - 1))
    assert isinstance(info.value, library)
    assert info.value.limit == (1 << 20) - 1
    assert len(await twin(api.get('bomb', params={'mib': 80}, max_body=None))) == 80 << 20
    # a stated length over the limit is refused before the body is read
    with pytest.raises(clients.BodyTooLarge, match=r'/echo: the body is larger than max_body=10 bytes'):
        await twin(api.echo.get(max_body=10))
    plain = twin.Client(server.url, max_body=3)
    assert len((await twin(plain.get('bomb', params={'mib': 1}, max_body=1 << 20))).content) == 1 << 20
    await twin.close(plain)
    for streamed in (api.iter('bomb', params={'mib': 1}, max_body=10), api.iter('endless', max_body=10)):
        async for chunk in each(streamed):  # streams are not bounded: they never hold the whole body
            assert chunk
            break
        await _close(streamed)
    await twin.close(api)


@pytest.mark.parametrize('value', [-1, 1.5, '10', True])
async def test_bad_max_body(twin, value):
    with pytest.raises(ValueError, match=f'max_body must be a number of bytes >= 0 or None, not {value!r}'):
        twin.Resource(URL, max_body=value)
    api = twin.Resource(URL)
    with pytest.raises(ValueError, match='max_body must be'):
        await twin(api.get('x', max_body=value))
    assert twin.sent() == []
    await twin.close(api)


async def test_clients_ask_for_the_encodings_they_undo(twin):
    plain, own = twin.Client(URL), twin.Client(URL, headers=[('accept-encoding', 'identity')])
    assert (plain.headers['Accept-Encoding'], own.headers['Accept-Encoding']) == (content.ACCEPT_ENCODING, 'identity')
    await twin.close(plain)
    await twin.close(own)
