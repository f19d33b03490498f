"""GraphQL over HTTP: request bodies and reading responses (GraphQL-over-HTTP spec)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import content
from .errors import DecodeError, GraphQLError

RESPONSE_TYPE = 'application/graphql-response+json'
# Prefer the spec's media type, whose error statuses still carry a GraphQL response.
ACCEPT = f'{RESPONSE_TYPE}, application/json;q=0.9'
HTTP_ERROR = object()  # marker: the response is an HTTP error, not a GraphQL result


def body(query: str, operation_name: str | None, variables: Mapping[str, Any]) -> dict[str, Any]:
    """Return the JSON body of a GraphQL request."""
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f'a GraphQL query must be a non-empty string, not {query!r}')
    payload: dict[str, Any] = {'query': query, 'variables': dict(variables)}
    if operation_name is not None:
        payload['operationName'] = operation_name
    return payload


def result(status: int, content_type: str | None, data: bytes, where: str = '',
           as_kind: content.Kind | None = None) -> Any:
    """Return a response's decoded GraphQL result, or `HTTP_ERROR` if it must raise as HTTP.

    A success status is always read. An error status is read only with the
    `application/graphql-response+json` type and a body that carries `errors`; with
    `application/json` (or anything else) it is an HTTP error. `as_kind` overrides how the
    body decodes (see `content.decode`).
    """
    if status < 400:
        return content.decode(data, content_type, status, where, as_kind)
    if content.parse(content_type)[0] == RESPONSE_TYPE:
        try:
            decoded = content.decode(data, content_type, status, where, as_kind)
        except DecodeError:
            return HTTP_ERROR
        if isinstance(decoded, Mapping) and decoded.get('errors'):
            return decoded
    return HTTP_ERROR


def data(response: Any, error: type[GraphQLError] = GraphQLError) -> Any:
    """Return a GraphQL response's `data`, raising `error` (with every error) if it has `errors`."""
    if not isinstance(response, Mapping):
        raise DecodeError(f'GraphQL response is not a JSON object: {str(response)[:200]!r}')
    errors = response.get('errors')
    if errors:
        raise error(list(errors), response.get('data'))
    return response.get('data')
