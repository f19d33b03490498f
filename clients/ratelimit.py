"""Client-side rate limits: a token bucket, and waiting when the server says its budget is spent.

`RateLimit.reserve` hands out slots without blocking: each caller gets the time it must wait
(tokens may go negative), so one lock serves threads and tasks alike and the shells do the
sleeping. Time is passed in, so tests use a fake clock.

With a `store` (see `clients.stores`) the bucket and the servers' pauses are shared by every
process naming the same `key`; while the store is unreachable the local bucket limits alone.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from . import fields, stores

# Statuses whose `Retry-After` header says when to come back (RFC 9110 10.2.3, RFC 6585).
RETRY_AFTER_STATUSES = frozenset({413, 429, 503})

# Above this, an `X-RateLimit-Reset` is a Unix time (GitHub) rather than seconds to wait.
_EPOCH = 1e9
# A wait no caller honours (a billion years): longer delta-seconds are read as this.
_FOREVER = 1 << 55


def retry_after(value: str | None, now: float) -> float | None:
    """Return the seconds a `Retry-After` value asks to wait; None when absent or garbage.

    Both forms are read: delta-seconds and an HTTP-date in any of its three forms (see
    `fields.http_date`); a past date means now.

    Args:
        value: the header value
        now: wall-clock seconds since the epoch
    """
    seconds = fields.integer(value, most=_FOREVER)
    if seconds is not None:
        return float(seconds)
    when = fields.http_date(value, now)
    return None if when is None else max(when - now, 0.0)


def _number(value: Any) -> float | None:
    return fields.number(str(value).strip().strip('"')) if value is not None else None


def _reset(value: Any, wall: float) -> float | None:
    """Seconds until a reset given as seconds to wait, as a Unix time (seconds or ms) or as an HTTP-date."""
    number = _number(value)
    if number is None:
        when = fields.http_date(value, wall)
        return None if when is None else max(when - wall, 0.0)
    if number > _EPOCH * 1000:
        number /= 1000
    return max(number - wall, 0.0) if number > _EPOCH else number


def _members(value: str) -> list[dict[str, str]]:
    """Parse a `RateLimit` field into its members' parameters.

    Reads both the structured form of the IETF drafts (`"default";r=0;t=30`, one member per
    policy) and the older `limit=100, remaining=0, reset=30`, which is one member.
    """
    pieces = [piece.strip() for piece in value.split(',')]
    if all('=' in piece and ';' not in piece for piece in pieces):
        pieces = [';'.join(pieces)]
    members = []
    for piece in pieces:
        params = {}
        for param in piece.split(';'):
            name, _, text = param.partition('=')
            params[name.strip().lower()] = text.strip()
        members.append(params)
    return members


def spent(status: int, headers: Mapping[str, str], wall: float) -> float | None:
    """Return the seconds to wait when the server says the budget is spent, else None.

    Reads `RateLimit` (IETF drafts, both forms), `RateLimit-Remaining` / `RateLimit-Reset`,
    `X-RateLimit-Remaining` / `X-RateLimit-Reset` (seconds or a Unix time), and `Retry-After`
    on a 429 or 503. Garbage is ignored.

    Args:
        status: the response status
        headers: the response headers (case-insensitive)
        wall: wall-clock seconds since the epoch
    """
    waits = []
    if status in (429, 503):
        waits.append(retry_after(headers.get('Retry-After'), wall))
    field = headers.get('RateLimit')
    if field:
        for params in _members(field):
            remaining = _number(params.get('r', params.get('remaining')))
            if remaining is not None and remaining < 1:
                waits.append(_reset(params.get('t', params.get('reset')), wall))
    for prefix in ('RateLimit-', 'X-RateLimit-'):
        remaining = _number(headers.get(prefix + 'Remaining'))
        if remaining is not None and remaining < 1:
            waits.append(_reset(headers.get(prefix + 'Reset'), wall))
    known = [wait for wait in waits if wait is not None]
    return max(known) if known else None


class RateLimit:
    """A rate limit shared by every client given it (derived clients share their root's).

    Thread- and task-safe: each request reserves a slot and waits its turn.

    Args:
        rate: requests per second (None: no client-side limit)
        burst: requests that may go at once (default: `rate`, at least 1)
        headers: wait before the next request when the server's rate-limit headers (or a
            `Retry-After` on 429/503) say its budget is spent
        wait_max: the longest such wait, in seconds
        store: share the bucket and the waits with every process naming the same `key`: a
            `clients.stores.Store`, or a Redis URL for a `clients.stores.RedisStore`
        key: the name of the shared limit in the store (one per quota, say per API token)
    """

    def __init__(self, rate: float | None = None, burst: int | None = None, headers: bool = False,
                 wait_max: float = 60.0, *, store: Any = None, key: str | None = None) -> None:
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0):
            raise ValueError(f'rate must be a number of requests per second > 0, not {rate!r}')
        if burst is None:
            burst = max(1, int(rate or 1))
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValueError(f'burst must be an int >= 1, not {burst!r}')
        if isinstance(wait_max, bool) or not isinstance(wait_max, int | float) or not 0 <= wait_max < float('inf'):
            raise ValueError(f'wait_max must be a finite number of seconds >= 0, not {wait_max!r}')
        self.store = stores.of(store)
        if self.store is not None and (not isinstance(key, str) or not key):
            raise ValueError(f'a RateLimit with a store needs key=, the name every process sharing the quota gives, '
                             f'not {key!r}')
        self.key = key
        self.rate = None if rate is None else float(rate)
        self.burst = burst
        self.headers = bool(headers)
        self.wait_max = float(wait_max)
        self.lock = threading.Lock()
        self.tokens = float(burst)
        self.updated: float | None = None
        self.blocked = 0.0  # monotonic time before which nothing is sent

    def __repr__(self) -> str:
        shared = '' if self.store is None else f', store={self.store!r}, key={self.key!r}'
        return f'RateLimit(rate={self.rate!r}, burst={self.burst!r}, headers={self.headers!r}{shared})'

    def __getstate__(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if name != 'lock'}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, lock=threading.Lock())

    @classmethod
    def of(cls, value: Any) -> RateLimit | None:
        """Return the limit meant by a `rate=` option: a `RateLimit`, requests per second, or None."""
        if value is None or isinstance(value, RateLimit):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return cls(value)
        raise TypeError(f'rate must be a number of requests per second, a clients.RateLimit or None, not {value!r}')

    def reserve(self, now: float) -> float:
        """Take a slot for a request about to start at monotonic time `now`; return the wait.

        The slot is the first time, no earlier than a server's hold, at which the bucket
        has a token; tokens taken ahead of time make the next callers wait their turn. With a
        store, the slot is taken from the shared bucket (one round trip, in Redis' time).
        """
        if self.store is not None and (self.rate is not None or self.headers):
            try:
                wait = self.store.take(str(self.key), self.rate, self.burst)
            except stores.Unavailable:
                pass
            else:
                with self.lock:
                    return max(wait, self.blocked - now)
        with self.lock:
            start = max(now, self.blocked)
            if self.rate is not None:
                if self.updated is not None:
                    start = max(start, self.updated)
                    self.tokens = min(self.burst, self.tokens + (start - self.updated) * self.rate)
                self.updated = start
                self.tokens -= 1
                if self.tokens < 0:
                    start -= self.tokens / self.rate
            return start - now

    def observe(self, status: int, headers: Mapping[str, str], now: float, wall: float) -> None:
        """Read a response's rate-limit headers (when `headers` is on) and wait as they say."""
        if not self.headers:
            return
        wait = spent(status, headers, wall)
        if wait is not None:
            wait = min(wait, self.wait_max)
            with self.lock:
                self.blocked = max(self.blocked, now + wait)
            if self.store is not None:
                self.store.hold(str(self.key), wait)
