"""The async clients' errors: each a `clients.errors` class and the httpx error 1.3's was.

They are built from the httpx library, so `clients.errors` imports this module only when one
is first asked for; they keep `clients.errors` as their module, where pickle finds them.
"""

from __future__ import annotations

from .errors import BodyTooLarge, DeadlineExceeded, DecodeError, GraphQLError, HTTPError, IncompleteBody
from .library import httpx


class HttpxDecodeError(DecodeError, httpx.DecodingError):
    """`DecodeError` raised by async clients for a content-encoding that cannot be undone."""

    def __init__(self, message: str, request: httpx.Request | None = None) -> None:
        Exception.__init__(self, message)
        self._request = request


class HttpxGraphQLError(GraphQLError, httpx.HTTPError):
    """`GraphQLError` raised by async clients; also an `httpx.HTTPError`, as 1.3's was."""


class HttpxDeadlineExceeded(DeadlineExceeded, httpx.TimeoutException):
    """`DeadlineExceeded` raised by async clients; also an `httpx.TimeoutException`."""

    def __init__(self, message: str, request: httpx.Request | None = None) -> None:
        Exception.__init__(self, message)
        self._request = request


class HttpxBodyTooLarge(BodyTooLarge, httpx.RequestError):
    """`BodyTooLarge` raised by async clients."""

    def __init__(self, where: str, limit: int, request: httpx.Request | None = None) -> None:
        BodyTooLarge.__init__(self, where, limit)
        self._request = request


class HttpxIncompleteBody(IncompleteBody, httpx.RemoteProtocolError):
    """`IncompleteBody` raised by async clients."""

    def __init__(self, message: str, request: httpx.Request | None = None) -> None:
        Exception.__init__(self, message)
        self._request = request


class HttpxHTTPError(HTTPError, httpx.HTTPStatusError):
    """`HTTPError` raised by async clients; also an `httpx.HTTPStatusError`."""

    def __init__(self, message: str, response: httpx.Response) -> None:
        httpx.HTTPStatusError.__init__(self, message, request=response.request, response=response)
        self.method = response.request.method
        self.url = str(response.url)


for _error in (HttpxDecodeError, HttpxGraphQLError, HttpxDeadlineExceeded, HttpxBodyTooLarge, HttpxIncompleteBody,
               HttpxHTTPError):
    _error.__module__ = 'clients.errors'
