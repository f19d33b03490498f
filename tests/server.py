"""A real HTTP/1.1 server on 127.0.0.1 for integration tests: keep-alive, connection counts,
redirects, streamed and short bodies."""

from __future__ import annotations

import base64
import contextlib
import functools
import gzip
import json
import socket
import struct
import sys
import threading
import time
import traceback
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import brotli
from werkzeug.http import http_date, parse_date, parse_etags, quote_etag

from clients.content import zstd

Route = Callable[['Handler'], None]
ROUTES: dict[str, Route] = {}
# Errors raised in the test servers' handlers, as tracebacks: the autouse `server_errors`
# fixture (tests/conftest.py) fails the test during which one was raised.
ERRORS: list[str] = []


class ReportsErrors:
    """A socketserver mixin: a client hanging up is no error; any other handler error is kept in `ERRORS`."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):  # broken pipe, reset, aborted: the client went away
            return
        ERRORS.append(f'{type(self).__name__} {client_address}: {traceback.format_exc()}')


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
            self.server.sockets.append(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def query(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(urlsplit(self.path).query).items()}

    def body(self) -> bytes:
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            data = b''
            while size := int(self.line().split(b';')[0], 16):
                data += self.rfile.read(size)
                self.line()
            self.line()
            return data
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def line(self) -> bytes:
        """Read a line of a chunked body; the connection ending first is the client hanging up."""
        if line := self.rfile.readline():
            return line
        raise ConnectionAbortedError('the client hung up in the middle of a chunked request body')

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


@route('/next')
def next_page(handler: Handler) -> None:
    """/next?to=URL: a page with one item whose next page is URL, in the body and in a `Link` header."""
    handler.send_json(200, {'next': handler.query['to'], 'items': [1]}, Link=f'<{handler.query["to"]}>; rel="next"')


@route('/basic')
def basic(handler: Handler) -> None:
    """/basic?user=U&password=P: 200 for those HTTP Basic credentials (RFC 7617), else 401."""
    user, password = handler.query.get('user', ''), handler.query.get('password', '')
    expected = 'Basic ' + base64.b64encode(f'{user}:{password}'.encode()).decode()
    if handler.headers.get_all('Authorization') != [expected]:
        handler.send_json(401, {'message': 'wrong credentials'}, WWW_Authenticate='Basic realm="test"')
        return
    handler.send_json(200, {'user': user})


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


@route('/close')
def close(handler: Handler) -> None:
    """/close?size=N: N bytes, then close the connection (`Connection: close`)."""
    handler.send(200, b'x' * int(handler.query.get('size', 0)), 'application/octet-stream', Connection='close')


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


@route('/bomb')
def bomb(handler: Handler) -> None:
    """/bomb?mib=N[&encoding=gzip|deflate|br|zstd]: N MiB of zeros, compressed (a decompression bomb)."""
    encoding = handler.query.get('encoding', 'gzip')
    body = _bombs(int(handler.query.get('mib', 64)), encoding)
    if 'corrupt' in handler.query:
        body = body[:100] + b'garbage' + body[107:]
    handler.send(200, body, 'application/octet-stream', Content_Encoding=encoding)


@functools.cache
def _bombs(mib: int, encoding: str) -> bytes:
    if encoding in ('br', 'zstd'):  # compressed a MiB at a time: 2 GiB are never in memory
        if encoding == 'br':
            compressor = brotli.Compressor(quality=5)
            mib_of_zeros = b'\0' * (1 << 20)
            return b''.join(compressor.process(mib_of_zeros) for _ in range(mib)) + compressor.finish()
        compressor = zstd.ZstdCompressor()
        return b''.join(compressor.compress(b'\0' * (1 << 20)) for _ in range(mib)) + compressor.flush()
    data = b'\0' * (mib << 20)
    return gzip.compress(data, 9) if encoding == 'gzip' else zlib.compress(data, 9)


@route('/endless')
def endless(handler: Handler) -> None:
    """A chunked body of 64 KiB chunks that never ends (until the client hangs up, or 1 GiB)."""
    handler.send_response(200)
    handler.send_header('Content-Type', 'application/octet-stream')
    handler.send_header('Transfer-Encoding', 'chunked')
    handler.end_headers()
    chunk = b'%x\r\n' % (1 << 16) + b'x' * (1 << 16) + b'\r\n'
    with contextlib.suppress(OSError):
        for _ in range(1 << 14):
            handler.wfile.write(chunk)
    handler.close_connection = True


@route('/encoded')
def encoded(handler: Handler) -> None:
    """/encoded?encoding=E&hex=H: the bytes H, sent as they are with Content-Encoding: E."""
    handler.send(200, bytes.fromhex(handler.query['hex']), 'application/octet-stream',
                 Content_Encoding=handler.query['encoding'])


@route('/layers')
def layers(handler: Handler) -> None:
    """/layers?n=N: the JSON {"layers": N}, gzip-compressed N times (Content-Encoding lists each)."""
    count = int(handler.query['n'])
    body = json.dumps({'layers': count}).encode()
    for _ in range(count):
        body = gzip.compress(body)
    handler.send(200, body, Content_Encoding=', '.join(['gzip'] * count))


@route('/cookie')
def cookie(handler: Handler) -> None:
    """Set a cookie for this host: `session=abc`, or `?name=N&value=V`."""
    name, value = handler.query.get('name', 'session'), handler.query.get('value', 'abc')
    handler.send_json(200, {}, Set_Cookie=f'{name}={value}; Path=/')


@route('/slow')
def slow(handler: Handler) -> None:
    """Answer after `delay` seconds."""
    time.sleep(float(handler.query.get('delay', 1)))
    handler.send_json(200, {'slow': True})


@route('/flaky')
def flaky(handler: Handler) -> None:
    """/flaky?key=K&fail=N: fail the first N requests for key K, then echo the attempt number.

    A failure answers `status` (default 503) with a `Retry-After` of `retry_after` if given,
    or with `drop=1` closes the connection without an answer.
    """
    query = handler.query
    handler.body()
    attempt = handler.server.hit(query.get('key', ''))
    if attempt <= int(query.get('fail', 1)):
        if query.get('drop'):
            handler.close_connection = True
            return
        headers = {'Retry_After': query['retry_after']} if 'retry_after' in query else {}
        handler.send_json(int(query.get('status', 503)), {'message': f'failure {attempt}'}, **headers)
        return
    handler.send_json(200, {'attempt': attempt, 'port': handler.server.server_address[1]})


@route('/healthy')
def healthy(handler: Handler) -> None:
    """/healthy?ports=P,Q: 200 from the servers on those ports, 503 from any other."""
    port = handler.server.server_address[1]
    ok = str(port) in handler.query.get('ports', '').split(',')
    handler.send_json(200 if ok else 503, {'port': port})


@route('/ratelimited')
def ratelimited(handler: Handler) -> None:
    """Answer 200 with `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset: <reset>` seconds."""
    handler.send_json(200, {}, X_RateLimit_Remaining='0', X_RateLimit_Reset=handler.query.get('reset', '1'))
@route('/pages')
def pages(handler: Handler) -> None:
    """/pages?total=N&size=S&page=K[&next=BASE][&loop=1]: items K*S.. with a Link to the next page.

    Each item is {"n": number, "auth": the Authorization header received}; `next` is the base
    URL the next link points to (another server for origin tests); `loop` links the last
    page back to the first.
    """
    query = handler.query
    total, size, page = int(query['total']), int(query.get('size', 2)), int(query.get('page', 1))
    auth = handler.headers.get('Authorization')
    numbers = range((page - 1) * size, min(page * size, total))
    headers = {}
    base = query.get('next', f'http://127.0.0.1:{handler.server.server_address[1]}/')
    extra = ''.join(f'&{name}={query[name]}' for name in ('next', 'loop') if name in query)
    rest = f'total={total}&size={size}{extra}'
    if page * size < total:
        headers['Link'] = f'<{base}pages?{rest}&page={page + 1}>; rel="next", <{base}pages?page=1>; rel="first"'
    elif 'loop' in query:
        headers['Link'] = f'<{base}pages?{rest}&page=1>; rel="next"'
    handler.send_json(200, [{'n': n, 'auth': auth} for n in numbers], **headers)


@route('/sse')
def events(handler: Handler) -> None:
    """/sse?total=N[&drop=K][&retry=MS]: server-sent events `n` = 0..N-1, each in chunks split
    inside its CRLF line endings, after a comment. Resumes after `Last-Event-ID`; with `drop`,
    a connection without `Last-Event-ID` dies (no final chunk) before event K; once every
    event was sent, answers 204 (stop reconnecting).
    """
    query = handler.query
    total = int(query['total'])
    last = handler.headers.get('Last-Event-ID')
    start = int(last) + 1 if last is not None else 0
    if start >= total:
        handler.send(204, b'', 'text/event-stream')
        return
    handler.send_response(200)
    handler.send_header('Content-Type', 'text/event-stream')
    handler.send_header('Transfer-Encoding', 'chunked')
    handler.end_headers()

    def chunk(data: bytes) -> None:
        handler.wfile.write(f'{len(data):x}\r\n'.encode() + data + b'\r\n')
        handler.wfile.flush()

    chunk(b': hello\r\n' + (f'retry: {query["retry"]}\r\n'.encode() if 'retry' in query else b''))
    for n in range(start, total):
        if last is None and 'drop' in query and n == int(query['drop']):
            handler.close_connection = True
            return
        text = f'id: {n}\r\nevent: tick\r\ndata: {{"n": {n}}}\r\ndata:second line\r\n\r\n'.encode()
        middle = text.index(b'\r\n', len(text) // 2) + 1
        chunk(text[:middle])
        chunk(text[middle:])
    handler.wfile.write(b'0\r\n\r\n')


@route('/file')
def ranged(handler: Handler) -> None:
    """/file/<n>: n pattern bytes, honouring `Range: bytes=a-` (206, or 416 past the end).

    Query: `cut=K` sends only the first K bytes of a body and closes the connection;
    `norange=1` ignores Range (200); `badrange=1` answers a range with the wrong start;
    `most=M` sends at most M bytes per 206; `etag=E` is the body's ETag (default v1, `none`
    sends none), and a Range whose If-Range names another ETag gets the whole body, unless
    `ignore=1` (a server that ignores If-Range); `total=T` claims a total length of T in
    Content-Range; `fill=X` makes the body X bytes instead of the pattern (another version);
    `step=S` sends it S bytes at a time, 50 ms apart.
    """
    size = int(urlsplit(handler.path).path.rsplit('/', 1)[-1])
    query = handler.query
    data = query['fill'].encode() * size if 'fill' in query else (bytes(range(256)) * (size // 256 + 1))[:size]
    wanted = handler.headers.get('Range')
    etag = f'"{query.get("etag", "v1")}"'
    condition = handler.headers.get('If-Range')
    if wanted and 'norange' not in query and ('ignore' in query or condition in (None, etag)):
        first = int(wanted.removeprefix('bytes=').rstrip('-'))
        if first >= size:
            handler.send(416, b'', 'text/plain', Content_Range=f'bytes */{size}')
            return
        last = min(size, first + int(query.get('most', size))) - 1
        shown = 0 if 'badrange' in query else first
        headers = {'Content-Range': f'bytes {shown}-{shown + last - first}/{query.get("total", size)}'}
        status, body = 206, data[first:last + 1]
    else:
        status, body, headers = 200, data, {}
    handler.send_response(status)
    handler.send_header('Content-Type', 'application/octet-stream')
    handler.send_header('Content-Length', str(len(body)))
    if etag != '"none"':
        handler.send_header('ETag', etag)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    if 'cut' in query:
        handler.wfile.write(body[: int(query['cut'])])
        handler.close_connection = True
        return
    step = int(query.get('step', len(body) or 1))
    for start in range(0, len(body), step):
        if start:
            time.sleep(0.05)
        handler.wfile.write(body[start:start + step])
        handler.wfile.flush()


def versioned_state(server: Any, name: str) -> dict[str, Any]:
    """The state of `/versioned/<name>` on `server`: its JSON value, version and modification time."""
    with server.lock:
        documents = server.__dict__.setdefault('versioned', {})
        return documents.setdefault(name, {'value': {'n': 1}, 'version': 1, 'modified': 1_700_000_000})


@route('/versioned')
def versioned(handler: Handler) -> None:
    """/versioned/<name>?validators=...: a JSON document whose writes follow RFC 9110 13.2.2.

    `validators` says what the server has for the document: `strong` or `weak` (an ETag, as
    a server that compresses makes it weak) and `date` (Last-Modified), joined by `+`. A PUT
    is refused with 412 if its If-Match has no tag that strongly matches the current one
    (werkzeug's comparison), or, without If-Match, if the document was modified after its
    If-Unmodified-Since; else it replaces the document and returns it.
    """
    state = versioned_state(handler.server, urlsplit(handler.path).path.rsplit('/', 1)[-1])
    kinds = handler.query.get('validators', '').split('+')
    etag = quote_etag(f'v{state["version"]}', weak='weak' in kinds) if {'weak', 'strong'} & set(kinds) else None
    body = handler.body()
    if handler.command == 'PUT':
        if_match, since = handler.headers.get('If-Match'), parse_date(handler.headers.get('If-Unmodified-Since'))
        if if_match is not None:
            matched = etag is not None and not etag.startswith('W/') and parse_etags(if_match).contains(etag[1:-1])
        else:
            matched = since is None or 'date' not in kinds or state['modified'] <= since.timestamp()
        if not matched:
            return handler.send_json(412, {'message': 'changed meanwhile'})
        state.update(value=json.loads(body), version=state['version'] + 1, modified=state['modified'] + 1)
        return handler.send_json(200, state['value'])
    headers = {'ETag': etag} if etag else {}
    if 'date' in kinds:
        headers['Last_Modified'] = http_date(state['modified'])
    return handler.send_json(200, state['value'], **headers)


@route('/cached')
def cached(handler: Handler) -> None:
    """/cached/<name>?cc=...&etag=...&modified=...&expires=S&vary=...&age=S&fail=N&delay=S: a counted document.

    Answers JSON {"name", "hits", "accept"} with the `Cache-Control` `cc`,
    the `ETag` `"<etag>"`, `Last-Modified` (seconds since the epoch), `Expires` (in seconds) and
    `Vary` given (the tag then names the variant too: `<etag>-<value of each field>`), and `Age`, after
    `delay` seconds;
    304 to a request whose validators match; `fail` as the status of every request after the
    first. `hits` counts requests for the name; `/cached/<name>/etag` with `?to=` changes its
    tag. Each request is recorded in `server.requests`.
    """
    name = urlsplit(handler.path).path.split('/')[2]
    query = handler.query
    handler.body()
    with handler.server.lock:
        tags = handler.server.__dict__.setdefault('tags', {})
        if handler.path.split('?')[0].endswith('/etag'):
            tags[name] = query['to']
            return handler.send_json(200, {})
        etag = tags.get(name, query.get('etag'))
    if etag and 'vary' in query:  # each variant is a representation of its own, with a tag of its own
        etag = f'{etag}-' + '-'.join(str(handler.headers.get(field.strip())) for field in query['vary'].split(','))
    hits = handler.server.hit(f'cached/{name}')
    time.sleep(float(query.get('delay', 0)))
    headers = {}
    if 'expires' in query:
        headers['Expires'] = http_date(time.time() + int(query['expires']))
    if 'cc' in query:
        headers['Cache_Control'] = query['cc']
    if etag:
        headers['ETag'] = f'"{etag}"'
    if 'modified' in query:
        headers['Last_Modified'] = http_date(int(query['modified']))
    if 'vary' in query:
        headers['Vary'] = query['vary']
    if 'age' in query:  # as an upstream cache (a CDN) says how old its copy is
        headers['Age'] = query['age']
    if 'fail' in query and hits > 1:
        return handler.send_json(int(query['fail']), {'message': 'failing as asked'})
    since = parse_date(handler.headers.get('If-Modified-Since'))
    if (etag and handler.headers.get('If-None-Match') == f'"{etag}"') or (
            'modified' in query and since is not None and since.timestamp() >= int(query['modified'])):
        return handler.send(304, b'', **headers)
    handler.send_json(200, {'name': name, 'hits': hits, 'accept': handler.headers.get('Accept')}, **headers)


class Server(ReportsErrors, ThreadingHTTPServer):
    """The test server: counts TCP connections and records requests."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, port: int = 0) -> None:
        super().__init__(('127.0.0.1', port), Handler)
        self.lock = threading.Lock()
        self.hits: dict[str, int] = {}
        self.sockets: list[Any] = []
        self.connections = 0
        self.gate = threading.Event()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.finished = 0  # connections whose handling has ended (errors reported)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    def hit(self, key: str) -> int:
        """Count a request for `key`; return how many there have been."""
        with self.lock:
            self.hits[key] = self.hits.get(key, 0) + 1
            return self.hits[key]

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self.lock:
            self.finished += 1

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.server_address[1]}/'

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *args: Any) -> None:
        self.shutdown()
        self.server_close()

    def stop(self) -> None:
        """Stop as a crashed host would: stop listening and cut every open connection."""
        self.shutdown()
        self.server_close()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class Hostile:
    """A raw-socket server that answers each request with the next scripted answer, byte for byte.

    An answer is a list of pieces: bytes to send, a float to sleep that many seconds, a
    `threading.Event` to set (once what comes before it is sent), `CLOSE` to close the
    connection, or `RESET` to cut it off with a reset. A request that finds no answer left gets
    its connection closed.
    `requests` records (connection number, request line) for each request read.
    """

    CLOSE = object()
    RESET = object()

    def __init__(self) -> None:
        self.sock = socket.create_server(('127.0.0.1', 0))
        self.answers: list[list[Any]] = []
        self.requests: list[tuple[int, bytes]] = []
        self.connections = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.sock.getsockname()[1]}/'

    def answer(self, *pieces: Any) -> None:
        """Queue the answer to the next request."""
        self.answers.append(list(pieces))

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:  # closed
                return
            with self.lock:
                self.connections += 1
                number = self.connections
            threading.Thread(target=self.handle, args=(connection, number), daemon=True).start()

    def handle(self, connection: socket.socket, number: int) -> None:
        with contextlib.suppress(OSError), connection, connection.makefile('rb') as incoming:  # (clients hang up)
            while (line := incoming.readline()) and line.strip():
                length = 0
                while (header := incoming.readline()).strip():
                    name, _, value = header.partition(b':')
                    if name.strip().lower() == b'content-length':
                        length = int(value)
                incoming.read(length)
                with self.lock:
                    self.requests.append((number, line.strip()))
                    answer = self.answers.pop(0) if self.answers else [self.CLOSE]
                for piece in answer:
                    if piece is self.CLOSE:
                        return
                    if piece is self.RESET:
                        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
                        return
                    if isinstance(piece, float):
                        time.sleep(piece)
                    elif isinstance(piece, threading.Event):
                        piece.set()
                    else:
                        connection.sendall(piece)

    def __enter__(self) -> Hostile:
        self.thread.start()
        return self

    def __exit__(self, *args: Any) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self.sock.close()
        self.thread.join(5)
