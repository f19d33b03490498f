"""The command line: explore a JSON API the way the library navigates it.

    clients URL [SEGMENT ...] [FIELD ...]     a request through `Resource`, printed as JSON
    clients download URL [PATH]               save a body to a file, with a progress bar
    clients demo [--serve [PORT]]             the guided tour against the embedded local API,
                                              or that API kept running to explore

`clients https://api.example.com/ user repos visibility=public` does what
`Resource('https://api.example.com/').user.repos(visibility='public')` does, and prints the
decoded body. Everything goes through the library's sync `Resource`, so its URL rules,
decoding, credential rules and errors are the ones a program would meet.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import enum
import errno
import functools
import json
import mimetypes
import os
import re
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import IO, TYPE_CHECKING, Any, NoReturn, TextIO, cast
from urllib.parse import unquote, urlsplit, urlunsplit

import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.connectionpool
import urllib3.util

from . import __version__, agent, content, downloads, fields, urls
from .base import Resource
from .errors import Error, HTTPError, IncompleteBody, InvalidURL

if TYPE_CHECKING:
    from _typeshed import SupportsWrite


class Exit(enum.IntEnum):
    """Exit statuses of the command line."""

    OK = 0
    FAILED = 1  # anything else expected: a body that does not decode, a file not written
    USAGE = 2  # bad arguments (argparse's own status)
    CONNECTION = 3  # refused, DNS, TLS, connection lost, incomplete body, too many redirects
    CLIENT_ERROR = 4  # an HTTP 4xx status
    SERVER_ERROR = 5  # an HTTP 5xx status
    TIMEOUT = 6  # no connection or no response within --timeout
    INTERRUPTED = 130  # Ctrl-C
    BROKEN_PIPE = 141  # the reader of the output went away (`| head`), like SIGPIPE


EXIT_CODES = """\
exit status:
  0    success
  1    other failure: a body that does not decode, a file that cannot be written,
       a pagination loop
  2    bad arguments
  3    connection failed: refused, DNS, TLS, connection lost, incomplete body,
       too many redirects
  4    the server answered 4xx
  5    the server answered 5xx
  6    timed out (see --timeout)
  130  interrupted; 141 the output pipe was closed (as `| head` does)
"""

FIELDS = """\
fields (after the URL, mixed with path segments; a word without `=` is a segment):
  NAME=VALUE    a query parameter for GET, HEAD, OPTIONS and DELETE; for any other
                method a string field of the JSON body
  NAME:=JSON    a field of the JSON body with any JSON value: n:=3 tags:='["a"]'
  NAME==VALUE   always a query parameter (may repeat: tag==a tag==b)

examples:
  clients https://api.github.com/ users coady repos sort=updated
  clients -X POST https://httpbin.org/ anything name=apple stock:=5 -H 'X-Trace: 1'
  clients --pages https://api.github.com/ repos python cpython contributors
  clients --stream http://localhost:8000/ events
  clients download https://example.com/report.csv reports/
"""

DOWNLOAD = """\
PATH may be a file (replaced only once the whole body has arrived), a directory, or `-`
for standard output. Without PATH, or with a directory, the name comes from the
response's Content-Disposition (filename*, else filename), else from the URL's last
segment; an existing file is never replaced then (`name-1.ext` is used instead). A name
from the server is reduced to a plain file name: no directories, no leading dot (`..`,
`.bashrc`), no control characters. A name is kept as it is, except that a URL segment
without an extension gets one from the Content-Type: `/file` sent as
application/octet-stream is saved as `file.bin`, `/` as `index.html` for text/html.
The body goes to a temporary file beside PATH first, so a failed download leaves nothing
at PATH. A progress bar (size, rate, time left) is shown on a terminal.
"""

# Methods whose NAME=VALUE fields are query parameters; they send no body.
QUERY_METHODS = frozenset({'GET', 'HEAD', 'OPTIONS', 'DELETE'})
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token: methods, header names
EDGES = re.compile(r'^[\s.]+|[\s.]+\Z')  # what a file name may not start or end with
FRAMING = frozenset({'content-length', 'transfer-encoding'})  # a body needs one of them
ACCEPT = 'application/json, */*;q=0.5'
USER_AGENT = agent.sync()

COLORS = {
    'key': '\x1b[1;34m',
    'string': '\x1b[32m',
    'number': '\x1b[36m',
    'boolean': '\x1b[33m',
    'null': '\x1b[35m',
}
RESET = '\x1b[0m'
LONE_SURROGATE = re.compile('[\ud800-\udfff]')
JSON_TOKEN = re.compile(
    r'(?P<key>"(?:[^"\\]|\\.)*")(?=:)'
    r'|(?P<string>"(?:[^"\\]|\\.)*")'
    r'|(?P<number>-?(?:\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|Infinity)|NaN)'
    r'|(?P<boolean>true|false)'
    r'|(?P<null>null)'
)


class UsageError(Exception):
    """Bad command-line input: reported in one line with exit status 2."""



# --- output ----------------------------------------------------------------------------


def color_json(text: str) -> str:
    """Return JSON text (as `json.dumps` writes it) with ANSI colours for a terminal."""
    return JSON_TOKEN.sub(lambda match: f'{COLORS[str(match.lastgroup)]}{match[0]}{RESET}', text)


def use_color(choice: bool | None, stream: IO[str]) -> bool:
    """Whether to colour `stream`: `--color`/`--no-color`, else a terminal without `NO_COLOR`."""
    if choice is not None:
        return choice
    if os.environ.get('NO_COLOR') or os.environ.get('TERM') == 'dumb':
        return False
    return stream.isatty()


def jsonable(item: Any) -> Any:
    """Return a streamed item as a JSON value: dataclasses and named tuples become objects."""
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return dataclasses.asdict(item)
    if isinstance(item, tuple) and hasattr(item, '_asdict'):
        return item._asdict()
    return item


def encodable(value: Any) -> Any:
    """Return what `json.dumps` writes for a value it cannot: an event is an object, else text."""
    item = jsonable(value)
    return str(item) if item is value else item


def write_all(file: IO[bytes], data: bytes) -> int:
    """Write all of `data`: a buffered pipe may take only part (then fail on the next write)."""
    view = memoryview(data)
    while view:
        view = view[file.write(view) :]
    return len(data)


class Printer:
    """Writes decoded bodies and streamed items to standard output."""

    def __init__(self, stdout: TextIO, stderr: TextIO, color: bool) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.color = color

    def json(self, value: Any, indent: int | None = 2) -> None:
        """Write a JSON value, indented (or on one line), coloured if asked."""
        text = json.dumps(value, indent=indent, ensure_ascii=False, default=encodable)
        # A lone surrogate (JSON may hold one) cannot be written as UTF-8: keep it escaped.
        text = LONE_SURROGATE.sub(lambda match: f'\\u{ord(match[0]):04x}', text)
        self.stdout.write((color_json(text) if self.color else text) + '\n')

    def binary(self, data: bytes, what: str) -> bool:
        """Write bytes to a pipe or file; on a terminal, say so instead and return False."""
        if self.stdout.isatty():
            self.stderr.write(
                f'clients: {what} is not shown on a terminal; redirect the output or use '
                "'clients download'\n"
            )
            return False
        self.stdout.flush()
        write_all(self.stdout.buffer, data)
        self.stdout.buffer.flush()
        return True

    def body(self, value: Any, kind: content.Kind) -> None:
        """Write a body decoded as `kind`: JSON pretty-printed, text as it is, bytes raw.

        Nothing is written for no body (`None`).
        """
        if value is None:
            return
        if kind == 'bytes':
            self.binary(value, f'a binary body ({len(value)} bytes)')
        elif kind == 'text':
            ending = '\n' if self.stdout.isatty() and not value.endswith('\n') else ''
            self.stdout.write(value + ending)
        else:
            self.json(value)
        self.stdout.flush()

    def item(self, item: Any) -> bool:
        """Write one streamed item at once: JSON on one line, a text line, or bytes."""
        if isinstance(item, bytes):
            return self.binary(item, 'a binary stream')
        if isinstance(item, str):
            self.stdout.write(item + '\n')
        else:
            self.json(jsonable(item), indent=None)
        self.stdout.flush()
        return True


class RecordingHTTPConnection(urllib3.connection.HTTPConnection):
    """An HTTP connection that keeps the head of the last request it sent, byte for byte."""

    head = b''
    _starting = False

    def putrequest(self, *args: Any, **kwargs: Any) -> None:
        """Start a request: the next bytes sent are its head."""
        self._starting = True
        super().putrequest(*args, **kwargs)

    def send(self, data: Any) -> None:
        """Send `data`, keeping it if it is the head of a request."""
        if self._starting:
            self.head, self._starting = bytes(data), False
        super().send(data)


class RecordingHTTPSConnection(urllib3.connection.HTTPSConnection, RecordingHTTPConnection):
    """An HTTPS connection that keeps the head of the last request it sent."""


# urllib3's own connection classes only: a SOCKS proxy's connections are left as they are.
RECORDING: dict[type[Any], type[Any]] = {
    urllib3.connection.HTTPConnection: RecordingHTTPConnection,
    urllib3.connection.HTTPSConnection: RecordingHTTPSConnection,
}


class Wire(requests.adapters.HTTPAdapter):
    """The command line's transport: removes the headers `-H 'NAME:'` names, and shows heads.

    A removed header is removed last, from the request as it goes out, so nothing sends it:
    not the client's defaults, not requests (cookies, netrc), not urllib3 or http.client,
    which add `User-Agent`, `Accept-Encoding` and `Host` to a request without them.
    With `show`, each request's head is written to it exactly as it was sent, and each
    response's head as it arrived.
    """

    def __init__(self, removed: Iterable[str] = (), show: TextIO | None = None) -> None:
        super().__init__()
        self.removed = tuple(removed)
        self.show = show

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        """Send `request` without the removed headers."""
        for name in self.removed:
            if name.lower() in urllib3.util.SKIPPABLE_HEADERS:
                request.headers[name] = urllib3.util.SKIP_HEADER  # urllib3's word for: add none
            else:
                request.headers.pop(name, None)
        return super().send(request, *args, **kwargs)

    def get_connection_with_tls_context(self, *args: Any, **kwargs: Any) -> urllib3.connectionpool.ConnectionPool:
        """Return the pool for a request, its new connections recording what they send."""
        pool = cast(urllib3.HTTPConnectionPool, super().get_connection_with_tls_context(*args, **kwargs))
        pool.ConnectionCls = RECORDING.get(pool.ConnectionCls, pool.ConnectionCls)
        return pool

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        """Return the response, writing both heads first if asked."""
        response = super().build_response(req, resp)
        if self.show is not None:
            sent = getattr(resp.connection, 'head', b'').decode('latin-1').split('\r\n')
            lines = [f'> {line}' for line in sent if line]
            prepared = [f'> {req.method} {req.url}', *(f'> {name}: {value}' for name, value in req.headers.items())]
            lines = lines or prepared  # a connection of another kind (SOCKS) keeps no head
            lines.append(f'< {response.status_code} {response.reason or ""}'.rstrip())
            lines += [f'< {name}: {value}' for name, value in response.headers.items()]
            self.show.write('\n'.join(lines) + '\n\n')
            self.show.flush()
        return response


# --- requests --------------------------------------------------------------------------


def utf8(text: str, what: str) -> str:
    """Return `text` if it is valid UTF-8 (an argument may hold undecodable bytes), else raise."""
    try:
        text.encode()
    except UnicodeEncodeError:
        raise UsageError(f'{what} {text!r} is not valid UTF-8 text') from None
    return text


def split_url(url: str) -> tuple[str, str]:
    """Return a URL without its query and fragment, and its query as a relative path `?...`."""
    parts = urlsplit(utf8(url, 'URL'))
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, '', ''))
    return base, f'?{parts.query}' if parts.query else ''


def parse_method(text: str) -> str:
    """Return an HTTP method, upper-cased; anything but a token is a usage error."""
    if not TOKEN.fullmatch(text):
        raise UsageError(f'bad method {text!r}: expected a word such as GET or POST')
    return text.upper()


def parse_header(text: str) -> tuple[str, str | None]:
    """Parse `Name: value`; an empty value (`Name:`) means: do not send this header."""
    name, colon, value = text.partition(':')
    name, value = name.strip(), value.strip()
    if not colon or not TOKEN.fullmatch(name):
        raise UsageError(f"bad header {text!r}: expected 'Name: value'")
    if any(char in value for char in '\r\n\0'):
        raise UsageError(f'bad header {text!r}: a value cannot contain a line break')
    if any(ord(char) > 0xFF for char in value):  # HTTP/1.1 sends header values as Latin-1
        raise UsageError(f'bad header {text!r}: a value must be Latin-1 text (percent-encode the rest)')
    return name, value or None


def parse_items(method: str, items: Sequence[str]) -> tuple[list[str], list[tuple[str, str]], dict[str, Any]]:
    """Split items into path segments, query parameters and JSON body fields."""
    segments: list[str] = []
    query: list[tuple[str, str]] = []
    body: dict[str, Any] = {}
    for item in map(utf8, items, ['argument'] * len(items)):
        name, equals, value = item.partition('=')
        if not equals:
            segments.append(item)
            continue
        if name.endswith(':'):
            name, kind = name[:-1], ':='
        elif value.startswith('='):
            value, kind = value[1:], '=='
        else:
            kind = '='
        if not name:
            raise UsageError(f'field {item!r} has no name before {kind}')
        if kind == '==' or (kind == '=' and method in QUERY_METHODS):
            query.append((name, value))
            continue
        if kind == ':=' and method in QUERY_METHODS:
            hint = f'use -X POST, or {name}=={value} for a query parameter'
            raise UsageError(f'{item!r}: {method} sends no body; {hint}')
        if name in body:
            raise UsageError(f'body field {name!r} is given twice')
        if kind == ':=':
            try:
                body[name] = json.loads(value)
            except ValueError as exc:
                raise UsageError(f'{item!r}: invalid JSON after := ({exc})') from None
        else:
            body[name] = value
    return segments, query, body


def open_resource(url: str, headers: Sequence[str], timeout: float | None, defaults: dict[str, str],
                  show: TextIO | None = None) -> Resource:
    """Return a root `Resource` at `url` with default and `-H` headers, and the timeout.

    Its transport (`Wire`) removes the headers given as `NAME:`, and writes each exchange's
    heads to `show` if given.
    """
    parsed = [parse_header(header) for header in headers]
    removed = [name for name, value in parsed if value is None]
    for name in removed:
        if name.lower() in FRAMING:
            raise UsageError(f"cannot remove {name}: it says where the body ends")
    resource = Resource(url)
    if timeout is not None:
        resource.timeout = timeout
    resource.headers.update(defaults)
    # Set on the client (not per request), so the library's origin rule keeps credentials
    # from other hosts (redirects, pagination links).
    for name, value in parsed:
        if value is None:
            resource.headers.pop(name, None)
        else:
            resource.headers[name] = value
    wire = Wire(removed, show)
    for prefix in ('http://', 'https://'):
        resource.mount(prefix, wire)
    return resource


def navigate(resource: Resource, segments: Sequence[str]) -> Resource:
    """Return `resource.a.b...`: each segment is one path segment, as attribute navigation is."""
    for segment in segments:
        resource = resource / urls.key(segment.replace('?', '%3F').replace('#', '%23'))
    return resource


@contextlib.contextmanager
def blamed_on(responses: list[requests.Response]) -> Iterator[None]:
    """Give a transport error the request of the last response if it has none.

    (requests raises read timeouts while reading a body without the request.)
    """
    try:
        yield
    except requests.RequestException as exc:
        if exc.request is None and responses:
            exc.request = responses[-1].request
        raise


def request(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> None:
    """Send the request the command line describes and print what comes back."""
    method = parse_method(args.method)
    if (args.pages or args.stream) and method != 'GET':
        raise UsageError(f'--{"pages" if args.pages else "stream"} works with GET only, not {method}')
    segments, query, body = parse_items(method, args.items)
    base, path = split_url(args.url)
    printer = Printer(stdout, stderr, use_color(args.color, stdout))
    responses: list[requests.Response] = []

    def kind() -> content.Kind:
        """How the last response's body was decoded (a JSON string must print as JSON)."""
        return content.kind(responses[-1].headers.get('Content-Type'))

    hooks = [lambda response, **_: responses.append(response)]
    kwargs: dict[str, Any] = {'params': query, 'hooks': {'response': hooks}}
    if body:
        kwargs['json'] = body
    defaults = {'User-Agent': USER_AGENT, 'Accept': ACCEPT}
    show = stderr if args.verbose else None
    with open_resource(base, args.header, args.timeout, defaults, show) as root, blamed_on(responses):
        resource = navigate(root, segments)
        if args.stream:
            for item in resource.iter(path, **kwargs):
                if not printer.item(item):
                    break
        elif args.pages:
            resource.hooks['response'].extend(hooks)  # this view's own hooks
            first = f'{path}?{urllib.parse.urlencode(query)}' if query else path  # keeps repeated names
            for page in resource.pages(first):
                printer.body(page, kind())
        else:
            value = resource.request(method, path, **kwargs)
            printer.body(value, kind())


# --- download --------------------------------------------------------------------------

UNITS = ('B', 'KiB', 'MiB', 'GiB', 'TiB')


def size_text(size: float) -> str:
    """Return a byte count for people: `512 B`, `1.5 KiB`, `12.0 MiB`."""
    unit = 0
    while size >= 1024 and unit < len(UNITS) - 1:
        size /= 1024
        unit += 1
    return f'{size:.0f} B' if unit == 0 else f'{size:.1f} {UNITS[unit]}'


def duration_text(seconds: float) -> str:
    """Return seconds as `m:ss` or `h:mm:ss`."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f'{hours}:{minutes:02}:{secs:02}' if hours else f'{minutes}:{secs:02}'


def terminal_width(stream: IO[str]) -> int:
    """Return the width of the terminal `stream` writes to: `COLUMNS` if set, else asked, else 80."""
    with contextlib.suppress(KeyError, ValueError):
        if (columns := int(os.environ['COLUMNS'])) > 0:
            return columns
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):  # not a terminal, or no file descriptor at all
        return 80


class Progress:
    """A progress line on a terminal: name, percent and bar, size of total, rate, time left.

    Args:
        stream: the terminal (standard error)
        name: what is being downloaded
        total: the expected size in bytes, if known
        clock: seconds from a monotonic clock
        interval: least seconds between two redraws
        columns: width of the terminal
    """

    NAME_WIDTH = 30
    BAR_WIDTH = (10, 40)

    def __init__(self, stream: TextIO, name: str, total: int | None, clock: Callable[[], float] = time.monotonic,
                 interval: float = 0.1, columns: int | None = None) -> None:
        self.stream = stream
        self.name = name
        self.total = total
        self.clock = clock
        self.interval = interval
        self.columns = columns or terminal_width(stream)
        self.done = 0
        self.start = clock()
        self.drawn: float | None = None
        # Room kept for the sizes, rate and time left, so the bar does not change width.
        total_text = size_text(total or 0)
        self.reserve = len(f'  {total_text} / {total_text}  999.9 MiB/s  ETA 9:59:59')

    def update(self, size: int) -> None:
        """Count `size` more bytes; redraw if `interval` has passed since the last drawing."""
        self.done += size
        now = self.clock()
        if self.drawn is None or now - self.drawn >= self.interval:
            self.draw(now)

    def finish(self) -> None:
        """Draw the final line (size, average rate, time taken) and end it."""
        self.draw(self.clock(), final=True)
        self.stream.write('\n')
        self.stream.flush()

    def abort(self) -> None:
        """End the line where it stands, so that an error message starts on a line of its own."""
        if self.drawn is not None:
            self.stream.write('\n')
            self.stream.flush()

    def draw(self, now: float, final: bool = False) -> None:
        """Write the progress line over the previous one."""
        self.drawn = now
        self.stream.write('\r' + self.line(now - self.start, final) + '\x1b[K')
        self.stream.flush()

    def line(self, elapsed: float, final: bool = False) -> str:
        """Return the progress line after `elapsed` seconds."""
        rate = self.done / elapsed if elapsed > 0 else None
        speed = f'{size_text(rate)}/s' if rate is not None else '-- B/s'
        if final:
            when = f'in {duration_text(elapsed)}'
        elif not self.total:
            when = ''
        elif rate:
            when = f'ETA {duration_text(max(self.total - self.done, 0) / rate)}'
        else:
            when = 'ETA --:--'
        size = size_text(self.done) + (f' / {size_text(self.total)}' if self.total else '')
        tail = f'  {size}  {speed}  {when}'.rstrip()
        if not self.total:
            return self.fit(self.name, tail)
        fraction = min(self.done / self.total, 1.0)
        percent = f' {fraction:4.0%} '
        low, high = self.BAR_WIDTH
        space = self.columns - 1 - len(percent) - 2 - self.reserve  # for the name and the bar
        room = max(min(len(self.name), self.NAME_WIDTH, space - low), 0)
        width = min(space - room, high)
        if width < low:  # a narrow terminal: no bar
            return self.fit(self.name, percent.rstrip() + tail)
        filled = round(width * fraction)
        return self.fit(shorten(self.name, room), f'{percent}[{"#" * filled}{"." * (width - filled)}]{tail}')

    def fit(self, name: str, rest: str) -> str:
        """Return `name + rest`, shortening the name, then the rest, to fit the terminal."""
        return (shorten(name, self.columns - 1 - len(rest)) + rest)[: self.columns - 1]


def shorten(name: str, room: int) -> str:
    """Return `name` if it fits in `room` characters, else `...` and its end (or '')."""
    if len(name) <= room:
        return name
    return '...' + name[len(name) - room + 3 :] if room > 3 else ''


class Counting:
    """A binary file wrapper that counts every write on the current `Progress`, if any."""

    def __init__(self, file: IO[bytes], progress: list[Progress]) -> None:
        self.file = file
        self.progress = progress
        self.size = 0

    def write(self, data: bytes) -> int:
        """Write `data` and count it."""
        written = write_all(self.file, data)
        self.size += len(data)
        for progress in self.progress[-1:]:
            progress.update(len(data))
        return written


def safe_name(name: str) -> str:
    """Return a server-suggested file name reduced to a plain, visible name (or '').

    Only the last path segment is kept (`/` and `\\` both separate), with no control or
    format characters, no drive, and no dots or spaces at either end (so no hidden file,
    `..` or name that Windows would shorten).
    """
    name = name.replace('\\', '/').rsplit('/', 1)[-1]
    name = ''.join(char for char in name if char.isprintable())
    return EDGES.sub('', os.path.splitdrive(name)[1])


def suggested_name(response: requests.Response) -> str:
    """Return a file name for a response: its Content-Disposition, else its URL's last segment.

    A Content-Disposition name is kept as it is (made safe); a URL segment without an
    extension gets one guessed from the Content-Type (`/file` becomes `file.bin`).
    """
    message = Message()
    message['content-disposition'] = response.headers.get('Content-Disposition', '')
    names = [value for key, value in message.get_params([], header='content-disposition') if key == 'filename']
    names.sort(key=lambda value: not isinstance(value, tuple))  # RFC 6266: `filename*` first
    name = safe_name(collapse_rfc2231_value(names[0]) if names else '')
    if name:
        return name
    name = safe_name(unquote(urlsplit(response.url).path)) or 'index'
    if '.' not in name:
        media = response.headers.get('Content-Type', '').split(';')[0].strip().lower()
        name += mimetypes.guess_extension(media) or ''
    return name


def unused(path: str) -> str:
    """Return `path`, or `stem-1.ext`, `stem-2.ext`, ... whichever does not exist yet."""
    stem, extension = os.path.splitext(path)
    number = 0
    while os.path.lexists(path):
        number += 1
        path = f'{stem}-{number}{extension}'
    return path


def file_mode(path: str) -> int:
    """Return the permissions for the file at `path`: those it has, else the umask's."""
    with contextlib.suppress(OSError):
        return os.stat(path).st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def replace_when_complete(folder: str, write: Callable[[IO[bytes]], int],
                          final: Callable[[], str]) -> tuple[str, int]:
    """Write into a new temporary file in `folder`, then rename it to `final()`.

    On any failure (or interruption) the temporary file is removed, so nothing partial is
    left; one that a killed process left is removed by a later download into `folder` (see
    `downloads.temporary`). Returns the final path and the number of bytes written.
    """
    try:
        temporary, name = downloads.temporary(folder, '.clients-')
    except OSError as exc:  # name the folder, not the temporary file
        raise OSError(exc.errno, exc.strerror, folder) from exc
    try:
        with temporary:
            size = write(temporary)
        path = final()
        os.chmod(name, file_mode(path))
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return path, size


def download(args: argparse.Namespace, stdout: TextIO, stderr: TextIO,
             clock: Callable[[], float] = time.monotonic) -> None:
    """Save the body at URL to PATH, into a directory or to standard output; progress on a terminal.

    A file PATH is replaced only when the whole body has arrived: the body goes to a
    temporary file beside it first, removed on any failure.
    """
    base, path = split_url(args.url)
    target: str | None = args.path
    if target == '-' and stdout.isatty():
        raise UsageError("not writing a body to a terminal: redirect the output, or give a PATH other than '-'")
    into_folder = target is None or os.path.isdir(target)
    if target is not None and not into_folder and target.endswith(('/', os.sep)):
        raise FileNotFoundError(errno.ENOENT, 'No such directory', target)
    responses: list[requests.Response] = []
    progress: list[Progress] = []

    def started(response: requests.Response, **kwargs: Any) -> None:
        responses.append(response)
        if stderr.isatty() and response.ok and not response.is_redirect:
            length = fields.integer(response.headers.get('Content-Length'))
            name = suggested_name(response) if into_folder or target == '-' else os.path.basename(str(target))
            progress[:] = [Progress(stderr, name, length, clock)]

    def final() -> str:
        if into_folder:
            return unused(os.path.join(target or '', suggested_name(responses[-1])))
        return os.path.realpath(str(target))  # through a symbolic link, which stays

    hooks = {'response': [started]}
    defaults = {'User-Agent': USER_AGENT, 'Accept-Encoding': 'identity'}  # sizes are the file's
    show = stderr if args.verbose else None
    with open_resource(base, args.header, args.timeout, defaults, show) as resource:

        def fetch(file: IO[bytes]) -> int:
            counting = Counting(file, progress)
            try:
                resource.download(cast(IO[bytes], counting), path, hooks=hooks)
            except BaseException:
                for bar in progress:
                    bar.abort()
                raise
            for bar in progress:
                bar.finish()
            return counting.size

        if target == '-':
            stdout.flush()
            fetch(stdout.buffer)
            return
        if target is not None and not into_folder and os.path.exists(target) and not os.path.isfile(target):
            with open(target, 'wb') as file:  # `/dev/null`, a FIFO: written directly
                saved, size = target, fetch(file)
        else:
            folder = target if into_folder else os.path.dirname(os.path.realpath(str(target)))
            saved, size = replace_when_complete(folder or '.', fetch, final)
    shown = saved if into_folder else target
    stderr.write(f'Saved {size_text(size)} ({size} bytes) to {shown}\n')


# --- demo and main -----------------------------------------------------------------------


def run_demo(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> None:
    """Run the guided tour (`clients.demo`) against the embedded local API, or keep that API running."""
    from . import demo

    say = functools.partial(print, file=stdout, flush=True)
    if args.serve is not None:
        return demo.serve(args.serve, say)
    # Nothing may follow: under CPython 3.11 tracing, coverage misses lines after the tour's
    # asyncio.run (see clients/demo.py).
    demo.main(say)


class Parser(argparse.ArgumentParser):
    """An argument parser that writes help to `output` and raises one-line `UsageError`s.

    (Never `contextlib.redirect_stdout`: that would capture every thread's output.)
    """

    output: TextIO | None = None  # standard output when None

    def print_help(self, file: SupportsWrite[str] | None = None) -> None:
        """Write the help to `file`, else to `output`."""
        super().print_help(file or self.output or sys.stdout)

    def error(self, message: str) -> NoReturn:
        """Raise `UsageError` with the message (reported by `main`)."""
        raise UsageError(f"{message} (see '{self.prog} --help')")


class ShowVersion(argparse.Action):
    """`--version`: write the version to the parser's output and exit."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        """Write `clients <version>` and exit with status 0."""
        print(f'clients {__version__}', file=getattr(parser, 'output', None) or sys.stdout)
        parser.exit()


def parsers(output: TextIO | None = None) -> dict[str, Parser]:
    """Return the argument parsers, writing help to `output`: the request (`''`), `download`, `demo`."""
    formatter = argparse.RawDescriptionHelpFormatter
    common = Parser(add_help=False)
    common.add_argument('-H', '--header', action='append', default=[], metavar="'NAME: VALUE'",
                        help="send this header (repeatable); 'NAME:' sends no NAME header at all")
    common.add_argument('--timeout', type=positive, metavar='SECONDS',
                        help='seconds to wait for a connection and for each read (default: 5 to connect, 30 to read)')
    common.add_argument('-v', '--verbose', action='store_true',
                        help='write each request head exactly as sent, and each response head, to stderr')

    main = Parser(
        prog='clients', parents=[common], formatter_class=formatter, epilog=FIELDS + '\n' + EXIT_CODES,
        usage='\n  clients [options] URL [SEGMENT ...] [FIELD ...]\n'
              '  clients download [options] URL [PATH]\n  clients demo [--serve [PORT]]',
        description='Send a request to URL/SEGMENT/... through clients.Resource and print the decoded '
                    'body: JSON pretty-printed (coloured on a terminal), text as it is, bytes raw. '
                    "'clients download' saves a body to a file; 'clients demo' runs a tour of the "
                    'library against an embedded local API.',
    )
    main.add_argument('--version', action=ShowVersion, nargs=0, help="show clients' version and exit")
    main.add_argument('-X', '--method', default='GET', help='HTTP method (default: GET)')
    follow = main.add_mutually_exclusive_group()
    follow.add_argument('--pages', action='store_true',
                        help='follow Link: rel="next" headers and print every page (GET)')
    follow.add_argument('--stream', action='store_true',
                        help='print NDJSON values / event-stream lines as they arrive (GET)')
    main.add_argument('--color', action=argparse.BooleanOptionalAction, default=None,
                      help='colour JSON (default: on a terminal, unless NO_COLOR is set)')
    main.add_argument('url', metavar='URL', help='base URL, absolute http(s)')
    main.add_argument('items', nargs='*', metavar='SEGMENT | FIELD', help='path segments and fields, see below')

    save = Parser(prog='clients download', parents=[common], formatter_class=formatter,
                  description='Save the body at URL to PATH.', epilog=DOWNLOAD + '\n' + EXIT_CODES)
    save.add_argument('url', metavar='URL', help='absolute http(s) URL')
    save.add_argument('path', metavar='PATH', nargs='?',
                      help='file, directory or - (default: a name from the response)')

    tour = Parser(prog='clients demo', formatter_class=formatter, description=run_demo.__doc__)
    tour.add_argument('--serve', nargs='?', const=8000, type=port_number, metavar='PORT',
                      help='serve the demo API on 127.0.0.1:PORT (default 8000; 0 picks a free port) '
                           'until Ctrl-C, to explore it with clients commands, instead of the tour')
    for parser in (main, save, tour):
        parser.output = output
    return {'': main, 'download': save, 'demo': tour}


def positive(text: str) -> float:
    """Parse a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float('inf'):
        raise argparse.ArgumentTypeError(f'expected a positive number of seconds, not {text!r}')
    return value


def port_number(text: str) -> int:
    """Parse a TCP port number (0: any free port)."""
    value = int(text) if text.isdigit() else -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f'expected a port number from 0 to 65535, not {text!r}')
    return value


# Each command returns its exit status (None for success).
COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO, TextIO], Exit | None]] = {
    '': request,
    'download': download,
    'demo': run_demo,
}


def causes(exc: BaseException) -> list[BaseException]:
    """Return `exc` and the errors behind it: urllib3 reasons, causes, wrapped errors, contexts."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        reason = getattr(current, 'reason', None)
        wrapped = [value for value in current.args if isinstance(value, BaseException)]
        if isinstance(reason, BaseException):
            current = reason
        else:
            current = current.__cause__ or (wrapped[0] if wrapped else current.__context__)
    return chain


def failure(exc: BaseException) -> tuple[Exit, str]:
    """Return the exit status and the one-line message for an expected failure."""
    if isinstance(exc, HTTPError):
        return (Exit.CLIENT_ERROR if exc.status_code < 500 else Exit.SERVER_ERROR), str(exc)
    if isinstance(exc, UsageError | InvalidURL | requests.exceptions.InvalidURL):
        return Exit.USAGE, str(exc)
    if isinstance(exc, IncompleteBody):
        return Exit.CONNECTION, str(exc)  # its message says which request
    if isinstance(exc, requests.RequestException):
        request = exc.request
        where = f'{request.method} {request.url}: ' if request is not None else ''
        chain = causes(exc)
        # (urllib3's NewConnectionError is a TimeoutError subclass, but not a timeout)
        timeouts = TimeoutError | urllib3.exceptions.ReadTimeoutError
        if isinstance(exc, requests.Timeout) or any(isinstance(error, timeouts) for error in chain):
            what = 'timed out connecting' if isinstance(exc, requests.ConnectTimeout) else 'timed out waiting for data'
            return Exit.TIMEOUT, f'{where}{what}; a longer --timeout may help'
        deepest = chain[-1]
        reason = (deepest.strerror if isinstance(deepest, OSError) else None) or str(deepest)
        failed = 'connection failed: ' if isinstance(exc, requests.ConnectionError) else ''
        return Exit.CONNECTION, f'{where}{failed}{reason}'
    if isinstance(exc, OSError):
        name = f': {exc.filename}' if exc.filename else ''
        return Exit.FAILED, f'{exc.strerror or exc}{name}'
    return Exit.FAILED, str(exc)  # DecodeError, PaginationError


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the command line with `argv` (default: `sys.argv[1:]`) and return its exit status."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = arguments[0] if arguments and arguments[0] in ('download', 'demo') else ''
    parser = parsers(out)[command]
    try:
        if not arguments:
            raise UsageError("give a URL, 'download URL' or 'demo' (see 'clients --help')")
        args = parser.parse_intermixed_args(arguments[1:] if command else arguments)
        return COMMANDS[command](args, out, err) or Exit.OK
    except SystemExit as exc:  # --help and --version
        return int(exc.code or 0)
    except KeyboardInterrupt:
        err.write('clients: interrupted\n')
        return Exit.INTERRUPTED
    except BrokenPipeError:
        with contextlib.suppress(AttributeError, OSError, ValueError):
            # Python would complain when flushing the closed pipe at exit: point it elsewhere.
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return Exit.BROKEN_PIPE
    except (Error, UsageError, requests.RequestException, OSError) as exc:
        code, message = failure(exc)
        err.write(f'{parser.prog}: {" ".join(message.split())}\n')
        return code
