"""JSON-RPC 2.0: request envelopes, ids, reading results and errors, and batches."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from . import content
from .errors import (
    BatchError,
    InternalError,
    InvalidParams,
    InvalidRequest,
    JsonRpcError,
    MethodNotFound,
    ParseError,
    ProtocolError,
    ServerError,
    sent_to,
)
from .navigation import RESERVED, missing

VERSION = '2.0'
HTTP_ERROR = object()  # marker: the response is an HTTP error, not a JSON-RPC response
CODES: dict[int, type[JsonRpcError]] = {
    cls.code: cls for cls in (ParseError, InvalidRequest, MethodNotFound, InvalidParams, InternalError)
}


class Ids:
    """Thread-safe request ids: 1, 2, 3, ..."""

    def __init__(self) -> None:
        self.counter = itertools.count(1)
        self.lock = threading.Lock()

    def __next__(self) -> int:
        with self.lock:
            return next(self.counter)


class Request(dict[str, Any]):
    """A JSON-RPC request envelope; without an `id` it is a notification."""


def request(method: str, args: Iterable[Any] = (), kwargs: Mapping[str, Any] | None = None,
            id: int | str | None = None) -> Request:
    """Return a request envelope; params are positional or named, not both."""
    if not isinstance(method, str) or not method:
        raise ValueError(f'a JSON-RPC method name must be a non-empty string, not {method!r}')
    args, kwargs = list(args), dict(kwargs or {})
    if args and kwargs:
        raise ValueError(f'JSON-RPC params are positional or named, not both: {method}{(*args,)} {kwargs}')
    message = Request(jsonrpc=VERSION, method=method)
    if args or kwargs:
        message['params'] = args or kwargs
    if id is not None:
        message['id'] = id
    return message


def call(method: str, *args: Any, **kwargs: Any) -> Request:
    """Return a call for a batch (its id is assigned when the batch is sent)."""
    message = request(method, args, kwargs)
    message['id'] = None
    return message


def notification(method: str, *args: Any, **kwargs: Any) -> Request:
    """Return a notification for a batch: no id, no response."""
    return request(method, args, kwargs)


def error(obj: Any, method: str = '', url: str = '') -> JsonRpcError:
    """Return the typed error for a JSON-RPC error object, naming the `method` called at `url`."""
    if not isinstance(obj, Mapping) or not isinstance(obj.get('code'), int):
        return JsonRpcError(f'malformed error object: {obj!r}', method=method, url=url)
    code, message = obj['code'], str(obj.get('message', ''))
    cls = CODES.get(code, ServerError if -32099 <= code <= -32000 else JsonRpcError)
    return cls(message, code, obj.get('data'), method=method, url=url)


def read(status: int, content_type: str | None, body: bytes, where: str = '',
         as_kind: content.Kind | None = None) -> Any:
    """Return a decoded JSON-RPC response, or `HTTP_ERROR` if it must raise as HTTP.

    An error status is read as JSON-RPC only when its JSON body is a JSON-RPC response.
    `as_kind` overrides how the body decodes (see `content.decode`).
    """
    if status < 400:
        return content.decode(body, content_type, status, where, as_kind)
    if (as_kind or content.kind(content_type)) == 'json':
        try:
            decoded = content.decode(body, content_type, status, where, as_kind)
        except ValueError:
            return HTTP_ERROR
        if _is_response(decoded) or (isinstance(decoded, list) and decoded and all(map(_is_response, decoded))):
            return decoded
    return HTTP_ERROR


def _is_response(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get('jsonrpc') == VERSION and ('result' in value or 'error' in value)


def result(response: Any, id: int | str, method: str = '', url: str = '') -> Any:
    """Return the `result` of the response to request `id`; raise its error or a protocol error.

    Errors name the `method` called and the `url` that answered, when given.
    """
    called, at = f'{method}: ' if method else '', sent_to(url)
    if not isinstance(response, Mapping):
        raise ProtocolError(f'{called}JSON-RPC response is not an object: {str(response)[:200]!r}{at}')
    if response.get('jsonrpc', VERSION) != VERSION:
        raise ProtocolError(f'{called}unsupported JSON-RPC version {response.get("jsonrpc")!r}{at}')
    if 'error' in response:
        if response.get('id') not in (id, None):
            raise ProtocolError(
                f'{called}error response id {response.get("id")!r} does not match request id {id!r}{at}')
        raise error(response['error'], method, url)
    if 'id' not in response:
        raise ProtocolError(f'{called}JSON-RPC response has no id (request id {id!r}){at}')
    if response['id'] != id:
        raise ProtocolError(f'{called}response id {response["id"]!r} does not match request id {id!r}{at}')
    if 'result' not in response:
        raise ProtocolError(f'{called}JSON-RPC response to id {id!r} has neither result nor error{at}')
    return response['result']


def number(calls: Iterable[Request], ids: Ids) -> list[Request]:
    """Return the batch's envelopes, giving each call (not notification) a fresh id."""
    numbered = []
    for message in calls:
        if not isinstance(message, Request):
            raise TypeError(f'batch items are jsonrpc.call(...) or jsonrpc.notification(...), not {message!r}')
        message = Request(message)
        if 'id' in message:
            message['id'] = next(ids)
        numbered.append(message)
    if not numbered:
        raise ValueError('a JSON-RPC batch needs at least one call')
    return numbered


def results(calls: list[Request], response: Any, url: str = '') -> list[Any]:
    """Return the batch's results in call order (`None` for notifications), matched by id.

    A response for an unknown id, a duplicate, or a missing response is a `ProtocolError`;
    failed calls raise one `BatchError` that holds every outcome. Errors name the `url` that
    answered, and each failed call its method.
    """
    ids = [message['id'] for message in calls if 'id' in message]
    if not ids:
        return [None] * len(calls)
    at = sent_to(url)
    if isinstance(response, Mapping):
        if 'error' in response:
            raise error(response['error'], url=url)
        raise ProtocolError(f'batch response is not a list: {str(response)[:200]!r}{at}')
    if not isinstance(response, list):
        raise ProtocolError(f'batch response is not a list: {str(response)[:200]!r}{at}')
    by_id: dict[Any, Any] = {}
    for item in response:
        key = item.get('id') if isinstance(item, Mapping) else None
        if key is None and isinstance(item, Mapping) and 'error' in item:
            raise error(item['error'], url=url)  # a call the server could not even read
        if key not in ids:
            raise ProtocolError(f'batch response has an unexpected id {key!r} (sent {ids}){at}')
        if key in by_id:
            raise ProtocolError(f'batch response repeats id {key!r}{at}')
        by_id[key] = item
    missing = [key for key in ids if key not in by_id]
    if missing:
        raise ProtocolError(f'batch response lacks ids {missing}{at}')
    outcomes: list[Any] = []
    for message in calls:
        if 'id' not in message:
            outcomes.append(None)
            continue
        try:
            outcomes.append(result(by_id[message['id']], message['id'], message['method'], url))
        except JsonRpcError as exc:
            outcomes.append(exc)
    errors = [outcome for outcome in outcomes if isinstance(outcome, JsonRpcError)]
    if errors:
        raise BatchError(outcomes, errors)
    return outcomes


_R_co = TypeVar('_R_co', covariant=True)
_R = TypeVar('_R')


class Invoker(Protocol[_R_co]):
    """A JSON-RPC client: `invoke` returns a result (sync) or a coroutine of it (async)."""

    def invoke(self, method: str, args: Any = ..., kwargs: Any = ...) -> _R_co: ...


class Methods:
    """Mixin for JSON-RPC clients: attributes and items are remote methods; ids are per client.

    Args:
        url: base URL
        json: defaults of plain `Remote` calls
        **kwargs: client options
    """

    def __init__(self, url: str, json: Any = (), **kwargs: Any) -> None:
        super().__init__(url, json, **kwargs)  # type: ignore[call-arg]
        self.ids = Ids()

    def __getattr__(self: Invoker[_R], name: str) -> Method[_R]:
        """Return the remote method `name`."""
        if name.startswith('_') or name in RESERVED:
            raise missing(self, name)
        return Method(self, name)

    def __getitem__(self: Invoker[_R], name: str) -> Method[_R]:
        """Return the remote method `name`, whatever the name."""
        return Method(self, name)


class Method(Generic[_R]):
    """A remote method bound to its client: call it, or reach `namespace.method` by attribute."""

    def __init__(self, client: Invoker[_R], name: str) -> None:
        self.client = client
        self.name = name

    def __repr__(self) -> str:
        return f'<JSON-RPC method {self.name!r} of {self.client!r}>'

    def __getattr__(self, name: str) -> Method[_R]:
        if name.startswith('_'):
            raise AttributeError(name)
        return Method(self.client, f'{self.name}.{name}')

    def __call__(self, *args: Any, **kwargs: Any) -> _R:
        """Call the method: the result (sync) or an awaitable of it (async)."""
        return self.client.invoke(self.name, args, kwargs)
