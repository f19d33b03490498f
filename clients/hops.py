"""Forwarding rules, no I/O: hop-by-hop headers, `X-Forwarded-*` / `Forwarded`, credentials,
mapping a mounted request path onto an upstream base URL, `Location` rewriting, the framing
of the response passed on, and the gateway's own error bodies. Used by `clients.forward`.
"""

from __future__ import annotations

import http
import json
import posixpath
import re
from collections.abc import Iterable, Sequence
from urllib.parse import quote, unquote, urlsplit

from . import fields, urls

# RFC 9110 section 7.6.1, plus the proxy credentials and `Upgrade` of RFC 9110 section 7.8;
# `Host` and `Expect` are the forwarder's own business with the upstream.
HOP_BY_HOP = frozenset({
    'connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade',
    'proxy-authorization', 'proxy-authenticate', 'proxy-connection',
})
REQUEST_ONLY = frozenset({'host', 'expect'})
# The caller's credentials, sent upstream only when asked; `Set-Cookie` comes back likewise.
CALLER_CREDENTIALS = frozenset({'authorization', 'cookie'})
UPSTREAM_CREDENTIALS = frozenset({'set-cookie'})
# The server in front of the gateway adds its own (RFC 9110 6.6.1, 10.2.4): one of each reaches the caller.
GATEWAY_OWN = frozenset({'date', 'server'})
# Statuses whose responses never have content (RFC 9110 6.4.1), whatever their framing headers say.
NO_CONTENT = frozenset({204, 304})
FORWARDED_STYLES = ('x-forwarded', 'forwarded', None)
VIA = 'clients'  # the pseudonym in the `Via` header this gateway adds

Headers = list[tuple[str, str]]

_DIGITS = re.compile(r'[0-9]+')
_ESCAPE = re.compile(r'%([0-9A-Fa-f]{2})')
_UNRESERVED = frozenset('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~')
# What `quote` keeps in a path re-encoded from its decoded form (WSGI's PATH_INFO).
_PATH_SAFE = "/!$&'()*+,;=:@-._~"


class PathEscape(ValueError):
    """A request path that would leave the upstream base URL (answered with 400)."""


class BadFraming(ValueError):
    """An upstream response whose body cannot be passed on with true framing (answered with 502)."""


def strip(headers: Iterable[tuple[str, str]], drop: Iterable[str] = ()) -> Headers:
    """Return `headers` without hop-by-hop ones, those named in `Connection`, and `drop`.

    Args:
        headers: (name, value) pairs; repeated names are kept in order
        drop: further lower-case names to remove
    """
    pairs = list(headers)
    named = {
        token.strip().lower()
        for name, value in pairs if name.lower() == 'connection'
        for token in value.split(',')
    }
    remove = HOP_BY_HOP | named | set(drop)
    return [(name, value) for name, value in pairs if name.lower() not in remove]


def upstream(
    headers: Iterable[tuple[str, str]],
    *,
    client: str | None,
    proto: str,
    host: str | None,
    credentials: bool = False,
    forwarded: str | None = 'x-forwarded',
    protocol: str = '1.1',
) -> Headers:
    """Return the headers to send upstream for a caller's request headers.

    Hop-by-hop headers, `Host` and `Expect` go (and `Content-Length` beside `Transfer-Encoding`,
    RFC 9112 6.3); the caller's `Authorization` and `Cookie` go
    unless `credentials`; `X-Forwarded-For` (appended to), `-Proto` and `-Host` are set, or
    an element is appended to `Forwarded`; `Via` is appended to; without `Accept-Encoding` the caller gets `identity`,
    since the body is passed on as it comes.

    Args:
        headers: the caller's (name, value) pairs
        client: the caller's address, if known
        proto: the scheme the caller used (`http` or `https`)
        host: the caller's `Host` header, if any
        credentials: whether to pass the caller's `Authorization` and `Cookie`
        forwarded: `'x-forwarded'`, `'forwarded'` (RFC 7239) or `None` to add neither
        protocol: the HTTP version the caller used, for the `Via` a gateway adds (RFC 9110 7.6.3)
    """
    drop = set(REQUEST_ONLY)
    headers = list(headers)
    if any(name.lower() == 'transfer-encoding' for name, _ in headers):
        drop.add('content-length')  # a chunked body's length is unknown: a Content-Length beside it lies
    if not credentials:
        drop |= CALLER_CREDENTIALS
    if forwarded == 'x-forwarded':
        drop |= {'x-forwarded-proto', 'x-forwarded-host'}
    result = strip(headers, drop)
    if forwarded == 'x-forwarded':
        result = _append(result, 'X-Forwarded-For', client or 'unknown')
        result.append(('X-Forwarded-Proto', proto))
        if host:
            result.append(('X-Forwarded-Host', host))
    elif forwarded == 'forwarded':
        pairs = [('for', _node(client)), ('proto', proto)] + ([('host', host)] if host else [])
        result = _append(result, 'Forwarded', ';'.join(f'{name}={_quoted(value)}' for name, value in pairs))
    result = _append(result, 'Via', f'{protocol} {VIA}')
    if not any(name.lower() == 'accept-encoding' for name, _ in result):
        result.append(('Accept-Encoding', 'identity'))
    return result


def downstream(
    headers: Iterable[tuple[str, str]], *, bases: Sequence[str], mount: str, credentials: bool = False
) -> Headers:
    """Return the upstream response's headers to pass to the caller.

    Hop-by-hop headers go, `Set-Cookie` goes unless `credentials`, `Date` and `Server` go (the
    gateway's server sends its own, as nginx does), and a `Location` under an upstream base is
    rewritten to the same place under the caller's mount path. See `framing` for `Content-Length`.
    """
    result = strip(headers, GATEWAY_OWN if credentials else GATEWAY_OWN | UPSTREAM_CREDENTIALS)
    return [(name, location(value, bases, mount) if name.lower() == 'location' else value) for name, value in result]


def framing(method: str, status: int, headers: Iterable[tuple[str, str]]) -> tuple[Headers, int | None]:
    """Return an upstream response's headers with framing true to the body passed on, and its length.

    The length is the number of body bytes the caller is promised: 0 for a `HEAD` or a status
    without content (`204` loses its `Content-Length`; a valid one stays on `304` and `HEAD`),
    the `Content-Length` (one value, repeated copies merged), or `None` when the body's end is
    the upstream's (chunked, or at close): no `Content-Length` then, the server frames it.
    A `Content-Length` beside `Transfer-Encoding` is dropped (RFC 9112 6.3).

    Raises:
        BadFraming: a 1xx as the final answer, a `Transfer-Encoding` other than `chunked`, or
            an invalid or conflicting `Content-Length`: the body's length cannot be told for
            sure, so nothing of it may be passed on (RFC 9112 6.3: a proxy answers 502)
    """
    pairs = list(headers)
    if status < 200:
        raise BadFraming(f'the upstream answered with the interim status {status}')
    lengths = {item.strip() for name, value in pairs if name.lower() == 'content-length' for item in value.split(',')}
    codings = [item.strip().lower() for name, value in pairs if name.lower() == 'transfer-encoding'
               for item in value.split(',')]
    valid = len(lengths) == 1 and _DIGITS.fullmatch(next(iter(lengths))) is not None and not codings
    rest = [(name, value) for name, value in pairs if name.lower() != 'content-length']
    if method == 'HEAD' or status in NO_CONTENT:
        keep = valid and status != 204
        return ([*rest, ('Content-Length', str(int(lengths.pop())))] if keep else rest), 0
    if codings:
        if codings != ['chunked']:
            raise BadFraming(f'the upstream sent Transfer-Encoding {", ".join(codings)!r}, not chunked')
        return rest, None
    if not lengths:
        return rest, None
    if not valid:
        raise BadFraming(f'the upstream sent an invalid Content-Length: {", ".join(sorted(lengths))!r}')
    length = int(lengths.pop())
    return [*rest, ('Content-Length', str(length))], length


class Meter:
    """Counts the body bytes passed on against the length the caller was promised (`None`: any)."""

    def __init__(self, length: int | None) -> None:
        self.left = length

    def take(self, chunk: bytes) -> bytes:
        """Return `chunk`, or raise `BadFraming` if it goes past the promised length."""
        if self.left is not None:
            if len(chunk) > self.left:
                raise BadFraming('the upstream sent more than its Content-Length')
            self.left -= len(chunk)
        return chunk

    def end(self) -> None:
        """Raise `BadFraming` if the body ended short of the promised length."""
        if self.left:
            raise BadFraming(f'the upstream body ended {self.left} bytes short of its Content-Length')


def location(value: str, bases: Sequence[str], mount: str) -> str:
    """Return a `Location` under an upstream base as the same path under `mount`, else as is.

    Args:
        value: the upstream's `Location` (absolute, or `/`-rooted)
        bases: the upstream base URLs (each ending with `/`)
        mount: the caller-side path the forwarder serves, e.g. `/api`
    """
    for base in bases:
        prefix = urlsplit(base).path
        if value.startswith(base):
            return mount.rstrip('/') + '/' + value[len(base):]
        if value in (base.rstrip('/'), prefix.rstrip('/')):
            return mount.rstrip('/') or '/'
        if value.startswith(prefix) and not value.startswith('//'):
            return mount.rstrip('/') + '/' + value[len(prefix):]
    return value


def mounted(path: str, prefix: str) -> str | None:
    """Return the part of an encoded request `path` below `prefix`, or `None` if outside it.

    `/api/users` under `/api` is `users`; `/api` and `/api/` are `` and `/`; `/apix` is outside.
    """
    prefix = prefix.rstrip('/')
    if path == prefix:
        return ''
    if not path.startswith(prefix + '/'):
        return None
    rest = path[len(prefix) + 1:]
    return rest or '/'


def encode(path: str | bytes) -> str:
    """Return a decoded path (ASGI's `path`, or WSGI's `PATH_INFO` as bytes) percent-encoded again."""
    return quote(path, safe=_PATH_SAFE)


def below(path: str, root: str, raw: str | None = None) -> str:
    """Return the encoded request path below the ASGI `root_path`, keeping `raw_path`'s encoding.

    `path` is decoded and may or may not start with `root` (servers differ); `raw`, when given,
    is the path as sent, with or without `root`; its encoding (`%2F`) is kept when it matches.
    """
    rest = path[len(root):] if root and path.startswith(root) else path
    if raw is not None:
        for start in (0, len(root), len(encode(root))):
            if unquote(raw[start:]) == rest:
                return raw[start:]
    return encode(rest)


def target(rest: str, bases: Sequence[str]) -> tuple[str, str]:
    """Return the relative path and the `trailing` to request `rest` with, checked to stay under every base.

    Percent-encoded unreserved characters are decoded first (`%2e%2e` is `..`), dot segments
    are resolved, and a path that would leave a base, either as sent or as an upstream that
    decodes `%2F` and `\\` or drops path parameters (`..;x/`) would read it, raises `PathEscape`.

    Args:
        rest: the encoded request path below the mount point (see `mounted`); a trailing `/`
            is kept (`clients` strips it from paths unless told by `trailing`)
        bases: the upstream base URLs
    """
    trailing = '/' if rest.endswith('/') else ''
    if rest == '/':
        rest = ''
    relative = './' + _ESCAPE.sub(_unreserved, rest)
    for base in bases:
        prefix = urlsplit(base).path
        final = urls.finish(urls.join(base, relative), trailing)
        if urls.foreign(final, (base,)) or not _under(urlsplit(final).path, prefix):
            raise PathEscape(f'the request path leaves the upstream base {base}: {rest!r}')
        decoded = _dots(unquote(prefix + rest.replace('\\', '/')).replace('\\', '/'))
        if not _under(posixpath.normpath(decoded) + ('/' if decoded.endswith('/') else ''), prefix):
            raise PathEscape(f'the request path leaves the upstream base {base} once decoded: {rest!r}')
    return relative, trailing


def error(status: int, detail: str) -> bytes:
    """Return the gateway's short JSON error body."""
    return json.dumps({'error': http.HTTPStatus(status).phrase, 'status': status, 'detail': detail}).encode()


def _dots(path: str) -> str:
    """Return `path` with `..;x` and `.;x` segments as `..` and `.`, as servlet containers read them."""
    segments = path.split('/')
    return '/'.join(head if (head := segment.split(';', 1)[0]) in ('.', '..') else segment for segment in segments)


def _under(path: str, prefix: str) -> bool:
    return path.startswith(prefix) or path == prefix.rstrip('/')


def _unreserved(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else match.group(0)


def _append(headers: Headers, name: str, value: str) -> Headers:
    """Return `headers` with `value` appended to the comma-separated list of `name`."""
    current = [item for key, item in headers if key.lower() == name.lower()]
    rest = [(key, item) for key, item in headers if key.lower() != name.lower()]
    return [*rest, (name, ', '.join([*current, value]))]


def _node(address: str | None) -> str:
    if not address:
        return 'unknown'
    return f'[{address}]' if ':' in address else address


def _quoted(value: str) -> str:
    if fields.TOKEN.fullmatch(value):
        return value
    return '"' + value.replace('\\', '\\\\').replace('"', '\\"') + '"'
