"""A guided tour: `python -m clients.demo` runs the library against an embedded local API.

The API is an in-memory item store served by the standard library on 127.0.0.1 (an
ephemeral port, in a daemon thread), so the tour needs no account and no network.
Read the `tour_*` functions for client code; `Store` is the API's logic, `Handler` its HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import clients

# The server is local: ignore any HTTP(S)_PROXY settings from the environment.
LOCAL: dict[str, Any] = {'trust_env': False}

SEED = (('apple', 5), ('banana', 3), ('cherry', 12))
FILE = bytes(range(256)) * 64
REPOS = [{'name': 'clients', 'stars': 42}, {'name': 'demo', 'stars': 7}]
ITEMS_QUERY = 'query($first: Int) { items(first: $first) { id name } }'
HOST = re.compile(r'/[ab](?=/)')  # `/a/...` and `/b/...` are two "hosts" of the same API
CODE_WIDTH, WIDTH = 44, 72  # columns of the tour's lines: code, then its result


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


class Store:
    """The demo API without HTTP: an in-memory item store and a few more endpoints."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.last = 0
        self.lock = threading.Lock()
        for name, stock in SEED:
            self.add({'name': name, 'stock': stock})

    def add(self, data: dict[str, Any]) -> dict[str, Any]:
        """Store a new item under the next id and return it."""
        self.last += 1
        key = str(self.last)
        self.items[key] = make_item(key, data)
        return self.items[key]

    def handle(
        self, method: str, target: str, body: bytes = b'', if_match: str | None = None
    ) -> Reply:
        """Answer a request for `target` (path and query, optionally under `/a` or `/b`)."""
        try:
            with self.lock:
                return self.route(method, target, body, if_match)
        except Exception as exc:  # odd input must give a 500, not a dropped connection
            return reply(500, {'message': f'{type(exc).__name__}: {exc}'})

    def route(self, method: str, target: str, body: bytes, if_match: str | None) -> Reply:
        """Answer a request; the caller holds the lock."""
        parts = urlsplit(target)
        host = HOST.match(parts.path)
        prefix = host[0] if host else ''
        path = parts.path.removeprefix(prefix).strip('/').split('/')
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
                query = parse_qs(parts.query).get('q', [''])[0].lower()
                names = {key: str(item.get('name')).lower() for key, item in self.items.items()}
                return reply(200, [self.items[key] for key in names if query in names[key]])
            case 'POST', ['items']:
                item = self.add(data)
                return item_reply(201, item, {'Location': f'{prefix}/items/{item["id"]}'})
            case 'GET', ['items.ndjson']:
                lines = b''.join(json.dumps(item).encode() + b'\n' for item in self.items.values())
                return Reply(200, lines, {'Content-Type': 'application/x-ndjson'})
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
            case 'POST', ['graphql']:
                return self.graphql(data)
            case 'GET', ['user', 'repos']:
                return reply(200, REPOS)
            case 'GET', ['unavailable']:
                return reply(503, {'message': 'this host is down for maintenance'})
        return reply(404, {'message': f'nothing at {method} {parts.path}'})

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
        answer = self.server.store.handle(method, self.path, body, self.headers.get('If-Match'))
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
    """The embedded API: a `Store` behind a `Handler`."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, Handler)
        self.store = Store()

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self.shutdown()
        self.server_close()


def make_server(host: str = '127.0.0.1', port: int = 0) -> tuple[DemoServer, str]:
    """Start the embedded API in a daemon thread; return the server and its base URL."""
    server = DemoServer((host, port))
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
    """Navigate with a `Resource`: attributes, items, calls, `in`, raw responses, writes."""
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

        show.section('Streams: iter (NDJSON, one value per line) and download')
        names = [item['name'] for item in api.iter('items.ndjson')]
        show("for item in api.iter('items.ndjson')", names)
        buffer = io.BytesIO()
        api.download(buffer, 'file')
        show("api.download(buffer, 'file')", f'{len(buffer.getvalue())} bytes')

        show.section('Errors: an error status raises clients.HTTPError')
        try:
            show('api.items[99]', api.items[99])
        except clients.HTTPError as exc:
            show('api.items[99]', str(exc))


def tour_rpc(url: str, show: Printer) -> None:
    """Call a `Remote` (JSON body merged with defaults) and a `Graph`."""
    show.section('Remote (RPC: POST JSON with defaults) and Graph (GraphQL)')
    with clients.Remote(url + 'rpc', json={'jsonrpc': '2.0', 'id': 1}, **LOCAL) as rpc:
        show("rpc(method='add', params=[2, 3])", rpc(method='add', params=[2, 3]))
    with clients.Graph(url + 'graphql', **LOCAL) as graph:
        show('graph.execute(ITEMS_QUERY, first=2)', graph.execute(ITEMS_QUERY, first=2))
        try:
            show("graph.execute('{ nothing }')", graph.execute('{ nothing }'))
        except clients.GraphQLError as exc:
            show("graph.execute('{ nothing }')", f'GraphQLError: {exc}')


def tour_proxy(url: str, show: Printer) -> None:
    """Spread requests over two hosts with a `Proxy`, which retries a GET on the other host."""
    show.section('Proxy: one client over two hosts, /a/ and /b/; a failed GET is retried on the other')
    root = url.rstrip('/')
    with clients.Proxy(url + 'a/', url + 'b/', retry=clients.Retry(attempts=2), **LOCAL) as proxy:
        failed = proxy.get('unavailable')  # a plain client returns the last answer, as a Session does
        show("proxy.get('unavailable')", f'{failed.status_code} after {getattr(failed, "attempts", 1)} attempts')
        table: dict[str, Any] = proxy.urls  # base URL -> its Stats (a Counter)
        stats = [f'{host.removeprefix(root)} failures={table[host]["failures"]}' for host in table]
        show('proxy.urls (per-host Stats)', ', '.join(stats))
        response = proxy.get('items')
        show("proxy.get('items')", f'{response.status_code} from {response.url}')


async def tour_async(url: str, show: Printer) -> None:
    """The async twins: the same navigation with `await` and `async for`."""
    show.section('AsyncResource: the same, awaited (httpx)')
    async with clients.AsyncResource(url, **LOCAL) as api:
        show('await api.items[1]', await api.items[1])
        show('await api.user.repos()', await api.user.repos())
        names = [item['name'] async for item in api.iter('items.ndjson')]
        show("async for item in api.iter('items.ndjson')", names)


@contextlib.contextmanager
def serving(out: Callable[[str], object]) -> Iterator[str]:
    """Run the embedded API while the block runs, announcing it; yield its base URL."""
    server, url = make_server()
    out(f'clients {clients.__version__} demo: an embedded JSON API is serving at {url}')
    try:
        yield url
    finally:
        server.stop()
        out('')
        out('Done: the server is stopped. Read clients/demo.py for the code.')


def main(out: Callable[[str], object] = print) -> None:
    """Start the embedded API, tour the library against it, and stop the server."""
    show = Printer(out)
    with serving(out) as url:
        tour_resource(url, show)
        tour_rpc(url, show)
        tour_proxy(url, show)
        # Last on purpose: under CPython 3.11 tracing, coverage misses lines that follow an
        # asyncio.run in which a task was cancelled (python/cpython#106749).
        asyncio.run(tour_async(url, show))


if __name__ == '__main__':
    main()
