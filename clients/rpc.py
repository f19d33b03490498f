"""Remote procedure envelopes: call defaults and GraphQL results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import DecodeError, GraphQLError


def merge(defaults: Mapping[str, Any], json: Mapping[str, Any]) -> dict[str, Any]:
    """Return the JSON body of a call: the defaults updated with the call's fields."""
    return {**defaults, **json}


def graphql_data(result: Any, error: type[GraphQLError] = GraphQLError) -> Any:
    """Return a GraphQL response's `data`, raising `error` if it carries `errors`."""
    if not isinstance(result, Mapping):
        raise DecodeError(f'GraphQL response is not a JSON object: {str(result)[:200]!r}')
    errors = result.get('errors')
    if errors:
        raise error(list(errors), result.get('data'))
    return result.get('data')
