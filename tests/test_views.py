"""Derived clients for every setting (`with_*`), both shells: a view keeps its class, shares its
root's pool, never changes its root, and its setting reaches its own requests only, never
those of its root or of a sibling view (checked on the wire against the local server)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

import clients
from clients import RateLimit, Retry
from tests.conftest import URL

SECRET = 's3cret'


def cookies(echoed: dict[str, Any]) -> dict[str, str]:
    """The cookies a request carried, by name."""
    header = echoed['headers'].get('cookie', '')
    return dict(pair.split('=', 1) for pair in header.split('; ') if pair)


def basic_password(echoed: dict[str, Any]) -> str | None:
    header = echoed['headers'].get('authorization', '')
    return base64.b64decode(header.removeprefix('Basic ')).decode().partition(':')[2] if header else None


def bearer(echoed: dict[str, Any]) -> str | None:
    header = echoed['headers'].get('authorization')
    return None if header is None else header.removeprefix('Bearer ')


def revealed(echoed: dict[str, Any]) -> bool:
    """Whether a request carried the secret anywhere in its headers (Basic auth included)."""
    text = json.dumps(echoed['headers'])
    return SECRET in text or base64.b64encode(f'user:{SECRET}'.encode()).decode() in text


# Each setting a view may have: how to derive a view with `value`, and what of it a request carried.
SETTINGS = {
    'headers': (lambda api, value: api.with_headers({'X-View': value}), lambda echoed: echoed['headers'].get('x-view')),
    'params': (lambda api, value: api.with_params(view=value), lambda echoed: echoed['query'].get('view')),
    'cookies': (lambda api, value: api.with_cookies(view=value), lambda echoed: cookies(echoed).get('view')),
    'bearer': (lambda api, value: api.with_auth(clients.Bearer(value)), bearer),
    'api key': (lambda api, value: api.with_auth(clients.ApiKey(value)),
                lambda echoed: echoed['headers'].get('x-api-key')),
    'basic': (lambda api, value: api.with_auth(('user', value)), basic_password),
}
CREDENTIALS = ['cookies', 'bearer', 'api key', 'basic']


@pytest.mark.parametrize('setting', SETTINGS)
async def test_a_views_setting_reaches_its_own_requests_only(twin, server, setting):
    derive, carried = SETTINGS[setting]
    api = twin.Resource(server.url)
    first, second = derive(api, 'first'), derive(api, 'second')
    nested = derive(first, 'nested')  # a view of a view: its value wins, the first view's is unchanged
    expected = [(api, None), (first, 'first'), (second, 'second'), (nested, 'nested'), (api / 'x', None),
                (first / 'x', 'first'), (api.with_headers(Other='1'), None)]
    for _ in range(2):  # interleaved twice: nothing a view sent stays behind for the next request
        for client, value in expected:
            assert carried(await twin(client.echo.get())) == value, client
    await twin.close(api)


@pytest.mark.parametrize('setting', CREDENTIALS)
async def test_a_views_credentials_never_leave_its_origin(twin, server, other, setting):
    derive, carried = SETTINGS[setting]
    api = twin.Resource(server.url)
    view = derive(api, SECRET)
    port = server.server_address[1]
    elsewhere = [lambda: view.get(other.url + 'echo'), lambda: view.get(f'http://localhost:{port}/echo'),
                 lambda: view.redirect(to=other.url + 'echo', code=307),
                 lambda: view.redirect(to=f'http://localhost:{port}/echo', code=302)]
    for send in elsewhere:
        echoed = await twin(send())
        assert carried(echoed) is None
        assert not revealed(echoed)
    assert carried(await twin(view.echo.get())) == SECRET
    assert carried(await twin(view.redirect(to=server.url + 'echo/here'))) == SECRET  # same origin: kept
    await twin.close(api)


async def test_cookies_a_server_sets_for_a_view_stay_with_the_view(twin, server):
    api = twin.Resource(server.url)
    await twin(api.cookie(name='family', value='root'))
    view, sibling = api.with_cookies(tenant='a'), api.with_cookies({'tenant': 'b'})
    await twin(view.cookie(name='session', value='view'))  # set in answer to the view: kept by the view
    assert cookies(await twin(view.echo.get())) == {'family': 'root', 'tenant': 'a', 'session': 'view'}
    assert cookies(await twin((view / 'deeper').echo.get()))['session'] == 'view'  # the view's family shares it
    assert cookies(await twin(sibling.echo.get())) == {'family': 'root', 'tenant': 'b'}
    assert cookies(await twin(api.echo.get())) == {'family': 'root'}
    await twin(api.cookie(name='tenant', value='root'))  # the root's cookies reach its views as they change...
    await twin(api.cookie(name='later', value='root'))
    assert cookies(await twin(view.echo.get())) == {'family': 'root', 'tenant': 'a', 'session': 'view',
                                                    'later': 'root'}  # ...but a view's own of that name wins
    assert cookies(await twin(api.echo.get())) == {'family': 'root', 'tenant': 'root', 'later': 'root'}
    await twin.close(api)


@pytest.mark.parametrize('options', [
    {'auth': ('user', SECRET)},
    {'auth': clients.ApiKey(SECRET)},
    {'headers': {'Authorization': f'Bearer {SECRET}'}},
])
async def test_with_auth_replaces_every_credential_of_the_root(twin, server, options):
    api = twin.Resource(server.url, **options)
    assert revealed(await twin(api.echo.get()))
    anonymous = await twin(api.with_auth(None).echo.get())
    assert not revealed(anonymous)
    assert not {'authorization', 'x-api-key'} & set(anonymous['headers'])
    mine = await twin(api.with_auth(clients.ApiKey('mine', header='X-Mine')).echo.get())
    assert mine['headers']['x-mine'] == 'mine'
    assert not revealed(mine)
    assert revealed(await twin(api.echo.get()))  # the root is unchanged
    await twin.close(api)


async def test_with_auth_none_sends_none_of_the_base_urls_userinfo(twin, server):
    api = twin.Resource(server.url.replace('http://', f'http://user:{SECRET}@'))
    assert revealed(await twin(api.echo.get()))  # the base URL's userinfo is the client's Basic auth
    anonymous = api.with_auth(None)
    for view in (anonymous, anonymous.nested):  # nor do the views derived from it
        assert 'authorization' not in (await twin(view.echo.get()))['headers']
    assert bearer(await twin(api.with_auth(clients.Bearer('mine')).echo.get())) == 'mine'
    assert revealed(await twin(api.echo.get()))  # the root is unchanged
    await twin.close(api)


async def test_a_client_told_to_send_no_credentials_takes_none_from_netrc(twin, server, other, tmp_path,
                                                                          monkeypatch):
    # requests reads ~/.netrc (here $NETRC) for a request without auth; httpx never does
    netrc = tmp_path / 'netrc'
    netrc.write_text(f'machine 127.0.0.1 login user password {SECRET}\n')
    netrc.chmod(0o600)
    monkeypatch.setenv('NETRC', str(netrc))
    api = twin.Resource(server.url, auth=('user', 'root-password'))
    plain = twin.Resource(server.url)
    assert revealed(await twin(plain.echo.get())) is (twin.name == 'sync')  # requests' behaviour, kept
    anonymous = api.with_auth(None)
    assert 'authorization' not in (await twin(anonymous.echo.get()))['headers']
    followed = await twin(anonymous.redirect.get(params={'to': server.url + 'echo'}))  # nor after a redirect
    assert followed['path'] == '/echo'
    assert 'authorization' not in followed['headers']
    elsewhere = await twin(anonymous.redirect.get(params={'to': other.url + 'echo'},
                                                  headers={'Authorization': f'Bearer {SECRET}'}))
    assert not revealed(elsewhere)  # a request's own header still stays behind at another origin
    delivered = await twin(api.webhook(server.url + 'echo', {'event': 'push'}, 'hook-secret'))
    assert 'authorization' not in delivered.json()['headers']  # a webhook delivery carries none either
    assert basic_password(await twin(anonymous.with_auth(('user', 'mine')).echo.get())) == 'mine'
    await twin.close(api)
    await twin.close(plain)


async def test_a_views_retry_policy_is_its_own(twin, server):
    api = twin.Resource(server.url, retry=None)
    view = api.with_retry(Retry(attempts=3))
    sibling = view.with_retry(None)
    key = uuid.uuid4().hex
    for client, name, attempts in [(api, 'root', 1), (view, 'view', 2), (sibling, 'sibling', 1), (view.x, 'x', 2)]:
        if attempts == 1:
            with pytest.raises(twin.HTTPError, match='503'):
                await twin(client.get('/flaky', params={'key': key + name}))
        else:
            assert (await twin(client.get('/flaky', params={'key': key + name})))['attempt'] == attempts
        assert server.hits[key + name] == attempts
    await twin.close(api)


async def test_views_share_the_roots_rate_limit_unless_given_their_own(twin, server, clock):
    api = twin.Resource(server.url, rate=RateLimit(2, burst=1), retry=Retry(clock=clock))
    own = api.with_rate(1)
    for _ in range(2):
        await twin(own.echo.get())
    assert clock.sleeps == [1.0]  # its own bucket of 1 per second, not the root's of 2
    clock.sleeps.clear()
    unlimited = api.with_rate(None)
    for _ in range(3):
        await twin(unlimited.echo.get())
    assert clock.sleeps == []
    for client in (api, api.with_headers(X='1'), api / 'echo', api.with_retry(Retry(clock=clock))):
        await twin(client.echo.get())
    assert clock.sleeps == [0.5] * 3  # one bucket: the root's, untouched by the views with their own
    shared = RateLimit(1, burst=1)
    first, second = api.with_rate(shared), api.with_rate(shared)  # a bucket given to several views is theirs
    assert first.rate is second.rate is shared
    assert api.rate is not shared
    assert own.rate is not api.rate
    assert (own / 'x').rate is own.rate
    await twin.close(api)


async def test_a_views_deadline_is_its_own(twin, server):
    api = twin.Resource(server.url, deadline=None)
    hurried = api.with_deadline(0.2)
    with pytest.raises(clients.errors.DeadlineExceeded, match=r'deadline of 0\.2 s'):
        await twin(hurried.slow(delay=1))
    assert (await twin(api.slow(delay=0.4))) == {'slow': True}
    assert (await twin(hurried.with_deadline(None).slow(delay=0.4))) == {'slow': True}
    assert api.deadline is None
    assert (hurried / 'x').deadline == 0.2
    await twin.close(api)


async def test_proxy_cookies_are_bound_to_every_host(twin, server, other):
    """A proxy's constructor and views bind cookies to each of its hosts, and to no other origin."""
    proxy = twin.Proxy(server.url, other.url, cookies={'root': SECRET})
    view = proxy.with_cookies(view=SECRET)
    for url in (server.url, other.url):
        assert cookies((await twin(view.get(url + 'echo'))).json()) == {'root': SECRET, 'view': SECRET}
        assert cookies((await twin(proxy.get(url + 'echo'))).json()) == {'root': SECRET}
    elsewhere = (await twin(view.get(f'http://localhost:{server.server_address[1]}/echo'))).json()
    assert 'cookie' not in elsewhere['headers']
    await twin.close(proxy)


class Mine:
    """Mixed into each class: a view must keep the caller's subclass."""


VIEWS = {
    'with_headers': lambda client: client.with_headers(X='1'),
    'with_params': lambda client: client.with_params(page=2),
    'with_timeout': lambda client: client.with_timeout(7),
    'with_cookies': lambda client: client.with_cookies(view='1'),
    'with_auth': lambda client: client.with_auth(clients.Bearer('view')),
    'with_auth None': lambda client: client.with_auth(None),
    'with_retry': lambda client: client.with_retry(Retry(attempts=7)),
    'with_rate': lambda client: client.with_rate(3),
    'with_deadline': lambda client: client.with_deadline(9),
}


def settings(client: Any) -> dict[str, Any]:
    """What a view could change in its root, as plain values."""
    jar = getattr(client.cookies, 'jar', client.cookies)
    return {'url': client.url, 'headers': dict(client.headers), 'params': dict(client.params), 'auth': client.auth,
            'timeout': client.timeout, 'retry': client.retry, 'rate': client.rate, 'deadline': client.deadline,
            'cookies': [(cookie.name, cookie.value) for cookie in jar]}


@pytest.mark.parametrize('kind', ['Client', 'Resource', 'Remote', 'Graph', 'JsonRpc', 'Proxy'])
@pytest.mark.parametrize('view', VIEWS)
async def test_every_view_keeps_its_class_shares_the_pool_and_leaves_the_root(twin, kind, view):
    cls = type('Mine' + kind, (Mine, getattr(twin, kind)), {})
    root = cls(URL, 'http://api.test/v2/', auth=('u', 'p'), cookies={'root': '1'}) if kind == 'Proxy' else cls(
        URL, headers={'Authorization': 'Bearer root'}, cookies={'root': '1'}, rate=5, deadline=30)
    before = settings(root)
    derived = VIEWS[view](root)
    assert type(derived) is cls
    assert settings(root) == before
    assert settings(derived) != before
    if twin.name == 'async':
        assert derived._transport is root._transport
    else:
        assert derived.adapters['http://'] is root.adapters['http://']
    await twin.close(derived)  # closing a view never closes the pool
    if twin.name == 'async':
        assert not root.is_closed
    await twin.close(root)


@pytest.mark.parametrize(('view', 'args', 'error', 'message'), [
    ('with_cookies', ({'a': 'x; admin=1'},), ValueError, "cookie 'a' may hold printable ASCII only"),
    ('with_cookies', ({'a': 'x, admin=1'},), ValueError, "cookie 'a' may hold"),
    ('with_cookies', ({'a': 'x\r\nX-Evil: 1'},), ValueError, "cookie 'a' may hold"),
    ('with_cookies', ({'a': 'caf\u00e9'},), ValueError, "cookie 'a' may hold"),
    ('with_cookies', ({'a b': 'x'},), ValueError, 'a cookie name must be a token'),
    ('with_cookies', ({'a=b': 'x'},), ValueError, 'a cookie name must be a token'),
    ('with_cookies', ({'a': 1},), TypeError, 'a cookie name and value must be strings, not str and int'),
    ('with_cookies', ([('a',)],), ValueError, 'not enough values'),
    ('with_auth', (SECRET,), TypeError, 'auth must be None, a .user, password. pair, an auth object or a callable'),
    ('with_auth', (('u', SECRET, 'x'),), TypeError, 'not tuple'),
    ('with_auth', ((SECRET, 1),), TypeError, 'not tuple'),
    ('with_retry', (3,), TypeError, 'retry must be a clients.Retry'),
    ('with_rate', ('fast',), TypeError, 'rate must be a number of requests per second'),
    ('with_rate', (-1,), ValueError, 'rate must be a number of requests per second > 0'),
    ('with_deadline', (-1,), ValueError, 'deadline'),
])
async def test_bad_settings_are_refused_naming_what_was_wrong(twin, view, args, error, message):
    client = twin.Client(URL)
    with pytest.raises(error, match=message) as caught:
        getattr(client, view)(*args)
    assert SECRET not in str(caught.value)
    await twin.close(client)


@pytest.mark.parametrize('value', ['x; admin=1', 'x\r\nX-Evil: 1', 'x,y=1'])
async def test_constructor_cookies_are_checked_too(twin, value):
    with pytest.raises(ValueError, match="cookie 'a' may hold"):
        twin.Client(URL, cookies={'a': value})
