"""Remote and AsyncRemote with mocks (Graph is in test_graphql.py)."""

import json

import pytest

import clients
from tests.conftest import URL


async def test_remote_merges_defaults(twin):
    remote = twin.Remote(URL, json={'jsonrpc': '2.0', 'id': 0})
    twin.mock('POST', URL + 'rpc', json={'result': 5})
    assert await twin(remote('rpc', method='add', params=[2, 3])) == {'result': 5}
    assert json.loads(twin.sent()[0].body) == {'jsonrpc': '2.0', 'id': 0, 'method': 'add', 'params': [2, 3]}
    assert remote.json == {'jsonrpc': '2.0', 'id': 0}


async def test_remote_navigation_keeps_a_copy_of_the_defaults(twin):
    remote = twin.Remote(URL, json={'token': 't'})
    method = remote.math.add
    assert isinstance(method, twin.Remote)
    assert method.url == URL + 'math/add/'
    method.json['extra'] = 1
    assert remote.json == {'token': 't'}
    twin.mock('POST', URL + 'math/add', json=3)
    assert await twin(method(a=1, b=2)) == 3
    assert json.loads(twin.sent()[0].body) == {'token': 't', 'extra': 1, 'a': 1, 'b': 2}
    with pytest.raises(AttributeError):
        remote._private  # noqa: B018


async def test_remote_check_hook(twin):
    class Checked(twin.Remote):
        @staticmethod
        def check(result):
            if 'error' in result:
                raise ValueError(result['error'])
            return result['result']

    twin.mock('POST', URL + 'ok', json={'result': 1})
    twin.mock('POST', URL + 'bad', json={'error': 'nope'})
    remote = Checked(URL)
    assert await twin(remote.ok()) == 1
    with pytest.raises(ValueError, match='nope'):
        await twin(remote.bad())


async def test_remote_status_error(twin):
    twin.mock('POST', URL.rstrip('/'), status=500, json={'message': 'crashed'})
    with pytest.raises(clients.HTTPError, match=r'POST http://api.test/v1 returned 500 Internal Server Error: crashed'):
        await twin(twin.Remote(URL)())

