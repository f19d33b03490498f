"""The forwarding apps called directly (ASGI messages, WSGI environ) against a real upstream."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from typing import Any

import pytest

import clients
from clients import forward
from tests import forward_upstream  # noqa: F401 (the /v2 routes)
from tests.test_forward_framing import Hostile


class Messages:
    """An ASGI receive/send pair: `receive` hands out `incoming` then waits, `send` records."""

    def __init__(self, *incoming: dict[str, Any]) -> None:
        self.incoming = list(incoming)
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if not self.incoming:  # as a server does: wait until the caller goes away (never, here)
            await asyncio.Event().wait()
        return self.incoming.pop(0)

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]['status'])

    @property
    def headers(self) -> dict[str, str]:
        return {name.decode(): value.decode() for name, value in self.sent[0]['headers']}

    @property
    def body(self) -> bytes:
        return b''.join(message.get('body', b'') for message in self.sent[1:])


def scope(path: str, method: str = 'GET', headers: list[tuple[bytes, bytes]] | None = None, **more: Any) -> dict:
    return {'type': 'http', 'method': method, 'path': path, 'headers': headers or [], **more}


def test_no_server_package_is_imported():
    code = ('import sys, clients, clients.forward; '
            'print(sorted(name for name in ("uvicorn", "starlette", "hypercorn") if name in sys.modules))')
    assert subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout == '[]\n'


def test_options_are_checked():
    with pytest.raises(ValueError, match="forwarded must be 'x-forwarded', 'forwarded' or None, not 'x'"):
        forward.wsgi(clients.Client('http://up.test/'), forwarded='x')
    with pytest.raises(ValueError, match="prefix must be a path starting with /: 'api'"):
        forward.asgi(clients.AsyncClient('http://up.test/'), 'api')
    with pytest.raises(TypeError, match=r'asgi\(\) forwards to an AsyncClient or AsyncProxy, not Client'):
        forward.asgi(clients.Client('http://up.test/'))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r'wsgi\(\) forwards to a Client or Proxy, not AsyncClient'):
        forward.wsgi(clients.AsyncClient('http://up.test/'))  # type: ignore[arg-type]
    app = forward.wsgi(clients.Resource('http://up.test/v2'), '/api/')
    assert repr(app) == "WSGIForwarder(Resource(http://up.test/v2/... ), prefix='/api')"


async def test_asgi_lifespan_and_websocket():
    app = forward.asgi(clients.AsyncClient('http://up.test/'))
    messages = Messages({'type': 'lifespan.startup'}, {'type': 'lifespan.shutdown'})
    await app({'type': 'lifespan'}, messages.receive, messages.send)
    assert messages.sent == [{'type': 'lifespan.startup.complete'}, {'type': 'lifespan.shutdown.complete'}]
    messages = Messages({'type': 'websocket.connect'})
    await app({'type': 'websocket', 'path': '/'}, messages.receive, messages.send)
    assert messages.sent == [{'type': 'websocket.close', 'code': 1003}]


async def test_asgi_body_in_pieces_under_a_root_path(server):
    async with clients.AsyncClient(server.url + 'v2/') as client:
        app = forward.asgi(client, '/api')
        messages = Messages({'type': 'http.request', 'body': b'', 'more_body': True},
                            {'type': 'http.request', 'body': b'ab', 'more_body': True},
                            {'type': 'http.request', 'body': b'c'})
        headers = [(b'content-length', b'3')]
        await app(scope('/mount/api/echo', 'POST', headers, root_path='/mount'), messages.receive, messages.send)
        echo = json.loads(messages.body)
        assert (messages.status, echo['path'], echo['body']) == (200, '/v2/echo', 'abc')
        assert echo['headers']['x-forwarded-for'] == 'unknown'
        assert 'x-forwarded-host' not in echo['headers']

        messages = Messages()
        path = '/mount/api/redirect'
        await app(scope(path, root_path='/mount', query_string=b'to=/v2/x', raw_path=path.encode()),
                  messages.receive, messages.send)
        assert (messages.status, messages.headers['location']) == (302, '/mount/api/x')


async def test_asgi_caller_gone_during_the_request_body(fresh):
    async with clients.AsyncClient(fresh.url + 'v2/') as client:
        app = forward.asgi(client)
        messages = Messages({'type': 'http.request', 'body': b'abc', 'more_body': True}, {'type': 'http.disconnect'})
        await app(scope('/echo', 'PUT', [(b'content-length', b'10')]), messages.receive, messages.send)
        assert messages.sent == []


@pytest.mark.parametrize('length', ['²', '1_0', '+1', '9' * 5000, 'x'])
def test_wsgi_garbage_content_length_is_no_body(length):
    assert forward._wsgi_body({'CONTENT_LENGTH': length, 'wsgi.input': io.BytesIO(b'abc')}) is None


def test_wsgi_under_a_script_name(server):
    app = forward.wsgi(clients.Client(server.url + 'v2/'), '/api')
    environ = {'REQUEST_METHOD': 'GET', 'SCRIPT_NAME': '/mount', 'PATH_INFO': '/api/redirect',
               'QUERY_STRING': 'to=/v2/x', 'CONTENT_LENGTH': '0', 'wsgi.input': io.BytesIO()}
    started: list[Any] = []
    result = app(environ, lambda status, headers: started.append((status, dict(headers))))
    assert b''.join(result) == b''
    result.close()  # type: ignore[attr-defined]
    assert (started[0][0], started[0][1]['Location']) == ('302 Found', '/mount/api/x')


def test_wsgi_closes_the_upstream_response_when_start_response_fails(fresh):
    responses: list[Any] = []
    hooks = {'response': [lambda response, **kwargs: responses.append(response)]}
    client = clients.Client(fresh.url + 'v2/', hooks=hooks)
    app = forward.wsgi(client)
    environ = {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/echo', 'wsgi.input': io.BytesIO()}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        raise RuntimeError('refused by the server')

    with pytest.raises(RuntimeError, match='refused by the server'):
        app(environ, start_response)
    assert len(responses) == 1
    assert responses[0].raw.closed


class BrokenProxy(clients.Proxy):
    def choice(self, method: str) -> str:
        raise KeyError('a bug, not a missing host')


class AsyncBrokenProxy(clients.AsyncProxy):
    def choice(self, method: str) -> str:
        raise KeyError('a bug, not a missing host')


def test_wsgi_lookup_errors_that_are_bugs_propagate():
    app = forward.wsgi(BrokenProxy('http://a.test/', 'http://b.test/'))
    with pytest.raises(KeyError, match='a bug'):
        app({'REQUEST_METHOD': 'GET', 'PATH_INFO': '/x', 'wsgi.input': io.BytesIO()}, lambda *args: None)


async def test_asgi_lookup_errors_that_are_bugs_propagate():
    async with AsyncBrokenProxy('http://a.test/', 'http://b.test/') as proxy:
        app = forward.asgi(proxy)
        messages = Messages()
        with pytest.raises(KeyError, match='a bug'):
            await app(scope('/x'), messages.receive, messages.send)
        assert messages.sent == []


async def test_asgi_upstream_failing_mid_body_never_ends_the_response(caplog):
    upstream = Hostile(b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\nhello')
    try:
        async with clients.AsyncClient(upstream.url) as client:
            messages = Messages()
            await forward.asgi(client)(scope('/x'), messages.receive, messages.send)
    finally:
        upstream.close()
    assert (messages.status, messages.headers['content-length'], messages.body) == (200, '500', b'hello')
    assert all(message['more_body'] for message in messages.sent[1:])  # the server then cuts the connection
    assert [(record.levelname, record.getMessage().split(':')[0]) for record in caplog.records] == [
        ('WARNING', "forwarding GET failed mid-body, the caller's connection is cut")]


async def stalled() -> Any:
    yield b'first'
    await asyncio.Event().wait()  # an upstream that sends nothing more
    yield b'never'  # pragma: no cover


async def test_asgi_caller_gone_while_the_upstream_stalls_ends_the_body_at_once():
    gone = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await gone.wait()
        return {'type': 'http.disconnect'}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        gone.set()  # the caller leaves after the first chunk

    await asyncio.wait_for(forward._pump(stalled(), receive, send, forward.hops.Meter(None), 'GET'), 10)
    assert [message['body'] for message in sent] == [b'first']  # no end of body: the server cuts the connection


@pytest.mark.parametrize('messages', [[], [{'type': 'http.request', 'body': b'', 'more_body': False}]])
async def test_asgi_pump_cancelled_from_outside_stays_cancelled(messages):
    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()
        raise AssertionError('unreachable')  # pragma: no cover

    async def send(message: dict[str, Any]) -> None:
        pass

    task = asyncio.ensure_future(forward._pump(stalled(), receive, send, forward.hops.Meter(None), 'GET'))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_asgi_a_failing_receive_is_not_swallowed():
    async def receive() -> dict[str, Any]:
        raise RuntimeError('the server broke')

    async def send(message: dict[str, Any]) -> None:
        await asyncio.sleep(0)

    with pytest.raises(ExceptionGroup) as raised:
        await forward._pump(stalled(), receive, send, forward.hops.Meter(None), 'GET')
    assert raised.group_contains(RuntimeError, match='the server broke')


def test_the_view_retries_only_unsent_requests_by_the_clients_policy_of_the_moment():
    client = clients.Client('http://up.test/')
    app = forward.wsgi(client)
    plan = forward.Plan('GET')
    assert app.view(plan).retry == forward.retry.unsent(client.retry)
    client.retry = clients.Retry(attempts=5, backoff=0.1)
    view = app.view(plan)
    assert (view.retry.attempts, view.retry.backoff, view.retry.statuses, view.retry.methods) == (5, 0.1, set(), set())
    assert app.view(plan).retry is view.retry
