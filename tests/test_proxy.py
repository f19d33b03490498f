"""Proxy and AsyncProxy with mocks: choice, counts, derived views, composition."""

import contextlib

import pytest

import clients

A, B = 'http://a.test/api/', 'http://b.test/api/'


async def test_requests_spread_over_hosts(twin):
    proxy = twin.Proxy(A, 'http://b.test/api')
    assert list(proxy.urls) == [A, B]
    assert repr(proxy) == f'{twin.Proxy.__name__}({A} {B}... )'
    twin.mock('GET', A + 'x', json={})
    twin.mock('GET', B + 'x', json={})
    for _ in range(40):
        assert (await twin(proxy.get('x'))).status_code == 200
    hosts = {request.url for request in twin.sent()}
    assert hosts == {A + 'x', B + 'x'}
    assert all(stats['connections'] == stats['failures'] == 0 for stats in proxy.urls.values())
    assert sum(stats['requests'] for stats in proxy.urls.values()) == 40


async def test_failures_and_errors_open_circuits(twin):
    proxy = twin.Proxy(A, B, retry=clients.Retry(attempts=2))
    twin.mock('GET', A + 'x', status=503)
    twin.mock('GET', B + 'x', error='connect')
    for _ in range(3):  # each GET tries both hosts, and ends with A's 503 (returned) or B's error
        with contextlib.suppress(clients.AllHostsDown):
            assert (await twin(proxy.get('x'))).status_code == 503
    assert proxy.urls[A]['failures'] == proxy.urls[B]['errors'] == 3
    assert proxy.urls[A]['connections'] == proxy.urls[B]['connections'] == 0
    assert proxy.urls[A].state(now=proxy._now()) == proxy.urls[B].state(now=proxy._now()) == 'open'
    with pytest.raises(clients.AllHostsDown, match=r'all hosts are down for GET: .*status 503.*Connect') as info:
        await twin(proxy.get('x'))
    assert info.value.attempts == 2
    assert len(twin.sent()) == 6  # nothing more was sent


async def test_derived_proxy_shares_counts(twin):
    proxy = twin.Proxy(A, B)
    child = proxy / 'v2'
    assert list(child.urls) == [A + 'v2/', B + 'v2/']
    assert child.urls[A + 'v2/'] is proxy.urls[A]
    twin.mock('GET', A + 'v2/x', status=500)
    twin.mock('GET', B + 'v2/x', status=500)
    await twin(child.get('x'))
    assert sum(stats['failures'] for stats in proxy.urls.values()) == 1


async def test_proxy_resource_composition(twin):
    class Api(twin.Proxy, twin.Resource):
        pass

    api = Api(A, B, retry=None)
    twin.mock('GET', A + 'items/1', json={'id': 1})
    twin.mock('GET', B + 'items/1', json={'id': 1})
    twin.mock('GET', A + 'items/2', status=502, json={'message': 'bad gateway'})
    twin.mock('GET', B + 'items/2', status=502, json={'message': 'bad gateway'})
    assert await twin(api.items[1]) == {'id': 1}
    with pytest.raises(clients.HTTPError, match='bad gateway'):
        await twin(api.items[2])
    assert sum(stats['failures'] for stats in api.urls.values()) == 1
    assert isinstance(api.items, Api)
    plain = api.client
    assert type(plain) is twin.Proxy
    assert list(plain.urls) == list(api.urls)


async def test_each_host_is_its_own_origin(twin):
    proxy = twin.Proxy(A, B, headers={'Authorization': 'Bearer t'})
    twin.mock('GET', B + 'x', json={})
    twin.mock('GET', 'http://c.test/x', json={})
    await twin(proxy.get(B + 'x'))
    await twin(proxy.get('http://c.test/x'))
    to_b, to_c = twin.sent()
    assert to_b.headers['authorization'] == 'Bearer t'
    assert 'authorization' not in to_c.headers


async def test_a_1_3_stats_subclass_sees_every_count(twin):
    class Recorded(twin.Proxy.Stats):
        def add(self, **counts):
            seen.append(counts)
            super().add(**counts)

    seen = []
    recorded = type('Recorded', (twin.Proxy,), {'Stats': Recorded})
    proxy, gone = recorded(A, retry=None), recorded(B, retry=None)
    twin.mock('GET', A + 'ok', json={})
    twin.mock('GET', A + 'down', status=503)
    twin.mock('GET', B + 'x', error='connect')
    await twin(proxy.get('ok'))
    await twin(proxy.get('down'))
    with pytest.raises(clients.AllHostsDown):  # its one host failed
        await twin(gone.get('x'))
    assert seen == [
        {'requests': 1, 'connections': 1}, {'connections': -1},
        {'requests': 1, 'connections': 1}, {'failures': 1}, {'connections': -1},
        {'requests': 1, 'connections': 1}, {'errors': 1}, {'connections': -1},
    ]
    assert dict(proxy.urls[A]) == {'requests': 2, 'connections': 0, 'failures': 1}
    assert dict(gone.urls[B]) == {'requests': 1, 'connections': 0, 'errors': 1}


def test_proxy_needs_urls():
    with pytest.raises(ValueError, match='at least one base URL'):
        clients.Proxy()
    with pytest.raises(clients.InvalidURL):
        clients.AsyncProxy('nohost')
