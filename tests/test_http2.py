"""HTTP/2 for the async twins (`http2=True`), against a real HTTP/2 server on 127.0.0.1."""

import asyncio
import socket
import threading

import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config

import clients
from clients import httpx


async def app(scope, receive, send):
    """An ASGI app that reports the HTTP version it was spoken to with."""
    if scope['type'] == 'lifespan':
        while (await receive())['type'] != 'lifespan.shutdown':
            await send({'type': 'lifespan.startup.complete'})
        await send({'type': 'lifespan.shutdown.complete'})
        return
    body = f'{{"http_version": "{scope["http_version"]}", "path": "{scope["path"]}"}}'.encode()
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-type', b'application/json'), (b'content-length', str(len(body)).encode())]})
    await send({'type': 'http.response.body', 'body': body})


@pytest.fixture(scope='module')
def h2_server():
    """Hypercorn on 127.0.0.1, accepting HTTP/2 with prior knowledge (h2c)."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen()
    port = sock.getsockname()[1]
    config = Config()
    config.bind = [f'fd://{sock.detach()}']  # hypercorn owns and closes it
    config.accesslog = config.errorlog = None
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(app, config, shutdown_trigger=stop.wait),))
    thread.start()
    url = f'http://127.0.0.1:{port}/'
    for _ in range(100):
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.TransportError:  # pragma: no cover (only while hypercorn starts)
            threading.Event().wait(0.05)
    yield url
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()


async def test_http2(h2_server):
    async with clients.AsyncResource(h2_server, http2=True, http1=False) as api:
        assert await api.items[1] == {'http_version': '2', 'path': '/items/1'}
        response = await api.client.get('x')
        assert response.http_version == 'HTTP/2'
        results = await asyncio.gather(*(api.items[i] for i in range(20)))
        assert {result['http_version'] for result in results} == {'2'}


async def test_http1_by_default(h2_server):
    async with clients.AsyncResource(h2_server) as api:
        assert (await api.x.get())['http_version'] == '1.1'
