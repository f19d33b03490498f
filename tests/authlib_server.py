"""authlib's OAuth 2.0 authorization server, run inside the test server (routes registered on import).

`/authlib/token` is authlib's stock client-credentials grant, which authenticates clients
with HTTP Basic only; `/authlib/post/token` also accepts `client_secret_post`, for clients
registered with it. Each client may use only the method it is registered with (RFC 7591
`token_endpoint_auth_method`), as authlib's own client models do. `/authlib/protected`
answers 200 with the client id for a token issued here, else 401.
"""

from __future__ import annotations

import hmac
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator

from tests.server import Handler, route

# Secrets and ids with what form-urlencoding must carry: a colon, a space, `%`, `+`, non-ASCII.
CLIENTS = {
    'basic-client': ('s3cret: with space+%2B é', 'client_secret_basic'),
    'id:with colon': ('plain', 'client_secret_basic'),
    'post-client': ('p0st secret', 'client_secret_post'),
}


class Client(ClientMixin):  # type: ignore[misc]
    """A registered client: its secret and its one token endpoint auth method."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.secret, self.method = CLIENTS[client_id]

    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.method

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == 'client_credentials'

    def get_allowed_scope(self, scope: str | None) -> str:
        return scope or ''


class HandlerRequest(OAuth2Request):  # type: ignore[misc]
    """The test server's request as authlib reads one."""

    def __init__(self, handler: Handler, url: str) -> None:
        super().__init__(handler.command, url, headers=handler.headers)
        self._form = {key: values[-1] for key, values in parse_qs(handler.body().decode()).items()}
        self._args = {key: values[-1] for key, values in parse_qs(urlsplit(url).query).items()}
        self.payload = BasicOAuth2Payload({**self._args, **self._form})

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return self._args


class Grant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    """The client-credentials grant, also accepting `client_secret_post`."""

    TOKEN_ENDPOINT_AUTH_METHODS = ('client_secret_basic', 'client_secret_post')


class Server(AuthorizationServer):  # type: ignore[misc]
    """authlib's authorization server, keeping the tokens it issues in memory."""

    def __init__(self, grant: type) -> None:
        super().__init__()
        self.tokens: dict[str, str] = {}
        self.register_grant(grant)
        self.register_token_generator('default', BearerTokenGenerator(lambda **_: secrets.token_urlsafe(16)))

    def query_client(self, client_id: str) -> Client | None:
        return Client(client_id) if client_id in CLIENTS else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        self.tokens[token['access_token']] = request.client.client_id

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> tuple[int, Any, Any]:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass


def servers(handler: Handler) -> dict[str, Server]:
    """This test server's two authorization servers: the stock grant's and the one with `post`."""
    with handler.server.lock:
        found: dict[str, Server] = handler.server.__dict__.setdefault(
            'authlib', {'': Server(grants.ClientCredentialsGrant), 'post': Server(Grant)})
        return found


def respond(handler: Handler, status: int, body: Any, headers: list[tuple[str, str]]) -> None:
    handler.send(status, json.dumps(body).encode(), **{name.replace('-', '_'): value for name, value in headers
                                                      if name.lower() != 'content-type'})


@route('/authlib/token')
def token(handler: Handler) -> None:
    """The stock grant: HTTP Basic only."""
    server = servers(handler)['']
    respond(handler, *server.create_token_response(HandlerRequest(handler, handler.server.url[:-1] + handler.path)))


@route('/authlib/post/token')
def post_token(handler: Handler) -> None:
    """The grant that also accepts `client_secret_post`."""
    server = servers(handler)['post']
    respond(handler, *server.create_token_response(HandlerRequest(handler, handler.server.url[:-1] + handler.path)))


@route('/authlib/protected')
def protected(handler: Handler) -> None:
    """200 with the client a token was issued to, by either server; else 401."""
    handler.body()
    kind, _, given = handler.headers.get('Authorization', '').partition(' ')
    issued = {value: client for server in servers(handler).values() for value, client in server.tokens.items()}
    if kind.lower() == 'bearer' and given in issued:
        return handler.send_json(200, {'client': issued[given]})
    return handler.send_json(401, {'error': 'invalid_token'})
