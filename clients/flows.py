"""Multi-step flows written once as generators, driven by the sync and async shells.

A flow yields `Call` steps; the shell performs each as a decoded request (status checked)
and sends back a `Reply`. A flow may yield a `Pause` to hand a value to the caller (the
body of a `with` block) and be resumed later. The flow's return value is the result.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import TokenError


@dataclass
class Call:
    """A request a flow asks the shell to make."""

    method: str
    path: object
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Reply:
    """What the shell sends back for a `Call`: decoded content, response headers, final URL."""

    content: Any
    headers: Mapping[str, str]
    url: str = ''


@dataclass
class Pause:
    """A value handed to the caller while the flow waits to be resumed."""

    value: Any


Flow = Generator[Call | Pause, Any, Any]


def strong_etag(headers: Mapping[str, str]) -> str | None:
    """Return the response's `ETag` if it is strong, else `None`.

    `If-Match` and `If-Range` compare entity tags strongly (RFC 9110 13.1.1, 13.1.5): a weak
    tag (`W/"..."`, as servers make when they compress) never matches, so it is never sent.
    """
    etag = (headers.get('ETag') or '').strip()
    return etag if etag and not etag.startswith(('W/', 'w/')) else None


def conditional(headers: Mapping[str, str]) -> dict[str, str]:
    """Return the precondition headers for writing back what a GET returned.

    `If-Match` with a strong `ETag`, and `If-Unmodified-Since` with the `Last-Modified`
    (which a server evaluates when there is no `If-Match`); nothing without either, so
    the write is then unconditional, as in 1.3.
    """
    found = {}
    if etag := strong_etag(headers):
        found['If-Match'] = etag
    if headers.get('Last-Modified'):
        found['If-Unmodified-Since'] = headers['Last-Modified']
    return found


def update(path: object, callback: Callable[..., Any] | None, json: dict[str, Any]) -> Flow:
    """PATCH `json`; or, with a callback, GET then conditionally PUT `callback(current, **json)`."""
    if callback is None:
        reply = yield Call('PATCH', path, {'json': json})
        return reply.content
    current = yield Call('GET', path)
    body = callback(current.content, **json)
    reply = yield Call('PUT', path, {'json': body, 'headers': conditional(current.headers)})
    return reply.content


def updating(path: object, kwargs: dict[str, Any]) -> Flow:
    """GET a JSON value, pause while the caller edits it, then PUT it back if it changed."""
    current = yield Call('GET', path, kwargs)
    original = copy.deepcopy(current.content)
    yield Pause(current.content)
    if current.content == original:
        return None
    headers = dict(kwargs.get('headers') or {}, **conditional(current.headers))
    reply = yield Call('PUT', path, {**kwargs, 'json': current.content, 'headers': headers})
    return reply.content


def authorization(token: Any) -> str:
    """Return the Authorization header value for an OAuth token response."""
    if not isinstance(token, Mapping) or not isinstance(token.get('access_token'), str):
        raise TokenError(f'token response has no access_token: {_redacted(token)!r}')
    kind = token.get('token_type') or 'Bearer'
    if not isinstance(kind, str):
        raise TokenError(f'token_type must be a string, not {type(kind).__name__}')
    kind = 'Bearer' if kind.lower() == 'bearer' else kind
    value = f'{kind} {token["access_token"]}'
    if any(char in value for char in '\r\n\0'):
        raise TokenError('token contains a line break or NUL, refusing to use it as a header')
    return value


def authorize(path: object, kwargs: dict[str, Any]) -> Flow:
    """Fetch an OAuth token (POST when a body is given, else GET); return (token, header)."""
    method = 'POST' if 'json' in kwargs or 'data' in kwargs else 'GET'
    reply = yield Call(method, path, kwargs)
    return reply.content, authorization(reply.content)


def _secret(name: str) -> bool:
    return name.lower().endswith('token') or any(word in name.lower() for word in ('secret', 'password'))


def _redacted(token: Any) -> Any:
    if isinstance(token, Mapping):
        return {name: ('...' if _secret(str(name)) else value) for name, value in token.items()}
    return type(token).__name__
