"""Forwarding rules without a network: hop-by-hop headers, X-Forwarded, paths, Location."""

import json

import pytest

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
