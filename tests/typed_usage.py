"""Typed usage of the public API, checked by `mypy --strict` in CI; pytest never runs it.

Each `assert_type` pins what a public signature gives a caller. Each `# type: ignore[code]`
pins a misuse that must stay a type error: with `warn_unused_ignores`, mypy fails if the
misuse ever type-checks.
"""

from __future__ import annotations

import io
import pathlib
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, assert_type

import requests

import clients
from clients import httpx, jsonrpc

URL = 'http://127.0.0.1:8080/'


class GitHub(clients.Resource):
    """A user's subclass: navigation, `/` and `with_*` keep it."""


class AsyncGitHub(clients.AsyncResource):
    """The async twin of a user's subclass."""


def sync_clients() -> None:
    client = clients.Client(URL, trailing='/', headers={'Accept': 'application/json'}, timeout=(3.0, 10.0))
    assert_type(client.get('items', params={'page': 2}), requests.Response)
    assert_type(client.post('items', json={'name': 'x'}), requests.Response)
    assert_type(client.head(), requests.Response)
    assert_type(client.request('PATCH', 'items/1', json={}), requests.Response)
    assert_type(client / 'v2', clients.Client)
    assert_type(client.with_headers({'X-Trace': '1'}).with_params(page=2).with_timeout(5.0), clients.Client)
    assert_type(client.with_headers([('X-Trace', '1')]), clients.Client)
    with client.streaming('GET', 'big') as response:
        assert_type(response, requests.Response)
    assert_type(client.webhook(URL, {'event': 'ping'}, 'secret'), requests.Response)
    assert_type(clients.Client(URL, allow_redirects=False).follow_redirects, bool)
    client.with_timeout('5')  # type: ignore[arg-type]
    client.with_headers(42)  # type: ignore[arg-type]
    # Every setting has its view; each keeps the class.
    assert_type(client.with_cookies({'session': 'x'}, tenant='a').with_cookies([('b', '2')]), clients.Client)
    assert_type(client.with_auth(clients.Bearer('token')).with_auth(('user', 'password')).with_auth(None),
                clients.Client)
    assert_type(client.with_retry(clients.Retry(attempts=5)).with_retry(None), clients.Client)
    assert_type(client.with_rate(10).with_rate(clients.RateLimit(5, burst=2)).with_rate(None), clients.Client)
    assert_type(client.with_deadline(30.0).with_deadline(None), clients.Client)
    client.with_cookies({'n': 1})  # type: ignore[arg-type]
    client.with_auth('token')  # type: ignore[arg-type]
    client.with_retry(3)  # type: ignore[arg-type]
    client.with_rate('fast')  # type: ignore[arg-type]
    client.with_deadline('30')  # type: ignore[arg-type]


def sync_resources(folder: pathlib.Path) -> None:
    api = clients.Resource(URL, auth=clients.Bearer('token'), retry=clients.Retry(attempts=5))
    assert_type(api.get('items'), Any)
    assert_type(api.user.repos, clients.Resource)
    assert_type(api.user.repos(visibility='public'), Any)
    assert_type(api['items'], Any)
    assert_type(api / 'v2', clients.Resource)
    assert_type(api.client, clients.Client)
    assert_type(api.client.get(), requests.Response)
    assert_type(api.content_type(api.client.get()), str)
    assert_type(api.exists('items/1'), bool)
    assert_type('items/1' in api, bool)
    assert_type(api.create('items', json={'name': 'x'}), str | None)
    assert_type(api.iter('events'), Iterator[Any])
    assert_type(api.iter('video', chunk_size=1 << 20), Iterator[Any])
    api.iter('video', chunk_size='1 MiB')  # type: ignore[arg-type]
    assert_type(api.pages('items', per_page=100), Iterator[Any])
    assert_type(api.each('items', max_items=10), Iterator[Any])
    with api.updating('items/1') as item:
        assert_type(item, Any)
    # A download returns what it was given: the path, or the file object.
    assert_type(api.download('out.bin', 'file'), str)
    assert_type(api.download(folder / 'out.bin', 'file'), pathlib.Path)
    assert_type(api.download(io.BytesIO(), 'file'), io.BytesIO)
    api.download(42, 'file')  # type: ignore[type-var]

    github = GitHub(URL)
    assert_type(github.user.repos, GitHub)
    assert_type(github / 'orgs', GitHub)
    assert_type(github.with_params(per_page=100), GitHub)
    assert_type(github.with_auth(clients.ApiKey('key')).with_cookies(a='1').with_rate(1).with_retry(None), GitHub)
    assert_type(github.with_deadline(5), GitHub)
    # mypy keeps a class decorated with @singleton typed as the class; calling it types the instance.
    shared = clients.singleton(URL)(GitHub)
    assert_type(shared, GitHub)


def sync_protocols() -> None:
    remote = clients.Remote(URL, json={'key': 'x'})
    assert_type(remote('search', q='python'), Any)
    graph = clients.Graph(URL)
    assert_type(graph.execute('query { viewer { login } }', operation_name=None, first=10), Any)
    assert_type(clients.Graph.check({'data': {}}), Any)
    assert_type(remote.client, clients.Client)
    assert_type(graph.client, clients.Client)
    rpc = clients.JsonRpc(URL)
    assert_type(rpc.math.add, jsonrpc.Method[Any])
    assert_type(rpc.math.add(1, 2), Any)
    assert_type(rpc['system.describe'](), Any)
    assert_type(rpc.invoke('subtract', [42, 23]), Any)
    assert_type(rpc.notify('log', 'hello'), None)
    assert_type(rpc.batch(jsonrpc.call('add', 1, 2), jsonrpc.notification('log', 'x')), list[Any])
    proxy = clients.Proxy(URL, 'http://127.0.0.1:8081/', retry=clients.Retry(attempts=2))
    assert_type(proxy.get('items'), requests.Response)
    assert_type(proxy / 'v2', clients.Proxy)


def errors() -> None:
    try:
        clients.Resource(URL).get('missing')
    except clients.HTTPError as exc:
        assert_type(exc.status_code, int)
        assert_type(exc.method, str)
        assert_type(exc.url, str)
    except clients.GraphQLError as exc:
        assert_type(exc.errors, list[Any])
    except clients.AllHostsDown as exc:
        assert_type(exc.failures, dict[str, str])
    clients.Retry(attempts='3')  # type: ignore[arg-type]


async def async_clients() -> None:
    async with clients.AsyncClient(URL, timeout=httpx.Timeout(5.0), transport='httpx') as client:
        pending = client.get('items')
        _ = assert_type(pending, Coroutine[Any, Any, httpx.Response])  # (assigned: a coroutine must be used)
        assert_type(await pending, httpx.Response)
        assert_type(await client.delete('items/1'), httpx.Response)
        assert_type(client / 'v2', clients.AsyncClient)
        assert_type(client.with_timeout((1.0, 5.0)).with_params(page=1).with_headers(x='1'), clients.AsyncClient)
        assert_type(client.with_cookies(tenant='a').with_auth(httpx.BasicAuth('u', 'p')).with_auth(None),
                    clients.AsyncClient)
        assert_type(client.with_retry(None).with_rate(2.5).with_deadline(None), clients.AsyncClient)
        client.with_auth('token')  # type: ignore[arg-type]
        async with client.stream('GET', 'big') as response:
            assert_type(response, httpx.Response)
        assert_type(await client.webhook(URL, {'event': 'ping'}, 'secret'), httpx.Response)
        await client.get('items').status_code  # type: ignore[attr-defined]


async def async_resources(folder: pathlib.Path) -> None:
    api = clients.AsyncResource(URL, auth=clients.OAuth2(URL + 'token', 'id', 'secret',
                                                         token_endpoint_auth_method='client_secret_post'))
    assert_type(await api.get('items'), Any)
    assert_type(api.user.repos, clients.AsyncResource)
    assert_type(await api.user.repos(visibility='public'), Any)
    assert_type(await api['items'], Any)
    assert_type(api.client, clients.AsyncClient)
    assert_type(await api.exists('items/1'), bool)
    assert_type(await api.create('items', json={}), str | None)
    assert_type(api.iter('events'), AsyncIterator[Any])
    assert_type(api.iter('video', chunk_size=1 << 20), AsyncIterator[Any])
    assert_type(api.pages('items'), AsyncIterator[Any])
    assert_type(api.each('items'), AsyncIterator[Any])
    async with api.updating('items/1') as item:
        assert_type(item, Any)
    assert_type(await api.download(folder / 'out.bin', 'file'), pathlib.Path)
    assert_type(await api.download(io.BytesIO(), 'file'), io.BytesIO)
    await api.download(None, 'file')  # type: ignore[type-var]

    github = AsyncGitHub(URL)
    assert_type(github.user.repos, AsyncGitHub)
    assert_type(github / 'orgs', AsyncGitHub)
    assert_type(github.with_auth(clients.Bearer('t')).with_cookies({'a': '1'}).with_rate(None), AsyncGitHub)


async def async_protocols() -> None:
    assert_type(await clients.AsyncRemote(URL)('search', q='python'), Any)
    assert_type(await clients.AsyncGraph(URL).execute('{ viewer { login } }'), Any)
    assert_type(clients.AsyncGraph(URL).client, clients.AsyncClient)
    assert_type(clients.AsyncJsonRpc(URL).client, clients.AsyncClient)
    rpc = clients.AsyncJsonRpc(URL)
    assert_type(await rpc.invoke('subtract', [42, 23]), Any)
    assert_type(await rpc.math.add(1, 2), Any)
    assert_type(rpc.math.add, jsonrpc.Method[Coroutine[Any, Any, Any]])
    assert_type(await rpc.batch(jsonrpc.call('add', 1, 2)), list[Any])
    proxy = clients.AsyncProxy(URL, 'http://127.0.0.1:8081/')
    assert_type(await proxy.get('items'), httpx.Response)
    assert_type(proxy / 'v2', clients.AsyncProxy)
