"""Rate limits and host health shared through a real redis-server: one process's view of the fleet.

Each `RedisStore` here stands for a process of its own (its own connections); tests/test_fleet.py
runs real processes.
"""

import asyncio
import contextlib
import itertools
import logging
import pickle
import signal
import time
import uuid

import pytest

import clients
from clients.hosts import Stats
from clients.retry import Plan, Retry
from clients.stores import Circuit, RedisStore
from tests.test_failover import dead


@pytest.fixture
def prefix():
    """A prefix of this test's own, so tests sharing the session's Redis never meet."""
    return f'test-{uuid.uuid4().hex}:'


@pytest.fixture
def store(redis_server, prefix):
    with_store = RedisStore(redis_server.url, prefix=prefix)
    yield with_store
    with_store.close()


@pytest.fixture
def fleet(redis_server, prefix):
    """Four stores on one Redis, as four processes would have."""
    made = [RedisStore(redis_server.url, prefix=prefix) for _ in range(4)]
    yield made
    for each in made:
        each.close()


def test_processes_share_one_bucket_whatever_their_clocks(fleet):
    first, second = (clients.RateLimit(2, burst=3, store=each, key='api') for each in fleet[:2])
    # the clocks the processes pass disagree wildly: only Redis' own time counts
    assert [first.reserve(10.0) for _ in range(3)] == pytest.approx([0, 0, 0], abs=0.05)
    assert second.reserve(1e9) == pytest.approx(0.5, abs=0.05)
    assert first.reserve(3.0) == pytest.approx(1.0, abs=0.05)
    other = clients.RateLimit(2, burst=3, store=fleet[2], key='another quota')
    assert other.reserve(0.0) == 0


def test_the_pause_a_server_asks_for_holds_every_process(fleet):
    watcher = clients.RateLimit(headers=True, store=fleet[0], key='api', wait_max=30)
    limited = clients.RateLimit(100, store=fleet[1], key='api')
    bare = clients.RateLimit(headers=True, store=fleet[2], key='api')
    watcher.observe(429, {'Retry-After': '5'}, 100.0, 1_700_000_000.0)
    assert watcher.reserve(100.0) == pytest.approx(5, abs=0.05)  # its own hold, at once
    assert fleet[0].flush()
    assert limited.reserve(0.0) == pytest.approx(5, abs=0.05)
    assert bare.reserve(7.0) == pytest.approx(5, abs=0.05)
    watcher.observe(429, {'Retry-After': '3600'}, 100.0, 1_700_000_000.0)  # at most wait_max
    assert fleet[0].flush()
    assert bare.reserve(0.0) == pytest.approx(30, abs=0.05)


def test_a_limit_with_nothing_to_share_never_asks_the_store(own_redis):
    store = RedisStore(own_redis.url)
    own_redis.stop()
    limit = clients.RateLimit(store=store, key='api')  # no rate, no headers
    assert limit.reserve(0.0) == 0
    limit.observe(429, {'Retry-After': '5'}, 0.0, 0.0)
    assert limit.reserve(0.0) == 0


def test_an_idle_bucket_expires(store, redis_server, prefix):
    limit = clients.RateLimit(10, burst=5, store=store, key='api')
    for _ in range(3):
        limit.reserve(0.0)
    ttl = store.client.pttl(prefix + 'rate:api')
    assert 1000 < ttl <= 1500 + 100  # refilled in 0.5 s, and a second more


def test_redis_going_away_falls_back_to_the_local_bucket_once_per_outage(own_redis, caplog):
    store = RedisStore(own_redis.url, timeout=0.25, retry=0.2)
    limit = clients.RateLimit(1, burst=2, store=store, key='api')
    assert [limit.reserve(0.0) for _ in range(3)] == pytest.approx([0, 0, 1], abs=0.05)  # shared
    own_redis.stop()
    caplog.set_level(logging.INFO, 'clients.stores')
    began = time.monotonic()
    waits = [limit.reserve(0.0) for _ in range(20)]
    assert time.monotonic() - began < 1  # no request waits on a dead server
    assert waits == [0, 0, *range(1, 19)]  # the local bucket: a limit, never none
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert 'is unreachable' in warnings[0].getMessage()
    own_redis.start()
    time.sleep(0.25)
    assert limit.reserve(0.0) == pytest.approx(0, abs=0.05)  # the shared (new, full) bucket again
    assert any('reachable again' in record.getMessage() for record in caplog.records)
    own_redis.stop()  # a second outage warns again
    limit.reserve(0.0)
    assert len([record for record in caplog.records if record.levelno == logging.WARNING]) == 2
    store.close()


def test_a_hung_redis_delays_a_request_by_its_timeout_at_most(own_redis):
    store = RedisStore(own_redis.url, timeout=0.2, retry=5)
    limit = clients.RateLimit(1, burst=1, store=store, key='api')
    assert limit.reserve(0.0) == pytest.approx(0, abs=0.05)
    own_redis.process.send_signal(signal.SIGSTOP)
    try:
        store.hold('api', 1.0)  # a write that waits on the hung server, in the writer thread
        assert not store.flush(0.05)
        began = time.monotonic()
        assert limit.reserve(0.0) == 0  # the local bucket, full
        assert time.monotonic() - began < 0.5
    finally:
        own_redis.process.send_signal(signal.SIGCONT)
    assert store.flush()
    store.close()


@pytest.mark.parametrize(('kwargs', 'error', 'message'), [
    ({'store': 'redis://127.0.0.1:1/0'}, ValueError, 'a RateLimit with a store needs key=, .* not None'),
    ({'store': 'redis://127.0.0.1:1/0', 'key': ''}, ValueError, 'needs key='),
    ({'store': 'redis://127.0.0.1:1/0', 'key': 5}, ValueError, 'needs key='),
    ({'store': 42, 'key': 'k'}, TypeError, 'store must be a clients.stores.Store, a redis:// URL or None, not int'),
    ({'store': 'http://user:secret@host/', 'key': 'k'}, ValueError, r"redis://.* not 'http://user:\*\*\*@host/'"),
])
def test_bad_store_options_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        clients.RateLimit(1, **kwargs)


@pytest.mark.parametrize(('kwargs', 'message'), [
    ({'timeout': 0}, 'timeout must be a finite number of seconds > 0, not 0'),
    ({'timeout': True}, 'timeout must be'),
    ({'retry': float('inf')}, 'retry must be a finite number of seconds > 0'),
    ({'retry': '1'}, 'retry must be'),
])
def test_bad_redis_store_options_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RedisStore('redis://127.0.0.1:1/0', **kwargs)


def test_a_store_never_shows_its_password_and_pickles_as_its_url(redis_server, prefix):
    store = RedisStore('redis://:s3cret@127.0.0.1:1/0', prefix=prefix)
    assert 's3cret' not in repr(store)
    limit = clients.RateLimit(2, store=store, key='api')
    assert 's3cret' not in repr(limit)
    assert "key='api'" in repr(limit)
    shared = clients.RateLimit(2, burst=1, store=redis_server.url, key='api')
    copy = pickle.loads(pickle.dumps(shared))
    assert isinstance(copy.store, RedisStore)
    assert copy.store.url == redis_server.url
    assert shared.reserve(0.0) == pytest.approx(0, abs=0.05)
    assert copy.reserve(0.0) == pytest.approx(0.5, abs=0.05)  # the same bucket
    shared.store.close()
    copy.store.close()


REAL = clients.Retry(clock=clients.retry.Clock())  # sleeps for real (the default clock's are recorded in tests)


async def test_a_shared_limit_paces_both_shells_together(twin, server, fleet):
    here = clients.RateLimit(20, burst=2, store=fleet[0], key='api')
    there = clients.RateLimit(20, burst=2, store=fleet[1], key='api')
    client = twin.Client(server.url, rate=here, retry=REAL)
    elsewhere = clients.Client(server.url, rate=there, retry=REAL)
    began = time.monotonic()
    for _ in range(4):
        assert (await twin(client.get('echo'))).status_code == 200
        assert elsewhere.get('echo').status_code == 200
    assert time.monotonic() - began == pytest.approx(6 / 20, abs=0.1)  # 8 GETs: 2 at once, then 1 each 1/20 s
    elsewhere.close()
    await twin.close(client)


async def test_an_async_shared_limit_never_blocks_the_loop(server, fleet):
    limit = clients.RateLimit(10, burst=1, store=fleet[0], key='api')
    ticks = []

    async def tick():
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    async with clients.AsyncClient(server.url, rate=limit, retry=REAL) as client:
        ticker = asyncio.create_task(tick())
        began = time.monotonic()
        await asyncio.gather(*(client.get('echo') for _ in range(4)))
        assert time.monotonic() - began == pytest.approx(0.3, abs=0.1)
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
    gaps = [later - earlier for earlier, later in itertools.pairwise(ticks)]
    assert max(gaps) < 0.1


# Host health


class Quick(Stats):
    threshold = 1
    cooldown = 1.0
    cooldown_max = 5.0


def proxies(twin, store_list, *hosts, cooldown=Quick.cooldown):
    made = []
    for each in store_list:
        proxy = twin.Proxy(*hosts, store=each)
        for stats in proxy.urls.values():  # as `Proxy.Stats = Quick` in a subclass would
            stats.threshold, stats.cooldown, stats.cooldown_max = Quick.threshold, cooldown, Quick.cooldown_max
        made.append(proxy)
    return made


async def test_a_circuit_one_process_opens_is_open_for_every_process(twin, server, fleet):
    down = dead()
    first, second = (twin.Proxy(down, server.url, store=each) for each in fleet[:2])
    for _ in range(3):
        first.answered(down, 503)  # three failures in a row open its circuit, in the store
    assert fleet[0].flush()
    for _ in range(20):
        assert (await twin(second.get('echo'))).status_code == 200
    assert second.urls[down]['requests'] == 0  # it never sent there
    assert second.urls[down].state() == 'open'
    assert second.urls[down].last_failure == 'status 503'
    first.answered(down, 200)  # an answer closes it for everyone
    assert fleet[0].flush()
    second._refresh()
    assert second.urls[down].state() == 'closed'
    assert second.urls[down].recent()  # the failure is still recent
    for proxy in (first, second):
        await twin.close(proxy)


async def test_one_probe_per_cooldown_across_the_fleet(twin, server, other, fleet):
    ok = {'ports': str(other.server_address[1])}  # `server` answers 503, `other` 200
    workers = proxies(twin, fleet, server.url, other.url)
    probes = []
    first = workers[0]
    while not first.urls[server.url]['requests']:
        assert (await twin(first.get('healthy', params=ok))).status_code == 200  # a 503 is retried elsewhere
    assert fleet[0].flush()
    for cooldown in (Quick.cooldown, 2 * Quick.cooldown):
        for worker in workers:  # the circuit is open for all: nothing goes to `server`
            assert (await twin(worker.get('healthy', params=ok))).status_code == 200
        assert sum(worker.urls[server.url]['requests'] for worker in workers) == 1 + len(probes)
        await asyncio.sleep(cooldown + 0.05)
        for worker in workers * 2:  # half-open: one probe goes, across the four
            assert (await twin(worker.get('healthy', params=ok))).status_code == 200
        for each in fleet:
            assert each.flush()
        probes.append(sum(worker.urls[server.url]['requests'] for worker in workers) - 1 - len(probes))
    assert probes == [1, 1]  # the probe failed: open again, for twice as long
    assert workers[1].urls[server.url].wait == pytest.approx(4 * Quick.cooldown)
    for worker in workers:
        await twin.close(worker)


def test_a_probe_that_ends_without_verdict_frees_it_for_the_fleet(server, fleet):
    first, second = proxies(SYNC, fleet[:2], server.url, cooldown=0.3)
    first.answered(server.url, 503)
    assert fleet[0].flush()
    time.sleep(0.35)
    second._refresh()
    assert second._route(Plan(Retry(), 'GET', True)) == server.url  # the probe is second's
    stats = second.urls[server.url]
    assert stats.begin()
    with pytest.raises(clients.AllHostsDown):  # taken: nothing for first
        first._route(Plan(Retry(), 'GET', True))
    stats.end(probe=True)  # say, cancelled
    assert fleet[1].flush()
    assert first._route(Plan(Retry(), 'GET', True)) == server.url  # free again


def test_a_custom_choice_naming_a_host_whose_probe_is_taken_finds_every_host_down(server, fleet):
    class Primary(clients.Proxy):
        def choice(self, method):
            return next(iter(self.urls))

    first, second = (Primary(server.url, dead(), store=each) for each in fleet[:2])
    for proxy in (first, second):
        for stats in proxy.urls.values():
            stats.threshold, stats.cooldown = 1, 0.2
    first.answered(server.url, 503)
    assert fleet[0].flush()
    time.sleep(0.25)
    assert first._route(Plan(Retry(), 'GET', True)) == server.url  # first probes
    with pytest.raises(clients.AllHostsDown):
        second._route(Plan(Retry(), 'GET', True))


def test_a_circuit_closed_meanwhile_admits_without_a_probe(server, fleet):
    first, second = proxies(SYNC, fleet[:2], server.url, dead(), cooldown=0.3)
    first.answered(server.url, 503)
    assert fleet[0].flush()
    second._refresh()
    first.answered(server.url, 200)  # second has not heard yet
    assert fleet[0].flush()
    stats = second.urls[server.url]
    time.sleep(0.35)
    assert stats.state() == 'half-open'
    assert stats.admit()
    assert stats.state() == 'closed'
    assert not stats.begin()


def test_host_health_falls_back_to_each_process_while_redis_is_away(own_redis, server):
    store = RedisStore(own_redis.url, retry=5)
    proxy = clients.Proxy(server.url, dead(), store=store)
    stats = proxy.urls[server.url]
    stats.threshold, stats.cooldown = 1, 0.1
    own_redis.stop()
    assert proxy.get('echo').status_code == 200  # the shared circuits cannot be read: the local ones decide
    proxy.answered(server.url, 503)
    assert store.flush()  # the write is dropped; the local circuit has it
    assert stats.state() == 'open'
    time.sleep(0.15)
    assert stats.admit()  # the probe cannot be claimed in the store: this process's circuit decides
    assert stats.begin()
    assert not stats.begin()
    proxy.close()


def test_a_read_from_before_a_write_is_not_copied_in(store):
    stats = Stats()
    stats.store, stats.key = store, 'host'
    before = stats.version
    stats.failed('errors', 'refused')
    stats.mirror(Circuit(), before)  # read before the failure was written: ignored
    assert stats.streak == 1
    assert stats.last_failure == 'refused'
    stats.mirror(Circuit(streak=4, opened=0.5, wait=2.0, failed=0.5, probing=True, reason='x'), stats.version, now=10)
    assert (stats.streak, stats.opened, stats.wait, stats.failed_at, stats.probing) == (4, 9.5, 2.0, 9.5, True)


def test_hosts_with_writes_in_flight_keep_their_own_view(store):
    for _ in range(3000):
        store.failed('busy', 'status 503', 3, 1.0, 10.0)
    found = store.health(['busy', 'idle'])
    assert found[0] is None
    assert found[1] == Circuit()
    assert store.flush()
    found = store.health(['busy'])
    assert found[0].streak == 3000
    assert found[0].reason == 'status 503'
    assert found[0].opened is not None


class _Sync:
    Proxy = clients.Proxy


SYNC = _Sync()


def test_derived_proxies_share_the_store(fleet, server):
    proxy = clients.Proxy(server.url, dead(), store=fleet[0])
    child = proxy / 'v1'
    assert child._store() is fleet[0]
    assert clients.Proxy(server.url)._store() is None

