"""Routes under /v2 on the test server (tests/server.py) for the forwarding tests."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from tests import server as upstream
from tests.server import Handler, route

MiB = 1 << 20
PIECE = bytes(range(256)) * 256

for name in ('bytes', 'slow', 'redirect', 'gate', 'status', 'short', 'flaky'):
    route(f'/v2/{name}')(upstream.ROUTES[f'/{name}'])

CLOSED: dict[str, threading.Event] = {}
UPLOADS: dict[str, Any] = {}


@route('/v2/endless')
def endless(handler: Handler) -> None:
    """Stream up to 2 GiB; record in CLOSED[token] when the reader closes the connection."""
    closed = CLOSED.setdefault(handler.query['token'], threading.Event())
    handler.send_response(200)
    handler.send_header('Content-Type', 'application/octet-stream')
    handler.send_header('Content-Length', str(2048 * MiB))
    handler.end_headers()
    deadline = time.monotonic() + 30
    try:
        for _ in range(2048 * MiB // len(PIECE)):
            handler.wfile.write(PIECE)
            if time.monotonic() > deadline:
                break
    except OSError:
        closed.set()
    handler.close_connection = True


@route('/v2/upload')
def upload(handler: Handler) -> None:
    """Read the body (Content-Length or chunked) in pieces; answer its size and SHA-256."""
    digest, size = hashlib.sha256(), 0
    chunked = handler.headers.get('Transfer-Encoding', '').lower() == 'chunked'

    def pieces() -> Iterator[int]:
        if not chunked:
            yield int(handler.headers.get('Content-Length') or 0)
            return
        while (length := int(handler.rfile.readline().split(b';')[0], 16)) > 0:
            yield length
            handler.rfile.readline()
        while handler.rfile.readline() not in (b'\r\n', b''):
            pass

    for length in pieces():
        while length > 0:
            data = handler.rfile.read(min(length, len(PIECE)))
            if not data:
                UPLOADS[handler.query.get('token', '')] = 'short'
                handler.close_connection = True
                return
            digest.update(data)
            size += len(data)
            length -= len(data)
    UPLOADS[handler.query.get('token', '')] = size
    handler.send_json(200, {'size': size, 'sha256': digest.hexdigest(), 'chunked': chunked,
                            'length': handler.headers.get('Content-Length')})


MOVED = b'<p>Moved to <a href="/v2/x">/v2/x</a>.</p>\n' * 100


@route('/v2/moved')
def moved(handler: Handler) -> None:
    """A redirect with a body, as Flask, Express and nginx send one."""
    handler.send(302, MOVED, 'text/html', Location='/v2/x')


@route('/v2/hop')
def hop(handler: Handler) -> None:
    """A response with hop-by-hop headers, a header named in Connection, and cookies."""
    handler.send_response(200)
    handler.send_header('Connection', 'keep-alive, X-Upstream-Secret')
    handler.send_header('Keep-Alive', 'timeout=5')
    handler.send_header('X-Upstream-Secret', 'hidden')
    handler.send_header('Set-Cookie', 'a=1; Path=/')
    handler.send_header('Set-Cookie', 'b=2; Path=/')
    handler.send_header('X-Kept', 'yes')
    handler.send_header('Content-Length', '2')
    handler.end_headers()
    handler.wfile.write(b'ok')


def pattern(size: int) -> bytes:
    return (PIECE * (size // len(PIECE) + 1))[:size]


