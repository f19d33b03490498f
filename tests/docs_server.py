"""The API the documentation's examples talk to (tests/test_docs.py): a small, forgiving server on 127.0.0.1.

It answers the paths the examples use the way a real API would (pages with `Link` headers,
`Location` on create, an `ETag` and `If-Match`, NDJSON and event streams, downloads with
ranges, JSON-RPC, GraphQL, an OAuth 2.0 token endpoint); any other request gets a JSON echo
of itself, so an example can send what it likes and read what was sent.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.server import ReportsErrors

Answer = tuple[int, bytes, dict[str, str]]
FILE = bytes(range(256)) * 256  # what every download gets: 64 KiB
REPOS = [{'full_name': f'coady/repo-{number}', 'name': f'repo-{number}'} for number in range(1, 6)]
ITEM = {'id': 7, 'name': 'x'}


def send_json(value: Any, status: int = 200, **headers: str) -> Answer:
    return status, json.dumps(value).encode(), {'Content-Type': 'application/json', **headers}


def repos(handler: Handler) -> Answer:
    """A list of repositories, two to a page when `per_page` is given, linked by RFC 8288 `Link`."""
    query = handler.query
    if 'per_page' not in query:
        return send_json(REPOS)
    page = int(query.get('page', 1))
    headers = {'Link': f'<?per_page={query["per_page"]}&page={page + 1}>; rel="next"'} if page * 2 < len(REPOS) else {}
    return send_json(REPOS[(page - 1) * 2: page * 2], **headers)


def items(handler: Handler) -> Answer:
    if handler.command == 'POST':
        return send_json(ITEM, 201, Location=handler.url(f'{handler.path_only.rstrip("/")}/7'))
    return send_json([ITEM])


def item(handler: Handler) -> Answer:
    """One item with a strong ETag; a PUT must match it."""
    if handler.command == 'PUT':
        if handler.headers.get('If-Match') not in (None, '"v1"'):
            return send_json({'message': 'changed since it was read'}, 412)
        return send_json(json.loads(handler.body), ETag='"v2"')
    return send_json(ITEM, ETag='"v1"')


def download(handler: Handler) -> Answer:
    """A file, in part when asked with `Range: bytes=N-`."""
    if match := re.fullmatch(r'bytes=(\d+)-', handler.headers.get('Range', '')):
        start = int(match[1])
        return 206, FILE[start:], {'Content-Range': f'bytes {start}-{len(FILE) - 1}/{len(FILE)}', 'ETag': '"f"'}
    return 200, FILE, {'Content-Type': 'application/octet-stream', 'ETag': '"f"'}


def ndjson(handler: Handler) -> Answer:
    return 200, b''.join(json.dumps({'event': n}).encode() + b'\n' for n in range(3)), {
        'Content-Type': 'application/x-ndjson'}


def events(handler: Handler) -> Answer:
    """An event stream that a reconnect with `Last-Event-ID` finds finished (204)."""
    if handler.headers.get('Last-Event-ID'):
        return 204, b'', {}
    text = ''.join(f'id: {n}\nevent: token\ndata: {{"n": {n}}}\n\n' for n in range(3))
    return 200, f'retry: 1\n\n{text}'.encode(), {'Content-Type': 'text/event-stream'}


def jsonrpc(handler: Handler) -> Answer:
    """JSON-RPC 2.0 calls, notifications and batches of a few methods."""
    methods: dict[str, Callable[..., Any]] = {
        'subtract': lambda a=0, b=0, minuend=0, subtrahend=0: a - b + minuend - subtrahend,
        'math.add': lambda *values: sum(values), 'sum': lambda *values: sum(values),
        'get_data': lambda: ['hello', 5], 'log': lambda *args: None, 'ping': lambda: None,
    }

    def answer(call: dict[str, Any]) -> dict[str, Any] | None:
        params = call.get('params', [])
        result = methods[call['method']](**params) if isinstance(params, dict) else methods[call['method']](*params)
        return {'jsonrpc': '2.0', 'result': result, 'id': call['id']} if 'id' in call else None

    message = json.loads(handler.body)
    if isinstance(message, list):
        return send_json([reply for call in message if (reply := answer(call)) is not None])
    reply = answer(message)
    return (204, b'', {}) if reply is None else send_json(reply)


def graphql(handler: Handler) -> Answer:
    variables = json.loads(handler.body).get('variables') or {}
    return send_json({'data': {'user': {'name': variables.get('login', 'anonymous')}}},
                     **{'Content-Type': 'application/graphql-response+json'})


def token(handler: Handler) -> Answer:
    return send_json({'access_token': 'docs-access-token', 'token_type': 'Bearer', 'expires_in': 3600})


ROUTES: list[tuple[str, Callable[[Handler], Answer]]] = [
    (r'(.*/)?user/repos', repos),
    (r'(.*/)?items', items),
    (r'(.*/)?items/\d+', item),
    (r'(.*/)?(reports|isos|files)/.+', download),
    (r'(.*/)?events', ndjson),
    (r'(.*/)?v1/stream', events),
    (r'(.*/)?jsonrpc', jsonrpc),
    (r'(.*/)?graphql', graphql),
    (r'(.*/)?oauth/token', token),
]


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server: DocsServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def path_only(self) -> str:
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(urlsplit(self.path).query).items()}

    def url(self, path: str) -> str:
        return f'http://127.0.0.1:{self.server.server_port}{path}'

    def handle_any(self) -> None:
        self.body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        with self.server.lock:
            self.server.requests.append((self.command, self.path))
        for pattern, answer in ROUTES:
            if re.fullmatch(pattern, self.path_only.strip('/')):
                status, body, headers = answer(self)
                break
        else:
            status, body, headers = send_json({'method': self.command, 'path': self.path_only, 'query': self.query,
                                               'body': self.body.decode(errors='replace')})
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 204:
            self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.command != 'HEAD' and status != 204:
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_any


class DocsServer(ReportsErrors, ThreadingHTTPServer):
    """The examples' API on a free port of 127.0.0.1, in a daemon thread."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(('127.0.0.1', 0), Handler)
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []  # (method, target) of every request served
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def origin(self) -> str:
        return f'http://127.0.0.1:{self.server_port}'

    def close(self) -> None:
        self.shutdown()
        self.server_close()
