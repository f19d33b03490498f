"""The rate-limit core: the token bucket and the servers' rate-limit headers (no sleeping)."""

import email.utils
import pickle
import threading

import pytest
from requests.structures import CaseInsensitiveDict

import clients
from clients.ratelimit import RateLimit, spent

WALL = 1_700_000_000.0


def test_bucket_allows_a_burst_then_the_rate():
    limit = RateLimit(2, burst=3)
    assert [limit.reserve(10.0) for _ in range(5)] == [0, 0, 0, 0.5, 1.0]
    # reservations were handed out up to 11.0; after that the bucket refills at 2/s
    assert limit.reserve(11.0) == 0.5
    assert limit.reserve(20.0) == 0
    assert limit.tokens == 2  # refilled to the burst, minus the one just taken


def test_default_burst():
    assert RateLimit(5).burst == 5
    assert RateLimit(0.5).burst == 1
    assert RateLimit().burst == 1
    assert RateLimit().reserve(0) == RateLimit().reserve(0) == 0  # no client-side rate: no wait


def test_reservations_are_exact_under_threads():
    limit = RateLimit(100, burst=10)
    waits = []
    lock = threading.Lock()

    def work():
        for _ in range(100):
            wait = limit.reserve(50.0)
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # every slot is handed out exactly once: 10 at once, then one each 1/100 s
    assert sorted(waits) == pytest.approx([0.0] * 10 + [n / 100 for n in range(1, 791)])


@pytest.mark.parametrize(('kwargs', 'message'), [
    ({'rate': 0}, 'rate must be a number of requests per second > 0, not 0'),
    ({'rate': True}, 'rate must be'),
    ({'rate': '5'}, 'rate must be'),
    ({'rate': 1, 'burst': 0}, 'burst must be an int >= 1, not 0'),
    ({'rate': 1, 'burst': 1.5}, 'burst must be an int'),
    ({'wait_max': float('inf')}, 'wait_max must be a finite number of seconds >= 0'),
    ({'wait_max': -1}, 'wait_max must be'),
])
def test_bad_limits(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RateLimit(**kwargs)


def test_of_and_repr_and_pickle():
    limit = RateLimit(3, headers=True)
    assert clients.RateLimit is RateLimit
    assert RateLimit.of(limit) is limit
    assert RateLimit.of(None) is None
    assert RateLimit.of(2.5).rate == 2.5
    with pytest.raises(TypeError, match=r'rate must be a number of requests per second, a clients\.RateLimit or None'):
        RateLimit.of('fast')
    assert repr(limit) == 'RateLimit(rate=3.0, burst=3, headers=True)'
    limit.reserve(1.0)
    copy = pickle.loads(pickle.dumps(limit))
    assert (copy.rate, copy.burst, copy.tokens, copy.headers) == (3.0, 3, 2.0, True)
    assert copy.lock is not limit.lock


def headers(**values):
    return CaseInsensitiveDict({name.replace('_', '-'): value for name, value in values.items()})


@pytest.mark.parametrize(('status', 'fields', 'wait'), [
    (200, {}, None),
    (200, {'X-RateLimit-Remaining': '5', 'X-RateLimit-Reset': '30'}, None),
    (200, {'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': '30'}, 30),
    (200, {'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': str(int(WALL) + 45)}, 45),  # GitHub: Unix time
    (200, {'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': str(int(WALL - 5))}, 0),
    (200, {'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': str(int(WALL + 2) * 1000)}, 2),  # milliseconds
    (200, {'X-RateLimit-Remaining': '0'}, None),  # spent, but no word on when it resets
    (200, {'X-RateLimit-Remaining': 'none', 'X-RateLimit-Reset': '30'}, None),
    (200, {'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': 'later'}, None),
    (200, {'X-RateLimit-Remaining': '-1', 'X-RateLimit-Reset': '3'}, None),
    (200, {'RateLimit-Remaining': '0', 'RateLimit-Reset': '12'}, 12),
    (200, {'RateLimit': 'limit=100, remaining=0, reset=20'}, 20),
    (200, {'RateLimit': 'limit=100, remaining=3, reset=20'}, None),
    (200, {'RateLimit': '"default";r=0;t=40'}, 40),
    (200, {'RateLimit': '"burst";r=5;t=1, "daily";r=0;t=600'}, 600),
    (200, {'RateLimit': '"default";r=10;t=40'}, None),
    (200, {'RateLimit': 'garbage'}, None),
    (429, {'Retry-After': '7'}, 7),
    (503, {'Retry-After': email.utils.formatdate(WALL + 9, usegmt=True)}, 9),
    (500, {'Retry-After': '7'}, None),
    (429, {'Retry-After': '7', 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': '30'}, 30),
])
def test_spent(status, fields, wait):
    assert spent(status, headers(**fields), WALL) == wait


def test_observed_headers_hold_the_next_requests():
    limit = RateLimit(headers=True, wait_max=60)
    limit.observe(200, headers(X_RateLimit_Remaining='1', X_RateLimit_Reset='30'), 100.0, WALL)
    assert limit.reserve(100.0) == 0
    limit.observe(200, headers(X_RateLimit_Remaining='0', X_RateLimit_Reset='30'), 100.0, WALL)
    assert limit.reserve(100.0) == 30
    assert limit.reserve(110.0) == 20
    assert limit.reserve(130.0) == 0
    limit.observe(429, headers(Retry_After='3600'), 200.0, WALL)
    assert limit.reserve(200.0) == 60  # capped by wait_max
    ignoring = RateLimit(5)
    ignoring.observe(429, headers(Retry_After='30'), 0.0, WALL)
    assert ignoring.reserve(0.0) == 0


def test_rate_and_headers_together():
    limit = RateLimit(1, headers=True)
    limit.observe(200, headers(RateLimit_Remaining='0', RateLimit_Reset='5'), 0.0, WALL)
    # the server's hold first, then the bucket's pace (1/s)
    assert [limit.reserve(0.0) for _ in range(3)] == [5, 6, 7]
    assert limit.reserve(6.5) == 1.5
