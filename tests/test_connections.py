"""Response heads and bodies as a hostile server sends them: interim (1xx) answers skipped, cut or
malformed heads and cut bodies refused, in both shells and over both async transports."""

import http.client
import os
import select
import socket
import ssl
import struct
import threading

import pytest
import requests
import trustme
import urllib3
from hypothesis import given
from hypothesis import strategies as st

import clients
from clients import connections, httpx
from tests.server import Hostile

CLOSE = Hostile.CLOSE
HOW = ['get', 'iter', 'download']


def answer(body: bytes, status: bytes = b'200 OK') -> bytes:
    return (b'HTTP/1.1 ' + status + b'\r\nContent-Type: application/octet-stream\r\n'
            + b'Content-Length: %d\r\n\r\n' % len(body) + body)


async def fetch(twin, api, how, tmp_path, **kwargs):
    """GET `x` by `how`: 'get' (the body), 'iter' (its chunks joined), 'download' (the file's bytes)."""
    if how == 'get':
        return await twin(api.get('x'))
    if how == 'iter':
        return b''.join(await twin.list(api.iter('x')))
    path = tmp_path / 'file'
    await twin(api.download(path, 'x', **kwargs))
    return path.read_bytes()


def connection_error(twin):
    return requests.ConnectionError if twin.name == 'sync' else httpx.RemoteProtocolError


def test_status_line():
    assert connections.status_line(b'HTTP/1.1 200 OK\r\n') == ('HTTP/1.1', 200, 'OK')
    assert connections.status_line(b'HTTP/1.0 404 Not\tFound \xe9\n') == ('HTTP/1.0', 404, 'Not\tFound \xe9')
    assert connections.status_line(b'HTTP/1.1 204\r\n') == ('HTTP/1.1', 204, '')
    assert connections.status_line(b'HTTP/1.1 103 \r\n') == ('HTTP/1.1', 103, '')


@given(st.text(max_size=5))
def test_a_status_code_is_three_ascii_digits(code):
    line = f'HTTP/1.1 {code} Reason\r\n'.encode()
    if len(code) == 3 and code.isascii() and code.isdigit() and code[0] != '0':
        assert connections.status_line(line)[1] == int(code)
    else:
        with pytest.raises(http.client.BadStatusLine, match='malformed status line'):
            connections.status_line(line)


def test_interim():
    for upgrading in (False, True):
        statuses = [status for status in range(100, 600) if status != 101 or upgrading]
        assert [status for status in statuses if connections.interim(status, upgrading)] == [100, *range(102, 200)]
    with pytest.raises(http.client.HTTPException, match=r'switched protocols \(101\) for a request that did not'):
        connections.interim(101, upgrading=False)


INTERIM = {
    '103': [b'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n'],
    'several': [b'HTTP/1.1 100 Continue\r\n\r\n', b'HTTP/1.1 102 Processing\r\n\r\n',
                b'HTTP/1.1 103 Early Hints\r\nLink: </a.js>; rel=preload\r\nLink: </b.js>; rel=preload\r\n\r\n',
                b'HTTP/1.1 199\r\n\r\n'],
}


@pytest.mark.parametrize('how', HOW)
@pytest.mark.parametrize('interim', INTERIM.values(), ids=INTERIM)
async def test_interim_answers_are_skipped_on_a_kept_connection(twin, hostile, tmp_path, how, interim):
    hostile.answer(*interim, 0.2, answer(b'first'))  # the final answer comes later (a CDN's early hints)
    hostile.answer(answer(b'second'))
    api = twin.Resource(hostile.url, retry=None)
    assert await fetch(twin, api, how, tmp_path) == b'first'
    assert await twin(api.get('y')) == b'second'
    assert [number for number, _ in hostile.requests] == [1, 1]  # both on one connection
    await twin.close(api)


async def test_a_plain_client_skips_interim_answers_too(twin, hostile):
    hostile.answer(*INTERIM['several'], 0.2, answer(b'first', b'201 Created'))
    hostile.answer(answer(b'second'))
    client = twin.Client(hostile.url, retry=None)
    response = await twin(client.post('x', json={}))
    assert (response.status_code, response.content) == (201, b'first')
    assert (await twin(client.get('y'))).content == b'second'
    await twin.close(client)


CUT_HEADS = {
    'in the status line': b'HTTP/1.1 200 O',
    'after the status line': b'HTTP/1.1 200 OK\r\n',
    'in a header': b'HTTP/1.1 200 OK\r\nContent-Type: applic',
    'before the blank line': b'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n',
    'in an interim head': b'HTTP/1.1 103 Early Hints\r\nLink: </a',
    'after an interim answer': b'HTTP/1.1 103 Early Hints\r\n\r\n',
}


@pytest.mark.parametrize('how', HOW)
@pytest.mark.parametrize('head', CUT_HEADS.values(), ids=CUT_HEADS)
async def test_a_cut_head_is_a_connection_error(twin, hostile, tmp_path, how, head):
    hostile.answer(head, CLOSE)
    api = twin.Resource(hostile.url, retry=None)
    with pytest.raises(connection_error(twin)):
        await fetch(twin, api, how, tmp_path)
    assert os.listdir(tmp_path) == []  # a download leaves nothing behind
    await twin.close(api)


@pytest.mark.parametrize('head', CUT_HEADS.values(), ids=CUT_HEADS)
async def test_a_cut_head_is_retried_only_when_that_is_safe(twin, hostile, head):
    api = twin.Resource(hostile.url)
    hostile.answer(head, CLOSE)
    hostile.answer(answer(b'retried'))
    assert await twin(api.get('x')) == b'retried'
    hostile.answer(head, CLOSE)
    with pytest.raises(connection_error(twin)):
        await twin(api.post('x'))
    assert len(hostile.requests) == 3
    await twin.close(api)


async def test_a_cut_head_names_what_was_cut(twin, hostile):
    hostile.answer(b'HTTP/1.1 200 OK\r\nSet-Cookie: secret=s3cr3t\r\nContent-Ty', CLOSE)
    api = twin.Resource(hostile.url, retry=None)
    with pytest.raises(connection_error(twin)) as info:
        await twin(api.get('x'))
    if twin.transport == 'aiohttp' or twin.name == 'sync':  # (httpx's transport says what httpcore says)
        assert 'in the middle of the response head' in str(info.value)
    assert 's3cr3t' not in str(info.value)
    await twin.close(api)


MALFORMED = [
    b'HTTP/1.1 2_00 OK', b'HTTP/1.1 +200 OK', b'HTTP/1.1 0200 OK', b'HTTP/1.1 20 OK', b'HTTP/1.1 2000 OK',
    b'HTTP/1.1 OK', b'HTTP/1.1', b'XTTP/1.1 200 OK', b'HTTP/2 200 OK', b'HTTP/1.1 200 O\0K', b'200 OK',
    b'HTTP/1.1 200 ' + b'long' * 40000,  # (httpx's transport reads up to 100 KiB)
]


@pytest.mark.parametrize('how', HOW)
@pytest.mark.parametrize('line', MALFORMED, ids=lambda line: repr(line[:20]))
async def test_a_malformed_status_line_is_a_connection_error(twin, hostile, tmp_path, how, line):
    hostile.answer(line + b'\r\nContent-Type: application/octet-stream\r\nContent-Length: 2\r\n\r\nhi')
    api = twin.Resource(hostile.url, retry=None)
    with pytest.raises(connection_error(twin)):
        await fetch(twin, api, how, tmp_path)
    assert os.listdir(tmp_path) == []
    await twin.close(api)


SWITCHING = b'HTTP/1.1 101 Switching Protocols\r\nUpgrade: other\r\nConnection: Upgrade\r\n\r\n'


async def test_a_switch_of_protocols_nobody_asked_for_is_a_connection_error(twin, hostile):
    hostile.answer(SWITCHING, answer(b'first'))
    api = twin.Resource(hostile.url, retry=None)
    with pytest.raises(connection_error(twin)):
        await twin(api.get('x'))
    await twin.close(api)


async def test_a_switch_of_protocols_answers_a_request_to_upgrade(twin, hostile):
    hostile.answer(SWITCHING, b'another protocol')
    hostile.answer(answer(b'second'))
    client = twin.Client(hostile.url, retry=None)
    response = await twin(client.get('x', headers={'Upgrade': 'other', 'Connection': 'Upgrade'}))
    assert (response.status_code, response.content) == (101, b'')
    assert (await twin(client.get('y'))).content == b'second'
    assert [number for number, _ in hostile.requests] == [1, 2]  # the switched connection is not reused
    await twin.close(client)


CHUNKED = b'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n'
CUT_BODIES = {
    'short of its length': b'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 9\r\n\r\nhi',
    'in a chunk': CHUNKED + b'9\r\nhi',
    'in a chunk size': CHUNKED + b'2\r\nhi\r\n1',
    'before the last chunk': CHUNKED + b'2\r\nhi\r\n',
    'after the last chunk': CHUNKED + b'2\r\nhi\r\n0\r\n',
    'in a trailer': CHUNKED + b'2\r\nhi\r\n0\r\nX-Checksum: ab',
}


@pytest.mark.parametrize('how', ['get', 'iter'])
@pytest.mark.parametrize('body', CUT_BODIES.values(), ids=CUT_BODIES)
async def test_a_cut_body_is_incomplete(twin, hostile, tmp_path, how, body):
    hostile.answer(body, CLOSE)
    api = twin.Resource(hostile.url, retry=None)
    with pytest.raises(clients.IncompleteBody, match='the connection ended before the whole body'):
        await fetch(twin, api, how, tmp_path)
    await twin.close(api)


@pytest.mark.parametrize('resume', [False, True])
@pytest.mark.parametrize('body', CUT_BODIES.values(), ids=CUT_BODIES)
async def test_a_cut_body_is_not_downloaded(twin, hostile, tmp_path, body, resume):
    hostile.answer(body, CLOSE)
    api = twin.Resource(hostile.url, retry=None)
    with pytest.raises(clients.IncompleteBody):
        await fetch(twin, api, 'download', tmp_path, resume=resume)
    left = os.listdir(tmp_path)
    if resume:  # what came is kept to resume from (with the record of what it is a part of, if known)
        assert 'file.part' in left
        assert set(left) <= {'file.part', 'file.part.validator'}
        assert b'hi'.startswith((tmp_path / 'file.part').read_bytes())
    else:
        assert left == []
    await twin.close(api)


# chunk-size = 1*HEXDIG (RFC 9112 7.1): each of these is a size to int(line, 16), which
# urllib3 and http.client used, so the sync shell read a body that h11 and aiohttp refuse
# (and a proxy on the way may frame otherwise). Each would read as 5 there.
LOOSE_SIZES = [b'0x5', b'0X5', b'+5', b' 5', b'\t5', b'05_', b'0_5', b'+0x5', b'\xa05'.decode('latin-1').encode()]


@pytest.mark.parametrize('how', HOW)
@pytest.mark.parametrize('size', LOOSE_SIZES, ids=repr)
async def test_a_chunk_size_is_hex_digits_only(twin, hostile, tmp_path, how, size):
    hostile.answer(CHUNKED + size + b'\r\nhello\r\n0\r\n\r\n')
    api = twin.Resource(hostile.url, retry=None)
    with pytest.raises((connection_error(twin), clients.IncompleteBody)):
        await fetch(twin, api, how, tmp_path)
    assert os.listdir(tmp_path) == []
    await twin.close(api)


@pytest.mark.parametrize('how', HOW)
@pytest.mark.parametrize('size', [b'5', b'05', b'5;name=value', b'5;name', b'5 ', b'0000000000000005'], ids=repr)
async def test_a_chunk_size_may_have_leading_zeros_and_extensions(twin, hostile, tmp_path, how, size):
    hostile.answer(CHUNKED + size + b'\r\nhello\r\n0;last\r\nX-Trailer: 1\r\n\r\n')
    api = twin.Resource(hostile.url, retry=None)
    assert await fetch(twin, api, how, tmp_path) == b'hello'
    await twin.close(api)


def test_every_sync_client_reads_through_strict_connections():
    client = clients.Resource('http://h.test/')
    for url in ('http://h.test/', 'https://h.test/'):
        adapter = client.get_adapter(url)
        assert isinstance(adapter, connections.Adapter)
        assert adapter.poolmanager.connection_from_url(url).ConnectionCls.response_class is connections.Response
    proxied = client.get_adapter('http://h.test/').proxy_manager_for('http://proxy.test:3128')
    assert proxied.connection_from_url('http://h.test/').ConnectionCls.response_class is connections.Response
    client.close()


def test_a_manager_with_pools_of_its_own_keeps_them():
    class Pool(urllib3.HTTPConnectionPool):
        pass

    class Manager(urllib3.PoolManager):
        def __init__(self) -> None:
            super().__init__()
            self.pool_classes_by_scheme = {'http': Pool}

    class Adapter(connections.Adapter):
        def proxy_manager_for(self, proxy, **kwargs):
            self.proxy_manager[proxy] = Manager()  # (as requests makes a SOCKS proxy's manager)
            return super().proxy_manager_for(proxy, **kwargs)

    assert type(Adapter().proxy_manager_for('socks5://proxy.test').connection_from_url('http://h.test/')) is Pool


def test_pending_sees_bytes_buffered_or_on_the_socket_and_never_waits():
    mine, theirs = socket.socketpair()
    with mine, theirs, mine.makefile('rb') as wire:
        mine.settimeout(5)
        assert not connections.pending(wire, mine)  # (at once: nothing is coming)
        theirs.sendall(b'hello')
        assert connections.pending(wire, mine)  # on the socket
        assert wire.read(2) == b'he'
        assert connections.pending(wire, mine)  # in the file's buffer
        assert wire.read(3) == b'llo'
        assert not connections.pending(wire, mine)
        assert mine.gettimeout() == 5
        theirs.close()
        assert not connections.pending(wire, mine)  # the end: the pool sees it is closed


def test_pending_counts_a_connection_cut_off_by_a_reset():
    with socket.create_server(('127.0.0.1', 0)) as server, socket.create_connection(server.getsockname()) as mine:
        theirs, _ = server.accept()
        theirs.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        theirs.close()
        assert select.select([mine], [], [], 5)[0]
        with mine.makefile('rb') as wire:
            assert connections.pending(wire, mine)


def test_pending_over_tls():
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert('localhost').configure_cert(server_context)
    server_context.num_tickets = 0  # (no TLS 1.3 session tickets: the only bytes are the test's)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    mine, theirs = socket.socketpair()
    go, done = threading.Event(), threading.Event()

    def serve():
        with server_context.wrap_socket(theirs, server_side=True) as tls:
            go.wait(5)
            tls.sendall(b'hello')
            done.wait(5)

    thread = threading.Thread(target=serve)
    thread.start()
    with client_context.wrap_socket(mine, server_hostname='localhost') as tls, tls.makefile('rb') as wire:
        tls.settimeout(5)
        assert not connections.pending(wire, tls)  # (TLS says "nothing yet" by raising)
        go.set()
        assert select.select([tls], [], [], 5)[0]
        assert connections.pending(wire, tls)
        assert wire.read(5) == b'hello'
        assert not connections.pending(wire, tls)
        done.set()
    thread.join(5)
