"""Streaming throughput: `download` and `iter` against the raw libraries, in the same run.

Starts a local server that sends a body of the given size, then interleaves rounds of raw
`requests` (`iter_content(1 MiB)`), `Resource.download` / `Resource.iter`, raw `httpx`
(`aiter_bytes()`), and `AsyncResource.download` / `AsyncResource.iter`, so machine drift
cancels out. Prints MiB/s (median of rounds) and each ratio to its raw library.

    python -m bench.streaming [--size MiB] [--rounds N] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import requests

import clients

PIECE = bytes(range(256)) * 4096  # 1 MiB


class Handler(BaseHTTPRequestHandler):
    """GET /<n>: n bytes, written in 1 MiB pieces."""

    protocol_version = 'HTTP/1.1'
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        size = int(self.path.strip('/'))
        self.send_response(200)
        self.send_header('Content-Type', 'application/octet-stream')
        self.send_header('Content-Length', str(size))
        self.end_headers()
        view = memoryview(PIECE)
        while size > 0:
            self.wfile.write(view[: min(size, len(PIECE))])
            size -= len(PIECE)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Sink:
    """A file object that counts what is written and keeps nothing."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)


def serve() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f'http://127.0.0.1:{server.server_address[1]}/'


def timed(func: Callable[[], int], size: int) -> float:
    start = time.perf_counter()
    received = func()
    elapsed = time.perf_counter() - start
    if received != size:
        raise AssertionError(f'received {received} bytes, expected {size}')
    return size / elapsed / (1 << 20)


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark and print its figures; return the MiB/s medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=256, help='body size in MiB (default 256)')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--quick', action='store_true', help='1 MiB, 1 round: checks that it runs')
    args = parser.parse_args(argv)
    size, rounds = ((1 << 20), 1) if args.quick else (args.size << 20, args.rounds)
    server, url = serve()
    path = str(size)
    session = requests.Session()
    resource_ = clients.Resource(url)
    loop = asyncio.new_event_loop()
    raw_async = httpx.AsyncClient()
    async_resource = clients.AsyncResource(url)

    def raw_requests() -> int:
        with session.get(url + path, stream=True) as response:
            return sum(len(chunk) for chunk in response.iter_content(1 << 20))

    def raw_httpx() -> int:
        async def run() -> int:
            async with raw_async.stream('GET', url + path) as response:
                return sum([len(chunk) async for chunk in response.aiter_bytes()])
        return loop.run_until_complete(run())

    def download() -> int:
        return resource_.download(Sink(), path).size  # type: ignore[arg-type, attr-defined]

    def iterate() -> int:
        return sum(len(chunk) for chunk in resource_.iter(path))

    def async_download() -> int:
        return loop.run_until_complete(async_resource.download(Sink(), path)).size  # type: ignore[no-any-return]

    def async_iterate() -> int:
        async def run() -> int:
            return sum([len(chunk) async for chunk in async_resource.iter(path)])
        return loop.run_until_complete(run())

    cases = {
        'requests iter_content(1 MiB)': raw_requests,
        'Resource.download': download,
        'Resource.iter': iterate,
        'httpx aiter_bytes()': raw_httpx,
        'AsyncResource.download': async_download,
        'AsyncResource.iter': async_iterate,
    }
    rates: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, func in cases.items():
            rates[name].append(timed(func, size))
    medians = {name: statistics.median(values) for name, values in rates.items()}
    baselines = {'Resource': 'requests iter_content(1 MiB)', 'AsyncResource': 'httpx aiter_bytes()'}
    print(f'body {size >> 20} MiB, {rounds} round(s), median MiB/s; ratio to the raw library')
    for name, rate in medians.items():
        base = baselines.get(name.split('.')[0])
        ratio = f'{rate / medians[base]:.2f}x' if base else 'baseline'
        print(f'  {name:32} {rate:9.1f}  {ratio}')
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'peak RSS of this process: {peak:.0f} MiB')
    loop.run_until_complete(raw_async.aclose())
    loop.run_until_complete(async_resource.aclose())
    loop.close()
    session.close()
    resource_.close()
    server.shutdown()
    server.server_close()
    return medians


if __name__ == '__main__':
    main()
