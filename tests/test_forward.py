"""The forwarding apps under real servers in front of a real upstream on 127.0.0.1.

`gateway` runs each scenario twice: a WSGI app over `Client`/`Proxy` under a threaded wsgiref
server, and an ASGI app over `AsyncClient`/`AsyncProxy` under uvicorn.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import io
import json
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import pytest
import requests
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware

import clients
from clients import forward, httpx
from tests.forward_upstream import CLOSED, MOVED, PIECE, UPLOADS, MiB, pattern
from tests.server import ReportsErrors


class Sized:
    """A request body of `size` pattern bytes, sent in pieces with a Content-Length."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        while sent < self.size:
            piece = PIECE[: min(len(PIECE), self.size - sent)]
            sent += len(piece)
            yield piece


class ThreadingWSGIServer(ReportsErrors, socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class ASGIServer:
    """uvicorn in a thread with its own event loop; the client is closed in that loop."""

    def __init__(self, app: Any, client: clients.AsyncClient) -> None:
        self.client = client
        # IPPROTO_TCP, or asyncio leaves Nagle on for the accepted connections (40 ms delayed ACKs).
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.bind(('127.0.0.1', 0))
        config = uvicorn.Config(app, lifespan='off', log_level='critical', http='h11', ws='none',
                                proxy_headers=False, timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.url = f'http://127.0.0.1:{self.sock.getsockname()[1]}'

    def run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.server.serve(sockets=[self.sock]))
            loop.run_until_complete(self.client.aclose())
        finally:
            loop.close()

    def start(self) -> None:
        self.thread.start()
        for _ in range(3000):
            if self.server.started:
                return
            time.sleep(0.01)
        raise RuntimeError('uvicorn did not start')

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


class WSGIThread:
    """A threaded wsgiref server in a thread."""

    def __init__(self, app: Any, client: clients.Client) -> None:
        self.client = client
        self.server = ThreadingWSGIServer(('127.0.0.1', 0), QuietHandler)
        self.server.set_app(app)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}'

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.client.close()


class Gateway:
    """One shell's forwarder: `client(...)` makes the upstream client, `serve(...)` runs the app."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.running: list[Any] = []
        self.session = requests.Session()

    def __repr__(self) -> str:
        return self.name

    def client(self, *urls: str, pool: int = 0, **kwargs: Any) -> Any:
        if self.name == 'async':
            if pool:
                kwargs['limits'] = httpx.Limits(max_connections=pool)
            return (clients.AsyncProxy if len(urls) > 1 else clients.AsyncClient)(*urls, **kwargs)
        client = (clients.Proxy if len(urls) > 1 else clients.Client)(*urls, **kwargs)
        if pool:
            client.mount('http://', requests.adapters.HTTPAdapter(pool_maxsize=pool, pool_block=True))
        return client

    def serve(self, client: Any, prefix: str = '/api', mount: str = '', **options: Any) -> str:
        """Serve a forwarder to `client`, on its own or (with `mount`) inside a framework's app."""
        if self.name == 'async':
            app: Any = forward.asgi(client, prefix, **options)
            if mount:
                app = Starlette(routes=[Mount(mount, app=app)])
            running: Any = ASGIServer(app, client)
        else:
            app = forward.wsgi(client, prefix, **options)
            if mount:
                app = DispatcherMiddleware(NotFound(), {mount: app})
            running = WSGIThread(app, client)
        running.start()
        self.running.append(running)
        return running.url

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.session.get(url, timeout=30, **kwargs)

    def close(self) -> None:
        self.session.close()
        for running in self.running:
            running.stop()


@pytest.fixture(params=['sync', 'async'])
def gateway(request: pytest.FixtureRequest) -> Iterator[Gateway]:
    """The WSGI forwarder over sync clients, or the ASGI one over async clients."""
    running = Gateway(request.param)
    yield running
    running.close()


def raw(url: str, path: str, method: str = 'GET') -> tuple[int, bytes]:
    """Send `path` exactly as given (no normalization), return status and body."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return f'http://127.0.0.1:{sock.getsockname()[1]}/'


def test_request_line_and_headers_are_forwarded(gateway, server):
    url = gateway.serve(gateway.client(server.url + 'v2/'))
    response = gateway.session.post(url + '/api/items/1?q=a%20b&q=c', data=b'hello', timeout=30, headers={
        'Authorization': 'Bearer caller', 'Cookie': 'c=1', 'Connection': 'keep-alive, X-Secret', 'X-Secret': 's',
        'X-Custom': 'v', 'X-Forwarded-For': '10.1.1.1', 'Accept-Encoding': 'gzip'})
    assert response.status_code == 200
    echo = response.json()
    assert (echo['method'], echo['path'], echo['query'], echo['body']) == ('POST', '/v2/items/1', {'q': 'c'}, 'hello')
    seen = echo['headers']
    assert seen['x-custom'] == 'v'
    assert seen['host'] == urlsplit(server.url).netloc
    assert seen['x-forwarded-for'] == '10.1.1.1, 127.0.0.1'
    assert seen['x-forwarded-proto'] == 'http'
    assert seen['x-forwarded-host'] == urlsplit(url).netloc
    assert seen['accept-encoding'] == 'gzip'
    assert seen['content-length'] == '5'
    assert seen['via'] == '1.1 clients'
    assert not {'authorization', 'cookie', 'x-secret', 'keep-alive'} & set(seen)


def test_credentials_pass_only_when_configured(gateway, server):
    kept = gateway.serve(gateway.client(server.url + 'v2/', headers={'Authorization': 'Bearer own'}))
    passed = gateway.serve(gateway.client(server.url + 'v2/'), credentials=True, forwarded='forwarded')
    headers = {'Authorization': 'Bearer caller', 'Cookie': 'c=1'}
    seen = gateway.get(kept + '/api/echo', headers=headers).json()['headers']
    assert seen['authorization'] == 'Bearer own'
    assert 'cookie' not in seen
    response = gateway.get(passed + '/api/echo', headers=headers)
    seen = response.json()['headers']
    assert (seen['authorization'], seen['cookie']) == ('Bearer caller', 'c=1')
    assert seen['forwarded'] == f'for=127.0.0.1;proto=http;host="{urlsplit(passed).netloc}"'
    assert 'x-forwarded-for' not in seen


def test_response_headers_lose_hop_by_hop_and_cookies_unless_configured(gateway, server):
    client = gateway.client(server.url + 'v2/')
    plain = gateway.serve(client)
    response = gateway.get(plain + '/api/hop')
    assert (response.status_code, response.content, response.headers['X-Kept']) == (200, b'ok', 'yes')
    assert not {'keep-alive', 'x-upstream-secret', 'set-cookie'} & {name.lower() for name in response.headers}
    assert not client.cookies  # an upstream cookie never lands in the jar every caller shares
    with_cookies = gateway.serve(gateway.client(server.url + 'v2/'), credentials=True)
    response = gateway.get(with_cookies + '/api/hop')
    assert response.raw.headers.getlist('Set-Cookie') == ['a=1; Path=/', 'b=2; Path=/']


def test_redirects_go_back_to_the_caller_rewritten(gateway, server):
    url = gateway.serve(gateway.client(server.url + 'v2/'))
    for to, location in [('/v2/items/1', '/api/items/1'), (server.url + 'v2/x?y=1', '/api/x?y=1'),
                         ('http://example.test/v2/', 'http://example.test/v2/')]:
        response = gateway.get(url + '/api/redirect', params={'to': to, 'code': 307}, allow_redirects=False)
        assert (response.status_code, response.headers['Location']) == (307, location)


def test_redirect_bodies_are_passed_on(gateway, server):
    url = gateway.serve(gateway.client(server.url + 'v2/'))
    response = gateway.get(url + '/api/moved', allow_redirects=False)
    assert (response.status_code, response.headers['Location']) == (302, '/api/x')
    assert (response.headers['Content-Length'], response.content) == (str(len(MOVED)), MOVED)


def test_a_streamed_redirect_that_is_not_followed_keeps_its_body(server):
    with clients.Client(server.url) as client, client.get('v2/moved', stream=True, allow_redirects=False) as response:
        assert (response.status_code, response.raw.read()) == (302, MOVED)
        assert response.next is None  # (requests would read the body to prepare it)
    with clients.Client(server.url) as client:
        response = client.get('v2/moved', allow_redirects=False)
        assert (response.content, response.next.url) == (MOVED, server.url + 'v2/x')


@pytest.mark.parametrize('status', [429, 502, 503, 504])
def test_an_upstream_error_passes_through_once(gateway, fresh, status):
    url = gateway.serve(gateway.client(fresh.url + 'v2/'))
    params = {'key': uuid.uuid4().hex, 'fail': 5, 'status': status, 'retry_after': 7}
    response = gateway.get(url + '/api/flaky', params=params)
    assert (response.status_code, response.headers['Retry-After']) == (status, '7')
    assert response.json() == {'message': 'failure 1'}
    assert len(fresh.requests) == 1  # never multiplied on a struggling upstream


def test_a_slow_upstream_is_asked_once(gateway, fresh):
    url = gateway.serve(gateway.client(fresh.url + 'v2/', timeout=(5, 0.3)))
    response = gateway.get(url + '/api/slow', params={'delay': 1}, headers={'Idempotency-Key': 'k'})
    assert response.status_code == 504
    assert len(fresh.requests) == 1


def test_paths_map_under_the_prefix_with_trailing_slashes_kept(gateway, server):
    url = gateway.serve(gateway.client(server.url + 'v2/'))
    for path, upstream_path in [('/api', '/v2'), ('/api/', '/v2/'), ('/api/a/', '/v2/a/'), ('/api/a/./b', '/v2/a/b'),
                                ('/api/a/../b', '/v2/b'), ('/api//x.test/y', '/v2/x.test/y'),
                                ('/api/http://x.test/', '/v2/http:/x.test/'), ('/api/%7Eme', '/v2/~me')]:
        status, body = raw(url, path)
        echo = json.loads(body)
        assert (status, echo['path'], echo['port']) == (200, upstream_path, server.server_address[1]), path


def test_mounted_in_a_framework(gateway, fresh):
    """Under Starlette's `Mount` (ASGI) or werkzeug's `DispatcherMiddleware` (WSGI, as Flask mounts)."""
    url = gateway.serve(gateway.client(fresh.url + 'v2/'), mount='/gateway')
    echo = gateway.get(url + '/gateway/api/items/1?x=1').json()
    assert (echo['path'], echo['query']) == ('/v2/items/1', {'x': '1'})
    response = gateway.get(url + '/gateway/api/redirect', params={'to': '/v2/x'}, allow_redirects=False)
    assert response.headers['Location'] == '/gateway/api/x'
    # The encoded slash survives where the server passes the raw path (ASGI); WSGI has only PATH_INFO.
    status, body = raw(url, '/gateway/api/a%2Fb')
    assert (status, json.loads(body)['path']) == (200, '/v2/a%2Fb' if gateway.name == 'async' else '/v2/a/b')
    for path in ('/gateway/api/../admin', '/gateway/api/%2e%2e/%2e%2e/x'):
        assert raw(url, path)[0] == 400
    assert raw(url, '/gateway/other')[0] == 404
    assert [path for _, path, _ in fresh.requests] == ['/v2/items/1?x=1', '/v2/redirect?to=%2Fv2%2Fx', '/v2/a%2Fb'
                                                       if gateway.name == 'async' else '/v2/a/b']


def test_paths_that_leave_the_base_are_refused(gateway, fresh):
    url = gateway.serve(gateway.client(fresh.url + 'v2/'))
    for path in ['/api/..', '/api/../admin', '/api/a/../../admin', '/api/%2e%2e/admin', '/api/%2E%2E%2Fadmin',
                 '/api/..%2fadmin', '/api/a/..%2F..%2Fadmin', '/api/..%5cadmin', '/api/..;/admin']:
        status, body = raw(url, path)
        assert (status, json.loads(body)['error']) == (400, 'Bad Request'), path
    for path in ['/admin', '/apix', '/', 'http://evil.test/api/x']:
        status, body = raw(url, path)
        assert (status, json.loads(body)['status']) == (404, 404), path
    assert fresh.requests == []


def test_statuses_pass_through(gateway, server):
    url = gateway.serve(gateway.client(server.url + 'v2/'))
    for code in (201, 404, 500, 599):
        response = gateway.get(url + f'/api/status/{code}')
        assert response.status_code == code
        if code != 201:
            assert response.json() == {'message': f'status {code} as asked'}
    response = gateway.session.head(url + '/api/echo', timeout=30)
    assert (response.status_code, response.content) == (200, b'')
    assert int(response.headers['Content-Length']) > 0


def test_large_bodies_stream_both_ways(gateway, server):
    url = gateway.serve(gateway.client(server.url + 'v2/'))
    size = 48 * MiB + 7
    response = gateway.session.put(url + '/api/upload', data=Sized(size), timeout=60)
    assert response.json() == {'size': size, 'sha256': hashlib.sha256(pattern(size)).hexdigest(),
                               'chunked': False, 'length': str(size)}
    digest, received = hashlib.sha256(), 0
    with gateway.get(url + f'/api/bytes/{size}', stream=True) as response:
        assert response.headers['Content-Length'] == str(size)
        for chunk in response.iter_content(MiB):
            digest.update(chunk)
            received += len(chunk)
    assert (received, digest.hexdigest()) == (size, hashlib.sha256(pattern(size)).hexdigest())


def test_chunked_request_body(gateway, server):
    url = gateway.serve(gateway.client(server.url + 'v2/'))
    response = gateway.session.post(url + '/api/upload', data=iter(Sized(3 * MiB)), timeout=60)
    if gateway.name == 'sync':  # wsgiref cannot find the end of a chunked body: refused, not truncated
        assert (response.status_code, response.json()['error']) == (411, 'Length Required')
        return
    assert response.json() == {'size': 3 * MiB, 'sha256': hashlib.sha256(pattern(3 * MiB)).hexdigest(),
                               'chunked': True, 'length': None}


def test_chunked_request_body_under_a_server_that_terminates_input(server):
    app = forward.wsgi(clients.Client(server.url + 'v2/'))
    body = pattern(MiB + 3)
    environ = {'REQUEST_METHOD': 'POST', 'PATH_INFO': '/upload', 'HTTP_TRANSFER_ENCODING': 'chunked',
               'wsgi.input': io.BytesIO(body), 'wsgi.input_terminated': True}
    started = []
    result = app(environ, lambda status, headers: started.append(status))
    answer = json.loads(b''.join(result))
    result.close()  # type: ignore[attr-defined]
    assert started == ['200 OK']
    assert answer == {'size': len(body), 'sha256': hashlib.sha256(body).hexdigest(), 'chunked': True, 'length': None}


def test_response_streams_as_it_arrives(gateway, fresh):
    url = gateway.serve(gateway.client(fresh.url + 'v2/'))
    with gateway.get(url + '/api/gate', stream=True) as response:
        received = b''
        while b'\n' not in received:
            received += response.raw.read1(1024)
        assert received == b'{"first": true}\n'  # before the upstream has finished
        fresh.gate.set()
        received += response.raw.read()
    assert received == b'{"first": true}\n{"gate_opened": true}'


def test_upstream_failing_mid_body_cuts_the_response_short(gateway, server):
    url = gateway.serve(gateway.client(server.url + 'v2/'))
    with gateway.get(url + '/api/short', stream=True) as response:
        assert (response.status_code, response.headers['Content-Length']) == (200, '100')
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            response.content  # noqa: B018 (reading is what fails)
    assert gateway.get(url + '/api/echo').status_code == 200


def test_upstream_down_is_502(gateway):
    url = gateway.serve(gateway.client(closed_port()))
    response = gateway.get(url + '/api/x')
    assert response.status_code == 502
    assert response.headers['Content-Type'] == 'application/json'
    assert response.json() == {'error': 'Bad Gateway', 'status': 502, 'detail': 'the upstream could not be reached'}
    response = gateway.session.head(url + '/api/x', timeout=30)
    assert (response.status_code, response.content) == (502, b'')


def test_upstream_slow_is_504(gateway, server):
    url = gateway.serve(gateway.client(server.url + 'v2/', timeout=(5, 0.2)))
    response = gateway.get(url + '/api/slow', params={'delay': 1})
    assert response.status_code == 504
    assert response.json() == {'error': 'Gateway Timeout', 'status': 504,
                               'detail': 'the upstream did not answer in time'}


def test_proxy_moves_away_from_a_host_that_is_down(gateway, server):
    down = closed_port()
    proxy = gateway.client(down, server.url + 'v2/')
    url = gateway.serve(proxy)
    statuses = [gateway.get(url + '/api/x').status_code for _ in range(6)]
    assert statuses == [200] * 6  # a request sent to the down host fails over to the other
    assert proxy.urls[down]['connections'] == 0


def test_proxy_with_every_host_down_is_503(gateway):
    proxy = gateway.client(closed_port(), closed_port())
    response = gateway.get(gateway.serve(proxy) + '/api/x')
    assert (response.status_code, response.json()['error']) == (503, 'Service Unavailable')
    assert response.json()['detail'] == 'no upstream host is available'


def test_proxy_with_no_host_available_is_503(gateway, server):
    proxy = gateway.client(server.url, server.url + 'v2/')
    proxy.priority = lambda url: None  # every host excluded (on this instance only)
    url = gateway.serve(proxy)
    response = gateway.get(url + '/api/x')
    assert (response.status_code, response.json()['error']) == (503, 'Service Unavailable')


def test_caller_gone_mid_stream_closes_the_upstream_response(gateway, fresh):
    url = gateway.serve(gateway.client(fresh.url + 'v2/', pool=1))
    token = uuid.uuid4().hex
    CLOSED[token] = threading.Event()
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(f'GET /api/endless?token={token} HTTP/1.1\r\nHost: gw\r\n\r\n'.encode())
        received = 0
        while received < 4 * MiB:
            received += len(sock.recv(1 << 16))
    assert CLOSED[token].wait(20), 'the upstream connection was not closed'
    # The one pooled connection is free again: the next request goes through.
    assert gateway.get(url + '/api/echo').json()['path'] == '/v2/echo'


def test_caller_gone_mid_upload_does_not_complete_the_upload(gateway, fresh):
    url = gateway.serve(gateway.client(fresh.url + 'v2/', pool=1))
    token = uuid.uuid4().hex
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(f'PUT /api/upload?token={token} HTTP/1.1\r\nHost: gw\r\nContent-Length: {8 * MiB}\r\n\r\n'
                     .encode() + pattern(MiB))
        for _ in range(3000):
            if fresh.requests:
                break
            time.sleep(0.01)
    for _ in range(3000):
        if token in UPLOADS:
            break
        time.sleep(0.01)
    assert UPLOADS[token] == 'short'
    assert gateway.get(url + '/api/echo').json()['path'] == '/v2/echo'
