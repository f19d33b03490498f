"""The retry core: policy, Retry-After, error classes, the decision function and the plan (fake clock)."""

import asyncio
import email.utils
import io
import math
import pickle
from types import SimpleNamespace

import pytest
import requests
import urllib3

import clients
from clients import httpx, retry
from clients.ratelimit import retry_after
from clients.retry import CONNECT, READ, Decision, Retry, decide

NOW = 1_700_000_000.0


def test_defaults_are_bounded_and_safe():
    policy = Retry()
    assert clients.Retry is Retry
    assert policy.attempts == 3
    assert policy.timeout == 60.0
    assert policy.statuses == {429, 502, 503, 504}
    assert policy.methods == {'GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'}
    assert policy == retry.DEFAULT
    assert retry.NEVER.attempts == 1
    assert repr(Retry(attempts=2)).startswith('Retry(attempts=2, backoff=0.5, backoff_max=10.0, jitter=0.5,')


@pytest.mark.parametrize(('kwargs', 'message'), [
    ({'attempts': 0}, 'attempts must be an int >= 1, not 0'),
    ({'attempts': True}, 'attempts must be an int'),
    ({'attempts': 2.5}, 'attempts must be an int'),
    ({'backoff': -1}, 'backoff must be a finite number of seconds >= 0, not -1'),
    ({'backoff_max': math.inf}, 'backoff_max must be a finite number'),
    ({'backoff': 'soon'}, 'backoff must be'),
    ({'backoff': math.nan}, 'backoff must be'),
    ({'timeout': -1}, r'timeout must be a finite number of seconds >= 0 or None'),
    ({'retry_after_max': True}, 'retry_after_max must be'),
    ({'jitter': 1.5}, 'jitter must be a fraction from 0 to 1, not 1.5'),
    ({'jitter': False}, 'jitter must be a fraction'),
    ({'statuses': [200]}, r'statuses must be error statuses \(400-599\), not \[200\]'),
    ({'statuses': [True]}, 'statuses must be error statuses'),
])
def test_bad_policies_say_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Retry(**kwargs)


def test_bad_collections_are_type_errors():
    with pytest.raises(TypeError, match="statuses must be a collection of status codes, not '503'"):
        Retry(statuses='503')
    with pytest.raises(TypeError, match='methods must be a collection of method names, not 5'):
        Retry(methods=5)


def test_policy_is_an_immutable_value():
    policy = Retry(attempts=5, methods=['get', 'post'], timeout=None)
    assert policy.methods == {'GET', 'POST'}
    assert policy.timeout is None
    assert policy == Retry(attempts=5, methods=('GET', 'POST'), timeout=None)
    assert policy != Retry()
    assert policy.__eq__(5) is NotImplemented
    assert hash(policy) == hash(Retry(attempts=5, methods=('GET', 'POST'), timeout=None))
    assert pickle.loads(pickle.dumps(policy)) == policy
    with pytest.raises(AttributeError, match='immutable'):
        policy.attempts = 1


def test_of():
    policy = Retry()
    assert Retry.of(policy) is policy
    assert Retry.of(None) is retry.NEVER
    assert Retry.of(False) is retry.NEVER
    with pytest.raises(TypeError, match=r'retry must be a clients\.Retry, None or False, not 3'):
        Retry.of(3)


def test_backoff_doubles_up_to_its_cap_with_jitter():
    policy = Retry(backoff=0.5, backoff_max=3, jitter=0)
    assert [policy.backoff_delay(n, 0.9) for n in range(1, 6)] == [0.5, 1, 2, 3, 3]
    assert Retry(backoff=1, jitter=1).backoff_delay(1, 0.75) == 0.25  # full jitter
    assert Retry(backoff=1, jitter=0.5).backoff_delay(2, 0.5) == 1.5
    assert Retry(backoff=1, backoff_max=5).backoff_delay(10_000, 0) == 5


@pytest.mark.parametrize(('value', 'seconds'), [
    ('120', 120.0),
    (' 0 ', 0.0),
    (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
    (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),  # a past date means now
    ('Sunday, 06-Nov-94 08:49:37 GMT', 0.0),  # obsolete RFC 850 form, in the past
    ('Sun Nov  6 08:49:37 1994', 0.0),  # asctime: GMT (RFC 9110 5.6.7), in the past
    (email.utils.formatdate(NOW + 30, localtime=False).replace('-0000', '+0200'), None),
    ('-5', None),
    ('1.5', None),
    ('soon', None),
    ('', None),
    (None, None),
])
def test_retry_after(value, seconds):
    assert retry_after(value, NOW) == seconds


def _max_retry(reason):
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, 'http://a/', reason))


@pytest.mark.parametrize(('error', 'kind'), [
    (httpx.ConnectError('refused'), CONNECT),
    (httpx.ConnectTimeout('slow'), CONNECT),
    (httpx.PoolTimeout('busy'), CONNECT),
    (httpx.ReadTimeout('slow'), READ),
    (httpx.ReadError('reset'), READ),
    (httpx.RemoteProtocolError('dropped'), READ),
    (httpx.WriteError('broken pipe'), READ),
    (httpx.UnsupportedProtocol('ftp'), None),
    (httpx.ProxyError('proxy'), None),
    (httpx.LocalProtocolError('bad header'), None),
    (requests.exceptions.ConnectTimeout('slow'), CONNECT),
    (_max_retry(urllib3.exceptions.NewConnectionError(None, 'refused')), CONNECT),
    (_max_retry(urllib3.exceptions.NameResolutionError('a', None, OSError())), CONNECT),
    (_max_retry(urllib3.exceptions.ProtocolError('aborted')), READ),
    (requests.ConnectionError(urllib3.exceptions.ProtocolError('Connection aborted.')), READ),
    (requests.ConnectionError(), READ),
    (requests.exceptions.ReadTimeout('slow'), READ),
    (requests.exceptions.ChunkedEncodingError('short'), READ),
    (requests.exceptions.TooManyRedirects('loop'), None),
    (requests.exceptions.InvalidURL('bad'), None),
    (ConnectionRefusedError(), CONNECT),
    (clients.AllHostsDown('GET', {}), CONNECT),  # nothing was sent
    (ConnectionResetError(), READ),
    (TimeoutError(), READ),
    (FileNotFoundError('no CA bundle'), None),
    (KeyError('x'), None),
])
def test_failure_classes(error, kind):
    assert retry.failure(error) == kind


def test_idempotent():
    methods = retry.IDEMPOTENT
    assert retry.idempotent('get', methods)
    assert not retry.idempotent('POST', methods)
    assert not retry.idempotent('PATCH', methods, {'X': '1'}, None)
    assert retry.idempotent('POST', methods, {'Idempotency-Key': 'k1'}, None)
    assert retry.idempotent('POST', methods, {}, [('idempotency-key', 'k1')])
    assert not retry.idempotent('POST', methods, {}, {'Idempotency-Key': None})  # removed per request
    assert retry.idempotent('POST', frozenset({'POST'}))


@pytest.mark.parametrize(('kwargs', 'expected'), [
    ({}, True),
    ({'json': {'a': 1}}, True),
    ({'data': b'x'}, True),
    ({'data': {'a': '1'}}, True),
    ({'content': 'text'}, True),
    ({'files': {'f': b'bytes'}}, True),
    ({'files': [('f', ('name.txt', 'text'))]}, True),
    ({'files': {'f': ('empty',)}}, True),
    ({'data': io.BytesIO(b'x')}, False),
    ({'data': iter([b'x'])}, False),
    ({'content': (b'x' for _ in range(1))}, False),
    ({'files': {'f': io.BytesIO(b'x')}}, False),
    ({'files': {'f': ('name', io.BytesIO(b'x'), 'text/plain')}}, False),
])
def test_replayable(kwargs, expected):
    assert retry.replayable(kwargs) is expected


POLICY = Retry(attempts=3, backoff=1, backoff_max=8, jitter=0, timeout=30, retry_after_max=20)


def test_decide_what_is_retried():
    def retried(**outcome):
        return decide(POLICY, attempts=1, elapsed=0, **outcome).retry

    assert retried(safe=False, error=CONNECT)  # nothing was sent
    assert retried(safe=True, error=READ)
    assert not retried(safe=False, error=READ)
    for status in (429, 502, 503, 504):
        assert retried(safe=True, status=status)
        assert not retried(safe=False, status=status)
    assert not retried(safe=True, status=500)
    assert not retried(safe=True, status=404)
    assert decide(POLICY, attempts=1, elapsed=0, safe=False, status=503).reason == 'not an idempotent request'
    assert decide(POLICY, attempts=1, elapsed=0, safe=True, status=500).reason == 'not a retryable status'
    assert 'may have been sent' in decide(POLICY, attempts=1, elapsed=0, safe=False, error=READ).reason


def test_decide_waits():
    assert decide(POLICY, attempts=1, elapsed=0, safe=True, error=READ) == Decision(True, 1.0)
    assert decide(POLICY, attempts=2, elapsed=0, safe=True, error=READ) == Decision(True, 2.0)
    assert decide(POLICY, attempts=3, elapsed=0, safe=True, error=READ) == Decision(False, reason='attempts exhausted')
    jittery = Retry(backoff=2, jitter=1)
    assert decide(jittery, attempts=1, elapsed=0, safe=True, error=READ, chance=0.25).delay == 1.5
    # another host is tried at once
    assert decide(POLICY, attempts=1, elapsed=0, safe=True, error=CONNECT, elsewhere=True) == Decision(True, 0.0)


def test_decide_honours_retry_after_on_413_429_503_only():
    policy = Retry(statuses={413, 429, 502, 503}, backoff=1, jitter=0, retry_after_max=20)
    for status in (413, 429, 503):
        assert decide(policy, attempts=1, elapsed=0, safe=True, status=status, retry_after=7).delay == 7
    assert decide(policy, attempts=1, elapsed=0, safe=True, status=502, retry_after=7).delay == 1
    # a Retry-After speaks for its host: another one is tried at once
    assert decide(policy, attempts=1, elapsed=0, safe=True, status=429, retry_after=99, elsewhere=True).delay == 0
    assert decide(policy, attempts=1, elapsed=0, safe=True, status=429, retry_after=0).delay == 0
    too_long = decide(policy, attempts=1, elapsed=0, safe=True, status=429, retry_after=21)
    assert too_long == Decision(False, reason='Retry-After 21 s exceeds 20 s')


def test_decide_keeps_to_the_time_budget():
    assert decide(POLICY, attempts=1, elapsed=28.5, safe=True, error=READ).retry
    spent = decide(POLICY, attempts=1, elapsed=29, safe=True, error=READ)
    assert spent == Decision(False, reason='time budget of 30 s spent')
    assert not decide(POLICY, attempts=1, elapsed=25, safe=True, status=503, retry_after=5).retry
    unbudgeted = Retry(timeout=None, attempts=2)
    assert decide(unbudgeted, attempts=1, elapsed=10**9, safe=True, error=READ).retry


def test_annotate():
    error = ValueError('boom', 2)
    assert retry.annotate(error, 3, 'attempts exhausted') is error
    assert error.attempts == 3
    assert error.args == ('boom (after 3 attempts: attempts exhausted)', 2)
    single = OSError('once')
    retry.annotate(single, 1, 'ignored')
    assert (single.attempts, str(single)) == (1, 'once')
    bare = requests.ConnectionError()
    retry.annotate(bare, 2)
    assert bare.attempts == 2
    assert bare.__notes__ == ['after 2 attempts']
    reason = urllib3.exceptions.MaxRetryError(None, 'http://a/', None)
    wrapped = requests.ConnectionError(reason)
    retry.annotate(wrapped, 3, 'attempts exhausted')
    assert wrapped.args == (reason,)  # still what code that reads it expects
    assert wrapped.__notes__ == ['after 3 attempts: attempts exhausted']


class Client(retry.Resilience):
    """What `retry.plan` reads from a client: its settings, and no proxy host choice."""

    def __init__(self, policy, rate=None, headers=()):
        self.retry = policy
        self.rate = rate
        self.headers = dict(headers)


def test_plan_backs_off_on_the_clock(clock):
    policy = Retry(attempts=4, backoff=1, jitter=0, clock=clock)
    plan = retry.plan(Client(policy), 'get', {})
    assert (plan.method, plan.safe, plan.clock) == ('GET', True, clock)
    error = httpx.ReadError('reset')
    waits = []
    with pytest.raises(httpx.ReadError) as info:
        while True:
            assert plan.start() == 0
            delay = plan.failed(error)
            waits.append(delay)
            clock.sleep(delay)
    assert info.value is error
    assert waits == [1, 2, 4]
    assert plan.attempts == error.attempts == 4
    assert str(error) == 'reset (after 4 attempts: attempts exhausted)'


def test_plan_logs_each_retry(clock, caplog):
    caplog.set_level('INFO', logger='clients.retry')
    plan = retry.plan(Client(Retry(backoff=1, jitter=0, clock=clock)), 'GET', {})
    plan.start()
    plan.failed(httpx.ConnectError('refused'))
    plan.start()
    plan.answered(503, {'Retry-After': '4'})
    assert caplog.messages == [
        'retrying GET after ConnectError: refused: attempt 2 of 3 in 1.00 s',
        'retrying GET after status 503: attempt 3 of 3 in 4.00 s',
    ]


def test_plan_stops_at_the_time_budget(clock):
    policy = Retry(attempts=10, backoff=4, jitter=0, timeout=10, clock=clock)
    plan = retry.plan(Client(policy), 'GET', {})
    plan.start()
    clock.sleep(plan.failed(httpx.ConnectError('refused')))
    plan.start()
    clock.sleep(5)  # a slow attempt
    with pytest.raises(httpx.ConnectError, match=r'after 2 attempts: time budget of 10 s spent'):
        plan.failed(httpx.ConnectError('refused'))


def test_plan_raises_at_once_what_is_not_retried(clock):
    plan = retry.plan(Client(Retry(clock=clock)), 'POST', {})
    plan.start()
    error = httpx.ReadTimeout('slow')
    with pytest.raises(httpx.ReadTimeout) as info:
        plan.failed(error)
    assert (info.value.attempts, str(info.value)) == (1, 'slow')
    plan.start()
    assert plan.failed(httpx.ConnectError('refused')) > 0  # nothing sent: even a POST


def test_plan_answers(clock):
    policy = Retry(attempts=3, backoff=1, jitter=0, clock=clock)
    plan = retry.plan(Client(policy), 'GET', {})
    plan.start()
    assert plan.answered(200, {}) is None
    assert plan.answered(404, {}) is None
    assert plan.answered(503, {'Retry-After': '3'}) == 3
    plan.start()
    assert plan.answered(429, {'Retry-After': email.utils.formatdate(clock.wall + 5, usegmt=True)}) == 5
    plan.start()
    assert plan.answered(503, {}) == math.inf  # give up: the shell returns the last response
    response = plan.last(SimpleNamespace())
    assert response.attempts == 3
    error = ValueError('GET x returned 503')
    assert retry.retried(error, response) is error
    assert (str(error), error.attempts) == ('GET x returned 503 (after 3 attempts: attempts exhausted)', 3)
    assert retry.retried(ValueError(), SimpleNamespace(attempts=2, _retries_ended=None)).attempts == 2
    post = retry.plan(Client(policy), 'POST', {})
    post.start()
    assert post.answered(503, {}) is None  # not retried: the response is returned as it is
    assert post.failed(httpx.ConnectError('refused')) == 1
    post.start()
    assert post.answered(503, {}) is None  # still not a status to retry for a POST
    too_long = retry.plan(Client(policy), 'GET', {})
    too_long.start()
    assert too_long.answered(429, {'Retry-After': '3600'}) is None


def test_plan_options(clock):
    client = Client(Retry(clock=clock), headers={'Idempotency-Key': 'k'})
    kwargs = {'retry': None, 'json': {}}
    plan = retry.plan(client, 'POST', kwargs)
    assert kwargs == {'json': {}}
    assert plan.policy is retry.NEVER
    assert plan.safe
    streamed = retry.plan(client, 'PUT', {'data': iter([b'x'])})
    assert (streamed.policy.attempts, streamed.policy.clock) == (1, clock)  # a stream cannot be sent twice
    single = Retry(attempts=1)
    assert retry.plan(Client(single), 'PUT', {'data': iter([b'x'])}).policy is single


def test_clock():
    clock = retry.Clock()
    assert clock.now() <= retry.Clock().now()
    assert abs(clock.time() - __import__('time').time()) < 60
    clock.sleep(0)
    clock.sleep(-1)
    clock.sleep(0.001)
    asyncio.run(clock.asleep(0))
    asyncio.run(clock.asleep(0.001))


def test_the_default_clock_pickles_by_name(clock):
    assert pickle.loads(pickle.dumps(retry.CLOCK)) is retry.CLOCK
    copy = pickle.loads(pickle.dumps(Retry(clock=retry.Clock())))
    assert type(copy.clock) is retry.Clock
    assert copy.clock is not retry.CLOCK


def test_unsent_retries_only_what_was_never_sent(clock):
    policy = retry.unsent(Retry(attempts=4, backoff=1, jitter=0, timeout=30, retry_after_max=9, clock=clock))
    kept = (policy.attempts, policy.backoff, policy.timeout, policy.retry_after_max, policy.clock)
    assert kept == (4, 1, 30, 9, clock)
    assert (policy.statuses, policy.methods) == (frozenset(), frozenset())
    keyed = retry.plan(Client(policy, headers={'Idempotency-Key': 'k'}), 'GET', {})
    assert not keyed.safe  # no method resent: a key does not opt a request back in
    keyed.start()
    assert keyed.answered(503, {'Retry-After': '1'}) is None  # the answer is returned as it is
    assert keyed.failed(httpx.ConnectError('refused')) == 1
    keyed.start()
    with pytest.raises(httpx.ReadTimeout):
        keyed.failed(httpx.ReadTimeout('slow'))
