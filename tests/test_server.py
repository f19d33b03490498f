"""The test servers: quiet when a client hangs up, loud (a failed test) when a handler fails."""

from __future__ import annotations

import socket
import time

import pytest

from tests.server import ROUTES, Handler, Server


def wait_finished(server: Server, count: int) -> None:
    """Wait until the server has ended `count` connections (and reported their errors)."""
    deadline = time.monotonic() + 10
    while server.finished < count:
        assert time.monotonic() < deadline, 'the server did not finish the connections'
        time.sleep(0.01)


def hang_up(server: Server, request: bytes, read: int = 0, reset: bool = False) -> None:
    """Send `request`, read `read` bytes of the answer, and close the connection (with a RST if `reset`)."""
    with socket.create_connection(('127.0.0.1', server.server_address[1]), timeout=10) as sock:
        sock.sendall(request)
        if read:
            sock.recv(read)
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\1\0\0\0\0\0\0\0')


@pytest.mark.parametrize(
    ('request_bytes', 'read', 'reset'),
    [
        (b'GET /slow?delay=0.2 HTTP/1.1\r\nHost: x\r\n\r\n', 0, False),  # gone before the answer
        (b'GET /slow?delay=0.2 HTTP/1.1\r\nHost: x\r\n\r\n', 0, True),
        (b'GET /bytes/33554432 HTTP/1.1\r\nHost: x\r\n\r\n', 1, False),  # gone in the middle of the body
        (b'GET /bytes/33554432 HTTP/1.1\r\nHost: x\r\n\r\n', 1, True),
        (b'GET /echo HTTP/1.1\r\nHost: x\r\n\r\nGET /ech', 1, True),  # reset in the next request
        (b'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab', 0, False),
    ],
    ids=['before-answer', 'before-answer-reset', 'mid-body', 'mid-body-reset', 'next-request-reset',
         'in-the-request-body'],
)
def test_a_client_hanging_up_is_no_error(fresh: Server, capfd: pytest.CaptureFixture[str],
                                         server_errors: list[str], request_bytes: bytes, read: int,
                                         reset: bool) -> None:
    hang_up(fresh, request_bytes, read, reset)
    wait_finished(fresh, 1)
    assert server_errors == []
    assert capfd.readouterr().err == ''


def test_a_handler_error_is_reported(fresh: Server, capfd: pytest.CaptureFixture[str], server_errors: list[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(handler: Handler) -> None:
        raise ZeroDivisionError('a bug in the handler')

    monkeypatch.setitem(ROUTES, '/broken', broken)
    hang_up(fresh, b'GET /broken HTTP/1.1\r\nHost: x\r\n\r\n', 1)
    wait_finished(fresh, 1)
    assert len(server_errors) == 1
    assert 'ZeroDivisionError: a bug in the handler' in server_errors.pop()  # expected: the fixture passes
    assert capfd.readouterr().err == ''
