"""The async connection pool stays usable however the requests waiting for it end."""

import asyncio
import contextlib
import random

import pytest

import clients
from clients import httpx
from clients.library import httpcore

LIMITS = httpx.Limits(max_connections=1)
TIMEOUT = httpx.Timeout(5, pool=1)


@pytest.mark.parametrize('via', ['direct', 'proxy', 'shared transport'])
async def test_a_request_cancelled_as_it_is_handed_a_connection_gives_it_back(fresh, async_transport, via):
    options = {'limits': LIMITS, 'timeout': TIMEOUT, 'retry': clients.Retry(1)}
    if via == 'proxy':  # the test server answers a forward proxy's absolute-form requests as its own
        options['proxy'] = fresh.url
    if via == 'shared transport':  # a transport of the caller's, which another client uses too
        options['transport'] = httpx.AsyncHTTPTransport(limits=LIMITS)
        clients.AsyncClient(fresh.url, **options)
    async with clients.AsyncClient(fresh.url, **options) as client:
        # a body too long to come with the head holds the only connection, which closes after it
        async with client.stream('GET', 'close', params={'size': 1 << 20}):
            waiter = asyncio.create_task(client.get('echo'))
            await asyncio.sleep(0.1)  # the waiter queues for the connection
        waiter.cancel()  # the pool has just handed it a new connection, which it never opens
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert (await client.get('echo')).status_code == 200
    assert fresh.requests[-1][1] == (fresh.url + 'echo' if via == 'proxy' else '/echo')


async def test_bursts_of_pool_timeouts_and_cancellations_leave_the_pool_serving(fresh, async_transport):
    rng = random.Random(12)

    async def one(client):
        # each answer closes its connection, so the pool keeps handing waiters new ones
        with contextlib.suppress(httpx.TimeoutException, TimeoutError):
            await asyncio.wait_for(client.get('close', timeout=httpx.Timeout(5, pool=0.05)), rng.uniform(0, 0.1))

    async with clients.AsyncClient(fresh.url, limits=LIMITS, timeout=TIMEOUT, retry=clients.Retry(1)) as client:
        for _ in range(3):
            await asyncio.gather(*(one(client) for _ in range(200)))
        assert (await client.get('echo')).status_code == 200


async def test_a_connection_opened_for_a_request_that_then_ended_is_closed_and_its_slot_given_back(fresh):
    # a request cancelled after connecting but before httpcore marks the connection active leaves
    # an open HTTP/1.1 connection in the pool that no request holds: neither idle nor closed
    async with clients.AsyncClient(fresh.url, limits=LIMITS, timeout=TIMEOUT, transport='httpx') as client:
        pool = client._transport._pool
        request = httpcore.Request('GET', fresh.url, extensions={'timeout': {}})
        orphan = pool.create_connection(request.url.origin)
        orphan._connection = httpcore.AsyncHTTP11Connection(request.url.origin, await orphan._connect(request))
        pool._connections.append(orphan)
        assert (await client.get('echo')).status_code == 200
        assert orphan.is_closed()
    assert fresh.connections == 2
