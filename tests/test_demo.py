"""`python -m clients.demo`: the tour runs for real, and its embedded API behaves."""

from __future__ import annotations

import base64
import http.client
import json
import re
import runpy
import socket
import subprocess
import sys
import time
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
    'api.items.pages(per_page=2): item ids [[1, 2], [3]]\n',
    "api.items.each(per_page=2): names ['apple', 'banana', 'cherry']\n",
    "for item in api.iter('items.ndjson') ['apple', 'banana', 'cherry']\n",
    "for event in api.iter('events') [('stock', '1', 15), ('stock', '2', 2), ('stock', '3', 99)]\n",
    "api.download(buffer, 'file') 16384 bytes\n",
    "api.get('flaky/1', retry=Retry(attempts=3)) {'attempt': 3} after two 503s\n",
    "rpc.stock(ids=[1, 3]) # + {'user': 'demo'} {'user': 'demo', 'ids': [1, 3], 'total': 114}\n",
    'calls.add(2, 3) 5\n',
    'calls.stock(id=1) 15\n',
    "calls.batch(call('add', 1, 2), ...) [3, None, 2]\n",
    "calls.divide(1, 0) MethodNotFound: no method 'divide': only add and stock\n",
    "graph.execute(ITEMS_QUERY, first=2) {'items': [{'id': 1, 'name': 'apple'}, {'id': 2, ",
    "graph.execute('{ nothing }') GraphQLError: cannot query '{ nothing }': only `items` exists\n",
    "api = Resource(url, auth=OAuth2(...)) api.me() {'client_id': 'demo-id'}\n",
    "auth.token['access_token'] after 2 calls token-1\n",  # one token for both calls
    "shop = singleton(url)(Shop); shop.items[3] {'id': 3, 'name': 'cherry', 'stock': 99}\n",
    "await api.items[1] {'id': 1, 'name': 'apple', 'stock': 15}\n",
    "async for item in api.items.each(per_page=2) ['apple', 'banana', 'cherry']\n",
    "async for event in api.iter('events') ['1', '2', '3']\n",
    'await calls.add(2, 3) 5\n',
    '\nDone: the server is stopped.',
)
NOT_FOUND = re.compile(
    r'\n api\.items\[99\] GET http://127\.0\.0\.1:\d+/items/99 returned 404 Not Found: no item 99\n'
)
PROXY = re.compile(
    r'\n proxy = Proxy\(A, B\); proxy\.get\(\.\.\.\) x 20 20 GETs answered: A (\d+), B (\d+)'
    r'\n B goes down \(refuses connections\) 20 GETs answered: A 20, B 0'
    r"\n proxy\.urls\[B\]\['errors'\] 1 \(refused: that GET went on to A\)"
    r'\n B is back on its port, 0\.3 s later 20 GETs answered: A (\d+), B (\d+)\n'
)
TRANSPORTS = {
    'httpx': '(async transport: httpx; install aiohttp for the faster one)',
    'aiohttp': '(async transport: aiohttp, the fast path)',
}


def check_tour(output: str, transport: str = 'httpx') -> None:
    """Assert that `output` is a complete, short tour with every key result, run over `transport`."""
    collapsed = re.sub(' +', ' ', output)
    for line in KEY_LINES:
        assert line in collapsed
    assert NOT_FOUND.search(collapsed)
    proxy = PROXY.search(collapsed)
    assert proxy, output
    assert int(proxy[2]) > 0  # both hosts served while both were up (a 2**-20 chance otherwise) ...
    assert int(proxy[4]) > 0  # ... and B again once it was back
    assert TRANSPORTS[transport] in output
    assert "'jsonrpc'" not in output  # no echoed JSON-RPC envelope
    lines = output.splitlines()
    assert lines[0].startswith('clients ')
    assert len(lines) < 70
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


@pytest.mark.usefixtures('runpy_ready')
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
    check_tour(done.stdout, 'aiohttp')  # (`transport='auto'`, aiohttp being installed)


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

    def __enter__(self) -> API:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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


def test_items_are_paged_by_link_headers(api: API) -> None:
    status, headers, items = api('GET', '/items?per_page=2')
    assert (status, [item['id'] for item in items]) == (200, [1, 2])
    assert headers['Link'] == '</items?per_page=2&page=2>; rel="next"'
    status, headers, items = api('GET', '/items?per_page=2&page=2')
    assert ([item['id'] for item in items], headers['Link']) == ([3], None)
    _, headers, items = api('GET', '/b/items?per_page=1&q=an')  # under a host, with a filter
    assert (items, headers['Link']) == ([{'id': 2, 'name': 'banana', 'stock': 3}], None)
    _, headers, _ = api('GET', '/a/items?per_page=1&q=e')
    assert headers['Link'] == '</a/items?per_page=1&page=2&q=e>; rel="next"'
    assert api('GET', '/items?per_page=x')[0] == 500


def test_events_are_an_event_stream(api: API) -> None:
    status, headers, body = api.raw('GET', '/events')
    assert (status, headers['Content-Type']) == (200, 'text/event-stream')
    first = body.decode().split('\n\n')[0]
    assert first == 'id: 1\nevent: stock\ndata: {"id": 1, "name": "apple", "stock": 5}'


def test_remote_stock_merges_the_body(api: API) -> None:
    assert api('POST', '/rpc/stock', {'user': 'u', 'ids': [1, '3', 99]})[2] == {'user': 'u', 'ids': [1, '3', 99],
                                                                               'total': 17}
    assert api('POST', '/rpc/stock', {})[2] == {'total': 20}  # every item


@pytest.mark.parametrize(
    ('call', 'answer'),
    [
        ({'jsonrpc': '2.0', 'method': 'add', 'params': [1, 2.5], 'id': 7}, {'jsonrpc': '2.0', 'result': 3.5, 'id': 7}),
        ({'jsonrpc': '2.0', 'method': 'stock', 'params': {'id': 3}, 'id': 'x'},
         {'jsonrpc': '2.0', 'result': 12, 'id': 'x'}),
        ({'jsonrpc': '2.0', 'method': 'add', 'params': ['1'], 'id': 1},
         demo.rpc_error(-32602, "invalid params for add: ['1']", 1)),
        ({'jsonrpc': '2.0', 'method': 'stock', 'params': {'id': 9}, 'id': 1},
         demo.rpc_error(-32602, "invalid params for stock: {'id': 9}", 1)),
        ({'jsonrpc': '2.0', 'method': 'stock', 'params': [1], 'id': 1},
         demo.rpc_error(-32602, 'invalid params for stock: [1]', 1)),
        ({'jsonrpc': '2.0', 'method': 'nope', 'id': 1},
         demo.rpc_error(-32601, "no method 'nope': only add and stock", 1)),
        ({'jsonrpc': '1.0', 'method': 'add', 'id': 1}, demo.rpc_error(-32600, 'invalid request')),
        ({'jsonrpc': '2.0', 'method': 5, 'id': 1}, demo.rpc_error(-32600, 'invalid request')),
        ([1], [demo.rpc_error(-32600, 'invalid request')]),
    ],
)
def test_jsonrpc_answers_calls(api: API, call: Any, answer: Any) -> None:
    assert api('POST', '/jsonrpc', call)[:3:2] == (200, answer)


def test_jsonrpc_notifications_and_batches(api: API) -> None:
    notification = {'jsonrpc': '2.0', 'method': 'add', 'params': [1]}
    assert api.raw('POST', '/jsonrpc', json.dumps(notification).encode())[::2] == (204, b'')
    assert api.raw('POST', '/jsonrpc', json.dumps([notification] * 2).encode())[::2] == (204, b'')
    stock = {'jsonrpc': '2.0', 'method': 'stock', 'params': {'id': 1}, 'id': 2}
    batch = [notification, {**notification, 'id': 1}, stock]
    answers = [{'jsonrpc': '2.0', 'result': 1, 'id': 1}, {'jsonrpc': '2.0', 'result': 5, 'id': 2}]
    assert api('POST', '/jsonrpc', batch)[2] == answers
    status, _, content = api.raw('POST', '/jsonrpc', b'{not json')
    assert (status, json.loads(content)) == (200, demo.rpc_error(-32700, 'parse error'))


def basic(user: str, password: str) -> dict[str, str]:
    return {'Authorization': 'Basic ' + base64.b64encode(f'{user}:{password}'.encode()).decode(),
            'Content-Type': 'application/x-www-form-urlencoded'}


def test_oauth_token_endpoint_and_the_protected_resource(api: API) -> None:
    grant = b'grant_type=client_credentials'
    status, _, content = api.raw('POST', '/oauth/token', grant, basic('demo-id', 'wrong'))
    assert (status, json.loads(content)) == (401, {'error': 'invalid_client'})
    status, _, content = api.raw('POST', '/oauth/token', b'grant_type=password', basic('demo-id', 'demo-secret'))
    assert (status, json.loads(content)) == (400, {'error': 'unsupported_grant_type'})
    status, _, content = api.raw('POST', '/oauth/token', grant, basic('demo-id', 'demo-secret'))
    assert (status, json.loads(content)) == (200, {'access_token': 'token-1', 'token_type': 'Bearer',
                                                   'expires_in': 3600})
    status, headers, error = api('GET', '/me')
    assert (status, headers['WWW-Authenticate']) == (401, 'Bearer')
    assert error == {'message': 'a valid Bearer token is needed'}
    assert api('GET', '/me', headers={'Authorization': 'Bearer token-2'})[0] == 401
    assert api('GET', '/me', headers={'Authorization': 'Basic token-1'})[0] == 401
    assert api('GET', '/me', headers={'Authorization': 'Bearer token-1'})[:3:2] == (200, {'client_id': 'demo-id'})


def test_flaky_fails_twice_per_key(api: API) -> None:
    for attempt in (1, 2):
        status, headers, error = api('GET', '/flaky/k')
        assert (status, headers['Retry-After'], error) == (503, '0', {'message': f'failure {attempt} of 2'})
    assert api('GET', '/flaky/k')[:3:2] == (200, {'attempt': 3})
    assert api('GET', '/flaky/other')[0] == 503


def test_servers_can_share_a_store_and_stop_cuts_their_connections(demo_server: demo.DemoServer) -> None:
    second, _ = demo.make_server(store=demo_server.store)
    connection = API(second.server_port)
    try:
        connection('PATCH', '/items/1', {'stock': 0})
        with API(demo_server.server_port) as first:
            assert first('GET', '/items/1')[2]['stock'] == 0
        second.stop()
        with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):  # the kept-alive connection is cut
            connection('GET', '/items/1')
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(('127.0.0.1', second.server_port), timeout=5).close()
    finally:
        connection.close()


def raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
        sock.sendall(data)
        return sock.recv(100)


def test_a_handler_error_is_printed_a_client_hanging_up_is_not(demo_server: demo.DemoServer,
                                                              capfd: pytest.CaptureFixture[str]) -> None:
    port = demo_server.server_port
    assert raw_request(port, b'POST /items HTTP/1.1\r\nContent-Length: many\r\n\r\n') == b''  # a bug: no answer
    for _ in range(50):
        if 'ValueError' in (err := capfd.readouterr().err):
            break
        time.sleep(0.05)
    assert "ValueError: invalid literal for int() with base 10: 'many'" in err
    with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:  # gone before its answer
        sock.sendall(b'GET /file HTTP/1.1\r\n\r\n')
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\1\0\0\0\0\0\0\0')
    with API(port) as connection:  # still serving
        assert connection('GET', '/items/1')[0] == 200
    time.sleep(0.2)
    assert capfd.readouterr().err == ''
