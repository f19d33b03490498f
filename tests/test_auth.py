"""Auth helpers (Bearer, ApiKey, signers) and OAuth 2.0, through both shells."""

import asyncio
import base64
import hashlib
import hmac
import io
import re
import threading
import urllib.parse

import pytest
import requests

import clients
from clients import auth, httpx, oauth
from tests import auth_server, authlib_server
from tests.conftest import URL


class Clock:
    """A fake clock: `now` seconds, moved by hand."""

    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


# the pure token state

def test_token_form():
    basic = oauth.TokenState('id', 'secret', 'read write', None, 30)
    assert basic.form() == {'grant_type': 'client_credentials', 'scope': 'read write'}
    assert basic.headers() == {'Authorization': 'Basic aWQ6c2VjcmV0'}  # RFC 6749's id:secret, base64
    post = oauth.TokenState('id', 'secret', None, 'r0', 30, 'client_secret_post')
    assert post.form() == {'grant_type': 'refresh_token', 'refresh_token': 'r0', 'client_id': 'id',
                           'client_secret': 'secret'}
    assert post.headers() == {}
    for method in oauth.AUTH_METHODS:  # a public client names itself in the body
        public = oauth.TokenState('id', None, None, 'r0', 30, method)
        assert public.form() == {'grant_type': 'refresh_token', 'refresh_token': 'r0', 'client_id': 'id'}
        assert public.headers() == {}
    with pytest.raises(clients.TokenError, match='needs a client_id'):
        oauth.TokenState('', None, None, None, 30)
    with pytest.raises(clients.TokenError, match="token_endpoint_auth_method must be one of client_secret_basic, "
                                                 "client_secret_post, not 'client_secret_jwt'"):
        clients.OAuth2('http://h/token', 'id', 's', token_endpoint_auth_method='client_secret_jwt')


@pytest.mark.parametrize(('client_id', 'secret', 'encoded'), [
    ('id', 'secret', 'id:secret'),
    ('a:b', 'c:d', 'a%3Ab:c%3Ad'),
    ('x y', 'p+q%r é', 'x%20y:p%2Bq%25r%20%C3%A9'),
])
def test_basic_credentials_are_form_urlencoded_first(client_id, secret, encoded):
    value = oauth.basic(client_id, secret)
    assert base64.b64decode(value.removeprefix('Basic ')).decode() == encoded
    user, _, password = encoded.partition(':')
    assert (urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)) == (client_id, secret)


def test_token_expiry_and_rotation():
    state = oauth.TokenState('id', 's', None, None, leeway=30)
    assert not state.valid(0)
    state.accept({'access_token': 'a', 'expires_in': 100, 'refresh_token': 'r1'}, now=1000)
    assert (state.header, state.generation, state.refresh_token) == ('Bearer a', 1, 'r1')
    assert state.valid(1069)
    assert not state.valid(1070)
    state.accept({'access_token': 'b', 'expires_in': '10'}, now=2000)
    assert state.expires == 2005  # leeway is at most half the lifetime
    assert state.refresh_token == 'r1'
    state.accept({'access_token': 'c'}, now=3000)
    assert state.valid(10**9)
    for bad in ('soon', '²', 'nan', 'inf', '1_0', [], {}, True, float('nan'), float('inf'), -float('inf'),
                10**400, 1e300):
        with pytest.raises(clients.TokenError, match=f'expires_in is not a number: {re.escape(repr(bad))}$'):
            state.accept({'access_token': 'd', 'expires_in': bad}, now=0)
    with pytest.raises(clients.TokenError, match='no access_token'):
        state.accept({'error': 'x'}, now=0)
    assert (state.header, state.generation) == ('Bearer c', 3)


# header and query helpers, with mocks

async def test_bearer(twin):
    client = twin.Client(URL, auth=clients.Bearer('abc'))
    twin.mock('GET', URL + 'me', json={})
    twin.mock('GET', 'http://elsewhere.test/x', json={})
    await twin(client.get('me'))
    await twin(client.get('http://elsewhere.test/x'))
    mine, foreign = twin.sent()
    assert mine.headers['authorization'] == 'Bearer abc'
    assert 'authorization' not in foreign.headers


@pytest.mark.parametrize('token', ['', 'a\r\nX-Evil: 1', 'a\nb', 'nul\0', None])
def test_bad_tokens_are_refused(token):
    with pytest.raises(clients.TokenError):
        clients.Bearer(token)
    with pytest.raises(clients.TokenError):
        clients.ApiKey(token)


async def test_api_key_header_and_query(twin):
    twin.mock('GET', URL + 'x', json={})
    twin.mock('GET', URL + 'x?a=1&api_key=k', json={})
    await twin(twin.Client(URL, auth=clients.ApiKey('k')).get('x'))
    await twin(twin.Client(URL, auth=clients.ApiKey('k', 'Api-Token')).get('x'))
    await twin(twin.Client(URL, auth=clients.ApiKey('k', query='api_key')).get('x', params={'a': 1}))
    header, named, query = twin.sent()
    assert header.headers['x-api-key'] == 'k'
    assert named.headers['api-token'] == 'k'
    assert query.url == URL + 'x?a=1&api_key=k'
    assert 'x-api-key' not in query.headers
    assert clients.ApiKey('k').credential_headers == ('X-API-Key',)
    assert clients.ApiKey('k', query='q').credential_headers == ()


def test_base_classes_are_abstract():
    with pytest.raises(NotImplementedError):
        auth.Auth().sign('GET', URL, {}, b'')
    with pytest.raises(NotImplementedError):
        auth.Signer().headers('GET', URL, {}, b'')


def signer():
    return clients.HmacSigner('key-1', 'shh', clock=lambda: 1700000000.123, nonce=lambda: 'n0nce')


def expected_signature(method, target, body):
    message = '\n'.join(['1700000000123', 'n0nce', method, target, hashlib.sha256(body).hexdigest()])
    return hmac.new(b'shh', message.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize('kwargs', [
    {'json': {'b': 1, 'a': 'é'}},
    {'data': {'x': '1', 'y': 'two'}},
    {'content': b'\x00raw bytes'},
    {'content': 'tëxt body'},
])
async def test_hmac_signer_signs_the_bytes_sent(twin, kwargs):
    client = twin.Client(URL, auth=signer())
    twin.mock('POST', URL + 'orders?pair=xbt', json={})
    await twin(client.post('orders', params={'pair': 'xbt'}, **kwargs))
    sent = twin.sent()[0]
    assert sent.headers['api-key'] == 'key-1'
    assert sent.headers['api-timestamp'] == '1700000000123'
    assert sent.headers['api-nonce'] == 'n0nce'
    assert sent.headers['api-sign'] == expected_signature('POST', '/v1/orders?pair=xbt', sent.body)
    assert int(sent.headers['content-length']) == len(sent.body)


async def test_hmac_signer_without_body(twin):
    twin.mock('GET', URL + 'balance', json={})
    await twin(twin.Client(URL, auth=signer()).get('balance'))
    sent = twin.sent()[0]
    assert sent.headers['api-sign'] == expected_signature('GET', '/v1/balance', b'')


def test_sync_signer_reads_streamed_bodies(clients_mock):
    upload = clients_mock.post(URL + 'upload').respond(json={})
    client = clients.Client(URL, auth=signer())
    client.post('upload', data=io.BytesIO(b'file body'))
    client.post('upload', data=io.StringIO('text file'))
    client.post('upload', data=iter([b'chunk ', 'two']))
    assert [call.content for call in upload.calls] == [b'file body', b'text file', b'chunk two']
    for call in upload.calls:
        assert call.headers['API-Sign'] == expected_signature('POST', '/v1/upload', call.content)
        assert 'Transfer-Encoding' not in call.headers
        assert call.headers['Content-Length'] == str(len(call.content))


async def test_signer_reads_streamed_bodies(twin):
    twin.mock('POST', URL + 'upload', json={})

    async def parts():
        yield b'chunk '
        yield b'two'

    client = twin.Client(URL, auth=signer())
    await twin(client.post('upload', content=parts() if twin.name == 'async' else iter([b'chunk ', b'two'])))
    await twin.close(client)
    sent = twin.sent()[0]
    assert sent.body == b'chunk two'
    assert sent.headers['api-sign'] == expected_signature('POST', '/v1/upload', b'chunk two')
    assert sent.headers['content-length'] == '9'
    assert 'transfer-encoding' not in sent.headers


async def test_custom_signer(twin):
    class Checksum(clients.Signer):
        def headers(self, method, url, headers, body):
            return {'X-Checksum': hashlib.md5(body).hexdigest(), 'X-Seen': f'{method} {url}'}

    twin.mock('PUT', URL + 'x', json={})
    await twin(twin.Client(URL, auth=Checksum()).put('x', {'a': 1}))
    sent = twin.sent()[0]
    assert sent.headers['x-checksum'] == hashlib.md5(sent.body).hexdigest()
    assert sent.headers['x-seen'] == f'PUT {URL}x'


def test_hmac_message_is_public():
    message = clients.HmacSigner.message('post', 'http://h/a/b?c=d', '1', 'n', b'')
    assert message == b'1\nn\nPOST\n/a/b?c=d\n' + hashlib.sha256(b'').hexdigest().encode()


async def test_credential_headers_never_follow_a_redirect_elsewhere(twin, server, other):
    for credential in (clients.ApiKey('k'), signer()):
        api = twin.Resource(server.url, auth=credential)
        echoed = await twin(api.redirect(to=other.url + 'echo'))
        assert not {'x-api-key', 'api-key', 'api-sign'} & set(echoed['headers'])
        here = await twin(api.redirect(to=server.url + 'echo'))
        assert {'x-api-key', 'api-key'} & set(here['headers'])
        await twin.close(api)


# OAuth 2.0 against a real token endpoint

def oauth2(server, **kwargs):
    kwargs.setdefault('clock', Clock())
    return clients.OAuth2(server.url + 'oauth/token', 'id', 'secret', **kwargs)


async def test_token_is_fetched_once_and_cached(twin, fresh):
    state = auth_server.oauth_state(fresh)
    api = twin.Resource(fresh.url + 'oauth', auth=oauth2(fresh, scope='read'))
    for _ in range(5):
        assert await twin(api.protected.get()) == {'token': 't1'}
    assert state['issued'] == 1
    (request,) = state['requests']
    assert request['query'] == ''
    assert request['content_type'] == 'application/x-www-form-urlencoded'
    assert request['basic'] == ('id', 'secret')  # HTTP Basic, as RFC 6749 2.3.1 says every server takes
    assert request['form'] == {'grant_type': 'client_credentials', 'scope': 'read'}
    await twin.close(api)


async def test_client_secret_post_puts_the_credentials_in_the_body(twin, fresh):
    state = auth_server.oauth_state(fresh)
    api = twin.Resource(fresh.url + 'oauth', auth=oauth2(fresh, token_endpoint_auth_method='client_secret_post'))
    assert await twin(api.protected.get()) == {'token': 't1'}
    (request,) = state['requests']
    assert request['basic'] is None
    assert request['form'] == {'grant_type': 'client_credentials', 'client_id': 'id', 'client_secret': 'secret'}
    await twin.close(api)


@pytest.mark.parametrize(('expires_in', 'renewed_after'), [(100, 70), (60, 30), (10, 5)])
async def test_token_is_renewed_before_it_expires(twin, fresh, expires_in, renewed_after):
    """`leeway` seconds before expiry, but never before half the token's lifetime."""
    state = auth_server.oauth_state(fresh)
    state['expires_in'] = expires_in
    clock = Clock()
    credential = oauth2(fresh, clock=clock, leeway=30)
    api = twin.Resource(fresh.url + 'oauth', auth=credential)
    assert await twin(api.protected.get()) == {'token': 't1'}
    clock.now += renewed_after - 1
    assert await twin(api.protected.get()) == {'token': 't1'}
    clock.now += 1
    assert await twin(api.protected.get()) == {'token': 't2'}
    assert state['issued'] == 2
    assert credential.token['access_token'] == 't2'
    await twin.close(api)


async def test_401_refreshes_once_and_replays(twin, fresh):
    state = auth_server.oauth_state(fresh)
    api = twin.Resource(fresh.url + 'oauth', auth=oauth2(fresh))
    assert await twin(api.protected.get()) == {'token': 't1'}
    state['current'] = 'revoked'
    assert await twin(api.protected.post(json={'n': 1})) == {'token': 't2'}
    assert state['issued'] == 2
    await twin.close(api)


async def test_a_401_from_another_origin_after_a_redirect_mints_no_token(twin, fresh, other):
    """Home redirects to a foreign origin that answers 401: no token goes there, and none is minted."""
    state = auth_server.oauth_state(fresh)
    api = twin.Resource(fresh.url, auth=oauth2(fresh))
    before = len(other.requests)
    with pytest.raises(twin.HTTPError) as caught:
        await twin(api.get('redirect', params={'to': other.url + 'status/401'}))
    assert caught.value.status_code == 401
    arrived = other.requests[before:]
    assert [path for _, path, _ in arrived] == ['/status/401']
    assert not [headers for _, _, headers in arrived if 'Authorization' in headers]
    assert state['issued'] == 1  # the token of the first request, no refresh for a stranger's 401
    await twin.close(api)


async def test_a_second_401_is_the_answer(twin, fresh):
    state = auth_server.oauth_state(fresh)
    state['reject'] = True
    api = twin.Resource(fresh.url + 'oauth', auth=oauth2(fresh))
    with pytest.raises(clients.HTTPError, match='401 Unauthorized: invalid_token'):
        await twin(api.protected.get())
    assert state['issued'] == 2
    await twin.close(api)


async def test_failed_refresh_raises_and_keeps_the_header(twin, fresh):
    state = auth_server.oauth_state(fresh)
    credential = oauth2(fresh)
    api = twin.Resource(fresh.url + 'oauth', auth=credential)
    await twin(api.protected.get())
    state['current'], state['fail'] = 'revoked', True
    with pytest.raises(clients.HTTPError, match='500 Internal Server Error: server_error'):
        await twin(api.protected.get())
    assert credential.state.header == 'Bearer t1'
    assert credential.token['access_token'] == 't1'
    await twin.close(api)


async def test_token_with_a_line_break_is_refused(twin, fresh):
    state = auth_server.oauth_state(fresh)
    state['token'] = 'evil\r\nX-Injected: 1'
    credential = oauth2(fresh)
    api = twin.Resource(fresh.url + 'oauth', auth=credential)
    with pytest.raises(clients.TokenError, match='line break'):
        await twin(api.protected.get())
    assert credential.token is None
    await twin.close(api)


async def test_refresh_token_grant_rotates(twin, fresh):
    state = auth_server.oauth_state(fresh)
    state['refresh'] = 'r0'
    credential = clients.OAuth2(fresh.url + 'oauth/token', 'id', refresh_token='r0', clock=Clock())
    api = twin.Resource(fresh.url + 'oauth', auth=credential)
    assert await twin(api.protected.get()) == {'token': 't1'}
    state['current'] = 'revoked'
    assert await twin(api.protected.get()) == {'token': 't2'}
    forms = [request['form'] for request in state['requests']]
    assert forms == [{'grant_type': 'refresh_token', 'refresh_token': 'r0', 'client_id': 'id'},
                     {'grant_type': 'refresh_token', 'refresh_token': 'r1', 'client_id': 'id'}]
    await twin.close(api)


async def test_wrong_client_secret(twin, fresh):
    credential = clients.OAuth2(fresh.url + 'oauth/token', 'id', 'wrong')
    api = twin.Resource(fresh.url + 'oauth', auth=credential)
    with pytest.raises(clients.HTTPError, match='invalid_client'):
        await twin(api.protected.get())
    await twin.close(api)


def test_concurrent_threads_share_one_refresh(fresh):
    state = auth_server.oauth_state(fresh)
    api = clients.Resource(fresh.url + 'oauth', auth=oauth2(fresh))
    adapter = clients.base.requests.adapters.HTTPAdapter(pool_maxsize=32)
    api.mount('http://', adapter)
    assert api.protected.get() == {'token': 't1'}
    state['current'], state['delay'] = 'revoked', 0.3
    results, barrier = [], threading.Barrier(24)

    def work():
        barrier.wait()
        results.append(api.protected.get()['token'])

    threads = [threading.Thread(target=work) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ['t2'] * 24
    assert state['issued'] == 2
    api.close()


async def test_concurrent_tasks_share_one_refresh(fresh):
    state = auth_server.oauth_state(fresh)
    async with clients.AsyncResource(fresh.url + 'oauth', auth=oauth2(fresh)) as api:
        assert await api.protected.get() == {'token': 't1'}
        state['current'], state['delay'] = 'revoked', 0.3
        results = await asyncio.gather(*(api.protected.get() for _ in range(50)))
    assert [result['token'] for result in results] == ['t2'] * 50
    assert state['issued'] == 2


def test_oauth2_with_a_sync_httpx_client_is_refused():
    with pytest.raises(TypeError, match=r'not a sync httpx\.Client'):
        next(clients.OAuth2('http://h/token', 'id').sync_auth_flow(None))


def test_replay_of_a_consumed_stream_returns_the_401(fresh):
    state = auth_server.oauth_state(fresh)
    api = clients.Resource(fresh.url + 'oauth', auth=oauth2(fresh))
    api.protected.get()
    state['current'] = 'revoked'
    with pytest.raises(clients.HTTPError, match='401'):
        api.protected.post(data=iter([b'once']))
    assert state['issued'] == 1
    file = io.BytesIO(b'seekable')
    assert api.protected.post(data=file) == {'token': 't2'}
    api.close()



def test_oauth2_replays_a_401_itself_for_a_plain_requests_session(fresh, other):
    """Outside the clients (which replay through their `request`), OAuth2 replays in a response hook."""
    state = auth_server.oauth_state(fresh)
    url = fresh.url + 'oauth/protected'
    with requests.Session() as session:
        session.auth = oauth2(fresh)
        assert session.get(url).json() == {'token': 't1'}
        state['current'] = 'revoked'
        assert session.post(url, data=io.BytesIO(b'seekable')).json() == {'token': 't2'}
        state['current'] = 'revoked'
        assert session.post(url, data=iter([b'once'])).status_code == 401  # a consumed stream is not sent again
        assert session.post(url, data=b'bytes').json() == {'token': 't3'}
        assert session.get(fresh.url + 'redirect', params={'to': other.url + 'status/401'}).status_code == 401
    assert state['issued'] == 3  # none for the other origin's 401


async def test_oauth2_replays_a_401_itself_for_a_plain_httpx_client(fresh, other):
    state = auth_server.oauth_state(fresh)
    url = fresh.url + 'oauth/protected'
    async with httpx.AsyncClient(auth=oauth2(fresh), follow_redirects=True) as client:
        assert (await client.get(url)).json() == {'token': 't1'}
        state['current'] = 'revoked'
        assert (await client.post(url, content=b'bytes')).json() == {'token': 't2'}
        response = await client.get(fresh.url + 'redirect', params={'to': other.url + 'status/401'})
        assert response.status_code == 401
    assert state['issued'] == 2


# OAuth 2.0 against authlib's authorization server

@pytest.mark.parametrize('client_id', ['basic-client', 'id:with colon'])
async def test_authlib_stock_grant_takes_the_default_http_basic(twin, fresh, client_id):
    secret, _ = authlib_server.CLIENTS[client_id]
    api = twin.Resource(fresh.url + 'authlib', auth=clients.OAuth2(fresh.url + 'authlib/token', client_id, secret))
    assert await twin(api.protected.get()) == {'client': client_id}
    await twin.close(api)


async def test_authlib_client_secret_post_as_an_option(twin, fresh):
    def api(path, **kwargs):
        credential = clients.OAuth2(fresh.url + path, 'post-client', 'p0st secret', **kwargs)
        return twin.Resource(fresh.url + 'authlib', auth=credential)

    posting = api('authlib/post/token', token_endpoint_auth_method='client_secret_post')
    assert await twin(posting.protected.get()) == {'client': 'post-client'}
    for refused in (api('authlib/post/token'), api('authlib/token', token_endpoint_auth_method='client_secret_post')):
        with pytest.raises(clients.HTTPError, match='401 Unauthorized: invalid_client') as info:
            await twin(refused.protected.get())
        assert 'p0st' not in str(info.value)
        await twin.close(refused)
    await twin.close(posting)
