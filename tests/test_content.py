import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clients import DecodeError, content, graphql, jsonrpc, sse


@pytest.mark.parametrize(('content_type', 'kind'), [
    ('application/json', 'json'),
    ('application/json; charset=utf-8', 'json'),
    ('application/problem+json', 'json'),
    ('application/vnd.api+json', 'json'),
    ('APPLICATION/JSON', 'json'),
    ('application/x-ndjson', 'lines'),
    ('application/jsonl', 'lines'),
    ('application/json-seq', 'lines'),
    ('text/plain', 'text'),
    ('text/html; charset=latin-1', 'text'),
    ('application/xml; charset=utf-8', 'text'),
    ('application/octet-stream', 'bytes'),
    ('image/png', 'bytes'),
    ('', 'bytes'),
    (None, 'bytes'),
    ('garbage', 'bytes'),
])
def test_kind(content_type, kind):
    assert content.kind(content_type) == kind


def test_encoding():
    assert content.encoding('text/plain; charset=ISO-8859-1') == 'iso8859-1'
    assert content.encoding('text/plain; charset=nonsense') == 'utf-8'
    assert content.encoding('text/plain') == 'utf-8'
    assert content.parse('text/plain; charset=""') == ('text/plain', None)


def test_decode():
    assert content.decode(b'{"a": 1}', 'application/json') == {'a': 1}
    assert content.decode(b'{"a": 1}', 'application/json', 204) is None
    assert content.decode(b'', 'application/json') is None
    assert content.decode(b'{"a":1}\n\n{"b":2}', 'application/x-ndjson') == [{'a': 1}, {'b': 2}]
    assert content.decode('é'.encode('latin-1'), 'text/plain; charset=latin-1') == 'é'
    assert content.decode('é'.encode(), 'text/plain') == 'é'
    assert content.decode(b'\x00\x01', 'application/octet-stream') == b'\x00\x01'
    with pytest.raises(DecodeError, match=r"GET http://h/: invalid JSON .*b'{nope'"):
        content.decode(b'{nope', 'application/json', where='GET http://h/')
    with pytest.raises(ValueError, match='invalid JSON'):
        content.loads(b'[')


@pytest.mark.parametrize('chunks', [
    [b'a\r\nb\nc'],
    [b'a\r', b'\nb\n', b'c'],
    [b'a', b'\r', b'\n', b'b', b'\n', b'c'],
    [b'a\rb\r\nc'],
])
def test_split_lines_across_chunks(chunks):
    assert list(content.split_lines(chunks)) == [b'a', b'b', b'c']


def test_split_lines_blank_and_final():
    assert list(content.split_lines([b'a\n\n', b'\n'])) == [b'a', b'', b'']
    assert list(content.split_lines([b'', b'x'])) == [b'x']
    assert list(content.split_lines([b'x\n'])) == [b'x']
    assert list(content.split_lines([b'x\r'])) == [b'x']


def test_items():
    items = content.Items('application/x-ndjson')
    assert items.feed(b'{"a": 1}\r') == [{'a': 1}]
    assert items.feed(b'\n\n  \n{"b"') == []
    assert items.feed(b': 2}') == []
    assert items.close() == [{'b': 2}]
    seq = content.Items('application/json-seq')
    assert seq.feed(b'\x1e[1]\n\x1e[2]\n') == [[1], [2]]
    text = content.Items('text/plain; charset=latin-1')
    assert text.feed('é\n\nz'.encode('latin-1')) == ['é', '']
    assert text.close() == ['z']
    raw = content.Items('image/png')
    assert raw.feed(b'\x00\n') == [b'\x00\n']
    assert raw.feed(b'') == []
    assert raw.close() == []
    bad = content.Items('application/json', where='GET u')
    with pytest.raises(DecodeError, match='GET u: invalid JSON'):
        bad.feed(b'{\n')


@pytest.mark.parametrize(('body', 'content_type', 'text'), [
    (b'{"message": "bad id"}', 'application/json', 'bad id'),
    (b'{"detail": "nope", "message": 3}', 'application/problem+json', 'nope'),
    (b'{"error": {"message": "nested"}}', 'application/json', 'nested'),
    (b'{"error": "invalid_grant", "error_description": "expired"}', 'application/json', 'invalid_grant'),
    (b'{"errors": [{"message": "first"}, {"message": "second"}]}', 'application/json', 'first'),
    (b'[{"title": "listed"}]', 'application/json', 'listed'),
    (b'{"other": 1}', 'application/json', '{"other": 1}'),
    (b'{"error": {}}', 'application/json', '{"error": {}}'),
    (b'not json', 'application/json', 'not json'),
    (b'<h1>Server\n  Error</h1>', 'text/html', '<h1>Server Error</h1>'),
    (b'x' * 500, 'text/plain', 'x' * 200),
    (b'', None, ''),
])
def test_error_text(body, content_type, text):
    assert content.error_text(body, content_type) == text


def test_status_message():
    message = content.status_message('GET', 'http://h/x', 404, 'Not Found', b'{"message": "no x"}', 'application/json')
    assert message == 'GET http://h/x returned 404 Not Found: no x'
    assert content.status_message('PUT', 'http://h/', 599, '', b'', None) == 'PUT http://h/ returned 599'


@pytest.mark.parametrize(('name', 'kind'), [('json', 'json'), ('lines', 'lines'), ('events', 'events'),
                                            ('text', 'text'), ('', 'bytes'), ('bytes', 'bytes')])
def test_chosen(name, kind):
    assert content.chosen(name) == kind
    assert content.decode(b'{"a": 1}', 'application/json', as_kind='text') == '{"a": 1}'
    assert content.Items('application/json', as_kind='bytes').feed(b'{}\n') == [b'{}\n']


def test_chosen_refuses_other_answers():
    with pytest.raises(ValueError, match=r"^GET u: Api.content_type returned 'xml'; expected one of 'json', "):
        content.chosen('xml', lambda: 'GET u: Api.content_type')
    with pytest.raises(ValueError, match=r"^content_type returned \['json'\]; expected one of 'json', "):
        content.chosen(['json'])
    assert content.named('application/octet-stream') == ''
    assert content.named('text/event-stream') == 'events'


# JSON nested past the parser's depth, and nested just under it (a message search must not recurse that deep).
DEEP = [b'[' * 100_000 + b']' * 100_000, b'{"a":' * 50_000 + b'1' + b'}' * 50_000]
DEEP_ERROR = b'{"error":' * 900 + b'"x"' + b'}' * 900


@pytest.mark.parametrize('body', DEEP)
def test_json_nested_too_deeply_is_a_decode_error(body):
    for decode in (lambda: content.loads(body, 'GET u'), lambda: content.decode(body, 'application/json'),
                   lambda: content.decode(body, 'application/x-ndjson'),
                   lambda: sse.Event(body.decode()).json(), lambda: graphql.result(200, 'application/json', body),
                   lambda: jsonrpc.read(200, 'application/json', body)):
        with pytest.raises(DecodeError, match=r'nested too deeply'):
            decode()
    assert graphql.result(400, graphql.RESPONSE_TYPE, body) is graphql.HTTP_ERROR
    assert jsonrpc.read(500, 'application/json', body) is jsonrpc.HTTP_ERROR
    assert content.error_text(body, 'application/json') == ' '.join(body[:200].decode().split())


def test_error_text_looks_only_so_deep():
    assert content.error_text(DEEP_ERROR, 'application/json') == ' '.join(DEEP_ERROR[:200].decode().split())
    nested = b'{"error":' * content.ERROR_DEPTH + b'"found"' + b'}' * content.ERROR_DEPTH
    assert content.error_text(nested, 'application/json') == 'found'


@given(st.lists(st.binary(max_size=8).map(lambda data: data.translate(bytes.maketrans(b'\x00\x01', b'\r\n')))))
def test_split_lines_is_splitlines_of_the_whole(chunks):
    assert list(content.split_lines(chunks)) == b''.join(chunks).splitlines()


def test_a_long_line_in_small_chunks_takes_linear_time():
    """Eight times the line takes about eight times as long (quadratic copying takes 64 times: 5.8 s for 8 MiB).

    A ratio measured in the same run, not a time, so a slow machine does not fail it.
    """

    def split(size):
        line = b'x' * size
        chunks = [line[start:start + 4096] for start in range(0, size, 4096)]
        began = time.perf_counter()
        assert list(content.split_lines([*chunks, b'\r\n', b'y'])) == [line, b'y']
        return time.perf_counter() - began

    small = min(split(2 << 20) for _ in range(5))
    large = min(split(16 << 20) for _ in range(5))
    assert large < 32 * small


def test_lines_longer_than_max_line():
    assert list(content.split_lines([b'abc\ndefg\n'], max_line=4)) == [b'abc', b'defg']
    with pytest.raises(DecodeError, match=r'^GET u: a line of more than 4 bytes \(at least 5\); raise max_line'):
        list(content.split_lines([b'abc\nde', b'fgh\n'], max_line=4, where='GET u'))
    with pytest.raises(DecodeError, match=r'^a line of more than 4 bytes \(at least 5\)'):
        list(content.split_lines([b'abcde\n'], max_line=4))
    splitter = content.LineSplitter(max_line=4)
    assert splitter.feed(b'ab') == splitter.feed(b'cd') == []
    with pytest.raises(DecodeError, match=r'at least 5'):  # refused before the line ends
        splitter.feed(b'e')
    assert content.LineSplitter().max_line == content.MAX_LINE == 16 << 20
    long = b'[' + b'1,' * (9 << 20) + b'1]\n'  # a whole body holds lines of any length
    assert len(content.decode(long, 'application/x-ndjson')[0]) == (9 << 20) + 1
