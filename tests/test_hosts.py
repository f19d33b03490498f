import threading

import httpx
import pytest

from clients import HTTPError, errors, hosts


class Balanced(hosts.Balancer):
    def __init__(self, *urls):
        self.urls = hosts.hosts(urls, self.Stats)


def test_table():
    table = hosts.hosts(('http://a', 'http://b/x/'), hosts.Stats)
    assert list(table) == ['http://a/', 'http://b/x/']
    derived = hosts.derive(table, 'y')
    assert list(derived) == ['http://a/y/', 'http://b/x/y/']
    assert derived['http://a/y/'] is table['http://a/']
    with pytest.raises(ValueError, match='at least one'):
        hosts.hosts((), hosts.Stats)


def test_choice_prefers_fewest_problems():
    proxy = Balanced('http://a', 'http://b', 'http://c')
    proxy.urls['http://a/'].add(errors=1)
    proxy.urls['http://b/'].add(connections=2)
    proxy.urls['http://c/'].add(failures=1)
    assert proxy.choice('GET') == 'http://b/'
    proxy.urls['http://b/'].add(failures=2)
    assert proxy.choice('GET') == 'http://c/'
    assert {proxy.priority(url) for url in proxy.urls} == {(1, 0, 0), (0, 2, 2), (0, 1, 0)}


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
    with pytest.raises(type(error)), proxy.counting('http://a/') as stats:
        assert stats['connections'] == 1
        raise error
    assert dict(stats) == {'connections': 0, 'errors': 1}


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
    assert dict(proxy.urls['http://a/']) == {'connections': 0, 'failures': 1}


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
    copy = pickle.loads(pickle.dumps(stats))
    assert copy == stats
    assert isinstance(copy.lock, type(threading.Lock()))
