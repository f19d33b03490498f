"""Cassettes (`clients.cassettes`): real traffic recorded once and replayed offline, redacted."""

from __future__ import annotations

import gzip
import io
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

import clients
from clients.cassettes import Cassette, Interaction, redact_body, redact_header
from clients.testing import Mock, NoRoute
from tests.server import Server

SECRETS = ('sekrit-token-1', 'key-12345', 'cookie-value-1', 'client-secret-9', 'hunter22')
PARTS = json.dumps(['{"n": 1}\n', '{"n": 2}\n'])


def _sync(url: str, path: Path) -> Any:
    with Mock() as mock:
        mock.cassette(str(path))
        api = clients.Resource(url, headers={'Authorization': 'Bearer sekrit-token-1'},
                               auth=clients.ApiKey('key-12345', query='api_key'), cookies={'session': 'cookie-value-1'})
        echo = api.echo(x='1')
        form = api.client.post('echo', data={'client_secret': 'client-secret-9', 'grant': 'x'}).json()
        basic = api.client.get(url.replace('://', '://user:hunter22@') + 'echo').json()
        lines = list(api.iter('chunks', params={'parts': PARTS}))
        events = [(event.id, event.data) for event in api.iter('sse', params={'total': 2})]
        data = api.download(io.BytesIO(), 'bytes/300000').getvalue()
        gzipped = api.get('gzip')
        api.close()
    return echo['query'], form['body'].count('grant'), basic['path'], lines, events, len(data), len(gzipped)


async def _async(url: str, path: Path) -> Any:
    with Mock() as mock:
        mock.cassette(str(path))
        async with clients.AsyncResource(url, headers={'Authorization': 'Bearer sekrit-token-1'},
                                         auth=clients.ApiKey('key-12345', query='api_key'),
                                         cookies={'session': 'cookie-value-1'}) as api:
            echo = await api.echo(x='1')
            form = (await api.client.post('echo', data={'client_secret': 'client-secret-9', 'grant': 'x'})).json()
            basic = (await api.client.get(url.replace('://', '://user:hunter22@') + 'echo')).json()
            lines = [item async for item in api.iter('chunks', params={'parts': PARTS})]
            events = [(event.id, event.data) async for event in api.iter('sse', params={'total': 2})]
            data = (await api.download(io.BytesIO(), 'bytes/300000')).getvalue()
            gzipped = await api.get('gzip')
    return echo['query'], form['body'].count('grant'), basic['path'], lines, events, len(data), len(gzipped)


def _recorded(path: Path) -> str:
    text = path.read_text()
    for secret in SECRETS:
        assert secret not in text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert text.startswith('interactions:')
    assert text.rstrip().endswith('version: 1')
    return text


def test_record_then_replay(fresh: Server, tmp_path: Path) -> None:
    path = tmp_path / 'cassettes' / 'sync.yaml'
    recorded = _sync(fresh.url, path)
    assert recorded == ({'x': '1', 'api_key': 'key-12345'}, 1, '/echo', [{'n': 1}, {'n': 2}],
                        [('0', '{"n": 0}\nsecond line'), ('1', '{"n": 1}\nsecond line')], 300000, 2000)
    _recorded(path)
    sent = len(fresh.requests)
    fresh.stop()
    replayed = _sync(fresh.url, path)
    assert replayed[1:] == recorded[1:]
    assert replayed[0] == {'x': '1', 'api_key': '***'}  # as recorded: redacted
    assert len(fresh.requests) == sent


async def test_record_then_replay_async(fresh: Server, tmp_path: Path) -> None:
    path = tmp_path / 'async.yaml'
    recorded = await _async(fresh.url, path)
    assert recorded[3:] == ([{'n': 1}, {'n': 2}], [('0', '{"n": 0}\nsecond line'), ('1', '{"n": 1}\nsecond line')],
                            300000, 2000)
    _recorded(path)
    fresh.stop()
    assert (await _async(fresh.url, path))[1:] == recorded[1:]


def test_replay_refuses_what_was_not_recorded(tmp_path: Path) -> None:
    path = tmp_path / 'c.yaml'
    path.write_text('interactions:\n- request: {method: GET, uri: "http://api.test/a?b=1", headers: {}, body: null}\n'
                    '  response: {status: {code: 200, message: OK}, headers: {Content-Type: [text/plain]},'
                    ' body: {string: hi}}\nversion: 1\n')
    with Mock() as mock:
        mock.cassette(str(path), mode='replay')
        api = clients.Resource('http://api.test/')
        assert api.get('a', params={'b': 1}) == 'hi'
        with pytest.raises(NoRoute, match=r'GET http://api.test/a\?b=1 \(played\)'):
            api.get('a', params={'b': 1})


def test_no_link_is_followed(tmp_path: Path) -> None:
    target = tmp_path / 'elsewhere.yaml'
    target.write_text('interactions: []\nversion: 1\n')
    link = tmp_path / 'link.yaml'
    link.symlink_to(target)
    with pytest.raises(OSError, match='symbolic or hard link'):
        Cassette(link)
    cassette = Cassette(link, mode='record')
    cassette.save()
    assert not link.is_symlink()
    assert target.read_text() == 'interactions: []\nversion: 1\n'


@pytest.mark.parametrize(('text', 'message'), [
    ('[1, 2]', 'has no list of interactions'),
    ('interactions: [{request: {}}]', 'not an interaction'),
])
def test_bad_cassettes(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / 'bad.yaml'
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        Cassette(path)
    with pytest.raises(ValueError, match="mode must be one of once, record, replay, not 'x'"):
        Cassette(path, 'x')


@pytest.mark.parametrize(('body', 'kind', 'redacted'), [
    (b'{"access_token": "a", "token_type": "Bearer", "nested": [{"refresh_token": "r"}]}', 'application/json',
     b'{"access_token": "***", "token_type": "Bearer", "nested": [{"refresh_token": "***"}]}'),
    (b'grant_type=x&client_secret=s&password=p', 'application/x-www-form-urlencoded',
     b'grant_type=x&client_secret=%2A%2A%2A&password=%2A%2A%2A'),
    (b'not json', 'application/json', b'***'),
    (b'\xff', 'application/x-www-form-urlencoded', b'***'),
    (b'plain access_token', 'text/plain', b'plain access_token'),
])
def test_redact_body(body: bytes, kind: str, redacted: bytes) -> None:
    assert redact_body(body, kind) == redacted


def test_redact_header() -> None:
    assert redact_header('Set-Cookie', 'sid=abc; Path=/; HttpOnly') == 'sid=***; Path=/; HttpOnly'
    assert redact_header('X-API-Key', 'k') == '***'
    assert redact_header('Content-Type', 'text/plain') == 'text/plain'


def test_secrets_are_found_everywhere() -> None:
    token = json.dumps({'access_token': 'tok-abcdef', 'items': [{'refresh_token': 'ref-abcdef'}], 'n': 1}).encode()
    entry = Interaction('POST', 'http://api.test/token', [('Content-Type', 'application/x-www-form-urlencoded')],
                        b'\xff', 200, 'OK',
                        [('Set-Cookie', 'sid=cookie-abcdef; Path=/'), ('Content-Type', 'application/json'),
                         ('Content-Encoding', 'gzip'), ('Content-Length', '3')],
                        [gzip.compress(token)])
    assert entry.secrets() == {'tok-abcdef', 'ref-abcdef', 'cookie-abcdef'}
    other = Interaction('GET', 'http://api.test/me', [('X-Echo', 'saw tok-abcdef')], b'', 200, 'OK',
                        [], [b'hello tok-abcdef'])
    redacted = other.redacted(entry.secrets())
    assert redacted['request']['headers'] == {'X-Echo': ['saw ***']}
    assert redacted['response']['body'] == {'string': 'hello ***'}
    written = entry.redacted()['response']
    assert 'Content-Encoding' not in written['headers']  # undone, to be redacted
    assert json.loads(written['body']['string'])['access_token'] == '***'
    assert written['headers']['Content-Length'] == [str(len(written['body']['string']))]


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / 'taken'
    path.mkdir()
    cassette = Cassette(path, mode='record')
    with pytest.raises(OSError):
        cassette.save()
    assert os.listdir(tmp_path) == ['taken']
