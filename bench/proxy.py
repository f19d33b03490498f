"""Proxy failover: GETs over three local servers while one crashes and comes back.

Threads (sync `Proxy`) or tasks (`AsyncProxy`) send GETs without pause. Partway through, one
server is killed (it stops listening and cuts its open connections), and later restarted on
the same port. Reports the share of GETs that succeeded (target: 100%), how soon after the
restart the recovered host served a request again, its share of the traffic after that,
and the request rate as a ratio to the raw library (`requests.Session` / `httpx.AsyncClient`
round-robin over the three servers, none down) measured in the same run.

    python -m bench.proxy [--down SECONDS] [--workers N] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

import clients
from clients import httpx


class Handler(BaseHTTPRequestHandler):
    """GET anything: a small JSON body naming the server's port."""

    protocol_version = 'HTTP/1.1'
    disable_nagle_algorithm = True
    server: Host

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.sockets.append(self.connection)

    def do_GET(self) -> None:
        body = b'{"port": %d}' % self.server.server_address[1]
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle_error(self, *args: Any) -> None:
        pass


class Host(ThreadingHTTPServer):
    """A local server that can crash (stop listening and cut its connections)."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, port: int = 0) -> None:
        super().__init__(('127.0.0.1', port), Handler)
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # connections cut by a crash are expected

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.server_address[1]}/'

    def crash(self) -> None:
        self.shutdown()
        self.server_close()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@dataclass
class Log:
    """What happened to each GET: (time, port or None for a failure)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    results: list[tuple[float, int | None]] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, port: int | None, error: BaseException | None = None) -> None:
        with self.lock:
            self.results.append((time.perf_counter(), port))
            if error is not None:
                name = type(error).__name__
                self.errors[name] = self.errors.get(name, 0) + 1


@dataclass
class Schedule:
    """When the victim crashes and restarts, relative to the start."""

    crash: float
    restart: float
    end: float


def outage(victim: Host, schedule: Schedule, start: float, events: dict[str, float]) -> Iterator[Host]:
    """Crash the victim and restart it on the same port on schedule; yield the new server."""
    port = victim.server_address[1]
    time.sleep(max(start + schedule.crash - time.perf_counter(), 0))
    victim.crash()
    events['crash'] = time.perf_counter()
    time.sleep(max(start + schedule.restart - time.perf_counter(), 0))
    events['restart'] = time.perf_counter()
    yield Host(port)


def run_sync(urls: list[str], victim: Host, schedule: Schedule, workers: int,
             stats: type[clients.hosts.Stats]) -> tuple[Log, dict[str, float], Host]:
    """Send GETs through a sync Proxy from `workers` threads while the victim crashes."""
    log, stop = Log(), threading.Event()
    events: dict[str, float] = {}
    proxy = type('Proxy', (clients.Proxy,), {'Stats': stats})(*urls)
    for _ in range(len(urls) * 2):  # warm up: connections to every host
        proxy.get('').json()

    def work() -> None:
        while not stop.is_set():
            try:
                log.add(proxy.get('').json()['port'])
            except Exception as exc:  # every failure is counted
                log.add(None, exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    restarted = next(outage(victim, schedule, start, events))
    time.sleep(max(start + schedule.end - time.perf_counter(), 0))
    stop.set()
    for thread in threads:
        thread.join()
    events['start'], events['end'] = start, time.perf_counter()
    proxy.close()
    return log, events, restarted


def run_async(urls: list[str], victim: Host, schedule: Schedule, workers: int,
              stats: type[clients.hosts.Stats]) -> tuple[Log, dict[str, float], Host]:
    """Send GETs through an AsyncProxy from `workers` tasks while the victim crashes (in a thread)."""
    log: Log = Log()
    events: dict[str, float] = {}
    restarted: list[Host] = []

    async def main() -> None:
        stop = asyncio.Event()
        async with type('AsyncProxy', (clients.AsyncProxy,), {'Stats': stats})(*urls) as proxy:
            for _ in range(len(urls) * 2):  # warm up: connections to every host
                (await proxy.get('')).json()

            async def work() -> None:
                while not stop.is_set():
                    try:
                        log.add((await proxy.get('')).json()['port'])
                    except Exception as exc:  # every failure is counted
                        log.add(None, exc)

            start = time.perf_counter()
            events['start'] = start
            tasks = [asyncio.create_task(work()) for _ in range(workers)]
            await asyncio.to_thread(lambda: restarted.append(next(outage(victim, schedule, start, events))))
            await asyncio.sleep(max(start + schedule.end - time.perf_counter(), 0))
            stop.set()
            await asyncio.gather(*tasks)
            events['end'] = time.perf_counter()

    asyncio.run(main())
    return log, events, restarted[0]


def raw_rate(kind: str, urls: list[str], seconds: float, workers: int) -> float:
    """GETs per second of the raw library spread round-robin over the healthy servers."""
    count = [0]
    lock = threading.Lock()
    cycle = itertools.cycle(urls)

    def next_url() -> str:
        with lock:
            count[0] += 1
            return next(cycle)

    if kind == 'sync':
        session = requests.Session()
        for url in urls * 2:  # warm up, as the proxies do
            session.get(url, timeout=(5, 30)).json()
        deadline = time.perf_counter() + seconds

        def work() -> None:
            while time.perf_counter() < deadline:
                session.get(next_url(), timeout=(5, 30)).json()

        threads = [threading.Thread(target=work) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        session.close()
    else:

        async def main() -> None:
            async with httpx.AsyncClient() as client:
                for url in urls * 2:
                    (await client.get(url)).json()
                deadline = time.perf_counter() + seconds

                async def work() -> None:
                    while time.perf_counter() < deadline:
                        (await client.get(next_url())).json()

                await asyncio.gather(*(work() for _ in range(workers)))

        asyncio.run(main())
    return count[0] / seconds


def report(name: str, log: Log, events: dict[str, float], port: int, raw: float) -> dict[str, float]:
    """Print and return the figures of one run."""
    total = len(log.results)
    ok = sum(1 for _, served in log.results if served is not None)
    back = [when for when, served in log.results if served == port and when >= events['restart']]
    returned = (back[0] - events['restart']) if back else float('inf')
    after = [served for when, served in log.results if back and when >= back[0] and served is not None]
    share = after.count(port) / len(after) if after else 0.0
    rate = total / (events['end'] - events['start'])
    figures = {'requests': total, 'success': ok / total if total else 0.0, 'returned': returned,
               'share': share, 'rate': rate, 'ratio': rate / raw if raw else 0.0}
    errors = ', '.join(f'{kind} x{count}' for kind, count in log.errors.items()) or 'none'
    print(f'  {name:10} {total:7d} GETs  {100 * figures["success"]:7.3f}% succeeded  '
          f'traffic back {returned:5.2f} s after restart  its share after: {100 * share:4.1f}%  '
          f'{rate:8.0f}/s ({figures["ratio"]:.2f}x raw)  errors: {errors}')
    return figures


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Run the benchmark, print its figures and return them by shell."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--down', type=float, default=3.0, help='seconds the victim stays down (default 3)')
    parser.add_argument('--workers', type=int, default=4, help='threads or tasks sending GETs (default 4)')
    parser.add_argument('--quick', action='store_true',
                        help='short phases and a 0.1 s cool-down: checks that it runs')
    args = parser.parse_args(argv)
    stats: type[clients.hosts.Stats] = clients.Proxy.Stats
    if args.quick:
        stats = type('Stats', (stats,), {'cooldown': 0.1, 'cooldown_max': 0.4})
    down = 0.25 if args.quick else args.down
    before, after = (0.15, 0.5) if args.quick else (2.0, 12.0)
    schedule = Schedule(crash=before, restart=before + down, end=before + down + after)
    print(f'3 hosts, {args.workers} workers; one host down from {before:g} s to {before + down:g} s, '
          f'run ends at {schedule.end:g} s (circuit cool-down {stats.cooldown:g} s, '
          f'doubling up to {stats.cooldown_max:g} s)')
    runs: dict[str, Callable[..., tuple[Log, dict[str, float], Host]]] = {'Proxy': run_sync, 'AsyncProxy': run_async}
    results = {}
    for name, run in runs.items():
        hosts = [Host() for _ in range(3)]
        urls = [host.url for host in hosts]
        raw = raw_rate('sync' if name == 'Proxy' else 'async', urls, 0.1 if args.quick else 2.0, args.workers)
        victim = hosts[2]
        log, events, restarted = run(urls, victim, schedule, args.workers, stats)
        results[name] = report(name, log, events, victim.server_address[1], raw)
        for host in (*hosts[:2], restarted):
            host.crash()
    return results


if __name__ == '__main__':
    main()
