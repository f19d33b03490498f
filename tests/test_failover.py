"""Proxy failover and health through both shells, against real local servers, on a fake clock."""

import asyncio
import concurrent.futures
import io
import uuid

import pytest
import requests

import clients
from clients import Retry, httpx
from tests.server import Server
from tests.test_resilience import closed_port, flaky


def dead():
    return f'http://127.0.0.1:{closed_port()}/'


async def test_get_fails_over_to_a_live_host_at_once(twin, server, clock):
    down = dead()
    proxy = twin.Proxy(down, server.url, retry=Retry(clock=clock))
    stats = proxy.urls[down]
    for tried in range(1, 4):  # one request finds the host down; then it is avoided for a cool-down
        for _ in range(60):
            assert (await twin(proxy.get('echo'))).status_code == 200
        assert stats['errors'] == stats['requests'] == tried
        assert stats.recent(now=clock.now())
        clock.sleep(stats.cooldown if tried < 3 else 0)
    assert clock.sleeps == [stats.cooldown] * 2  # another host needs no backoff
    assert stats.state(now=clock.now()) == 'open'  # three failures in a row opened its circuit
    assert proxy.urls[server.url]['requests'] == 180
    assert all(stats['connections'] == 0 for stats in proxy.urls.values())
    await twin.close(proxy)


async def test_retryable_status_fails_over(twin, server, other, clock):
    proxy = twin.Proxy(server.url, other.url, retry=Retry(clock=clock))
    ok = str(other.server_address[1])
    for _ in range(10):
        assert (await twin(proxy.get('healthy', params={'ports': ok}))).json()['port'] == int(ok)
    assert clock.sleeps == []
    await twin.close(proxy)


async def test_post_fails_over_only_when_nothing_was_sent_or_opted_in(twin, server, other, clock):
    proxy = twin.Proxy(server.url, other.url, retry=Retry(clock=clock))
    ok = str(other.server_address[1])
    statuses = [(await twin(proxy.post('healthy', params={'ports': ok}))).status_code for _ in range(20)]
    assert set(statuses) == {200, 503}  # a POST answered 503 is not sent again
    keyed = [(await twin(proxy.post('healthy', params={'ports': ok}, headers={'Idempotency-Key': str(n)})))
             for n in range(10)]
    assert {response.status_code for response in keyed} == {200}
    await twin.close(proxy)
    down = dead()
    proxy = twin.Proxy(down, server.url, retry=Retry(clock=clock))
    for _ in range(60):  # connect errors: nothing was sent, so even a POST goes elsewhere
        assert (await twin(proxy.post('echo', {'a': 1}))).status_code == 200
    assert proxy.urls[down]['errors'] == 1  # then it is avoided
    await twin.close(proxy)


async def test_all_hosts_down_names_every_host(twin, clock):
    first, second = dead(), dead()
    proxy = twin.Proxy(first, second, retry=Retry(backoff=0.01, clock=clock))
    with pytest.raises(clients.AllHostsDown) as info:
        await twin(proxy.get('x'))
    error = info.value
    assert error.attempts == 3
    assert set(error.failures) == {first, second}
    assert all('Connect' in failure or 'refused' in failure for failure in error.failures.values())
    assert str(error).startswith(f'all hosts are down for GET: {first} (')
    assert second in str(error)
    assert '(after 3 attempts)' in str(error)
    assert isinstance(error.__cause__, requests.ConnectionError if twin.name == 'sync' else httpx.ConnectError)
    for _ in range(5):  # each circuit opens after 3 failures; then nothing is sent until a cool-down ends
        with pytest.raises(clients.AllHostsDown):
            await twin(proxy.get('x'))
    assert [stats['requests'] for stats in proxy.urls.values()] == [3, 3]
    assert clock.sleeps  # with every circuit open, a request backs off within its policy
    await twin.close(proxy)


async def test_a_recovered_host_gets_traffic_again(twin, server, clock):
    flaky_host = Server()
    flaky_host.__enter__()
    port = flaky_host.server_address[1]
    proxy = twin.Proxy(server.url, flaky_host.url, retry=Retry(clock=clock))
    flaky_host.stop()
    stats = proxy.urls[flaky_host.url]
    for tried in range(3):  # a failed host is avoided for a cool-down, then tried again
        clock.sleep(stats.cooldown if tried else 0)
        for _ in range(60):
            assert (await twin(proxy.get('echo'))).json()['port'] == server.server_address[1]
    assert stats.state(now=clock.now()) == 'open'
    with Server(port) as restarted:
        clock.sleep(stats.wait)  # the cool-down passes: one probe may go, and succeeds
        ports = [(await twin(proxy.get('echo'))).json()['port'] for _ in range(40)]
        assert port in ports
        assert stats.state(now=clock.now()) == 'closed'
        assert restarted.hits == {}
        assert len(restarted.requests) == ports.count(port)
    await twin.close(proxy)


async def test_a_host_that_fails_is_avoided_then_shares_again(twin, server, other, clock):
    proxy = twin.Proxy(server.url, other.url, retry=Retry(clock=clock))
    hosts = (server, other)

    async def spread(*healthy):
        """Send 40 GETs answered 503 by all but the `healthy` servers; count what each server saw."""
        tag = uuid.uuid4().hex
        ports = ','.join(str(host.server_address[1]) for host in healthy)
        for _ in range(40):
            assert (await twin(proxy.get('healthy', params={'ports': ports, 'tag': tag}))).status_code == 200
        return [sum(tag in path for _, path, _ in host.requests) for host in hosts]

    shares = await spread(server, other)
    assert sum(shares) == 40
    assert min(shares) > 5
    assert await spread(other) == [1, 40]  # server's 503 was retried on other at once, and server got no more
    stats = proxy.urls[server.url]
    assert (stats.state(), stats.recent()) == ('closed', True)
    clock.sleep(stats.cooldown)  # the failure fades: server gets its share again, and fails once more
    assert await spread(other) == [1, 40]
    clock.sleep(stats.cooldown)
    shares = await spread(server, other)  # recovered
    assert sum(shares) == 40
    assert min(shares) > 5
    assert clock.sleeps == [stats.cooldown] * 2  # no backoff: a healthy host was always there
    await twin.close(proxy)


async def test_connection_counts_are_exact_under_concurrency(twin, server, other):
    proxy = twin.Proxy(server.url, other.url)

    async def one(n):
        if n % 3 == 0:  # a streamed response closed after its first chunk
            if twin.name == 'async':
                async with proxy.stream('GET', 'bytes/1000000') as response:
                    async for _ in response.aiter_bytes():
                        break
            else:
                with proxy.streaming('GET', 'bytes/1000000') as response:
                    next(response.iter_content(1024))
        elif n % 3 == 1:
            await twin(proxy.get('flaky', params=flaky(1, status='429')))  # retried, not a host failure
        else:
            await twin(proxy.get('echo'))

    if twin.name == 'async':
        await asyncio.gather(*(one(n) for n in range(60)))
    else:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for future in [pool.submit(asyncio.run, one(n)) for n in range(60)]:
                future.result()
    assert [stats['connections'] for stats in proxy.urls.values()] == [0, 0]
    # 80 attempts at least (the flaky ones twice), more if the busy servers refused a connection
    assert sum(stats['requests'] for stats in proxy.urls.values()) >= 80
    await twin.close(proxy)


async def test_a_streamed_response_counts_until_closed(twin, server):
    proxy = twin.Proxy(server.url)
    stats = proxy.urls[server.url]
    if twin.name == 'async':
        response = await proxy.get('bytes/1000000', stream=True)
        assert stats['connections'] == 1
        await response.aclose()
        await response.aclose()
    else:
        response = proxy.get('bytes/1000000', stream=True)
        assert stats['connections'] == 1
        response.close()
        response.close()
    assert stats['connections'] == 0
    response = await twin(proxy.get('bytes/100000', stream=True))
    assert stats['connections'] == 1
    if twin.name == 'async':
        assert len(await response.aread()) == 100000
    else:
        assert len(response.content) == 100000
    assert stats['connections'] == 0  # read to the end: released without a close
    response = await twin(proxy.get('bytes/10'))
    assert stats['connections'] == 0
    await twin.close(proxy)


def test_a_streamed_response_without_a_urllib3_body_counts_until_closed():
    class Adapter(requests.adapters.BaseAdapter):
        def send(self, request, **kwargs):
            response = requests.Response()
            response.status_code, response.raw = 200, io.BytesIO(b'x')
            response.request, response.url = request, request.url
            return response

        def close(self):
            pass

    proxy = clients.Proxy('http://raw.test/')
    proxy.mount('http://raw.test/', Adapter())
    response = proxy.get('x', stream=True)
    assert proxy.urls['http://raw.test/']['connections'] == 1
    response.close()
    assert proxy.urls['http://raw.test/']['connections'] == 0


async def test_retried_streams_release_their_counts(twin, server, other, clock):
    proxy = twin.Proxy(server.url, other.url, retry=Retry(clock=clock))
    query = flaky(1)  # each server fails the key's first request: the third attempt succeeds
    if twin.name == 'async':
        async with proxy.stream('GET', 'flaky', params=query) as response:
            assert response.status_code == 200
            assert sum(stats['connections'] for stats in proxy.urls.values()) == 1
    else:
        with proxy.streaming('GET', 'flaky', params=query) as response:
            assert response.status_code == 200
            assert sum(stats['connections'] for stats in proxy.urls.values()) == 1
    assert [stats['connections'] for stats in proxy.urls.values()] == [0, 0]
    assert sum(stats['requests'] for stats in proxy.urls.values()) == 3
    last = await twin(proxy.get('flaky', params=flaky(9), stream=True))  # given up: the last answer, open
    assert (last.status_code, last.attempts) == (503, 3)
    assert sum(stats['connections'] for stats in proxy.urls.values()) == 1
    await twin(last.aclose() if twin.name == 'async' else last.close())
    assert [stats['connections'] for stats in proxy.urls.values()] == [0, 0]
    await twin.close(proxy)
