"""Resource and AsyncResource with mocks: decoding, errors, navigation, flows (both shells)."""

import copy
import io
import json
import pickle

import pytest
import requests

import clients
from clients import httpx
from tests.conftest import URL


@pytest.mark.parametrize(('content_type', 'body', 'value'), [
    ('application/json', b'{"a": 1}', {'a': 1}),
    ('application/problem+json', b'{"title": "t"}', {'title': 't'}),
    ('application/vnd.api+json; charset=utf-8', b'[1]', [1]),
    ('application/x-ndjson', b'{"a": 1}\n{"b": 2}', [{'a': 1}, {'b': 2}]),
    ('text/plain', 'héllo'.encode(), 'héllo'),
    ('text/csv; charset=latin-1', 'é'.encode('latin-1'), 'é'),
    ('application/xml; charset=utf-8', b'<a/>', '<a/>'),
    ('application/octet-stream', b'\x00\xff', b'\x00\xff'),
    ('application/json', b'', None),
])
async def test_decoding(twin, content_type, body, value):
    twin.mock('GET', URL + 'x', body=body, headers={'Content-Type': content_type})
    assert await twin(twin.Resource(URL).get('x')) == value


async def test_missing_content_type_is_bytes(twin):
    twin.mock('GET', URL + 'x', body=b'raw')
    assert await twin(twin.Resource(URL).get('x')) == b'raw'


async def test_no_content(twin):
    twin.mock('DELETE', URL + 'x', status=204, headers={'Content-Type': 'application/json'})
    assert await twin(twin.Resource(URL).delete('x')) is None


async def test_invalid_json(twin):
    twin.mock('GET', URL + 'x', body=b'{oops', headers={'Content-Type': 'application/json'})
    with pytest.raises(clients.DecodeError, match=r'GET http://api.test/v1/x: invalid JSON'):
        await twin(twin.Resource(URL).get('x'))


@pytest.mark.parametrize(('status', 'body', 'text'), [
    (404, {'message': 'no such user'}, 'no such user'),
    (422, {'detail': 'bad field'}, 'bad field'),
    (500, {'error': 'exploded'}, 'exploded'),
])
async def test_status_errors(twin, status, body, text):
    twin.mock('GET', URL + 'users/9', status=status, json=body)
    with pytest.raises(clients.HTTPError) as info:
        await twin(twin.Resource(URL).users[9])
    error = info.value
    assert isinstance(error, twin.HTTPError)
    assert isinstance(error, requests.HTTPError if twin.name == 'sync' else httpx.HTTPStatusError)
    assert error.status_code == status == error.response.status_code
    assert error.method == 'GET'
    assert error.url == URL + 'users/9'
    assert str(error).startswith(f'GET {URL}users/9 returned {status} ')
    assert str(error).endswith(f': {text}')


async def test_status_error_plain_body(twin):
    twin.mock('POST', URL + 'x', status=503, body=b'<html>Service   Unavailable</html>' + b' ' * 500,
              headers={'Content-Type': 'text/html'})
    with pytest.raises(clients.HTTPError, match=r'returned 503 Service Unavailable: <html>Service Unavailable</html>$'):
        await twin(twin.Resource(URL).post('x', {}))


async def test_navigation(twin, clients_mock):
    res = twin.Resource(URL)
    api = clients_mock.at(res)
    api.get('user/repos', params={'visibility': 'public'}).respond(json=[{'name': 'clients'}])
    api.get('items/3').respond(json={'id': 3})
    api.get('users:1').respond(json={'id': 'users:1'})
    api.get('a%5Cb').respond(json={'id': 'a\\b'})
    api.get('items').respond(json=[])
    assert await twin(res.user.repos(visibility='public')) == [{'name': 'clients'}]
    assert await twin(res.items[3]) == {'id': 3}
    assert await twin(res['users:1']) == {'id': 'users:1'}
    assert await twin(res['a\\b']) == {'id': 'a\\b'}
    assert await twin(res.items()) == []
    assert isinstance(res.user.repos, twin.Resource)
    assert res.user.repos.url == URL + 'user/repos/'
    assert [call.url for call in clients_mock.calls] == [
        URL + 'user/repos?visibility=public', URL + 'items/3', URL + 'users:1', URL + 'a%5Cb', URL + 'items']


async def test_item_assignment_and_deletion(twin):
    res = twin.Resource(URL)
    twin.mock('PUT', URL + 'items/1', json={})
    twin.mock('DELETE', URL + 'items/1', status=204)
    if twin.name == 'sync':
        res.items[1] = {'name': 'x'}
        del res.items[1]
        assert [(r.method, json.loads(r.body or b'null')) for r in twin.sent()] == [
            ('PUT', {'name': 'x'}), ('DELETE', None)]
    else:
        with pytest.raises(TypeError, match=r"use `await resource.put\(1, json\)`"):
            res.items[1] = {'name': 'x'}
        with pytest.raises(TypeError, match=r'use `await resource.delete\(1\)`'):
            del res.items[1]
        await res.items.put(1, {'name': 'x'})
        await res.items.delete(1)
        assert [r.method for r in twin.sent()] == ['PUT', 'DELETE']


async def test_membership(twin, clients_mock):
    res = twin.Resource(URL)
    api = clients_mock.at(URL)
    api.head('here').respond(200)
    api.head('gone').respond(404)
    api.head('moved').respond(302, headers={'Location': URL + 'here'})
    assert await twin(res.exists('here')) is True
    assert await twin(res.exists('gone')) is False
    assert await twin(res.exists('moved')) is True
    if twin.name == 'sync':
        assert 'here' in res
        assert 'gone' not in res
    else:
        with pytest.raises(TypeError, match=r"use `await resource.exists\('here'\)`"):
            'here' in res  # noqa: B015


async def test_private_and_dunder_lookups_send_nothing(twin):
    res = twin.Resource(URL)
    with pytest.raises(AttributeError, match="has no attribute '_secret'"):
        res._secret  # noqa: B018
    with pytest.raises(AttributeError):
        res.__wrapped__  # noqa: B018
    assert not hasattr(res, '__array__')
    assert hasattr(res, 'anything')
    view = copy.copy(res)
    assert view.url == res.url
    assert view.headers is not res.headers
    if twin.name == 'sync':
        clone = copy.deepcopy(res)
        assert clone.url == res.url
        assert clone.adapters['http://'] is not res.adapters['http://']
        restored = pickle.loads(pickle.dumps(res.user))
        assert restored.url == URL + 'user/'
        assert isinstance(restored, clients.Resource)
        restored.close()
    else:
        with pytest.raises(TypeError, match='cannot be pickled or deep-copied'):
            copy.deepcopy(res)
        with pytest.raises(TypeError, match='cannot be pickled'):
            pickle.dumps(res)
    assert twin.sent() == []


async def test_reserved_names_do_not_navigate(twin):
    res = twin.Resource(URL)
    del res.__dict__['trailing']
    with pytest.raises(AttributeError, match='trailing'):
        res.trailing  # noqa: B018


async def test_client_upcast(twin):
    res = twin.Resource(URL, headers={'X': '1'})
    client = res.items.client
    assert type(client) is twin.Client
    assert client.url == URL + 'items/'
    assert client.headers['X'] == '1'
    twin.mock('GET', URL + 'items/1', status=404, json={})
    response = await twin(client.get('1'))
    assert response.status_code == 404


async def test_iter(twin, clients_mock):
    res = twin.Resource(URL)
    api = clients_mock.at(URL)
    # split across chunks where a line or a CRLF is cut, as a network may split them
    api.get('events').respond(stream=[b'{"a": 1}\n\n{"b', b'": 2}\r', b'\n{"c": 3}'],
                              headers={'Content-Type': 'application/x-ndjson'})
    api.get('log').respond(text='one\ntwo\r\n\nthree')
    api.get('blob').respond(content=b'\x00' * 10, headers={'Content-Type': 'application/octet-stream'})
    api.get('json').respond(content=b'{"a": 1}\n{"b": 2}\n', headers={'Content-Type': 'application/json'})
    assert await twin.list(res.iter('events')) == [{'a': 1}, {'b': 2}, {'c': 3}]
    assert await twin.list(res.log.iter()) == ['one', 'two', '', 'three']
    assert b''.join(await twin.list(res.iter('blob'))) == b'\x00' * 10
    assert await twin.list(res.iter('json')) == [{'a': 1}, {'b': 2}]
    assert await twin.list(res.events) == [{'a': 1}, {'b': 2}, {'c': 3}]


async def test_iter_status_error(twin, clients_mock):
    clients_mock.get(URL + 'events').respond(401, json={'message': 'log in first'})
    with pytest.raises(clients.HTTPError, match='401 Unauthorized: log in first'):
        await twin.list(twin.Resource(URL).iter('events'))


async def test_download(twin, clients_mock):
    clients_mock.get(URL + 'file').respond(stream=[b'x' * 60_000, b'x' * 40_000])
    file = io.BytesIO()
    assert await twin(twin.Resource(URL).download(file, 'file')) is file
    assert file.getvalue() == b'x' * 100_000
    clients_mock.get(URL + 'missing').respond(404, text='not here')
    with pytest.raises(clients.HTTPError, match='404 Not Found: not here'):
        await twin(twin.Resource(URL).download(io.BytesIO(), 'missing'))


async def test_create(twin):
    twin.mock('POST', URL + 'items', status=201, headers={'Location': URL + 'items/7'})
    assert await twin(twin.Resource(URL).create('items', {'name': 'x'})) == URL + 'items/7'
    assert json.loads(twin.sent()[0].body) == {'name': 'x'}
    twin.mock('POST', URL + 'bad', status=400, json={'message': 'name required'})
    with pytest.raises(clients.HTTPError, match='name required'):
        await twin(twin.Resource(URL).create('bad'))


async def test_update_patches(twin):
    twin.mock('PATCH', URL + 'items/1', json={'id': 1, 'name': 'y'})
    assert await twin((twin.Resource(URL).items / 1).update(name='y')) == {'id': 1, 'name': 'y'}
    assert json.loads(twin.sent()[0].body) == {'name': 'y'}


async def test_update_with_callback_is_conditional(twin):
    validators = {'ETag': '"v1"', 'Last-Modified': 'Mon, 01 Jan 2024 00:00:00 GMT'}
    twin.mock('GET', URL + 'items/1', json={'n': 1}, headers=validators)
    twin.mock('PUT', URL + 'items/1', json={'n': 2})

    def increment(item, by):
        return {'n': item['n'] + by}

    assert await twin(twin.Resource(URL).update('items/1', increment, by=1)) == {'n': 2}
    _, put = twin.sent()
    assert json.loads(put.body) == {'n': 2}
    assert put.headers['if-match'] == '"v1"'
    assert put.headers['if-unmodified-since'] == 'Mon, 01 Jan 2024 00:00:00 GMT'


async def test_update_conflict_raises(twin):
    twin.mock('GET', URL + 'items/1', json={'n': 1}, headers={'ETag': '"v1"'})
    twin.mock('PUT', URL + 'items/1', status=412, json={'message': 'changed meanwhile'})
    with pytest.raises(clients.HTTPError, match='412 Precondition Failed: changed meanwhile'):
        await twin(twin.Resource(URL).update('items/1', lambda item: item))


async def test_updating(twin):
    res = twin.Resource(URL)
    twin.mock('GET', URL + 'items/1', json={'tags': ['a']}, headers={'ETag': '"v1"'})
    twin.mock('PUT', URL + 'items/1', json={})
    if twin.name == 'sync':
        with res.updating('items/1') as item:
            item['tags'].append('b')
        with res.updating('items/1') as item:
            pass
        with pytest.raises(KeyError), res.updating('items/1') as item:
            item['tags'].append('c')
            raise KeyError('abandon')
    else:
        async with res.updating('items/1') as item:
            item['tags'].append('b')
        async with res.updating('items/1') as item:
            pass
        with pytest.raises(KeyError):
            async with res.updating('items/1') as item:
                item['tags'].append('c')
                raise KeyError('abandon')
    methods = [request.method for request in twin.sent()]
    assert methods == ['GET', 'PUT', 'GET', 'GET']
    put = twin.sent()[1]
    assert json.loads(put.body) == {'tags': ['a', 'b']}
    assert put.headers['if-match'] == '"v1"'


async def test_authorize(twin):
    res = twin.Resource(URL)
    twin.mock('POST', URL + 'token', json={'access_token': 'abc', 'token_type': 'bearer', 'expires_in': 60})
    twin.mock('GET', URL + 'me', json={'me': True})
    token = await twin(res.authorize('token', data={'grant_type': 'client_credentials'}))
    assert token['access_token'] == 'abc'
    assert res.headers['Authorization'] == 'Bearer abc'
    await twin(res.me.get())
    post, get = twin.sent()
    assert post.body == b'grant_type=client_credentials'
    assert get.headers['authorization'] == 'Bearer abc'


async def test_authorize_failure_keeps_previous_header(twin):
    res = twin.Resource(URL, headers={'Authorization': 'Bearer old'})
    twin.mock('GET', URL + 'token', status=401, json={'error': 'invalid_client'})
    twin.mock('GET', URL + 'bad', json={'access_token': 'x\r\nInjected: 1'})
    with pytest.raises(clients.HTTPError, match='invalid_client'):
        await twin(res.authorize('token'))
    with pytest.raises(clients.TokenError, match='line break'):
        await twin(res.authorize('bad'))
    assert res.headers['Authorization'] == 'Bearer old'
    assert [request.method for request in twin.sent()] == ['GET', 'GET']


async def test_singleton(twin):
    @clients.singleton(URL, headers={'X': '1'})
    class api(twin.Resource):
        pass

    assert isinstance(api, twin.Resource)
    assert api.url == URL
    twin.mock('GET', URL + 'x', json=1)
    assert await twin(api.x.get()) == 1


async def test_streamed_error_message_reads_a_bounded_prefix(twin):
    twin.mock('GET', URL + 'big', status=500, body=b'e' * 300_000, headers={'Content-Type': 'text/plain'})
    with pytest.raises(clients.HTTPError, match=r'500 Internal Server Error: e{200}$'):
        await twin.list(twin.Resource(URL).iter('big'))


async def test_undecodable_stream(twin):
    twin.mock('GET', URL + 'zipped', body=b'not gzip at all', headers={'Content-Encoding': 'gzip'})
    error = requests.exceptions.ContentDecodingError if twin.name == 'sync' else httpx.DecodingError
    with pytest.raises(error):
        await twin.list(twin.Resource(URL).iter('zipped'))

