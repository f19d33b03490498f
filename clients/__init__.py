"""High-level HTTP clients: navigate resources, call RPC and GraphQL, spread load over hosts.

Sync classes are `requests.Session` subclasses; async twins subclass the `AsyncClient` of
`clients.httpx`, which is httpx2 or httpx (see `clients.library`).
"""

import importlib
import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from . import auth, jsonrpc, webhooks
from .auth import ApiKey, Bearer, HmacSigner, OAuth2, Signer
from .base import Client, Graph, JsonRpc, Proxy, Remote, Resource
from .errors import (
    AllHostsDown,
    BatchError,
    BodyTooLarge,
    DecodeError,
    Error,
    GraphQLError,
    HTTPError,
    IncompleteBody,
    InternalError,
    InvalidParams,
    InvalidRequest,
    InvalidURL,
    JsonRpcError,
    MethodNotFound,
    PaginationError,
    ParseError,
    ProtocolError,
    ServerError,
    TokenError,
    WebhookError,
)
from .ratelimit import RateLimit
from .retry import Retry
from .webhooks import verify_webhook

if TYPE_CHECKING:
    from .aio import AsyncClient, AsyncGraph, AsyncJsonRpc, AsyncProxy, AsyncRemote, AsyncResource
    from .cache import Cache
    from .library import httpx

__version__ = '2.0.0.dev0'

# Names imported when first used (PEP 562), each with the module that has it: a sync program
# never loads the async stack (httpx, aiohttp, asyncio) or hishel.
_LAZY = {
    **dict.fromkeys(('AsyncClient', 'AsyncGraph', 'AsyncJsonRpc', 'AsyncProxy', 'AsyncRemote', 'AsyncResource'),
                    '.aio'),
    'Cache': '.cache',
    'httpx': '.library',
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    elif not name.startswith('_') and importlib.util.find_spec(f'{__name__}.{name}') is not None:
        value = importlib.import_module(f'.{name}', __name__)  # a submodule, as `import clients` gave in 1.3
    else:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})

_T = TypeVar('_T')


def singleton(*args: Any, **kwargs: Any) -> Callable[[type[_T]], _T]:
    """Class decorator: replace the class with its one instance, built with these arguments.

    (mypy keeps a decorated class's name typed as the class; `name = singleton(...)(Class)`
    types it as the instance.)
    """
    return lambda cls: cls(*args, **kwargs)


__all__ = [
    'AllHostsDown',
    'ApiKey',
    'AsyncClient',
    'AsyncGraph',
    'AsyncJsonRpc',
    'AsyncProxy',
    'AsyncRemote',
    'AsyncResource',
    'BatchError',
    'Bearer',
    'BodyTooLarge',
    'Cache',
    'Client',
    'DecodeError',
    'Error',
    'Graph',
    'GraphQLError',
    'HTTPError',
    'HmacSigner',
    'IncompleteBody',
    'InternalError',
    'InvalidParams',
    'InvalidRequest',
    'InvalidURL',
    'JsonRpc',
    'JsonRpcError',
    'MethodNotFound',
    'OAuth2',
    'PaginationError',
    'ParseError',
    'ProtocolError',
    'Proxy',
    'RateLimit',
    'Remote',
    'Resource',
    'Retry',
    'ServerError',
    'Signer',
    'TokenError',
    'WebhookError',
    'auth',
    'httpx',
    'jsonrpc',
    'singleton',
    'verify_webhook',
    'webhooks',
]
