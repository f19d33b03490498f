"""A shared rate limit: processes that share one quota through Redis, and their total rate.

Starts a redis-server of its own and a local HTTP server, then N worker processes (the sync
`Resource`, or `AsyncResource` over httpx's or aiohttp's transport) that GET as fast as one
`RateLimit(rate, burst, store=..., key=...)` lets them. Reports the total rate across the
processes against the limit, beside the same fleet with in-process limits only (N times the
limit), and, with `--outage`, the fleet while Redis is killed and restarted mid-run.

    python -m bench.fleet [--processes N] [--rate R] [--requests N] [--shell sync|httpx|aiohttp]
                          [--outage] [--quick]

The worker side (`python -m bench.fleet --worker OPTIONS`) is what the tests run too: it
prints `ready`, waits for a line on stdin, sends its GETs and prints when each came back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import clients
from bench.proxy import Host


def _limit(options: dict[str, Any]) -> clients.RateLimit:
    store = clients.stores.RedisStore(options['redis'], retry=options.get('retry', 1.0)) if options['redis'] else None
    return clients.RateLimit(options['rate'], burst=options['burst'], store=store,
                             key=options['key'] if store else None)


def _sync(options: dict[str, Any], limit: clients.RateLimit) -> list[tuple[float, int]]:
    records: list[tuple[float, int]] = []
    lock = threading.Lock()
    api = clients.Client(options['url'], rate=limit, retry=None)

    def work(count: int) -> None:
        for _ in range(count):
            status = api.get('').status_code
            with lock:
                records.append((time.time(), status))

    threads = [threading.Thread(target=work, args=(count,)) for count in _shares(options)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    api.close()
    return records


async def _async(options: dict[str, Any], limit: clients.RateLimit) -> list[tuple[float, int]]:
    records: list[tuple[float, int]] = []
    async with clients.AsyncClient(options['url'], rate=limit, retry=None, transport=options['shell']) as api:
        async def work(count: int) -> None:
            for _ in range(count):
                status = (await api.get('')).status_code
                records.append((time.time(), status))

        await asyncio.gather(*(work(count) for count in _shares(options)))
    return records


def _shares(options: dict[str, Any]) -> list[int]:
    """The requests of each thread or task of a worker: `requests` split over `concurrency`."""
    count, concurrency = options['requests'], options.get('concurrency', 2)
    return [count // concurrency + (index < count % concurrency) for index in range(concurrency)]


def worker(options: dict[str, Any]) -> None:
    """Run one worker process: print `ready`, wait for a line on stdin, GET, print the records."""
    limit = _limit(options)
    print('ready', flush=True)
    sys.stdin.readline()
    records = _sync(options, limit) if options['shell'] == 'sync' else asyncio.run(_async(options, limit))
    print(json.dumps(records), flush=True)


@dataclass
class Run:
    """The records of a fleet's run: when each response came back (wall time) and its status."""

    records: list[tuple[float, int]]
    workers: list[list[tuple[float, int]]]
    began: float

    @property
    def times(self) -> list[float]:
        return sorted(when for when, _ in self.records)

    def rate(self, burst: int = 0, since: float = 0.0, until: float = float('inf')) -> float:
        """The total rate after the first `burst` requests, between `since` and `until`."""
        times = [when for when in self.times if since <= when <= until]
        if len(times) <= burst + 1:
            return 0.0
        return (len(times) - 1 - burst) / (times[-1] - times[0])

    def excess(self, rate: float, burst: int, since: float = 0.0, until: float = float('inf')) -> int:
        """The most requests that any stretch of time held beyond what `rate` and `burst` allow.

        Zero means the fleet kept to the token bucket: in every stretch of `t` seconds at most
        `burst + rate * t` requests went (plus one, as a slot may straddle the stretch's ends).
        """
        times = [when for when in self.times if since <= when <= until]
        worst = 0
        for first in range(len(times)):
            for last in range(first, len(times)):
                allowed = burst + rate * (times[last] - times[first]) + 1
                worst = max(worst, int(last - first + 1 - allowed))
        return worst


@contextlib.contextmanager
def fleet(processes: int, options: dict[str, Any]) -> Iterator[list[subprocess.Popen[str]]]:
    """Start `processes` workers with `options` and wait until each is ready; stop them after."""
    command = [sys.executable, '-m', 'bench.fleet', '--worker', json.dumps(options)]
    root = Path(__file__).resolve().parent.parent
    started = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root)
               for _ in range(processes)]
    try:
        for process in started:
            assert process.stdout is not None
            line = process.stdout.readline()
            if line.strip() != 'ready':
                raise RuntimeError(f'a fleet worker did not start: {line!r}')
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()


def go(started: Sequence[subprocess.Popen[str]]) -> float:
    """Let every ready worker start; return when (wall time)."""
    began = time.time()
    for process in started:
        assert process.stdin is not None
        process.stdin.write('go\n')
        process.stdin.flush()
    return began


def collect(started: Sequence[subprocess.Popen[str]], began: float, timeout: float = 60.0) -> Run:
    """Wait for every worker's records."""
    workers = []
    for process in started:
        assert process.stdout is not None
        out, _ = process.communicate(timeout=timeout)
        if process.returncode:
            raise RuntimeError(f'a fleet worker exited with status {process.returncode}')
        workers.append([(when, status) for when, status in json.loads(out)])
    return Run([record for records in workers for record in records], workers, began)


def run(processes: int, options: dict[str, Any]) -> Run:
    """Run a fleet to the end."""
    with fleet(processes, options) as started:
        return collect(started, go(started))


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    parser.add_argument('--processes', type=int, default=4)
    parser.add_argument('--rate', type=float, default=50.0)
    parser.add_argument('--burst', type=int, default=5)
    parser.add_argument('--requests', type=int, default=100, help='requests per process')
    parser.add_argument('--shell', choices=['sync', 'httpx', 'aiohttp'], default='sync')
    parser.add_argument('--outage', action='store_true', help='kill Redis for a second mid-run')
    parser.add_argument('--quick', action='store_true')
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return {}
    if args.quick:
        args.processes, args.rate, args.requests = 2, 100.0, 10
    from tests.redis_server import RedisServer

    figures = {}
    host = Host()
    with RedisServer() as redis:
        options = {'url': host.url, 'redis': redis.url, 'key': 'bench', 'rate': args.rate, 'burst': args.burst,
                   'requests': args.requests, 'shell': args.shell}
        print(f'{args.processes} processes x {args.requests} GETs, {args.shell}, RateLimit({args.rate:g}, '
              f'burst={args.burst})')
        shared = run(args.processes, options)
        figures['shared'] = shared.rate(args.burst)
        alone = run(args.processes, dict(options, redis=None))
        figures['alone'] = alone.rate(args.burst * args.processes)
        over = shared.excess(args.rate, args.burst)
        print(f'  shared through Redis: {figures["shared"]:8.1f} requests/s in all '
              f'({figures["shared"] / args.rate:.2f} x the limit), {over} over the bucket')
        print(f'  each process alone:   {figures["alone"]:8.1f} requests/s in all '
              f'({figures["alone"] / args.rate:.2f} x the limit)')
        if args.outage:
            with fleet(args.processes, dict(options, retry=0.3)) as started:
                began = go(started)
                time.sleep(0.5)
                down = time.time()
                redis.stop()
                time.sleep(1.0)
                redis.start()
                back = time.time()
                outage = collect(started, began)
            ok = sum(status == 200 for _, status in outage.records) / len(outage.records)
            figures['outage'] = outage.rate(0, down, back)
            figures['after'] = outage.rate(0, back + 0.5)
            figures['succeeded'] = ok
            print(f'  Redis down for 1 s:   {ok:.0%} of GETs succeeded; {figures["outage"]:.1f} requests/s while '
                  f'down (each process on its own bucket), {figures["after"]:.1f} requests/s once it was back')
    host.crash()
    return figures


if __name__ == '__main__':
    main()
