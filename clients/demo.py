"""A guided tour: `python -m clients.demo` runs the library against an embedded local API.

The API is an in-memory item store served by the standard library on 127.0.0.1 (an
ephemeral port, in a daemon thread), so the tour needs no account and no network.
Read the `tour_*` functions for client code; `Store` is the API's logic, `Handler` its HTTP.
`serve` (`clients demo --serve [PORT]`) keeps the API running to explore it by hand.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import clients
from clients import jsonrpc, transports
from clients.hosts import Stats

# The server is local: ignore any HTTP(S)_PROXY settings from the environment.
LOCAL: dict[str, Any] = {'trust_env': False}

SEED = (('apple', 5), ('banana', 3), ('cherry', 12))
FILE = bytes(range(256)) * 64
REPOS = [{'name': 'clients', 'stars': 42}, {'name': 'demo', 'stars': 7}]
ITEMS_QUERY = 'query($first: Int) { items(first: $first) { id name } }'
HOST = re.compile(r'/[ab](?=/)')  # `/a/...` and `/b/...` are two "hosts" of the same API
CODE_WIDTH, WIDTH = 44, 72  # columns of the tour's lines: code, then its result
CLIENT_ID, CLIENT_SECRET = 'demo-id', 'demo-secret'  # the one OAuth 2.0 client the API knows
FLAKY_FAILURES = 2  # `GET /flaky/<key>` answers 503 this many times per key, then 200
PORT = 8000  # `clients demo --serve` without a port


# --- the embedded API ------------------------------------------------------------------


@dataclass
class Reply:
    """An answer of the API: status, body and headers (Content-Length is added on sending)."""

    status: int
    body: bytes = b''
    headers: dict[str, str] = field(default_factory=dict)


def reply(status: int, value: Any, headers: dict[str, str] | None = None) -> Reply:
    """Return a JSON reply."""
    body = json.dumps(value).encode()
    return Reply(status, body, {'Content-Type': 'application/json', **(headers or {})})


def etag(item: dict[str, Any]) -> str:
    """Return an item's ETag: a quoted hash of its JSON."""
    digest = hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest()
    return f'"{digest[:16]}"'


def item_reply(status: int, item: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    """Return a JSON reply for one item, with its ETag."""
    return reply(status, item, {'ETag': etag(item), **(headers or {})})


def make_item(key: str, data: dict[str, Any]) -> dict[str, Any]:
    """Return an item: `data` with the `id` of `key` (first, whatever `data` says)."""
    return {'id': int(key), **{name: value for name, value in data.items() if name != 'id'}}


def rpc_error(code: int, message: str, id: Any = None) -> dict[str, Any]:
    """Return a JSON-RPC 2.0 error response."""
    return {'jsonrpc': '2.0', 'error': {'code': code, 'message': message}, 'id': id}


class Store:
    """The demo API without HTTP: an in-memory item store and a few more endpoints."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.last = 0
        self.lock = threading.Lock()
        self.hits: dict[str, int] = {}  # requests per `/flaky/<key>`
        self.tokens: set[str] = set()  # OAuth 2.0 access tokens issued
        for name, stock in SEED:
            self.add({'name': name, 'stock': stock})

    def add(self, data: dict[str, Any]) -> dict[str, Any]:
        """Store a new item under the next id and return it."""
        self.last += 1
        key = str(self.last)
        self.items[key] = make_item(key, data)
        return self.items[key]

    def handle(self, method: str, target: str, body: bytes = b'', if_match: str | None = None,
               authorization: str | None = None) -> Reply:
        """Answer a request for `target` (path and query, optionally under `/a` or `/b`)."""
        try:
            with self.lock:
                return self.route(method, target, body, if_match, authorization)
        except Exception as exc:  # odd input must give a 500, not a dropped connection
            return reply(500, {'message': f'{type(exc).__name__}: {exc}'})

    def route(self, method: str, target: str, body: bytes, if_match: str | None,
              authorization: str | None) -> Reply:
        """Answer a request; the caller holds the lock."""
        parts = urlsplit(target)
        host = HOST.match(parts.path)
        prefix = host[0] if host else ''
        path = parts.path.removeprefix(prefix).strip('/').split('/')
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        match method, path:
            case 'POST', ['jsonrpc']:
                return self.jsonrpc(body)
            case 'POST', ['oauth', 'token']:
                return self.token(body, authorization)
        data: dict[str, Any] = {}
        if method in ('POST', 'PUT', 'PATCH'):
            try:
                value = json.loads(body)
            except ValueError:
                value = None
            if not isinstance(value, dict):
                return reply(400, {'message': f'{method} needs a JSON object body'})
            data = value
        match method, path:
            case 'GET', ['items']:
                return self.listing(prefix, query)
            case 'POST', ['items']:
                item = self.add(data)
                return item_reply(201, item, {'Location': f'{prefix}/items/{item["id"]}'})
            case 'GET', ['items.ndjson']:
                lines = b''.join(json.dumps(item).encode() + b'\n' for item in self.items.values())
                return Reply(200, lines, {'Content-Type': 'application/x-ndjson'})
            case 'GET', ['events']:
                events = ''.join(f'id: {item["id"]}\nevent: stock\ndata: {json.dumps(item)}\n\n'
                                 for item in self.items.values())
                return Reply(200, events.encode(), {'Content-Type': 'text/event-stream'})
            case _, ['items', key] if key not in self.items:
                return reply(404, {'message': f'no item {key}'})
            case 'GET', ['items', key]:
                return item_reply(200, self.items[key])
            case 'PUT', ['items', key]:
                if if_match and if_match != etag(self.items[key]):
                    return reply(412, {'message': f'item {key} changed since it was read'})
                self.items[key] = make_item(key, data)
                return item_reply(200, self.items[key])
            case 'PATCH', ['items', key]:
                self.items[key] = make_item(key, {**self.items[key], **data})
                return item_reply(200, self.items[key])
            case 'DELETE', ['items', key]:
                return reply(200, self.items.pop(key))
            case 'GET', ['file']:
                return Reply(200, FILE, {'Content-Type': 'application/octet-stream'})
            case 'POST', ['rpc']:
                return reply(200, {'result': data})
            case 'POST', ['rpc', 'stock']:
                ids = [str(id) for id in data.get('ids', self.items)]
                total = sum(self.items[key]['stock'] for key in ids if key in self.items)
                return reply(200, {**data, 'total': total})
            case 'POST', ['graphql']:
                return self.graphql(data)
            case 'GET', ['user', 'repos']:
                return reply(200, REPOS)
            case 'GET', ['unavailable']:
                return reply(503, {'message': 'this host is down for maintenance'})
            case 'GET', ['flaky', key]:
                self.hits[key] = attempt = self.hits.get(key, 0) + 1
                if attempt <= FLAKY_FAILURES:
                    return reply(503, {'message': f'failure {attempt} of {FLAKY_FAILURES}'}, {'Retry-After': '0'})
                return reply(200, {'attempt': attempt})
            case 'GET', ['me']:
                scheme, _, token = (authorization or '').partition(' ')
                if scheme.lower() != 'bearer' or token not in self.tokens:
                    return reply(401, {'message': 'a valid Bearer token is needed'}, {'WWW-Authenticate': 'Bearer'})
                return reply(200, {'client_id': CLIENT_ID})
        return reply(404, {'message': f'nothing at {method} {parts.path}'})

    def listing(self, prefix: str, query: dict[str, str]) -> Reply:
        """Answer `GET /items?q=...`: the items whose name has `q`, paged by `per_page`/`page`."""
        text = query.get('q', '').lower()
        found = [item for item in self.items.values() if text in str(item.get('name')).lower()]
        if 'per_page' not in query:
            return reply(200, found)
        size, page = max(1, int(query['per_page'])), max(1, int(query.get('page', 1)))
        headers = {}
        if page * size < len(found):  # RFC 8288, a link relative to this page, as GitHub sends
            rest = ''.join(f'&{name}={query[name]}' for name in ('q',) if name in query)
            headers['Link'] = f'<{prefix}/items?per_page={size}&page={page + 1}{rest}>; rel="next"'
        return reply(200, found[(page - 1) * size: page * size], headers)

    def jsonrpc(self, body: bytes) -> Reply:
        """Answer JSON-RPC 2.0 (a call, a notification or a batch): methods `add` and `stock`."""
        try:
            message = json.loads(body)
        except ValueError:
            return reply(200, rpc_error(-32700, 'parse error'))
        if isinstance(message, list):
            answers = [answer for call in message if (answer := self.rpc_call(call)) is not None]
            return reply(200, answers) if answers else Reply(204)
        answer = self.rpc_call(message)
        return Reply(204) if answer is None else reply(200, answer)

    def rpc_call(self, call: Any) -> dict[str, Any] | None:
        """Return the response to one JSON-RPC call, or None for a notification."""
        if not isinstance(call, dict) or call.get('jsonrpc') != '2.0' or not isinstance(call.get('method'), str):
            return rpc_error(-32600, 'invalid request')
        id, params = call.get('id'), call.get('params', [])
        if call['method'] == 'add' and isinstance(params, list) and all(
                isinstance(value, int | float) for value in params):
            answer = {'jsonrpc': '2.0', 'result': sum(params), 'id': id}
        elif call['method'] == 'stock' and isinstance(params, dict) and str(params.get('id')) in self.items:
            answer = {'jsonrpc': '2.0', 'result': self.items[str(params['id'])]['stock'], 'id': id}
        elif call['method'] in ('add', 'stock'):
            answer = rpc_error(-32602, f'invalid params for {call["method"]}: {params!r}', id)
        else:
            answer = rpc_error(-32601, f'no method {call["method"]!r}: only add and stock', id)
        return answer if 'id' in call else None

    def token(self, body: bytes, authorization: str | None) -> Reply:
        """Answer an OAuth 2.0 client-credentials token request (RFC 6749 4.4), client in Basic auth."""
        form = {name: values[-1] for name, values in parse_qs(body.decode(errors='replace')).items()}
        expected = base64.b64encode(f'{CLIENT_ID}:{CLIENT_SECRET}'.encode()).decode()
        if authorization != f'Basic {expected}':
            return reply(401, {'error': 'invalid_client'}, {'WWW-Authenticate': 'Basic'})
        if form.get('grant_type') != 'client_credentials':
            return reply(400, {'error': 'unsupported_grant_type'})
        token = f'token-{len(self.tokens) + 1}'
        self.tokens.add(token)
        return reply(200, {'access_token': token, 'token_type': 'Bearer', 'expires_in': 3600})

    def graphql(self, data: dict[str, Any]) -> Reply:
        """Answer a GraphQL-ish request: only `items` (with an optional `first`) is known."""
        query = str(data.get('query'))
        if 'items' not in query:
            error = {'message': f'cannot query {query!r}: only `items` exists'}
            return reply(200, {'data': None, 'errors': [error]})
        first = (data.get('variables') or {}).get('first')
        items = [{'id': item['id'], 'name': item.get('name')} for item in self.items.values()]
        return reply(200, {'data': {'items': items[:first]}})


class Handler(BaseHTTPRequestHandler):
    """Serves the `Store` over HTTP/1.1 with keep-alive."""

    protocol_version = 'HTTP/1.1'
    timeout = 30  # seconds an idle keep-alive connection is kept open
    disable_nagle_algorithm = True  # headers and body go out in two writes: don't delay them
    server: DemoServer

    def do_GET(self) -> None:
        """Answer any method: read the body, ask the store, send the reply."""
        head = self.command == 'HEAD'
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        method = 'GET' if head else self.command
        answer = self.server.store.handle(method, self.path, body, self.headers.get('If-Match'),
                                          self.headers.get('Authorization'))
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header('Content-Length', str(len(answer.body)))
        self.end_headers()
        if not head:
            self.wfile.write(answer.body)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: the tour's output stays readable."""


class DemoServer(ThreadingHTTPServer):
    """The embedded API: a `Store` (its own, or one shared with other servers) behind a `Handler`."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], store: Store | None = None) -> None:
        super().__init__(address, Handler)
        self.store = store or Store()
        self.open: set[socket.socket] = set()  # connections being served
        self.open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve a connection in a thread of its own, keeping it in `open`."""
        with self.open_lock:
            self.open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Close a connection whose handling has ended."""
        with self.open_lock:
            self.open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Report a handler's error, except a client hanging up (which is no error of the server)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def stop(self) -> None:
        """Stop as a crashed host would: stop listening and cut every open connection."""
        self.shutdown()
        self.server_close()
        with self.open_lock:
            for connection in self.open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


def make_server(host: str = '127.0.0.1', port: int = 0, store: Store | None = None) -> tuple[DemoServer, str]:
    """Start the embedded API in a daemon thread; return the server and its base URL."""
    server = DemoServer((host, port), store)
    poll = 0.05  # seconds: how soon `stop` is noticed
    thread = threading.Thread(target=server.serve_forever, args=(poll,), daemon=True)
    thread.start()
    return server, f'http://{host}:{server.server_port}/'


# --- the tour ----------------------------------------------------------------------------


class Printer:
    """Prints the tour: section headings and `code  result` lines."""

    def __init__(self, out: Callable[[str], object]) -> None:
        self.out = out

    def section(self, title: str) -> None:
        """Print a heading after a blank line."""
        self.out('')
        self.out(title)

    def __call__(self, code: str, value: Any) -> None:
        """Print a line of code and its result (a repr, or a string as it is), shortened."""
        text = value if isinstance(value, str) else repr(value)
        text = text if len(text) <= WIDTH else text[: WIDTH - 3] + '...'
        self.out(f'  {code:<{CODE_WIDTH}} {text}')


def restock(item: dict[str, Any], amount: int) -> dict[str, Any]:
    """An `update` callback: return the item with `amount` more in stock."""
    return {**item, 'stock': item['stock'] + amount}


def tour_resource(url: str, show: Printer) -> None:
    """Navigate with a `Resource`: attributes, items, calls, `in`, raw responses, writes, streams."""
    with clients.Resource(url, **LOCAL) as api:
        show.section('Resource: navigate by attribute, item and call (GET, decoded JSON)')
        show('api.items()', api.items())
        show('api.items[1]', api.items[1])
        show("api.items(q='an')", api.items(q='an'))
        show('api.user.repos()', api.user.repos())
        show('1 in api.items, 99 in api.items', (1 in api.items, 99 in api.items))
        response = api.items.client.get(1)
        show('api.items.client.get(1)', f'{response!r}, ETag {response.headers["ETag"]}')

        show.section('Writes: create (POST), update (PATCH, or GET + PUT with If-Match)')
        location = api.items.create(json={'name': 'durian', 'stock': 1})
        show("api.items.create(json={'name': 'durian'...})", location)
        show('api.get(location)', api.get(location))
        show('api.items.update(4, stock=2)', api.items.update(4, stock=2))
        show('api.items.update(1, restock, amount=10)', api.items.update(1, restock, amount=10))
        with api.items.updating(2) as item:
            item['stock'] -= 1
        show("api.items.updating(2): item['stock'] -= 1", api.items[2])
        try:
            with api.items.updating(3) as item:
                item['stock'] = 0
                api.items.update(3, stock=99)  # someone else changes it meanwhile
        except clients.HTTPError as exc:
            show('...while someone else PATCHes item 3', f'lost update refused: {exc.status_code}')
        del api.items[4]
        show('del api.items[4]; 4 in api.items', 4 in api.items)

        show.section('Pages (Link: rel="next") and streams: NDJSON, an event stream, a download')
        pages = [[item['id'] for item in page] for page in api.items.pages(per_page=2)]
        show('api.items.pages(per_page=2): item ids', pages)
        show('api.items.each(per_page=2): names', [item['name'] for item in api.items.each(per_page=2)])
        names = [item['name'] for item in api.iter('items.ndjson')]
        show("for item in api.iter('items.ndjson')", names)
        events = [(event.event, event.id, event.json()['stock']) for event in api.iter('events')]
        show("for event in api.iter('events')", events)
        buffer = io.BytesIO()
        api.download(buffer, 'file')
        show("api.download(buffer, 'file')", f'{len(buffer.getvalue())} bytes')

        show.section('Errors and retries: an error status raises; a 503 with Retry-After is retried')
        try:
            show('api.items[99]', api.items[99])
        except clients.HTTPError as exc:
            show('api.items[99]', str(exc))
        retry = clients.Retry(attempts=3)
        show("api.get('flaky/1', retry=Retry(attempts=3))", f'{api.get("flaky/1", retry=retry)} after two 503s')


def tour_rpc(url: str, show: Printer) -> None:
    """Call a `Remote` (JSON body merged with defaults), a `JsonRpc` and a `Graph`."""
    show.section('Remote (POST JSON with defaults), JsonRpc (JSON-RPC 2.0) and Graph (GraphQL)')
    with clients.Remote(url + 'rpc/', json={'user': 'demo'}, **LOCAL) as rpc:
        show("rpc.stock(ids=[1, 3])  # + {'user': 'demo'}", rpc.stock(ids=[1, 3]))
    with clients.JsonRpc(url + 'jsonrpc', **LOCAL) as calls:
        show('calls.add(2, 3)', calls.add(2, 3))
        show('calls.stock(id=1)', calls.stock(id=1))
        batch = calls.batch(jsonrpc.call('add', 1, 2), jsonrpc.notification('add', 0), jsonrpc.call('stock', id=2))
        show("calls.batch(call('add', 1, 2), ...)", batch)
        try:
            calls.divide(1, 0)
        except clients.MethodNotFound as exc:
            show('calls.divide(1, 0)', f'MethodNotFound: {exc.message}')
    with clients.Graph(url + 'graphql', **LOCAL) as graph:
        show('graph.execute(ITEMS_QUERY, first=2)', graph.execute(ITEMS_QUERY, first=2))
        try:
            show("graph.execute('{ nothing }')", graph.execute('{ nothing }'))
        except clients.GraphQLError as exc:
            show("graph.execute('{ nothing }')", f'GraphQLError: {exc}')


def tour_auth(url: str, show: Printer) -> None:
    """Authenticate with `OAuth2` client credentials; make one pooled client with `singleton`."""
    show.section('OAuth2 (client credentials, token fetched once and cached) and @singleton')
    auth = clients.OAuth2(url + 'oauth/token', CLIENT_ID, CLIENT_SECRET, options=LOCAL)
    with clients.Resource(url, auth=auth, **LOCAL) as api:
        show('api = Resource(url, auth=OAuth2(...))', f'api.me() {api.me()}')
        api.me()
        show("auth.token['access_token'] after 2 calls", (auth.token or {}).get('access_token'))

    class Shop(clients.Resource):
        """The demo API, as one shared client."""

    shop = clients.singleton(url, **LOCAL)(Shop)  # what `@clients.singleton(url)` above the class does
    show('shop = singleton(url)(Shop); shop.items[3]', shop.items[3])
    shop.close()


class TourStats(Stats):
    """Host health for the tour: a host that failed is avoided for 0.2 s instead of 1 s."""

    cooldown = 0.2


class TourProxy(clients.Proxy):
    """A `Proxy` with the tour's shorter cool-down."""

    Stats = TourStats


def spread(proxy: clients.Proxy, hosts: dict[str, str], count: int = 20) -> str:
    """Send `count` GETs through `proxy`; return how many each host answered."""
    answered = dict.fromkeys(hosts.values(), 0)
    for _ in range(count):
        response = proxy.get('items/1')
        response.raise_for_status()
        answered[hosts[str(response.url).removesuffix('items/1')]] += 1
    return f'{count} GETs answered: ' + ', '.join(f'{name} {number}' for name, number in answered.items())


def tour_proxy(server: DemoServer, url: str, show: Printer) -> None:
    """Spread GETs over two hosts with a `Proxy`, while one of them goes down and comes back."""
    show.section('Proxy: one client over hosts A and B; a GET that meets a host down goes to the other')
    second, other = make_server(store=server.store)
    hosts = {url: 'A', other: 'B'}
    with TourProxy(url, other, **LOCAL) as proxy:
        show('proxy = Proxy(A, B); proxy.get(...) x 20', spread(proxy, hosts))
        second.stop()
        show('B goes down (refuses connections)', spread(proxy, hosts))
        show("proxy.urls[B]['errors']", f"{proxy.urls[other]['errors']} (refused: that GET went on to A)")
        second, _ = make_server(port=second.server_port, store=server.store)
        time.sleep(TourStats.cooldown * 1.5)  # after its cool-down, B gets requests again
        show('B is back on its port, 0.3 s later', spread(proxy, hosts))
    second.stop()


async def tour_async(url: str, show: Printer) -> None:
    """The async twins: the same navigation with `await` and `async for`."""
    name = transports.choose()  # what the clients below use: `transport='auto'` unless set otherwise
    how = 'aiohttp, the fast path' if name == 'aiohttp' else f'{name}; install aiohttp for the faster one'
    show.section(f'AsyncResource, AsyncJsonRpc: the same, awaited (async transport: {how})')
    async with clients.AsyncResource(url, **LOCAL) as api:
        show('await api.items[1]', await api.items[1])
        show('await api.user.repos()', await api.user.repos())
        names = [item['name'] async for item in api.items.each(per_page=2)]
        show('async for item in api.items.each(per_page=2)', names)
        events = [event.id async for event in api.iter('events')]
        show("async for event in api.iter('events')", events)
    async with clients.AsyncJsonRpc(url + 'jsonrpc', **LOCAL) as calls:
        show('await calls.add(2, 3)', await calls.add(2, 3))


@contextlib.contextmanager
def serving(out: Callable[[str], object]) -> Iterator[tuple[DemoServer, str]]:
    """Run the embedded API while the block runs, announcing it; yield the server and its base URL."""
    server, url = make_server()
    out(f'clients {clients.__version__} demo: an embedded JSON API is serving at {url}')
    try:
        yield server, url
    finally:
        server.stop()
        out('')
        out('Done: the server is stopped. Read clients/demo.py for the code; '
            "'clients demo --serve' keeps the API running.")


def main(out: Callable[[str], object] = print) -> None:
    """Start the embedded API, tour the library against it, and stop the server."""
    show = Printer(out)
    with serving(out) as (server, url):
        tour_resource(url, show)
        tour_rpc(url, show)
        tour_auth(url, show)
        tour_proxy(server, url, show)
        # Last on purpose: under CPython 3.11 tracing, coverage misses lines that follow an
        # asyncio.run in which a task was cancelled (python/cpython#106749).
        asyncio.run(tour_async(url, show))


# Commands to try against `serve`; `{url}` is its base URL.
TRY = (
    'clients {url} items',
    'clients {url} items 1',
    'clients {url} items q=an',
    "clients -X POST {url} items name=fig stock:=4",
    'clients -X PATCH {url} items 1 stock:=9',
    'clients --pages {url} items per_page=2',
    'clients --stream {url} events',
    "clients -X POST {url} jsonrpc jsonrpc=2.0 method=add 'params:=[2, 3]' id:=1",
    "clients -X POST {url} graphql 'query={{ items {{ id name }} }}'",
    'clients download {url}file',
)


def serve(port: int = PORT, out: Callable[[str], object] = print, host: str = '127.0.0.1') -> None:
    """Run the embedded API on `port` (0: any free one) until interrupted (Ctrl-C).

    Raises:
        OSError: the port cannot be served (in use, or not allowed), saying which
    """
    try:
        server = DemoServer((host, port))
    except OSError as exc:
        raise OSError(exc.errno, f'cannot serve the demo API on {host}:{port}: {exc.strerror}') from exc
    url = f'http://{host}:{server.server_port}/'
    try:
        out(f'clients {clients.__version__} demo: the embedded JSON API is serving at {url} '
            '(Ctrl-C stops it). Try:')
        for command in TRY:
            out('  ' + command.format(url=url))
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    out('Stopped.')


if __name__ == '__main__':
    main()
