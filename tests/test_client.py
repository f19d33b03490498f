"""Client and AsyncClient: joining, verbs, derived views, settings and credentials (both shells)."""

import pytest
import requests

import clients
from clients import httpx
from clients.navigation import REDIRECTS
from tests.conftest import URL


@pytest.mark.parametrize(('path', 'trailing', 'url'), [
    ('', '', 'http://api.test/v1'),
    ('users', '', 'http://api.test/v1/users'),
    ('users/', '', 'http://api.test/v1/users'),
    ('users', '/', 'http://api.test/v1/users/'),
    ('/root', '', 'http://api.test/root'),
    ('users:1', '', 'http://api.test/v1/users:1'),
    ('users?a=1', '.json', 'http://api.test/v1/users.json?a=1'),
])
async def test_joining(twin, path, trailing, url):
    twin.mock('GET', url, json={})
    client = twin.Client(URL, trailing=trailing)
    response = await twin(client.get(path))
    assert response.status_code == 200
    assert twin.sent()[0].url == url


async def test_absolute_url_replaces_base_and_is_used_as_given(twin):
    twin.mock('GET', 'http://other.test/x', json={})
    twin.mock('GET', 'http://other.test/dir/?page=2', json={})
    client = twin.Client(URL, trailing='.json')
    await twin(client.get('http://other.test/x'))
    await twin(client.get('http://other.test/dir/?page=2'))
    assert [sent.url for sent in twin.sent()] == ['http://other.test/x', 'http://other.test/dir/?page=2']


async def test_verbs(twin):
    client = twin.Client(URL)
    for method in ('GET', 'OPTIONS', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'):
        twin.mock(method, URL + 'x', status=204)
    for verb in ('get', 'options', 'head', 'delete'):
        assert (await twin(getattr(client, verb)('x'))).status_code == 204
    for verb in ('post', 'put', 'patch'):
        assert (await twin(getattr(client, verb)('x', {'a': 1}))).status_code == 204
    sent = twin.sent()
    assert [request.method for request in sent] == ['GET', 'OPTIONS', 'HEAD', 'DELETE', 'POST', 'PUT', 'PATCH']
    assert [request.body for request in sent[-3:]] == [b'{"a": 1}'] * 3 or [
        request.body for request in sent[-3:]] == [b'{"a":1}'] * 3


async def test_request_with_method_and_default_path(twin):
    twin.mock('GET', 'http://api.test/v1', status=204)
    assert (await twin(twin.Client(URL).request('GET'))).status_code == 204


async def test_head_does_not_follow_redirects(twin):
    twin.mock('HEAD', URL + 'moved', status=301, headers={'Location': URL + 'new'})
    response = await twin(twin.Client(URL).head('moved'))
    assert response.status_code == 301
    assert len(twin.sent()) == 1


async def test_repr_and_url(twin):
    assert not twin.Client(URL, headers=None).headers.get('Authorization')
    client = twin.Client('http://api.test/v1', trailing='/')
    assert client.url == URL
    assert repr(client) == f'{twin.Client.__name__}(http://api.test/v1/... /)'


async def test_invalid_base_url(twin):
    with pytest.raises(clients.InvalidURL, match=r'did you mean https://api.test/v1'):
        twin.Client('api.test/v1')


async def test_derived_clients_copy_settings_and_share_the_pool(twin):
    root = twin.Client(URL, headers={'X-Root': '1'}, params={'p': '1'})
    child = root / 'items'
    assert type(child) is twin.Client
    assert child.url == URL + 'items/'
    assert root.url == URL
    child.headers['X-Child'] = '1'
    root.headers['X-Later'] = '1'
    assert 'X-Child' not in root.headers
    assert 'X-Later' not in child.headers
    assert child.headers['X-Root'] == '1'
    if twin.name == 'async':
        assert child._transport is root._transport
        assert child.params['p'] == '1'
    else:
        assert child.adapters['http://'] is root.adapters['http://']
        child.params['q'] = '2'
        assert root.params == {'p': '1'}
    assert child.cookies is root.cookies
    query = 'p=1' if twin.name == 'async' else 'p=1&q=2'
    twin.mock('GET', URL + 'items/x?' + query, json={})
    await twin(child.get('x'))
    assert twin.sent()[0].headers['x-child'] == '1'


async def test_with_settings(twin):
    root = twin.Client(URL, headers={'A': '1'})
    child = root.with_headers({'B': '2'}, C='3').with_params({'q': 'x'}, n=1).with_timeout(7)
    assert 'B' not in root.headers
    twin.mock('GET', URL + 'x?q=x&n=1', json={})
    await twin(child.get('x'))
    sent = twin.sent()[0]
    assert (sent.headers['a'], sent.headers['b'], sent.headers['c']) == ('1', '2', '3')
    assert sent.url == URL + 'x?q=x&n=1'
    assert sent.timeout == (7, 7)
    if twin.name == 'async':
        assert child.timeout == httpx.Timeout(7)
        assert child.with_timeout((1, 2)).timeout == httpx.Timeout(2, connect=1)
    else:
        assert child.timeout == 7


async def test_default_timeout_is_finite(twin):
    client = twin.Client(URL)
    twin.mock('GET', URL + 'x', json={})
    await twin(client.get('x'))
    if twin.name == 'async':
        assert client.timeout == httpx.Timeout(30.0, connect=5.0)
    assert twin.sent()[0].timeout == (5.0, 30.0)
    assert (await twin(client.get('x', timeout=(1, 2)))).status_code == 200
    assert twin.sent()[1].timeout == (1, 2)


async def test_attributes(twin):
    client = twin.Client(URL, auth=('u', 'p'), params={'k': 'v'}, cookies={'c': '1'})
    assert client.cookies['c'] == '1'
    twin.mock('GET', URL + 'x?k=v', json={})
    await twin(client.get('x'))
    assert twin.sent()[0].headers['authorization'].startswith('Basic ')


def test_unknown_attribute():
    with pytest.raises(TypeError, match='unexpected keyword arguments: header'):
        clients.Client(URL, header={})


async def test_credentials_stay_with_their_origin(twin):
    client = twin.Client(URL, headers={'Authorization': 'Bearer secret', 'Cookie': 'a=1',
                                       'Proxy-Authorization': 'Basic p', 'X-Other': 'kept'})
    twin.mock('GET', 'http://other.test/x', json={})
    twin.mock('GET', 'https://api.test/x', json={})
    twin.mock('GET', 'http://api.test:8080/x', json={})
    twin.mock('GET', 'http://api.test/elsewhere', json={})
    twin.mock('GET', 'http://other.test/network-path', json={})
    for url in ('http://other.test/x', 'https://api.test/x', 'http://api.test:8080/x', '//other.test/network-path'):
        await twin(client.get(url))
    await twin(client.get('http://api.test/elsewhere'))
    *foreign, same = twin.sent()
    for request in foreign:
        assert not {'authorization', 'cookie', 'proxy-authorization'} & set(request.headers)
        assert request.headers['x-other'] == 'kept'
    assert same.headers['authorization'] == 'Bearer secret'
    assert same.headers['cookie'] == 'a=1'


async def test_session_auth_stays_with_its_origin(twin):
    client = twin.Client(URL, auth=('user', 'pass'))
    twin.mock('GET', 'http://other.test/x', json={})
    await twin(client.get('http://other.test/x'))
    await twin(client.get('http://other.test/x', auth=('mine', 'explicit')))
    await twin(client.get('http://other.test/x', headers={'Authorization': 'Bearer mine'}))
    first, explicit, header = twin.sent()
    assert 'authorization' not in first.headers
    assert explicit.headers['authorization'].startswith('Basic ')
    assert header.headers['authorization'] == 'Bearer mine'


async def test_client_without_auth_keeps_netrc_behaviour_for_foreign_urls(twin):
    client = twin.Client(URL, headers={'Authorization': 'Bearer secret'})
    twin.mock('GET', 'http://other.test/x', json={})
    response = await twin(client.get('http://other.test/x'))
    assert 'Authorization' not in response.request.headers


async def test_streaming_context_closes_the_response(twin):
    client = twin.Client(URL)
    twin.mock('GET', URL + 'x', body=b'abc')
    manager = client.stream('GET', 'x') if twin.name == 'async' else client.streaming('GET', 'x')
    if twin.name == 'async':
        async with manager as response:
            assert await response.aread() == b'abc'
        assert response.is_closed
    else:
        with manager as response:
            assert response.raw.read() == b'abc'
        assert response.raw.closed


async def test_transport_errors_are_the_librarys(twin):
    twin.mock('GET', URL + 'down', error='connect')
    error = httpx.ConnectError if twin.name == 'async' else requests.ConnectionError
    with pytest.raises(error):
        await twin(twin.Client(URL).get('down'))


async def test_follow_redirects_alias(twin):
    twin.mock('GET', URL + 'moved', status=302, headers={'Location': URL + 'new'})
    twin.mock('GET', URL + 'new', json={'new': True})
    client = twin.Client(URL)
    assert (await twin(client.get('moved', follow_redirects=False))).status_code == 302
    assert (await twin(client.get('moved', allow_redirects=False))).status_code == 302
    assert (await twin(client.get('moved'))).status_code == 200


@pytest.mark.parametrize('kind', ['Client', 'Resource', 'Remote', 'Proxy'])
@pytest.mark.parametrize('name', ['follow_redirects', 'allow_redirects'])
@pytest.mark.parametrize('default', [True, False])
async def test_redirects_default_is_a_client_setting(twin, kind, name, default):
    """Either name sets the default of requests that do not say; a request's own value wins."""
    twin.mock('POST', URL + 'moved', status=303, headers={'Location': URL + 'new'})
    twin.mock('GET', URL + 'new', json={'new': True})
    twin.mock('HEAD', URL + 'moved', status=302, headers={'Location': URL + 'new'})
    twin.mock('HEAD', URL + 'new')
    cls = getattr(twin, kind)
    options = {name: default}
    api = cls(URL, URL, **options) if kind == 'Proxy' else cls(URL, **options)
    client = api if kind in ('Client', 'Proxy') else api.client
    for view in (client, client / '', client.with_headers(X='1')):
        assert view.follow_redirects is default
        assert (await twin(view.post('moved'))).status_code == (200 if default else 303)
        for per_request in REDIRECTS:
            assert (await twin(view.post('moved', **{per_request: not default}))).status_code == (
                303 if default else 200)
    assert (await twin(client.head('moved', **{name: True}))).status_code == 200  # HEAD follows when asked
    if kind == 'Resource':
        assert (await twin(api.post('moved'))) == ({'new': True} if default else None)
    await twin.close(api)


@pytest.mark.parametrize('options', [
    {'follow_redirects': True, 'allow_redirects': False},
    {'follow_redirects': 'no'},
    {'allow_redirects': None},
])
async def test_redirects_settings_are_checked(twin, options):
    message = 'disagree: give one of them' if len(options) == 2 else r'_redirects must be True or False, not '
    with pytest.raises(TypeError, match=message):
        twin.Resource(URL, **options)
    api = twin.Client(URL)
    with pytest.raises(TypeError, match=message):
        await twin(api.get('x', **options))
    assert twin.sent() == []
    await twin.close(api)


@pytest.mark.parametrize('kind', ['Client', 'Resource', 'Remote', 'Graph', 'JsonRpc', 'Proxy'])
async def test_every_client_sends_one_user_agent_naming_its_library(twin, server, kind):
    """`clients/<version> (<library>/<version>)`: requests' for sync, the httpx library's for async."""
    chosen = clients.library.NAME
    library = (f'python-{chosen}/{httpx.__version__}' if twin.name == 'async'
               else f'python-requests/{requests.__version__}')
    expected = f'clients/{clients.__version__} ({library})'
    api = getattr(twin, kind)(server.url)
    response = await twin(api.request('GET', 'echo', response=True))  # (the response from every class)
    assert response.json()['headers']['user-agent'] == expected
    await twin.close(api)


async def test_the_user_agent_is_overridden_as_any_header(twin, server):
    for headers in ({'User-Agent': 'mine/1'}, {'user-agent': 'mine/1'}):
        api = twin.Resource(server.url, headers=headers)
        assert (await twin(api.get('echo')))['headers']['user-agent'] == 'mine/1'
        api.headers['User-Agent'] = 'mine/2'
        assert (await twin(api.get('echo')))['headers']['user-agent'] == 'mine/2'
        assert (await twin(api.get('echo', headers={'User-Agent': 'mine/3'})))['headers']['user-agent'] == 'mine/3'
        await twin.close(api)
