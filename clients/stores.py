"""State a fleet of processes shares: rate-limit buckets and host health, kept in Redis.

By default each `RateLimit` and each proxy host's `Stats` keeps its state in the process. A
`Store` keeps it where every process naming the same key sees it; `RedisStore` is the one
shipped. Each operation is one atomic server-side script that reads Redis' own clock (`TIME`),
so hosts whose clocks disagree still share one bucket; times cross the wire only as seconds
from Redis' now, which each process adds to its own clock.

A store that cannot be reached raises `Unavailable` and callers fall back to their own state:
the limit becomes the process's local bucket, never no limit. After a failure the store is
not asked again for `retry` seconds (no request waits on a dead server), and one warning is
logged per outage. Writes that need no answer (a server's pause, a host's failure) go
through one background thread, so a request never waits on them.
"""

from __future__ import annotations

import abc
import collections
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import urls

LOG = logging.getLogger('clients.stores')


class Unavailable(Exception):
    """The store cannot be reached now; the caller uses its own state instead."""


@dataclass(frozen=True)
class Circuit:
    """A host's shared health, its times as seconds before the store's now (see `hosts.Stats`)."""

    streak: int = 0
    opened: float | None = None  # seconds since the circuit opened; None while closed
    wait: float | None = None
    failed: float | None = None  # seconds since the last failure
    probing: bool = False
    reason: str = ''


class Store(abc.ABC):
    """The state shared by every process that names the same keys; subclass to keep it elsewhere.

    Each method raises `Unavailable` when the store cannot answer.
    """

    @abc.abstractmethod
    def take(self, key: str, rate: float | None, burst: int) -> float:
        """Take a slot of the token bucket `key` (`rate` per second, `burst` at once); return the wait.

        Without a `rate` only the pause set by `hold` is waited for.
        """
        ...

    @abc.abstractmethod
    def hold(self, key: str, seconds: float) -> None:
        """Send nothing under `key` for `seconds` from now (a server said its budget is spent)."""
        ...

    @abc.abstractmethod
    def health(self, keys: Sequence[str]) -> list[Circuit | None]:
        """Return the shared health of the hosts `keys`; None for a host with a write of ours in flight."""
        ...

    @abc.abstractmethod
    def claim(self, key: str, ttl: float) -> int:
        """Try to take the one probe of a half-open circuit, held for at most `ttl` seconds.

        Returns `PROBE` (the caller probes), `CLOSED` (the circuit closed meanwhile: send) or
        `REFUSED` (open, or another process probes).
        """
        ...

    @abc.abstractmethod
    def failed(self, key: str, reason: str, threshold: int, cooldown: float, cooldown_max: float) -> None:
        """Record a failure of the host `key`; open its circuit as `hosts.Stats.failed` does."""
        ...

    @abc.abstractmethod
    def succeeded(self, key: str) -> None:
        """Record an answer below 500 from the host `key`: its circuit closes."""
        ...

    @abc.abstractmethod
    def release(self, key: str) -> None:
        """Free the probe of the host `key`, which ended without a verdict."""
        ...


REFUSED, PROBE, CLOSED = 0, 1, 2

# Times are formatted with microseconds: Lua's own number formatting keeps 14 digits only.
_PRELUDE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local function text(value) return string.format('%.6f', value) end
"""

# KEYS[1] the bucket; ARGV rate (0: none), burst. Returns the wait as text (Lua numbers would
# be truncated to integers on the way back).
_TAKE = _PRELUDE + """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated', 'blocked')
local blocked = tonumber(state[3]) or 0
local start = math.max(now, blocked)
local last = blocked
if rate > 0 then
  local tokens, updated = tonumber(state[1]) or burst, tonumber(state[2])
  if updated then
    start = math.max(start, updated)
    tokens = math.min(burst, tokens + (start - updated) * rate)
  end
  redis.call('HSET', KEYS[1], 'tokens', text(tokens - 1), 'updated', text(start))
  if tokens < 1 then start = start + (1 - tokens) / rate end
  last = math.max(last, start) + burst / rate
end
redis.call('PEXPIRE', KEYS[1], math.ceil((math.max(last - now, 0) + 1) * 1000))
return text(start - now)
"""

# KEYS[1] the bucket; ARGV seconds.
_HOLD = _PRELUDE + """
local blocked = math.max(tonumber(redis.call('HGET', KEYS[1], 'blocked')) or 0, now + tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'blocked', text(blocked))
local ttl = math.ceil((blocked - now + 1) * 1000)
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
"""

# KEYS the hosts. Returns per host: streak, seconds since opened, wait, seconds since failed,
# probing (0 or 1), reason.
_HEALTH = _PRELUDE + """
local found = {}
for index, key in ipairs(KEYS) do
  local state = redis.call('HMGET', key, 'streak', 'opened', 'wait', 'failed', 'probe', 'reason')
  local opened, failed, probe = tonumber(state[2]), tonumber(state[4]), tonumber(state[5])
  found[index] = {state[1] or '0', opened and text(now - opened) or '', state[3] or '',
                  failed and text(now - failed) or '', (probe and probe > now) and 1 or 0, state[6] or ''}
end
return found
"""

# KEYS[1] the host; ARGV ttl. Returns 1 (probe), 2 (closed) or 0 (refused).
_CLAIM = _PRELUDE + """
local state = redis.call('HMGET', KEYS[1], 'opened', 'wait', 'probe')
local opened, wait, probe = tonumber(state[1]), tonumber(state[2]), tonumber(state[3])
if not opened then return 2 end
if now < opened + wait or (probe and probe > now) then return 0 end
redis.call('HSET', KEYS[1], 'probe', text(now + tonumber(ARGV[1])))
return 1
"""

# KEYS[1] the host; ARGV reason, threshold, cooldown, cooldown_max.
_FAILED = _PRELUDE + """
local threshold, cooldown, most = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'opened', 'wait', 'probe')
local opened, wait, probe = tonumber(state[1]), tonumber(state[2]) or cooldown, tonumber(state[3])
local streak = redis.call('HINCRBY', KEYS[1], 'streak', 1)
if (probe and probe > now) or (opened and now >= opened + wait) then
  opened, wait = now, math.min(wait * 2, most)
elseif not opened and streak >= threshold then
  opened, wait = now, cooldown
end
redis.call('HSET', KEYS[1], 'reason', ARGV[1], 'failed', text(now))
if opened then redis.call('HSET', KEYS[1], 'opened', text(opened), 'wait', text(wait)) end
redis.call('HDEL', KEYS[1], 'probe')
redis.call('PEXPIRE', KEYS[1], math.ceil((most + cooldown) * 2000))
"""

# KEYS[1] the host. (The last failure stays: it is still recent.)
_SUCCEEDED = """
redis.call('HDEL', KEYS[1], 'opened', 'wait', 'probe')
redis.call('HSET', KEYS[1], 'streak', 0)
"""

_RELEASE = "redis.call('HDEL', KEYS[1], 'probe')"


def _seconds(value: Any) -> float | None:
    return float(value) if value not in (b'', '', None) else None


def _text(value: Any) -> str:
    return value.decode('utf-8', 'replace') if isinstance(value, bytes) else str(value)


class RedisStore(Store):
    """State shared through the Redis server at `url` (needs the `redis` package: `clients[redis]`).

    One store serves threads and tasks alike (async clients call it from a worker thread).

    Args:
        url: a `redis://` or `rediss://` URL, as `redis.Redis.from_url` takes
        prefix: put before every key, to keep apart the fleets sharing one Redis
        timeout: seconds a connection or a command may take before the store counts as down
        retry: seconds before a store found down is asked again
    """

    def __init__(self, url: str, *, prefix: str = 'clients:', timeout: float = 0.25, retry: float = 1.0) -> None:
        try:
            import redis
        except ImportError:  # pragma: no cover - the test extra installs it
            raise ImportError("RedisStore needs the redis package: pip install 'clients[redis]'") from None
        if not isinstance(url, str) or not url.startswith(('redis://', 'rediss://', 'unix://')):
            raise ValueError(f'a RedisStore needs a redis://, rediss:// or unix:// URL, not {urls.redact(str(url))!r}')
        for name, value in (('timeout', timeout), ('retry', retry)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < float('inf'):
                raise ValueError(f'{name} must be a finite number of seconds > 0, not {value!r}')
        self.url, self.prefix, self.timeout, self.retry = url, str(prefix), float(timeout), float(retry)
        self.client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout,
            retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0),
        )
        self._errors = (redis.RedisError, OSError, ValueError)  # (ValueError: a connection closed meanwhile)
        self._scripts = {name: self.client.register_script(text) for name, text in (
            ('take', _TAKE), ('hold', _HOLD), ('health', _HEALTH), ('claim', _CLAIM),
            ('failed', _FAILED), ('succeeded', _SUCCEEDED), ('release', _RELEASE))}
        self._lock = threading.Lock()
        self._down = False
        self._until = 0.0  # monotonic time before which the store is not asked
        self._pending: collections.Counter[str] = collections.Counter()
        self._writes: queue.SimpleQueue[tuple[str, Callable[[], Any]]] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None

    def __repr__(self) -> str:
        return f'RedisStore({urls.redact(self.url)!r}, prefix={self.prefix!r})'

    def __reduce__(self) -> Any:
        return _store, (self.url, self.prefix, self.timeout, self.retry)

    def close(self) -> None:
        """Finish the queued writes (waiting `timeout` seconds at most), then close the connections to Redis.

        A later call opens new ones.
        """
        self.flush(self.timeout)
        self.client.close()

    def _run(self, name: str, keys: Sequence[str], *args: Any) -> Any:
        if time.monotonic() < self._until:
            raise Unavailable(f'{self!r} is unreachable')
        try:
            result = self._scripts[name](keys=[self.prefix + key for key in keys], args=args)
        except self._errors as exc:
            with self._lock:
                self._until = time.monotonic() + self.retry
                first, self._down = not self._down, True
            if first:
                LOG.warning('%r is unreachable (%s: %s): each process limits and judges hosts on its own '
                            'until it is back', self, type(exc).__name__, urls.redact(str(exc)))
            raise Unavailable(f'{self!r} is unreachable') from exc
        with self._lock:
            back, self._down = self._down, False
        if back:
            LOG.info('%r is reachable again: limits and host health are shared again', self)
        return result

    def _write(self, key: str, name: str, *args: Any) -> None:
        """Queue a write for the writer thread; a store that is down drops it (the caller's state has it)."""
        with self._lock:
            self._pending[key] += 1
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._drain, name='clients-store-writer', daemon=True)
                self._writer.start()
        self._writes.put((key, lambda: self._run(name, [key], *args)))

    def _drain(self) -> None:
        while True:
            key, write = self._writes.get()
            try:
                write()
            except Unavailable:
                pass
            finally:
                with self._lock:
                    self._pending[key] -= 1
                    if not self._pending[key]:
                        del self._pending[key]

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait (at most `timeout` seconds) until the queued writes are done; return whether they are."""
        deadline = time.monotonic() + timeout
        while self._pending:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)
        return True

    def take(self, key: str, rate: float | None, burst: int) -> float:
        return float(self._run('take', ['rate:' + key], repr(rate or 0.0), burst))

    def hold(self, key: str, seconds: float) -> None:
        self._write('rate:' + key, 'hold', repr(seconds))

    def health(self, keys: Sequence[str]) -> list[Circuit | None]:
        found = self._run('health', ['host:' + key for key in keys])
        with self._lock:
            pending = set(self._pending)
        return [
            None if 'host:' + key in pending else Circuit(
                int(streak), _seconds(opened), _seconds(wait), _seconds(failed), bool(probing), _text(reason))
            for key, (streak, opened, wait, failed, probing, reason) in zip(keys, found, strict=True)
        ]

    def claim(self, key: str, ttl: float) -> int:
        return int(self._run('claim', ['host:' + key], repr(ttl)))

    def failed(self, key: str, reason: str, threshold: int, cooldown: float, cooldown_max: float) -> None:
        self._write('host:' + key, 'failed', reason, threshold, repr(cooldown), repr(cooldown_max))

    def succeeded(self, key: str) -> None:
        self._write('host:' + key, 'succeeded')

    def release(self, key: str) -> None:
        self._write('host:' + key, 'release')


def _store(url: str, prefix: str, timeout: float, retry: float) -> RedisStore:
    return RedisStore(url, prefix=prefix, timeout=timeout, retry=retry)


def of(value: Any) -> Store | None:
    """Return the store meant by a `store=` option: a `Store`, a Redis URL, or None (in-process)."""
    if value is None or isinstance(value, Store):
        return value
    if isinstance(value, str):
        return RedisStore(value)
    raise TypeError(f'store must be a clients.stores.Store, a redis:// URL or None, not {type(value).__name__}')
