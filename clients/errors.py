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
          ├── GraphQLError ................... a GraphQL response with `errors`: .errors .data
          │    ├── RequestsGraphQLError (requests.HTTPError) .... raised by Graph (`Graph.Error`)
          │    └── HttpxGraphQLError (httpx.HTTPError) .......... raised by AsyncGraph (`AsyncGraph.Error`)
          ├── JsonRpcError ................... a JSON-RPC `error` object: .code .message .data
          │    ├── ParseError (-32700), InvalidRequest (-32600), MethodNotFound (-32601),
          │    │   InvalidParams (-32602), InternalError (-32603), ServerError (-32000..-32099)
          │    └── BatchError ................ some calls of a batch failed: .results .errors
          ├── ProtocolError (ValueError) ..... a response that breaks its protocol (e.g. wrong id)
          ├── WebhookError (ValueError) ...... a webhook delivery that fails verification
          ├── AllHostsDown (ConnectionError, LookupError) .. no host of a proxy can take a request
          ├── DeadlineExceeded ............... a request that took longer than its deadline in all
          │    ├── RequestsDeadlineExceeded (requests.exceptions.Timeout)
          │    └── HttpxDeadlineExceeded (httpx.TimeoutException)
          ├── BodyTooLarge ................... a body larger than `max_body`: .limit
          │    ├── RequestsBodyTooLarge (requests.RequestException, as TooManyRedirects is)
          │    └── HttpxBodyTooLarge (httpx.RequestError, as TooManyRedirects is)
          ├── IncompleteBody (OSError) ....... the connection ended before the whole body
          │    ├── RequestsIncompleteBody (requests.exceptions.ChunkedEncodingError)
          │    └── HttpxIncompleteBody (httpx.RemoteProtocolError)
          └── HTTPError ...................... a response with an error status (4xx, 5xx)
               ├── RequestsHTTPError (requests.HTTPError) ....... raised by sync clients
               └── HttpxHTTPError (httpx.HTTPStatusError) ....... raised by async clients

`InvalidURL` and the other `ValueError` branches are programming or input mistakes;
the rest describe what happened on the wire. An error raised after retries carries
`attempts`, the number of attempts made (see `clients.retry`). The `Httpx*` classes are
built (in `clients.aioerrors`) when first used: a sync program never imports httpx for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests

from . import library

if TYPE_CHECKING:
    from .aioerrors import (  # noqa: F401 (what `__getattr__` returns, for type checkers)
        HttpxBodyTooLarge,
        HttpxDeadlineExceeded,
        HttpxDecodeError,
        HttpxGraphQLError,
        HttpxHTTPError,
        HttpxIncompleteBody,
    )

    TRANSPORT_ERRORS: tuple[type[BaseException], ...]


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

    def __reduce__(self) -> Any:
        return type(self), (self.errors, self.data), self.__dict__


class RequestsGraphQLError(GraphQLError, requests.HTTPError):
    """`GraphQLError` raised by sync clients; also a `requests.HTTPError` (an `IOError`), as 1.3's was."""



def _message(error: Any) -> str:
    return str(error.get('message', error)) if isinstance(error, dict) else str(error)


class JsonRpcError(Error):
    """A JSON-RPC error object: `code`, `message` and `data`; `method` and `url` say which call.

    Its text reads `subtract: Method not found (-32601) from POST http://host/rpc`.
    """

    code: int | None = None

    def __init__(self, message: str, code: int | None = None, data: Any = None, *, method: str = '',
                 url: str = '') -> None:
        if code is not None:
            self.code = code
        self.message, self.data, self.method, self.url = message, data, method, url
        called = f'{method}: ' if method else ''
        super().__init__(f'{called}{message} ({self.code}){sent_to(url)}')


def sent_to(url: str) -> str:
    """Return ` from POST <url>` (its secrets redacted) for the message of an error in a JSON-RPC response."""
    from . import urls  # (urls imports this module)

    return f' from {urls.where("POST", url)}' if url else ''


class ParseError(JsonRpcError):
    """-32700: the server could not parse the JSON it received."""

    code = -32700


class InvalidRequest(JsonRpcError):
    """-32600: the JSON sent is not a valid request object."""

    code = -32600


class MethodNotFound(JsonRpcError):
    """-32601: the method does not exist or is not available."""

    code = -32601


class InvalidParams(JsonRpcError):
    """-32602: invalid method parameters."""

    code = -32602


class InternalError(JsonRpcError):
    """-32603: an internal JSON-RPC error."""

    code = -32603


class ServerError(JsonRpcError):
    """-32000 to -32099: an implementation-defined server error."""

    code = -32000


class BatchError(JsonRpcError):
    """Some calls of a JSON-RPC batch failed; `.results` holds every outcome in call order."""

    def __init__(self, results: list[Any], errors: list[JsonRpcError]) -> None:
        Error.__init__(self, f'{len(errors)} of {len(results)} calls failed; first: {errors[0]}')
        self.message = str(self)
        self.code = errors[0].code
        self.data = None
        self.method, self.url = '', errors[0].url
        self.results = results
        self.errors = errors


class ProtocolError(Error, ValueError):
    """A response that breaks its protocol, e.g. a JSON-RPC response with the wrong id."""


class WebhookError(Error, ValueError):
    """A webhook delivery with a missing or wrong signature, or a stale timestamp."""


class DeadlineExceeded(Error):
    """A request whose attempts, waits and body took longer than its `deadline` (see `clients.deadlines`)."""


class RequestsDeadlineExceeded(DeadlineExceeded, requests.exceptions.Timeout):
    """`DeadlineExceeded` raised by sync clients; also a `requests.Timeout`."""



class BodyTooLarge(Error):
    """A response body larger than the client's `max_body`, refused before more of it is read."""

    def __init__(self, where: str, limit: int) -> None:
        Exception.__init__(self, f'{where}: the body is larger than max_body={limit} bytes; '
                                 'raise max_body, or stream it')
        self.where = where
        self.limit = limit


class RequestsBodyTooLarge(BodyTooLarge, requests.exceptions.RequestException):
    """`BodyTooLarge` raised by sync clients."""

    def __init__(self, where: str, limit: int, response: Any = None) -> None:
        requests.exceptions.RequestException.__init__(self, response=response)
        BodyTooLarge.__init__(self, where, limit)



class IncompleteBody(Error, OSError):
    """The connection ended before the whole response body arrived."""


class RequestsIncompleteBody(IncompleteBody, requests.exceptions.ChunkedEncodingError):
    """`IncompleteBody` raised by sync clients."""



class AllHostsDown(Error, ConnectionError, LookupError):
    """Every host of a proxy is down (failed this request, or its circuit is open).

    Carries `failures`, each host's last failure, all named in the message.
    """

    attempts = 1

    def __init__(self, method: str, failures: dict[str, str]) -> None:
        self.method = method
        self.failures = dict(failures)
        from . import urls  # (urls imports this module)

        hosts = '; '.join(f'{url} ({failure})' for url, failure in failures.items())
        super().__init__(urls.redact(f'all hosts are down for {method}: {hosts}'))

    def __reduce__(self) -> Any:
        return type(self), (self.method, self.failures), self.__dict__


class HTTPError(Error):
    """A response with an error status; carries `.response`, `.status_code`, `.method`, `.url`.

    `attempts` is the number of attempts made when retries ended on this status.
    """

    response: Any  # a requests.Response or an httpx.Response (the subclasses say which)
    method: str
    url: str
    attempts = 1

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



def transport_errors() -> tuple[type[BaseException], ...]:
    """Return what counts as a failure to reach a host (as opposed to a status the host answered):
    `OSError`, and `httpx.TransportError` once the httpx library is loaded (none exists before)."""
    httpx = library.loaded()
    return (OSError,) if httpx is None else (OSError, httpx.TransportError)


_ASYNC = frozenset({'HttpxBodyTooLarge', 'HttpxDeadlineExceeded', 'HttpxDecodeError', 'HttpxGraphQLError',
                    'HttpxHTTPError', 'HttpxIncompleteBody'})


def __getattr__(name: str) -> Any:
    """Return the async errors (built with the httpx library on first use) and `TRANSPORT_ERRORS`."""
    if name in _ASYNC:
        from . import aioerrors

        return getattr(aioerrors, name)
    if name == 'TRANSPORT_ERRORS':
        return (OSError, library.httpx.TransportError)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
