"""Deadlines bound a whole request, whatever a slow server does, in both shells and over both transports."""

from __future__ import annotations

import socket
import time

import pytest
import requests

import clients
from clients import deadlines, httpx
from clients.errors import DeadlineExceeded


def trickle(hostile, head: bytes, body: bytes = b'', pause: float = 0.1):
    """Answer with `head` then `body`, each a byte at a time `pause` seconds apart (a slowloris)."""
    pieces = []
    for byte in head + body:
        pieces += [bytes([byte]), pause]
    hostile.answer(*pieces)


HEAD = b'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 40\r\n\r\n'


@pytest.mark.parametrize('slow', ['head', 'body'])
async def test_a_trickling_server_ends_at_the_deadline(twin, hostile, slow):
    """A byte every 0.1 s keeps every read within its timeout, and the request within none: the deadline ends it."""
    if slow == 'head':
        trickle(hostile, HEAD, b'x' * 40)
    else:
        hostile.answer(HEAD, *[piece for _ in range(40) for piece in (b'x', 0.1)])
    api = twin.Resource(hostile.url, timeout=2, deadline=0.6, retry=None)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match=r'GET http://127\.0\.0\.1:\d+/x: no complete answer within its '
                                               r'deadline of 0\.6 s') as caught:
        await twin(api.get('x'))
    assert 0.5 < time.monotonic() - started < 2.0
    assert isinstance(caught.value, httpx.TimeoutException if twin.name == 'async' else requests.Timeout)
    await twin.close(api)


async def test_the_deadline_covers_retries_and_their_waits(twin, hostile, clock):
    """A retry whose wait would outlast the deadline is not made: the last answer stands."""
    for _ in range(3):
        hostile.answer(b'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\n')
    api = twin.Resource(hostile.url, deadline=3, retry=clients.Retry(attempts=3, clock=clock))
    with pytest.raises(twin.HTTPError, match='503') as caught:
        await twin(api.get('x'))
    assert caught.value.attempts == 1
    assert clock.sleeps == []
    assert len(hostile.requests) == 1
    await twin.close(api)


async def test_a_streamed_request_is_bound_until_its_head(twin, hostile):
    """The stream itself is the caller's: it may outlast the deadline, read by read."""
    hostile.answer(HEAD, *[piece for _ in range(8) for piece in (b'xxxxx', 0.1)])
    api = twin.Resource(hostile.url, timeout=2, deadline=0.3, retry=None)
    chunks = await twin.list(api.iter('x'))
    assert b''.join(chunks) == b'x' * 40
    await twin.close(api)


async def test_deadline_settings(twin, hostile):
    api = twin.Resource(hostile.url)
    assert api.deadline == deadlines.DEFAULT == 300.0
    assert (api / 'x').deadline == 300.0
    api.deadline = None
    assert api.with_timeout(1).deadline is None
    for bad in (0, -1, float('inf'), float('nan'), True, '5'):
        with pytest.raises(ValueError, match='deadline must be a finite number of seconds > 0 or None'):
            twin.Resource(hostile.url, deadline=bad)
    trickle(hostile, HEAD, b'x' * 40, pause=0.05)
    with pytest.raises(DeadlineExceeded, match=r'deadline of 0\.2 s'):
        await twin(api.get('x', deadline=0.2))  # a request's own deadline, on a client that has none
    hostile.answer(b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    bound = twin.Resource(hostile.url, deadline=0.5)
    assert await twin(bound.get('x', deadline=None)) == b'ok'
    await twin.close(bound)
    await twin.close(api)


def test_a_released_connection_is_not_cut():
    """The watchdog cuts only the connections a request is still reading from."""

    opened = []

    class Connection:
        def __init__(self):
            self.sock, self.peer = socket.socketpair()
            opened.extend((self.sock, self.peer))

    watchdog = deadlines.Watchdog()
    kept, released = Connection(), Connection()
    with watchdog.watch(0.2) as watch:
        watch.attach(released)
        watch.release()
        watch.attach(kept)
        assert watchdog.current() is watch
        time.sleep(0.5)
        assert watch.expired
        assert watch.remaining() == 0
        assert kept.sock.recv(1) == b''  # shut down: a blocked read ends at once
        released.peer.sendall(b'!')
        assert released.sock.recv(1) == b'!'
        late = Connection()
        watch.attach(late)  # attached after the deadline: cut at once
        assert late.sock.recv(1) == b''
    assert watchdog.current() is None
    for sock in opened:
        sock.close()


def test_the_watchdog_starts_again_in_a_forked_child():
    watchdog = deadlines.Watchdog()
    with watchdog.watch(10):
        pass
    assert watchdog.thread is not None
    watchdog._forked()
    assert watchdog.thread is None
    assert not watchdog.active
    with watchdog.watch(0.05) as watch:
        watch.attach(type('Plain', (), {'sock': None})())  # a connection not yet connected is skipped
        time.sleep(0.3)
    assert watch.expired


async def test_a_timeout_of_another_kind_is_not_the_deadline():
    """A `TimeoutError` raised by a transport of the user's own, before the deadline, stays what it is."""

    def handler(request):
        raise TimeoutError('the transport gave up')

    api = clients.AsyncResource('http://api.test/', transport=httpx.MockTransport(handler), deadline=5, retry=None)
    with pytest.raises(TimeoutError, match='the transport gave up') as caught:
        await api.get('x')
    assert not isinstance(caught.value, DeadlineExceeded)
    await api.aclose()
