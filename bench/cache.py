"""The HTTP cache and request coalescing against a local server whose answers take a while.

Coalescing: 1,000 tasks (`AsyncResource`) and 100 threads (`Resource`) read one resource at
once, with `coalesce=True` and without; reports the requests the server received and the time.

Cache: a revalidation-heavy workload (`Cache-Control: max-age=0` with an `ETag`, so every
read is a conditional request; the server answers 304 without the body) and a fresh one
(`max-age=60`), with the cache on and off; reports the hit rate, the requests sent and the
time saved.

    python -m bench.cache [--tasks N] [--threads N] [--reads N] [--delay SECONDS] [--size BYTES] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import clients


class Handler(BaseHTTPRequestHandler):
    """GET /<anything>?cc=...: a body of `size` bytes after `delay` seconds; 304 to a matching If-None-Match."""

    protocol_version = 'HTTP/1.1'
    disable_nagle_algorithm = True
    server: Server

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.received += 1
        time.sleep(self.server.delay)
        cc = 'max-age=60' if 'fresh' in self.path else 'max-age=0'
        if self.headers.get('If-None-Match') == '"v1"':
            self.send_response(304)
            self.send_header('ETag', '"v1"')
            self.send_header('Cache-Control', cc)
            self.end_headers()
            return
        body = b'{"data": "%s"}' % (b'x' * self.server.size)
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.send_header('ETag', '"v1"')
        self.send_header('Cache-Control', cc)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 2048

    def __init__(self, delay: float, size: int) -> None:
        super().__init__(('127.0.0.1', 0), Handler)
        self.delay, self.size, self.received = delay, size, 0
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.server_address[1]}/'

    def count(self) -> int:
        with self.lock:
            received, self.received = self.received, 0
            return received


async def _tasks(url: str, tasks: int, coalesce: bool) -> float:
    async with clients.AsyncResource(url, coalesce=coalesce, timeout=60, deadline=None) as api:
        began = time.perf_counter()
        await asyncio.gather(*(api.get('one') for _ in range(tasks)))
        return time.perf_counter() - began


def _threads(url: str, threads: int, coalesce: bool) -> float:
    api = clients.Resource(url, coalesce=coalesce, timeout=60)
    api.mount('http://', clients.connections.Adapter(pool_maxsize=threads))
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        began = time.perf_counter()
        list(pool.map(lambda _: api.get('one'), range(threads)))
        elapsed = time.perf_counter() - began
    api.close()
    return elapsed


def _reads(url: str, path: str, reads: int, cache: bool) -> tuple[float, clients.Cache | None]:
    api = clients.Resource(url, cache=cache)
    began = time.perf_counter()
    for _ in range(reads):
        api.get(path)
    elapsed = time.perf_counter() - began
    api.close()
    return elapsed, api.cache


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Run the benchmarks, print a table, and return the figures by scenario."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--tasks', type=int, default=1000)
    parser.add_argument('--threads', type=int, default=100)
    parser.add_argument('--reads', type=int, default=200)
    parser.add_argument('--delay', type=float, default=0.02, help='seconds the server takes per request')
    parser.add_argument('--size', type=int, default=64 << 10, help='body bytes')
    parser.add_argument('--quick', action='store_true', help='a handful of requests (CI checks that it runs)')
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks, args.threads, args.reads, args.delay = 20, 5, 10, 0.01
    server = Server(args.delay, args.size)
    figures: dict[str, dict[str, float]] = {}
    print(f'coalescing: one resource read at once ({args.delay * 1000:g} ms per request at the server)')
    for coalesce in (False, True):
        for label in (f'{args.tasks} tasks', f'{args.threads} threads'):
            if 'tasks' in label:
                elapsed = asyncio.run(_tasks(server.url, args.tasks, coalesce))
            else:
                elapsed = _threads(server.url, args.threads, coalesce)
            name = f'{label}, coalesce={coalesce}'
            figures[name] = {'requests': server.count(), 'seconds': elapsed}
            print(f'  {name:32} {figures[name]["requests"]:6.0f} requests sent  {elapsed:7.3f} s')
    print(f'cache: {args.reads} reads of one {args.size // 1024} KiB resource, one after another')
    for path in ('revalidated', 'fresh'):
        plain, _ = _reads(server.url, path, args.reads, False)
        sent_plain = server.count()
        cached, cache = _reads(server.url, path, args.reads, True)
        assert cache is not None
        name = f'{path} (max-age={"60" if path == "fresh" else "0"} + ETag)'
        figures[name] = {'hit_rate': cache.stats.hit_rate, 'requests': server.count(), 'requests_uncached': sent_plain,
                         'seconds': cached, 'seconds_uncached': plain, 'saved': 1 - cached / plain}
        print(f'  {name:32} hit rate {cache.stats.hit_rate:5.1%}  {figures[name]["requests"]:5.0f} requests '
              f'(uncached {sent_plain})  {cached:6.3f} s vs {plain:6.3f} s: {figures[name]["saved"]:5.1%} saved')
    server.shutdown()
    server.server_close()
    return figures


if __name__ == '__main__':  # pragma: no cover
    main()
