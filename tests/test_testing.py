"""The test kit (`clients.testing`): routes, answers and errors, sync and async over both transports."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3

import clients
from clients.testing import FakeClock, Mock, NoRoute, answer
from tests.conftest import each

URL = 'http://api.test/v1/'


async def test_answers(twin: Any, clients_mock: Mock) -> None:
    api = clients_mock.at(URL)
    api.get('users/3').respond(json={'id': 3}, headers={'X-Seen': 'yes'})
    api.get('text').respond(text='héllo')
    api.get('bytes').respond(content=b'\x00\x01', headers={'Content-Type': 'application/octet-stream'})
    api.post('items', json={'name': 'x'}, headers={'X-Team': 'a'}).respond(201, headers={'Location': '/items/1'})
    api.get('search', params={'q': 'cats'}).respond(json=['cat'])
    res = twin.Resource(URL)
    assert await twin(res.users[3]) == {'id': 3}
    assert await twin(res.get('text')) == 'héllo'
    assert await twin(res.get('bytes')) == b'\x00\x01'
    assert await twin(res.create('items', {'name': 'x'}, headers={'X-Team': 'a'})) == '/items/1'
    assert await twin(res.search(q='cats', page=2)) == ['cat']
    response = await twin(twin.Client(URL).get('users/3'))
    assert (response.status_code, response.headers['X-Seen']) == (200, 'yes')
    call = clients_mock.calls[3]
    assert (call.method, call.url, call.json(), call.headers['x-team']) == ('POST', URL + 'items', {'name': 'x'}, 'a')
    assert clients_mock.calls[4].params == {'q': ['cats'], 'page': ['2']}
    assert [route.called for route in clients_mock.routes] == [2, 1, 1, 1, 1]
    await twin.close(res)


async def test_answers_in_turn_and_handlers(twin: Any, clients_mock: Mock, clients_clock: FakeClock) -> None:
    clients_mock.get('flaky').respond(503).respond(json='ok')
    clients_mock.get('echo').handle(lambda call: answer(json=call.params))
    res = twin.Resource(URL)
    assert await twin(res.flaky()) == 'ok'  # retried for real, the backoff on the fake clock
    assert await twin(res.flaky()) == 'ok'
    assert await twin(res.echo(a='1')) == {'a': ['1']}
    assert len(clients_clock.sleeps) == 1


async def test_streams(twin: Any, clients_mock: Mock) -> None:
    api = clients_mock.at(URL)
    api.get('lines').respond(lines=[{'n': 1}, {'n': 2}])
    api.get('events').respond(events=[{'data': 'a\nb', 'id': '7', 'event': 'tick'}, 'plain'])
    api.get('raw').respond(stream=[b'ab', 'cd'], headers={'Content-Type': 'application/octet-stream'})
    res = twin.Resource(URL)
    assert await twin.list(res.iter('lines')) == [{'n': 1}, {'n': 2}]
    events = await twin.list(res.iter('events'))
    assert [(e.data, e.event, e.id) for e in events] == [('a\nb', 'tick', '7'), ('plain', 'message', '7')]
    assert await twin.list(res.iter('raw')) == [b'ab', b'cd']  # chunk by chunk, as they arrive


async def test_cut_mid_body(twin: Any, clients_mock: Mock) -> None:
    clients_mock.get('lines').respond(lines=[1, 2], cut=True)
    clients_mock.get('whole').respond(content=b'abc', cut=True)
    res = twin.Resource(URL, retry=None)
    seen: list[Any] = []
    with pytest.raises(clients.IncompleteBody):
        async for item in each(res.iter('lines')):
            seen.append(item)
    assert seen == [1, 2]
    with pytest.raises(clients.IncompleteBody):
        await twin(res.get('whole'))


@pytest.mark.parametrize(('error', 'caught', 'attempts'), [
    ('connect', ConnectionError, 3), ('connect_timeout', TimeoutError, 3), ('timeout', TimeoutError, 3),
])
async def test_errors(twin: Any, clients_mock: Mock, clients_clock: FakeClock, error: str, caught: type,
                      attempts: int) -> None:
    route = clients_mock.get('down').respond(error=error)
    post = clients_mock.post('down').respond(error=error)
    res = twin.Resource(URL)
    with pytest.raises(_library(twin, caught)):
        await twin(res.get('down'))
    assert route.called == attempts
    with pytest.raises(_library(twin, caught)):
        await twin(res.post('down'))
    assert post.called == (3 if error.startswith('connect') else 1)  # a POST only when nothing was sent


def _library(twin: Any, kind: type) -> Any:
    import requests

    from clients import httpx
    if twin.name == 'async':
        return httpx.TimeoutException if kind is TimeoutError else httpx.ConnectError
    return requests.Timeout if kind is TimeoutError else requests.ConnectionError


async def test_delay(twin: Any, clients_mock: Mock, clients_clock: FakeClock) -> None:
    clients_mock.get('slow').respond(json=1, delay=20)
    res = twin.Resource(URL, retry=None)
    assert await twin(res.get('slow', timeout=30)) == 1
    with pytest.raises(_library(twin, TimeoutError)):
        await twin(res.get('slow', timeout=5))  # the read timeout passes first
    assert clients_clock.sleeps == [20, 5]


async def test_delay_meets_the_deadline(twin: Any, clients_mock: Mock) -> None:
    clients_mock.get('slow').respond(json=1, delay=10)
    res = twin.Resource(URL, retry=None, deadline=0.2)
    start = time.monotonic()
    with pytest.raises(clients.errors.DeadlineExceeded):
        await twin(res.get('slow'))
    assert time.monotonic() - start < 5


async def test_the_stack_runs(twin: Any, clients_mock: Mock) -> None:
    """Redirects, cookies, credential rules, decoding and `max_body` above the mock run for real."""
    clients_mock.get(URL + 'old').respond(302, headers={'Location': '/v1/new', 'Set-Cookie': 'session=s1; Path=/'})
    new = clients_mock.get(URL + 'new').respond(json='moved')
    away = clients_mock.get('http://elsewhere.test/x').respond(json='away')
    clients_mock.get(URL + 'far').respond(302, headers={'Location': 'http://elsewhere.test/x'})
    body = gzip.compress(b'{"big": true}')
    clients_mock.get(URL + 'gzip').respond(content=body, headers={'Content-Encoding': 'gzip',
                                                                     'Content-Type': 'application/json'})
    res = twin.Resource(URL, headers={'Authorization': 'Bearer t'}, max_body=5)
    assert await twin(res.get('old', max_body=None)) == 'moved'
    assert new.calls[0].headers['cookie'] == 'session=s1'
    assert await twin(res.get('far', max_body=None)) == 'away'
    assert 'authorization' not in {name.lower() for name in away.calls[0].headers}
    assert await twin(res.get('gzip', max_body=None)) == {'big': True}
    with pytest.raises(clients.BodyTooLarge):
        await twin(res.get('gzip'))


async def test_no_route(twin: Any) -> None:
    with Mock() as mock:
        mock.get('users/3', headers={'X-Team': 'a'}).respond(json={})
        mock.post('items', json={'a': 1}, params={'x': 'y'})
        mock.get(required=False, params={'never': '1'})
        res = twin.Resource(URL)
        with pytest.raises(NoRoute, match=r'no route matches GET http://api.test/v1/users/3\?key=\*\*\*') as info:
            await twin(res.get('users/3', params={'key': 'secret'}))
        assert 'secret' not in str(info.value)
        assert "GET users/3 headers={'x-team': 'a'} (called 0 times)" in str(info.value)
        with pytest.raises(NoRoute):
            await twin(res.post('items', {'a': 2}, params={'x': 'y'}))
        with pytest.raises(NoRoute):
            await twin(res.client.post('items', content=b'not json', params={'x': 'y'}))
    with pytest.raises(AssertionError) as failed:
        mock.check()
    text = str(failed.value)
    assert 'a request matched no route: GET http://api.test/v1/users/3?key=***' in text
    assert "a route was never called: POST items params={'x': 'y'} json={'a': 1} (called 0 times)" in text
    assert "'never'" not in text.split('routes:')[0]  # a route that is not required


async def test_fake_clock_covers_every_wait(twin: Any, clients_mock: Mock, clients_clock: FakeClock) -> None:
    """Backoff, rate limits, circuit cool-downs, event-stream reconnects and OAuth2 expiry, at once."""
    start = time.monotonic()
    clients_mock.get(URL + 'limited').respond(json=1)
    limited = twin.Resource(URL, rate=clients.RateLimit(1, burst=1))
    for _ in range(3):
        await twin(limited.limited())
    assert clients_clock.sleeps == [1.0, 1.0]  # one request a second
    clients_clock.sleeps.clear()

    events = clients_mock.get(URL + 'events')
    events.respond(events=[{'data': 'a', 'id': '1', 'retry': '7000'}]).respond(204)
    res = twin.Resource(URL)
    assert [event.data for event in await twin.list(res.iter('events', reconnect=True))] == ['a']
    assert clients_clock.sleeps == [7.0]
    assert events.calls[1].headers['last-event-id'] == '1'
    clients_clock.sleeps.clear()

    clients_mock.get('http://a.test/x').respond(503)
    proxy = twin.Proxy('http://a.test/', retry=clients.Retry(attempts=1))
    for _ in range(3):
        await twin(proxy.get('x'))
    stats = proxy.urls['http://a.test/']
    assert stats.state() == 'open'
    clients_clock.advance(stats.cooldown)  # the cool-down passes on the fake clock
    assert stats.state() == 'half-open'

    token = clients_mock.post('http://auth.test/token').respond(json={'access_token': 't1', 'expires_in': 60})
    clients_mock.get(URL + 'me').respond(json='me')
    oauth = twin.Resource(URL, auth=clients.OAuth2('http://auth.test/token', 'id', 'secret'))
    await twin(oauth.me())
    await twin(oauth.me())
    clients_clock.advance(31)  # renewed 30 s (the leeway) before it expires
    await twin(oauth.me())
    assert token.called == 2
    assert time.monotonic() - start < 5


def test_fake_clock_installs_once() -> None:
    with FakeClock() as clock:
        assert clients.retry.CLOCK.now() == clock.now() == 1000.0
        with pytest.raises(RuntimeError, match='installed already'):
            FakeClock().install()
    assert clients.retry.CLOCK.now() != 1000.0


@pytest.mark.parametrize(('kwargs', 'message'), [
    ({'json': 1, 'text': 'x'}, 'one body, not json and text'),
    ({'error': 'refused'}, "error must be one of connect, connect_timeout, timeout, not 'refused'"),
    ({'status': 99}, 'status must be an int from 100 to 599'),
    ({'status': True}, 'status must be an int'),
    ({'delay': -1}, 'delay must be seconds >= 0'),
])
def test_bad_answers(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        answer(**kwargs)


async def test_every_verb_and_matcher(twin: Any, clients_mock: Mock) -> None:
    api = clients_mock.at(twin.Client(URL))
    for method in ('PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'):
        getattr(api, method.lower())('thing')
    api.post('raw', content=b'exact')
    client = twin.Client(URL)
    for method in ('PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'):
        assert (await twin(client.request(method, 'thing'))).status_code == 200
    assert (await twin(client.post('raw', content=b'exact'))).content == b''
    with pytest.raises(NoRoute):
        await twin(client.post('raw', content=b'other'))
    clients_mock.unmatched.clear()
    assert [call.path for call in clients_mock.calls] == ['/v1/thing'] * 5 + ['/v1/raw'] * 2


def test_sync_bodies_are_read_once(clients_mock: Mock) -> None:
    route = clients_mock.post('upload')
    client = clients.Client(URL)
    client.post('upload', data=iter([b'a', 'b']))
    client.post('upload', data=io.BytesIO(b'file'))
    client.post('upload', data=io.StringIO('text'))
    assert [call.content for call in route.calls] == [b'ab', b'file', b'text']


def test_delay_in_real_time(clients_mock: Mock) -> None:
    clients_mock.get('slow').respond(json=1, delay=0.05)
    api = clients.Resource(URL, deadline=None, retry=None)
    start = time.monotonic()
    assert api.get('slow', timeout=urllib3.Timeout(read=5)) == 1
    assert time.monotonic() - start >= 0.05
    with pytest.raises(requests.Timeout):
        api.get('slow', timeout=urllib3.Timeout(read=0.01))


def test_the_plugin(tmp_path: Path) -> None:
    """The fixtures come with the package's pytest plugin; a route never called fails its test."""
    (tmp_path / 'test_user.py').write_text(
        'import clients\n'
        'def test_used(clients_mock, clients_clock):\n'
        '    clients_mock.get("users/3").respond(json={"id": 3})\n'
        '    assert clients.Resource("http://api.test/").users[3] == {"id": 3}\n'
        'def test_unused(clients_mock):\n'
        '    clients_mock.get("users/4")\n'
    )
    root = Path(clients.__file__).parent.parent
    result = subprocess.run(
        [sys.executable, '-m', 'pytest', '-p', 'pytest_clients', '-q', '-p', 'no:cacheprovider', str(tmp_path)],
        cwd=tmp_path, env={**os.environ, 'PYTHONPATH': str(root)}, capture_output=True, text=True, timeout=60,
    )
    assert '2 passed, 1 error' in result.stdout  # test_unused passes, then fails at teardown
    assert 'a route was never called: GET users/4 (called 0 times)' in result.stdout


@pytest.mark.parametrize('key', ['users:1', 'a:b/c', 'mailto:x'])
async def test_paths_are_joined_as_clients_join_them(twin: Any, clients_mock: Mock, key: str) -> None:
    """Text that looks like a scheme is a path, with a base and without one, as the clients read it."""
    clients_mock.get(key).respond(json=1)
    clients_mock.at(URL).get(key).respond(json=2)
    res = twin.Resource(URL)
    assert await twin(res[key]) == 1  # the first route that matches answers
    assert [route.called for route in clients_mock.routes] == [1, 0]
    clients_mock.routes.pop(0)
    assert await twin(res[key]) == 2


async def test_exact_query(twin: Any, clients_mock: Mock) -> None:
    api = clients_mock.at(URL)
    exact = api.get('items?a=1', params={'b': 2}, exact=True).respond(json='exact')
    loose = api.get('items', params={'a': '1'}).respond(json='loose')
    assert repr(exact).endswith(" exact (called 0 times)")
    res = twin.Resource(URL)
    assert await twin(res.get('items?a=1&b=2')) == 'exact'
    assert await twin(res.get('items?b=2&a=1')) == 'exact'  # in any order
    assert await twin(res.get('items?a=1&b=2&c=3')) == 'loose'  # another parameter
    assert await twin(res.get('items?a=1&b=2&b=2')) == 'loose'  # a parameter twice
    assert await twin(res.get('items?a=1')) == 'loose'  # one missing
    assert (exact.called, loose.called) == (2, 3)
    await twin.close(res)


async def test_calls_carry_their_timeout(twin: Any, clients_mock: Mock) -> None:
    route = clients_mock.get('x')
    client = twin.Client(URL)
    await twin(client.get('x'))
    await twin(client.get('x', timeout=7))
    await twin(client.get('x', timeout=(1, 2.5)))
    await twin(twin.Client(URL, timeout=3).get('x'))
    assert [call.timeout for call in route.calls] == [(5.0, 30.0), (7, 7), (1, 2.5), (3, 3)]
    await twin.close(client)


def test_sync_timeouts_of_urllib3(clients_mock: Mock) -> None:
    route = clients_mock.get('x')
    client = clients.Client(URL, deadline=None)
    client.get('x', timeout=urllib3.Timeout(connect=1, read=2))
    client.get('x', timeout=urllib3.Timeout(read=2))  # no connect timeout: urllib3's default
    assert [call.timeout for call in route.calls] == [(1, 2), (None, 2)]
