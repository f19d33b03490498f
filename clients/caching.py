"""The cache and coalescing at each shell's send seam: `send` for the sync shell, `asend` for the async one.

A shell's `_send` hands a request here when its client has a `cache` (see `clients.cache`)
or `coalesce` (see `clients.coalesce`); what has to go to the network comes back through
`_send` with both turned off, so retries, rate limits and deadlines apply to it alone. Here
are only the shells' halves: naming a request as it will be sent, and building a response
from a stored entry or as a copy for each coalesced caller.
"""

from __future__ import annotations

import datetime
import http
import io
import logging
import threading
from typing import TYPE_CHECKING, Any

import requests
import urllib3
from requests.structures import CaseInsensitiveDict

from . import coalesce, content, errors, telemetry, urls
from .coalesce import Flights
from .retry import Retry

if TYPE_CHECKING:
    from . import cache as caches
    from .aio import AsyncClient
    from .base import Client
    from .library import httpx

LOG = logging.getLogger(__name__)
_BODIES = ('data', 'json', 'files', 'content')


class Settings:
    """The `cache` and `coalesce` settings of every client; derived clients share both."""

    @property
    def cache(self) -> caches.Cache | None:
        """The HTTP cache of requests that do not pass their own `cache=`; None for none."""
        return self.__dict__.get('_cache')

    @cache.setter
    def cache(self, value: Any) -> None:
        self.__dict__['_cache'] = _cache_of(value)

    @property
    def coalesce(self) -> bool:
        """Whether identical concurrent GETs of this client family send one request (see `clients.coalesce`)."""
        return self.__dict__.get('_flights') is not None

    @coalesce.setter
    def coalesce(self, value: Any) -> None:
        flights = self.__dict__.get('_flights') or Flights()
        self.__dict__['_flights'] = flights if _flag(value, 'coalesce') else None


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f'{name} must be True or False, not {value!r}')
    return value


def _cache_of(value: Any) -> caches.Cache | None:
    """Return `Cache.of(value)`; the cache module (and hishel) is imported only for a cache."""
    if value is None or value is False:
        return None
    from . import cache as caches

    return caches.Cache.of(value)


def options(client: Any, kwargs: dict[str, Any]) -> tuple[caches.Cache | None, Flights | None]:
    """Pop a request's `cache=` and `coalesce=` options; return the cache and flights it uses."""
    cache = _cache_of(kwargs.pop('cache')) if 'cache' in kwargs else client.cache
    flights = client.__dict__.get('_flights')
    if 'coalesce' in kwargs and not _flag(kwargs.pop('coalesce'), 'coalesce'):
        flights = None
    return cache, flights


def _statuses(client: Any, kwargs: dict[str, Any]) -> frozenset[int]:
    policy = Retry.of(kwargs['retry']) if 'retry' in kwargs else client.retry
    return frozenset(policy.statuses)


def _coalescable(method: str, streamed: bool, kwargs: dict[str, Any]) -> bool:
    return method == 'GET' and not streamed and not any(kwargs.get(name) is not None for name in _BODIES)


def _uncached(kwargs: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    """Return the options of a request sent past the cache, with `headers` added to its own."""
    sent = dict(kwargs, cache=None, coalesce=False)
    if headers:
        sent['headers'] = {**dict(kwargs.get('headers') or {}), **headers}
    return sent


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ''


# The sync shell.

def send(client: Client, cache: caches.Cache | None, flights: Flights | None, method: str, path: object,
         kwargs: dict[str, Any]) -> requests.Response:
    """Send a sync request through the cache and coalescing (see the module docstring)."""

    method = method.upper()
    stream = kwargs.get('stream')
    streamed = bool(client.stream if stream is None else stream)
    url = client._url(path)
    auth = kwargs['auth'] if kwargs.get('auth') is not None else client.auth
    prepared = client.prepare_request(requests.Request(
        method, url, headers=kwargs.get('headers'), params=kwargs.get('params'), cookies=kwargs.get('cookies'),
        auth=_no_auth))
    namer = cache.digest if cache is not None else flights.digest  # type: ignore[union-attr]  # (one is set)
    identity = coalesce.identify(namer, method, str(prepared.url), prepared.headers.items(), auth,
                               getattr(auth, 'credential_headers', ()))
    if identity is None:
        return client._send(method, path, **_uncached(kwargs, {}))

    def fetch() -> requests.Response:
        if cache is None:
            return client._send(method, path, **_uncached(kwargs, {}))
        return _cached(client, cache, identity, prepared, method, path, kwargs, streamed)

    if flights is not None and _coalescable(method, streamed, kwargs):
        return flights.join((id(cache), identity.flight), fetch, _copy)
    return fetch()


def _cached(client: Client, cache: caches.Cache, identity: coalesce.Identity, prepared: requests.PreparedRequest,
            method: str, path: object, kwargs: dict[str, Any], streamed: bool,
            revalidate: bool = False) -> requests.Response:
    from . import cache as caches

    sent: list[requests.Response] = []

    def through(headers: dict[str, str]) -> caches.Answer:
        response = client._send(method, path, **_uncached(kwargs, headers))
        sent.append(response)
        return caches.Answer(response.status_code, list(response.headers.items()),
                             None if streamed else response.content, bool(response.history), response)

    outcome: caches.Hit | caches.Answer | None = None
    try:
        outcome = caches.run(cache, caches.flow(identity, _statuses(client, kwargs), revalidate), through)
    finally:  # close what the network answered and the caller does not get
        for response in sent:
            if not isinstance(outcome, caches.Answer) or response is not outcome.response:
                response.close()
    _count(cache, identity, outcome, sent)
    if isinstance(outcome, caches.Answer):
        result: requests.Response = outcome.response
        return result
    if outcome.refresh and cache._refresh(identity.key):
        threading.Thread(target=_refresh, args=(client, cache, identity, prepared, method, path, kwargs),
                         daemon=True).start()
    response = _stored(outcome.entry, prepared, streamed)
    limit = None if streamed else _limit(client, kwargs)
    if limit is not None and len(response.content) > limit:
        raise errors.RequestsBodyTooLarge(urls.where(method, response.url), limit or 0, response)
    return response


def _limit(client: Any, kwargs: dict[str, Any]) -> int | None:
    """The request's `max_body`: a stored body over it is refused, as it would be from the network."""
    return content.max_body(kwargs.get('max_body', client.max_body))


def _refresh(client: Client, cache: caches.Cache, identity: coalesce.Identity, prepared: requests.PreparedRequest,
             method: str, path: object, kwargs: dict[str, Any]) -> None:
    try:
        _cached(client, cache, identity, prepared, method, path, dict(kwargs, stream=False), False, True)
    except Exception as exc:
        LOG.info('background revalidation of %s failed: %s', identity.method, type(exc).__name__)
    finally:
        cache._refreshed(identity.key)


def _count(cache: caches.Cache, identity: coalesce.Identity, outcome: caches.Hit | caches.Answer,
           sent: list[Any]) -> None:
    from . import cache as caches

    if identity.method not in caches.SAFE:
        return
    if isinstance(outcome, caches.Answer):
        cache.stats.add(misses=1)
        telemetry.cache('miss')
    else:
        telemetry.cache('hit')
        cache.stats.add(hits=1, revalidated=1 if sent and not outcome.refresh else 0,
                        stale=1 if outcome.refresh or (sent and sent[-1].status_code >= 500) else 0)


def _stored(entry: Any, prepared: requests.PreparedRequest, streamed: bool) -> requests.Response:
    """Return a `requests.Response` of a stored entry, as the network's would be (streamed or read)."""
    from . import cache as caches

    data = caches.body(entry)
    status = entry.response.status_code
    headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    for name, value in caches.headers_of(entry):
        headers[name] = f'{headers[name]}, {value}' if name in headers else value
    headers['content-length'] = str(len(data))  # of the decoded body stored, as httpx says it
    response = requests.Response()
    response.status_code = status
    response.headers = headers
    response.reason = _reason(status)
    response.url = str(prepared.url)
    response.request = prepared
    response.encoding = requests.utils.get_encoding_from_headers(headers)
    response.elapsed = datetime.timedelta(0)
    response.raw = urllib3.HTTPResponse(body=io.BytesIO(data), headers=dict(headers), status=status,
                                        preload_content=False, decode_content=False,
                                        request_method=prepared.method, request_url=response.url)
    if not streamed:
        response._content = data
        response._content_consumed = True  # type: ignore[attr-defined]  # (as requests marks a read body)
    return response


def _copy(response: requests.Response) -> requests.Response:
    """Return a read response's copy: its own headers, request and history lists."""
    new = requests.Response()
    new.__dict__.update(response.__dict__)
    new.headers = CaseInsensitiveDict(response.headers)
    new.history = list(response.history)
    new.request = response.request.copy()
    return new


# The async shell.

async def asend(client: AsyncClient, cache: caches.Cache | None, flights: Flights | None, method: str,
                path: object, kwargs: dict[str, Any]) -> httpx.Response:
    """Send an async request through the cache and coalescing (see the module docstring)."""
    from .library import httpx

    method = method.upper()
    streamed = bool(kwargs.get('stream'))
    url = client._url(path)
    request = client.build_request(method, url, params=kwargs.get('params'), headers=kwargs.get('headers'),
                                   cookies=kwargs.get('cookies'))
    auth = kwargs.get('auth', client._auth)
    if isinstance(auth, httpx._client.UseClientDefault):
        auth = client._auth
    namer = cache.digest if cache is not None else flights.digest  # type: ignore[union-attr]  # (one is set)
    identity = coalesce.identify(namer, method, str(request.url), request.headers.multi_items(), auth,
                               getattr(auth, 'credential_headers', ()))
    if identity is None:
        return await client._send(method, path, **_uncached(kwargs, {}))

    async def fetch() -> httpx.Response:
        if cache is None:
            return await client._send(method, path, **_uncached(kwargs, {}))
        return await _acached(client, cache, identity, request, method, path, kwargs, streamed)

    if flights is not None and _coalescable(method, streamed, kwargs):
        return await flights.ajoin((id(cache), identity.flight), fetch, _acopy)
    return await fetch()


async def _acached(client: AsyncClient, cache: caches.Cache, identity: coalesce.Identity, request: httpx.Request,
                   method: str, path: object, kwargs: dict[str, Any], streamed: bool,
                   revalidate: bool = False) -> httpx.Response:
    import asyncio

    from . import cache as caches

    sent: list[httpx.Response] = []

    async def through(headers: dict[str, str]) -> caches.Answer:
        response = await client._send(method, path, **_uncached(kwargs, headers))
        sent.append(response)
        return caches.Answer(response.status_code, response.headers.multi_items(),
                             None if streamed else response.content, bool(response.history), response)

    outcome: caches.Hit | caches.Answer | None = None
    try:
        outcome = await caches.arun(cache, caches.flow(identity, _statuses(client, kwargs), revalidate), through)
    finally:  # close what the network answered and the caller does not get
        for response in sent:
            if not isinstance(outcome, caches.Answer) or response is not outcome.response:
                await response.aclose()
    _count(cache, identity, outcome, sent)
    if isinstance(outcome, caches.Answer):
        result: httpx.Response = outcome.response
        return result
    if outcome.refresh and cache._refresh(identity.key):
        task = asyncio.get_running_loop().create_task(
            _arefresh(client, cache, identity, request, method, path, kwargs))
        cache._tasks.add(task)
        task.add_done_callback(cache._tasks.discard)
    response = _astored(outcome.entry, request)
    limit = None if streamed else _limit(client, kwargs)
    if limit is not None and len(response.content) > limit:
        from .aioerrors import HttpxBodyTooLarge

        raise HttpxBodyTooLarge(urls.where(method, request.url), limit or 0, request=request)
    return response


async def _arefresh(client: AsyncClient, cache: caches.Cache, identity: coalesce.Identity, request: httpx.Request,
                    method: str, path: object, kwargs: dict[str, Any]) -> None:
    try:
        await _acached(client, cache, identity, request, method, path, dict(kwargs, stream=False), False, True)
    except Exception as exc:
        LOG.info('background revalidation of %s failed: %s', identity.method, type(exc).__name__)
    finally:
        cache._refreshed(identity.key)


def _astored(entry: Any, request: httpx.Request) -> httpx.Response:
    """Return an `httpx.Response` of a stored entry (its body read; it streams from memory)."""
    from . import cache as caches
    from .library import httpx

    return httpx.Response(entry.response.status_code, headers=caches.headers_of(entry), content=caches.body(entry),
                          request=request)


def _acopy(response: httpx.Response) -> httpx.Response:
    """Return a read response's copy: its own headers and history list, the same body."""
    from .library import httpx

    new: httpx.Response = httpx.Response.__new__(httpx.Response)
    new.__dict__.update(response.__dict__)
    new.headers = response.headers.copy()
    new.history = list(response.history)
    new.extensions = dict(response.extensions)
    return new

