"""Start-up: `import clients` and the `clients` command against `import requests`, in fresh processes.

Each case is a fresh interpreter (`python -c ...`, or the command line as its entry point
runs it), started in interleaved rounds (each round starting at another case) so machine
drift cancels; it prints the median wall time and peak resident memory of each (the
child's own, from `wait4`) with its ratio to `python -c 'import requests'` measured in the
same run. `clients URL` asks a local server in this process. `--profile` adds the slowest
imports of `import clients` (`python -X importtime`).

    python -m bench.startup [--rounds N] [--profile] [--quick]
"""

from __future__ import annotations

import argparse
import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BASELINE = 'import requests'
# The console script's own code (see the `clients` entry point): argv[0] is the command's name.
COMMAND = 'import sys; from clients.cli import main; sys.argv[0] = "clients"; sys.exit(main())'
ROOT = Path(__file__).parent.parent


def cases(url: str, bytecode: str) -> dict[str, list[str]]:
    """Return each case's command line, by name, each reading compiled bytecode from `bytecode`
    (written there by a warm-up), as an installed package does."""
    python = [sys.executable, '-X', f'pycache_prefix={bytecode}', '-c']
    return {
        'python (nothing imported)': [*python, 'pass'],
        BASELINE: [*python, 'import requests'],
        'import clients': [*python, 'import clients'],
        'clients --help': [*python, COMMAND, '--help'],
        'clients URL': [*python, COMMAND, url],
    }


def run(argv: list[str]) -> tuple[float, float]:
    """Run `argv` in a fresh process; return its wall time in seconds and its peak RSS in MiB."""
    started = time.perf_counter()
    with subprocess.Popen(argv, cwd=ROOT, env=_environment(), stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE) as process:
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        errors = process.stderr.read() if process.stderr else b''
    if process.returncode:
        raise SystemExit(f'{argv[4:]} exited with {process.returncode}: {errors.decode(errors="replace")}')
    return elapsed, usage.ru_maxrss / 1024  # (KiB on Linux)


class _Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"id": 1, "name": "item"}'
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serving() -> Iterator[str]:
    """A JSON server on 127.0.0.1 in a thread of this process; yield its URL."""
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}/item'
    finally:
        server.shutdown()
        server.server_close()


def _environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name != 'PYTHONDONTWRITEBYTECODE'}


def profile(bytecode: str) -> None:
    """Print the slowest imports (cumulative) of `import clients`, from `python -X importtime`."""
    found = subprocess.run([sys.executable, '-X', f'pycache_prefix={bytecode}', '-X', 'importtime', '-c',
                            'import clients'], cwd=ROOT, env=_environment(), capture_output=True, text=True,
                           check=True).stderr
    rows = []
    for line in found.splitlines()[1:]:
        own, total, name = line.removeprefix('import time:').split('|')
        rows.append((int(total), int(own), name.rstrip()))
    print('\nslowest imports of `import clients` (python -X importtime, µs): cumulative, own, module')
    for total, own, name in sorted(rows, reverse=True)[:25]:
        print(f'{total:>9} {own:>8} {name}')


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Run the start-up cases and print their figures; return them by case name."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=21)
    parser.add_argument('--profile', action='store_true', help='print the slowest imports of `import clients`')
    parser.add_argument('--quick', action='store_true', help='2 rounds: checks that it runs')
    args = parser.parse_args(argv)
    rounds = 2 if args.quick else args.rounds
    with serving() as url, tempfile.TemporaryDirectory() as bytecode:
        commands = cases(url, bytecode)
        names = list(commands)
        for name in names:  # a warm-up: compiled bytecode written, files in the page cache
            run(commands[name])
        times: dict[str, list[float]] = {name: [] for name in names}
        memory: dict[str, list[float]] = {name: [] for name in names}
        for round_ in range(rounds):
            for name in names[round_ % len(names):] + names[:round_ % len(names)]:
                elapsed, rss = run(commands[name])
                times[name].append(elapsed)
                memory[name].append(rss)
        if args.profile:
            profile(bytecode)
    base_time, base_rss = statistics.median(times[BASELINE]), statistics.median(memory[BASELINE])
    print(f'{rounds} interleaved round(s) of fresh processes; median wall time and peak RSS, '
          f"with the ratio to python -c '{BASELINE}'")
    figures = {}
    for name in names:
        wall, rss = statistics.median(times[name]), statistics.median(memory[name])
        figures[name] = {'ms': wall * 1000, 'MiB': rss, 'time ratio': wall / base_time, 'RSS ratio': rss / base_rss}
        print(f'{name:<28} {wall * 1000:7.1f} ms {wall / base_time:5.2f}x  {rss:6.1f} MiB {rss / base_rss:5.2f}x')
    return figures


if __name__ == '__main__':
    main()
