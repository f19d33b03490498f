"""Forwarding rules without a network: hop-by-hop headers, X-Forwarded, paths, Location."""

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clients import hops

BASE = 'http://up.test/v2/'


def test_strip_removes_hop_by_hop_and_connection_named_headers():
    headers = [
        ('Connection', 'keep-alive, X-Secret'), ('Keep-Alive', 'timeout=5'), ('Transfer-Encoding', 'chunked'),
        ('TE', 'trailers'), ('Trailer', 'X-Sum'), ('Upgrade', 'h2c'), ('Proxy-Authorization', 'Basic eA=='),
        ('Proxy-Authenticate', 'Basic'), ('X-Secret', '1'), ('Accept', 'a'), ('Accept', 'b'),
    ]
    assert hops.strip(headers) == [('Accept', 'a'), ('Accept', 'b')]
    assert hops.strip([('connection', 'close'), ('X-A', '1')], drop={'x-a'}) == []


def test_upstream_sets_x_forwarded_and_drops_credentials():
    headers = [('Host', 'gw.test:8000'), ('Authorization', 'Bearer t'), ('Cookie', 'a=1'), ('Expect', '100-continue'),
               ('X-Forwarded-For', '10.0.0.1'), ('X-Forwarded-Host', 'spoofed'), ('X-Forwarded-Proto', 'spoofed'),
               ('Accept-Encoding', 'gzip')]
    sent = hops.upstream(headers, client='127.0.0.1', proto='https', host='gw.test:8000')
    assert sent == [('Accept-Encoding', 'gzip'), ('X-Forwarded-For', '10.0.0.1, 127.0.0.1'),
                    ('X-Forwarded-Proto', 'https'), ('X-Forwarded-Host', 'gw.test:8000'), ('Via', '1.1 clients')]


def test_upstream_passes_credentials_when_asked_and_asks_for_identity():
    sent = dict(hops.upstream([('Authorization', 'Bearer t'), ('Cookie', 'a=1'), ('Via', '1.0 edge')], client=None,
                              proto='http', host=None, credentials=True, forwarded=None, protocol='2'))
    assert sent == {'Authorization': 'Bearer t', 'Cookie': 'a=1', 'Via': '1.0 edge, 2 clients',
                    'Accept-Encoding': 'identity'}


def test_upstream_drops_a_content_length_beside_transfer_encoding():
    sent = hops.upstream([('Content-Length', '5'), ('Transfer-Encoding', 'chunked'), ('X-A', '1')], client=None,
                         proto='http', host=None, forwarded=None)
    assert sent == [('X-A', '1'), ('Via', '1.1 clients'), ('Accept-Encoding', 'identity')]


def test_upstream_forwarded_header_quotes_what_is_not_a_token():
    sent = dict(hops.upstream([('Forwarded', 'for=10.0.0.1')], client='::1', proto='http', host='gw:80',
                              forwarded='forwarded'))
    assert sent['Forwarded'] == 'for=10.0.0.1, for="[::1]";proto=http;host="gw:80"'
    sent = dict(hops.upstream([], client=None, proto='http', host=None, forwarded='forwarded'))
    assert sent['Forwarded'] == 'for=unknown;proto=http'
    sent = dict(hops.upstream([], client=None, proto='http', host=None))
    assert sent['X-Forwarded-For'] == 'unknown'
    assert 'X-Forwarded-Host' not in sent


def test_downstream_drops_set_cookie_unless_asked_and_rewrites_location():
    headers = [('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2'), ('Connection', 'close'),
               ('Location', 'http://up.test/v2/items/1?x=1'), ('Content-Length', '5')]
    assert hops.downstream(headers, bases=[BASE], mount='/api') == [
        ('Location', '/api/items/1?x=1'), ('Content-Length', '5')]
    assert hops.downstream(headers, bases=[BASE], mount='/api', credentials=True)[:2] == [
        ('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2')]


def test_downstream_leaves_date_and_server_to_the_gateway():
    headers = [('Date', 'Tue, 14 Nov 2023 22:13:40 GMT'), ('Server', 'nginx'), ('X-Kept', '1')]
    assert hops.downstream(headers, bases=[BASE], mount='/api') == [('X-Kept', '1')]
    assert hops.downstream(headers, bases=[BASE], mount='/api', credentials=True) == [('X-Kept', '1')]


CT = ('Content-Type', 'text/plain')
TE = ('Transfer-Encoding', 'chunked')


@pytest.mark.parametrize(('method', 'status', 'headers', 'framed', 'length'), [
    ('GET', 200, [CT, ('Content-Length', '5')], [CT, ('Content-Length', '5')], 5),
    ('GET', 200, [('content-length', '007'), CT], [CT, ('Content-Length', '7')], 7),
    ('GET', 200, [('Content-Length', '5'), ('Content-Length', ' 5 ')], [('Content-Length', '5')], 5),
    ('GET', 200, [('Content-Length', '5, 5')], [('Content-Length', '5')], 5),
    ('GET', 200, [('Content-Length', '5'), TE, CT], [TE, CT], None),
    ('GET', 200, [TE, ('Content-Length', '5')], [TE], None),
    ('GET', 200, [('Transfer-Encoding', 'Chunked')], [('Transfer-Encoding', 'Chunked')], None),
    ('GET', 200, [CT], [CT], None),
    ('GET', 205, [('Content-Length', '0')], [('Content-Length', '0')], 0),
    ('HEAD', 200, [('Content-Length', '5'), CT], [CT, ('Content-Length', '5')], 0),
    ('HEAD', 200, [('Content-Length', '5'), TE], [TE], 0),
    ('HEAD', 200, [('Content-Length', 'x')], [], 0),
    ('GET', 304, [('Content-Length', '5')], [('Content-Length', '5')], 0),
    ('GET', 304, [('Content-Length', '5, 6')], [], 0),
    ('GET', 204, [('Content-Length', '5'), CT], [CT], 0),
    ('HEAD', 204, [TE], [TE], 0),
])
def test_framing(method, status, headers, framed, length):
    assert hops.framing(method, status, headers) == (framed, length)


@pytest.mark.parametrize(('status', 'headers', 'message'), [
    (103, [('Link', '</a>')], 'the interim status 103'),
    (100, [], 'the interim status 100'),
    (200, [('Transfer-Encoding', 'gzip, chunked')], "Transfer-Encoding 'gzip, chunked', not chunked"),
    (200, [('Transfer-Encoding', 'chunked, gzip'), ('Content-Length', '5')], "'chunked, gzip', not chunked"),
    (200, [TE, TE], "'chunked, chunked', not chunked"),
    (200, [('Transfer-Encoding', 'identity')], "'identity', not chunked"),
    (200, [('Content-Length', '5'), ('Content-Length', '6')], "invalid Content-Length: '5, 6'"),
    (200, [('Content-Length', '5, 6')], "invalid Content-Length: '5, 6'"),
    (200, [('Content-Length', '+5')], "invalid Content-Length: '+5'"),
    (200, [('Content-Length', '-1')], "invalid Content-Length: '-1'"),
    (200, [('Content-Length', '²')], "invalid Content-Length: '²'"),
    (200, [('Content-Length', '')], "invalid Content-Length: ''"),
    (200, [('Content-Length', '0x5')], "invalid Content-Length: '0x5'"),
])
def test_framing_refuses_what_cannot_be_told_for_sure(status, headers, message):
    with pytest.raises(hops.BadFraming, match=re.escape(message)):
        hops.framing('GET', status, headers)


@given(st.lists(st.tuples(st.sampled_from(['Content-Length', 'Transfer-Encoding', 'X-A']),
                          st.sampled_from(['5', '6', '5, 5', 'chunked', 'gzip', ' 7', '+1', 'x'])), max_size=4),
       st.sampled_from(['GET', 'HEAD']), st.sampled_from([200, 204, 206, 304, 404]))
def test_framing_never_promises_a_length_it_cannot_keep(headers, method, status):
    """Whatever comes in, what goes out has at most one Content-Length, only where the body has that length."""
    try:
        framed, length = hops.framing(method, status, headers)
    except hops.BadFraming:
        return
    lengths = [value for name, value in framed if name == 'Content-Length']
    assert not any(name.lower() == 'content-length' and name != 'Content-Length' for name, _ in framed)
    assert len(lengths) <= 1
    if method == 'HEAD' or status in (204, 304):
        assert length == 0
        assert not (status == 204 and lengths)
    else:
        assert length == (int(lengths[0]) if lengths else None)
        assert not (lengths and any(name == 'Transfer-Encoding' for name, _ in framed))


def test_meter():
    meter = hops.Meter(5)
    assert meter.take(b'abc') + meter.take(b'de') == b'abcde'
    meter.end()
    with pytest.raises(hops.BadFraming, match='more than its Content-Length'):
        meter.take(b'f')
    short = hops.Meter(5)
    short.take(b'abc')
    with pytest.raises(hops.BadFraming, match='ended 2 bytes short of its Content-Length'):
        short.end()
    unknown = hops.Meter(None)
    assert unknown.take(b'x' * 100) == b'x' * 100
    unknown.end()


@pytest.mark.parametrize(('value', 'expected'), [
    ('http://up.test/v2/x', '/api/x'),
    ('/v2/x/', '/api/x/'),
    ('/v2', '/api'),
    ('http://up.test/v2', '/api'),
    ('/v3/x', '/v3/x'),
    ('//up.test/v2/x', '//up.test/v2/x'),
    ('http://other.test/v2/x', 'http://other.test/v2/x'),
])
def test_location(value, expected):
    assert hops.location(value, [BASE], '/api') == expected


def test_location_at_the_root():
    assert hops.location('/v2', [BASE], '') == '/'
    assert hops.location('http://up.test/', ['http://up.test/'], '/api/') == '/api/'


@pytest.mark.parametrize(('path', 'prefix', 'rest'), [
    ('/api/users', '/api', 'users'),
    ('/api', '/api', ''),
    ('/api/', '/api', '/'),
    ('/apix', '/api', None),
    ('/other', '/api', None),
    ('/users/1', '', 'users/1'),
    ('/', '', '/'),
    ('', '', ''),
])
def test_mounted(path, prefix, rest):
    assert hops.mounted(path, prefix) == rest


def test_encode_and_below():
    assert hops.encode('/a b/ü') == '/a%20b/%C3%BC'
    assert hops.encode('/ü'.encode().decode('latin-1').encode('latin-1')) == '/%C3%BC'
    # A framework mount: raw_path includes the root; the server's root_path: raw_path does not.
    assert hops.below('/api/a/b', '/api', '/api/a%2Fb') == '/a%2Fb'
    assert hops.below('/api/a/b', '/api', '/a%2Fb') == '/a%2Fb'
    assert hops.below('/a b', '', '/a%20b') == '/a%20b'
    assert hops.below('/api/x y', '/api', None) == '/x%20y'
    assert hops.below('/x', '/api', '/weird') == '/x'


@pytest.mark.parametrize(('rest', 'relative', 'trailing'), [
    ('users/1', './users/1', ''),
    ('users/', './users/', '/'),
    ('', './', ''),
    ('/', './', '/'),
    ('a/../b', './a/../b', ''),
    ('%7Euser/%41', './~user/A', ''),
    ('a%2Fb', './a%2Fb', ''),
    ('/evil.test/x', './/evil.test/x', ''),
    ('http://evil.test/', './http://evil.test/', '/'),
    ('users:1', './users:1', ''),
    ('a;v=1/b', './a;v=1/b', ''),
    ('..x/y', './..x/y', ''),
])
def test_target_stays_under_the_base(rest, relative, trailing):
    assert hops.target(rest, [BASE]) == (relative, trailing)


@pytest.mark.parametrize('rest', [
    '..', '../admin', 'a/../../admin', '%2e%2e/admin', '%2E%2E', '.%2e/x', '..%2Fadmin', 'a%2F..%2F..%2Fadmin',
    '..%5Cadmin', '..\\admin', '..;/admin', '..;jsessionid=1/admin', '%2e%2e;x/admin', 'a/.;/..;/..;/admin',
])
def test_target_refuses_escapes(rest):
    with pytest.raises(hops.PathEscape, match='leaves the upstream base'):
        hops.target(rest, [BASE])


def test_target_checks_every_base():
    assert hops.target('x', ['http://a.test/', 'http://b.test/v2/']) == ('./x', '')
    with pytest.raises(hops.PathEscape, match=r'b\.test'):
        hops.target('../x', ['http://a.test/', 'http://b.test/v2/'])


def test_error_body():
    assert json.loads(hops.error(502, 'down')) == {'error': 'Bad Gateway', 'status': 502, 'detail': 'down'}
    assert json.loads(hops.error(411, 'length'))['error'] == 'Length Required'
