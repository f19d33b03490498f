"""CPU time per small GET inside a forwarder, without its server: `clients.forward` against the
raw-library forwarders of `bench.forward`, called directly in this process (the upstream runs
in a process of its own), in interleaved rounds; `--profile` prints cProfile's own-time table
for one of them.

    python -m bench.forward_cpu [--requests N] [--rounds N] [--profile asgi|wsgi|raw-asgi|raw-wsgi]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import multiprocessing
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import clients
from clients import forward

from . import forward as bench

HEADERS = [('Host', '127.0.0.1:8000'), ('User-Agent', 'python-requests/2.32'),
           ('Accept-Encoding', 'gzip, deflate'), ('Accept', '*/*'), ('Connection', 'keep-alive')]


def wsgi_caller(app: Any) -> Callable[[], None]:
    """Return a function that sends one small GET through the WSGI `app` and checks the answer."""

    def call() -> None:
        environ = {'REQUEST_METHOD': 'GET', 'SCRIPT_NAME': '', 'PATH_INFO': '/small', 'QUERY_STRING': '',
                   'SERVER_PROTOCOL': 'HTTP/1.1', 'wsgi.url_scheme': 'http', 'REMOTE_ADDR': '127.0.0.1',
                   'wsgi.input': io.BytesIO(), 'CONTENT_LENGTH': '', 'CONTENT_TYPE': ''}
        for name, value in HEADERS:
            environ['HTTP_' + name.upper().replace('-', '_')] = value
        status: list[str] = []
        body = app(environ, lambda line, headers, exc_info=None: status.append(line))
        try:
            data = b''.join(body)
        finally:
            getattr(body, 'close', lambda: None)()
        if not status[0].startswith('200') or data != b'{"ok": true}':
            raise AssertionError(f'{status} {data!r}')

    return call


def asgi_caller(app: Any, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Return a function that sends one small GET through the ASGI `app` (as uvicorn would) and checks it."""
    scope = {'type': 'http', 'asgi': {'version': '3.0'}, 'http_version': '1.1', 'method': 'GET', 'scheme': 'http',
             'path': '/small', 'raw_path': b'/small', 'root_path': '', 'query_string': b'',
             'client': ('127.0.0.1', 50000), 'server': ('127.0.0.1', 8000),
             'headers': [(name.lower().encode(), value.encode()) for name, value in HEADERS]}

    async def one() -> None:
        done = asyncio.Event()
        messages = iter([{'type': 'http.request', 'body': b'', 'more_body': False}])
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            message = next(messages, None)
            if message is not None:
                return message
            await done.wait()
            return {'type': 'http.disconnect'}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if message['type'] == 'http.response.body' and not message.get('more_body'):
                done.set()

        await app(dict(scope), receive, send)
        done.set()
        if sent[0]['status'] != 200 or b''.join(m.get('body', b'') for m in sent[1:]) != b'{"ok": true}':
            raise AssertionError(sent)

    return lambda: loop.run_until_complete(one())


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Measure and print µs of CPU per request for each forwarder; return the medians by name."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--requests', type=int, default=2000)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--profile', choices=['asgi', 'wsgi', 'raw-asgi', 'raw-wsgi'])
    args = parser.parse_args(argv)
    context = multiprocessing.get_context('spawn')
    ports = context.Queue()
    upstream = context.Process(target=bench.serve_upstream, args=(ports,), daemon=True)
    upstream.start()
    url = f'http://127.0.0.1:{ports.get(timeout=60)}/'
    loop = asyncio.new_event_loop()
    raw_asgi, raw_wsgi = bench.raw_asgi(url), bench.raw_wsgi(url)
    async_client, client = clients.AsyncClient(url), clients.Client(url)
    try:
        callers = {
            'raw-asgi': asgi_caller(raw_asgi, loop),
            'asgi': asgi_caller(forward.asgi(async_client), loop),
            'raw-wsgi': wsgi_caller(raw_wsgi),
            'wsgi': wsgi_caller(forward.wsgi(client)),
        }
        for call in callers.values():
            for _ in range(50):
                call()
        if args.profile:
            call = callers[args.profile]
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(args.requests):
                call()
            profile.disable()
            out = io.StringIO()
            stats = pstats.Stats(profile, stream=out).sort_stats('tottime')
            stats.print_stats(45)
            stats.sort_stats('cumulative').print_stats('clients/|sessions.py|models.py', 60)
            print(out.getvalue())
            return {}
        cpu: dict[str, list[float]] = {name: [] for name in callers}
        per_round = max(1, args.requests // args.rounds)
        for _ in range(args.rounds):
            for name, call in callers.items():
                start = time.process_time()
                for _ in range(per_round):
                    call()
                cpu[name].append((time.process_time() - start) / per_round * 1e6)
        print(f'{per_round * args.rounds} small GETs each, {args.rounds} rounds: forwarder CPU µs per request '
              '(median, min-max) and ratio raw/ours (>1: ours costs less)')
        for name, values in cpu.items():
            median = statistics.median(values)
            base = statistics.median(cpu['raw-' + name]) if not name.startswith('raw') else None
            ratio = f'  {base / median:.2f}x' if base else ''
            print(f'  {name:9} {median:6.0f} ({min(values):.0f}-{max(values):.0f}){ratio}')
        return {name: statistics.median(values) for name, values in cpu.items()}
    finally:
        loop.run_until_complete(async_client.aclose())
        loop.run_until_complete(raw_asgi.client.aclose())
        loop.close()
        client.close()
        raw_wsgi.session.close()
        upstream.terminate()
        upstream.join(10)
        sys.stdout.flush()


if __name__ == '__main__':
    main()
