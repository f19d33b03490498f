"""Host choice for proxies: per-host counts and circuit breakers, and the choice of a healthy host."""

from __future__ import annotations

import collections
import contextlib
import random
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from . import stores, telemetry, urls
from .errors import AllHostsDown, HTTPError, transport_errors
from .retry import CLOCK, Clock, Plan, Retry


class Stats(collections.Counter[str]):
    """Thread-safe counts of one host, and its health: a circuit breaker.

    Counts: `requests`, `errors` (transport failures), `failures` (5xx answers) and active
    `connections`. A host that failed in the last `cooldown` seconds is `recent`: a proxy's
    default `priority` sends it nothing while a host without a recent failure is available,
    so the avoidance fades with time. After `threshold` failures in a row the circuit opens:
    the host gets no requests for `cooldown` seconds, then one probe (half-open). A probe
    that succeeds closes the circuit; one that fails opens it again for twice as long, up to
    `cooldown_max`. Subclass and set these class attributes (as `Proxy.Stats`) to tune them.
    Each change (opened, its probe gone: half-open, closed) counts in the
    `clients.circuit.state_changes` metric (see `clients.telemetry`).

    Every count goes through `add`, as in 1.3. Time is monotonic seconds read from `clock`,
    which a proxy sets to its `retry.clock`; the methods' `now=` keyword passes a reading of
    that clock instead.

    With a `store` (a proxy's `store=`) the circuit is shared by every process whose proxy
    names the same host: the proxy copies the shared circuit in (`mirror`) before it chooses,
    failures and recoveries are written back, and the probe of a half-open circuit is
    claimed across the fleet (`admit`). The counts stay the process's own.
    """

    threshold = 3
    cooldown = 1.0
    cooldown_max = 10.0
    clock: Clock = CLOCK

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.streak = 0  # failures in a row
        self.opened: float | None = None  # when the circuit opened; None while closed
        self.wait = self.cooldown
        self.probing = False
        self.last_failure = ''
        self.failed_at: float | None = None  # when the last failure was recorded
        self.store: stores.Store | None = None
        self.key = ''  # the host's name in the store
        self.version = 0  # changes with each write to the store, so a read from before it is not copied in
        self.claims = 0  # probes claimed in the store by `admit`, not yet begun

    def add(self, **counts: int) -> None:
        """Add to the counts atomically."""
        with self.lock:
            self.update(counts)

    def __enter__(self) -> Stats:
        """Count an active connection while the block runs (1.3's way to count)."""
        self.add(connections=1)
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Release the connection; an exception out of the block counts as an error (as in 1.3)."""
        self.add(connections=-1, errors=int(any(exc_info)))

    def __reduce__(self) -> Any:
        return type(self), (), None, None, iter(self.items())

    def _time(self, now: float | None) -> float:
        return self.clock.now() if now is None else now

    def state(self, *, now: float | None = None) -> str:
        """Return `closed`, `open` (no requests) or `half-open` (one probe may go)."""
        if self.opened is None:
            return 'closed'
        return 'half-open' if self._time(now) >= self.opened + self.wait else 'open'

    def available(self, *, now: float | None = None) -> bool:
        """Return whether a request may go to this host now."""
        state = self.state(now=now)
        return state == 'closed' or (state == 'half-open' and not self.probing)

    def recent(self, *, now: float | None = None) -> bool:
        """Return whether the host failed less than `cooldown` seconds ago."""
        return self.failed_at is not None and self._time(now) < self.failed_at + self.cooldown

    def begin(self, *, now: float | None = None) -> bool:
        """Count a request starting; return whether it is the probe of a half-open circuit."""
        now = self._time(now)
        self.add(requests=1, connections=1)
        with self.lock:
            if self.claims:
                self.claims -= 1
                probe = True
            else:
                probe = self.state(now=now) == 'half-open' and not self.probing
                self.probing = self.probing or probe
        if probe:
            telemetry.circuit(self.key, 'half-open')
        return probe

    def end(self, probe: bool = False) -> None:
        """Count a request's connection released; a probe that was not judged frees the slot."""
        self.add(connections=-1)
        if probe:
            with self.lock:
                self.probing = False
                self._write('release')

    def succeeded(self) -> None:
        """Record an answer below 500: the circuit closes (a recent failure stays recent)."""
        with self.lock:
            if self.streak or self.opened is not None or self.probing:
                self._write('succeeded')
            closing = self.opened is not None
            self.streak = 0
            self.opened = None
            self.wait = self.cooldown
            self.probing = False
        if closing:
            telemetry.circuit(self.key, 'closed')

    def failed(self, kind: str, reason: str, *, now: float | None = None) -> None:
        """Record a failure (`kind` is `errors` or `failures`); open the circuit if it is due."""
        now = self._time(now)
        self.add(**{kind: 1})
        with self.lock:
            self.streak += 1
            self.last_failure = reason
            self.failed_at = now
            opening = True
            if self.probing or (self.opened is not None and now >= self.opened + self.wait):
                self.opened, self.wait = now, min(self.wait * 2, self.cooldown_max)
            elif self.opened is None and self.streak >= self.threshold:
                self.opened, self.wait = now, self.cooldown
            else:
                opening = False
            self.probing = False
            self._write('failed', reason, self.threshold, self.cooldown, self.cooldown_max)
        if opening:
            telemetry.circuit(self.key, 'open')

    def _write(self, name: str, *args: Any) -> None:
        """Send a change to the store, if any (called under the lock)."""
        if self.store is not None:
            self.version += 1
            getattr(self.store, name)(self.key, *args)

    def admit(self, *, now: float | None = None) -> bool:
        """Return whether a request chosen for this host may go to it.

        Only a shared half-open circuit refuses: its one probe is claimed in the store, and a
        process that does not get it sends elsewhere. An unreachable store leaves the choice
        to this process's own circuit.
        """
        if self.store is None or self.state(now=now) != 'half-open':
            return True
        try:
            claimed = self.store.claim(self.key, self.cooldown_max)
        except stores.Unavailable:
            return True
        with self.lock:
            if claimed == stores.CLOSED:
                self.streak, self.opened, self.wait = 0, None, self.cooldown
            else:
                self.probing = True
                self.claims += claimed == stores.PROBE
        return claimed != stores.REFUSED

    def mirror(self, circuit: stores.Circuit, version: int, *, now: float | None = None) -> None:
        """Copy in the shared circuit read from the store, unless this process wrote since (`version`)."""
        now = self._time(now)
        with self.lock:
            if version != self.version:
                return
            self.streak = circuit.streak
            self.opened = None if circuit.opened is None else now - circuit.opened
            self.wait = self.cooldown if circuit.wait is None else circuit.wait
            self.failed_at = None if circuit.failed is None else now - circuit.failed
            self.last_failure = circuit.reason
            self.probing = circuit.probing


HostStats = Stats  # the name `Stats` is also a class attribute of Balancer


def describe(error: BaseException) -> str:
    """Return a short account of a failure: the error's type and message."""
    return f'{type(error).__name__}: {error}'


class Balancer:
    """Mixin for proxies: `urls` maps each base URL to its `Stats`; a healthy, least busy host wins.

    Args:
        *urls: base URLs of the hosts
        store: share the hosts' circuits with every process whose proxy names the same hosts:
            a `clients.stores.Store`, or a Redis URL for a `clients.stores.RedisStore`
        **kwargs: options of the client class it is mixed into
    """

    Stats = Stats
    urls: dict[str, HostStats]
    trailing: str
    retry: Retry

    def __init__(self, *urls: str, store: Any = None, **kwargs: Any) -> None:
        table = hosts(urls, self.Stats)
        self.urls = table  # (before the client's settings: cookies are bound to every host)
        shared = stores.of(store)
        super().__init__(next(iter(table)), **kwargs)  # type: ignore[call-arg]
        for url, stats in table.items():
            stats.clock = self.retry.clock
            stats.store, stats.key = shared, store_key(url)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({urls.redact(" ".join(self.urls))}... {self.trailing})'

    def _bases(self) -> list[str]:
        return list(self.urls)

    def _derive(self, path: object = None, cls: type | None = None) -> Any:
        new = super()._derive(path, cls)  # type: ignore[misc]
        if path is not None:
            new.urls = derive(self.urls, path)
        return new

    def _now(self) -> float:
        return self.retry.clock.now()

    def priority(self, url: str) -> Any:
        """Return a comparable priority for `url`, lower is better; `None` excludes it.

        The default excludes a host whose circuit is open (see `Stats`), ranks a host with
        a recent failure after those without, and otherwise prefers the fewest active
        connections.
        """
        stats, now = self.urls[url], self._now()
        return (stats.recent(now=now), stats['connections']) if stats.available(now=now) else None

    def _ranked(self, candidates: Any) -> list[str]:
        ranked: dict[Any, list[str]] = collections.defaultdict(list)
        for url in candidates:
            ranked[self.priority(url)].append(url)
        ranked.pop(None, None)
        return ranked[min(ranked)] if ranked else []

    def choice(self, method: str) -> str:
        """Return the base URL for a request; ties are broken at random.

        The default also sends a retry to a healthy host the request has not tried yet; an
        override decides every attempt itself, retries included.

        Args:
            method: the request's method, for extensions that route reads and writes apart
        """
        best = self._ranked(self.urls)
        if not best:
            raise LookupError(f'no host is available for {method}: {", ".join(self.urls)}')
        return random.choice(best)

    def _untried(self, plan: Plan) -> list[str]:
        """The best healthy hosts this request has not tried; none when `choice` is custom."""
        if type(self).choice is not Balancer.choice:
            return []  # a custom choice routes every attempt, e.g. writes to a primary only
        return self._ranked(url for url in self.urls if url not in plan.hosts)

    def _spare(self, plan: Plan) -> bool:
        """Whether a retry of this request can go to a healthy host it has not tried."""
        return bool(self._untried(plan))

    def _store(self) -> stores.Store | None:
        return next(iter(self.urls.values())).store

    def _refresh(self) -> None:
        """Copy in the hosts' shared circuits (one round trip), when the proxy has a store."""
        store = self._store()
        if store is None:
            return
        table = list(self.urls.values())
        versions = [stats.version for stats in table]
        try:
            circuits = store.health([stats.key for stats in table])
        except stores.Unavailable:
            return
        now = self._now()
        for stats, version, circuit in zip(table, versions, circuits, strict=True):
            if circuit is not None:
                stats.mirror(circuit, version, now=now)

    def _route(self, plan: Plan) -> str:
        """Return the host of a request's next attempt, one that `admit`s it (see `_pick`)."""
        self._refresh()
        for _ in range(len(self.urls)):
            host = self._pick(plan)
            if self.urls[host].admit(now=self._now()):
                return host
        raise self._down(plan)  # a custom choice that keeps naming hosts whose probe is taken

    def _pick(self, plan: Plan) -> str:
        """Return the host of a request's next attempt: `choice`, then untried healthy hosts."""
        untried = self._untried(plan) if plan.hosts else []
        if untried:
            return random.choice(untried)
        try:
            return self.choice(plan.method)
        except (KeyError, IndexError):
            raise  # a bug in a custom choice, not a missing host
        except LookupError as exc:
            raise self._down(plan) from exc

    def _down(self, plan: Plan) -> AllHostsDown:
        now = self._now()
        failures = {}
        for url, stats in self.urls.items():
            failures[url] = plan.hosts.get(url) or stats.last_failure or f'circuit {stats.state(now=now)}'
        return AllHostsDown(plan.method, failures)

    def _exhausted(self, plan: Plan, error: BaseException) -> AllHostsDown | None:
        """The error to raise when a request gives up: every host down, or None for `error`."""
        now = self._now()
        if isinstance(error, AllHostsDown):
            return None
        if all(url in plan.hosts or not stats.available(now=now) for url, stats in self.urls.items()):
            return self._down(plan)
        return None

    @contextlib.contextmanager
    def counting(self, url: str, plan: Plan | None = None) -> Iterator[HostStats]:
        """Count an active connection to `url` while the block runs, and its health.

        A transport error raised in the block counts as an error, a 5xx status error as a
        failure; the block reports responses it returns unraised with `answered`.
        """
        stats = self.urls[url]
        probe = stats.begin(now=self._now())
        try:
            yield stats
        except HTTPError as exc:
            self.answered(url, exc.status_code, plan)
            raise
        except transport_errors() as exc:
            stats.failed('errors', describe(exc), now=self._now())
            if plan is not None:
                plan.hosts[url] = describe(exc)
            raise
        finally:
            stats.end(probe)

    def answered(self, url: str, status: int, plan: Plan | None = None) -> None:
        """Record an answer from `url`: 5xx is a failure, anything else closes the circuit."""
        stats = self.urls[url]
        if status >= 500:
            stats.failed('failures', f'status {status}', now=self._now())
        else:
            stats.succeeded()
        if plan is not None and (status >= 500 or status in plan.policy.statuses):
            plan.hosts[url] = f'status {status}'


class Once:
    """Call `func` the first time this is called, from any thread; later calls do nothing."""

    def __init__(self, func: Callable[[], Any]) -> None:
        self.func = func
        self.lock = threading.Lock()
        self.done = False

    def __call__(self) -> None:
        with self.lock:
            done, self.done = self.done, True
        if not done:
            self.func()


def closing(close: Callable[[], Any], release: Callable[[], Any]) -> Any:
    """Close a response, then release its host's connection count."""
    try:
        return close()
    finally:
        release()


async def aclosing(close: Callable[[], Awaitable[Any]], release: Callable[[], Any]) -> Any:
    """Close an async response, then release its host's connection count."""
    try:
        return await close()
    finally:
        release()


def hosts(addresses: tuple[str, ...], stats: type[Stats]) -> dict[str, Stats]:
    """Return the proxy table for base URLs, each checked and given fresh counts."""
    if not addresses:
        raise ValueError('a proxy needs at least one base URL')
    return {urls.base(url): stats() for url in addresses}


def store_key(url: str) -> str:
    """Return a host's name in a store: its base URL without secrets."""
    return urls.redact(url)


def derive(table: Mapping[str, Stats], path: object) -> dict[str, Stats]:
    """Return the table of a derived proxy: each URL joined with `path`, sharing the counts."""
    return {urls.child(url, path): stats for url, stats in table.items()}
