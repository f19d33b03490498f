"""OpenTelemetry for every request, when `opentelemetry-api` is installed (the `otel` extra).

Each request on the wire (an attempt, a retry, a redirect hop, an OAuth2 replay) is a CLIENT
span of the stable HTTP semantic conventions, a sibling under the caller's span; a resend of
one logical request carries `http.request.resend_count`, counted across its retries, redirects
and replays. The span's context goes out in the request's headers through the global
propagator (W3C `traceparent` by default). The SDK, exporters and propagators are the user's:
without the API every hook here is skipped, and with the API but no SDK its spans are no-ops.

Metrics: `http.client.request.duration` and `http.client.active_requests` of the same
conventions, and `clients.retries`, `clients.rate_limit.wait`, `clients.cache.lookups` and
`clients.circuit.state_changes` (by `clients.host` and `clients.circuit.state`) for what the
library adds. Nothing recorded carries a secret:
URLs pass through `urls.redact`, and no header or body is recorded.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import time
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from . import urls

TRACER: Any = None  # set by `enabled` once OpenTelemetry is used
METER: Any = None
trace: Any = None
propagate: Any = None
# Names of the environment that make OpenTelemetry's API build providers or propagators itself.
_ENVIRONMENT = ('OTEL_PYTHON_TRACER_PROVIDER', 'OTEL_PYTHON_METER_PROVIDER', 'OTEL_PROPAGATORS')
_PENDING = True

_MEASURED = frozenset({'http.request.method', 'url.scheme', 'server.address', 'server.port'})
METHODS = frozenset({'CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'QUERY', 'TRACE'})
PORTS = {'http': 80, 'https': 443}
# The boundaries the HTTP semantic conventions advise for request durations, in seconds.
DURATION_BOUNDARIES = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


class _Instruments:
    """The metric instruments, made once from the meter (a proxy until the user sets a provider)."""

    def __init__(self, meter: Any) -> None:
        self.duration = meter.create_histogram(
            'http.client.request.duration', unit='s', description='Duration of HTTP client requests.',
            explicit_bucket_boundaries_advisory=DURATION_BOUNDARIES)
        self.active = meter.create_up_down_counter(
            'http.client.active_requests', unit='{request}', description='Number of active HTTP requests.')
        self.retries = meter.create_counter(
            'clients.retries', unit='{retry}', description='Requests sent again after a failure or a status.')
        self.waits = meter.create_histogram(
            'clients.rate_limit.wait', unit='s', description='Time requests waited for the rate limit.')
        self.cache = meter.create_counter(
            'clients.cache.lookups', unit='{lookup}', description='HTTP cache lookups, by result.')
        self.circuits = meter.create_counter(
            'clients.circuit.state_changes', unit='{change}',
            description="Circuit breaker state changes of a proxy's hosts, by host and new state.")


INSTRUMENTS: _Instruments | None = None


def enabled() -> bool:
    """Return whether requests are traced and measured: OpenTelemetry's API is installed and the
    program uses it (it imported `opentelemetry`, or names a provider in the environment). A
    program that does not has only no-op spans to make, so the API is not even imported."""
    _measuring()
    return TRACER is not None


def _measuring() -> _Instruments | None:
    """Return the metric instruments, if OpenTelemetry is used (see `enabled`)."""
    if _PENDING and 'opentelemetry' in sys.modules:
        _load()
    return INSTRUMENTS


def _load() -> None:
    global _PENDING, TRACER, METER, INSTRUMENTS, trace, propagate
    _PENDING = False
    try:
        from opentelemetry import metrics
        from opentelemetry import propagate as propagating
        from opentelemetry import trace as tracing
    except ImportError:  # the `otel` extra is not installed: nothing is traced or measured
        return
    trace, propagate = tracing, propagating
    METER = metrics.get_meter('clients')
    TRACER = trace.get_tracer('clients') if TRACER is None else TRACER  # (unless set already: tests do)
    INSTRUMENTS = _Instruments(METER) if INSTRUMENTS is None else INSTRUMENTS


if any(name in os.environ for name in _ENVIRONMENT):
    _load()

# The error the request being sent ends with once its deadline has passed (None before), if it has one.
_OVERDUE: contextvars.ContextVar[Callable[[], BaseException | None] | None] = contextvars.ContextVar(
    'clients_overdue', default=None)
# The resends so far of the logical request being sent, and the count a replay continues.
_RESENDS: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar('clients_resends', default=None)
_REPLAY: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar('clients_replay', default=None)


@contextlib.contextmanager
def logical() -> Iterator[None]:
    """One logical request (see `Client._exchange`): the hops under it count their resends."""
    if not enabled():
        yield
        return
    count = _REPLAY.get()
    resends, replay = _RESENDS.set([0] if count is None else count), _REPLAY.set(None)
    try:
        yield
    finally:
        _REPLAY.reset(replay)
        _RESENDS.reset(resends)


@contextlib.contextmanager
def replay() -> Iterator[None]:
    """The logical request is sent again (an OAuth2 replay): its hops continue the resend count."""
    token = _REPLAY.set(_RESENDS.get())
    try:
        yield
    finally:
        _REPLAY.reset(token)


@contextlib.contextmanager
def deadline(overdue: Callable[[], BaseException | None]) -> Iterator[None]:
    """A request with a deadline is sent in this block: a hop that fails once `overdue()` returns
    the deadline's error records that error (the one the request ends with), not what the cut raised."""
    token = _OVERDUE.set(overdue)
    try:
        yield
    finally:
        _OVERDUE.reset(token)


def attributes(method: str, url: str) -> dict[str, Any]:
    """Return the semantic-convention attributes of a request known before it is sent."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    known = method.upper() in METHODS
    found: dict[str, Any] = {
        'http.request.method': method.upper() if known else '_OTHER',
        'url.full': urls.redact(url),
        'url.scheme': scheme,
        'server.address': parts.hostname or '',
    }
    port = parts.port or PORTS.get(scheme)
    if port is not None:
        found['server.port'] = port
    if not known:
        found['http.request.method_original'] = method
    return found


def error_type(error: BaseException) -> str:
    """Return `error.type` for an exception: its fully qualified class name."""
    kind = type(error)
    return kind.__qualname__ if kind.__module__ == 'builtins' else f'{kind.__module__}.{kind.__qualname__}'


class Hop:
    """One request on the wire: a CLIENT span, the active-requests count and its duration.

    Use as a context manager around the send; `answered` records the status when the head
    has come, and leaving with an exception records its type (a hop answered already stays
    as it was answered).
    """

    def __init__(self, method: str, url: str, headers: MutableMapping[str, str]) -> None:
        self.attributes = attributes(method, url)
        resends = _RESENDS.get()
        if resends is not None:
            if resends[0]:
                self.attributes['http.request.resend_count'] = resends[0]
            resends[0] += 1
        name = method.upper() if method.upper() in METHODS else 'HTTP'
        self.span = TRACER.start_span(name, kind=trace.SpanKind.CLIENT, attributes=self.attributes)
        propagate.inject(headers, context=trace.set_span_in_context(self.span))
        self.common: dict[str, Any] = {name: value for name, value in self.attributes.items() if name in _MEASURED}
        self.started = time.perf_counter()
        self.done = False
        INSTRUMENTS.active.add(1, self.common)  # type: ignore[union-attr]

    def __enter__(self) -> Hop:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        if not self.done:  # (an error after the head came, say in a redirect hop, is not this hop's)
            overdue = _OVERDUE.get()
            if error is not None and overdue is not None:
                error = overdue() or error
            self._end(*((None, None) if error is None else
                        (error_type(error), urls.redact(f'{type(error).__name__}: {error}'))))

    def answered(self, status: int) -> None:
        """Record the status of the response head: 4xx and 5xx are errors of a client span."""
        self.span.set_attribute('http.response.status_code', status)
        self._end(str(status) if status >= 400 else None, None, status)

    def _end(self, error: str | None, message: str | None, status: int | None = None) -> None:
        self.done = True
        measured = dict(self.common)
        if status is not None:
            measured['http.response.status_code'] = status
        if error is not None:
            measured['error.type'] = error
            self.span.set_attribute('error.type', error)
            self.span.set_status(trace.Status(trace.StatusCode.ERROR, message))
        INSTRUMENTS.active.add(-1, self.common)  # type: ignore[union-attr]
        INSTRUMENTS.duration.record(time.perf_counter() - self.started, measured)  # type: ignore[union-attr]
        self.span.end()


def retried(method: str, url: str | None) -> None:
    """Count a retry of a request to `url` (the attempt that failed; None before any was sent)."""
    if (instruments := _measuring()) is not None:
        found = {'http.request.method': method.upper()} if url is None else attributes(method, url)
        instruments.retries.add(1, {name: value for name, value in found.items() if name in _MEASURED})


def waited(seconds: float) -> float:
    """Record the time a request waits for its rate limit; return it."""
    if (instruments := _measuring()) is not None and seconds > 0:
        instruments.waits.record(seconds)
    return seconds


def cache(result: str) -> None:
    """Count an HTTP cache lookup by its result: `hit` or `miss`."""
    if (instruments := _measuring()) is not None:
        instruments.cache.add(1, {'clients.cache.result': result})


def circuit(host: str, state: str) -> None:
    """Count a change of the circuit of a proxy's `host` (its redacted base URL) to `state`."""
    if (instruments := _measuring()) is not None:
        instruments.circuits.add(1, {'clients.host': host, 'clients.circuit.state': state})
