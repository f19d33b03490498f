"""Server-Sent Events: an incremental parser for `text/event-stream` (the WHATWG rules).

Lines (without their endings) go in, `Event`s come out: `event`, `data` (multi-line data
joined by `\\n`), `id` and `retry` fields; comments (`:`) and unknown fields are ignored; an
event is dispatched at a blank line, and one left unfinished when the stream ends is dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import fields
from .errors import DecodeError

BOM = b'\xef\xbb\xbf'
# The longest `retry` kept, in milliseconds (a day); a longer one is read as this.
MAX_RETRY = 86_400_000


@dataclass
class Event:
    """One server-sent event.

    Attributes:
        data: the data lines joined by `\\n`
        event: the event type (`message` unless the server named one)
        id: the last event ID at this event (it carries over from earlier events), or `None`
        retry: the reconnection time in milliseconds this event set, or `None`
    """

    data: str = ''
    event: str = 'message'
    id: str | None = None
    retry: int | None = None

    def json(self) -> Any:
        """Return the data parsed as JSON; `DecodeError` if it is not JSON (or nested too deeply)."""
        try:
            return json.loads(self.data)
        except (ValueError, RecursionError) as exc:
            reason = 'nested too deeply' if isinstance(exc, RecursionError) else exc
            raise DecodeError(f'event data is not JSON ({reason}): {self.data[:200]!r}') from exc


class Parser:
    """Incremental SSE parser: `feed` lines, get the events they complete.

    `last_id` and `retry` (milliseconds) hold the stream's state for reconnecting.
    """

    def __init__(self) -> None:
        self.last_id = ''
        self.retry: int | None = None
        self.restart()

    def restart(self) -> None:
        """Forget the event in progress, as for a new connection; keep `last_id` and `retry`."""
        self.data: list[str] = []
        self.event = ''
        self.event_retry: int | None = None
        self.started = False

    def feed(self, lines: list[bytes]) -> list[Event]:
        """Return the events completed by `lines` (each without its line ending)."""
        events = []
        for raw in lines:
            if not self.started:
                self.started = True
                raw = raw.removeprefix(BOM)
            event = self.line(raw.decode('utf-8', errors='replace'))
            if event is not None:
                events.append(event)
        return events

    def line(self, line: str) -> Event | None:
        """Process one line; return the event a blank line completes, if any."""
        if not line:
            return self._dispatch()
        if line.startswith(':'):
            return None
        name, colon, value = line.partition(':')
        if colon and value.startswith(' '):
            value = value[1:]
        if name == 'data':
            self.data.append(value)
        elif name == 'event':
            self.event = value
        elif name == 'id':
            if '\0' not in value:
                self.last_id = value
        elif name == 'retry' and value.isascii() and value.isdigit():
            self.retry = self.event_retry = fields.integer(value, most=MAX_RETRY)
        return None

    def _dispatch(self) -> Event | None:
        data, event, retry = self.data, self.event, self.event_retry
        self.data, self.event, self.event_retry = [], '', None
        if not data:
            return None
        return Event('\n'.join(data), event or 'message', self.last_id or None, retry)
