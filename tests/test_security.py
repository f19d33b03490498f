"""Credentials stay with their origin, whatever the URL: every way a URL reaches a client (a
path, a key, an absolute URL, a webhook, a proxy, a next link, a redirect), fuzzed against
where each transport really connects: two real servers on 127.0.0.1, each reachable as
`127.0.0.1` and as `localhost`, record what arrives.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import clients
from clients import InvalidURL, httpx, urls
from tests.server import Server

# Every header that carries one of the client's credentials below.
CREDENTIALS = {'authorization', 'cookie', 'x-api-key', 'proxy-authorization'}
SECRET = 's3cret'

# What a refused or failed request may raise: our InvalidURL or the libraries' own refusals
# (all ValueErrors), a connection that failed, or an error status of the echo server.
REFUSED = (ValueError, OSError, httpx.TransportError, httpx.InvalidURL, requests.RequestException, clients.Error)


def armed(twin: Any, server: Server, cls: str = 'Resource') -> Any:
    """A client of `server` with every kind of credential: header, cookie, auth, API key."""
    return getattr(twin, cls)(server.url, headers={'Authorization': f'Bearer {SECRET}', 'Proxy-Authorization': SECRET},
                              cookies={'session': SECRET}, auth=clients.ApiKey(SECRET))


def leaked(server: Server, before: int) -> list[tuple[str, str, dict[str, str]]]:
    """The requests that reached `server` since `before` carrying any of the client's credentials.

    (A URL's own userinfo is that URL's credential, sent to it as Basic auth by design.)
    """
    return [(method, path, headers) for method, path, headers in server.requests[before:]
            if any(SECRET in value for value in headers.values())]


# The payloads of the report (the other origin is `{o}`, the client's own `{h}`), as templates.
REPORTED = [
    ' http://localhost:{o}/x', '\thttp://localhost:{o}/x', 'ht\ttp://localhost:{o}/x', ' //localhost:{o}/x',
    '/\t/localhost:{o}/x', '\nhttp://localhost:{o}/x', '\x00http://localhost:{o}/x', '\x0c//localhost:{o}/x',
    'http://localhost:{o}\\@127.0.0.1:{h}/x', 'http://localhost:{o}\\.127.0.0.1:{h}/x', 'http://%6cocalhost:{o}/x',
    'http:\\\\localhost:{o}/x', 'http://127.0.0.1:{h}@localhost:{o}/x', '//localhost:{o}/x', 'http://localhost:{o}/x',
]

# Pieces a fuzzer puts together: hosts of both origins, and what parsers read differently.
HOSTS = ['127.0.0.1:{h}', 'localhost:{h}', '127.0.0.1:{o}', 'localhost:{o}', 'LOCALHOST:{o}', '127.0.0.1:1']
TRICKS = ['\\', '%5C', '%5c', '@', '%40', '#', '?', '/', '//', ' ', '\t', '\n', '\r', '\x00', '\x7f', ';', ':', '.',
          '\\\\', '\u3000', '\u202e', '%2F', '%2e%2e', '..', '']
PREFIXES = ['', ' ', '\t', '\n', '\x01', '/', '//', '\\\\', '/\t/', 'http:', 'http://', 'HTTP://', 'ht\ttp://',
            'http:/', 'http:\\\\', 'https://']

trick = st.sampled_from(TRICKS)
host = st.sampled_from(HOSTS)
candidate = st.one_of(
    st.builds(lambda p, a, t, b, r: f'{p}{a}{t}{b}/{r}x', st.sampled_from(PREFIXES), host, trick, host,
              st.lists(trick, max_size=2).map(''.join)),
    st.builds(lambda p, a, t: f'{p}{t}{a}/x', st.sampled_from(PREFIXES), host, trick),
    st.lists(st.one_of(trick, host, st.sampled_from(PREFIXES)), min_size=1, max_size=6).map(''.join),
)


def fill(template: str, server: Server, other: Server) -> str:
    return template.replace('{h}', str(server.server_address[1])).replace('{o}', str(other.server_address[1]))


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(template=candidate)
@example(template=REPORTED[0])
async def test_fuzzed_urls_never_carry_credentials_elsewhere(twin, server, other, template):
    """Whatever a path or URL says, credentials arrive at the client's own server or nowhere."""
    api = armed(twin, server)
    url = fill(template, server, other)
    before = len(other.requests)
    for send in (lambda: api.get(url), lambda: api.client.get(url), lambda: api.client.post(url, json={})):
        with contextlib.suppress(REFUSED):
            await twin(send())
    assert leaked(other, before) == [], url
    await twin.close(api)


@pytest.mark.parametrize('template', REPORTED)
async def test_reported_payloads_never_carry_credentials_elsewhere(twin, server, other, template):
    """Each payload of the report, through every way a URL reaches a client."""
    api = armed(twin, server)
    proxy = armed(twin, server, 'Proxy')
    url = fill(template, server, other)
    before = len(other.requests)
    sends = [lambda: api.get(url), lambda: api[url], lambda: api.client.request('DELETE', url),
             lambda: proxy.get(url), lambda: api.webhook(url, {'event': 1}, 'whsec')]
    for send in sends:
        with contextlib.suppress(REFUSED):
            await twin(send())
    assert leaked(other, before) == [], url
    await twin.close(api)
    await twin.close(proxy)


@pytest.mark.parametrize('text', [t for t in REPORTED if t.isprintable() and not t[0].isspace()])
async def test_links_and_redirects_to_any_url_never_carry_credentials_elsewhere(twin, server, other, text):
    """Next links (body and `Link`) and redirects are a server's words: the same rule holds."""
    api = armed(twin, server)
    url = fill(text, server, other)
    before = len(other.requests)
    strategies = [clients.paging.NextURL(), clients.paging.Link()]
    for strategy in strategies:
        with contextlib.suppress(REFUSED):
            await twin.list(api.each('next', strategy=strategy, to=url))
    for code in (302, 307):
        with contextlib.suppress(REFUSED):
            await twin(api.redirect(to=url, code=code))
    assert leaked(other, before) == [], url
    await twin.close(api)


@pytest.mark.parametrize('path', ['{o}', 'http://localhost:{o}/x', '//localhost:{o}/x'])
async def test_a_foreign_url_is_sent_without_credentials_and_an_own_one_with(twin, server, other, path):
    """The rule is not 'refuse everything': a plain foreign URL goes, bare; the own origin gets them."""
    api = armed(twin, server)
    url = fill(path, server, other).replace('{o}', '') if path != '{o}' else other.url + 'echo'
    echoed = await twin(api.get(url))
    assert echoed['port'] == other.server_address[1]
    assert not CREDENTIALS & set(echoed['headers'])
    own = await twin(api.get(f'http://localhost:{server.server_address[1]}/echo'))  # localhost is another host
    assert not CREDENTIALS & set(own['headers'])
    home = await twin(api.get(server.url + 'echo'))
    assert home['headers']['authorization'] == f'Bearer {SECRET}'
    assert home['headers']['x-api-key'] == SECRET
    assert home['headers']['cookie'] == f'session={SECRET}'
    await twin.close(api)


@pytest.mark.parametrize('url', ['http://localhost:1\\@127.0.0.1:2/x', 'http://a.test\\.b.test/', 'http://%61.test/',
                                 'http://a.test\t.b/', 'http://a\x00.test/', 'http://xn--a.test/\x00'])
def test_urls_parsers_could_read_two_ways_are_refused(url):
    with pytest.raises(InvalidURL, match=r'read differently|invalid host'):
        urls.origin(url)


@given(text=st.lists(st.sampled_from([*TRICKS, 'a', 'b', ':', '1', '@', 'localhost', '127.0.0.1', '[::1]']),
                    max_size=12).map(''.join))
@settings(max_examples=400, deadline=None)
def test_origin_is_what_every_transport_connects_to(text):
    """Whatever `origin` accepts, urllib3 (requests), httpx and aiohttp's yarl (on httpx's URL) agree on."""
    import yarl

    url = f'http://{text}/x'
    try:
        _scheme, host, port = urls.origin(url)
    except InvalidURL:
        return
    parsed = urllib3_parse(url)
    normalized = httpx.URL(url)
    wire = yarl.URL(str(normalized), encoded=True)
    assert (parsed.host or '').strip('[]').lower() == host, url
    assert (parsed.port or 80, normalized.port or 80, wire.port) == (port, port, port), url
    assert (wire.raw_host or '').lower() == host, url


def urllib3_parse(url: str) -> Any:
    import urllib3

    return urllib3.util.parse_url(url)


async def test_navigation_keys_stay_under_the_base(twin, server):
    api = twin.Resource(server.url + 'echo/base/')
    for key in ['../admin', '/admin', 'a/../../admin', '%2e%2e/admin', '%2E%2E', '..%2Fadmin', 'x/..;y/../z']:
        with pytest.raises(InvalidURL, match='navigation key'):
            api[key]
        with pytest.raises(InvalidURL, match='navigation key'):
            api / key
    echoed = await twin(api['users%2F3'])
    assert echoed['path'] == '/echo/base/users%2F3'
    assert (await twin(api.get('/echo/root')))['path'] == '/echo/root'  # explicit paths from the root still work
    assert (await twin(api.get('%2e%2e/up')))['path'] == '/echo/up'  # as `..`: the same on the wire in both shells
    await twin.close(api)


async def test_constructor_cookies_are_bound_to_the_origin(twin, server, other):
    api = twin.Resource(server.url, cookies={'session': SECRET})
    echoed = await twin(api.redirect(to=other.url + 'echo', code=302))
    assert echoed['port'] == other.server_address[1]
    assert 'cookie' not in echoed['headers']
    assert (await twin(api.echo.get()))['headers']['cookie'] == f'session={SECRET}'
    with pytest.raises(InvalidURL):
        await twin(api.get(f'http://localhost:{other.server_address[1]}\\@127.0.0.1:{server.server_address[1]}/'))
    await twin.close(api)


def test_cookies_are_bound_by_host_port_and_scheme():
    from http.cookiejar import CookieJar

    jar = CookieJar()
    jar.set_cookie(urls.cookie('https://api.test/v1/', 'a', '1'))
    jar.set_cookie(urls.cookie('http://localhost:8080/', 'b', '2'))
    jar.set_cookie(urls.cookie('http://[::1]:81/', 'c', '3'))
    for url, expected in [('https://api.test/x', 'a=1'), ('https://api.test:443/x', 'a=1'), ('http://api.test/x', None),
                          ('https://api.test:8443/x', None), ('https://other.test/x', None),
                          ('http://localhost:8080/x', 'b=2'), ('http://localhost:8081/x', None),
                          ('http://127.0.0.1:8080/x', None), ('http://[::1]:81/', 'c=3'), ('http://[::2]:81/', None)]:
        request = httpx.Request('GET', url)
        httpx.Cookies(jar).set_cookie_header(request)
        assert request.headers.get('Cookie') == expected, url


async def test_webhooks_carry_no_credentials_and_follow_no_redirect(twin, server, other):
    api = armed(twin, server)
    api.params = {'api_key': SECRET}
    delivered = await twin(api.client.webhook(server.url + 'echo/hook', {'a': 1}, 'whsec'))
    assert delivered.status_code == 200
    body = delivered.json()
    assert not CREDENTIALS & set(body['headers'])  # not even to the client's own origin
    assert body['query'] == {}
    assert body['headers']['x-webhook-signature-256'].startswith('sha256=')
    before = len(other.requests)
    with pytest.raises(twin.HTTPError, match='307') as caught:
        await twin(api.webhook(server.url + f'redirect?to={quote(other.url)}&code=307', {'a': 1}, 'whsec'))
    assert caught.value.status_code == 307
    assert len(other.requests) == before  # the body was not posted again elsewhere
    await twin.close(api)


SECRET_URLS = [f'http://user:{SECRET}@127.0.0.1:{{h}}/', f'http://127.0.0.1:{{h}}/?api_key={SECRET}',
               f'http://127.0.0.1:{{h}}/?k={SECRET}&x=1', f'http://127.0.0.1:{{h}}/?access_token={SECRET}']


@pytest.mark.parametrize('template', SECRET_URLS)
async def test_no_secret_of_a_url_in_any_message_or_log(twin, server, caplog, template):
    """Status errors, decode errors, cut bodies, connection failures and retry logs redact the URL."""
    url = fill(template, server, server)
    base, _, query = url.partition('?')
    params = dict(pair.split('=') for pair in query.split('&')) if query else {}
    api = twin.Resource(base, auth=clients.ApiKey(SECRET, query='k') if 'k' in params else None,
                        params={name: value for name, value in params.items() if name != 'k'})
    closed = twin.Resource(base.replace(str(server.server_address[1]), '1'), params=api.params)
    caplog.set_level(logging.INFO, logger='clients')
    messages = []
    for send in (lambda: api.get('status/503'), lambda: api.get('status/404'), lambda: api.get('short'),
                 lambda: api.get('layers', params={'n': 6}), lambda: api.get('bomb', params={'mib': 1, 'corrupt': 1}),
                 lambda: closed.get('x'), lambda: api.iter('short'), lambda: api.each('status/500')):
        with pytest.raises(REFUSED) as caught:
            result = send()
            await (twin.list(result) if hasattr(result, '__aiter__') or hasattr(result, '__next__') else twin(result))
        messages += [str(caught.value), repr(caught.value), *map(str, _chain(caught.value))]
    messages += [record.getMessage() for record in caplog.records]
    assert messages
    assert not [message for message in messages if SECRET in message]
    await twin.close(api)
    await twin.close(closed)


def _chain(error: BaseException) -> list[BaseException]:
    found, seen = [], set()
    pending = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [cause for cause in (current.__cause__, current.__context__) if cause is not None]
    return found


@pytest.mark.parametrize(('text', 'expected'), [
    ('http://u:pw@h/x', 'http://u:***@h/x'),
    ('https://ghp_token@github.com/x', 'https://***@github.com/x'),
    ('GET http://h/x?api_key=1&a=2&Token=3&SIG=4 failed', 'GET http://h/x?api_key=***&a=2&Token=***&SIG=*** failed'),
    ("url='/v1/x?client_secret=abc'", "url='/v1/x?client_secret=***'"),
    ('http://h/x?page=2#frag', 'http://h/x?page=2#frag'),
    ('no url here: a=b', 'no url here: a=b'),
    ('GET http://h/x?token=abc: connection refused', 'GET http://h/x?token=***: connection refused'),
    ('GET http://h/x?token=a:b:c', 'GET http://h/x?token=***'),
    ('GET http://h/x?token=a:b: refused', 'GET http://h/x?token=***: refused'),
    # a URL carried, percent-encoded, in a query value: its secrets go with the whole value
    ('http://h/r?to=http%3A%2F%2Fu%3Apw%40h%2Fx&a=1', 'http://h/r?to=***&a=1'),
    ('http://h/r?to=http%3A%2F%2Fh%2Fx%3Fsig%3Dabc', 'http://h/r?to=***'),
    ('http://h/r?to=http%253A%252F%252Fh%252Fx%253Ftoken%253Dabc', 'http://h/r?to=***'),
    ('http://h/r?to=http%3A%2F%2Fh%2Fx%3Fpage%3D2', 'http://h/r?to=http%3A%2F%2Fh%2Fx%3Fpage%3D2'),
    ('http://h/r?q=a%3Db', 'http://h/r?q=a%3Db'),
])
def test_redact(text, expected):
    assert urls.redact(text) == expected
    assert urls.redact(expected) == expected  # redacting twice (a message built from redacted URLs) changes nothing


async def test_a_cookie_jar_given_is_used_as_it_is(twin, server):
    """A jar (with the domains its owner chose) is the client's jar; names and values are bound."""
    jar = httpx.Cookies() if twin.name == 'async' else requests.cookies.RequestsCookieJar()
    jar.set('mine', 'v', domain='127.0.0.1')
    api = twin.Resource(server.url, cookies=jar)
    assert (await twin(api.echo.get()))['headers']['cookie'] == 'mine=v'
    await twin.close(api)


async def test_a_clients_repr_shows_no_secret(twin):
    """`repr` of every client, proxies and forwarders included, redacts the userinfo of its URLs."""
    from clients import forward

    api = twin.Resource(f'http://user:{SECRET}@api.test/')
    proxy = twin.Proxy(f'http://user:{SECRET}@a.test/', 'http://b.test/')
    app = forward.asgi(api) if twin.name == 'async' else forward.wsgi(api)
    shown = [repr(api), repr(api.items), repr(api.client), repr(proxy), repr(app)]
    assert all('user:***@' in text for text in shown[:3])
    assert not [text for text in shown if SECRET in text]
    await twin.close(api)
    await twin.close(proxy)
