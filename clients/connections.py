"""The sync shell's connections: urllib3's, reading each response's head and lines strictly.

http.client (under urllib3 and requests) returns any 1xx but 100 as the answer, so after a
`103 Early Hints` the real answer is left on the connection for the next request to read;
it takes a head that the connection cut off before its blank line as complete (an empty
answer); it reads the status code and urllib3 each chunk size with `int()` (`2_00`, `+200`,
`0x5`); and it takes a chunked body whose end the connection cut off as complete. A `Response`
skips every interim (1xx) answer (a `101` is the answer to a request that asked to upgrade,
and an error to any other), and raises a connection error (retried where retries are safe)
for a cut line, head or chunked body, a malformed status line or chunk size.

A connection goes back to the pool only if nothing is left on it after the answer: bytes past
an answer's end (a body past its length, a body on a HEAD, 204 or 304 answer) would be read as
the answer to the next request on it, so a `Response` that ends with bytes waiting shuts its
connection down, and urllib3 opens a new one for the next request (as it does for a connection
with bytes arriving while it waits in the pool).

Every sync client mounts an `Adapter` for `http://` and `https://`; mount an `Adapter` (it
takes `requests.adapters.HTTPAdapter`'s arguments) where you would mount an `HTTPAdapter`.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import ssl
from typing import Any

import requests
import urllib3
import urllib3.poolmanager

from . import deadlines

# The longest status line read, as http.client bounds it.
MAX_LINE = 65536

# A chunk's size line (RFC 9112 7.1): hex digits, then white space or extensions. urllib3 and
# http.client read the size with `int(line, 16)`, which also takes `0x5`, `+5`, ` 5` and `0_5`.
_CHUNK_SIZE = re.compile(rb'[0-9A-Fa-f]+[\t ]*(?:;[^\r\n]*)?\r?\n')

_STATUS_LINE = re.compile(rb'(HTTP/1\.[0-9]) ([1-9][0-9]{2})(?: ([\t\x20-\x7e\x80-\xff]*))?\r?\n')


def status_line(line: bytes) -> tuple[str, int, str]:
    """Return (version, status, reason) of a response's status line (RFC 9112, 4).

    Raises:
        http.client.BadStatusLine: a line that is not `HTTP/1.x`, a three-digit code and a reason
    """
    match = _STATUS_LINE.fullmatch(line)
    if match is None:
        raise http.client.BadStatusLine(f'malformed status line: {line[:100]!r}')
    version, status, reason = match.groups()
    return version.decode(), int(status), (reason or b'').decode('iso-8859-1')


def interim(status: int, upgrading: bool) -> bool:
    """Return whether an answer of `status` is interim (1xx, skipped); a 101 is final when upgrading.

    Raises:
        http.client.HTTPException: a 101 to a request that did not ask to switch protocols
    """
    if status == 101 and not upgrading:
        raise http.client.HTTPException('the server switched protocols (101) for a request that did not ask to')
    return 100 <= status < 200 and status != 101


def pending(wire: Any, sock: socket.socket) -> bool:
    """Return whether bytes wait in `wire` (a buffered file of `sock`) or on `sock`, without waiting for any.

    A connection that failed (reset) counts as having bytes waiting: it is not to be reused either.
    """
    timeout = sock.gettimeout()
    sock.settimeout(0)
    try:
        return bool(wire.peek(1))
    except ssl.SSLWantReadError:  # (TLS says "nothing yet" by raising)
        return False
    except OSError:
        return True
    finally:
        sock.settimeout(timeout)


class _Lines:
    """A response's socket file whose `readline` raises when the connection ends inside a line.

    http.client and urllib3 read the head, chunk sizes and trailers by lines, and take a line
    that the end of the connection cut off (or no line at all) as a whole one.
    """

    def __init__(self, wire: Any) -> None:
        self.wire = wire
        self.part = 'response head'

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self.wire.readline(limit)
        if line[-1:] != b'\n' and (limit < 0 or len(line) < limit):
            raise http.client.RemoteDisconnected(f'the connection ended in the middle of the {self.part}')
        if self.part == 'chunked body':  # every line read in a chunked body is a size, until the last chunk's
            if not _CHUNK_SIZE.fullmatch(line):
                raise http.client.HTTPException(f'a chunk size that is not hex digits: {line[:40]!r}')
            if not line.split(b';', 1)[0].strip().strip(b'0'):
                self.part = 'trailers'
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wire, name)


class Response(http.client.HTTPResponse):
    """An `http.client.HTTPResponse` that skips interim answers and reads its head and lines strictly."""

    # Whether the request asked to switch protocols (`Upgrade`): a 101 is then its answer.
    upgrading = False

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.socket = sock
        self.lines = _Lines(self.fp)
        self.fp = self.lines  # type: ignore[assignment]

    def _close_conn(self) -> None:
        # http.client calls this once the body is read (or the response closed)
        if self.will_close is False and pending(self.lines.wire, self.socket):
            with contextlib.suppress(OSError):  # (not if the server has cut it off already)
                self.socket.shutdown(socket.SHUT_RDWR)  # urllib3 drops it from the pool when it next picks it
        super()._close_conn()  # type: ignore[misc]

    def _read_status(self) -> tuple[str, int, str]:
        lines = self.lines
        after = ''
        while True:
            line = lines.wire.readline(MAX_LINE + 1)
            if len(line) > MAX_LINE:
                raise http.client.LineTooLong('status line')
            if not line:
                raise http.client.RemoteDisconnected(f'Remote end closed connection without response{after}')
            if line[-1:] != b'\n':
                raise http.client.RemoteDisconnected('the connection ended in the middle of the status line')
            version, status, reason = status_line(line)
            if not interim(status, self.upgrading):
                return version, status, reason
            http.client.parse_headers(lines)  # skipped (an interim answer has no body)
            after = ' after an interim (1xx) answer'

    def begin(self) -> None:
        super().begin()
        self.lines.part = 'chunked body' if self.chunked else 'body'
        if self.status == 101:  # the connection speaks another protocol now: it is not reused
            self.will_close = True



class _Upgrading(Response):
    """The response to a request that asked to switch protocols."""

    upgrading = True


class _Strict:
    """A urllib3 connection whose responses are `Response`s."""

    response_class: type[http.client.HTTPResponse] = Response

    def putrequest(self, *args: Any, **kwargs: Any) -> None:
        self.response_class = Response
        watch = deadlines.WATCHDOG.current()
        if watch is not None:  # the request has a deadline: this connection is cut when it passes
            watch.attach(self)
        super().putrequest(*args, **kwargs)  # type: ignore[misc]

    def putheader(self, header: str | bytes, *values: Any) -> None:
        name = header.decode('latin-1') if isinstance(header, bytes) else header
        if name.strip().lower() == 'upgrade':
            self.response_class = _Upgrading
        super().putheader(header, *values)  # type: ignore[misc]


class HTTPConnection(_Strict, urllib3.connection.HTTPConnection):
    """urllib3's HTTP connection, reading responses strictly."""


class HTTPSConnection(_Strict, urllib3.connection.HTTPSConnection):
    """urllib3's HTTPS connection, reading responses strictly."""


class HTTPConnectionPool(urllib3.HTTPConnectionPool):
    """urllib3's HTTP pool of strict connections."""

    ConnectionCls = HTTPConnection


class HTTPSConnectionPool(urllib3.HTTPSConnectionPool):
    """urllib3's HTTPS pool of strict connections."""

    ConnectionCls = HTTPSConnection


POOLS = {'http': HTTPConnectionPool, 'https': HTTPSConnectionPool}


def _strict(manager: Any) -> Any:
    """Make a urllib3 pool manager (or HTTP proxy manager) open strict pools; return it."""
    if manager.pool_classes_by_scheme is urllib3.poolmanager.pool_classes_by_scheme:  # (not SOCKS's)
        manager.pool_classes_by_scheme = POOLS
    return manager


class Adapter(requests.adapters.HTTPAdapter):
    """A `requests.adapters.HTTPAdapter` whose connections read responses strictly (see the module)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Create the pool manager, opening strict pools."""
        super().init_poolmanager(*args, **kwargs)
        _strict(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> urllib3.PoolManager:
        """Return the manager for `proxy`, opening strict pools."""
        manager: urllib3.PoolManager = _strict(super().proxy_manager_for(proxy, **kwargs))
        return manager
