"""The forwarders' response framing against a hostile upstream, as a caller on one connection sees it.

A raw-socket upstream answers with every framing trick (`Content-Length` beside
`Transfer-Encoding`, conflicting lengths, bodies on 204/304/HEAD, a body longer than its
length, an interim status); the forwarder runs under a real server (werkzeug and wsgiref for
WSGI, uvicorn and hypercorn for ASGI, the async client over both transports), and a caller on
one raw connection reads the answer by its framing and then asks again: the second request
gets its own answer, or the connection is closed with nothing left over. Nothing smuggled.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import h11
import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config
from werkzeug.serving import make_server

import clients
from clients import forward, httpx
from tests.forward_upstream import MOVED
from tests.test_forward import ASGIServer, WSGIThread

SMUGGLED = b'HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled'
BODY = b'hello' + SMUGGLED


def chunked(*pieces: bytes, last: bool = True) -> bytes:
    return b''.join(b'%x\r\n%s\r\n' % (len(piece), piece) for piece in pieces) + (b'0\r\n\r\n' if last else b'')


class Hostile:
    """A raw-socket upstream: `/v2/second` is answered properly, any other path with `answer`."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.sock = socket.create_server(('127.0.0.1', 0))
        self.url = f'http://127.0.0.1:{self.sock.getsockname()[1]}/'
        threading.Thread(target=self.run, daemon=True).start()

    def run(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(connection,), daemon=True).start()

    def serve(self, connection: socket.socket) -> None:
        with connection:
            head = b''
            while b'\r\n\r\n' not in head:
                data = connection.recv(65536)
                if not data:
                    return
                head += data
            self.requests.append(head)
            second = head.split(b' ', 2)[1].endswith(b'/second')
            connection.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond' if second else self.answer)
            connection.shutdown(socket.SHUT_WR)
            while connection.recv(65536):
                pass

    def close(self) -> None:
        self.sock.close()


class Caller:
    """One raw connection to the gateway, read with h11: exactly by the framing the gateway sent."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=20)
        self.conn = h11.Connection(h11.CLIENT)

    def exchange(self, method: str, path: str) -> tuple[h11.Response, bytes, bool]:
        """Send a request; return the response, its body, and whether the body was complete."""
        request = h11.Request(method=method, target=path, headers=[('Host', 'gateway')])
        self.sock.sendall(self.conn.send(request) + self.conn.send(h11.EndOfMessage()))
        response, body = None, b''
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError:  # the connection ended before the framing said
                assert response is not None
                return response, body, False
            if event is h11.NEED_DATA:
                self.conn.receive_data(self.sock.recv(65536))
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert response is not None
                return response, body, True
            else:  # pragma: no cover (a closed connection before any response)
                raise AssertionError(f'no response: {event!r}')

    def again(self) -> bytes | None:
        """Ask for `/api/second` on the same connection; return its body, or None if the gateway closed it.

        A closed connection must have nothing left after the first answer (a smuggled response would be).
        """
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
            response, body, complete = self.exchange('GET', '/api/second')
            assert (response.status_code, complete) == (200, True)
            return body
        rest, _ = self.conn.trailing_data
        while data := self.sock.recv(65536):
            rest += data
        assert rest == b'', f'bytes after the framed answer: {rest!r}'
        return None

    def close(self) -> None:
        self.sock.close()


def headers(response: h11.Response) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in response.headers:
        found.setdefault(name.decode().lower(), []).append(value.decode())
    return found


class Hypercorn:
    """hypercorn in a thread with its own event loop; the client is closed in that loop."""

    def __init__(self, app: Any, client: clients.AsyncClient) -> None:
        self.client = client
        sock = socket.socket()
        sock.bind(('127.0.0.1', 0))
        sock.listen()
        self.url = f'http://127.0.0.1:{sock.getsockname()[1]}'
        config = Config()
        config.bind = [f'fd://{sock.detach()}']  # hypercorn owns and closes it
        config.accesslog = config.errorlog = None
        self.loop = asyncio.new_event_loop()
        self.stopping = asyncio.Event()
        self.thread = threading.Thread(target=self.run, args=(app, config), daemon=True)

    def run(self, app: Any, config: Config) -> None:
        self.loop.run_until_complete(serve(app, config, shutdown_trigger=self.stopping.wait))
        self.loop.run_until_complete(self.client.aclose())

    def start(self) -> None:
        self.thread.start()
        for _ in range(3000):
            try:
                httpx.get(self.url + '/', timeout=1)
                return
            except httpx.TransportError:  # pragma: no cover (only while hypercorn starts)
                time.sleep(0.01)
        raise RuntimeError('hypercorn did not start')  # pragma: no cover

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(10)
        self.loop.close()


class Werkzeug:
    """werkzeug's threaded development server (what Flask runs) in a thread."""

    def __init__(self, app: Any, client: clients.Client) -> None:
        self.client = client
        self.server = make_server('127.0.0.1', 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.url = f'http://127.0.0.1:{self.server.server_port}'

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.client.close()


SERVERS: dict[str, Callable[[Any, Any], Any]] = {
    'werkzeug': Werkzeug, 'wsgiref': WSGIThread, 'uvicorn': ASGIServer, 'hypercorn': Hypercorn}
# (server, async transport) pairs: the WSGI forwarder over requests, the ASGI one over both transports.
FRONTS = ['werkzeug', 'wsgiref', 'uvicorn-httpx', 'uvicorn-aiohttp', 'hypercorn-httpx']


@dataclass
class Front:
    """A forwarder to an upstream, under one server: `serve(url)` returns the gateway's URL."""

    name: str
    running: list[Any] = field(default_factory=list)

    @property
    def server(self) -> str:
        return self.name.partition('-')[0]

    @property
    def transport(self) -> str:
        return self.name.partition('-')[2] or 'requests'

    def serve(self, url: str, **options: Any) -> str:
        if self.transport == 'requests':
            client: Any = clients.Client(url, **options)
            app: Any = forward.wsgi(client, '/api')
        else:
            client = clients.AsyncClient(url, transport=self.transport, **options)
            app = forward.asgi(client, '/api')
        running = SERVERS[self.server](app, client)
        running.start()
        self.running.append(running)
        return str(running.url)

    def close(self) -> None:
        for running in self.running:
            running.stop()


@pytest.fixture(params=FRONTS)
def front(request: pytest.FixtureRequest) -> Iterator[Front]:
    running = Front(request.param)
    yield running
    running.close()


@dataclass
class Case:
    """A hostile answer and what the caller must get: (status, body, Content-Length) by transport."""

    answer: bytes
    expect: dict[str, tuple[int, bytes, str | None]]
    method: str = 'GET'

    def expected(self, transport: str) -> tuple[int, bytes, str | None]:
        return self.expect.get(transport, self.expect['*'])


BAD = (502, b'', None)  # the gateway's own 502 (its JSON body is checked apart)
CASES = {
    'length beside chunked': Case(
        b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n' + chunked(b'hello', SMUGGLED),
        {'*': (200, BODY, None), 'aiohttp': BAD}),
    'chunked beside length': Case(
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n' + chunked(BODY),
        {'*': (200, BODY, None), 'aiohttp': BAD}),
    'chunked, not last': Case(
        b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked, gzip\r\n\r\n' + chunked(BODY),
        {'*': BAD}),
    'chunked twice': Case(
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n' + chunked(BODY),
        {'*': BAD}),
    'conflicting lengths': Case(
        b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 48\r\n\r\n' + BODY, {'*': BAD}),
    'conflicting list': Case(b'HTTP/1.1 200 OK\r\nContent-Length: 5, 48\r\n\r\n' + BODY, {'*': BAD}),
    'signed length': Case(b'HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n' + BODY, {'*': BAD}),
    'repeated length': Case(
        b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n' + BODY,
        {'*': (200, b'hello', '5'), 'aiohttp': BAD}),
    'body past its length': Case(b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n' + BODY, {'*': (200, b'hello', '5')}),
    'body until close': Case(b'HTTP/1.1 200 OK\r\n\r\n' + BODY, {'*': (200, BODY, None)}),
    '204 with a body': Case(
        b'HTTP/1.1 204 No Content\r\nContent-Length: 45\r\n\r\n' + BODY, {'*': (204, b'', None), 'aiohttp': BAD}),
    '304 with a body': Case(
        b'HTTP/1.1 304 Not Modified\r\nContent-Length: 45\r\n\r\n' + BODY, {'*': (304, b'', '45'), 'aiohttp': BAD}),
    'HEAD with a body': Case(
        b'HTTP/1.1 200 OK\r\nContent-Length: 45\r\n\r\n' + BODY, {'*': (200, b'', '45'), 'aiohttp': BAD}, 'HEAD'),
}


@pytest.mark.parametrize('case', CASES.values(), ids=list(CASES))
def test_the_framing_passed_on_is_true_and_nothing_is_smuggled(front, case):
    upstream = Hostile(case.answer)
    caller = Caller(front.serve(upstream.url + 'v2/'))
    try:
        response, body, complete = caller.exchange(case.method, '/api/first')
        status, expected, length = case.expected(front.transport)
        assert (response.status_code, complete) == (status, True)
        if status == 502:
            assert body == b'' if case.method == 'HEAD' else b'"the upstream sent no valid answer"' in body
        else:
            assert body == expected
            # (wsgiref adds its own `Content-Length: 0` to an empty body: true, if against RFC 9110 for a 204)
            found = headers(response).get('content-length')
            assert found == [length] if length is not None else found in (None, ['0'] if not body else None)
        assert caller.again() in (b'second', None)
        assert len(upstream.requests) == 1 + (caller.conn.their_state is h11.DONE)
    finally:
        caller.close()
        upstream.close()
        collect()


def collect() -> None:
    """Collect what urllib3 leaves to the garbage collector: on a bad header it closes the connection
    but not the response it was reading (a socket freed only when collected)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ResourceWarning)
        gc.collect()


def test_an_interim_status_is_never_the_answer(front):
    """A `103 Early Hints` before the answer: skipped by the client, or refused with 502; never passed on."""
    upstream = Hostile(b'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'
                       + BODY)
    caller = Caller(front.serve(upstream.url + 'v2/'))
    try:
        response, body, complete = caller.exchange('GET', '/api/first')
        assert ((response.status_code, body) == (200, b'hello') if front.transport != 'requests'
                else response.status_code in (200, 502))  # (http.client returns the 103 itself)
        assert complete
        assert caller.again() in (b'second', None)
    finally:
        caller.close()
        upstream.close()


def test_the_caller_sees_one_date_and_one_server(front, server):
    """The gateway's server sends its own `Date` and `Server` (uvicorn and werkzeug always do): the upstream's go."""
    caller = Caller(front.serve(server.url + 'v2/'))
    try:
        response, _, complete = caller.exchange('GET', '/api/echo')
        found = headers(response)
        assert (complete, len(found['date']), len(found['server'])) == (True, 1, 1)
        assert not found['server'][0].startswith('BaseHTTP')  # the upstream's
    finally:
        caller.close()


CUTS = {
    'short of its length': b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n' + BODY,
    'chunked, cut': b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' + chunked(BODY, last=False),
}


@pytest.mark.parametrize('answer', CUTS.values(), ids=list(CUTS))
def test_an_upstream_failing_mid_body_cuts_the_caller_off_with_a_warning(front, answer, caplog, monkeypatch):
    # wsgiref speaks HTTP/1.0: a body of unknown length ends at close, so there a cut looks complete
    # to the caller (the README says so); the forwarder still cuts it and warns.
    looks_complete = front.server == 'wsgiref' and b'chunked' in answer
    upstream = Hostile(answer)
    caller = Caller(front.serve(upstream.url + 'v2/'))
    monkeypatch.setattr(logging.getLogger('uvicorn'), 'propagate', True)  # (uvicorn's logging config stops it)
    caplog.set_level(logging.INFO, logger='uvicorn.error')
    try:
        response, body, complete = caller.exchange('GET', '/api/first')
        assert (response.status_code, complete) == (200, looks_complete)
        assert body == BODY[:len(body)]
        for _ in range(500):  # (the server logs once it is done with the connection)
            if any('mid-body' in record.getMessage() for record in caplog.records):
                break
            time.sleep(0.01)
        warnings = [record for record in caplog.records if record.name == 'clients.forward']
        assert [record.levelname for record in warnings] == ['WARNING']
        assert "forwarding GET failed mid-body, the caller's connection is cut" in warnings[0].getMessage()
        if front.transport != 'requests':  # a WSGI app can only raise for its server to cut the connection
            assert not [record for record in caplog.records if record.exc_info]
    finally:
        caller.close()
        upstream.close()


def test_a_redirect_comes_with_its_body(front, server):
    caller = Caller(front.serve(server.url + 'v2/'))
    try:
        response, body, complete = caller.exchange('GET', '/api/moved')
        assert (response.status_code, headers(response)['location'], body, complete) == (302, ['/api/x'], MOVED, True)
        caller.again()  # (its own answer, or closed with nothing left over)
    finally:
        caller.close()
