"""Request coalescing: identical concurrent GETs through one client family send one request.

`Flights` is shared by a client and every client derived from it (`coalesce=True` makes
one). Requests are identical when their method, URL, credentials and every header they send
are (see `identify`): a later one waits for the request in flight and gets its own
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
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterable
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


_AUTH_TOKENS: weakref.WeakKeyDictionary[Any, bytes] = weakref.WeakKeyDictionary()


def auth_identity(auth: Any) -> bytes | None:
    """Return what names the credentials of an `auth` setting; None if it cannot be named.

    Basic credentials are their user and password; any other auth object is itself (a
    random token per object), as what it sends may change (a refreshed token, a signature).
    """
    if auth is None:
        return b''
    if isinstance(auth, tuple | list):
        return repr(tuple(auth)).encode()
    basic = [getattr(auth, name, None) for name in ('username', 'password')]
    if all(isinstance(part, str | bytes) for part in basic):
        return repr((type(auth).__name__, *basic)).encode()
    try:
        return _AUTH_TOKENS.setdefault(auth, secrets.token_bytes(16))
    except TypeError:  # unhashable, or no weak reference: such a request is not cached
        return None


@dataclass(frozen=True)
class Identity:
    """What a request is, for the cache and for coalescing: its key and the headers it sends."""

    key: str  # names the URL and credentials: entries live under it
    headers: tuple[tuple[str, str], ...]  # every header sent, credentials as digests, lower-case names
    method: str

    @property
    def flight(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        """What identical concurrent requests share."""
        return self.method, self.key, self.headers

    def request(self) -> Any:
        """Return the request as hishel's rules see it (the URL is the key: it never leaves in clear)."""
        import hishel

        headers: dict[str, list[str]] = {}
        for name, value in self.headers:
            headers.setdefault(name, []).append(value)
        return hishel.Request(method=self.method, url=self.key, headers=hishel.Headers(headers))


def identify(digest: Callable[..., str], method: str, url: str, headers: Iterable[tuple[str, str]], auth: Any,
             credential_headers: Iterable[str] = ()) -> Identity | None:
    """Return the identity of a request as it will be sent (before auth); None if it cannot be cached."""
    names = {name.lower() for name in (*urls.CREDENTIAL_HEADERS, *credential_headers)}
    identity = auth_identity(auth)
    if identity is None:
        return None
    sent, secret = [], [identity]
    for name, value in headers:
        name = name.lower()
        if name in names:
            secret.append(f'{name}:{value}'.encode())
            value = digest(b'header', name.encode(), value.encode())
        sent.append((name, value))
    key = digest(b'url', url.encode(), b'credentials', *sorted(secret))
    return Identity(key, tuple(sorted(sent)), method.upper())
