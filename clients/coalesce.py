"""Request coalescing: identical concurrent GETs through one client family send one request.

`Flights` is shared by a client and every client derived from it (`coalesce=True` makes
one). Requests are identical when their method, URL, credentials and every header they send
are (see `cache.identify`): a later one waits for the request in flight and gets its own
copy of the answer, or the error it raised. Threads wait in `join`, tasks in `ajoin`; a task
that is cancelled stops waiting, and the request in flight is cancelled only when no one
waits for it any more.

It is off by default because it changes what a caller may rely on: a GET that starts while
an identical one is in flight gets the answer of a request sent before it started (so a
write the caller made meanwhile may not show), its own `timeout`, `retry` and hooks do not
apply, and the server sees one request instead of many.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from . import urls

if TYPE_CHECKING:
    import asyncio

_T = TypeVar('_T')


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


@dataclass
class _Task:
    task: asyncio.Future[Any]
    waiting: int = 0


class Flights:
    """The requests in flight of one client family, and how many were sent and shared."""

    def __init__(self) -> None:
        self.secret = secrets.token_bytes(32)
        self.sent = 0
        self.shared = 0
        self._threads: dict[Hashable, _Flight] = {}
        self._tasks: dict[Hashable, _Task] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f'Flights(sent={self.sent}, shared={self.shared})'

    def digest(self, *parts: bytes) -> str:
        """Return the HMAC of `parts`, as hex (credentials are named by it)."""
        return urls.digest(self.secret, *parts)

    def join(self, key: Hashable, send: Callable[[], _T], copy: Callable[[_T], _T]) -> _T:
        """Return a copy of the answer of the request `key` in flight, sending it (`send`) if none is."""
        with self._lock:
            flight = self._threads.get(key)
            leader = flight is None
            if flight is None:
                flight = self._threads[key] = _Flight()
                self.sent += 1
            else:
                self.shared += 1
        if leader:
            try:
                flight.result = copy(send())
            except BaseException as exc:
                flight.error = exc
                raise
            finally:
                with self._lock:
                    del self._threads[key]
                flight.done.set()
        else:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
        return copy(flight.result)

    async def ajoin(self, key: Hashable, send: Callable[[], Awaitable[_T]], copy: Callable[[_T], _T]) -> _T:
        """The async twin of `join`: the request in flight is a task of the running loop."""
        import asyncio

        loop = asyncio.get_running_loop()
        key = (id(loop), key)
        with self._lock:
            flight = self._tasks.get(key)
            if flight is None:
                flight = self._tasks[key] = _Task(asyncio.ensure_future(send()))
                flight.task.add_done_callback(lambda _: self._land(key))
                self.sent += 1
            else:
                self.shared += 1
            flight.waiting += 1
        try:
            result = await asyncio.shield(flight.task)
        except asyncio.CancelledError:
            flight.waiting -= 1
            if not flight.waiting:  # no one waits for it any more
                self._land(key)
                flight.task.cancel()
            raise
        return copy(result)

    def _land(self, key: Hashable) -> None:
        with self._lock:
            self._tasks.pop(key, None)
