"""Deadlines: a bound on the whole of one request, every attempt, wait and byte of it.

A read timeout bounds each wait for data, not a request: a server that sends a byte a second
keeps a request alive forever within any read timeout, and retries multiply it. A deadline
(`deadline=` seconds on a client, a view or a request; `DEFAULT` unless set, `None` for none)
ends the request when it passes: every attempt, the waits between them, and the reading of a
body that is not streamed (for a streamed request, until the response head has come; the
stream itself is then the caller's, each read still bounded by the read timeout). It raises
`DeadlineExceeded` (also `requests.Timeout` / `httpx.TimeoutException`), with the last error, if
any, as its cause.

The async shell runs the request in `asyncio.timeout`. The sync shell cannot interrupt a
blocked read, so `Watchdog` does it: one daemon thread that shuts down the connection a request
is reading from once its deadline passes (the read then fails at once, and the shell raises
`DeadlineExceeded` instead of that failure).
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

# Seconds a request may take in all, unless its client, view or call says otherwise.
DEFAULT = 300.0


def check(value: Any) -> float | None:
    """Return a `deadline=` setting checked: seconds > 0, or None for no deadline."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValueError(f'deadline must be a finite number of seconds > 0 or None, not {value!r}')
    return float(value)


class Watch:
    """The deadline of one sync request and the connections it reads from."""

    def __init__(self, watchdog: Watchdog, when: float, seconds: float) -> None:
        self.watchdog = watchdog
        self.when = when
        self.seconds = seconds
        self.connections: list[Any] = []
        self.expired = False

    def remaining(self) -> float:
        """Return the seconds left (0 once passed)."""
        return max(self.when - time.monotonic(), 0.0)

    def attach(self, connection: Any) -> None:
        """Watch a connection the request sends on (a urllib3 connection: its `sock` is cut)."""
        with self.watchdog.lock:
            self.connections.append(connection)
            if self.expired:
                _cut(connection)

    def release(self) -> None:
        """Stop watching the connections attached: the request is done with them (back in the pool)."""
        with self.watchdog.lock:
            self.connections.clear()

    def cut(self) -> None:
        """Mark the deadline passed and shut down every connection attached."""
        with self.watchdog.lock:  # (so that no connection released to the pool and reused is cut)
            self.expired = True
            for connection in self.connections:
                _cut(connection)


def _cut(connection: Any) -> None:
    sock = getattr(connection, 'sock', None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class Watchdog:
    """One daemon thread that cuts the connections of sync requests whose deadline has passed.

    It sleeps until the earliest deadline of the requests in flight; a request that ends takes
    its watch away. The thread starts on first use (and again in a forked child).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.active: set[Watch] = set()
        self.wake = math.inf
        self.thread: threading.Thread | None = None
        self.local = threading.local()

    def current(self) -> Watch | None:
        """Return the watch of the request this thread is sending, if any."""
        watch: Watch | None = getattr(self.local, 'watch', None)
        return watch

    @contextlib.contextmanager
    def watch(self, seconds: float) -> Iterator[Watch]:
        """Context manager: watch the request sent in this block, whose deadline is `seconds` away."""
        watch = Watch(self, time.monotonic() + seconds, seconds)
        with self.lock:
            self.active.add(watch)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, args=(self.lock, self.changed),
                                               name='clients-deadlines', daemon=True)
                self.thread.start()
            if watch.when < self.wake:
                self.changed.notify()
        outer, self.local.watch = self.current(), watch
        try:
            yield watch
        finally:
            self.local.watch = outer
            with self.lock:
                self.active.discard(watch)

    def _run(self, lock: threading.Lock, changed: threading.Condition) -> None:
        while True:
            with lock:
                if self.lock is not lock:  # this watchdog was started anew (see `_forked`)
                    return
                now = time.monotonic()
                due = [watch for watch in self.active if watch.when <= now]
                self.active.difference_update(due)
                self.wake = min((watch.when for watch in self.active), default=math.inf)
                if not due:
                    changed.wait(None if self.wake == math.inf else self.wake - now)
                    continue
            for watch in due:
                watch.cut()

    def _forked(self) -> None:
        self.__init__()  # type: ignore[misc]  # the thread did not come along


WATCHDOG = Watchdog()
os.register_at_fork(after_in_child=WATCHDOG._forked)
