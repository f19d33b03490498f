"""Authentication usable as `auth=` with sync and async clients alike.

Each class here is both a `requests.auth.AuthBase` and an `httpx.Auth`: the header or
parameter logic is written once (`Auth.sign`), and two thin adapters apply it to a
`requests.PreparedRequest` or an `httpx.Request`. Headers named in `credential_headers`
are treated like `Authorization`: never sent to another origin on a redirect.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import requests

from . import library, oauth, retry, urls
from .errors import TokenError

if TYPE_CHECKING:
    import asyncio
    from types import ModuleType

    from .library import httpx

    _Flows = httpx.Auth
else:
    class _Root:
        """(CPython lets `__bases__` change only on a class whose base is not `object`.)"""

    class _Flows(_Root):
        """`httpx.Auth`'s place among `Auth`'s bases until the library is imported (see `_adopt`)."""

        requires_request_body = False
        requires_response_body = False


def _header_value(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise TokenError(f'{what} must be a non-empty string')
    if any(char in value for char in '\r\n\0'):
        raise TokenError(f'{what} contains a line break or NUL, refusing to use it in a header')
    return value


def _body(request: requests.PreparedRequest) -> bytes:
    """Return the exact bytes requests will send, reading a text, file or streamed body into bytes.

    (httpx reads a streamed body before signing too: what is signed is what is sent.)
    """
    body: Any = request.body
    if body is None or isinstance(body, bytes):
        return body or b''
    if isinstance(body, str):
        body = body.encode()
    elif hasattr(body, 'read'):
        body = body.read()
        body = body.encode() if isinstance(body, str) else body
    else:
        body = b''.join(part.encode() if isinstance(part, str) else part for part in body)
    data: bytes = body
    request.headers.pop('Transfer-Encoding', None)
    request.body = data
    request.prepare_content_length(data)
    return data


def checked(value: Any, *kinds: type) -> Any:
    """Return `value` if it can be a client's `auth`: None, a (user, password) pair of strings
    or bytes, a callable, or one of `kinds`; the error names only its type (it may be a secret)."""
    pair = isinstance(value, tuple) and len(value) == 2 and all(isinstance(part, str | bytes) for part in value)
    if value is None or pair or callable(value) or isinstance(value, kinds):
        return value
    raise TypeError(f'auth must be None, a (user, password) pair, an auth object or a callable, '
                    f'not {type(value).__name__}')


class Auth(requests.auth.AuthBase, _Flows):
    """Base of the auth helpers: `sign` returns the URL and headers to use for a request."""

    credential_headers: tuple[str, ...] = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        library.loaded()  # (code that imported the library itself may hand this to it: be its Auth now)
        return super().__new__(cls)

    def once(self) -> Auth:
        """Return this auth as a client sends one request with it: the clients replay requests
        themselves (see `OAuth2.renewed`), so that each replay goes through their `request`."""
        return self

    def sign(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> tuple[str, dict[str, str]]:
        """Return the request's URL and the headers to set on it."""
        raise NotImplementedError

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = _body(request) if self.requires_request_body else b''
        url, headers = self.sign(str(request.method), str(request.url), request.headers, body)
        request.url = url
        request.headers.update(headers)
        return request

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        body = request.content if self.requires_request_body else b''
        if self.requires_request_body and 'Transfer-Encoding' in request.headers:  # read now: send it sized
            del request.headers['Transfer-Encoding']
            request.headers['Content-Length'] = str(len(body))
        url, headers = self.sign(request.method, str(request.url), request.headers, body)
        if url != str(request.url):
            request.url = type(request.url)(url)
        request.headers.update(headers)
        yield request


class Bearer(Auth):
    """`Authorization: Bearer <token>`."""

    def __init__(self, token: str) -> None:
        self.header = f'Bearer {_header_value(token, "token")}'

    def sign(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> tuple[str, dict[str, str]]:
        """Set the Authorization header."""
        return url, {'Authorization': self.header}


class ApiKey(Auth):
    """An API key in a header (default `X-API-Key`) or, with `query=`, a query parameter.

    Args:
        key: the API key
        header: the header that carries it
        query: the query parameter that carries it instead of a header
    """

    def __init__(self, key: str, header: str = 'X-API-Key', *, query: str | None = None) -> None:
        self.key = _header_value(key, 'API key')
        self.header: str | None = None if query else header
        self.query: str | None = query
        self.credential_headers = (header,) if self.header else ()
        if query:
            urls.SECRET_PARAMS.add(query.lower())  # its value is redacted wherever a URL is shown

    def sign(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> tuple[str, dict[str, str]]:
        """Add the key to the headers or the query."""
        if self.query is None:
            return url, {str(self.header): self.key}
        from .library import httpx

        return str(httpx.URL(url).copy_merge_params({self.query: self.key})), {}


class Signer(Auth):
    """A pluggable request signer: it sees method, URL, headers and the exact body bytes.

    Subclasses implement `headers`; the body is made bytes first, so what is signed is
    exactly what is sent (a streamed body is read, and sent with a `Content-Length`).
    """

    requires_request_body = True

    def headers(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
        """Return the headers to add."""
        raise NotImplementedError

    def sign(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> tuple[str, dict[str, str]]:
        """Return the URL unchanged and the signing headers."""
        return url, self.headers(method, url, headers, body)


class HmacSigner(Signer):
    """HMAC-SHA256 signing with a key id, a timestamp and a nonce (API-Key / API-Sign style).

    The signature is the hex HMAC-SHA256, keyed with `secret`, of `message(...)`: the
    timestamp (milliseconds), nonce, upper-case method, path with query, and the hex SHA-256
    of the body, joined by newlines. Servers verify with the same `message`.

    Args:
        key_id: sent in `key_header`
        secret: the shared secret (text is UTF-8 encoded)
        clock: seconds since the epoch, for tests
        nonce: returns a fresh nonce, for tests
    """

    def __init__(
        self, key_id: str, secret: str | bytes, *, key_header: str = 'API-Key', sign_header: str = 'API-Sign',
        timestamp_header: str = 'API-Timestamp', nonce_header: str = 'API-Nonce',
        clock: Callable[[], float] = time.time, nonce: Callable[[], str] = lambda: secrets.token_hex(16),
    ) -> None:
        self.key_id = _header_value(key_id, 'key id')
        self.secret = secret.encode() if isinstance(secret, str) else secret
        self.names = key_header, sign_header, timestamp_header, nonce_header
        self.credential_headers = (key_header, sign_header)
        self.clock, self.nonce = clock, nonce

    @staticmethod
    def message(method: str, url: str, timestamp: str, nonce: str, body: bytes) -> bytes:
        """Return the bytes that are signed for a request."""
        parts = urlsplit(url)
        target = parts.path + (f'?{parts.query}' if parts.query else '')
        digest = hashlib.sha256(body).hexdigest()
        return '\n'.join([timestamp, nonce, method.upper(), target, digest]).encode()

    def headers(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
        """Return the key id, timestamp, nonce and signature headers."""
        timestamp, nonce = str(int(self.clock() * 1000)), self.nonce()
        signature = hmac.new(self.secret, self.message(method, url, timestamp, nonce, body), hashlib.sha256)
        key, sign, stamp, once = self.names
        return {key: self.key_id, stamp: timestamp, once: nonce, sign: signature.hexdigest()}


def _monotonic() -> float:
    """The library's monotonic time (`clients.retry.CLOCK`, which `clients.testing.FakeClock` replaces)."""
    return retry.CLOCK.now()


class OAuth2(Auth):
    """OAuth 2.0 client credentials (or refresh token) with a cached, self-renewing token.

    The token is fetched on first use and renewed `min(leeway, expires_in / 2)` seconds
    before its `expires_in` runs out: `leeway` seconds early, but never before half its
    lifetime (a token that lives 10 s is renewed after 5 s); a 401 refreshes it once and
    replays the request. Concurrent requests (threads or tasks) share one refresh. The
    client authenticates with HTTP Basic (RFC 6749 2.3.1: every server must support it),
    or with `client_secret_post` in the POST body; credentials never go in the URL, and
    the token endpoint's redirects are not followed. A failed token request raises
    (`HTTPError`, `TokenError`) and leaves the current token in place.

    Args:
        token_url: the token endpoint
        client_id: the client id
        client_secret: the client secret (without one, the id goes in the body)
        scope: space-separated scopes to ask for
        refresh_token: use the refresh-token grant (rotated tokens are kept)
        leeway: seconds before expiry at which the token is renewed (at most half its lifetime)
        options: keyword options for the token client (`verify`, `timeout`, ...)
        token_endpoint_auth_method: `'client_secret_basic'` (the default) or
            `'client_secret_post'` (id and secret in the form body, for servers that need it)
        clock: monotonic seconds (default: `clients.retry.CLOCK`'s, which a fake clock replaces)
    """

    credential_headers = ('Authorization',)

    def __init__(
        self, token_url: str, client_id: str, client_secret: str | None = None, *, scope: str | None = None,
        refresh_token: str | None = None, leeway: float = 30.0, options: Mapping[str, Any] | None = None,
        clock: Callable[[], float] | None = None, token_endpoint_auth_method: str = 'client_secret_basic',
    ) -> None:
        self.token_url = token_url
        self.state = oauth.TokenState(client_id, client_secret, scope, refresh_token, leeway,
                                      token_endpoint_auth_method)
        self.options = dict(options or {})
        self.clock = clock or _monotonic
        self.lock = threading.Lock()
        self.async_locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()

    @property
    def token(self) -> dict[str, Any] | None:
        """The current token response, if any."""
        return self.state.token

    # sync (requests)

    def fetch(self) -> dict[str, Any]:
        """Request a new token now (sync) and return it."""
        from .base import Resource

        with Resource(self.token_url, **self.options) as client:
            token: dict[str, Any] = client.post('', data=self.state.form(), headers=self.state.headers(),
                                                 allow_redirects=False)
        self.state.accept(token, self.clock())
        return token

    def current(self) -> str:
        """Return the Authorization header, fetching a token if needed (sync)."""
        with self.lock:
            if not self.state.valid(self.clock()):
                self.fetch()
            return self.state.header

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        header = self.current()
        request.headers['Authorization'] = header
        body: Any = request.body
        position = body.tell() if hasattr(body, 'tell') else None
        home = urls.origin(str(request.url))

        def replay(response: requests.Response, **kwargs: Any) -> requests.Response:
            # (requests runs this hook for every response, also after a redirect elsewhere:
            # a fresh token goes only to the origin the token was given for)
            if response.status_code != 401 or urls.origin(str(response.url)) != home:
                return response
            fresh = response.request.copy()
            if position is not None:
                fresh.body.seek(position)  # type: ignore[union-attr]
            elif not isinstance(fresh.body, bytes | str | None):
                return response  # a consumed stream cannot be sent again
            response.content  # noqa: B018 (read the body so the connection is released)
            response.close()
            self.renew_refused(header)  # may raise: nothing is left open
            fresh.headers['Authorization'] = self.state.header
            fresh.hooks['response'] = [hook for hook in fresh.hooks['response'] if hook is not replay]
            again = response.connection.send(fresh, **kwargs)
            again.history.append(response)
            again.request = fresh
            return again

        request.hooks['response'].append(replay)
        return request

    # async (httpx)

    def _async_lock(self) -> asyncio.Lock:
        import asyncio

        loop = asyncio.get_running_loop()
        if loop not in self.async_locks:
            self.async_locks[loop] = asyncio.Lock()
        return self.async_locks[loop]

    async def afetch(self) -> dict[str, Any]:
        """Request a new token now (async) and return it."""
        from .aio import AsyncResource

        async with AsyncResource(self.token_url, **self.options) as client:
            token: dict[str, Any] = await client.post('', data=self.state.form(), headers=self.state.headers(),
                                                       follow_redirects=False)
        self.state.accept(token, self.clock())
        return token

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        header = await self.acurrent()
        request.headers['Authorization'] = header
        response = yield request
        if response.status_code == 401 and urls.origin(str(response.url)) == urls.origin(str(request.url)):
            await self.arenew_refused(header)
            request.headers['Authorization'] = self.state.header
            yield request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise TypeError('OAuth2 serves requests-based clients and httpx.AsyncClient, not a sync httpx.Client')

    # for clients, which replay a request through their `request` (see `Client._exchange`)

    def once(self) -> Auth:
        """Return an auth that sets the current token on one request and never replays it."""
        return _Token(self)

    @staticmethod
    def refused(response: Any) -> str | None:
        """Return the `Authorization` a 401 `response` refused at the origin it was sent to, if any:
        the request is then worth sending again with a renewed token (see `renew_refused`)."""
        sent = response.request.headers.get('Authorization')
        first = response.history[0].request if response.history else response.request
        if response.status_code != 401 or not sent or urls.origin(str(response.url)) != urls.origin(str(first.url)):
            return None
        return str(sent)

    def renew_refused(self, header: str) -> None:
        """Renew the token after a 401 refused `header`, unless another request already did (sync)."""
        with self.lock:
            if self.state.header == header:
                self.fetch()

    async def arenew_refused(self, header: str) -> None:
        """Renew the token after a 401 refused `header`, unless another request already did (async)."""
        async with self._async_lock():
            if self.state.header == header:
                await self.afetch()

    async def acurrent(self) -> str:
        """Return the Authorization header, fetching a token if needed (async)."""
        async with self._async_lock():
            if not self.state.valid(self.clock()):
                await self.afetch()
            return self.state.header


class _Token(Auth):
    """An `OAuth2`'s current token on one request; a 401 is left to the client that sent it."""

    def __init__(self, credential: OAuth2) -> None:
        self.credential = credential
        self.credential_headers = credential.credential_headers

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers['Authorization'] = self.credential.current()
        return request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers['Authorization'] = await self.credential.acurrent()
        yield request

    sync_auth_flow = OAuth2.sync_auth_flow


def _adopt(httpx: ModuleType) -> None:
    """Make `Auth`, and so every subclass, an `httpx.Auth`, as it was from its definition in 1.3."""
    if httpx.Auth not in _Flows.__mro__:
        _Flows.__bases__ = (httpx.Auth,)


library.adopt(_adopt)


def renewable(value: Any) -> OAuth2 | None:
    """Return the auth of a request if it may renew its credential and want the request sent again."""
    return value if isinstance(value, OAuth2) else None


def signing(value: Any) -> Any:
    """Return the auth to sign one attempt of a request with (see `Auth.once`)."""
    return value.once() if isinstance(value, Auth) else value


class Replay:
    """What sending a request again takes: its options, and where its file body started."""

    def __init__(self, kwargs: Mapping[str, Any]) -> None:
        self.options = dict(kwargs)
        self.body = kwargs.get('data', kwargs.get('content'))
        self.position = self.body.tell() if hasattr(self.body, 'seek') and hasattr(self.body, 'tell') else None

    def refused(self, credential: OAuth2, response: Any) -> str | None:
        """Return the header `response` refused if the request can be sent again (its body is
        not an iterator or a stream already consumed), else None."""
        if self.position is None and not retry.replayable(self.options):
            return None
        return credential.refused(response)

    def kwargs(self, credential: OAuth2) -> dict[str, Any]:
        """Rewind a file body and return the options of the replay, signed by `credential.once()`."""
        if self.position is not None:
            self.body.seek(self.position)
        return dict(self.options, auth=credential.once())
