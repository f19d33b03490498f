"""Streamed GETs decoded by content type, with reconnecting for server-sent events.

Written once as a flow that both shells drive: the flow yields `Open` (send a streamed
request), `Read` (the next body chunk, after handing its `items` to the caller), `Sleep`
(wait before reconnecting) and `Pause` (items for the caller). The shell answers `Open`
with `Opened` and `Read` with bytes (`b''` at the end of the body), or either with `Dropped`
when the connection failed.
"""

from __future__ import annotations

import collections
import ssl
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from . import content, sse, urls
from .errors import DecodeError
from .flows import Pause

# Seconds to wait before reconnecting when the server sent no `retry`, and the most a
# server's `retry` can make the client wait.
RETRY = 3.0
MAX_RETRY = 300.0


@dataclass
class Open:
    """Send a streamed request; answered with `Opened` or `Dropped`.

    The shell raises `HTTPError` for an error status not in `accept`. It hands over the body
    as it arrives; with `size`, both shells hand it over in pieces of exactly `size` bytes (the
    last shorter).
    """

    method: str
    path: object
    kwargs: dict[str, Any] = field(default_factory=dict)
    accept: tuple[int, ...] = ()
    size: int | None = None


@dataclass
class Read:
    """Read the next body chunk, after handing `items` over to the caller (one step where a flow
    hands over each chunk it reads); answered with bytes (`b''` at the end) or `Dropped`."""

    items: list[Any] = field(default_factory=list)


@dataclass
class Sleep:
    """Wait this many seconds."""

    seconds: float


@dataclass
class Opened:
    """A streamed response whose status is not an error; `kind` is how to decode it (the client's choice)."""

    status: int
    headers: Any
    url: str
    kind: content.Kind | None = None


@dataclass
class Dropped:
    """The connection could not be opened, or ended early; `error` is the library's exception."""

    error: BaseException


Step = Open | Read | Sleep | Pause
Stream = Generator[Step, Any, None]


def attempts(reconnect: bool | int) -> float:
    """Return how many reconnects in a row (without an event between them) are allowed."""
    if isinstance(reconnect, bool):
        return float('inf') if reconnect else 0
    if not isinstance(reconnect, int) or reconnect < 0:
        raise ValueError(f'reconnect must be a bool or a non-negative integer, not {reconnect!r}')
    return reconnect


def permanent(error: BaseException | None) -> bool:
    """Return whether a failed connect would fail the same way again: a TLS handshake error
    (a bad certificate, or TLS to a plain-HTTP port) anywhere in the exception's chain."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, ssl.SSLError) and not isinstance(error, ssl.SSLEOFError):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


class Pieces:
    """Regroup body chunks into pieces of `size` bytes (the last may be shorter); no size, as they are.

    Each byte is copied once, into its piece: the chunks are held as views until cut.
    """

    def __init__(self, size: int | None) -> None:
        self.size = size
        self.parts: collections.deque[memoryview] = collections.deque()
        self.length = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        """Take a chunk; return the pieces now complete."""
        size = self.size
        if size is None or (not self.parts and len(chunk) == size):
            return [chunk]
        self.parts.append(memoryview(chunk))
        self.length += len(chunk)
        pieces = []
        while self.length >= size:
            taken, need = [], size
            while need:
                part = self.parts[0]
                if len(part) <= need:
                    taken.append(self.parts.popleft())
                    need -= len(part)
                else:
                    taken.append(part[:need])
                    self.parts[0] = part[need:]
                    need = 0
            pieces.append(b''.join(taken))
            self.length -= size
        return pieces

    def close(self) -> list[bytes]:
        """Return the last, shorter piece, if any."""
        rest = b''.join(self.parts)
        self.parts.clear()
        self.length = 0
        return [rest] if rest else []


def chunk_size(value: int | None) -> int | None:
    """Check an `iter(chunk_size=...)`: None (hand data over as it arrives) or bytes per piece."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f'chunk_size must be a positive number of bytes or None, not {value!r}')
    return value


def max_line(value: int | None) -> int | None:
    """Check an `iter(max_line=...)`: None (`content.MAX_LINE`) or the longest line in bytes."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f'max_line must be a positive number of bytes or None, not {value!r}')
    return value


def stream(path: object, kwargs: dict[str, Any], reconnect: bool | int = False, size: int | None = None,
           longest: int | None = None) -> Stream:
    """GET `path` streamed and pause with the items of each chunk, decoded by content type.

    The body is read as it arrives, or in pieces of `size` bytes (see `chunk_size`); a line
    (of JSON lines, events or text) longer than `longest` bytes raises `DecodeError`.

    With `reconnect`, the body must be `text/event-stream`; after the connection drops or
    ends, the flow waits the server's `retry` (else `RETRY` seconds, at most `MAX_RETRY`)
    and GETs again with `Last-Event-ID`. `reconnect=True` goes on until the server answers
    204 or the caller stops; an integer is how many reconnects in a row may bring no event,
    after which the last error is raised (or the stream simply ends if it ended cleanly).
    A TLS handshake failure is raised at once: reconnecting would not change it.
    """
    allowed = attempts(reconnect)
    size = chunk_size(size)
    longest = max_line(longest)
    parser = sse.Parser()
    failures = 0
    while True:
        options = dict(kwargs)
        if allowed:
            headers = dict(options.get('headers') or {})
            if not any(name.lower() == 'accept' for name in headers):
                headers['Accept'] = 'text/event-stream'
            if parser.last_id:
                headers['Last-Event-ID'] = parser.last_id
            options['headers'] = headers
        error = None
        parser.restart()
        opened = yield Open('GET', path, options, size=size)
        if isinstance(opened, Dropped):
            error = opened.error
            if permanent(error):
                raise error
        elif opened.status == 204:
            return
        else:
            content_type = opened.headers.get('Content-Type')
            where = urls.where('GET', opened.url)
            items = content.Items(content_type, where, parser, opened.kind, longest)
            if allowed and items.kind != 'events':
                raise DecodeError(f'{where}: reconnecting needs text/event-stream, not {content_type!r}')
            pieces = Pieces(size)
            while (chunk := (yield Read())) and not isinstance(chunk, Dropped):
                found = [item for piece in pieces.feed(chunk) for item in items.feed(piece)]
                if found:
                    failures = 0
                    yield Pause(found)
            if isinstance(chunk, Dropped):  # (an unfinished piece is not handed over: the body is cut)
                error = chunk.error
            else:
                found = [item for piece in pieces.close() for item in items.feed(piece)] + items.close()
                if found:
                    yield Pause(found)
        if failures >= allowed:
            if error is not None:
                raise error
            return
        failures += 1
        delay = RETRY if parser.retry is None else parser.retry / 1000
        yield Sleep(min(delay, MAX_RETRY))
