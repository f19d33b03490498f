"""`python -m clients.demo`: the tour runs for real, and its embedded API behaves."""

from __future__ import annotations

import http.client
import json
import re
import runpy
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from clients import demo

Headers = dict[str, str] | None

# Lines of the tour that show each part of the library working (spaces collapsed).
KEY_LINES = (
    "api.items[1] {'id': 1, 'name': 'apple', 'stock': 5}\n",
    "api.items(q='an') [{'id': 2, 'name': 'banana', 'stock': 3}]\n",
    "api.user.repos() [{'name': 'clients', 'stars': 42}, {'name': 'demo', 'stars': 7}]\n",
    '1 in api.items, 99 in api.items (True, False)\n',
    'api.items.client.get(1) <Response [200]>, ETag "',
    "api.items.create(json={'name': 'durian'...}) /items/4\n",
    "api.get(location) {'id': 4, 'name': 'durian', 'stock': 1}\n",
    "api.items.update(4, stock=2) {'id': 4, 'name': 'durian', 'stock': 2}\n",
    "api.items.update(1, restock, amount=10) {'id': 1, 'name': 'apple', 'stock': 15}\n",
    "api.items.updating(2): item['stock'] -= 1 {'id': 2, 'name': 'banana', 'stock': 2}\n",
    '...while someone else PATCHes item 3 lost update refused: 412\n',
    'del api.items[4]; 4 in api.items False\n',
    "for item in api.iter('items.ndjson') ['apple', 'banana', 'cherry']\n",
    "api.download(buffer, 'file') 16384 bytes\n",
    "rpc(method='add', params=[2, 3]) {'result': {'jsonrpc': '2.0', 'id': 1, 'method': 'add',",
    "graph.execute(ITEMS_QUERY, first=2) {'items': [{'id': 1, 'name': 'apple'}, {'id': 2, ",
    "graph.execute('{ nothing }') GraphQLError: cannot query '{ nothing }': only `items` exists\n",
    "await api.items[1] {'id': 1, 'name': 'apple', 'stock': 15}\n",
    "async for item in api.iter('items.ndjson') ['apple', 'banana', 'cherry']\n",
    '\nDone: the server is stopped.',
)
NOT_FOUND = re.compile(
    r'\n api\.items\[99\] GET http://127\.0\.0\.1:\d+/items/99 returned 404 Not Found: no item 99\n'
)
PROXY = re.compile(
    r"\n proxy\.get\('unavailable'\) 503 after 2 attempts"
    r'\n proxy\.urls \(per-host Stats\) /a/ failures=1, /b/ failures=1'
    r"\n proxy\.get\('items'\) 200 from http://127\.0\.0\.1:\d+/[ab]/items\n"
)


def check_tour(output: str) -> None:
    """Assert that `output` is a complete, short tour with every key result."""
    collapsed = re.sub(' +', ' ', output)
    for line in KEY_LINES:
        assert line in collapsed
    assert NOT_FOUND.search(collapsed)
    proxy = PROXY.search(collapsed)
    assert proxy, output
    lines = output.splitlines()
    assert lines[0].startswith('clients ')
    assert len(lines) < 50
    assert max(map(len, lines)) <= 120


def port_of(output: str) -> int:
    """Return the demo server's port from the tour's first line."""
    found = re.search(r'http://127\.0\.0\.1:(\d+)/', output)
    assert found
    return int(found[1])


def test_main_prints_the_tour_and_stops_its_server(capsys: pytest.CaptureFixture[str]) -> None:
    demo.main()
    output = capsys.readouterr().out
    check_tour(output)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(('127.0.0.1', port_of(output)), timeout=5).close()


def test_main_writes_to_the_given_function(capsys: pytest.CaptureFixture[str]) -> None:
    lines: list[str] = []
    demo.main(lines.append)
    assert capsys.readouterr().out == ''
    check_tour('\n'.join(lines) + '\n')


def test_run_as_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # runpy warns when the module is already imported; run a fresh copy as __main__
    monkeypatch.delitem(sys.modules, 'clients.demo')
    runpy.run_module('clients.demo', run_name='__main__')
    check_tour(capsys.readouterr().out)


def test_python_dash_m_in_a_subprocess() -> None:
    command = [sys.executable, '-W', 'error', '-m', 'clients.demo']
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ''
    check_tour(done.stdout)


# --- the embedded API -------------------------------------------------------------------


@pytest.fixture
def demo_server() -> Iterator[demo.DemoServer]:
    """A demo server of this test's own (its store starts from the seed)."""
    server, url = demo.make_server()
    assert url == f'http://127.0.0.1:{server.server_port}/'
    yield server
    server.stop()


@pytest.fixture
def api(demo_server: demo.DemoServer) -> Iterator[API]:
    """One keep-alive connection to the demo server."""
    connection = API(demo_server.server_port)
    yield connection
    connection.close()


class API:
    """A plain `http.client` connection: checks framing, returns status, headers and JSON."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection('127.0.0.1', port, timeout=10)

    def close(self) -> None:
        self.connection.close()

    def raw(
        self, method: str, path: str, body: bytes | None = None, headers: Headers = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        self.connection.request(method, path, body=body, headers=headers or {})
        response = self.connection.getresponse()
        content = response.read()
        assert response.version == 11
        assert not response.will_close  # keep-alive: the next request reuses this connection
        if method != 'HEAD':
            assert int(response.headers['Content-Length']) == len(content)
        return response.status, response.headers, content

    def __call__(
        self, method: str, path: str, json_body: Any = None, headers: Headers = None
    ) -> tuple[int, http.client.HTTPMessage, Any]:
        body = None if json_body is None else json.dumps(json_body).encode()
        status, found, content = self.raw(method, path, body, headers)
        assert found['Content-Type'] == 'application/json'
        return status, found, json.loads(content)


def test_list_and_filter(api: API) -> None:
    status, _, items = api('GET', '/items')
    assert status == 200
    assert [item['name'] for item in items] == ['apple', 'banana', 'cherry']
    assert api('GET', '/items?q=AN')[2] == [{'id': 2, 'name': 'banana', 'stock': 3}]
    assert api('GET', '/items/?q=zzz')[2] == []


def test_item_has_an_etag_and_head_matches_get(api: API) -> None:
    status, headers, item = api('GET', '/items/1')
    assert (status, item) == (200, {'id': 1, 'name': 'apple', 'stock': 5})
    assert headers['ETag'] == demo.etag(item)
    status, head, body = api.raw('HEAD', '/items/1')
    assert (status, body) == (200, b'')
    assert head['ETag'] == headers['ETag']
    assert head['Content-Length'] == headers['Content-Length']
    assert api.raw('HEAD', '/items/99')[0] == 404


@pytest.mark.parametrize('method', ['GET', 'PUT', 'PATCH', 'DELETE'])
def test_missing_item_is_404(api: API, method: str) -> None:
    body = None if method in ('GET', 'DELETE') else {'name': 'x'}
    status, _, error = api(method, '/items/99', body)
    assert (status, error) == (404, {'message': 'no item 99'})


def test_put_honours_if_match(api: API) -> None:
    _, headers, item = api('GET', '/items/3')
    stale = {'If-Match': '"0000"'}
    status, _, error = api('PUT', '/items/3', {**item, 'stock': 0}, stale)
    assert (status, error) == (412, {'message': 'item 3 changed since it was read'})
    assert api('GET', '/items/3')[2] == item
    fresh = {'If-Match': headers['ETag']}
    status, changed, body = api('PUT', '/items/3', {'name': 'cherry', 'stock': 1}, fresh)
    assert (status, body) == (200, {'id': 3, 'name': 'cherry', 'stock': 1})
    assert changed['ETag'] != headers['ETag']
    assert api('PUT', '/items/3', {'name': 'fig'}, fresh)[0] == 412  # that ETag is stale now
    assert api('PUT', '/items/3', {'name': 'fig'})[2] == {'id': 3, 'name': 'fig'}  # unconditional


def test_create_answers_201_with_location(api: API) -> None:
    status, headers, item = api('POST', '/items', {'id': 99, 'name': 'durian'})
    assert (status, item) == (201, {'id': 4, 'name': 'durian'})
    assert headers['Location'] == '/items/4'
    assert headers['ETag'] == demo.etag(item)
    assert api('GET', '/items/4')[2] == item
    assert api('POST', '/b/items', {'name': 'elder'})[1]['Location'] == '/b/items/5'


def test_patch_merges_and_keeps_the_id(api: API) -> None:
    status, _, item = api('PATCH', '/items/1', {'stock': 0, 'id': 7})
    assert (status, item) == (200, {'id': 1, 'name': 'apple', 'stock': 0})


def test_delete_removes_the_item(api: API) -> None:
    assert api('DELETE', '/items/2')[:3:2] == (200, {'id': 2, 'name': 'banana', 'stock': 3})
    assert api('GET', '/items/2')[0] == 404


def test_hosts_a_and_b_are_the_same_api(api: API) -> None:
    api('PATCH', '/b/items/1', {'stock': 8})
    assert api('GET', '/a/items/1')[2]['stock'] == 8
    assert api('GET', '/items/1')[2]['stock'] == 8
    down = {'message': 'this host is down for maintenance'}
    assert api('GET', '/a/unavailable')[:3:2] == (503, down)


def test_ndjson_and_file(api: API) -> None:
    status, headers, body = api.raw('GET', '/items.ndjson')
    assert (status, headers['Content-Type']) == (200, 'application/x-ndjson')
    assert [json.loads(line)['name'] for line in body.splitlines()] == ['apple', 'banana', 'cherry']
    status, headers, body = api.raw('GET', '/file')
    assert (status, headers['Content-Type'], body) == (200, 'application/octet-stream', demo.FILE)


def test_rpc_echoes_the_body(api: API) -> None:
    call = {'jsonrpc': '2.0', 'id': 1, 'method': 'add', 'params': [2, 3]}
    assert api('POST', '/rpc', call)[:3:2] == (200, {'result': call})


def test_graphql(api: API) -> None:
    query = {'query': '{ items { id name } }'}
    status, _, result = api('POST', '/graphql', query)
    assert status == 200
    assert [item['name'] for item in result['data']['items']] == ['apple', 'banana', 'cherry']
    first = api('POST', '/graphql', {**query, 'variables': {'first': 1}})[2]
    assert first == {'data': {'items': [{'id': 1, 'name': 'apple'}]}}
    error = {'message': "cannot query '{ users }': only `items` exists"}
    assert api('POST', '/graphql', {'query': '{ users }'})[2] == {'data': None, 'errors': [error]}


def test_user_repos(api: API) -> None:
    assert api('GET', '/user/repos')[:3:2] == (200, demo.REPOS)


@pytest.mark.parametrize(
    ('method', 'path', 'body'),
    [
        ('GET', '/nope', None),
        ('GET', '/a', None),
        ('POST', '/items/1', b'{}'),
        ('GET', '/items/1/more', None),
    ],
)
def test_unknown_route_is_404(api: API, method: str, path: str, body: bytes | None) -> None:
    status, _, content = api.raw(method, path, body)
    assert status == 404
    assert json.loads(content)['message'].startswith(f'nothing at {method} ')


@pytest.mark.parametrize('body', [b'', b'{not json', b'[1, 2]', b'"text"', b'\xff'])
def test_a_body_that_is_no_json_object_is_400(api: API, body: bytes) -> None:
    status, _, content = api.raw('POST', '/items', body)
    assert (status, json.loads(content)) == (400, {'message': 'POST needs a JSON object body'})
    assert api('GET', '/items')[2][-1]['id'] == 3  # nothing was created


def test_odd_input_gives_500_not_a_dropped_connection(api: API) -> None:
    status, _, error = api('POST', '/graphql', {'query': '{ items }', 'variables': ['first']})
    assert status == 500
    assert error['message'].startswith('AttributeError')
    assert api('GET', '/items/1')[0] == 200  # the same connection still works
