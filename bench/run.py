"""The benchmark suite: each client against the raw library under it, in the same run.

Starts nginx on 127.0.0.1 with a temporary configuration (keep-alive on, an access log of
connection serials), or, without nginx, the asyncio server in `bench.server` in its own
process. Then runs rounds of every scenario, interleaved so machine drift cancels, and
prints the median rate of each client, its ratio to the raw library, the TCP connections
each opened (counted from the server's log) and the server's CPU use (a server near 100%
would be the bottleneck). Last, it runs `bench.streaming` in its own process (so its peak
RSS is its own), `bench.forward` and `bench.startup` (fresh processes: `import clients` and
the `clients` command against `import requests`).

    python -m bench.run [--rounds N] [--requests N] [--concurrency N] [--server nginx|python]
                        [--only WORD] [--skip SUITE] [--environment N] [--profile] [--no-streaming]
                        [--quick]

`--only WORD` keeps the request cases whose scenario or name contains WORD, with the raw
cases they are compared with; `--skip` leaves out a suite run after them (`streaming`,
`forwarding`, `startup`).

Every client reads the process's environment (requests scans it for proxy settings on each
request), so the header says how many variables there were; `--environment N` adds filler
variables until there are N (a developer's shell or a CI runner has about 100), for the raw
cases and the clients alike.

`--quick` makes a handful of requests against the Python server: CI checks that it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import cProfile
import os
import pstats
import shutil
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import requests

import clients
from clients import httpx

NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format serial '$connection $request_uri';
    access_log {dir}/access.log serial;
    keepalive_timeout 65s;
    keepalive_requests 1000000;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            default_type application/json;
            return 200 '{body}';
        }}
        location /files/ {{  # bench.streaming's bodies: files under {dir}/files/, sent with sendfile
            root {dir};
            default_type application/octet-stream;
            sendfile on;
        }}
    }}
}}
"""
BODY = '{"id": 1, "name": "item", "tags": ["a", "b"], "active": true}'
STDLIB = Path(sysconfig.get_paths()['stdlib'])
INSTALL = 'apt-get install -y nginx-light (Debian/Ubuntu)'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the server accepts connections; raise if it exits first."""
    for _ in range(200):
        if process.poll() is not None:
            raise RuntimeError(f'the server exited with {process.returncode}: {log.read_text()[-2000:]}')
        with contextlib.suppress(OSError), socket.create_connection(('127.0.0.1', port), timeout=1):
            return
        time.sleep(0.025)
    raise RuntimeError(f'the server did not listen on 127.0.0.1:{port} within 5 s')


@dataclass
class Server:
    """A running benchmark server: its URL, access log, and the processes whose CPU counts."""

    name: str
    url: str
    log: Path
    process: subprocess.Popen[bytes]
    offset: int = 0

    def pids(self) -> list[int]:
        """The server's processes: the master and, for nginx, its workers."""
        pids = [self.process.pid]
        for stat in Path('/proc').glob('[0-9]*/stat'):
            with contextlib.suppress(OSError, IndexError):
                if int(stat.read_text().rsplit(')', 1)[1].split()[1]) == self.process.pid:
                    pids.append(int(stat.parent.name))
        return pids

    def cpu(self) -> float:
        """CPU seconds used so far by the server's processes (0 where /proc is missing)."""
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf('SC_CLK_TCK')

    def connections(self) -> dict[str, set[str]]:
        """Return the connection serials seen per first path segment since the last call."""
        time.sleep(0.05)  # let the server write its last log lines
        with self.log.open() as file:
            file.seek(self.offset)
            text = file.read()
            self.offset = file.tell()
        seen: dict[str, set[str]] = collections.defaultdict(set)
        for line in text.splitlines():
            serial, _, path = line.partition(' ')
            seen[path.split('/')[1]].add(serial)
        return seen


def find_nginx() -> str | None:
    """Return the nginx executable, also where /usr/sbin is not on PATH."""
    return shutil.which('nginx') or shutil.which('nginx', path='/usr/sbin:/usr/local/sbin')


@contextlib.contextmanager
def start(kind: str) -> Iterator[Server]:
    """Start nginx (or the Python server) on a free port of 127.0.0.1; stop it on exit."""
    nginx = find_nginx()
    if kind == 'nginx' and nginx is None:
        raise SystemExit(f'nginx is not installed: {INSTALL}, or run with --server python')
    if kind == 'auto':
        kind = 'nginx' if nginx else 'python'
        if nginx is None:
            print(f'nginx not found ({INSTALL}); using the Python server in bench/server.py')
    port = free_port()
    with tempfile.TemporaryDirectory(prefix='clients-bench-') as tmp:
        log = Path(tmp, 'access.log')
        log.touch()
        if kind == 'nginx':
            conf = Path(tmp, 'nginx.conf')
            conf.write_text(NGINX_CONF.format(dir=tmp, port=port, body=BODY))
            command = [str(nginx), '-p', tmp, '-c', str(conf), '-e', f'{tmp}/error.log']
            errors = Path(tmp, 'error.log')
        else:
            command = [sys.executable, '-m', 'bench.server', str(port), str(log)]
            errors = log
        process = subprocess.Popen(command, cwd=Path(__file__).parent.parent)
        try:
            wait_for(port, process, errors)
            yield Server(kind, f'http://127.0.0.1:{port}/', log, process)
        finally:
            process.terminate()
            process.wait(10)


@dataclass
class Case:
    """One client in one scenario: how to run a round, and what it measured."""

    scenario: str
    name: str
    run: Callable[[str, int], int]
    baselines: tuple[tuple[str, str], ...] = ()  # (baseline case name, target ratio)
    rates: list[float] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)  # CPU seconds per request


def sync_cases(count: int) -> list[Case]:
    """Sequential GET+JSON: Resource vs requests.Session; navigation; naive requests.get vs Client."""

    # The raw calls use the clients' default timeout, as careful raw code does (a socket with a
    # timeout polls before each read).
    timeout = clients.navigation.TIMEOUT

    def raw(url: str, count: int) -> int:
        with requests.Session() as session:
            return sum(len(session.get(f'{url}items/{i}', timeout=timeout).json()) for i in range(count))

    def resource(url: str, count: int) -> int:
        with clients.Resource(url) as api:
            return sum(len(api.get(f'items/{i}')) for i in range(count))

    def navigation(url: str, count: int) -> int:
        with clients.Resource(url) as api:
            return sum(len(api.items[str(i)]) for i in range(count))

    def naive(url: str, count: int) -> int:
        return sum(len(requests.get(f'{url}items/{i}', timeout=timeout).json()) for i in range(count))

    def client(url: str, count: int) -> int:
        with clients.Client(url) as api:
            return sum(len(api.get(f'items/{i}').json()) for i in range(count))

    return [
        Case('sequential', 'requests.Session', raw),
        Case('sequential', 'Resource.get', resource, (('requests.Session', '>= 1.05'),)),
        Case('sequential', 'Resource.items[str(i)]', navigation, (('requests.Session', '>= 1.0, 1 conn'),)),
        Case('naive', 'requests.get per call', naive),
        Case('naive', 'Client.get', client, (('requests.get per call', 'pooling'),)),
    ]


async def fan_out(get: Callable[[int], Any], count: int, concurrency: int) -> int:
    """Run `count` GETs through `concurrency` workers; return the total decoded size."""
    numbers = iter(range(count))
    total = 0

    async def worker() -> None:
        nonlocal total
        for i in numbers:
            total += len(await get(i))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total


def async_cases(concurrency: int) -> list[Case]:
    """Fan-out of GET+JSON: AsyncResource (both transports) vs raw httpx and raw aiohttp."""

    def raw_with(library: Any) -> Callable[[str, int], int]:
        def raw(url: str, count: int) -> int:
            async def run() -> int:
                async with library.AsyncClient() as client:
                    async def get(i: int) -> Any:
                        return (await client.get(f'{url}items/{i}')).json()
                    return await fan_out(get, count, concurrency)
            return asyncio.run(run())
        return raw

    raw_httpx = raw_with(httpx)

    def raw_aiohttp(url: str, count: int) -> int:
        async def run() -> int:
            async with aiohttp.ClientSession() as session:
                async def get(i: int) -> Any:
                    async with session.get(f'{url}items/{i}') as response:
                        return await response.json()
                return await fan_out(get, count, concurrency)
        return asyncio.run(run())

    def resource(transport: str, navigate: bool = False) -> Callable[[str, int], int]:
        def run_rounds(url: str, count: int) -> int:
            async def run() -> int:
                async with clients.AsyncResource(url, transport=transport) as api:
                    if navigate:
                        return await fan_out(lambda i: api.items[str(i)], count, concurrency)
                    return await fan_out(lambda i: api.get(f'items/{i}'), count, concurrency)
            return asyncio.run(run())
        return run_rounds

    # The 12x target was set against httpx 0.28 (`httpx.AsyncClient`); over httpx2, which is
    # faster, that raw library is measured too when it is installed, and the target is its.
    old = None
    if clients.library.NAME == 'httpx2':
        with contextlib.suppress(ImportError):
            import httpx as old
    raws = [Case('fan-out', 'httpx.AsyncClient', raw_httpx)]
    targets: tuple[tuple[str, str], ...] = (('httpx.AsyncClient', '>= 12'), ('aiohttp.ClientSession', '>= 0.75'))
    if old is not None:
        raws.append(Case('fan-out', OLD_HTTPX, raw_with(old)))
        targets = (('httpx.AsyncClient', f'{clients.library.NAME}'), (OLD_HTTPX, '>= 12'), targets[1])
    return [
        *raws,
        Case('fan-out', 'aiohttp.ClientSession', raw_aiohttp),
        Case('fan-out', 'AsyncResource.get [aiohttp]', resource('aiohttp'), targets),
        Case('fan-out', 'AsyncResource.items[] [aiohttp]', resource('aiohttp', navigate=True), targets),
        Case('fan-out', 'AsyncResource.get [httpx]', resource('httpx'), (('httpx.AsyncClient', '>= 0.95'),)),
    ]


OLD_HTTPX = 'httpx 0.x AsyncClient'  # the httpx package, beside httpx2 (see async_cases)


def measure(server: Server, cases: list[Case], counts: dict[str, int], rounds: int) -> None:
    """Run interleaved rounds of every case, recording rates, connections and server CPU."""
    for round_ in range(rounds):
        start_at = round_ % len(cases)  # each round starts at another case, so no case always goes first
        for number, case in [*enumerate(cases)][start_at:] + [*enumerate(cases)][:start_at]:
            tag = f'c{number}r{round_}'
            count = counts[case.scenario]
            cpu = server.cpu()
            start, client_cpu = time.perf_counter(), time.process_time()
            size = case.run(f'{server.url}{tag}/', count)
            elapsed = time.perf_counter() - start
            case.client_cpu.append((time.process_time() - client_cpu) / count)
            if size <= 0:
                raise AssertionError(f'{case.name}: nothing decoded')
            case.server_cpu.append((server.cpu() - cpu) / elapsed)
            case.rates.append(count / elapsed)
            served = server.connections()
            if not served.get(tag):
                raise AssertionError(f'{case.name}: the server logged no request')
            case.connections.append(len(served[tag]))


def report(cases: list[Case]) -> dict[str, dict[str, float]]:
    """Print one line per case and baseline; return the figures by case name."""
    medians = {case.name: statistics.median(case.rates) for case in cases}
    costs = {case.name: statistics.median(case.client_cpu) for case in cases}
    figures: dict[str, dict[str, float]] = {}
    print(f'  {"client":32} {"req/s":>6} {"ratio":>6}  {"vs":22} {"target":16} {"conns":>5} '
          f'{"server CPU":>10} {"client us/req":>13} {"CPU ratio":>9}')
    for case in cases:
        rate, cost = medians[case.name], costs[case.name]
        conns = statistics.median(case.connections)
        cpu = statistics.median(case.server_cpu)
        figures[case.name] = {'rate': rate, 'connections': conns, 'server_cpu': cpu, 'client_cpu': cost}
        for baseline, target in case.baselines or (('baseline', ''),):
            ratio = rate / medians[baseline] if case.baselines else 1.0
            cpu_ratio = costs[baseline] / cost if case.baselines and cost else 1.0
            figures[case.name][f'ratio to {baseline}'] = ratio
            print(f'  {case.name:32} {rate:6.0f} {ratio:5.2f}x  {baseline:22} {target:16} {conns:5.0f} '
                  f'{cpu:10.0%} {cost * 1e6:13.0f} {cpu_ratio:8.2f}x')
    return figures


def profile(url: str, count: int, concurrency: int) -> None:
    """Profile the AsyncResource fan-out over aiohttp: where the time goes, by package."""
    async def run() -> None:
        async with clients.AsyncResource(url, transport='aiohttp') as api:
            await fan_out(lambda i: api.get(f'items/{i}'), count, concurrency)

    profiler = cProfile.Profile()
    profiler.runcall(asyncio.run, run())
    stats = pstats.Stats(profiler)
    by_package: dict[str, float] = collections.Counter()
    for (path, _, name), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_package[package(path, name)] += own
    total = sum(by_package.values())
    print(f'\nwhere AsyncResource.get fan-out time goes (cProfile, own time by package, {count} GETs):')
    for name, seconds in sorted(by_package.items(), key=lambda item: -item[1])[:12]:
        print(f'  {name:28} {seconds / total:6.1%}')
    print('largest cumulative times in clients, httpx and the transport:')
    stats.sort_stats('cumulative').print_stats(r'clients/|httpx2?/_client|httpx2?/_models|aiohttp/client\.py', 25)


def package(path: str, name: str) -> str:
    """Name what a profiled function belongs to: a package, a stdlib module, or a C call."""
    if path == '~':  # C functions
        for word, label in (('epoll', 'select (waiting for I/O)'), ('socket', 'socket (send/recv)'),
                            ('json', 'json (C)')):
            if word in name:
                return label
        return 'builtins (C)'
    parts = Path(path).parts
    if 'site-packages' in parts:
        rest = parts[parts.index('site-packages') + 1:]
        return rest[0].removesuffix('.py')
    if Path(path).is_relative_to(Path(__file__).parent.parent):
        return parts[-2] if parts[-2] in ('clients', 'bench') else 'other'
    if Path(path).is_relative_to(STDLIB):
        return 'stdlib ' + Path(path).relative_to(STDLIB).parts[0].removesuffix('.py')
    return 'other'


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Run the benchmarks and print their figures; return them by case name."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=9)
    parser.add_argument('--requests', type=int, default=2000, help='GETs per round of each sync case (and fan-out)')
    parser.add_argument('--concurrency', type=int, default=100)
    parser.add_argument('--server', choices=['auto', 'nginx', 'python'], default='auto')
    parser.add_argument('--profile', action='store_true', help='profile the AsyncResource fan-out')
    parser.add_argument('--no-streaming', action='store_true', help='skip bench.streaming (as --skip streaming)')
    parser.add_argument('--only', action='append', default=[], metavar='WORD',
                        help='keep the request cases whose scenario or name has WORD (and their baselines)')
    parser.add_argument('--skip', action='append', default=[], choices=[name for name, _ in SUITES],
                        help='leave out a suite that runs after the request cases')
    parser.add_argument('--environment', type=int, metavar='N',
                        help='add filler environment variables until there are N (about 100 is realistic)')
    parser.add_argument('--quick', action='store_true', help='a handful of requests on the Python server')
    args = parser.parse_args(argv)
    if args.environment is not None:
        pad(os.environ, args.environment)
    if args.quick:
        args.rounds, args.requests, args.concurrency, args.server = 1, 12, 4, 'python'
    cases = select(sync_cases(args.requests) + async_cases(args.concurrency), args.only)
    counts = {'sequential': args.requests, 'naive': args.requests, 'fan-out': args.requests}
    with start(args.server) as server:
        print(f'{server.name} on {server.url}: {args.rounds} interleaved round(s) of {args.requests} GET+JSON '
              f'per case, fan-out at concurrency {args.concurrency}; median req/s, ratio to the raw library, '
              'TCP connections opened per round, server CPU (of one core) while it ran; '
              f'{len(os.environ)} environment variables')
        print(f'async clients over {clients.library.NAME} {httpx.__version__} ("httpx" below); their default '
              f"transport is {clients.transports.choose()!r}, and [httpx] is transport='httpx'")
        measure(server, cases, counts, args.rounds)
        figures = report(cases)
        if args.profile:
            profile(server.url + 'profile/', args.requests, args.concurrency)
    skip = set(args.skip) | ({'streaming'} if args.no_streaming else set())
    for name, module in SUITES:
        if name not in skip:
            quick = ['--quick'] if args.quick else []  # (each runs its own number of rounds)
            print(f'\n{name} ({module}):', flush=True)
            subprocess.run([sys.executable, '-m', module, *quick], check=True, cwd=Path(__file__).parent.parent)
    return figures


# The suites `main` runs after the request cases, each in its own process (so that its memory
# and its start-up are its own): (name, module).
SUITES = [('streaming', 'bench.streaming'), ('forwarding', 'bench.forward'), ('startup', 'bench.startup')]


def pad(environ: Any, size: int) -> None:
    """Add filler variables to `environ` until it has `size` (none if it has as many)."""
    for index in range(max(size - len(environ), 0)):
        environ[f'BENCH_FILLER_{index}'] = 'x' * 40


def select(cases: list[Case], words: list[str]) -> list[Case]:
    """The cases whose scenario or name has one of `words` (all without any), with their baselines."""
    if not words:
        return cases
    kept = {case.name for case in cases if any(word in case.scenario or word in case.name for word in words)}
    if not kept:
        raise SystemExit(f'--only {" ".join(words)}: no case matches; the cases: {", ".join(c.name for c in cases)}')
    kept |= {baseline for case in cases if case.name in kept for baseline, _ in case.baselines}
    return [case for case in cases if case.name in kept]


if __name__ == '__main__':
    main()
