"""Event hooks and log records of each request's attempts, for the users' own logging.

A client's `request_hooks` maps a kind to the hooks called with an `Event` (one signature for both
shells; the async shell awaits a hook that returns an awaitable):

- `request`: an attempt is about to be sent (`attempt` counts from 1)
- `response`: the head of an attempt's answer has come (`status`)
- `retry`: the request is sent again after `delay` seconds, because of `status` or `error`
- `give_up`: the request ends with an error (`error`), or on a retryable status on which
  retries ended (`status`); a request that raises fires exactly one, last, naming what it
  raised (its type), whatever ended it (retries, its deadline, `max_body`, redirects, a hook)

An exception in a hook propagates, as in httpx's `event_hooks`. Derived clients inherit a
copy of the hooks. Each event is also a log record on the `clients.requests` logger: DEBUG for
requests and responses, INFO for retries, WARNING for give-ups, with its fields as `extra=`
(prefixed `http_`). Neither carries a secret: the URL and error pass through `urls.redact`,
and no header or body is in an event.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import urls

LOG = logging.getLogger('clients.requests')
# A give-up is told by the error raised: unless the user configures logging, its record is not printed.
LOG.addHandler(logging.NullHandler())
KINDS = ('request', 'response', 'retry', 'give_up')
LEVELS = {'request': logging.DEBUG, 'response': logging.DEBUG, 'retry': logging.INFO, 'give_up': logging.WARNING}


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """What a hook receives: the kind, method, redacted URL and attempt, and what happened."""

    kind: str
    method: str
    url: str | None  # None when nothing was sent yet (the request failed before its URL was known)
    attempt: int
    status: int | None = None
    error: str | None = None  # the error's type and message
    delay: float | None = None  # seconds before the retry

    def message(self) -> str:
        """Return the log message of this event."""
        where = f'{self.method} {self.url}' if self.url is not None else self.method
        outcome = f'status {self.status}' if self.status is not None else self.error
        if self.kind == 'request':
            return f'{where}: attempt {self.attempt}'
        if self.kind == 'retry':
            return f'{where}: attempt {self.attempt} failed ({outcome}), retrying in {self.delay:.2f} s'
        if self.kind == 'give_up':
            return f'{where}: giving up after attempt {self.attempt} ({outcome})'
        return f'{where}: attempt {self.attempt} answered status {self.status}'


def event(kind: str, method: str, url: str | None, attempt: int, status: int | None = None,
          error: BaseException | None = None, delay: float | None = None) -> Event:
    """Return an event, its URL and error redacted."""
    described = None if error is None else urls.redact(f'{type(error).__name__}: {error}')
    return Event(kind, method, None if url is None else urls.redact(url), attempt, status, described, delay)


def log(found: Event) -> None:
    """Write the log record of an event on the `clients.requests` logger."""
    level = LEVELS[found.kind]
    if LOG.isEnabledFor(level):
        extra = {f'http_{field.name}': getattr(found, field.name) for field in dataclasses.fields(found)}
        LOG.log(level, '%s', found.message(), extra=extra)


class Hooks(dict[str, list[Callable[[Event], Any]]]):
    """A client's event hooks by kind; a copy (a derived client's) has lists of its own."""

    def copy(self) -> Hooks:
        """Return a copy whose lists are copies."""
        return Hooks({kind: list(hooks) for kind, hooks in self.items()})


def hooks(value: Mapping[str, Iterable[Callable[[Event], Any]]] | None) -> Hooks:
    """Return checked event hooks: every kind known (see `KINDS`), every hook callable."""
    found = Hooks({kind: [] for kind in KINDS})
    for kind, given in dict(value or {}).items():
        if kind not in found:
            raise ValueError(f'unknown event {kind!r}: expected one of {", ".join(KINDS)}')
        listed: list[Any] = [given] if callable(given) else list(given)
        for hook in listed:
            if not callable(hook):
                raise TypeError(f'the {kind!r} event hook {type(hook).__name__} is not callable')
        found[kind] = listed
    return found


def fire(table: Mapping[str, list[Callable[[Event], Any]]], pending: list[Event]) -> None:
    """Log and call the hooks of the pending events, in order (a sync client's); empties `pending`."""
    for found in _drain(pending):
        for hook in table.get(found.kind, ()):
            result = hook(found)
            if inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()
                raise TypeError(f'the {found.kind!r} event hook {hook!r} of a sync client returned an awaitable')


async def afire(table: Mapping[str, list[Callable[[Event], Any]]], pending: list[Event]) -> None:
    """Log and call the hooks of the pending events, in order, awaiting what they return (an async client's)."""
    for found in _drain(pending):
        for hook in table.get(found.kind, ()):
            result = hook(found)
            if inspect.isawaitable(result):
                await result


def _drain(pending: list[Event]) -> list[Event]:
    found = pending[:]
    pending.clear()
    for each in found:
        log(each)
    return found
