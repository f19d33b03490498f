"""URL rules: base URLs, joining paths and navigation keys, origins and credentials."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from .errors import InvalidURL

# Headers that carry a client's credentials; they never leave their origin.
CREDENTIAL_HEADERS = ('Authorization', 'Cookie', 'Proxy-Authorization')

_ABSOLUTE = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*://')
_SCHEME_LIKE = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*:')
_DEFAULT_PORTS = {'http': 80, 'https': 443}


def absolute(url: str, what: str = 'URL') -> str:
    """Return `url` checked as an absolute http(s) URL with a host."""
    if not isinstance(url, str):
        raise InvalidURL(f'{what} must be a string, not {type(url).__name__}: {url!r}')
    parts = urlsplit(url)
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        hint = f'; did you mean https://{url}?' if not parts.scheme and url else ''
        raise InvalidURL(f'{what} must be absolute http(s) with a host: {url!r}{hint}')
    try:
        parts.port  # noqa: B018 (validates the port)
    except ValueError as exc:
        raise InvalidURL(f'{what} has an invalid port: {url!r}') from exc
    if any(char.isspace() or ord(char) < 32 for char in parts.netloc):
        raise InvalidURL(f'{what} has white space or control characters in its host: {url!r}')
    return url


def base(url: str) -> str:
    """Return `url` checked as an absolute http(s) base URL, ending with `/`."""
    parts = urlsplit(absolute(url, 'base URL'))
    if parts.query or parts.fragment:
        raise InvalidURL(f'base URL must not have a query or fragment (pass params= instead): {url!r}')
    return url.rstrip('/') + '/'


def key(name: object) -> str:
    """Return a navigation key (attribute or item) as a path that stays under the base URL.

    Non-string keys are converted with `str`; a backslash is percent-encoded; a key that
    would read as a scheme (`users:1`) or a network path (`//host`) is made relative.
    """
    path = str(name).replace('\\', '%5C')
    if path.startswith('//') or _SCHEME_LIKE.match(path):
        return './' + path
    return path


def absolute_url(path: object) -> bool:
    """Return whether `path` is an absolute URL (with a scheme and `//`)."""
    return bool(_ABSOLUTE.match(str(path)))


def join(url: str, path: object = '') -> str:
    """Return `path` resolved against base `url` with urljoin semantics.

    An absolute http(s) URL replaces the base, `/x` starts from the host root, anything
    else is relative; text that merely looks like a scheme (`users:1`) stays a path.
    """
    path = str(path).replace('\\', '%5C')
    if _plain(url, path):
        return url + path  # what urljoin gives, without its cost on every request
    if not _ABSOLUTE.match(path) and not path.startswith('//') and _SCHEME_LIKE.match(path):
        path = './' + path
    return urljoin(url, path)


def _plain(url: str, path: str) -> bool:
    """Whether urljoin would just append `path` to `url`: a directory URL without query or
    fragment or empty segments, and a relative path with no colon, dot segment or `//`."""
    return (
        url.endswith('/') and '?' not in url and '#' not in url and '//' not in url.partition('://')[2]
        and not path.startswith(('/', '.')) and ':' not in path and '/.' not in path and '//' not in path
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


@functools.lru_cache(maxsize=1024)  # called for the same base URLs on every request
def origin(url: str) -> tuple[str, str, int | None]:
    """Return the (scheme, host, port) origin of `url`, with default ports filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or ''), port or _DEFAULT_PORTS.get(scheme)


def foreign(url: str, bases: Iterable[str]) -> bool:
    """Return whether `url` is outside every origin of `bases`."""
    return origin(url) not in {origin(base) for base in bases}


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
