"""URL rules: base URLs, joining paths and navigation keys, origins and credentials."""

from __future__ import annotations

import functools
import hashlib
import hmac
import http.cookiejar
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import urllib3

from . import fields
from .errors import InvalidURL

# Headers that carry a client's credentials; they never leave their origin.
CREDENTIAL_HEADERS = ('Authorization', 'Cookie', 'Proxy-Authorization')
# Query parameters whose values are secret, by name (any name containing one of these, in
# any case); `ApiKey(query=...)` adds its parameter's name. Their values never appear in a
# message or a log: see `redact`.
SECRET_WORDS = ('key', 'token', 'secret', 'passw', 'pwd', 'sig', 'auth', 'credential', 'session', 'jwt')
SECRET_PARAMS: set[str] = set()

Origin = tuple[str, str, int | None]

_ABSOLUTE = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*://')
_SCHEME_LIKE = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*:')
_AUTHORITY = re.compile(r'([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)')
_CONTROL = re.compile(r'[\x00-\x1f\x7f]')
_DEFAULT_PORTS = {'http': 80, 'https': 443}
_ESCAPE = re.compile(r'%([0-9A-Fa-f]{2})')
_UNRESERVED = frozenset('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~')
# A key that needs no checks: segments of unreserved characters, none starting with a dot.
_PLAIN_KEY = re.compile(r'[A-Za-z0-9_~-][A-Za-z0-9._~-]*(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*/?')
_USERINFO = re.compile(r'(?i)\b([a-z][a-z0-9+.-]*://)([^/?#@\s\'"]*)@')
# What a cookie's value may not hold: what ends it in a `Cookie` header (`;`, `,`, a line
# break) and what a header cannot carry as it is (other control and non-ASCII characters).
_COOKIE_BREAK = re.compile(r'[^\x20-\x2b\x2d-\x3a\x3c-\x7e]')
# (a value ends before a `:` that ends a URL in a message, `GET <url>: refused`, so redacting is idempotent)
_PARAM = re.compile(r'([?&;])([^=&#\s\'"?;]+)=((?:[^&#\s\'"<>):]|:(?!\s|$))*)')


def absolute(url: str, what: str = 'URL') -> str:
    """Return `url` checked as an absolute http(s) URL with a host that every parser reads alike."""
    if not isinstance(url, str):
        raise InvalidURL(f'{what} must be a string, not {type(url).__name__}: {url!r}')
    if url != url.strip() or not _ABSOLUTE.match(url) or urlsplit(url).scheme.lower() not in _DEFAULT_PORTS:
        hint = f'; did you mean https://{url}?' if url and url == url.strip() and '://' not in url else ''
        raise InvalidURL(f'{what} must be absolute http(s) with a host: {redact(repr(url))}{hint}')
    origin(url, what)
    return url


def checked(path: object, what: str = 'path') -> str:
    """Return `path` as text, refusing what URL parsers drop or read differently: control
    characters (tabs and line breaks too) anywhere, and white space at the start."""
    text = str(path)
    if not text.isprintable() or text[:1].isspace():
        raise InvalidURL(f'{what} has white space or control characters that URL parsers drop or read '
                         f'differently: {redact(repr(text))}')
    return text


def base(url: str) -> str:
    """Return `url` checked as an absolute http(s) base URL, ending with `/`."""
    parts = urlsplit(absolute(url, 'base URL'))
    if parts.query or parts.fragment:
        raise InvalidURL(f'base URL must not have a query or fragment (pass params= instead): {redact(repr(url))}')
    return url.rstrip('/') + '/'


def key(name: object) -> str:
    """Return a navigation key (attribute, item or `/`) as a path that stays under the base URL.

    A key is one or more path segments below the base (`users`, `users/3`, `group%2Fproject`),
    optionally followed by a query (`?`) or fragment (`#`). Non-string keys are converted with
    `str`; a backslash is percent-encoded; a key that would read as a scheme (`users:1`) is
    made relative. Raises `InvalidURL` for a key that could leave the base: one starting with
    `/`, with an empty segment (`a//b`), or with a `.` or `..` segment in any spelling a
    server may decode (`%2e%2e`, `..%2F`, `..\\`, `..;x`); and for control characters or
    leading white space.
    """
    path = str(name)
    if _PLAIN_KEY.fullmatch(path):
        return path
    path = checked(path, 'navigation key').replace('\\', '%5C').removeprefix('./')  # (what `key` gives `users:1`)
    segments = re.split('[?#]', path, maxsplit=1)[0].split('/')
    if path.startswith('/') or '' in segments[:-1]:
        raise InvalidURL(f'a navigation key is a path below the base URL, without empty segments: {path!r} '
                         "(use get('/x') for a path from the host root)")
    for segment in segments:
        if any(part.split(';', 1)[0] in ('.', '..') for part in re.split(r'[/\\]', _decoded(segment))):
            raise InvalidURL(f'a navigation key may not have . or .. segments, which leave the base URL: {path!r}')
    if _SCHEME_LIKE.match(path):
        return './' + path
    return path


def _decoded(text: str) -> str:
    """Return `text` percent-decoded until nothing changes (what a server that decodes repeatedly sees)."""
    while (decoded := unquote(text)) != text:
        text = decoded
    return text


def absolute_url(path: object) -> bool:
    """Return whether `path` is an absolute URL (with a scheme and `//`)."""
    return bool(_ABSOLUTE.match(str(path)))


def join(url: str, path: object = '') -> str:
    """Return `path` resolved against base `url` with urljoin semantics.

    An absolute http(s) URL replaces the base, `/x` starts from the host root, anything
    else is relative; text that merely looks like a scheme (`users:1`) stays a path.
    Percent-encoded unreserved characters are decoded first (RFC 3986 6.2.2.2), so `%2e%2e`
    is the `..` every server reads it as. Control characters and leading white space, which
    URL parsers drop, raise `InvalidURL`.
    """
    path = checked(path).replace('\\', '%5C')
    if '%' in path:
        path = _ESCAPE.sub(_unreserved, path)
    if _plain(url, path):
        return url + path  # what urljoin gives, without its cost on every request
    if path.startswith('./') and _plain(url, path[2:]):
        return url + path[2:]  # (urljoin drops the `./`: a forwarder's paths start with one)
    if not _ABSOLUTE.match(path) and not path.startswith('//') and _SCHEME_LIKE.match(path):
        path = './' + path
    return urljoin(url, path)


def _plain(url: str, path: str) -> bool:
    """Whether urljoin would just append `path` to `url`: a directory URL without query or
    fragment or empty segments, and a relative path with no colon, dot segment, `//`, or empty
    query or fragment."""
    return (
        url.endswith('/') and '?' not in url and '#' not in url and '//' not in url.partition('://')[2]
        and not path.startswith(('/', '.')) and ':' not in path and '/.' not in path and '//' not in path
        and not path.endswith(('?', '#')) and '?#' not in path  # (urljoin drops an empty query or fragment)
    )


def child(url: str, path: object) -> str:
    """Return the base URL of a derived client at `path` under `url`."""
    return _child(url, str(path))


@functools.lru_cache(maxsize=1024)  # navigation derives the same children over and over
def _child(url: str, path: str) -> str:
    return base(join(url, path))


def finish(url: str, trailing: str = '') -> str:
    """Return `url` with any trailing `/` stripped from its path and `trailing` appended."""
    stripped = url.rstrip('/')
    if '?' not in url and '#' not in url and url.count('/') > 2 and (stripped.count('/') > 2 or not trailing):
        return stripped + trailing  # the path is all that follows the host
    parts = urlsplit(url)
    path = parts.path.rstrip('/') + trailing
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def _unreserved(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else match.group(0)


@functools.lru_cache(maxsize=1024)  # called for the same URLs over and over (bases, redirects)
def origin(url: str, what: str = 'URL') -> Origin:
    """Return the (scheme, host, port) origin of `url` as the transports will connect to it.

    The one place where a request's origin is decided, for every credential decision. An
    http(s) URL is read by each parser a transport uses (urllib3's for requests, httpx's for
    httpx and, through httpx's normalized URL, aiohttp) and by `urlsplit`; where they could
    disagree (a backslash, white space or control characters in the authority, a
    percent-encoded host, hosts or ports read differently) it raises `InvalidURL`, so such a
    URL is never sent. Hosts are lower-case ASCII (IDNA), default ports are filled in; a URL
    that is not http(s) with an authority has no host (`''`), so it is no client's origin.
    """
    found = _AUTHORITY.match(url)
    scheme = found.group(1).lower() if found else urlsplit(url).scheme.lower()
    if found is None or scheme not in _DEFAULT_PORTS:
        return scheme, '', None
    authority = found.group(2)
    if _CONTROL.search(url):
        raise InvalidURL(f'{what} has control characters, which URL parsers drop or read differently: '
                         f'{redact(repr(url))}')
    if '\\' in authority or any(char.isspace() for char in authority):
        raise InvalidURL(f'{what} has white space or a backslash in its host, which URL parsers read '
                         f'differently: {redact(repr(url))}')
    from .library import httpx  # (imported on first use: a sync program loads only its URL parser)

    try:
        parts = urlsplit(url)
        seen = {(parts.hostname or '', parts.port)} if authority.isascii() else set()
        parsed = urllib3.util.parse_url(url)
        seen.add(((parsed.host or '').strip('[]').lower(), parsed.port))
        other = httpx.URL(url)
        seen.add((other.raw_host.decode('ascii').lower(), other.port))
    except (ValueError, urllib3.exceptions.LocationParseError, httpx.InvalidURL) as exc:
        raise InvalidURL(f'{what} has an invalid host or port: {redact(repr(url))}') from exc
    default = _DEFAULT_PORTS[scheme]
    normalized = {(host, default if port is None else port) for host, port in seen}
    if len(normalized) != 1:
        raise InvalidURL(f'{what} has a host that URL parsers read differently: {redact(repr(url))}')
    host, port = normalized.pop()
    if not host:
        raise InvalidURL(f'{what} must be absolute http(s) with a host: {redact(repr(url))}')
    return scheme, host, port


@functools.lru_cache(maxsize=256)
def _root(base: str) -> str:
    """Return `scheme://authority/` of a base URL: every URL starting with it has its origin."""
    found = _AUTHORITY.match(base)
    return found.group(0) + '/' if found else base


def anonymous(url: str) -> str:
    """Return `url` without the userinfo of its authority (`user:password@`): the credentials it carries."""
    found = _AUTHORITY.match(url)
    if found is None or '@' not in found.group(2):
        return url
    return f'{found.group(1)}://{found.group(2).rpartition("@")[2]}{url[found.end():]}'


def plain_split(url: str) -> tuple[str, str] | None:
    """Split `url` into its `scheme://authority/` and the rest, when the rest is plain segments
    (see `key`: unreserved characters, no dot segment, no query or fragment); else None."""
    found = _AUTHORITY.match(url)
    if found is None or url[found.end():found.end() + 1] != '/':
        return None
    rest = url[found.end() + 1:]
    return (url[:found.end() + 1], rest) if not rest or _PLAIN_KEY.fullmatch(rest) else None


def foreign(url: str, bases: Iterable[str]) -> bool:
    """Return whether `url` (an absolute URL about to be sent) is outside every origin of `bases`.

    A URL that starts with a base's `scheme://authority/` has that base's origin (no parser
    reads an authority past its first `/`); any other is read by `origin`, which refuses one
    that parsers could read two ways.
    """
    bases = list(bases)
    if any(url.startswith(_root(base)) for base in bases):
        return False
    return origin(url) not in {origin(base) for base in bases}


def redact(text: str) -> str:
    """Return `text` (a URL, or a message with URLs in it) with its secrets replaced by `***`:
    the password of a URL's userinfo (or a user name alone, often a token) and the values of
    query parameters whose names say they are secret (`SECRET_WORDS`, `SECRET_PARAMS`)."""
    if '@' in text:
        text = _USERINFO.sub(_userinfo, text)
    if '=' in text:
        text = _PARAM.sub(_param, text)
    return text


def digest(secret: bytes, *parts: bytes) -> str:
    """Return the hex HMAC-SHA256, keyed with `secret`, of `parts` (each length-prefixed, so no
    two sequences of parts give the same input): how credentials are named where they are kept."""
    mac = hmac.new(secret, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(len(part).to_bytes(8, 'big'))
        mac.update(part)
    return mac.hexdigest()


def where(method: object, url: object) -> str:
    """Return `METHOD url` for a message, the URL's secrets redacted."""
    return f'{method} {redact(str(url))}'


def _userinfo(match: re.Match[str]) -> str:
    user, colon, _ = match.group(2).partition(':')
    return f'{match.group(1)}{user}:***@' if colon else f'{match.group(1)}***@'


def _param(match: re.Match[str]) -> str:
    name = unquote(match.group(2)).lower()
    if name in SECRET_PARAMS or any(word in name for word in SECRET_WORDS):
        return f'{match.group(1)}{match.group(2)}=***'
    value = decoded = match.group(3)
    while (once := unquote(decoded)) != decoded:
        decoded = once
    if decoded != value and redact(decoded) != decoded:  # an encoded URL with secrets of its own
        return f'{match.group(1)}{match.group(2)}=***'
    return match.group(0)


def cookie(url: str, name: str, value: str) -> http.cookiejar.Cookie:
    """Return a cookie for the jar of a client at base `url`, bound to that origin's host and
    port (and `Secure` for https), so that no redirect or absolute URL takes it elsewhere.

    (Cookie jars match a host-only cookie's host by domain, so subdomains of the host get it
    too, as they get cookies the server sets.) A name that is not a token, or a value that is
    not printable ASCII, holds `;` or `,` (which would end the cookie and start another) or has
    spaces at either end (which headers drop), raises.
    """
    return cookies([url], name, value)[0]


def cookies(bases: Iterable[str], name: str, value: str) -> list[http.cookiejar.Cookie]:
    """Return the cookies for the jar of a client at `bases` (a proxy's hosts), bound as `cookie`
    binds one: one per host, for every port (and scheme: `Secure` only if all are https) of it."""
    _check_cookie(name, value)
    bindings: dict[str, tuple[set[int], bool]] = {}
    for url in bases:
        domain, ports, secure = _binding(url)
        known, all_secure = bindings.get(domain, (set(), True))
        bindings[domain] = known | ports, all_secure and secure
    return [
        http.cookiejar.Cookie(
            version=0, name=name, value=value, port=','.join(map(str, sorted(ports))), port_specified=True,
            domain=domain, domain_specified=False, domain_initial_dot=False, path='/', path_specified=True,
            secure=secure, expires=None, discard=True, comment=None, comment_url=None, rest={},
        )
        for domain, (ports, secure) in bindings.items()
    ]


def _binding(url: str) -> tuple[str, set[int], bool]:
    """Return the domain, ports and `Secure` flag that bind a cookie to the origin of `url`."""
    scheme, host, port = origin(url)
    name_of_host = f'[{host}]' if ':' in host else host
    domain = name_of_host if '.' in name_of_host else name_of_host + '.local'  # how jars name dotless hosts
    # Jars take a URL without a port as port 80, whatever its scheme (the Secure flag keeps an
    # https cookie off http); an https URL may also name 443. (They cannot read the port of an
    # IPv6 host at all, and take it as 80 too: there the cookie is bound to the host alone.)
    if port == _DEFAULT_PORTS[scheme] or ':' in host:
        return domain, ({80, 443} if scheme == 'https' else {80}), scheme == 'https'
    return domain, {port or 0}, scheme == 'https'


def _check_cookie(name: object, value: object) -> None:
    """Refuse a cookie that would not reach the server as one name and one value (its value is secret)."""
    if not isinstance(name, str) or not isinstance(value, str):
        raise TypeError(f'a cookie name and value must be strings, not {type(name).__name__} and '
                        f'{type(value).__name__} (cookie {name!r})')
    if not fields.TOKEN.fullmatch(name):
        raise ValueError(f'a cookie name must be a token (letters, digits and !#$%&\'*+-.^_`|~): {name!r}')
    if _COOKIE_BREAK.search(value) or value != value.strip(' '):
        raise ValueError(f'the value of cookie {name!r} may hold printable ASCII only, without ";" or "," '
                         '(which would end the cookie and start another) or spaces at either end')


def credentials(client_headers: Mapping[str, Any], request_headers: object) -> list[str]:
    """Return the client's credential header names that a request does not set itself."""
    own = {name.lower() for name in _names(request_headers)}
    return [
        name
        for name in CREDENTIAL_HEADERS
        if name in client_headers and name.lower() not in own
    ]


def _names(headers: object) -> Iterable[str]:
    if headers is None:
        return ()
    if isinstance(headers, Mapping):
        return headers.keys()
    return (name for name, _ in headers)  # type: ignore[attr-defined]
