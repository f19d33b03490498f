"""The server-sent events parser."""

import pytest

from clients import DecodeError, content, sse
from clients.sse import Event


def parse(text, chunks=None):
    parser = sse.Parser()
    splitter = content.LineSplitter()
    events = []
    for piece in chunks or [text]:
        events += parser.feed(splitter.feed(piece))
    return events + parser.feed(splitter.close())


def test_fields_and_multiline_data():
    text = (b'\xef\xbb\xbf: comment\r\nevent: add\r\ndata: one\r\ndata:two\r\ndata:  three\r\n'
            b'id: 7\r\nretry: 250\r\n\r\n')
    assert parse(text) == [Event('one\ntwo\n three', 'add', '7', 250)]


def test_defaults_and_state_carried_over():
    text = b'data\n\nid: 3\ndata: x\n\nfoo: bar\ndata: y\n\nid\ndata: z\n\n'
    assert parse(text) == [Event(''), Event('x', id='3'), Event('y', id='3'), Event('z')]


def test_what_is_ignored():
    text = b'retry: 1x\nretry: \xd9\xa3\nid: a\x00b\nevent: e\n\n: only a comment\n\ndata: last, unfinished'
    parser = sse.Parser()
    assert parser.feed(list(content.split_lines([text]))) == []
    assert parser.retry is None
    assert parser.last_id == ''


@pytest.mark.parametrize('size', [1, 2, 3, 7])
def test_any_chunking(size):
    text = b'event: a\r\ndata: 1\r\n\r\nid: 2\rdata: 2\r\r: c\ndata: 3\n\n'
    chunks = [text[i:i + size] for i in range(0, len(text), size)]
    assert parse(text, chunks) == [Event('1', 'a'), Event('2', id='2'), Event('3', id='2')]


def test_retry_without_data_is_kept_and_restart_forgets_the_partial_event():
    parser = sse.Parser()
    assert parser.feed([b'retry: 10', b'', b'data: x']) == []
    assert parser.retry == 10
    parser.restart()
    assert parser.feed([b'\xef\xbb\xbfdata: y', b'']) == [Event('y')]
    assert parser.retry == 10


def test_event_json():
    assert Event('{"a": [1]}').json() == {'a': [1]}
    with pytest.raises(DecodeError, match=r"event data is not JSON .*'\[DONE\]'"):
        Event('[DONE]').json()


def test_decoding_a_whole_body():
    assert content.kind('text/event-stream; charset=utf-8') == 'events'
    assert content.decode(b'data: 1\n\ndata: 2\n\n', 'text/event-stream') == [Event('1'), Event('2')]
    items = content.Items('text/event-stream')
    assert items.feed(b'data: \xc3') == []
    assert items.feed(b'\xa9\n\n') == [Event('é')]
    assert items.close() == []
