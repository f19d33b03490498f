"""Errors raised by clients.

Every error is a `clients.Error`, and also the builtin or library exception that users
already catch, so existing `except` clauses keep working::

    Exception
     └── Error
          ├── InvalidURL (ValueError) ........ a base URL or path that cannot be used
          ├── DecodeError (ValueError) ....... a body that does not parse as its content type,
          │    │                                or whose content-encoding cannot be undone
          │    ├── RequestsDecodeError (requests.exceptions.ContentDecodingError)
          │    └── HttpxDecodeError (httpx.DecodingError)
          ├── TokenError (ValueError) ........ an OAuth token response that cannot be used
          ├── PaginationError (ValueError) ... pages that loop or whose items cannot be found
          ├── GraphQLError ................... a GraphQL response with `errors` (sync and async)
          ├── IncompleteBody (OSError) ....... the connection ended before the whole body
          │    ├── RequestsIncompleteBody (requests.exceptions.ChunkedEncodingError)
          │    └── HttpxIncompleteBody (httpx.RemoteProtocolError)
          └── HTTPError ...................... a response with an error status (4xx, 5xx)
               ├── RequestsHTTPError (requests.HTTPError) ....... raised by sync clients
               └── HttpxHTTPError (httpx.HTTPStatusError) ....... raised by async clients

`InvalidURL` and the other `ValueError` branches are programming or input mistakes;
the rest describe what happened on the wire.
"""

from __future__ import annotations

from typing import Any

import httpx
import requests


class Error(Exception):
    """Base class of every error raised by clients."""


class InvalidURL(Error, ValueError):
    """A base URL or path that cannot be used; raised before anything is sent."""


class DecodeError(Error, ValueError):
    """A response body that does not parse as its declared content type."""


class RequestsDecodeError(DecodeError, requests.exceptions.ContentDecodingError):
    """`DecodeError` raised by sync clients for a content-encoding that cannot be undone."""

    def __init__(self, message: str, response: Any = None) -> None:
        requests.exceptions.ContentDecodingError.__init__(self, message, response=response)


class HttpxDecodeError(DecodeError, httpx.DecodingError):
    """`DecodeError` raised by async clients for a content-encoding that cannot be undone."""

    def __init__(self, message: str, request: httpx.Request | None = None) -> None:
        Exception.__init__(self, message)
        self._request = request


class TokenError(Error, ValueError):
    """An OAuth token response without a usable `access_token`."""


class PaginationError(Error, ValueError):
    """Pages that cannot be followed: a next link already fetched, or no recognisable items."""


class GraphQLError(Error):
    """A GraphQL response carrying `errors`; keeps every error and the partial `data`."""

    def __init__(self, errors: list[Any], data: Any = None) -> None:
        self.errors = errors
        self.data = data
        messages = [_message(error) for error in errors]
        more = f' (and {len(messages) - 1} more)' if len(messages) > 1 else ''
        super().__init__((messages[0] if messages else 'GraphQL error') + more)


def _message(error: Any) -> str:
    return str(error.get('message', error)) if isinstance(error, dict) else str(error)


class IncompleteBody(Error, OSError):
    """The connection ended before the whole response body arrived."""


class RequestsIncompleteBody(IncompleteBody, requests.exceptions.ChunkedEncodingError):
    """`IncompleteBody` raised by sync clients."""


class HttpxIncompleteBody(IncompleteBody, httpx.RemoteProtocolError):
    """`IncompleteBody` raised by async clients."""

    def __init__(self, message: str, request: httpx.Request | None = None) -> None:
        Exception.__init__(self, message)
        self._request = request


class HTTPError(Error):
    """A response with an error status; carries `.response`, `.status_code`, `.method`, `.url`."""

    response: Any

    @property
    def status_code(self) -> int:
        """The response's status code."""
        return int(self.response.status_code)


class RequestsHTTPError(HTTPError, requests.HTTPError):
    """`HTTPError` raised by sync clients; also a `requests.HTTPError`."""

    def __init__(self, message: str, response: requests.Response) -> None:
        requests.HTTPError.__init__(self, message, response=response, request=response.request)
        self.method = str(response.request.method)
        self.url = str(response.url)


class HttpxHTTPError(HTTPError, httpx.HTTPStatusError):
    """`HTTPError` raised by async clients; also an `httpx.HTTPStatusError`."""

    def __init__(self, message: str, response: httpx.Response) -> None:
        httpx.HTTPStatusError.__init__(self, message, request=response.request, response=response)
        self.method = response.request.method
        self.url = str(response.url)


# What counts as a failure to reach a host (as opposed to a status the host answered).
TRANSPORT_ERRORS = (OSError, httpx.TransportError)
