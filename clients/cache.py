"""HTTP caching (RFC 9111, with RFC 5861's stale directives) for `cache=` on every client.

The rules are hishel's pure state machine (`hishel.IdleClient` and the states after it):
what is fresh, what must be revalidated, what may be stored, how a 304 refreshes a stored
response. Around it, `flow` adds what a private cache of API clients needs and hishel
leaves out: `stale-while-revalidate` and `stale-if-error`, a response's `Age` (see
`_dated`), a request's `no-store`, `max-age`, `min-fresh` and `max-stale`, and these
safety rules:

- Entries are named by an HMAC (keyed by the cache's `secret`) of the URL and of every
  credential the request carries: its credential headers (`Authorization`, `Cookie`,
  `Proxy-Authorization`, an auth object's `credential_headers`), the cookies the jar sends
  and its `auth`. A response is never served to a request with other or no credentials,
  and no URL or secret is stored in clear (stored request headers hold digests).
- Only a whole, unredirected, non-streamed answer under 500 (and not a retryable status
  such as 429) is stored; an error, a cut or limited body, or a retry that gave up stores
  nothing. `Set-Cookie` is never stored.
- A hit sends nothing: it is never retried and never waits for the rate limit.
- A stale response is served (by `stale-while-revalidate`, `stale-if-error` or `max-stale`)
  only to a request of its own variant: hishel hands the entries of every variant (`Vary`)
  over for revalidation together.

A flow is a generator driven by `run` (sync) and `arun` (async): it yields `Load`, `Send`,
`Store`, `Update` and `Remove` steps, and returns a `Hit` or the network's `Answer`.
The storages are hishel's (`SqliteStorage`, `RedisStorage`, built by `sqlite` and `redis`,
which own every file and connection they make) and `Memory`, the default.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sqlite3
import stat
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from pathlib import Path
from typing import Any

import hishel
from hishel._core._headers import parse_cache_control
from hishel._core._spec import get_age, get_freshness_lifetime, vary_headers_match

from . import fields, urls
from .coalesce import Identity, auth_identity, identify  # noqa: F401 (here before coalesce had them)

LOG = logging.getLogger(__name__)

# A private cache: `private` responses are stored; only GET and HEAD answers are.
OPTIONS = hishel.CacheOptions(shared=False, supported_methods=['GET', 'HEAD'])
# Request headers that make a request the caller's own conditional or partial one: it goes
# to the server as it is, and its answer is not stored.
CONDITIONAL = ('if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range')
VALIDATORS = ('if-none-match', 'if-modified-since')
# Stored bodies are decoded: the headers that described the bytes on the wire go.
UNSTORED = frozenset({'content-encoding', 'content-length', 'transfer-encoding', 'set-cookie', 'set-cookie2'})
# Statuses a retry policy retries by default: what one of them produced is never stored.
RETRYABLE = frozenset({408, 425, 429})
SAFE = frozenset({'GET', 'HEAD', 'OPTIONS', 'TRACE'})
# Where a stored response keeps the origin's `Date` (its stored `Date` counts its age: see `_dated`).
ORIGIN_DATE = 'x-clients-origin-date'


@dataclass
class Stats:
    """What a cache did: hits (fresh, revalidated or stale), misses, stores, revalidations."""

    hits: int = 0
    misses: int = 0
    revalidated: int = 0
    stale: int = 0
    stored: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        """Add to the counts named."""
        with self.lock:
            for name, count in counts.items():
                setattr(self, name, getattr(self, name) + count)

    @property
    def hit_rate(self) -> float:
        """The share of lookups answered from the cache (0 when there were none)."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class Memory(hishel.BaseStorage):
    """An in-process storage, the default: entries in a dict, the least recently used evicted first.

    Args:
        max_size: the most body bytes it holds
    """

    def __init__(self, max_size: int = 64 << 20) -> None:
        super().__init__()
        self.max_size = max_size
        self.size = 0
        self._entries: OrderedDict[uuid.UUID, tuple[str, hishel.Request, hishel.Response, bytes]] = OrderedDict()
        self._keys: dict[str, list[uuid.UUID]] = {}
        self._lock = threading.Lock()

    def create_entry(self, request: hishel.Request, response: hishel.Response, key: str, *,
                     ttl: float | None = None, tti: float | None = None) -> hishel.Entry:
        """Return the entry of `response`; it is stored once its stream has been read to the end."""
        entry = hishel.Entry(id=uuid.uuid4(), request=request, response=response)
        return replace(entry, response=replace(response, stream=self._saving(entry, key, response.stream or ())))

    def _saving(self, entry: hishel.Entry, key: str, stream: Any) -> Iterator[bytes]:
        parts = []
        for chunk in stream:
            parts.append(chunk)
            yield chunk
        body = b''.join(parts)
        if len(body) > self.max_size:
            return
        with self._lock:
            self._entries[entry.id] = (key, entry.request, replace(entry.response, stream=None), body)
            self._keys.setdefault(key, []).append(entry.id)
            self.size += len(body)
            while self.size > self.max_size:
                self._drop(next(iter(self._entries)))

    def get_entries(self, key: str) -> list[hishel.Entry]:
        """Return the entries stored under `key`."""
        with self._lock:
            found = []
            for id_ in self._keys.get(key, ()):
                self._entries.move_to_end(id_)
                _, request, response, body = self._entries[id_]
                found.append(hishel.Entry(id=id_, request=request, response=replace(response, stream=iter((body,)))))
            return found

    def update_headers(self, id: uuid.UUID, headers: hishel.Headers) -> None:
        """Replace the stored headers of an entry (nothing if it is gone)."""
        with self._lock:
            if id in self._entries:
                key, request, response, body = self._entries[id]
                self._entries[id] = (key, request, replace(response, headers=headers), body)

    def remove_entry(self, id: uuid.UUID) -> None:
        """Remove an entry (nothing if it is gone)."""
        with self._lock:
            if id in self._entries:
                self._drop(id)

    def _drop(self, id_: uuid.UUID) -> None:
        key, _, _, body = self._entries.pop(id_)
        self.size -= len(body)
        self._keys[key].remove(id_)
        if not self._keys[key]:
            del self._keys[key]


def sqlite(path: str | os.PathLike[str], **options: Any) -> hishel.SqliteStorage:
    """Return hishel's SQLite storage in the database file `path`, readable by its owner only.

    The one place the cache writes to disk: a missing directory is made (mode 0700) and the
    file created with mode 0600, which SQLite gives its journal files too; a file that is a
    symbolic link, not a regular file, or not the user's own is refused with `ValueError`,
    and one readable by others is made private. `options` are `hishel.SqliteStorage`'s.
    """
    target = Path(path).absolute()
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(target, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise ValueError(f'cache database {str(target)!r} cannot be opened: {exc.strerror}') from exc
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode) or status.st_uid != os.getuid():
            raise ValueError(f'cache database {str(target)!r} must be a regular file of the current user')
        if status.st_mode & 0o077:
            os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)
    connection = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
    return hishel.SqliteStorage(connection=connection, **options)


def redis(client: Any, **options: Any) -> hishel.RedisStorage:
    """Return hishel's Redis storage over a `redis.Redis` client or a `redis://` URL.

    A URL gets a client with 2-second socket timeouts, so a Redis that went away is a cache
    miss, never a hang. `options` are `hishel.RedisStorage`'s (`key_prefix`, `default_ttl`, ...).
    """
    if isinstance(client, str):
        import redis as redis_module

        client = redis_module.Redis.from_url(client, socket_timeout=2, socket_connect_timeout=2)
    options.setdefault('key_prefix', 'clients-cache')
    return hishel.RedisStorage(client, **options)


class Cache:
    """A private HTTP cache for `cache=` on any client, sync or async (see the module's rules).

    Args:
        storage: where entries live: a `hishel.BaseStorage` (`Memory()` by default; see
            `sqlite` and `redis`)
        secret: the key of the HMAC that names entries; processes sharing a storage share
            its entries only when they share this (random per cache by default)
    """

    def __init__(self, storage: hishel.BaseStorage | None = None, *, secret: str | bytes | None = None) -> None:
        if storage is not None and not isinstance(storage, hishel.BaseStorage):
            raise TypeError(f'cache storage must be a hishel.BaseStorage, not {type(storage).__name__}')
        if secret is not None and (not isinstance(secret, str | bytes) or not secret):
            raise TypeError('cache secret must be a non-empty str or bytes')
        self.storage = Memory() if storage is None else storage
        self.secret = secret.encode() if isinstance(secret, str) else secret or secrets.token_bytes(32)
        self.stats = Stats()
        self._refreshing: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f'Cache({type(self.storage).__name__})'

    @classmethod
    def of(cls, value: Any) -> Cache | None:
        """Return the cache a `cache=` setting names: None or False for none, True for one in memory."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, Cache):
            return value
        if isinstance(value, hishel.BaseStorage):
            return cls(value)
        raise TypeError(f'cache must be a clients.Cache, a hishel storage, True or None, not {type(value).__name__}')

    def digest(self, *parts: bytes) -> str:
        """Return the HMAC of `parts`, as hex."""
        return urls.digest(self.secret, *parts)

    def _refresh(self, key: str) -> bool:
        """Claim the background revalidation of `key`; False if one is under way."""
        with self._lock:
            if key in self._refreshing:
                return False
            self._refreshing.add(key)
            return True

    def _refreshed(self, key: str) -> None:
        with self._lock:
            self._refreshing.discard(key)


# The steps a flow yields, and what it returns.
@dataclass
class Load:
    """Return the stored entries of `key`."""

    key: str


@dataclass
class Send:
    """Send the request with these headers added; reply with its `Answer` (or throw its error)."""

    headers: dict[str, str]


@dataclass
class Store:
    """Store an answer's body under `key`."""

    key: str
    request: hishel.Request
    response: hishel.Response
    body: bytes


@dataclass
class Update:
    """Replace the stored headers of the entries given."""

    entries: list[hishel.Entry]


@dataclass
class Remove:
    """Remove the entries with these ids."""

    ids: list[uuid.UUID]


@dataclass
class Answer:
    """A response from the network, as the flow sees it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes | None  # None for a streamed body
    redirected: bool
    response: Any  # the shell's response

    def rules(self) -> hishel.Response:
        """Return the answer as hishel's rules see it."""
        headers: dict[str, list[str]] = {}
        for name, value in self.headers:
            headers.setdefault(name.lower(), []).append(value)
        return hishel.Response(status_code=self.status, headers=hishel.Headers(headers))


@dataclass
class Hit:
    """A response from the cache."""

    entry: hishel.Entry
    refresh: bool = False  # stale while revalidated: revalidate in the background


Flow = Generator[Load | Send | Store | Update | Remove, Any, Hit | Answer]


def _stale_window(response: hishel.Response, extra: int | None) -> bool:
    """Whether a stale `response` is within `extra` seconds past its freshness, and may be served."""
    control = parse_cache_control(response.headers.get('cache-control'))
    lifetime = get_freshness_lifetime(response, is_cache_shared=False)
    if extra is None or lifetime is None or control.must_revalidate or control.no_cache:
        return False
    return get_age(response) < lifetime + extra


def _forced(request: hishel.Request) -> hishel.Request:
    """`request` asking for revalidation (`no-cache`), whatever it asked."""
    return replace(request, headers=hishel.Headers({**_lists(request.headers), 'cache-control': ['no-cache']}))


def _fresh_enough(response: hishel.Response, asked: Any) -> bool:
    """Whether a fresh stored response meets the request's `max-age` and `min-fresh` (RFC 9111 5.2.1),
    which hishel leaves out. Ages are whole seconds (as `Date` is): one of `age` may be up to
    `age + 1` seconds old, so `max-age=N` takes ages under N (and `max-age=0` always revalidates)."""
    age = get_age(response)
    lifetime = get_freshness_lifetime(response, is_cache_shared=False) or 0
    return not ((asked.max_age is not None and age >= asked.max_age)
                or (asked.min_fresh is not None and lifetime - age < asked.min_fresh))


def _may_serve_on_error(response: hishel.Response, request: hishel.Request) -> bool:
    asked = parse_cache_control(request.headers.get('cache-control')).stale_if_error
    given = parse_cache_control(response.headers.get('cache-control')).stale_if_error
    return _stale_window(response, max((extra for extra in (asked, given) if extra is not None), default=None))


def _aged(entry: hishel.Entry) -> hishel.Entry:
    headers = {name: entry.response.headers.get_list(name) or [] for name in entry.response.headers}
    headers['age'] = [str(get_age(entry.response))]
    return replace(entry, response=replace(entry.response, headers=hishel.Headers(headers)))


def storable(answer: Answer, request: hishel.Request, response: hishel.Response, statuses: Iterable[int]) -> bool:
    """Whether the cache may keep `answer`: whole, unredirected, not an error or a retry's, and of use
    (fresh for a while, or with a validator to revalidate it by)."""
    lifetime = get_freshness_lifetime(response, is_cache_shared=False)
    useful = bool(lifetime and lifetime > 0) or 'etag' in response.headers or 'last-modified' in response.headers
    return (useful and answer.body is not None and not answer.redirected and answer.status < 500
            and answer.status not in RETRYABLE and answer.status not in statuses
            and not parse_cache_control(request.headers.get('cache-control')).no_store)


def _stored(response: hishel.Response, now: float) -> hishel.Response:
    """Return the headers kept with a stored body: no wire encodings or cookies, dated by its age."""
    headers = {name: response.headers.get_list(name) or [] for name in response.headers if name not in UNSTORED}
    return replace(response, headers=hishel.Headers(_dated(headers, response.headers.get('date'), now)), stream=None)


def _dated(headers: dict[str, list[str]], date: str | None, now: float) -> dict[str, list[str]]:
    """Return the headers of a response received at `now` (Unix time), to store.

    hishel counts a stored response's age from its `Date` alone; RFC 9111 4.2.3 also counts the
    `Age` an upstream cache gave it (a CDN's answer may be most of its lifetime old already).
    So the stored `Date` is when the response's age was zero (`now` minus the larger of the
    two), the origin's `Date` is kept in `ORIGIN_DATE` for the hits, and `Age` goes: every
    hit gets its own.
    """
    origin = fields.http_date(date)
    apparent = max(0.0, now - origin) if origin is not None else 0.0
    upstream = fields.integer(next(iter(headers.pop('age', None) or ()), None), most=2**31) or 0
    headers[ORIGIN_DATE] = [date] if date is not None else headers.get(ORIGIN_DATE, [formatdate(now, usegmt=True)])
    headers['date'] = [formatdate(max(0.0, now - max(apparent, upstream)), usegmt=True)]
    return headers


def flow(identity: Identity, statuses: Iterable[int] = (), revalidate: bool = False) -> Flow:
    """The cache's answer to one request (see the module docstring); `revalidate` forces a check."""
    request = identity.request()
    if any(name in request.headers for name in CONDITIONAL):
        mine: Answer = yield Send({})
        return mine
    asked = parse_cache_control(request.headers.get('cache-control'))
    entries = yield Load(identity.key)
    state: Any = hishel.IdleClient(options=OPTIONS).next(_forced(request) if revalidate else request, entries)
    if isinstance(state, hishel.FromCache) and not _fresh_enough(state.entry.response, asked):
        state = hishel.IdleClient(options=OPTIONS).next(_forced(request), entries)
    answer: Answer | None = None
    while True:
        if isinstance(state, hishel.FromCache):
            return Hit(state.entry)
        if isinstance(state, hishel.NeedRevalidation):
            # hishel also puts the entries of other variants (Vary) here: only the request's own may be served stale
            own = [entry for entry in state.revalidating_entries if vary_headers_match(request, entry)]
            stored = own[0] if own else None
            if stored is not None and not revalidate:
                control = parse_cache_control(stored.response.headers.get('cache-control'))
                if _stale_window(stored.response, asked.max_stale):
                    return Hit(_aged(stored))
                if _stale_window(stored.response, control.stale_while_revalidate):
                    return Hit(_aged(stored), refresh=True)
            conditional = {name: state.request.headers[name] for name in VALIDATORS if name in state.request.headers}
            try:
                answer = yield Send(conditional)
            except Exception:
                if stored is not None and _may_serve_on_error(stored.response, request):
                    return Hit(_aged(stored))
                raise
            if answer.status >= 500 and stored is not None and _may_serve_on_error(stored.response, request):
                return Hit(_aged(stored))
            if 200 <= answer.status < 300:  # a new response: it replaces the ones of its variant
                yield Remove([entry.id for entry in state.revalidating_entries if vary_headers_match(request, entry)])
            state = state.next(answer.rules())
        elif isinstance(state, hishel.CacheMiss):
            answer = yield Send({})
            state = state.next(answer.rules())
        elif isinstance(state, hishel.NeedToBeUpdated):  # a 304: the entries are fresh again, as of now
            assert answer is not None
            date = next((value for name, value in answer.headers if name.lower() == 'date'), None)
            updated = [replace(entry, response=replace(entry.response, headers=hishel.Headers(
                _dated(_lists(entry.response.headers), date, time.time())))) for entry in state.updating_entries]
            yield Update(updated)
            return Hit(_aged(updated[-1]))
        elif isinstance(state, hishel.InvalidateEntries):
            yield Remove(state.entry_ids)
            state = state.next()
        else:  # StoreAndUse or CouldNotBeStored: the answer is the network's
            assert answer is not None
            if isinstance(state, hishel.StoreAndUse) and storable(answer, request, state.response, statuses):
                stored_request = hishel.Request(request.method, request.url, request.headers)
                assert answer.body is not None
                yield Store(identity.key, stored_request, _stored(state.response, time.time()), answer.body)
            return answer


def _lists(headers: hishel.Headers) -> dict[str, list[str]]:
    return {name: headers.get_list(name) or [] for name in headers}


def body(entry: hishel.Entry) -> bytes:
    """Return the stored body of an entry (reading it from its storage)."""
    stream: Any = entry.response.stream
    return b''.join(stream or ())


def headers_of(entry: hishel.Entry) -> list[tuple[str, str]]:
    """Return the headers of an entry as (name, value) pairs, as a hit gives them (the origin's `Date`)."""
    headers = entry.response.headers
    origin = headers.get_list(ORIGIN_DATE)
    return [(name, value) for name in headers if name != ORIGIN_DATE
            for value in (origin if name == 'date' and origin else headers.get_list(name) or ())]


def run(cache: Cache, steps: Flow, send: Callable[[dict[str, str]], Answer]) -> Hit | Answer:
    """Drive a flow in sync code: `send` sends the request with the headers given added."""
    reply: Any = None
    error: BaseException | None = None
    try:
        while True:
            try:
                step = steps.throw(error) if error is not None else steps.send(reply)
            except StopIteration as stop:
                outcome: Hit | Answer = stop.value
                return outcome
            reply, error = None, None
            if isinstance(step, Load):
                reply = cache.storage.get_entries(step.key)
            elif isinstance(step, Send):
                try:
                    reply = send(step.headers)
                except Exception as exc:
                    error = exc
            else:
                _write(cache, step)
    finally:
        steps.close()


async def arun(cache: Cache, steps: Flow, send: Callable[[dict[str, str]], Awaitable[Answer]]) -> Hit | Answer:
    """Drive a flow in async code; a storage other than `Memory` is used from a worker thread."""
    reply: Any = None
    error: BaseException | None = None
    direct = isinstance(cache.storage, Memory)
    try:
        while True:
            try:
                step = steps.throw(error) if error is not None else steps.send(reply)
            except StopIteration as stop:
                outcome: Hit | Answer = stop.value
                if isinstance(outcome, Hit) and not direct:  # read the stored body off the loop
                    data = await asyncio.to_thread(body, outcome.entry)
                    outcome = Hit(replace(outcome.entry, response=replace(outcome.entry.response,
                                                                          stream=iter((data,)))))
                return outcome
            reply, error = None, None
            if isinstance(step, Load):
                load = cache.storage.get_entries
                reply = load(step.key) if direct else await asyncio.to_thread(load, step.key)
            elif isinstance(step, Send):
                try:
                    reply = await send(step.headers)
                except Exception as exc:
                    error = exc
            elif direct:
                _write(cache, step)
            else:
                await asyncio.to_thread(_write, cache, step)
    finally:
        steps.close()


def _write(cache: Cache, step: Store | Update | Remove) -> None:
    storage = cache.storage
    if isinstance(step, Store):
        entry = storage.create_entry(step.request, replace(step.response, stream=iter((step.body,))), step.key)
        for _ in entry.response.stream or ():  # type: ignore[union-attr]  # (a sync storage's stream)
            pass
        cache.stats.add(stored=1)
    elif isinstance(step, Update):
        for entry in step.entries:
            storage.update_headers(entry.id, entry.response.headers)
    else:
        for id_ in step.ids:
            storage.remove_entry(id_)
