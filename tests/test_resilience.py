"""Retries and rate limits through both shells, against the real local server, on a fake clock."""

import asyncio
import concurrent.futures
import contextlib
import email.utils
import errno
import io
import pickle
import socket
import ssl
import threading
import time
import uuid

import pytest
import requests
import urllib3

import clients
from clients import RateLimit, Retry, httpx, retry
from tests.conftest import FakeClock


def flaky(fail=1, **query):
    """The query of a `/flaky` request failing `fail` times, under a key of its own."""
    return {'key': uuid.uuid4().hex, 'fail': str(fail), **query}


def closed_port():
    """A local port nothing listens on: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def described(error):
    """An error's message and notes: where the number of attempts is told."""
    return ' '.join([str(error), *getattr(error, '__notes__', [])])


def read_error(twin):
    return requests.ConnectionError if twin.name == 'sync' else httpx.RemoteProtocolError


def connect_error(twin):
    return requests.ConnectionError if twin.name == 'sync' else httpx.ConnectError


async def test_failed_statuses_are_retried_with_backoff(twin, server, clock):
    api = twin.Resource(server.url, retry=Retry(backoff=1, jitter=0, clock=clock))
    assert await twin(api.get('flaky', params=flaky(2))) == {'attempt': 3, 'port': server.server_address[1]}
    assert clock.sleeps == [1, 2]
    await twin.close(api)


@pytest.mark.parametrize('status', [429, 502, 503, 504])
async def test_last_status_is_raised_with_the_attempts(twin, server, clock, status):
    resource = twin.Resource(server.url, retry=Retry(backoff=1, jitter=0, clock=clock))
    with pytest.raises(twin.HTTPError) as info:
        await twin(resource.get('flaky', params=flaky(5, status=str(status))))
    error = info.value
    assert (error.status_code, error.attempts) == (status, 3)
    assert str(error).endswith('failure 3 (after 3 attempts: attempts exhausted)')
    assert error.response.status_code == status
    assert error.response.attempts == 3
    await twin.close(resource)


@pytest.mark.parametrize('kind', ['Client', 'Proxy'])
@pytest.mark.parametrize('stream', [False, True])
@pytest.mark.parametrize('status', [429, 503])
async def test_a_plain_client_returns_the_last_response_with_its_attempts(twin, server, clock, kind, stream, status):
    """A plain client is a Session: it never raises for a status, also once its retries ran out."""
    client = getattr(twin, kind)(server.url, retry=Retry(backoff=1, jitter=0, clock=clock))
    response = await twin(client.get('flaky', params=flaky(5, status=str(status)), stream=stream))
    assert (response.status_code, response.attempts) == (status, 3)
    body = await twin(response.aread()) if twin.name == 'async' else response.content
    assert b'failure 3' in body  # the last answer, still readable when streamed
    assert clock.sleeps == [1, 2]
    await twin.close(client)
    client = twin.Client(server.url, retry=Retry(backoff=1, jitter=0, clock=clock))
    ok = await twin(client.get('flaky', params=flaky(1)))
    assert (ok.status_code, ok.attempts) == (200, 2)
    await twin.close(client)


async def test_other_statuses_are_not_retried(twin, server, clock):
    client = twin.Client(server.url, retry=Retry(clock=clock))
    assert (await twin(client.get('flaky', params=flaky(1, status='500')))).status_code == 500
    query = flaky(1)
    assert (await twin(client.post('flaky', params=query))).status_code == 503  # POST: not idempotent
    assert server.hits[query['key']] == 1
    assert clock.sleeps == []
    await twin.close(client)


@pytest.mark.parametrize('how', ['key', 'client', 'request'])
async def test_post_is_retried_when_opted_in(twin, server, clock, how):
    policy = Retry(backoff=1, jitter=0, clock=clock)
    opted = Retry(methods=Retry().methods | {'POST'}, backoff=1, jitter=0, clock=clock)
    api = twin.Resource(server.url, retry=opted if how == 'client' else policy)
    kwargs = {'headers': {'Idempotency-Key': 'k1'}} if how == 'key' else {}
    if how == 'request':
        kwargs['retry'] = opted
    assert (await twin(api.post('flaky', {'a': 1}, params=flaky(1), **kwargs)))['attempt'] == 2
    assert clock.sleeps == [1]
    await twin.close(api)


async def test_retry_after_is_honoured(twin, server, clock):
    api = twin.Resource(server.url, retry=Retry(clock=clock))
    await twin(api.get('flaky', params=flaky(1, status='429', retry_after='7')))
    date = email.utils.formatdate(clock.time() + 12, usegmt=True)
    await twin(api.get('flaky', params=flaky(1, status='503', retry_after=date)))
    assert clock.sleeps == [7, 12]
    with pytest.raises(twin.HTTPError) as info:  # longer than retry_after_max: no retry
        await twin(api.get('flaky', params=flaky(1, status='429', retry_after='3600')))
    assert info.value.attempts == 1
    await twin.close(api)


async def test_time_budget_ends_retries(twin, server, clock):
    api = twin.Resource(server.url, retry=Retry(attempts=10, backoff=4, jitter=0, timeout=10, clock=clock))
    with pytest.raises(twin.HTTPError, match=r'after 2 attempts: time budget of 10 s spent') as info:
        await twin(api.get('flaky', params=flaky(5)))
    assert info.value.attempts == 2
    assert clock.sleeps == [4]
    await twin.close(api)


async def test_dropped_connections_are_retried_for_idempotent_requests_only(twin, server, clock):
    api = twin.Resource(server.url, retry=Retry(backoff=1, jitter=0, clock=clock))
    assert (await twin(api.get('flaky', params=flaky(2, drop='1'))))['attempt'] == 3
    query = flaky(1, drop='1')
    with pytest.raises(read_error(twin)) as info:
        await twin(api.post('flaky', {}, params=query))
    assert info.value.attempts == 1
    assert server.hits[query['key']] == 1
    with pytest.raises(read_error(twin)) as info:
        await twin(api.get('flaky', params=flaky(5, drop='1')))
    assert info.value.attempts == 3
    assert 'after 3 attempts: attempts exhausted' in described(info.value)
    await twin.close(api)


async def test_connect_errors_are_retried_for_any_method(twin, clock):
    api = twin.Resource(f'http://127.0.0.1:{closed_port()}/', retry=Retry(backoff=1, jitter=0, clock=clock))
    with pytest.raises(connect_error(twin)) as info:
        await twin(api.post('x', {'a': 1}))
    assert info.value.attempts == 3
    assert 'after 3 attempts: attempts exhausted' in described(info.value)
    assert clock.sleeps == [1, 2]
    await twin.close(api)


async def test_read_timeouts_are_retried(twin, server, clock):
    api = twin.Resource(server.url, timeout=0.2, retry=Retry(attempts=2, clock=clock))
    error = requests.exceptions.ReadTimeout if twin.name == 'sync' else httpx.ReadTimeout
    with pytest.raises(error) as info:
        await twin(api.slow.get(params={'delay': '1'}))
    assert info.value.attempts == 2
    await twin.close(api)


async def test_retry_settings_are_inherited_and_overridable(twin, server, clock):
    api = twin.Resource(server.url, retry=None)
    assert api.retry is clients.retry.NEVER
    assert twin.Resource(server.url).retry == Retry()  # the default
    with pytest.raises(twin.HTTPError) as info:
        await twin(api.get('flaky', params=flaky(1)))
    assert info.value.attempts == 1
    policy = Retry(clock=clock)
    api.retry = policy
    child = api.echo / 'x'
    assert child.retry is policy
    assert (await twin(api.get('flaky', params=flaky(1))))['attempt'] == 2
    with pytest.raises(twin.HTTPError):
        await twin(api.get('flaky', params=flaky(1), retry=None))
    with pytest.raises(TypeError, match=r'retry must be a clients\.Retry, None or False, not 3'):
        twin.Client(server.url, retry=3)
    await twin.close(api)


async def test_a_stream_body_is_not_sent_twice(twin, server, clock):
    api = twin.Client(server.url, retry=Retry(clock=clock))
    query = flaky(1)
    body = {'data': io.BytesIO(b'body')} if twin.name == 'sync' else {'content': _body()}
    response = await twin(api.put('flaky', params=query, **body))
    assert response.status_code == 503
    assert server.hits[query['key']] == 1
    await twin.close(api)


async def _body():
    yield b'body'


async def test_streamed_requests_are_retried_and_closed(twin, server, clock):
    api = twin.Client(server.url, retry=Retry(clock=clock))
    manager = api.stream if twin.name == 'async' else api.streaming
    query = flaky(2)
    if twin.name == 'async':
        async with manager('GET', 'flaky', params=query) as response:
            assert (await response.aread()).startswith(b'{"attempt": 3')
    else:
        with manager('GET', 'flaky', params=query) as response:
            assert response.json()['attempt'] == 3
    await twin.close(api)


async def test_streamed_error_after_retries(twin, server, clock):
    api = twin.Resource(server.url, retry=Retry(clock=clock))
    with pytest.raises(twin.HTTPError, match='failure 3'):
        await twin.list(api.iter('flaky', params=flaky(3)))
    await twin.close(api)


async def test_flows_are_retried(twin, server, clock):
    api = twin.Resource(server.url, retry=Retry(clock=clock))
    with pytest.raises(twin.HTTPError, match=r'failure 3 \(after 3 attempts') as info:
        await twin(api.authorize('flaky', params=flaky(3)))
    assert info.value.attempts == 3
    await twin.close(api)


@pytest.mark.parametrize('form', ['%a, %d %b %Y %H:%M:%S GMT', '%A, %d-%b-%y %H:%M:%S GMT', '%a %b %e %H:%M:%S %Y'])
async def test_retry_after_in_every_http_date_form(twin, server, clock, form):
    api = twin.Resource(server.url, retry=Retry(clock=clock))
    date = time.strftime(form, time.gmtime(clock.time() + 12))
    await twin(api.get('flaky', params=flaky(1, status='503', retry_after=date)))
    assert clock.sleeps == [12]
    await twin.close(api)


@pytest.mark.parametrize('value', ['²', '³', '1²', '1_0', '+7', 'inf', 'nan', '-7', 'Tue, 14 Nov 2023 22:13:40'])
async def test_garbage_retry_after_is_ignored(twin, server, clock, value):
    api = twin.Resource(server.url, retry=Retry(clock=clock, backoff=1, jitter=0),
                        rate=RateLimit(headers=True))
    assert await twin(api.get('flaky', params=flaky(1, status='503', retry_after=value))) == {
        'attempt': 2, 'port': server.server_address[1]}
    await twin(api.get('ratelimited', params={'reset': value}))
    await twin(api.echo.get())
    assert clock.sleeps == [1]  # the backoff, as with no Retry-After; the reset is ignored
    await twin.close(api)


async def test_client_rate_limit(twin, server, clock):
    limit = RateLimit(2, burst=1)
    api = twin.Resource(server.url, rate=limit, retry=Retry(clock=clock))
    assert api.rate is limit
    child = api / 'echo'
    for _ in range(3):
        await twin(api.echo.get())
        await twin(child.get())  # derived clients share their root's limit
    assert clock.sleeps == [0.5] * 5
    api.rate = 10
    assert api.rate.rate == 10.0
    assert child.rate is limit
    await twin.close(api)


async def test_server_rate_limit_headers(twin, server, clock):
    api = twin.Resource(server.url, rate=RateLimit(headers=True), retry=Retry(clock=clock))
    await twin(api.get('ratelimited', params={'reset': '3'}))
    assert clock.sleeps == []
    await twin(api.echo.get())
    assert clock.sleeps == [3]
    await twin(api.echo.get())
    assert clock.sleeps == [3]
    # a 429's Retry-After holds the other requests too
    await twin(api.get('flaky', params=flaky(1, status='429', retry_after='2')))
    assert clock.sleeps == [3, 2]
    with pytest.raises(TypeError, match='rate must be a number of requests per second'):
        twin.Client(server.url, rate='fast')
    await twin.close(api)


class FrozenClock(FakeClock):
    """A clock that records sleeps (from any thread) but never moves: every slot is reserved at once."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def sleep(self, seconds):
        if seconds > 0:
            with self.lock:
                self.sleeps.append(seconds)


async def test_rate_limit_is_exact_under_threads_and_tasks(twin, server):
    clock = FrozenClock()
    api = twin.Client(server.url, rate=RateLimit(5, burst=2), retry=Retry(clock=clock))

    async def one():
        return (await twin(api.get('echo'))).status_code

    if twin.name == 'async':
        statuses = await asyncio.gather(*(one() for _ in range(20)))
    else:
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(lambda _: asyncio.run(one()), range(20)))
    assert statuses == [200] * 20
    # 2 at once, then one slot each 1/5 s: each request got its own
    assert sorted(clock.sleeps) == pytest.approx([n / 5 for n in range(1, 19)])
    await twin.close(api)


def test_sync_clients_pickle_with_their_settings(server):
    api = clients.Resource(server.url, rate=RateLimit(3), retry=Retry(attempts=4))
    copy = pickle.loads(pickle.dumps(api.echo))
    assert copy.retry == Retry(attempts=4)
    assert (copy.rate.rate, copy.rate.burst) == (3.0, 3)
    assert copy.get()['path'] == '/echo'
    copy.close()
    api.close()


async def test_every_client_class_takes_the_settings(twin, clock):
    policy, limit = Retry(clock=clock), RateLimit(5)
    for cls in (twin.Client, twin.Resource, twin.Remote, twin.Graph, twin.Proxy):
        client = cls('http://api.test/', retry=policy, rate=limit)
        derived = client / 'x'
        assert (client.retry, client.rate, derived.retry, derived.rate) == (policy, limit, policy, limit)
        assert cls('http://api.test/').retry == Retry()
        assert cls('http://api.test/').rate is None
        await twin.close(client)


async def test_remote_calls_retry_connect_errors_only(twin, server, clock):
    rpc = twin.Remote(server.url, retry=Retry(clock=clock))
    query = flaky(1)
    with pytest.raises(twin.HTTPError) as info:  # a POST answered 503 is not sent again
        await twin(rpc.flaky.with_params(query)())
    assert info.value.attempts == 1
    assert server.hits[query['key']] == 1
    down = twin.Remote(f'http://127.0.0.1:{closed_port()}/', retry=Retry(clock=clock))
    with pytest.raises(connect_error(twin)) as info:
        await twin(down(method='x'))
    assert info.value.attempts == 3
    await twin.close(rpc)
    await twin.close(down)


def hanging_up():
    """A local server that reads each request and closes the connection without an answer."""
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(16)

    def serve():
        with contextlib.suppress(OSError):
            while True:
                connection, _ = listener.accept()
                with connection:
                    connection.recv(1 << 16)

    threading.Thread(target=serve, daemon=True).start()
    return listener


@pytest.mark.parametrize('case', ['refused', 'hung up'])
async def test_transport_errors_say_what_failed_in_one_line(twin, clock, case):
    """`GET <url>: connection refused (after 3 attempts ...)`, in every shell and transport: the
    library's class, the URL's secrets redacted, the library's own error as the cause."""
    listener = hanging_up() if case == 'hung up' else None
    port = listener.getsockname()[1] if listener else closed_port()
    cause = 'connection refused' if case == 'refused' else 'the server closed the connection without an answer'
    kinds = {'refused': connect_error(twin), 'hung up': read_error(twin)}
    client = twin.Client(f'http://127.0.0.1:{port}/', retry=Retry(clock=clock))
    with pytest.raises(kinds[case]) as info:
        await twin(client.get('x', params={'access_token': 'hunter2', 'page': 1}))
    error = info.value
    assert str(error) == (f'GET http://127.0.0.1:{port}/x?access_token=***&page=1: {cause} '
                          '(after 3 attempts: attempts exhausted)')
    assert type(error.__cause__) is type(error)  # the library's error, as it was
    assert 'hunter2' not in described(error.__cause__)
    assert error.request is not None
    await twin.close(client)
    if listener:
        listener.close()


@pytest.mark.parametrize(('error', 'words'), [
    (requests.ConnectionError(urllib3.exceptions.MaxRetryError(
        None, '/x', urllib3.exceptions.ProtocolError('Connection aborted.', ConnectionRefusedError(111, 'x')))),
     'connection refused'),
    (httpx.ConnectError('All connection attempts failed'), 'All connection attempts failed'),
    (httpx.ConnectTimeout('timed out'), 'connect timed out'),
    (requests.exceptions.ConnectTimeout('x'), 'connect timed out'),
    (requests.exceptions.ReadTimeout('x'), 'read timed out'),
    (httpx.ReadTimeout('x'), 'read timed out'),
    (httpx.WriteTimeout('x'), 'write timed out'),
    (httpx.PoolTimeout('x'), 'no pooled connection came free in time'),
    (httpx.ReadError(''), 'ReadError'),
    (requests.ConnectionError(TimeoutError('slow')), 'timed out'),
    (requests.ConnectionError(socket.gaierror(-2, 'Name or service not known')),
     'host name not resolved (Name or service not known)'),
    (httpx.ConnectError('x').with_traceback(None), 'x'),
    (requests.ConnectionError(ssl.SSLCertVerificationError(1, 'certificate verify failed')),
     'TLS certificate not accepted: certificate verify failed'),
    (requests.ConnectionError(ssl.SSLError(1, 'wrong version number')), 'TLS failed: wrong version number'),
    (requests.ConnectionError(ConnectionResetError(errno.ECONNRESET, 'reset')), 'connection reset by peer'),
    (httpx.RemoteProtocolError('Server disconnected without sending a response.'),
     'the server closed the connection without an answer'),
])
def test_the_cause_of_a_transport_error_in_a_few_words(error, words):
    assert retry.cause(error) == words


def test_a_cause_is_found_inside_the_chain():
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed ('127.0.0.1', 9)")
    try:
        try:
            raise refused
        except OSError as exc:
            raise OSError('All connection attempts failed') from exc
    except OSError as exc:
        wrapped = httpx.ConnectError('All connection attempts failed')
        wrapped.__cause__ = exc
    wrapped.__context__ = wrapped  # (a loop in the chain is walked once)
    assert retry.cause(wrapped) == 'connection refused'


def test_errors_that_are_not_failures_to_reach_a_host_are_kept_as_they_are():
    for error in (clients.errors.AllHostsDown('GET', {}), requests.TooManyRedirects('30'), httpx.ConnectError('x')):
        assert retry.restated(error, 'GET', None) is error  # (the last one names no URL)
    stated = retry.restated(httpx.ConnectError('x'), 'GET', 'http://h/?token=t')
    assert str(stated) == 'GET http://h/?token=***: x'


def test_a_restated_error_is_judged_as_the_original():
    """A transport error restated in one line keeps its kind: a refused connection stays a connect failure."""
    with requests.Session() as session, pytest.raises(requests.ConnectionError) as caught:
        session.get('http://127.0.0.1:9/x', timeout=5)
    refused = caught.value
    stated = retry.restated(refused, 'GET', 'http://127.0.0.1:9/x')
    assert type(stated) is type(refused)
    assert str(stated) == 'GET http://127.0.0.1:9/x: connection refused'
    assert retry.failure(stated) == retry.failure(refused) == retry.CONNECT
