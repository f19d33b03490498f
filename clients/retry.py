"""Retries: the policy object, the pure decision function, and the per-request plan.

Both shells drive a `Plan` the same way: `start()` before each attempt (it returns how long to
wait for the rate limit), then `failed(error)` or `answered(status, headers)`, which return how
long to wait before the next attempt, or say to stop. Every decision is made here by `decide`;
the shells only sleep and send. Time comes from the policy's `clock`, so tests use a fake one.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import random
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self, TypeVar

import requests
import urllib3

from . import deadlines, events, library, telemetry, urls
from .content import MAX_BODY, max_body
from .errors import AllHostsDown, Error
from .events import Hooks
from .ratelimit import RETRY_AFTER_STATUSES, RateLimit, retry_after

# Methods that mean the same when sent twice (RFC 9110, 9.2.2).
IDEMPOTENT = frozenset({'GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'})
# Statuses worth another try: too many requests, and a gateway or server that is briefly away.
STATUSES = frozenset({429, 502, 503, 504})
# Statuses whose `Retry-After` header says when to come back (RFC 9110 10.2.3, RFC 6585).
IDEMPOTENCY_KEY = 'idempotency-key'

LOG = logging.getLogger(__name__)

_Response = TypeVar('_Response', bound=Any)  # a requests.Response or an httpx.Response

CONNECT = 'connect'  # nothing was sent: safe to retry any method
READ = 'read'  # the request may have been sent: retry only idempotent requests


class Clock:
    """Where clients read time and sleep; pass another (e.g. a fake) as `Retry(clock=...)`."""

    def now(self) -> float:
        """Return monotonic seconds, for durations."""
        return time.monotonic()

    def time(self) -> float:
        """Return wall-clock seconds since the epoch, for HTTP dates."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """Block for `seconds` (nothing when zero)."""
        if seconds > 0:
            time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        """Wait `seconds` in the event loop (nothing when zero)."""
        if seconds > 0:
            import asyncio

            await asyncio.sleep(seconds)

    def __reduce_ex__(self, protocol: Any) -> Any:
        return 'CLOCK' if self is CLOCK else super().__reduce_ex__(protocol)


CLOCK = Clock()


def _seconds(name: str, value: Any, allow_none: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0 or math.isinf(value):
        expected = 'a finite number of seconds >= 0' + (' or None' if allow_none else '')
        raise ValueError(f'Retry {name} must be {expected}, not {value!r}')
    return float(value)


class Retry:
    """A retry policy: how many attempts, how long to wait between them, and what is retried.

    Args:
        attempts: attempts in all, the first included (1 means never retry)
        backoff: the first wait in seconds; each later one doubles
        backoff_max: the longest backoff wait
        jitter: the fraction of each backoff wait that is random (0 to 1; 1 is "full jitter")
        timeout: the time budget in seconds from the first attempt; no retry starts after it
            (None: attempts alone bound the retries)
        statuses: response statuses to retry (idempotent requests only)
        methods: methods whose requests are retried after a read error, a timeout or a
            retryable status, as is a request with an `Idempotency-Key` unless there are
            none (then only what was never sent is retried); connect errors are retried for
            every method
        retry_after_max: the longest `Retry-After` honoured; a server asking for more ends
            the retries at once
        clock: where time is read and sleeping is done
    """

    __slots__ = ('attempts', 'backoff', 'backoff_max', 'clock', 'jitter', 'methods', 'retry_after_max',
                 'statuses', 'timeout')

    def __init__(
        self,
        attempts: int = 3,
        backoff: float = 0.5,
        backoff_max: float = 10.0,
        jitter: float = 0.5,
        timeout: float | None = 60.0,
        statuses: Iterable[int] = STATUSES,
        methods: Iterable[str] = IDEMPOTENT,
        retry_after_max: float = 60.0,
        clock: Clock = CLOCK,
    ) -> None:
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError(f'Retry attempts must be an int >= 1, not {attempts!r}')
        self.attempts = attempts
        self.backoff = _seconds('backoff', backoff)
        self.backoff_max = _seconds('backoff_max', backoff_max)
        if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not 0 <= jitter <= 1:
            raise ValueError(f'Retry jitter must be a fraction from 0 to 1, not {jitter!r}')
        self.jitter = float(jitter)
        self.timeout = None if timeout is None else _seconds('timeout', timeout, allow_none=True)
        self.retry_after_max = _seconds('retry_after_max', retry_after_max)
        if isinstance(statuses, str | bytes) or not isinstance(statuses, Iterable):
            raise TypeError(f'Retry statuses must be a collection of status codes, not {statuses!r}')
        self.statuses = frozenset(statuses)
        bad = [code for code in self.statuses if isinstance(code, bool) or not isinstance(code, int)
               or not 400 <= code <= 599]
        if bad:
            raise ValueError(f'Retry statuses must be error statuses (400-599), not {bad!r}')
        if isinstance(methods, str | bytes) or not isinstance(methods, Iterable):
            raise TypeError(f'Retry methods must be a collection of method names, not {methods!r}')
        self.methods = frozenset(str(method).upper() for method in methods)
        self.clock = clock

    def __repr__(self) -> str:
        fields = ', '.join(f'{name}={getattr(self, name)!r}' for name in self.__slots__ if name != 'clock')
        return f'Retry({fields})'

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Retry):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, name) for name in self.__slots__))

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, 'clock'):
            raise AttributeError('Retry is immutable: build another, e.g. Retry(attempts=5)')
        object.__setattr__(self, name, value)

    @classmethod
    def of(cls, value: Any) -> Retry:
        """Return the policy meant by a `retry=` option: a `Retry`, or None/False for no retries."""
        if isinstance(value, Retry):
            return value
        if value is None or value is False:
            return NEVER
        raise TypeError(f'retry must be a clients.Retry, None or False, not {value!r}')

    def backoff_delay(self, retries: int, chance: float) -> float:
        """Return the wait before retry number `retries` (1-based), `chance` in [0, 1)."""
        delay = min(self.backoff * 2.0 ** min(retries - 1, 64), self.backoff_max)
        return delay * (1 - self.jitter * chance)


NEVER = Retry(attempts=1)
DEFAULT = Retry()


def unsent(policy: Retry) -> Retry:
    """Return `policy` retrying only what was never sent (connect errors): no status, no method."""
    return Retry(policy.attempts, policy.backoff, policy.backoff_max, policy.jitter, policy.timeout, (), (),
                 policy.retry_after_max, policy.clock)


def failure(error: BaseException) -> str | None:
    """Return whether a transport error happened before anything was sent (`CONNECT`), maybe
    after (`READ`), or is not worth retrying (None)."""
    while type(error.__cause__) is type(error):  # a restated error (see `restated`): judge the original
        error = error.__cause__
    if isinstance(error, AllHostsDown):
        return CONNECT
    httpx = library.loaded()  # (None: no httpx error exists)
    if httpx and isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return CONNECT
    if httpx and isinstance(error, httpx.TransportError):
        local = httpx.UnsupportedProtocol | httpx.ProxyError | httpx.LocalProtocolError
        return None if isinstance(error, local) else READ
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return CONNECT
    if isinstance(error, requests.exceptions.ConnectionError):
        reason = error.args[0] if error.args else None
        if isinstance(reason, urllib3.exceptions.MaxRetryError):
            reason = reason.reason
        if isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError):
            return CONNECT
        return READ
    if isinstance(error, requests.exceptions.Timeout | requests.exceptions.ChunkedEncodingError):
        return READ
    if isinstance(error, requests.exceptions.RequestException):
        return None  # an invalid URL or header, too many redirects: another try gives the same
    if isinstance(error, ConnectionRefusedError):
        return CONNECT
    return READ if isinstance(error, ConnectionError | TimeoutError) else None  # not a missing file


_Kinds = tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...]
# Timeouts by phase, from the most specific class down (requests' and httpx's names differ).
_TIMEOUTS: _Kinds = (
    (requests.exceptions.ConnectTimeout, 'connect timed out'),
    ((requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError), 'read timed out'),
)


def _timeouts() -> _Kinds:
    """Return `_TIMEOUTS`, with httpx's classes once the library is loaded (none exists before)."""
    httpx = library.loaded()
    if httpx is None:
        return _TIMEOUTS
    return (
        ((httpx.ConnectTimeout, requests.exceptions.ConnectTimeout), 'connect timed out'),
        ((httpx.ReadTimeout, requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError), 'read timed out'),
        (httpx.WriteTimeout, 'write timed out'),
        (httpx.PoolTimeout, 'no pooled connection came free in time'),
    )
# What a server that hangs up before answering is called by http.client, httpx's transport and aiohttp.
_HANG_UPS = ('remote end closed connection without response', 'server disconnected')


def _chain(error: BaseException) -> Iterator[BaseException]:
    """Yield `error` and every error inside it, outermost first: wrapped in its arguments
    (requests wraps urllib3's), as its `reason` (urllib3's MaxRetryError) or as its cause."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = [arg for arg in current.args if isinstance(arg, BaseException)]
        reason = getattr(current, 'reason', None)
        inner += [reason] if isinstance(reason, BaseException) else []
        inner += [found for found in (current.__cause__, current.__context__) if found is not None]
        pending.extend(inner)


def cause(error: BaseException) -> str:
    """Return what went wrong in a transport error, in a few words the same for every library and
    transport: `connection refused`, `host name not resolved`, `read timed out`, ..."""
    for kinds, words in _timeouts():
        if isinstance(error, kinds):
            return words
    chain = list(_chain(error))
    for found in chain:
        if isinstance(found, socket.gaierror):
            return 'host name not resolved' + (f' ({found.strerror})' if found.strerror else '')
        if isinstance(found, ssl.SSLError):
            detail = getattr(found, 'verify_message', None) or getattr(found, 'reason', None) or found.strerror
            kind = 'TLS certificate not accepted' if isinstance(found, ssl.SSLCertVerificationError) else 'TLS failed'
            return f'{kind}: {detail or found}'
        if isinstance(found, OSError) and isinstance(found.errno, int) and found.errno > 0:
            return os.strerror(found.errno).lower()
    if any(str(found).lower().startswith(_HANG_UPS) for found in chain):
        return 'the server closed the connection without an answer'
    httpx = library.loaded()
    timeouts = (TimeoutError, requests.exceptions.Timeout) + ((httpx.TimeoutException,) if httpx else ())
    if any(isinstance(found, timeouts) for found in chain):
        return 'timed out'
    told = (found.args[0] for found in chain if found.args and isinstance(found.args[0], str) and found.args[0]
            and not _wrapper(found))
    return next(told, None) or type(error).__name__


def _wrapper(error: BaseException) -> bool:
    """Whether `error` holds another in its arguments or `reason` (urllib3's errors do), whose text says more."""
    return any(isinstance(arg, BaseException) for arg in (*error.args, getattr(error, 'reason', None)))


def restated(error: BaseException, method: str, url: str | None) -> BaseException:
    """Return a transport error of the library as clients states one: the same class (and its
    `request`), its text `METHOD URL: cause` (secrets redacted), the original as its cause.

    Errors of clients' own, and errors that are no failure to reach a host, are returned as they are.
    """
    request = getattr(error, 'request', None) if isinstance(error, requests.RequestException) \
        else getattr(error, '_request', None)
    sent = getattr(request, 'url', None) or url
    if isinstance(error, Error) or failure(error) is None or sent is None:
        return error
    stated = copy.copy(error)
    stated.args = (f'{urls.where(method, str(sent))}: {cause(error)}',)
    stated.__cause__, stated.__suppress_context__ = error, True
    return stated


def idempotent(method: str, methods: frozenset[str], *headers: Any) -> bool:
    """Return whether a request may be retried after it may have been sent."""
    return method.upper() in methods or any(
        value is not None and str(name).lower() == IDEMPOTENCY_KEY for name, value in _pairs(headers)
    )


def _pairs(headers: tuple[Any, ...]) -> Iterable[tuple[Any, Any]]:
    for group in headers:
        if isinstance(group, Mapping):
            yield from group.items()
        elif group is not None:
            yield from group


def replayable(kwargs: Mapping[str, Any]) -> bool:
    """Return whether a request's body can be sent again: no file, iterator or stream in it."""
    for name in ('data', 'content'):
        body = kwargs.get(name)
        if body is not None and not isinstance(body, str | bytes | bytearray | Mapping | list | tuple):
            return False
    files = kwargs.get('files')
    values = files.values() if isinstance(files, Mapping) else [pair[1] for pair in files or ()]
    for value in values:
        if isinstance(value, tuple | list):
            value = value[1] if len(value) > 1 else None
        if value is not None and not isinstance(value, str | bytes | bytearray):
            return False
    return True


@dataclass(frozen=True)
class Decision:
    """What to do after an attempt: retry after `delay` seconds, or stop (and why)."""

    retry: bool
    delay: float = 0.0
    reason: str = ''


def decide(
    policy: Retry,
    *,
    attempts: int,
    elapsed: float,
    safe: bool,
    error: str | None = None,
    status: int | None = None,
    retry_after: float | None = None,
    chance: float = 0.0,
    elsewhere: bool = False,
    left: float | None = None,
) -> Decision:
    """Decide whether to retry after an attempt that failed (`error`) or answered `status`.

    Args:
        policy: the retry policy
        attempts: attempts made so far
        elapsed: seconds since the first attempt started
        safe: whether the request may be sent twice (idempotent, opted in, or keyed)
        error: `CONNECT`, `READ`, or None for an answer
        status: the answer's status
        retry_after: seconds the answer's `Retry-After` asks to wait, if it has one
        chance: a random number in [0, 1) for the jitter
        elsewhere: whether the next attempt goes to another host, which needs no wait
        left: the seconds the request's deadline leaves, if it has one
    """
    if error is None:
        if status not in policy.statuses:
            return Decision(False, reason='not a retryable status')
        if not safe:
            return Decision(False, reason='not an idempotent request')
    elif error != CONNECT and not safe:
        return Decision(False, reason='the request may have been sent, and is not idempotent')
    if attempts >= policy.attempts:
        return Decision(False, reason='attempts exhausted')
    if elsewhere:
        delay = 0.0
    elif retry_after is not None and status in RETRY_AFTER_STATUSES:
        if retry_after > policy.retry_after_max:
            return Decision(False, reason=f'Retry-After {retry_after:g} s exceeds {policy.retry_after_max:g} s')
        delay = retry_after
    else:
        delay = policy.backoff_delay(attempts, chance)
    if policy.timeout is not None and elapsed + delay >= policy.timeout:
        return Decision(False, reason=f'time budget of {policy.timeout:g} s spent')
    if left is not None and delay >= left:
        return Decision(False, reason=f'the deadline leaves {left:.3g} s, not enough to wait {delay:.3g} s')
    return Decision(True, delay)


def annotate(error: BaseException, attempts: int, reason: str = '') -> BaseException:
    """Record `attempts` on an error, and in its message when there was more than one.

    A message that is not text (requests wraps urllib3's error) is left as it is, for code
    that reads it, and the attempts are added as a note shown with the traceback.
    """
    error.attempts = attempts  # type: ignore[attr-defined]
    redact(error)
    if attempts > 1:
        note = f'after {attempts} attempts' + (f': {reason}' if reason else '')
        if error.args and isinstance(error.args[0], str):
            error.args = (f'{error.args[0]} ({note})', *error.args[1:])
        else:
            error.add_note(note)
    return error


def redact(error: BaseException) -> BaseException:
    """Redact the secrets of URLs (see `urls.redact`) in the text of `error`, the errors in its
    arguments (requests wraps urllib3's, whose text names the URL) and its causes."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.args = tuple(urls.redact(arg) if isinstance(arg, str) else arg for arg in current.args)
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        pending.extend(found for found in (current.__cause__, current.__context__) if found is not None)
    return error


class Plan:
    """The state of one request's attempts; the shells call it around every attempt.

    Args:
        policy: the retry policy
        method: the request method
        safe: whether the request may be sent twice
        limit: the client's rate limit, if any
        spare: for proxies, whether an untried healthy host is left for this request
        exhausted: for proxies, the error to raise instead of the last one, if any
        remaining: returns the seconds the request's deadline leaves, if it has one
    """

    def __init__(
        self,
        policy: Retry,
        method: str,
        safe: bool,
        limit: RateLimit | None = None,
        spare: Callable[[Plan], bool] | None = None,
        exhausted: Callable[[Plan, BaseException], BaseException | None] | None = None,
        remaining: Callable[[], float] | None = None,
    ) -> None:
        self.policy = policy
        self.remaining = remaining
        self.clock = policy.clock
        self.method = method
        self.safe = safe
        self.limit = limit
        self.spare = spare
        self.exhausted = exhausted
        self.attempts = 0
        self.began = 0.0
        self.hosts: dict[str, str] = {}  # host -> its failure, for proxies
        self.reason = ''
        self.url: str | None = None  # the URL of the last attempt, for an error that does not carry it
        self.gave_up = False  # whether retries ended on a retryable status
        self.ended = False  # whether the `give_up` event was recorded (once a request)
        self.events: list[events.Event] = []  # what happened since the shell last fired the hooks (`events.fire`)
        self.target: str | None = None  # the URL of the last attempt with its query, for its events

    def sending(self, url: str) -> None:
        """Record the `request` event of the attempt about to be sent to `url` (with its query)."""
        self.target = url
        self.events.append(events.event('request', self.method, url, self.attempts))

    def begin(self) -> float:
        """Count an attempt about to start; return the clock's reading (see `start`)."""
        now = self.clock.now()
        if not self.attempts:
            self.began = now
        self.attempts += 1
        return now

    def start(self) -> float:
        """Count an attempt about to start; return the seconds to wait first (rate limit)."""
        now = self.begin()
        return self.limit.reserve(now) if self.limit is not None else 0.0

    def _decide(self, **outcome: Any) -> Decision:
        decision = decide(
            self.policy, attempts=self.attempts, elapsed=self.clock.now() - self.began, safe=self.safe,
            chance=random.random(), elsewhere=self.spare is not None and self.spare(self),
            left=None if self.remaining is None else self.remaining(), **outcome,
        )
        self.reason = decision.reason
        return decision

    def _retrying(self, what: str, delay: float, status: int | None = None, error: BaseException | None = None) -> None:
        telemetry.retried(self.method, self.url)
        self.events.append(events.event('retry', self.method, self.target, self.attempts, status, error, delay))
        LOG.info('retrying %s after %s: attempt %d of %d in %.2f s',
                 self.method, urls.redact(what), self.attempts + 1, self.policy.attempts, delay)

    def failed(self, error: BaseException) -> float:
        """Return the seconds to wait before retrying after `error`; raise the error to stop."""
        decision = self._decide(error=failure(error))
        if decision.retry:
            self._retrying(f'{type(error).__name__}: {error}', decision.delay, error=error)
            return decision.delay
        reason = decision.reason if self.attempts > 1 else ''
        replacement = self.exhausted(self, error) if self.exhausted is not None else None
        self._give_up(error=error if replacement is None else replacement)
        if replacement is not None:
            raise annotate(replacement, self.attempts) from error
        stated = restated(error, self.method, self.url)
        if stated is error:
            raise annotate(error, self.attempts, reason)
        raise annotate(stated, self.attempts, reason) from error

    def answered(self, status: int, headers: Mapping[str, str]) -> float | None:
        """Return the seconds to wait before retrying after an answer, or None to return it.

        A retryable status on which retries ended returns `math.inf`: the shell then returns
        that last response (see `last`), and a `Resource` raises its HTTP error with the
        attempts (see `retried`). A status that was never retried (a POST's, say, even after a
        connect error was) is returned as it is.
        """
        self.events.append(events.event('response', self.method, self.target, self.attempts, status))
        if self.limit is not None:
            self.limit.observe(status, headers, self.clock.now(), self.clock.time())
        if status not in self.policy.statuses:
            return None
        after = retry_after(headers.get('Retry-After'), self.clock.time())
        decision = self._decide(status=status, retry_after=after)
        if decision.retry:
            self._retrying(f'status {status}', decision.delay, status)
            return decision.delay
        if self.attempts > 1 and self.safe:
            self.gave_up = True
            self._give_up(status)
            return math.inf
        return None

    def _give_up(self, status: int | None = None, error: BaseException | None = None) -> None:
        self.ended = True
        self.events.append(events.event('give_up', self.method, self.target, self.attempts, status, error))

    def ending(self, error: BaseException) -> None:
        """Record that the request ends with `error`: its `give_up` event, unless one was recorded
        (a shell calls it for whatever ends a request past the retry decisions: its deadline, a
        body over `max_body`, an error that is not a transport's)."""
        if not self.ended:
            self._give_up(error=error)

    def last(self, response: _Response) -> _Response:
        """Return the response a request ends with, carrying `attempts` (and, when retries ended
        on its status, why: for the HTTP error a `Resource` raises, see `retried`)."""
        response.attempts = self.attempts
        response._retries_ended = self.reason if self.gave_up else None
        return response


def retried(error: BaseException, response: Any) -> BaseException:
    """Record on the HTTP error raised for `response` its attempts, and in its message when
    retries ended on its status (see `Plan.last`)."""
    attempts = getattr(response, 'attempts', 1)
    reason = getattr(response, '_retries_ended', None)
    if reason is None:
        error.attempts = attempts  # type: ignore[attr-defined]
        return error
    return annotate(error, attempts, reason)


def plan(client: Any, method: str, kwargs: dict[str, Any], remaining: Callable[[], float] | None = None) -> Plan:
    """Return the plan of a request, popping its `retry=` option from `kwargs`; `remaining` as for `Plan`."""
    policy = Retry.of(kwargs.pop('retry')) if 'retry' in kwargs else client.retry
    if not replayable(kwargs) and policy.attempts > 1:
        policy = Retry(attempts=1, clock=policy.clock)  # a file or stream body cannot be sent twice
    safe = bool(policy.methods) and idempotent(method, policy.methods, client.headers, kwargs.get('headers'))
    return Plan(policy, method.upper(), safe, client.rate, client._spare, client._exhausted, remaining)


class Resilience:
    """The `retry`, `rate`, `deadline`, `max_body` and `request_hooks` settings of every client; derived clients inherit
    them (a copy of the hooks)."""

    # A proxy's host choice supplies these (see `hosts.Balancer`); other clients have none.
    # (Class attributes, so looking them up never reaches a resource's attribute navigation.)
    _spare: Callable[[Plan], bool] | None = None
    _exhausted: Callable[[Plan, BaseException], BaseException | None] | None = None

    if TYPE_CHECKING:  # supplied by each shell

        def _derive(self, path: object = None, cls: type | None = None) -> Self: ...

    @property
    def request_hooks(self) -> Hooks:
        """The hooks of request events by kind (see `clients.events`); derived clients inherit a copy.

        (Not `hooks` or `event_hooks`: requests and httpx take those, with their own objects.)
        """
        found: Hooks | None = self.__dict__.get('_events')
        if found is None:
            found = self.__dict__['_events'] = events.hooks(None)
        return found

    @request_hooks.setter
    def request_hooks(self, value: Any) -> None:
        self.__dict__['_events'] = events.hooks(value)

    @property
    def retry(self) -> Retry:
        """The retry policy of requests that do not pass their own `retry=`."""
        policy: Retry = self.__dict__.get('_retry', DEFAULT)
        return policy

    @retry.setter
    def retry(self, value: Any) -> None:
        self.__dict__['_retry'] = Retry.of(value)

    @property
    def deadline(self) -> float | None:
        """The seconds a request may take in all (see `clients.deadlines`); None for no bound."""
        seconds: float | None = self.__dict__.get('_deadline', deadlines.DEFAULT)
        return seconds

    @deadline.setter
    def deadline(self, value: Any) -> None:
        self.__dict__['_deadline'] = deadlines.check(value)

    def _deadline_of(self, kwargs: dict[str, Any]) -> float | None:
        """Return a request's deadline, popping its `deadline=` option from `kwargs`."""
        return deadlines.check(kwargs.pop('deadline')) if 'deadline' in kwargs else self.deadline

    def _overdue(self, method: str, path: object, seconds: float) -> str:
        """Return the message of a request past its deadline."""
        url = self._url(path)  # type: ignore[attr-defined]  # (the URL was sent: it is valid)
        return f'{urls.where(method, url)}: no complete answer within its deadline of {seconds:g} s'

    @property
    def max_body(self) -> int | None:
        """The largest decoded body a request that is not streamed reads, in bytes (None: no limit)."""
        limit: int | None = self.__dict__.get('_max_body', MAX_BODY)
        return limit

    @max_body.setter
    def max_body(self, value: Any) -> None:
        self.__dict__['_max_body'] = max_body(value)

    @property
    def rate(self) -> RateLimit | None:
        """The client-side rate limit, shared with derived clients; None for none."""
        return self.__dict__.get('_rate')

    @rate.setter
    def rate(self, value: Any) -> None:
        self.__dict__['_rate'] = RateLimit.of(value)

    def with_retry(self, policy: Retry | None) -> Self:
        """Return a derived client with another retry policy (None: no retries)."""
        client = self._derive()
        client.retry = policy
        return client

    def with_rate(self, rate: float | RateLimit | None) -> Self:
        """Return a derived client with a rate limit of its own: requests per second, a
        `clients.RateLimit` (which may be shared on purpose), or None for none.

        Derived clients otherwise share their root's limit.
        """
        client = self._derive()
        client.rate = rate
        return client

    def with_deadline(self, seconds: float | None) -> Self:
        """Return a derived client with another deadline: seconds a request may take in all, or None."""
        client = self._derive()
        client.deadline = seconds
        return client
