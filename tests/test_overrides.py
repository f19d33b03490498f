"""1.3's extension point `request`: every request of every flow passes through it, in both shells."""

from __future__ import annotations

import io
from typing import Any

import pytest

import clients
from tests import auth_server
from tests.conftest import URL

HOOK = 'http://hooks.test/in'
OTHER = 'http://b.test/v1/'
NDJSON = {'Content-Type': 'application/x-ndjson'}


def recording(twin: Any, kind: str) -> tuple[type, list[tuple[str, str]]]:
    """Return a subclass of `kind` whose 1.3-style `request` override records each call, and the record."""
    calls: list[tuple[str, str]] = []
    base = getattr(twin, kind)
    if twin.name == 'async':
        class Recording(base):  # type: ignore[valid-type, misc]
            async def request(self, method, path, **kwargs):
                calls.append((method, self._url(path)))
                return await super().request(method, path, **kwargs)
    else:
        class Recording(base):  # type: ignore[valid-type, misc, no-redef]
            def request(self, method, path, **kwargs):
                calls.append((method, self._url(path)))
                return super().request(method, path, **kwargs)
    return Recording, calls


async def stream(twin: Any, client: Any, path: str) -> bytes:
    """Read a streamed GET through `streaming` (sync) or `stream` (async)."""
    if twin.name == 'async':
        async with client.stream('GET', path) as response:
            return bytes(await response.aread())
    with client.streaming('GET', path) as response:
        return bytes(response.content)


async def client_flows(twin: Any, client: Any) -> None:
    await twin(client.get('items'))
    await twin(client.post('items', json={'n': 1}))
    await twin(client.head('items'))
    await twin(client.request('GET', 'items', params={'q': 1}))
    assert await stream(twin, client, 'items') == b'[1, 2]'
    await twin(client.webhook(HOOK, {'event': 'x'}, 'secret'))


async def resource_flows(twin: Any, client: Any) -> None:
    await client_flows(twin, client)
    assert await twin(client['items']) == [1, 2]
    assert await twin(client.items(q=1)) == [1, 2]
    assert await twin(client.items()) == [1, 2]
    assert await twin(client.exists('items'))
    assert await twin.list(client.iter('lines')) == [1, 2]
    assert await twin.list(client.pages('pages')) == [[1], [2]]
    assert await twin.list(client.each('pages')) == [1, 2]
    assert (await twin(client.download(io.BytesIO(), 'lines'))).getvalue() == b'1\n2\n'
    assert await twin(client.create('items', {'n': 1})) == URL + 'items/3'
    await twin(client.update('doc', n=2))
    await twin(client.update('doc', lambda doc, **json: dict(doc, **json), n=2))
    if twin.name == 'async':
        async with client.updating('doc') as doc:
            doc['n'] = 3
    else:
        with client.updating('doc') as doc:
            doc['n'] = 3
    assert await twin(client.authorize('token', json={'grant': 1})) == {'access_token': 't', 'token_type': 'Bearer'}
    if twin.name == 'sync':
        client['doc'] = {'n': 4}
        del client['doc']
        assert 'items' in client


async def remote_flows(twin: Any, client: Any) -> None:
    await client_flows(twin, client)
    assert await twin(client('call', n=1)) == {'ok': True}


async def graph_flows(twin: Any, client: Any) -> None:
    await client_flows(twin, client)
    assert await twin(client.execute('{ n }')) == {'n': 1}


async def jsonrpc_flows(twin: Any, client: Any) -> None:
    await client_flows(twin, client)
    assert await twin(client.invoke('add', [1, 2])) == 3  # id 1
    await twin((client / 'notify').notify('ping'))
    assert await twin((client / 'batch').batch(clients.jsonrpc.call('add', 1, 2))) == [3]  # id 2


FLOWS = {'Client': client_flows, 'Resource': resource_flows, 'Remote': remote_flows, 'Graph': graph_flows,
         'JsonRpc': jsonrpc_flows, 'Proxy': client_flows}


def answers(twin: Any, kind: str) -> None:
    """Mock every URL the flows of `kind` reach."""
    for base in (URL, OTHER):
        twin.mock('GET', base + 'items', json=[1, 2])
        twin.mock('GET', base + 'items?q=1', json=[1, 2])
        twin.mock('POST', base + 'items', status=201, json={'n': 1}, headers={'Location': URL + 'items/3'})
        twin.mock('HEAD', base + 'items')
    twin.mock('POST', HOOK, status=204)
    twin.mock('GET', URL + 'lines', body=b'1\n2\n', headers=NDJSON)
    twin.mock('GET', URL + 'pages', json=[1], headers={'Link': f'<{URL}pages2>; rel="next"'})
    twin.mock('GET', URL + 'pages2', json=[2])
    for method in ('GET', 'PUT', 'PATCH', 'DELETE'):
        twin.mock(method, URL + 'doc', json={'n': 1}, headers={'ETag': '"v1"'})
    twin.mock('POST', URL + 'token', json={'access_token': 't', 'token_type': 'Bearer'})
    twin.mock('POST', URL + 'call', json={'ok': True})
    if kind == 'Graph':
        twin.mock('POST', URL[:-1], json={'data': {'n': 1}})
    if kind == 'JsonRpc':
        twin.mock('POST', URL[:-1], json={'jsonrpc': '2.0', 'result': 3, 'id': 1})
        twin.mock('POST', URL + 'notify', status=204)
        twin.mock('POST', URL + 'batch', json=[{'jsonrpc': '2.0', 'result': 3, 'id': 2}])


@pytest.mark.parametrize('kind', list(FLOWS))
async def test_an_override_of_request_sees_every_request_of_every_flow(twin, kind):
    answers(twin, kind)
    cls, calls = recording(twin, kind)
    client = cls(URL, OTHER) if kind == 'Proxy' else cls(URL)
    await FLOWS[kind](twin, client)
    sent = [(request.method, request.url.partition('?')[0]) for request in twin.sent()]
    assert len(calls) == len(sent) > 5
    if kind == 'Proxy':  # the override sees the path; the proxy then picks a host
        assert [method for method, _ in calls] == [method for method, _ in sent]
    else:
        assert calls == sent
    await twin.close(client)


@pytest.mark.parametrize('kind', ['json', 'bytes'])
async def test_an_override_of_request_sees_the_oauth2_replay_after_a_401(twin, fresh, kind):
    """OAuth2 renews its token after a 401 and the client sends the request again, through `request`."""
    body = {'json': {'n': 1}} if kind == 'json' else {'content' if twin.name == 'async' else 'data': b'raw'}
    state = auth_server.oauth_state(fresh)
    cls, calls = recording(twin, 'Resource')
    api = cls(fresh.url + 'oauth', auth=clients.OAuth2(fresh.url + 'oauth/token', 'id', 'secret'))
    assert await twin(api.protected.get()) == {'token': 't1'}
    state['current'] = 'revoked'
    assert await twin(api.protected.post(**body)) == {'token': 't2'}
    protected = fresh.url + 'oauth/protected'
    assert calls == [('GET', protected), ('POST', protected), ('POST', protected)]
    assert state['issued'] == 2  # (the token client is another client: its requests are its own)
    await twin.close(api)
