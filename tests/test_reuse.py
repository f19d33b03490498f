"""A kept-alive connection is reused only when nothing is left on it after the answer it delivered.

A server that sends more than its answer's framing says (a body past its length, a body on a
HEAD, 204 or 304 answer, bytes after the last chunk), at once or a little later, has either
lost track of the connection or is smuggling an answer in: the next request must not read
those bytes as its answer. In both shells and over both async transports, such a connection
is closed and the next request goes on a new one.
"""

import asyncio
import threading

import pytest
import requests

from clients import httpx
from tests.server import Hostile

RESET = Hostile.RESET
SMUGGLED = b'HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled'
CHUNKED = b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
SECOND = b'HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond'

# The first answer as pieces sent (the extra bytes go with the last), its method and its body.
FIRST = {
    'length': ([b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'], 'GET', b'hello'),
    'length, body later': ([b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', 0.05, b'hello'], 'GET', b'hello'),
    'chunked': ([CHUNKED + b'5\r\nhello\r\n0\r\n\r\n'], 'GET', b'hello'),
    'chunked, last chunk later': ([CHUNKED + b'5\r\nhello\r\n', 0.05, b'0\r\n\r\n'], 'GET', b'hello'),
    'HEAD': ([b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'], 'HEAD', b''),
    '204': ([b'HTTP/1.1 204 No Content\r\n\r\n'], 'DELETE', b''),
    '304 with a length': ([b'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n'], 'GET', b''),
}
EXTRA = {
    'a whole answer': SMUGGLED,
    'a head': SMUGGLED[:-8],
    'part of a head': SMUGGLED[:25],
    'more body': b'hello',
    'part of a head aiohttp refuses': b'HTTP/1.1 200 OK\r\nSec-WebSocket-Key1: x\r\nA',
}
WHEN = ['with the answer', 'after the answer']


def first_answer(hostile, pieces, extra, when):
    """Queue the first answer with `extra` after it; return an event set once the extra bytes are sent."""
    sent = threading.Event()
    if when == 'with the answer':  # in the same send: they arrive with the end of the answer
        hostile.answer(*pieces[:-1], pieces[-1] + extra, sent)
    else:
        hostile.answer(*pieces, 0.1, extra, sent)
    return sent


def refused(twin, pieces, method, extra, when):
    """Whether the first answer is itself a protocol error: over aiohttp, whose parser refuses the
    whole read of a head when what follows its answer in that read cannot begin one (after a HEAD
    it takes a body for the next head too)."""
    return (twin.transport == 'aiohttp' and when == 'with the answer' and len(pieces) == 1
            and (not extra.startswith(b'HTTP/') or (method == 'HEAD' and extra == SMUGGLED)))


async def settle(sent):
    """Wait until the extra bytes are sent, and let the event loop read them (the aiohttp transport does)."""
    assert sent.wait(5)
    await asyncio.sleep(0.1)


@pytest.mark.parametrize('when', WHEN)
@pytest.mark.parametrize('extra', EXTRA.values(), ids=EXTRA)
@pytest.mark.parametrize('first', FIRST.values(), ids=FIRST)
async def test_a_connection_with_bytes_past_its_answer_is_not_reused(twin, hostile, first, extra, when):
    pieces, method, body = first
    sent = first_answer(hostile, pieces, extra, when)
    hostile.answer(SECOND)
    client = twin.Client(hostile.url, retry=None)
    if refused(twin, pieces, method, extra, when):
        with pytest.raises(httpx.RemoteProtocolError):
            await twin(client.request(method, 'first'))
    else:
        response = await twin(client.request(method, 'first'))
        assert (response.status_code, response.content) == (int(pieces[0][9:12]), body)
    await settle(sent)
    assert (await twin(client.get('second'))).content == b'second'
    assert [number for number, _ in hostile.requests] == [1, 2]
    await twin.close(client)


@pytest.mark.parametrize('when', WHEN)
@pytest.mark.parametrize('extra', EXTRA.values(), ids=EXTRA)
async def test_the_bytes_past_an_answer_are_never_the_next_answer(twin, hostile, extra, when):
    # the server answers nothing more: the next request fails, on a new connection
    sent = first_answer(hostile, FIRST['length'][0], extra, when)
    client = twin.Client(hostile.url, retry=None)
    if refused(twin, FIRST['length'][0], 'GET', extra, when):
        with pytest.raises(httpx.RemoteProtocolError):
            await twin(client.get('first'))
    else:
        assert (await twin(client.get('first'))).content == b'hello'
    await settle(sent)
    with pytest.raises((requests.ConnectionError, httpx.TransportError)):
        await twin(client.get('second'))
    assert [number for number, _ in hostile.requests] == [1, 2]
    await twin.close(client)


@pytest.mark.parametrize('when', WHEN)
async def test_a_streamed_answer_with_bytes_past_it_is_not_reused(twin, hostile, when):
    sent = first_answer(hostile, FIRST['length, body later'][0], SMUGGLED, when)
    hostile.answer(SECOND)
    api = twin.Resource(hostile.url, retry=None)
    assert b''.join(await twin.list(api.iter('first'))) == b'hello'
    await settle(sent)
    assert await twin(api.get('second')) == b'second'
    assert [number for number, _ in hostile.requests] == [1, 2]
    await twin.close(api)


async def test_a_clean_answer_keeps_its_connection(twin, hostile):
    for pieces, _, _ in FIRST.values():
        hostile.answer(*pieces)
    client = twin.Client(hostile.url, retry=None)
    for _, method, body in FIRST.values():
        assert (await twin(client.request(method, 'x'))).content == body
    assert {number for number, _ in hostile.requests} == {1}
    await twin.close(client)


async def test_any_bytes_coming_on_an_idle_connection_close_it(twin, hostile):
    # (even a blank line, which parsers skip before a head: the server has lost track of the connection)
    sent = first_answer(hostile, FIRST['length'][0], b'\r\n', 'after the answer')
    hostile.answer(SECOND)
    client = twin.Client(hostile.url, retry=None)
    assert (await twin(client.get('first'))).content == b'hello'
    await settle(sent)
    assert (await twin(client.get('second'))).content == b'second'
    assert [number for number, _ in hostile.requests] == [1, 2]
    await twin.close(client)


async def test_an_answer_the_server_resets_after_is_delivered_and_its_connection_not_reused(twin, hostile):
    hostile.answer(*FIRST['length, body later'][0], RESET)
    hostile.answer(SECOND)
    client = twin.Client(hostile.url, retry=None)
    assert (await twin(client.get('first'))).content == b'hello'
    assert (await twin(client.get('second'))).content == b'second'
    assert [number for number, _ in hostile.requests] == [1, 2]
    await twin.close(client)
