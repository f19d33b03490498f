"""Streaming throughput and memory: `download` and `iter` against the raw libraries, in the same run.

Starts a local server that sends a body of the given size, then interleaves rounds of raw
`requests` (`iter_content(1 MiB)`), `Resource.download` / `Resource.iter`, raw `httpx`
(`aiter_bytes()`), and `AsyncResource.download` / `AsyncResource.iter`, so machine drift
cancels out. Prints MiB/s (median of rounds) and each ratio to its raw library.

Then streams one body of `--rss-size` MiB (1 GiB by default) through each case in a fresh
process of its own (plus `download` to a path on disk) and prints how much the peak resident
memory grew while streaming, beside the raw library's growth.

    python -m bench.streaming [--size MiB] [--rounds N] [--rss-size MiB] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
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


RSS_CASES = ('requests iter_content(1 MiB)', 'Resource.iter', 'Resource.download', 'Resource.download(path)',
             'httpx aiter_bytes()', 'AsyncResource.iter', 'AsyncResource.download', 'AsyncResource.download(path)')


def peak() -> float:
    """Return this process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stream_once(case: str, url: str) -> int:
    """Stream the body at `url` once through `case`; return the bytes received."""
    base, path = url.rsplit('/', 1)
    if case.startswith('requests'):
        with requests.Session() as session, session.get(url, stream=True) as response:
            return sum(len(chunk) for chunk in response.iter_content(1 << 20))
    if case.startswith('Resource'):
        with clients.Resource(base) as api:
            if case == 'Resource.iter':
                return sum(len(chunk) for chunk in api.iter(path))
            if case == 'Resource.download':
                return api.download(Sink(), path).size  # type: ignore[arg-type, attr-defined, no-any-return]
            with tempfile.TemporaryDirectory() as directory:
                return os.path.getsize(api.download(os.path.join(directory, 'body'), path))

    async def run(target: str) -> int:
        if case.startswith('httpx'):
            async with httpx.AsyncClient() as client, client.stream('GET', url) as response:
                return sum([len(chunk) async for chunk in response.aiter_bytes()])
        async with clients.AsyncResource(base) as api:
            if case == 'AsyncResource.iter':
                return sum([len(chunk) async for chunk in api.iter(path)])
            if case == 'AsyncResource.download':
                return (await api.download(Sink(), path)).size  # type: ignore[no-any-return]
            await api.download(target, path)
            return -1

    with tempfile.TemporaryDirectory() as directory:
        target = os.path.join(directory, 'body')
        received = asyncio.run(run(target))
        return os.path.getsize(target) if received < 0 else received


def current() -> float:
    """Return this process's resident memory now, in MiB (Linux `/proc`; else the peak so far)."""
    try:
        with open('/proc/self/statm') as file:
            return int(file.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / (1 << 20)
    except OSError:  # not Linux
        return peak()


def child(case: str, url: str) -> None:
    """In a fresh process: warm up on a small body, then print how far RSS rose while streaming a big one.

    A thread samples the resident memory every 2 ms; the growth is its highest sample minus
    the resident memory before streaming (the process's lifetime peak would hide it, as
    importing costs more than streaming).
    """
    stream_once(case, url.rsplit('/', 1)[0] + '/65536')
    before = highest = current()
    done = threading.Event()

    def sample() -> None:
        nonlocal highest
        while not done.wait(0.002):
            highest = max(highest, current())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    received = stream_once(case, url)
    done.set()
    sampler.join()
    highest = max(highest, current())
    print(json.dumps({'received': received, 'added': highest - before, 'before': before}))


def memory(url: str, size: int) -> dict[str, dict[str, float]]:
    """Run each case in its own process; return its peak RSS before and growth while streaming (MiB)."""
    found = {}
    for case in RSS_CASES:
        command = [sys.executable, '-m', 'bench.streaming', '--child', case, f'{url}{size}']
        output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600).stdout
        result = json.loads(output)
        if result['received'] != size:
            raise AssertionError(f'{case}: received {result["received"]} bytes, expected {size}')
        found[case] = result
    return found


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark and print its figures; return the MiB/s medians and RSS growths."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=256, help='body size in MiB (default 256)')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--rss-size', type=int, default=1024,
                        help='body size in MiB for memory (default 1024; 0 skips it)')
    parser.add_argument('--quick', action='store_true', help='1 MiB, 1 round, 4 MiB for memory: checks that it runs')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if args.child:
        child(args.child, rest[0])
        return {}
    size, rounds = ((1 << 20), 1) if args.quick else (args.size << 20, args.rounds)
    rss_size = (4 if args.quick else args.rss_size) << 20
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
    print(f'peak RSS of this process: {peak():.0f} MiB')
    added: dict[str, float] = {}
    if rss_size:
        found = memory(url, rss_size)
        added = {name: result['added'] for name, result in found.items()}
        print(f'body {rss_size >> 20} MiB, each case in a fresh process: resident memory (MiB) before '
              'streaming -> highest while streaming;\n  the growth, and its difference to the raw library')
        for name, result in found.items():
            base = baselines.get(name.split('.')[0])
            versus = f'{added[name] - added[base]:+.1f} MiB' if base else 'baseline'
            before = result['before']
            print(f'  {name:32} {before:7.1f} -> {before + added[name]:7.1f}  {added[name]:+7.1f}  {versus}')
    loop.run_until_complete(raw_async.aclose())
    loop.run_until_complete(async_resource.aclose())
    loop.close()
    session.close()
    resource_.close()
    server.shutdown()
    server.server_close()
    return medians | {f'RSS {name}': grown for name, grown in added.items()}


if __name__ == '__main__':
    main()
