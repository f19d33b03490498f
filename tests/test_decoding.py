"""Content-encodings: the chain limit and bounded decompression, in the core and both shells."""

import gzip
import io
import zlib

import httpx
import pytest
import requests

import clients
from clients import content
from tests.conftest import URL


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
    assert all(stage.flush() == b'' for stage in decompressor.stages)
    return parts


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
    ]:
        parts = decode(applied, body, pieces=pieces)
        assert b''.join(parts) == data
        assert max(map(len, parts)) <= 1000


def test_decompressor_exact_limit_and_errors():
    data = b'x' * 4096
    assert b''.join(decode(['gzip', 'gzip'], gzip.compress(gzip.compress(data)), limit=1024)) == data
    with pytest.raises(zlib.error):
        decode(['gzip'], b'not gzip at all')
    with pytest.raises(zlib.error):
        decode(['deflate'], zlib.compress(data)[:10] + b'\xff' * 20)


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
    for encoding in ('gzip', 'deflate'):  # 16 MiB of zeros arrive as one 16 KiB network chunk
        sizes = [len(chunk) for chunk in await twin.list(api.iter('bomb', params={'encoding': encoding, 'mib': 16}))]
        assert sum(sizes) == 16 << 20
        assert max(sizes) <= content.CHUNK_SIZE

    class Sizes:
        def __init__(self):
            self.sizes = []

        def write(self, chunk):
            self.sizes.append(len(chunk))

    sink = await twin(api.download(Sizes(), 'bomb', params={'mib': 16}))
    assert sum(sink.sizes) == 16 << 20
    assert max(sink.sizes) <= content.CHUNK_SIZE
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
