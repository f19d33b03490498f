"""A real HTTP/1.1 server on 127.0.0.1 for integration tests: keep-alive, connection counts,
redirects, streamed and short bodies."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Route = Callable[['Handler'], None]
ROUTES: dict[str, Route] = {}


def route(path: str) -> Callable[[Route], Route]:
    def register(func: Route) -> Route:
        ROUTES[path] = func
        return func

    return register


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: Server

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def query(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(urlsplit(self.path).query).items()}

    def body(self) -> bytes:
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            data = b''
            while size := int(self.rfile.readline().split(b';')[0], 16):
                data += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return data
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def send(self, status: int, body: bytes = b'', content_type: str = 'application/json', **headers: str) -> None:
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace('_', '-'), value)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def send_json(self, status: int, value: Any, **headers: str) -> None:
        self.send(status, json.dumps(value).encode(), **headers)

    def handle_any(self) -> None:
        path = urlsplit(self.path).path
        with self.server.lock:
            self.server.requests.append((self.command, self.path, dict(self.headers)))
        for prefix in sorted(ROUTES, key=len, reverse=True):
            if path == prefix or path.startswith(prefix.rstrip('/') + '/'):
                return ROUTES[prefix](self)
        return ROUTES['/echo'](self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any


@route('/echo')
def echo(handler: Handler) -> None:
    """Echo the request as JSON: method, path, query, headers, body."""
    body = handler.body()
    handler.send_json(200, {
        'method': handler.command,
        'path': urlsplit(handler.path).path,
        'query': handler.query,
        'headers': {name.lower(): value for name, value in handler.headers.items()},
        'body': body.decode(errors='replace'),
        'port': handler.server.server_address[1],
    })


@route('/status')
def status(handler: Handler) -> None:
    """/status/<code>: answer that status with a JSON error message."""
    code = int(urlsplit(handler.path).path.rsplit('/', 1)[-1])
    handler.send_json(code, {'message': f'status {code} as asked'})


@route('/redirect')
def redirect(handler: Handler) -> None:
    """/redirect?to=URL&code=302: redirect there (a request body is read and dropped)."""
    handler.body()
    handler.send(int(handler.query.get('code', 302)), b'', Location=handler.query['to'])


@route('/short')
def short(handler: Handler) -> None:
    """Promise 100 bytes, send 10, close the connection."""
    handler.send_response(200)
    handler.send_header('Content-Type', handler.query.get('type', 'application/octet-stream'))
    handler.send_header('Content-Length', '100')
    handler.end_headers()
    handler.wfile.write(b'{"a": 1}\n\n')
    handler.wfile.flush()
    handler.close_connection = True


@route('/bytes')
def blob(handler: Handler) -> None:
    """/bytes/<n>: n bytes of a repeating pattern, written in 64 KiB pieces."""
    size = int(urlsplit(handler.path).path.rsplit('/', 1)[-1])
    handler.send_response(200)
    handler.send_header('Content-Type', 'application/octet-stream')
    handler.send_header('Content-Length', str(size))
    handler.end_headers()
    piece = bytes(range(256)) * 256
    sent = 0
    while sent < size:
        part = piece[: min(len(piece), size - sent)]
        handler.wfile.write(part)
        sent += len(part)


@route('/chunks')
def chunks(handler: Handler) -> None:
    """Stream the JSON list `parts` as chunked pieces, pausing `delay` seconds between them."""
    parts = json.loads(handler.query['parts'])
    handler.send_response(200)
    handler.send_header('Content-Type', handler.query.get('type', 'application/x-ndjson'))
    handler.send_header('Transfer-Encoding', 'chunked')
    handler.end_headers()
    for part in parts:
        data = part.encode()
        handler.wfile.write(f'{len(data):x}\r\n'.encode() + data + b'\r\n')
        handler.wfile.flush()
        time.sleep(float(handler.query.get('delay', 0)))
    handler.wfile.write(b'0\r\n\r\n')


@route('/gate')
def gate(handler: Handler) -> None:
    """Send one NDJSON line, wait until the test opens the gate, then say whether it did."""
    handler.send_response(200)
    handler.send_header('Content-Type', 'application/x-ndjson')
    handler.send_header('Transfer-Encoding', 'chunked')
    handler.end_headers()
    first = b'{"first": true}\n'
    handler.wfile.write(f'{len(first):x}\r\n'.encode() + first + b'\r\n')
    handler.wfile.flush()
    opened = handler.server.gate.wait(10)
    last = json.dumps({'gate_opened': opened}).encode()
    handler.wfile.write(f'{len(last):x}\r\n'.encode() + last + b'\r\n0\r\n\r\n')


@route('/gzip')
def gzipped(handler: Handler) -> None:
    """NDJSON lines, gzip-compressed, with Content-Encoding: gzip."""
    body = gzip.compress(b'{"n": 1}\n{"n": 2}\n' * 1000)
    handler.send(200, body, 'application/x-ndjson', Content_Encoding='gzip')


@route('/cookie')
def cookie(handler: Handler) -> None:
    """Set a cookie for this host."""
    handler.send_json(200, {}, Set_Cookie='session=abc; Path=/')


@route('/slow')
def slow(handler: Handler) -> None:
    """Answer after `delay` seconds."""
    time.sleep(float(handler.query.get('delay', 1)))
    handler.send_json(200, {'slow': True})


class Server(ThreadingHTTPServer):
    """The test server: counts TCP connections and records requests."""

    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(('127.0.0.1', 0), Handler)
        self.lock = threading.Lock()
        self.connections = 0
        self.gate = threading.Event()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.server_address[1]}/'

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *args: Any) -> None:
        self.shutdown()
        self.server_close()
