"""High-level HTTP clients: navigate resources, call RPC and GraphQL, spread load over hosts.

Sync classes are `requests.Session` subclasses; async twins are `httpx.AsyncClient`
subclasses.
"""

from collections.abc import Callable
from typing import Any

from .aio import AsyncClient, AsyncGraph, AsyncProxy, AsyncRemote, AsyncResource
from .base import Client, Graph, Proxy, Remote, Resource
from .errors import (
    DecodeError,
    Error,
    GraphQLError,
    HTTPError,
    IncompleteBody,
    InvalidURL,
    PaginationError,
    TokenError,
)

__version__ = '2.0.0.dev0'


def singleton(*args: Any, **kwargs: Any) -> Callable[[type], Any]:
    """Class decorator: replace the class with its one instance, built with these arguments."""
    return lambda cls: cls(*args, **kwargs)


__all__ = [
    'AsyncClient',
    'AsyncGraph',
    'AsyncProxy',
    'AsyncRemote',
    'AsyncResource',
    'Client',
    'DecodeError',
    'Error',
    'Graph',
    'GraphQLError',
    'HTTPError',
    'IncompleteBody',
    'InvalidURL',
    'PaginationError',
    'Proxy',
    'Remote',
    'Resource',
    'TokenError',
    'singleton',
]
