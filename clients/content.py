"""Content types: classifying, decoding bodies, and reading a server's own error text."""

from __future__ import annotations

import codecs
import contextlib
import functools
import importlib
import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from email.message import Message
from http import HTTPStatus
from typing import Any, Literal

from . import sse, urls
from .errors import DecodeError

Kind = Literal['json', 'lines', 'events', 'text', 'bytes']
# What a `content_type` hook may answer, and how each decodes ('' is 1.3's name for bytes).
HOOK_KINDS: dict[str, Kind] = {
    'json': 'json', 'lines': 'lines', 'events': 'events', 'text': 'text', '': 'bytes', 'bytes': 'bytes',
}

# Content types whose body is a sequence of JSON texts, one per line (or record).
JSON_LINES = frozenset({
    'application/x-ndjson',
    'application/ndjson',
    'application/jsonl',
    'application/x-jsonlines',
    'application/json-seq',
})
# The most content-encodings a body may chain (urllib3's limit too).
MAX_ENCODINGS = 5
# Content-encodings `Decompressor` undoes, and the zlib window bits for each.
ZLIB_ENCODINGS = {'gzip': 16 + zlib.MAX_WBITS, 'x-gzip': 16 + zlib.MAX_WBITS, 'deflate': zlib.MAX_WBITS}
ERROR_KEYS = ('message', 'detail', 'error', 'error_description', 'title')
ERROR_TEXT_LIMIT = 200
# How deep `error_text` looks for a message in nested JSON.
ERROR_DEPTH = 16
CHUNK_SIZE = 1 << 20
# The largest body a request that is not streamed reads by default (`max_body`), in bytes.
MAX_BODY = 64 << 20
# The longest line `LineSplitter` takes by default (JSON lines, event streams, text), in bytes.
MAX_LINE = 16 << 20


@functools.lru_cache(maxsize=256)  # a client sees few distinct types; parsing one is slow
def parse(content_type: str | None) -> tuple[str, str | None]:
    """Return the lowercased media type and declared charset of a Content-Type header."""
    if not content_type:
        return '', None
    message = Message()
    message['content-type'] = content_type
    media = message.get_content_type() if '/' in content_type.split(';')[0] else ''
    charset = message.get_param('charset')
    return media.lower(), (str(charset).strip() or None) if charset else None


def kind(content_type: str | None) -> Kind:
    """Classify a Content-Type as JSON, JSON lines, server-sent events, text or bytes."""
    media, charset = parse(content_type)
    if media in JSON_LINES:
        return 'lines'
    if media == 'text/event-stream':
        return 'events'
    if media == 'application/json' or (media.startswith('application/') and media.endswith('+json')):
        return 'json'
    if media.startswith('text/') or charset:
        return 'text'
    return 'bytes'


@functools.lru_cache(maxsize=256)
def named(content_type: str | None) -> str:
    """Return what the default `content_type` hook says for a Content-Type: its kind, or '' (as in 1.3) for bytes."""
    found = kind(content_type)
    return '' if found == 'bytes' else found


def chosen(name: object, hook: Callable[[], str] = lambda: 'content_type') -> Kind:
    """Return the kind a `content_type` hook's answer `name` decodes as ('' is bytes).

    Another answer raises `ValueError` naming `hook()` (which says whose hook, for which request).
    """
    try:
        return HOOK_KINDS[name]  # type: ignore[index]  # (any answer may come back; a wrong one raises below)
    except (KeyError, TypeError):
        expected = ', '.join(map(repr, HOOK_KINDS))
        raise ValueError(f'{hook()} returned {name!r}; expected one of {expected}') from None


def encoding(content_type: str | None) -> str:
    """Return the codec for a text body: its declared charset if known, else UTF-8."""
    _, charset = parse(content_type)
    if charset:
        try:
            return codecs.lookup(charset).name
        except LookupError:
            pass
    return 'utf-8'


def decode(body: bytes, content_type: str | None, status: int = 200, where: str = '',
           as_kind: Kind | None = None) -> Any:
    """Return a response body decoded by its content type; `None` for 204 or no body.

    JSON types give the parsed value, JSON lines a list of values, an event stream a list
    of `sse.Event`, text a string, anything else the bytes; `as_kind` (a `content_type`
    hook's choice) overrides the type.
    """
    if status == 204 or not body:
        return None
    match as_kind or kind(content_type):
        case 'json':
            return loads(body, where)
        case 'lines':
            return list(json_lines(split_lines([body], len(body)), where))
        case 'events':
            return sse.Parser().feed(list(split_lines([body], len(body))))
        case 'text':
            return body.decode(encoding(content_type), errors='replace')
    return body


def loads(text: bytes, where: str = '') -> Any:
    """Return parsed JSON, raising `DecodeError` naming `where` and the start of the text.

    JSON nested too deeply for the parser (about a thousand levels) is a `DecodeError` too.
    """
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        prefix = f'{where}: ' if where else ''
        sample = text[:ERROR_TEXT_LIMIT]
        reason = 'nested too deeply' if isinstance(exc, RecursionError) else exc
        raise DecodeError(f'{prefix}invalid JSON ({reason}): {sample!r}') from exc


def split_lines(chunks: Iterable[bytes], max_line: int | None = None, where: str = '') -> Iterator[bytes]:
    """Yield the lines of a byte stream without their endings, whatever the chunking.

    Lines end at LF, CRLF or CR (a CRLF split across two chunks ends one line); the last
    line is yielded even without an ending. A line longer than `max_line` raises `DecodeError`.
    """
    splitter = LineSplitter(max_line, where)
    for chunk in chunks:
        yield from splitter.feed(chunk)
    yield from splitter.close()


class LineSplitter:
    """Incremental line splitter: `feed` chunks, then `close` for the final line.

    The start of an unfinished line is kept as the chunks that brought it (joined once, when
    the line ends), so a long line costs time in proportion to its length.

    Args:
        max_line: the longest line in bytes (default `MAX_LINE`); a longer one raises
            `DecodeError` as soon as it is seen, before it is held whole
        where: the request, for the error message
    """

    def __init__(self, max_line: int | None = None, where: str = '') -> None:
        self.max_line = MAX_LINE if max_line is None else max_line
        self.where = where
        self.parts: list[bytes] = []
        self.held = 0
        self.after_cr = False

    def feed(self, chunk: bytes) -> list[bytes]:
        """Return the lines completed by `chunk`."""
        if self.after_cr and chunk.startswith(b'\n'):
            chunk = chunk[1:]
        self.after_cr = False
        if not chunk:
            return []
        if b'\n' not in chunk and b'\r' not in chunk:
            self._hold(chunk)
            return []
        lines = chunk.splitlines(keepends=True)
        if self.parts:
            self.parts.append(lines[0])
            lines[0] = b''.join(self.parts)
            self.parts, self.held = [], 0
        rest = b''
        if not lines[-1].endswith((b'\n', b'\r')):
            rest = lines.pop()
        elif lines[-1].endswith(b'\r'):
            self.after_cr = True
        found = [line.rstrip(b'\r\n') for line in lines]
        longest = max(map(len, found))
        if longest > self.max_line:
            self._refuse(longest)
        if rest:
            self._hold(rest)
        return found

    def close(self) -> list[bytes]:
        """Return the last line if it had no ending."""
        line = b''.join(self.parts)
        self.parts, self.held = [], 0
        return [line] if line else []

    def _hold(self, part: bytes) -> None:
        self.held += len(part)
        if self.held > self.max_line:
            self._refuse(self.held)
        self.parts.append(part)

    def _refuse(self, length: int) -> None:
        prefix = f'{self.where}: ' if self.where else ''
        raise DecodeError(f'{prefix}a line of more than {self.max_line} bytes (at least {length}); '
                          'raise max_line to read it')


def json_lines(lines: Iterable[bytes], where: str = '') -> Iterator[Any]:
    """Yield one JSON value per non-blank line; RFC 7464 record separators are dropped."""
    for line in lines:
        line = line.strip(b'\x1e \t')
        if line:
            yield loads(line, where)


class Items:
    """Incremental stream decoder: `feed` body chunks, get JSON values, text lines or bytes.

    JSON and JSON-lines types give one value per non-blank line, `text/event-stream` gives
    `sse.Event`s (parsed by `events`, which may carry state over from an earlier
    connection), text types (or a declared charset) give lines, anything else gives the
    chunks themselves; `as_kind` (a `content_type` hook's choice) overrides the type.
    """

    def __init__(self, content_type: str | None, where: str = '', events: sse.Parser | None = None,
                 as_kind: Kind | None = None, max_line: int | None = None) -> None:
        self.kind = as_kind or kind(content_type)
        self.codec = encoding(content_type)
        self.where = where
        self.lines = LineSplitter(max_line, where)
        self.events = events or sse.Parser()

    def feed(self, chunk: bytes) -> list[Any]:
        """Return the items completed by `chunk`."""
        if self.kind == 'bytes':
            return [chunk] if chunk else []
        return self._decode(self.lines.feed(chunk))

    def close(self) -> list[Any]:
        """Return the last item, from a final line without a line ending."""
        return self._decode(self.lines.close())

    def _decode(self, lines: list[bytes]) -> list[Any]:
        if self.kind == 'events':
            return self.events.feed(lines)
        if self.kind == 'text':
            return [line.decode(self.codec, errors='replace') for line in lines]
        return list(json_lines(lines, self.where))


def max_body(value: Any) -> int | None:
    """Check a `max_body` setting: the largest decoded body read into memory, in bytes, or None for no limit."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f'max_body must be a number of bytes >= 0 or None, not {value!r}')
    return value


def too_large(limit: int | None, size: int | None) -> bool:
    """Return whether a body of `size` bytes (None: not known yet) is over the `limit`."""
    return limit is not None and size is not None and size > limit


def encodings(header: str | None, where: str = '', error: type[DecodeError] = DecodeError) -> list[str]:
    """Return the content-encodings of a `Content-Encoding` header, in the order applied.

    `identity` is left out; a chain longer than `MAX_ENCODINGS` raises `error`.
    """
    found = [name.strip().lower() for name in (header or '').split(',')]
    found = [name for name in found if name and name != 'identity']
    if len(found) > MAX_ENCODINGS:
        prefix = f'{where}: ' if where else ''
        raise error(f'{prefix}refusing a chain of {len(found)} content-encodings (at most {MAX_ENCODINGS})')
    return found


class _Zlib:
    """A gzip or deflate stage (`deflate` is zlib-wrapped, or raw as some servers send it)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.obj = zlib.decompressobj(ZLIB_ENCODINGS[name])
        self.started = self.full = False

    def feed(self, data: bytes, limit: int) -> bytes:
        data = self.obj.unconsumed_tail + data
        first, self.started = not self.started, True
        try:
            piece = self.obj.decompress(data, limit)
        except zlib.error:
            if not (first and self.name == 'deflate'):
                raise
            self.obj = zlib.decompressobj(-zlib.MAX_WBITS)
            piece = self.obj.decompress(data, limit)
        self.full = len(piece) == limit  # more output may be pending
        return piece

    def pending(self) -> bool:
        return bool(self.obj.unconsumed_tail) or self.full


class _Brotli:
    """A `br` stage: brotli stops its output near the limit (up to twice over), the rest waits in it.

    What comes over the limit is handed out first; output may be pending until a call gives none.
    """

    def __init__(self, name: str) -> None:
        obj = brotli.Decompressor()
        self.process = getattr(obj, 'process', None) or obj.decompress  # (brotlicffi's name)
        self.rest = b''
        self.more = False

    def feed(self, data: bytes, limit: int) -> bytes:
        if not self.rest:
            self.rest = bytes(self.process(data, output_buffer_limit=limit))
            self.more = bool(self.rest)
        piece, self.rest = self.rest[:limit], self.rest[limit:]
        return piece

    def pending(self) -> bool:
        return self.more


class _Zstd:
    """A `zstd` stage; a body may be several frames, one after another."""

    def __init__(self, name: str) -> None:
        self.obj = zstd.ZstdDecompressor()

    def feed(self, data: bytes, limit: int) -> bytes:
        if self.obj.eof:
            data, self.obj = self.obj.unused_data + data, zstd.ZstdDecompressor()
        return bytes(self.obj.decompress(data, limit))

    def pending(self) -> bool:
        return not self.obj.needs_input if not self.obj.eof else bool(self.obj.unused_data)


def _bounded_brotli() -> Any:
    """Return the brotli module if it can stop its output at a limit (brotli or brotlicffi 1.2+), else None."""
    for name in ('brotli', 'brotlicffi'):
        try:
            module = importlib.import_module(name)
            decompressor = module.Decompressor()
            (getattr(decompressor, 'process', None) or decompressor.decompress)(b'', output_buffer_limit=1)
            decompressor.can_accept_more_data()
        except (ImportError, TypeError, AttributeError):  # pragma: no cover (the test extra has brotli 1.2)
            continue
        return module
    return None  # pragma: no cover


def _zstd() -> Any:
    """Return Python's `compression.zstd` (3.14+) or its backport, else None (as urllib3 does)."""
    for name in ('compression.zstd', 'backports.zstd'):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None  # pragma: no cover (the test extra has backports.zstd)


brotli = _bounded_brotli()
zstd = _zstd()
# Content-encodings undone in bounded steps: by zlib always, `br` and `zstd` when their
# decoders are installed (`pip install 'clients[brotli,zstd]'`).
STAGES: dict[str, Callable[[str], Any]] = {
    **dict.fromkeys(ZLIB_ENCODINGS, _Zlib), **({} if brotli is None else {'br': _Brotli}),
    **({} if zstd is None else {'zstd': _Zstd}),
}
# What clients ask for: the encodings they can undo, in the order urllib3 lists them.
ACCEPT_ENCODING = ', '.join(name for name in ('gzip', 'deflate', 'br', 'zstd') if name in STAGES)
# What each decoder raises for a corrupt body.
CORRUPT: tuple[type[Exception], ...] = (zlib.error, *(() if brotli is None else (brotli.error,)),
                                        *(() if zstd is None else (zstd.ZstdError,)))


def undone(applied: list[str], where: str = '', error: type[DecodeError] = DecodeError) -> list[str]:
    """Return the encodings of `applied` to undo: all of them, or none if none is known (as urllib3).

    A chain with both known and unknown encodings cannot be undone: it raises `error`.
    """
    unknown = [name for name in applied if name not in STAGES]
    if unknown and len(unknown) < len(applied):
        prefix = f'{where}: ' if where else ''
        raise error(f'{prefix}cannot undo the content-encoding {", ".join(unknown)} of {", ".join(applied)}')
    return [] if unknown else applied


class Decompressor:
    """Undo content-encodings (`STAGES`) in bounded steps: no piece it yields is over `limit`.

    Each `feed` drains the decoders' pending output, so nothing is left to flush at the end
    of the body. A corrupt body raises `error` naming `where`.
    """

    def __init__(self, applied: list[str], limit: int = CHUNK_SIZE, where: str = '',
                 error: type[DecodeError] = DecodeError) -> None:
        self.names = list(reversed(applied))
        self.stages = [STAGES[name](name) for name in self.names]
        self.limit = limit
        self.where = where
        self.error = error

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Yield the decoded pieces of `data`."""
        try:
            yield from self._run(0, data)
        except CORRUPT as exc:
            prefix = f'{self.where}: ' if self.where else ''
            raise self.error(f'{prefix}the {self.names} body cannot be decoded: {exc}') from exc

    def _run(self, level: int, data: bytes) -> Iterator[bytes]:
        if level == len(self.stages):
            if data:
                yield data
            return
        stage = self.stages[level]
        yield from self._run(level + 1, stage.feed(data, self.limit))
        while stage.pending():
            yield from self._run(level + 1, stage.feed(b'', self.limit))


def error_text(body: bytes, content_type: str | None) -> str:
    """Return the server's own error text: a JSON message field, else the start of the body."""
    if kind(content_type) == 'json':
        try:
            value = json.loads(body)
        except (ValueError, RecursionError):
            value = None
        found = _find_error(value)
        if found:
            return found[:ERROR_TEXT_LIMIT]
    text = body[: ERROR_TEXT_LIMIT * 4].decode(encoding(content_type), errors='replace')
    return ' '.join(text.split())[:ERROR_TEXT_LIMIT]


def _find_error(value: Any, depth: int = ERROR_DEPTH) -> str:
    if not depth:
        return ''
    if isinstance(value, dict):
        for name in ERROR_KEYS:
            found = value.get(name)
            if isinstance(found, str) and found:
                return found
            if isinstance(found, dict | list):
                nested = _find_error(found, depth - 1)
                if nested:
                    return nested
        errors = value.get('errors')
        if isinstance(errors, list) and errors:
            return _find_error(errors[0], depth - 1)
    if isinstance(value, list) and value:
        return _find_error(value[0], depth - 1)
    return ''


def status_message(method: str, url: str, status: int, reason: str, body: bytes, content_type: str | None) -> str:
    """Return the message of an HTTP status error: method, URL, status and the server's text."""
    text = error_text(body, content_type)
    if not reason:
        with contextlib.suppress(ValueError):
            reason = HTTPStatus(status).phrase
    return f'{urls.where(method, url)} returned {status} {reason}'.rstrip() + (f': {text}' if text else '')
