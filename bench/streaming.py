"""Streaming throughput and memory: `download` and `iter` against the raw libraries, in the same run.

Starts a local server that sends a body of the given size (nginx in its own process, sending
sparse files, when installed; else a Python server in a thread of this process, which then
competes with the clients for the interpreter), then interleaves rounds of raw
`requests` (`iter_content(1 MiB)`), `Resource.download` / `Resource.iter`, raw `httpx`
(`aiter_bytes()`), and `AsyncResource.download` / `AsyncResource.iter`, so machine drift
cancels out. Prints MiB/s (median of rounds) and each ratio to its raw library.

Then streams one body of `--rss-size` MiB (1 GiB by default) through each case in a fresh
process of its own (plus `download` to a path on disk) and prints how much the peak resident
memory grew while streaming, beside the raw library's growth.

    python -m bench.streaming [--size MiB] [--rounds N] [--rss-size MiB] [--server auto|nginx|python] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

import clients
from clients import httpx

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


@contextlib.contextmanager
def serve(kind: str, sizes: list[int]) -> Iterator[tuple[str, str]]:
    """Serve bodies of `sizes` bytes at `<url><size>`; yield the URL and what serves it.

    nginx (`kind` 'nginx', or 'auto' when installed) sends sparse files of those sizes with
    sendfile from its own process; the Python server runs in a thread of this one.
    """
    from bench import run

    if kind == 'nginx' or (kind == 'auto' and run.find_nginx()):
        with run.start('nginx') as server:
            files = server.log.parent / 'files'
            files.mkdir()
            for size in sizes:
                with open(files / str(size), 'wb') as file:
                    file.truncate(size)  # sparse: no disk space, reads as zeros
                os.chmod(files / str(size), 0o644)
            for directory in (server.log.parent, files):  # nginx's workers may run as another user
                os.chmod(directory, 0o755)
            yield f'{server.url}files/', 'nginx (sendfile, its own process)'
        return
    python = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    python.daemon_threads = True
    threading.Thread(target=python.serve_forever, daemon=True).start()
    try:
        yield f'http://127.0.0.1:{python.server_address[1]}/', 'Python server (a thread of this process)'
    finally:
        python.shutdown()
        python.server_close()


def timed(func: Callable[[], int], size: int) -> float:
    start = time.perf_counter()
    received = func()
    elapsed = time.perf_counter() - start
    if received != size:
        raise AssertionError(f'received {received} bytes, expected {size}')
    return size / elapsed / (1 << 20)


RSS_CASES = ('requests iter_content(1 MiB)', 'Resource.iter', 'Resource.iter(chunk_size=1 MiB)', 'Resource.download',
             'Resource.download(path)', 'httpx aiter_bytes()', 'AsyncResource.iter',
             'AsyncResource.iter(chunk_size=1 MiB)', 'AsyncResource.download', 'AsyncResource.download(path)')
PIECE_SIZE = {'Resource.iter(chunk_size=1 MiB)': 1 << 20, 'AsyncResource.iter(chunk_size=1 MiB)': 1 << 20}


def peak() -> float:
    """Return this process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stream_once(case: str, url: str, loop: asyncio.AbstractEventLoop | None = None) -> int:
    """Stream the body at `url` once through `case`, on a client of its own; return the bytes received.

    Raw `requests` gets the clients' default timeout (a socket with a timeout polls before each
    read); async cases run on `loop`, else on a loop of their own.
    """
    base, path = url.rsplit('/', 1)
    if case.startswith('requests'):
        timeout = clients.navigation.TIMEOUT
        with requests.Session() as session, session.get(url, stream=True, timeout=timeout) as response:
            if case == 'requests raw.read1(1 MiB)':
                received = 0
                while chunk := response.raw.read1(1 << 20):
                    received += len(chunk)
                return received
            return sum(len(chunk) for chunk in response.iter_content(1 << 20))
    if case.startswith('Resource'):
        with clients.Resource(base) as api:
            if case.startswith('Resource.iter'):
                return sum(len(chunk) for chunk in api.iter(path, chunk_size=PIECE_SIZE.get(case)))
            if case == 'Resource.download':
                return api.download(Sink(), path).size
            with tempfile.TemporaryDirectory() as directory:
                return os.path.getsize(api.download(os.path.join(directory, 'body'), path))

    async def run(target: str) -> int:
        if case.startswith('httpx'):
            async with httpx.AsyncClient() as client, client.stream('GET', url) as response:
                return sum([len(chunk) async for chunk in response.aiter_bytes()])
        async with clients.AsyncResource(base) as api:
            if case.startswith('AsyncResource.iter'):
                return sum([len(chunk) async for chunk in api.iter(path, chunk_size=PIECE_SIZE.get(case))])
            if case == 'AsyncResource.download':
                return (await api.download(Sink(), path)).size
            await api.download(target, path)
            return -1

    with tempfile.TemporaryDirectory() as directory:
        target = os.path.join(directory, 'body')
        received = loop.run_until_complete(run(target)) if loop else asyncio.run(run(target))
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
    parser.add_argument('--rounds', type=int, default=15, help='rounds (each is short: 15 by default)')
    parser.add_argument('--rss-size', type=int, default=1024,
                        help='body size in MiB for memory (default 1024; 0 skips it)')
    parser.add_argument('--server', choices=['auto', 'nginx', 'python'], default='auto')
    parser.add_argument('--quick', action='store_true', help='1 MiB, 1 round, 4 MiB for memory: checks that it runs')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if args.child:
        child(args.child, rest[0])
        return {}
    size, rounds = ((1 << 20), 1) if args.quick else (args.size << 20, args.rounds)
    rss_size = (4 if args.quick else args.rss_size) << 20
    with serve(args.server, [size, 65536, rss_size]) as (url, server):
        print(f'bodies from {server} at {url}')
        return _measure(url, size, rounds, rss_size)


def _measure(url: str, size: int, rounds: int, rss_size: int) -> dict[str, float]:
    loop = asyncio.new_event_loop()
    # Every case opens a connection of its own each round (`stream_once`): a connection's TCP
    # state carries over and would favour whichever case kept the best one. Each case, and the
    # raw case it is compared with: `iter` hands data over as it arrives, as raw `read1` does;
    # with `chunk_size` it waits to fill each piece, as `iter_content` does.
    fill, arrival, raw_async = 'requests iter_content(1 MiB)', 'requests raw.read1(1 MiB)', 'httpx aiter_bytes()'
    baselines: dict[str, str | None] = {
        fill: None,
        arrival: None,
        'Resource.download': fill,
        'Resource.iter(chunk_size=1 MiB)': fill,
        'Resource.iter': arrival,
        raw_async: None,
        'AsyncResource.download': raw_async,
        'AsyncResource.iter': raw_async,
        'AsyncResource.iter(chunk_size=1 MiB)': raw_async,
    }
    cases = {name: functools.partial(stream_once, name, f'{url}{size}', loop) for name in baselines}
    rates: dict[str, list[float]] = {name: [] for name in cases}
    for func in cases.values():  # warm up: connections, and nginx's first read of the file
        timed(func, size)
    names = list(cases)
    for round_ in range(rounds):  # each round starts at another case, so no case always goes first
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            rates[name].append(timed(cases[name], size))
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print(f'body {size >> 20} MiB, {rounds} round(s), median MiB/s; ratio to the raw library')
    for name, rate in medians.items():
        base = baselines[name]
        ratio = f'{rate / medians[base]:.2f}x  {base}' if base else 'baseline'
        print(f'  {name:38} {rate:9.1f}  {ratio}')
    print(f'peak RSS of this process, which ran every case {rounds + 1} times: {peak():.0f} MiB '
          '(it creeps up with the runs: the allocator keeps freed chunk memory)')
    added: dict[str, float] = {}
    if rss_size:
        found = memory(url, rss_size)
        added = {name: result['added'] for name, result in found.items()}
        print(f'body {rss_size >> 20} MiB, each case in a fresh process: resident memory (MiB) before '
              'streaming -> highest while streaming;\n  the growth, and its difference to the raw library')
        by_library = {'Resource': fill, 'AsyncResource': raw_async}
        for name, result in found.items():
            base = by_library.get(name.split('.')[0])
            versus = f'{added[name] - added[base]:+.1f} MiB' if base else 'baseline'
            before = result['before']
            print(f'  {name:38} {before:7.1f} -> {before + added[name]:7.1f}  {added[name]:+7.1f}  {versus}')
        highest = max(result['before'] + result['added'] for result in found.values())
        print(f'highest resident memory of any case while streaming {rss_size >> 20} MiB: {highest:.1f} MiB '
              '(target: under 64)')
    loop.close()
    return medians | {f'RSS {name}': grown for name, grown in added.items()}


if __name__ == '__main__':
    main()
