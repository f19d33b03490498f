"""Host health and choice: counts, circuit breakers, routing of retries (fake clock)."""

import asyncio
import threading
import time

import pytest

import clients
from clients import AllHostsDown, HTTPError, Retry, errors, hosts, httpx, retry
from tests.conftest import FakeClock


class Balanced(hosts.Balancer):
    def __init__(self, *urls, clock=None):
        self.urls = hosts.hosts(urls, self.Stats)
        self.retry = Retry(clock=clock or FakeClock())


def test_table():
    table = hosts.hosts(('http://a', 'http://b/x/'), hosts.Stats)
    assert list(table) == ['http://a/', 'http://b/x/']
    derived = hosts.derive(table, 'y')
    assert list(derived) == ['http://a/y/', 'http://b/x/y/']
    assert derived['http://a/y/'] is table['http://a/']
    with pytest.raises(ValueError, match='at least one'):
        hosts.hosts((), hosts.Stats)


def test_choice_prefers_healthy_hosts_with_fewest_connections():
    proxy = Balanced('http://a', 'http://b', 'http://c')
    proxy.urls['http://a/'].add(connections=1)
    proxy.urls['http://b/'].add(connections=2)
    proxy.urls['http://c/'].add(connections=3)
    assert proxy.choice('GET') == 'http://a/'
    for _ in range(3):
        proxy.urls['http://a/'].failed('errors', 'refused', now=proxy._now())
    assert proxy.priority('http://a/') is None  # its circuit is open
    assert proxy.choice('GET') == 'http://b/'
    assert [proxy.priority(url) for url in proxy.urls] == [None, (False, 2), (False, 3)]


def test_a_host_that_just_failed_is_avoided_until_the_failure_fades():
    proxy = Balanced('http://a', 'http://b', 'http://c')
    a, b, c = proxy.urls.values()
    clock = proxy.retry.clock
    b.add(connections=5)
    c.add(connections=9)
    assert proxy.choice('GET') == 'http://a/'
    proxy.answered('http://a/', 503)  # one failure: the circuit stays closed, but a goes last
    assert (a.state(now=clock.now()), a.recent(now=clock.now())) == ('closed', True)
    assert proxy.priority('http://a/') == (True, 0)
    assert proxy.choice('GET') == 'http://b/'  # even a busier host comes first
    proxy.answered('http://a/', 200)  # a success closes the circuit, not the failure's cool-down
    assert proxy.choice('GET') == 'http://b/'
    clock.sleep(a.cooldown - 0.001)
    assert proxy.choice('GET') == 'http://b/'
    clock.sleep(0.001)  # the failure has faded: a ranks by connections again
    assert (a.recent(now=clock.now()), proxy.choice('GET')) == (False, 'http://a/')
    proxy.answered('http://a/', 500)
    proxy.answered('http://b/', 502)
    assert proxy.choice('GET') == 'http://c/'
    proxy.answered('http://c/', 504)  # every host failed lately: they rank by connections again
    assert proxy.choice('GET') == 'http://a/'
    proxy.urls['http://a/'].opened = clock.now()  # the others stay in use, however recent their failures
    assert proxy.choice('GET') == 'http://b/'


@pytest.mark.parametrize('failures', [1, 2, 3, 4, 5])
def test_a_failing_host_is_tried_once_per_cool_down_until_its_circuit_opens(failures):
    proxy = Balanced('http://a', 'http://b')
    a = proxy.urls['http://a/']
    clock = proxy.retry.clock
    sent = []
    for _ in range(failures):  # a host that keeps failing: one request, then a cool-down without
        for _ in range(50):
            url = proxy.choice('GET')
            sent.append(url)
            proxy.answered(url, 503 if url == 'http://a/' else 200)
        clock.sleep(a.wait if a.opened is not None else a.cooldown)
    assert sent.count('http://a/') == failures
    assert a.opened is not None if failures >= a.threshold else a.opened is None


def test_stats_read_their_proxys_clock(clock):
    for proxy in (clients.Proxy('http://a', retry=Retry(clock=clock)),
                  clients.AsyncProxy('http://a', retry=Retry(clock=clock))):
        stats = proxy.urls['http://a/']
        assert stats.clock is clock
        for _ in range(3):
            stats.failed('errors', 'refused')
        assert stats.opened == clock.now()
        assert (stats.state(), stats.available(), stats.recent()) == ('open', False, True)
        clock.sleep(stats.cooldown)
        assert (stats.state(), stats.available(), stats.recent()) == ('half-open', True, False)
        assert stats.begin() is True


@pytest.mark.parametrize('call', [
    lambda stats: stats.state(time.time()),
    lambda stats: stats.available(time.monotonic()),
    lambda stats: stats.recent(time.monotonic()),
    lambda stats: stats.begin(time.monotonic()),
    lambda stats: stats.failed(time.time(), 'errors', 'refused'),
])
def test_stats_take_no_positional_time(call):
    with pytest.raises(TypeError):
        call(hosts.Stats())


def test_bare_stats_read_the_monotonic_clock():
    class Slow(hosts.Stats):
        cooldown = 3600.0

    stats = Slow()
    assert stats.clock is retry.CLOCK
    for _ in range(3):
        stats.failed('errors', 'refused')
    assert time.monotonic() - 1 < stats.opened <= time.monotonic()
    assert (stats.state(), stats.recent()) == ('open', True)
    assert stats.state(now=stats.opened + 3600) == 'half-open'


def test_stats_count_connections_as_in_1_3():
    stats = hosts.Stats()
    with stats as same:
        assert same is stats
        assert stats['connections'] == 1
    with pytest.raises(OSError), stats:
        raise OSError('refused')
    assert dict(stats) == {'connections': 0, 'errors': 1}


def test_choice_ties_are_random():
    proxy = Balanced('http://a', 'http://b')
    assert {proxy.choice('GET') for _ in range(200)} == {'http://a/', 'http://b/'}


def test_priority_none_excludes():
    class Excluding(Balanced):
        def priority(self, url):
            return None if url == 'http://a/' else 0

    assert Excluding('http://a', 'http://b').choice('GET') == 'http://b/'
    with pytest.raises(LookupError, match='no host is available for GET: http://a/'):
        Excluding('http://a').choice('GET')


@pytest.mark.parametrize('error', [OSError('x'), httpx.ConnectError('x')])
def test_counting_errors(error):
    proxy = Balanced('http://a')
    plan = retry.Plan(Retry(), 'GET', True)
    with pytest.raises(type(error)), proxy.counting('http://a/', plan) as stats:
        assert stats['connections'] == 1
        raise error
    assert dict(stats) == {'connections': 0, 'errors': 1, 'requests': 1}
    assert stats.last_failure == plan.hosts['http://a/'] == f'{type(error).__name__}: x'
    assert stats.streak == 1
    with pytest.raises(type(error)), proxy.counting('http://a/'):  # no plan: the counts only
        raise error
    assert stats['errors'] == 2


def test_counting_status_errors():
    proxy = Balanced('http://a')
    response = httpx.Response(503, request=httpx.Request('GET', 'http://a/'))
    with pytest.raises(HTTPError), proxy.counting('http://a/'):
        raise errors.HttpxHTTPError('down', response)
    response = httpx.Response(404, request=httpx.Request('GET', 'http://a/'))
    with pytest.raises(HTTPError), proxy.counting('http://a/'):
        raise errors.HttpxHTTPError('missing', response)
    with pytest.raises(KeyError), proxy.counting('http://a/'):
        raise KeyError('not a transport error')
    assert dict(proxy.urls['http://a/']) == {'connections': 0, 'failures': 1, 'requests': 3}


def test_answered():
    proxy = Balanced('http://a')
    plan = retry.Plan(Retry(), 'GET', True)
    stats = proxy.urls['http://a/']
    proxy.answered('http://a/', 500)
    assert (stats['failures'], stats.streak, stats.last_failure, plan.hosts) == (1, 1, 'status 500', {})
    proxy.answered('http://a/', 429, plan)  # not the host's failure, but the request tries elsewhere
    assert (stats['failures'], stats.streak, plan.hosts) == (1, 0, {'http://a/': 'status 429'})
    proxy.answered('http://a/', 502, plan)
    assert plan.hosts == {'http://a/': 'status 502'}


def test_circuit_opens_cools_down_and_probes():
    clock = FakeClock()
    stats = hosts.Stats()
    now = clock.now()
    assert stats.state(now=now) == 'closed'
    stats.failed('errors', 'refused', now=now)
    stats.succeeded()
    assert stats.streak == 0
    for _ in range(3):
        assert stats.available(now=now)
        stats.failed('errors', 'refused', now=now)
    assert (stats.state(now=now), stats.available(now=now)) == ('open', False)
    stats.failed('errors', 'late', now=now + 0.5)  # a request sent before it opened: no change
    assert (stats.opened, stats.wait) == (now, 1.0)
    assert stats.state(now=now + 1) == 'half-open'
    assert stats.available(now=now + 1)
    assert stats.begin(now=now + 1) is True  # the probe
    assert not stats.available(now=now + 1)  # one probe at a time
    assert stats.begin(now=now + 1) is False
    stats.end()
    stats.failed('errors', 'refused', now=now + 1)  # the probe failed: open for twice as long
    stats.end(probe=True)
    assert (stats.state(now=now + 2.9), stats.state(now=now + 3)) == ('open', 'half-open')
    for step in range(3, 10):  # the cool-down doubles up to cooldown_max
        stats.failed('errors', 'refused', now=now + 100 * step)
    assert stats.wait == hosts.Stats.cooldown_max
    assert stats.begin(now=now + 1000)
    stats.succeeded()
    stats.end(probe=True)
    assert (stats.state(now=now + 1000), stats.wait, stats.probing) == ('closed', 1.0, False)
    assert stats['connections'] == 0


def test_unjudged_probe_frees_its_slot():
    stats = hosts.Stats()
    for _ in range(3):
        stats.failed('errors', 'refused', now=0.0)
    probe = stats.begin(now=5.0)
    assert not stats.available(now=5.0)
    stats.end(probe)  # e.g. the request raised something that says nothing about the host
    assert stats.available(now=5.0)


def test_tuned_stats():
    class Patient(hosts.Stats):
        threshold = 1
        cooldown = 5.0

    stats = Patient()
    stats.failed('failures', 'status 503', now=0.0)
    assert (stats.state(now=4.9), stats.state(now=5.0)) == ('open', 'half-open')


def test_routing_tries_other_hosts_first():
    proxy = Balanced('http://a', 'http://b', 'http://c')
    plan = retry.Plan(proxy.retry, 'GET', True)
    first = proxy._route(plan)
    plan.hosts[first] = 'refused'
    assert proxy._spare(plan)
    second = proxy._route(plan)
    assert second != first
    plan.hosts[second] = 'refused'
    third = proxy._route(plan)
    assert third not in (first, second)
    plan.hosts[third] = 'status 503'
    assert not proxy._spare(plan)
    assert proxy._route(plan) in proxy.urls  # all tried: back to the usual choice
    error = httpx.ConnectError('refused')
    down = proxy._exhausted(plan, error)
    assert isinstance(down, AllHostsDown)
    assert down.failures == {first: 'refused', second: 'refused', third: 'status 503'}
    assert proxy._exhausted(plan, down) is None  # raised as it is


def test_exhausted_with_a_healthy_host_left_is_the_last_error():
    proxy = Balanced('http://a', 'http://b')
    plan = retry.Plan(proxy.retry, 'GET', True)
    plan.hosts['http://a/'] = 'refused'
    assert proxy._exhausted(plan, OSError()) is None


def test_all_hosts_down_names_each_and_its_last_failure():
    proxy = Balanced('http://a', 'http://b')
    now = proxy._now()
    for _ in range(3):
        proxy.urls['http://a/'].failed('errors', 'ConnectError: refused', now=now)
        proxy.urls['http://b/'].failed('failures', 'status 503', now=now)
    plan = retry.Plan(proxy.retry, 'GET', True)
    with pytest.raises(AllHostsDown) as info:
        proxy._route(plan)
    error = info.value
    assert isinstance(error, ConnectionError)
    assert isinstance(error, LookupError)  # as the no-host error of 1.3
    assert str(error) == 'all hosts are down for GET: http://a/ (ConnectError: refused); http://b/ (status 503)'
    assert isinstance(error.__cause__, LookupError)
    assert error.attempts == 1
    fresh = Balanced('http://a')
    fresh.urls['http://a/'].opened = fresh._now()  # opened by hand: nothing recorded
    assert fresh._down(plan).failures == {'http://a/': 'circuit open'}
    import pickle

    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.failures, copy.method) == (str(error), error.failures, 'GET')


def test_once_and_closing():
    calls = []
    once = hosts.Once(lambda: calls.append(1))
    assert hosts.closing(lambda: 'closed', once) == 'closed'
    with pytest.raises(OSError):
        hosts.closing(lambda: (_ for _ in ()).throw(OSError()), once)
    assert calls == [1]

    async def aclose():
        return 'aclosed'

    released = []
    assert asyncio.run(hosts.aclosing(aclose, lambda: released.append(1))) == 'aclosed'
    assert released == [1]


def test_stats_are_thread_safe_and_picklable():
    import pickle

    stats = hosts.Stats()

    def work():
        for _ in range(10000):
            stats.add(connections=1)
            stats.add(connections=-1, errors=1)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stats == {'connections': 0, 'errors': 80000}
    stats.failed('errors', 'x', now=0.0)
    copy = pickle.loads(pickle.dumps(stats))
    assert copy == stats
    assert isinstance(copy.lock, type(threading.Lock()))


def test_a_custom_choice_routes_every_attempt():
    class Primary(Balanced):
        def choice(self, method):
            return 'http://a/' if method == 'POST' else super().choice(method)

    proxy = Primary('http://a', 'http://b')
    plan = retry.Plan(proxy.retry, 'POST', True)
    plan.hosts['http://a/'] = 'refused'
    assert not proxy._spare(plan)
    assert proxy._route(plan) == 'http://a/'
