"""Forwarding: serve an upstream API from a web application, as an ASGI or a WSGI app.

`asgi(async_client)` and `wsgi(client)` return applications that send each incoming request
to the client's base URL (a `Proxy` picks a host per request) and stream the upstream response
back as it is (status, headers, body; never retried, only a connect failure is tried again):
hop-by-hop headers removed both ways, `X-Forwarded-*` (or `Forwarded`) set, the caller's
credentials passed only when asked, framing that matches the body sent (`hops.framing`),
connect failures and malformed answers answered 502, timeouts 504, each with a warning on
this module's logger; an upstream failing mid-body is a warning and the caller's connection
is cut, and a caller that goes away closes the upstream response. Mount them like any app::

    from clients import forward

    app.mount('/api', forward.asgi(clients.AsyncClient('http://upstream/v2/')))

No server package is needed: an ASGI or WSGI app is just a callable.
"""

from __future__ import annotations

import asyncio
import http
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any, BinaryIO

import requests
import urllib3

from . import fields, hops, retry
from .aio import AsyncClient
from .base import Client
from .errors import AllHostsDown
from .library import httpx

__all__ = ['ASGIForwarder', 'WSGIForwarder', 'asgi', 'wsgi']

log = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 16

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
StartResponse = Callable[..., Any]


class ClientDisconnect(Exception):
    """The caller went away before its request body was complete."""


class UpstreamFailed(ConnectionError):
    """The upstream failed after its response had started: the caller's connection is cut (WSGI)."""


@dataclass
class Plan:
    """What to send upstream for one incoming request, or the gateway's own answer."""

    method: str
    path: str = ''
    trailing: str = ''
    headers: hops.Headers | None = None
    mount: str = ''
    status: int = 0
    detail: str = ''


class Forwarder:
    """What the ASGI and WSGI forwarders share: options, and turning a request into a `Plan`.

    Args:
        client: the upstream client; requests go to paths under its base URL(s)
        prefix: a path the app strips from incoming paths (after the server's or framework's
            mount point); paths outside it are answered 404
        credentials: pass the caller's `Authorization` and `Cookie` upstream, and the
            upstream's `Set-Cookie` back; otherwise the client's own credentials are used
        forwarded: `'x-forwarded'` (`X-Forwarded-For/Proto/Host`), `'forwarded'` (RFC 7239)
            or `None`
    """

    def __init__(
        self, client: Any, prefix: str = '', *, credentials: bool = False, forwarded: str | None = 'x-forwarded'
    ) -> None:
        if forwarded not in hops.FORWARDED_STYLES:
            raise ValueError(f"forwarded must be 'x-forwarded', 'forwarded' or None, not {forwarded!r}")
        if prefix and not prefix.startswith('/'):
            raise ValueError(f'prefix must be a path starting with /: {prefix!r}')
        self.client = client
        self.prefix = prefix.rstrip('/')
        self.credentials = credentials
        self.forwarded = forwarded
        self._unsent = (retry.NEVER, retry.unsent(retry.NEVER))  # (a client's policy, its unsent version)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.client!r}, prefix={self.prefix!r})'

    def plan(
        self, method: str, path: str, root: str, headers: hops.Headers, client: str | None, proto: str, protocol: str
    ) -> Plan:
        """Return the upstream request for an incoming one (`path` encoded, below `root`; `protocol` as `1.1`)."""
        rest = hops.mounted(path, self.prefix)
        if rest is None:
            return Plan(method, status=404, detail=f'not under {root}{self.prefix}/')
        try:
            relative, trailing = hops.target(rest, self.client._bases())
        except hops.PathEscape as exc:
            log.info('%s %s%s refused: %s', method, root, path, exc)
            return Plan(method, status=400, detail='the path leaves the forwarded API')
        host = next((value for name, value in headers if name.lower() == 'host'), None)
        upstream = hops.upstream(headers, client=client, proto=proto, host=host,
                                 credentials=self.credentials, forwarded=self.forwarded, protocol=protocol)
        return Plan(method, relative, trailing, upstream, mount=root + self.prefix)

    def view(self, plan: Plan) -> Any:
        """Return a view of the client for one request: the same pool, a cookie jar of its own.

        Upstream `Set-Cookie` then lands in the view, never in a jar shared by every caller.
        """
        view = self.client._derive()
        # (httpx's `cookies` setter copies the jar it is given; a requests jar is copied here.)
        view.cookies = self.client.cookies.copy() if isinstance(self.client, Client) else self.client.cookies
        view.trailing = plan.trailing
        policy = self.client.retry
        if self._unsent[0] is not policy:  # (a policy is immutable: its unsent version is kept)
            self._unsent = (policy, retry.unsent(policy))
        view.retry = self._unsent[1]  # the caller decides whether to try again
        return view

    def response_headers(
        self, pairs: Iterable[tuple[str, str]], plan: Plan, status: int = 200
    ) -> tuple[hops.Headers, int | None]:
        """Return the upstream response's headers as the caller gets them, and the body length they promise.

        Raises:
            hops.BadFraming: the upstream's framing does not tell the body's length for sure
        """
        framed, length = hops.framing(plan.method, status, pairs)
        bases = self.client._bases()
        return hops.downstream(framed, bases=bases, mount=plan.mount, credentials=self.credentials), length


def _failure(exc: Exception, method: str, timeout: type[Exception]) -> Plan | None:
    """Return the gateway answer for an upstream error (`None` for a `LookupError` that is a bug)."""
    if isinstance(exc, timeout):
        status, detail = 504, 'the upstream did not answer in time'
    elif isinstance(exc, AllHostsDown) or type(exc) is LookupError:  # a Proxy with no host left
        status, detail = 503, 'no upstream host is available'
    elif retry.failure(exc) == retry.CONNECT:
        status, detail = 502, 'the upstream could not be reached'
    elif not isinstance(exc, LookupError):
        return _malformed(exc, method)
    else:
        return None
    log.warning('forwarding %s failed with %d: %s', method, status, exc)
    return Plan(method, status=status, detail=detail)


def _malformed(exc: Exception, method: str) -> Plan:
    log.warning('forwarding %s failed with 502: %s', method, exc)
    return Plan(method, status=502, detail='the upstream sent no valid answer')


def _cut(method: str, exc: Exception) -> None:
    log.warning("forwarding %s failed mid-body, the caller's connection is cut: %s", method, exc)


def _reason(status: int, reason: str | None = None) -> str:
    try:
        return reason or http.HTTPStatus(status).phrase
    except ValueError:
        return ''


class ASGIForwarder(Forwarder):
    """An ASGI app that forwards each HTTP request to an `AsyncClient` or `AsyncProxy`.

    Request and response bodies are streamed both ways; see `Forwarder` for the arguments.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection: `http` is forwarded, `lifespan` acknowledged, others closed."""
        if scope['type'] == 'lifespan':
            return await _lifespan(receive, send)
        if scope['type'] != 'http':
            return await send({'type': 'websocket.close', 'code': 1003})
        headers = [(name.decode('latin-1'), value.decode('latin-1')) for name, value in scope['headers']]
        root = scope.get('root_path', '')
        raw = scope.get('raw_path')
        path = hops.below(scope['path'], root, raw.decode('latin-1') if raw is not None else None)
        client = scope.get('client')
        method = scope['method']
        plan = self.plan(method, path, root, headers, client[0] if client else None, scope.get('scheme', 'http'),
                         scope.get('http_version', '1.1'))
        if plan.status:
            return await _answer(send, plan)
        view = self.view(plan)
        content = _request_body(receive) if _has_body(headers) else None
        query = scope.get('query_string', b'').decode('latin-1')
        url = plan.path + ('?' + query if query else '')
        try:
            response = await view.request(method, url, headers=plan.headers, content=content, stream=True,
                                          follow_redirects=False, response=True)
        except ClientDisconnect:
            return None
        except (httpx.TransportError, LookupError) as exc:
            answer = _failure(exc, method, httpx.TimeoutException)
            if answer is None:
                raise
            return await _answer(send, answer)
        try:
            pairs = [(name.decode('latin-1'), value.decode('latin-1')) for name, value in response.headers.raw]
            try:
                headers, length = self.response_headers(pairs, plan, response.status_code)
            except hops.BadFraming as exc:
                return await _answer(send, _malformed(exc, method))
            await send({
                'type': 'http.response.start',
                'status': response.status_code,
                'headers': [(name.lower().encode('latin-1'), value.encode('latin-1')) for name, value in headers],
            })
            await _pump(response.aiter_raw(), receive, send, hops.Meter(length), method)
        finally:
            await response.aclose()
        return None


async def _lifespan(receive: Receive, send: Send) -> None:
    while (await receive())['type'] == 'lifespan.startup':
        await send({'type': 'lifespan.startup.complete'})
    await send({'type': 'lifespan.shutdown.complete'})


def _has_body(headers: hops.Headers) -> bool:
    names = {name.lower() for name, _ in headers}
    return 'content-length' in names or 'transfer-encoding' in names


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    """Yield the caller's request body as it arrives; a disconnect raises `ClientDisconnect`."""
    while True:
        message = await receive()
        if message['type'] == 'http.disconnect':
            raise ClientDisconnect('the caller went away during its request body')
        if message.get('body'):
            yield message['body']
        if not message.get('more_body', False):
            return


async def _pump(chunks: AsyncIterator[bytes], receive: Receive, send: Send, meter: hops.Meter, method: str) -> None:
    """Send the body chunks to the caller; stop as soon as the caller disconnects.

    An upstream failure (or a body breaking `meter`) before the end of the body is logged and
    ends the body unfinished: returning before its end makes the server cut the connection.
    """

    async def watch() -> None:
        while (await receive())['type'] != 'http.disconnect':
            pass
        raise _Gone  # the task group then cancels the pumping below

    try:
        # (asyncio's own task group: anyio's costs about 40 µs more per request.)
        async with asyncio.TaskGroup() as group:
            watcher = group.create_task(watch())
            try:
                async for chunk in chunks:
                    await send({'type': 'http.response.body', 'body': meter.take(chunk), 'more_body': True})
                meter.end()
            except (httpx.TransportError, hops.BadFraming) as exc:
                _cut(method, exc)
            else:
                await send({'type': 'http.response.body', 'body': b'', 'more_body': False})
            watcher.cancel()
    except* _Gone:
        pass


class _Gone(Exception):
    """The caller disconnected while its response was being sent."""


async def _answer(send: Send, plan: Plan) -> None:
    body = hops.error(plan.status, plan.detail)
    await send({
        'type': 'http.response.start',
        'status': plan.status,
        'headers': [(b'content-type', b'application/json'), (b'content-length', str(len(body)).encode())],
    })
    await send({'type': 'http.response.body', 'body': b'' if plan.method == 'HEAD' else body, 'more_body': False})


class WSGIForwarder(Forwarder):
    """A WSGI app that forwards each request to a `Client` or `Proxy`.

    The request body is streamed upstream (with its `Content-Length`, or until the end of
    input where the server marks it, `wsgi.input_terminated`); the response body is streamed
    back. See `Forwarder` for the arguments.
    """

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one WSGI request."""
        method = environ['REQUEST_METHOD']
        root = environ.get('SCRIPT_NAME', '')
        path = hops.encode(environ.get('PATH_INFO', '').encode('latin-1'))
        headers = _environ_headers(environ)
        proto = environ.get('wsgi.url_scheme', 'http')
        protocol = environ.get('SERVER_PROTOCOL', 'HTTP/1.1').removeprefix('HTTP/')
        plan = self.plan(method, path, root, headers, environ.get('REMOTE_ADDR'), proto, protocol)
        if plan.status:
            return _wsgi_answer(start_response, plan)
        if any(name == 'Transfer-Encoding' for name, _ in headers) and not environ.get('wsgi.input_terminated'):
            # The server gives no way to find the end of a chunked body: refuse it rather than lose it.
            return _wsgi_answer(start_response, Plan(method, status=411, detail='send the body with Content-Length'))
        view = self.view(plan)
        query = environ.get('QUERY_STRING', '')
        url = plan.path + ('?' + query if query else '')
        try:
            response = view.request(method, url, headers=dict(plan.headers or ()), data=_wsgi_body(environ),
                                    stream=True, follow_redirects=False, response=True)
        except ClientDisconnect as exc:
            return _wsgi_answer(start_response, Plan(method, status=400, detail=str(exc)))
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.InvalidHeader, LookupError) as exc:
            answer = _failure(exc, method, requests.Timeout)
            if answer is None or (isinstance(exc, requests.exceptions.InvalidHeader) and exc.request is None):
                raise  # (the upstream's bad header comes with the request sent; a caller's, before it)
            return _wsgi_answer(start_response, answer)
        try:
            headers, length = self.response_headers(response.raw.headers.items(), plan, response.status_code)
        except hops.BadFraming as exc:
            response.close()
            return _wsgi_answer(start_response, _malformed(exc, method))
        try:
            start_response(f'{response.status_code} {_reason(response.status_code, response.reason)}', headers)
        except BaseException:
            response.close()
            raise
        return _Body(response, hops.Meter(length), method)


class _Body:
    """The upstream body as a WSGI iterable; the server's `close()` closes the upstream response.

    An upstream failing mid-body raises `UpstreamFailed`: WSGI's only way to have the server cut
    the caller's connection (a body that just ended would look complete when chunked).
    """

    def __init__(self, response: requests.Response, meter: hops.Meter, method: str) -> None:
        self.response = response
        self.meter = meter
        self.method = method

    def __iter__(self) -> Iterator[bytes]:
        raw = self.response.raw
        try:
            while chunk := raw.read1(CHUNK_SIZE, decode_content=False):
                yield self.meter.take(chunk)
            self.meter.end()
        except (OSError, urllib3.exceptions.HTTPError, hops.BadFraming) as exc:
            _cut(self.method, exc)
            raise UpstreamFailed(f'the upstream failed mid-body: {exc}') from None

    def close(self) -> None:
        """Close the upstream response, releasing (or discarding) its connection."""
        self.response.close()


class _Input:
    """The caller's request body for `requests`: iterated in chunks, with a known length."""

    def __init__(self, stream: BinaryIO, length: int | None) -> None:
        self.stream = stream
        self.length = length

    def __len__(self) -> int:
        return self.length or 0  # 0 makes requests send the body chunked

    def __bool__(self) -> bool:
        return True  # even when empty-looking: requests replaces a false body with none

    def __iter__(self) -> Iterator[bytes]:
        left = self.length
        while left is None or left > 0:
            chunk = self.stream.read(CHUNK_SIZE if left is None else min(CHUNK_SIZE, left))
            if not chunk:
                if left is None:
                    return
                raise ClientDisconnect(f'the request body ended {left} bytes short of its Content-Length')
            if left is not None:
                left -= len(chunk)
            yield chunk


def _wsgi_body(environ: dict[str, Any]) -> _Input | None:
    length = fields.integer(environ.get('CONTENT_LENGTH'))
    if length is not None:
        return _Input(environ['wsgi.input'], length) if length else None
    if environ.get('HTTP_TRANSFER_ENCODING'):  # only reached with wsgi.input_terminated
        return _Input(environ['wsgi.input'], None)
    return None


def _environ_headers(environ: dict[str, Any]) -> hops.Headers:
    headers = [(name[5:].replace('_', '-').title(), value)
               for name, value in environ.items() if name.startswith('HTTP_')]
    for name in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
        if environ.get(name):
            headers.append((name.replace('_', '-').title(), environ[name]))
    return headers


def _wsgi_answer(start_response: StartResponse, plan: Plan) -> list[bytes]:
    body = hops.error(plan.status, plan.detail)
    start_response(f'{plan.status} {_reason(plan.status)}',
                   [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [b''] if plan.method == 'HEAD' else [body]


def asgi(client: AsyncClient, prefix: str = '', *, credentials: bool = False,
         forwarded: str | None = 'x-forwarded') -> ASGIForwarder:
    """Return an ASGI app forwarding to an `AsyncClient` (or `AsyncProxy`); see `Forwarder`."""
    if not isinstance(client, AsyncClient):
        raise TypeError(f'asgi() forwards to an AsyncClient or AsyncProxy, not {type(client).__name__}; '
                        'use wsgi() for a sync Client')
    return ASGIForwarder(client, prefix, credentials=credentials, forwarded=forwarded)


def wsgi(client: Client, prefix: str = '', *, credentials: bool = False,
         forwarded: str | None = 'x-forwarded') -> WSGIForwarder:
    """Return a WSGI app forwarding to a `Client` (or `Proxy`); see `Forwarder`."""
    if not isinstance(client, Client):
        raise TypeError(f'wsgi() forwards to a Client or Proxy, not {type(client).__name__}; '
                        'use asgi() for an AsyncClient')
    return WSGIForwarder(client, prefix, credentials=credentials, forwarded=forwarded)
