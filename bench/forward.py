"""Forwarding: requests per second through the forwarders against the upstream directly, and
memory while a large body goes through them, in the same run.

Starts, each in a process of its own on 127.0.0.1, a local upstream, the ASGI forwarder
(`clients.forward.asgi` over `AsyncClient`) under uvicorn and the WSGI forwarder
(`clients.forward.wsgi` over `Client`) under a threaded wsgiref server. Then, with one
`requests.Session` in this process as the caller:

- small GETs, interleaved in rounds so machine drift cancels out: requests per second of each
  path, its ratio to the upstream directly (a forwarder's figure includes its server and a
  second hop), and the ratio of each `clients.forward` app to a minimal forwarder written on
  the raw library under the same server (raw httpx under uvicorn, raw requests under wsgiref:
  no path checks, header rules or error handling), which is what the library itself costs;
- bodies of `--body` MiB (64 by default) downloaded and uploaded along each path in the same
  interleaved rounds: MiB/s and the same ratios;
- a body of `--size` MiB (1 GiB by default) downloaded and uploaded once along each path: the
  growth of the serving process's resident memory during the transfer (target: flat, a few
  MiB whatever the size).

    python -m bench.forward [--requests N] [--rounds N] [--body MiB] [--size MiB] [--quick]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import socketserver
import statistics
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import ThreadingHTTPServer
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.util import is_hop_by_hop

import requests
import uvicorn

import clients
from clients import forward, httpx

from . import streaming

MiB = 1 << 20
PIECE = streaming.PIECE


class Upstream(streaming.Handler):
    """GET /small: a short JSON body; GET /<n>: n bytes; PUT: read the body, answer its size."""

    def do_GET(self) -> None:
        if self.path == '/small':
            return self.answer(b'{"ok": true}')
        return super().do_GET()

    def do_PUT(self) -> None:
        left = int(self.headers['Content-Length'])
        received = 0
        while left > 0 and (data := self.rfile.read(min(left, len(PIECE)))):
            received += len(data)
            left -= len(data)
        self.answer(str(received).encode())

    def answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietWSGIHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


DIRECT = 'upstream directly'
RAW_ASGI, ASGI = 'raw httpx ASGI forwarder', 'forward.asgi(AsyncClient)'
RAW_WSGI, WSGI = 'raw requests WSGI forwarder', 'forward.wsgi(Client)'
BASELINES = {ASGI: RAW_ASGI, WSGI: RAW_WSGI}


def serve_upstream(ports: Any, raw: bool = False) -> None:
    """Process target: run the upstream; put its port on `ports`."""
    server = ThreadingHTTPServer(('127.0.0.1', 0), Upstream)
    server.daemon_threads = True
    ports.put(server.server_address[1])
    server.serve_forever()


def raw_asgi(upstream: str) -> Any:
    """A minimal forwarder on raw httpx, the baseline: no path, header or error rules."""
    client = httpx.AsyncClient(timeout=30)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def body() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                yield message.get('body', b'')
                if not message.get('more_body'):
                    return

        headers = [(name, value) for name, value in scope['headers'] if name not in RAW_DROP]
        sized = any(name == b'content-length' for name, _ in headers)
        request = client.build_request(scope['method'], upstream + scope['path'].lstrip('/'), headers=headers,
                                       content=body() if sized else None)
        response = await client.send(request, stream=True)
        try:
            await send({'type': 'http.response.start', 'status': response.status_code,
                        'headers': [(name, value) for name, value in response.headers.raw
                                    if name.lower() not in RAW_DROP]})
            async for chunk in response.aiter_raw():
                await send({'type': 'http.response.body', 'body': chunk, 'more_body': True})
            await send({'type': 'http.response.body', 'body': b''})
        finally:
            await response.aclose()

    app.client = client  # type: ignore[attr-defined]  # (for a caller that closes it)
    return app


def raw_wsgi(upstream: str) -> Any:
    """A minimal forwarder on raw requests, the baseline: no path, header or error rules."""
    session = requests.Session()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        headers = {name[5:].replace('_', '-'): value for name, value in environ.items()
                   if name.startswith('HTTP_') and name[5:].replace('_', '-').lower().encode() not in RAW_DROP}
        length = int(environ.get('CONTENT_LENGTH') or 0)
        response = session.request(environ['REQUEST_METHOD'], upstream + environ['PATH_INFO'].lstrip('/'),
                                   headers=headers, data=Input(environ['wsgi.input'], length) if length else None,
                                   stream=True, allow_redirects=False)
        start_response(f'{response.status_code} {response.reason}',
                       [(name, value) for name, value in response.raw.headers.items() if not is_hop_by_hop(name)])
        return Output(response)

    app.session = session  # type: ignore[attr-defined]  # (for a caller that closes it)
    return app


RAW_DROP = frozenset({b'host', b'connection', b'keep-alive', b'transfer-encoding'})


class Input:
    """A WSGI request body of known length for requests."""

    def __init__(self, stream: Any, length: int) -> None:
        self.stream, self.length = stream, length

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[bytes]:
        left = self.length
        while left > 0 and (chunk := self.stream.read(min(left, 1 << 16))):
            left -= len(chunk)
            yield chunk


class Output:
    """A streamed response as a WSGI iterable that closes it."""

    def __init__(self, response: requests.Response) -> None:
        self.response = response

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.response.raw.read1(1 << 16, decode_content=False):
            yield chunk

    def close(self) -> None:
        self.response.close()


def serve_asgi(upstream: str, ports: Any, raw: bool = False) -> None:
    """Process target: run an ASGI forwarder to `upstream` under uvicorn; put its port on `ports`."""
    # IPPROTO_TCP, or asyncio leaves Nagle on for the accepted connections (40 ms delayed ACKs).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(('127.0.0.1', 0))
    app = raw_asgi(upstream) if raw else forward.asgi(clients.AsyncClient(upstream))
    config = uvicorn.Config(app, lifespan='off', log_level='error', http='h11', ws='none', proxy_headers=False)
    ports.put(sock.getsockname()[1])
    uvicorn.Server(config).run(sockets=[sock])


def serve_wsgi(upstream: str, ports: Any, raw: bool = False) -> None:
    """Process target: run a WSGI forwarder to `upstream` under wsgiref; put its port on `ports`."""
    server = ThreadingWSGIServer(('127.0.0.1', 0), QuietWSGIHandler)
    server.set_app(raw_wsgi(upstream) if raw else forward.wsgi(clients.Client(upstream)))
    ports.put(server.server_address[1])
    server.serve_forever()


class Body:
    """An upload of `size` bytes, sent in 1 MiB pieces with a Content-Length."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[bytes]:
        view = memoryview(PIECE)
        left = self.size
        while left > 0:
            yield view[: min(left, len(PIECE))]  # type: ignore[misc]
            left -= len(PIECE)


def rss(pid: int) -> int:
    """Process `pid`'s resident memory in bytes (Linux /proc; 0 elsewhere)."""
    try:
        with open(f'/proc/{pid}/statm') as statm:
            return int(statm.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except OSError:
        return 0


def cpu(pid: int) -> float:
    """Process `pid`'s CPU time so far in seconds, user and system (Linux /proc; 0 elsewhere)."""
    try:
        with open(f'/proc/{pid}/stat') as stat:
            fields = stat.read().rpartition(')')[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def sampled(func: Callable[[], int], pid: int) -> tuple[int, float, int]:
    """Run `func`; return its result, seconds taken, and the peak growth of `pid`'s resident memory."""
    start = rss(pid)
    peak = start
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.005):
            peak = max(peak, rss(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = time.perf_counter()
    try:
        result = func()
    finally:
        elapsed = time.perf_counter() - began
        done.set()
        sampler.join()
    return result, elapsed, max(peak, rss(pid)) - start


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark and print its figures; return them by name."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--requests', type=int, default=2000, help='small GETs per path (default 2000)')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--body', type=int, default=64, help='body for throughput rounds in MiB (default 64)')
    parser.add_argument('--size', type=int, default=1024, help='body for the memory figure in MiB (default 1024)')
    parser.add_argument('--quick', action='store_true', help='20 requests, 2 and 8 MiB, 1 round: checks that it runs')
    args = parser.parse_args(argv)
    count, rounds, body, size = (
        (20, 1, 2 * MiB, 8 * MiB) if args.quick else (args.requests, args.rounds, args.body * MiB, args.size * MiB)
    )

    context = multiprocessing.get_context('spawn')
    ports = context.Queue()
    processes = []

    def start(target: Callable[..., None], *args: Any, raw: bool = False) -> tuple[str, int]:
        process = context.Process(target=target, args=(*args, ports, raw), daemon=True)
        process.start()
        processes.append(process)
        return f'http://127.0.0.1:{ports.get(timeout=60)}/', process.pid or 0

    session = requests.Session()
    try:
        direct, upstream_pid = start(serve_upstream)
        paths = {
            DIRECT: (direct, upstream_pid),
            RAW_ASGI: start(serve_asgi, direct, raw=True),
            ASGI: start(serve_asgi, direct),
            RAW_WSGI: start(serve_wsgi, direct, raw=True),
            WSGI: start(serve_wsgi, direct),
        }
        for url, _ in paths.values():
            _wait(session, url)
        return report(session, paths, count, rounds, body, size)
    finally:
        session.close()
        for process in processes:
            process.terminate()
            process.join(10)


def _wait(session: requests.Session, url: str) -> None:
    for _ in range(500):
        try:
            session.get(url + 'small', timeout=5)
            return
        except requests.ConnectionError:
            time.sleep(0.02)
    raise RuntimeError(f'{url} did not start')


def report(
    session: requests.Session, paths: dict[str, tuple[str, int]], count: int, rounds: int, body: int, size: int
) -> dict[str, float]:
    """Measure and print; return the figures by name."""
    figures: dict[str, float] = {}
    rates: dict[str, list[float]] = {name: [] for name in paths}
    used: dict[str, float] = dict.fromkeys(paths, 0.0)
    per_round = max(1, count // rounds)
    for _ in range(rounds):
        for name, (url, pid) in paths.items():
            began = cpu(pid)
            start = time.perf_counter()
            for _ in range(per_round):
                response = session.get(url + 'small', timeout=30)
                if response.content != b'{"ok": true}':
                    raise AssertionError(f'{name}: unexpected answer {response.status_code} {response.content!r}')
            rates[name].append(per_round / (time.perf_counter() - start))
            used[name] += cpu(pid) - began
    medians = {name: statistics.median(values) for name, values in rates.items()}
    # (CPU time is summed over the rounds: /proc counts it in clock ticks, too coarse for one round.)
    costs = {name: seconds / (per_round * rounds) * 1e6 for name, seconds in used.items()}
    print(f'{per_round * rounds} small GETs per path over one keep-alive session, {rounds} round(s): '
          'requests/s (median), ratio to the upstream directly, and to the raw-library forwarder; '
          "then the serving process's CPU µs per request and the raw forwarder's over ours")
    for name, rate in medians.items():
        figures[f'{name} requests/s'] = rate
        figures[f'{name} CPU us/request'] = costs[name]
        base = BASELINES.get(name)
        versus = f'  {costs[base] / costs[name]:.2f}x raw' if base and costs[name] else ''
        print(f'  {name:30} {rate:7.0f}  {_ratios(name, medians):18} {costs[name]:6.0f} µs{versus}')

    def download(url: str, size: int) -> Callable[[], int]:
        def run() -> int:
            with session.get(url + str(size), stream=True, timeout=60) as response:
                return sum(len(chunk) for chunk in response.iter_content(MiB))
        return run

    def upload(url: str, size: int) -> Callable[[], int]:
        return lambda: int(session.put(url + 'sink', data=Body(size), timeout=60).content)

    transfers = {'download': download, 'upload': upload}
    speeds: dict[str, dict[str, list[float]]] = {kind: {name: [] for name in paths} for kind in transfers}
    for _ in range(rounds):
        for kind, make in transfers.items():
            for name, (url, _) in paths.items():
                start = time.perf_counter()
                received = make(url, body)()
                if received != body:
                    raise AssertionError(f'{name} {kind}: {received} bytes arrived, expected {body}')
                speeds[kind][name].append(body / MiB / (time.perf_counter() - start))
    print(f'a {body / MiB:.0f} MiB body, {rounds} round(s): MiB/s (median) and the same ratios')
    for kind, by_name in speeds.items():
        medians = {name: statistics.median(values) for name, values in by_name.items()}
        for name, rate in medians.items():
            figures[f'{name} {kind} MiB/s'] = rate
            print(f'  {kind:8} {name:30} {rate:7.0f}  {_ratios(name, medians)}')

    print(f'a {size / MiB:.0f} MiB body once: growth of the serving process\'s resident memory during the '
          'transfer (the forwarder; the upstream for "directly"), and MiB/s')
    for kind, make in transfers.items():
        for name, (url, pid) in paths.items():
            received, elapsed, growth = sampled(make(url, size), pid)
            if received != size:
                raise AssertionError(f'{name} {kind}: {received} bytes arrived, expected {size}')
            figures[f'{name} {kind} memory growth MiB'] = growth / MiB
            print(f'  {kind:8} {name:30} {growth / MiB:+6.1f} MiB  {size / MiB / elapsed:7.0f} MiB/s')
    for name, (_, pid) in paths.items():
        figures[f'{name} resident MiB'] = rss(pid) / MiB
    print('resident memory after the run: ' + ', '.join(
        f'{name} {rss(pid) / MiB:.0f} MiB' for name, (_, pid) in paths.items()))
    return figures


def _ratios(name: str, figures: dict[str, float]) -> str:
    if name == DIRECT:
        return 'baseline'
    text = f'{figures[name] / figures[DIRECT]:.2f}x'
    if name in BASELINES:
        text += f'  {figures[name] / figures[BASELINES[name]]:.2f}x raw'
    return text


if __name__ == '__main__':
    main()
