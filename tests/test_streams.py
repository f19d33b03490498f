"""Streams: the stream flow, and `iter` with server-sent events and reconnects in both shells."""

import itertools
import json
import ssl

import pytest
import requests

import clients
from clients import httpx, streams
from clients.flows import Pause
from clients.sse import Event
from tests.conftest import URL, each

SSE = {'Content-Type': 'text/event-stream'}


def run(flow, replies):
    """Drive a stream flow with canned replies: an `Opened`/`Dropped` per Open, then chunks."""
    log, reply = [], None
    replies = list(replies)
    while True:
        try:
            step = flow.send(reply)
        except StopIteration:
            return log
        reply = None
        if isinstance(step, Pause):
            log.append(('items', step.value))
        elif isinstance(step, streams.Sleep):
            log.append(('sleep', step.seconds))
        else:
            if isinstance(step, streams.Open):
                log.append(('open', step.kwargs.get('headers')))
            reply = replies.pop(0)


def opened(content_type='text/event-stream', status=200):
    return streams.Opened(status, {'Content-Type': content_type}, 'http://h/e')


def test_reconnect_sends_last_event_id_and_waits_retry():
    error = OSError('dropped')
    replies = [opened(), b'retry: 1500\nid: 1\ndata: a\n\ndata: b', streams.Dropped(error),
               streams.Dropped(error), opened(), b'data: c\n\n', b'', opened(status=204)]
    log = run(streams.stream('e', {'headers': {'X': '1'}}, reconnect=True), replies)
    accept = {'X': '1', 'Accept': 'text/event-stream'}
    resumed = dict(accept, **{'Last-Event-ID': '1'})
    assert log == [
        ('open', accept), ('items', [Event('a', id='1', retry=1500)]), ('sleep', 1.5),
        ('open', resumed), ('sleep', 1.5),
        ('open', resumed), ('items', [Event('c', id='1')]), ('sleep', 1.5),
        ('open', resumed),
    ]


def test_reconnect_limit_counts_reconnects_without_events():
    error = OSError('dropped')
    log = []
    with pytest.raises(OSError, match='dropped'):
        log = run(streams.stream('e', {'headers': {'accept': 'x'}}, reconnect=2), [
            opened(), b'data: a\n\n', streams.Dropped(error), streams.Dropped(error), opened(),
            streams.Dropped(error), streams.Dropped(error)])
    ended = run(streams.stream('e', {}, reconnect=1), [opened(), b'', opened(), b''])
    accept = {'Accept': 'text/event-stream'}
    assert ended == [('open', accept), ('sleep', 3.0), ('open', accept)]
    assert log == []


def test_retry_is_capped():
    log = run(streams.stream('e', {}, reconnect=1), [opened(), b'retry: 99999999\n', b'', opened(status=204)])
    assert ('sleep', streams.MAX_RETRY) in log


def test_without_reconnect_the_error_is_raised_after_the_items():
    log = []
    flow = streams.stream('e', {}, reconnect=False)
    with pytest.raises(OSError, match='gone'):
        for reply in [None, opened('application/x-ndjson'), b'{"a": 1}\n{"b"', None, streams.Dropped(OSError('gone'))]:
            log.append(flow.send(reply))
    assert log[0] == streams.Open('GET', 'e', {})
    assert log[2] == Pause([{'a': 1}])
    assert run(streams.stream('e', {}), [opened('text/plain'), b'x\ny', b'']) == [
        ('open', None), ('items', ['x']), ('items', ['y'])]


@pytest.mark.parametrize('reconnect', [-1, 1.5, 'yes', None])
def test_bad_reconnect(reconnect):
    with pytest.raises(ValueError, match='reconnect must be a bool or a non-negative integer'):
        next(streams.stream('e', {}, reconnect))


async def test_reconnecting_needs_an_event_stream(twin):
    twin.mock('GET', URL + 'e', json={'a': 1})
    with pytest.raises(clients.DecodeError, match=r'GET http://api.test/v1/e: reconnecting needs text/event-stream'):
        await twin.list(twin.Resource(URL).iter('e', reconnect=True))


async def test_events_and_no_content(twin):
    twin.mock('GET', URL + 'e', body=b'event: x\ndata: {"a": 1}\n\n', headers=SSE)
    twin.mock('GET', URL + 'none', status=204, headers=SSE)
    res = twin.Resource(URL)
    events = await twin.list(res.iter('e'))
    assert events == [Event('{"a": 1}', 'x')]
    assert events[0].json() == {'a': 1}
    assert await twin.list(res.iter('none', reconnect=True)) == []
    assert await twin(res.get('e')) == events


async def test_reconnect_gives_up_after_failed_connects(twin, monkeypatch):
    twin.mock('GET', URL + 'e', error='connect')
    res = twin.Resource(URL, retry=None)  # each reconnect is one attempt here
    slept = []

    async def sleep(seconds):
        slept.append(seconds)

    monkeypatch.setattr(res, '_sleep', sleep if twin.name == 'async' else slept.append)
    error = requests.ConnectionError if twin.name == 'sync' else httpx.ConnectError
    with pytest.raises(error):
        await twin.list(res.iter('e', reconnect=2))
    assert slept == [3.0, 3.0]
    assert len(twin.sent()) == 3
    with pytest.raises(error):
        await twin.list(res.iter('e'))


async def test_error_status_is_not_retried(twin):
    twin.mock('GET', URL + 'e', status=503, json={'message': 'down'})
    with pytest.raises(clients.HTTPError, match='returned 503 Service Unavailable: down'):
        await twin.list(twin.Resource(URL, retry=None).iter('e', reconnect=True))
    assert len(twin.sent()) == 1


def tick(n):
    return Event(json.dumps({'n': n}) + '\nsecond line', 'tick', str(n))


async def test_sse_against_a_real_server(twin, server):
    api = twin.Resource(server.url)
    assert await twin.list(api.iter('sse', params={'total': 3})) == [tick(0), tick(1), tick(2)]
    got = []
    with pytest.raises(clients.IncompleteBody):
        async for event in each(api.iter('sse', params={'total': 3, 'drop': 2})):
            got.append(event)
    assert got == [tick(0), tick(1)]
    await twin.close(api)


async def test_sse_reconnects_against_a_real_server(twin, fresh, monkeypatch):
    api = twin.Resource(fresh.url)
    slept = []
    real = api._sleep

    def sleep(seconds):
        slept.append(seconds)
        return real(seconds)

    monkeypatch.setattr(api, '_sleep', sleep)
    events = await twin.list(api.iter('sse', params={'total': 5, 'drop': 2, 'retry': 5}, reconnect=True))
    assert [event.id for event in events] == ['0', '1', '2', '3', '4']
    assert [event.retry for event in events] == [5, None, 5, None, None]
    assert slept == [0.005, 0.005]
    sent = [headers.get('Last-Event-ID') for _, path, headers in fresh.requests if path.startswith('/sse')]
    assert sent == [None, '1', '4']
    assert all(headers['Accept'] == 'text/event-stream' for _, _, headers in fresh.requests)
    await twin.close(api)


async def test_leaving_an_event_stream_early_releases_the_connection(twin, fresh):
    api = twin.one_connection(fresh.url)
    for _ in range(5):
        if twin.name == 'async':
            async for event in api.iter('sse', params={'total': 100}, reconnect=True):
                assert event.id == '0'
                break
        else:
            for event in api.iter('sse', params={'total': 100}, reconnect=True):
                assert event.id == '0'
                break
    assert (await twin(api.echo.get()))['path'] == '/echo'
    await twin.close(api)



def test_permanent_errors():
    def chained(*errors):
        for outer, inner in itertools.pairwise(errors):
            outer.__cause__ = inner
        return errors[0]

    assert streams.permanent(chained(OSError('outer'), ssl.SSLCertVerificationError('bad certificate')))
    assert not streams.permanent(chained(OSError('outer'), ssl.SSLEOFError('eof')))
    assert not streams.permanent(OSError('refused'))
    assert not streams.permanent(None)
    looped = OSError('a')
    looped.__context__ = OSError('b')
    looped.__context__.__context__ = looped
    assert not streams.permanent(looped)


async def test_tls_failures_are_not_retried(twin, server, monkeypatch):
    api = twin.Resource(server.url.replace('http:', 'https:'))
    slept = []
    monkeypatch.setattr(api, '_sleep', slept.append)
    error = requests.exceptions.SSLError if twin.name == 'sync' else httpx.ConnectError
    with pytest.raises(error):
        await twin.list(api.iter('sse', params={'total': 1}, reconnect=True))
    assert slept == []
    await twin.close(api)


@pytest.mark.parametrize('size', [0, -1, True, 1.5, '1024'])
async def test_iter_chunk_size_is_checked_before_sending(twin, size):
    api = twin.Resource(URL)
    with pytest.raises(ValueError, match='chunk_size must be a positive number of bytes or None'):
        await twin.list(api.iter('x', chunk_size=size))
    assert twin.sent() == []


def test_pieces_regroup_chunks():
    pieces = streams.Pieces(4)
    assert pieces.feed(b'ab') == []
    assert pieces.feed(b'cdefghijk') == [b'abcd', b'efgh']
    assert pieces.feed(b'wxyz') == [b'ijkw']
    assert pieces.close() == [b'xyz']
    assert pieces.close() == []
    exact = b'abcd'
    assert pieces.feed(exact)[0] is exact  # a chunk of the piece size is handed over as it is
    chunk = b'as it came'
    assert streams.Pieces(None).feed(chunk)[0] is chunk


def test_a_drop_raises_after_the_whole_pieces():
    flow = streams.stream('e', {}, size=4)
    assert flow.send(None) == streams.Open('GET', 'e', {}, size=4)
    assert flow.send(opened('application/octet-stream')) == streams.Read()
    assert flow.send(b'abcdef') == Pause([b'abcd'])
    assert flow.send(None) == streams.Read()
    with pytest.raises(OSError, match='gone'):  # `ef` is not a whole piece, and the body was cut
        flow.send(streams.Dropped(OSError('gone')))
    assert run(streams.stream('e', {}, size=3), [opened('application/octet-stream'), b'abcd', b'']) == [
        ('open', None), ('items', [b'abc']), ('items', [b'd'])]


@pytest.mark.parametrize('size', [0, -1, True, 1.5, '1024'])
async def test_iter_max_line_is_checked_before_sending(twin, size):
    api = twin.Resource(URL)
    with pytest.raises(ValueError, match='max_line must be a positive number of bytes or None'):
        await twin.list(api.iter('x', max_line=size))
    assert twin.sent() == []


async def test_iter_refuses_a_line_past_max_line(twin, server):
    api = twin.Resource(server.url)
    long = json.dumps(['x' * 3000])
    for kind in ('application/x-ndjson', 'text/event-stream', 'text/plain'):
        parts = json.dumps(['1\n', *(long[start:start + 100] for start in range(0, len(long), 100)), '\n2\n'])
        params = {'parts': parts, 'type': kind}
        assert len(await twin.list(api.iter('chunks', params=params))) == (0 if kind == 'text/event-stream' else 3)
        with pytest.raises(clients.DecodeError, match=r'^GET http://127\.0\.0\.1:\d+/chunks\?.*: a line of more '
                                                      r'than 1000 bytes \(at least 1\d\d\d\); raise max_line'):
            await twin.list(api.iter('chunks', params=params, max_line=1000))
    await twin.close(api)
