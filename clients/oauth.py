"""OAuth 2.0 token state: the token request's form, and when a cached token must be renewed."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from . import fields
from .errors import TokenError
from .flows import authorization

# How a client with a secret authenticates to the token endpoint (RFC 6749 2.3.1; the names
# are RFC 7591's `token_endpoint_auth_method` values).
AUTH_METHODS = ('client_secret_basic', 'client_secret_post')


def basic(client_id: str, client_secret: str) -> str:
    """Return the `Authorization: Basic` value for a client (RFC 6749 2.3.1).

    Each part is form-urlencoded before the two are joined with `:`, so an id may hold a
    colon. A space is encoded `%20`, not `+`: form decoders read both, while servers that
    decode with a plain percent-decoder (authlib does) read only `%20` as a space.
    """
    pair = f'{quote(client_id, safe="")}:{quote(client_secret, safe="")}'
    return 'Basic ' + base64.b64encode(pair.encode()).decode('ascii')

# More seconds than a token can mean (a lifetime of 30 billion years is garbage).
_LONGEST = 1e18


class TokenState:
    """A cached token and its expiry; `generation` counts the tokens accepted so far."""

    def __init__(self, client_id: str, client_secret: str | None, scope: str | None,
                 refresh_token: str | None, leeway: float, auth_method: str = 'client_secret_basic') -> None:
        if not isinstance(client_id, str) or not client_id:
            raise TokenError('OAuth2 needs a client_id')
        if auth_method not in AUTH_METHODS:
            raise TokenError(f'token_endpoint_auth_method must be one of {", ".join(AUTH_METHODS)}, '
                             f'not {auth_method!r}')
        self.client_id, self.client_secret, self.scope = client_id, client_secret, scope
        self.refresh_token, self.leeway, self.auth_method = refresh_token, leeway, auth_method
        self.token: dict[str, Any] | None = None
        self.header = ''
        self.expires: float | None = None
        self.generation = 0

    def form(self) -> dict[str, str]:
        """Return the token request's form body: refresh-token grant if there is one.

        The body names the client only when `headers` does not: a client without a secret
        (RFC 6749 3.2.1), or with `client_secret_post`.
        """
        if self.refresh_token:
            form = {'grant_type': 'refresh_token', 'refresh_token': self.refresh_token}
        else:
            form = {'grant_type': 'client_credentials'}
        if self.client_secret is None or self.auth_method == 'client_secret_post':
            form['client_id'] = self.client_id
        if self.client_secret is not None and self.auth_method == 'client_secret_post':
            form['client_secret'] = self.client_secret
        if self.scope:
            form['scope'] = self.scope
        return form

    def headers(self) -> dict[str, str]:
        """Return the token request's headers: HTTP Basic client authentication, by default."""
        if self.client_secret is None or self.auth_method != 'client_secret_basic':
            return {}
        return {'Authorization': basic(self.client_id, self.client_secret)}

    def accept(self, token: Any, now: float) -> None:
        """Take a token response (raising `TokenError`, and changing nothing, if it is unusable)."""
        header = authorization(token)
        expires_in = given = token.get('expires_in')
        if isinstance(expires_in, str):
            expires_in = fields.number(expires_in)
        if given is not None and (isinstance(expires_in, bool) or not isinstance(expires_in, int | float)
                                  or not abs(expires_in) < _LONGEST):
            raise TokenError(f'expires_in is not a number: {given!r}')
        self.token, self.header = dict(token), header
        self.expires = None if expires_in is None else now + expires_in - min(self.leeway, expires_in / 2)
        self.refresh_token = token.get('refresh_token') or self.refresh_token
        self.generation += 1

    def valid(self, now: float) -> bool:
        """Return whether the cached token may still be used."""
        return bool(self.header) and (self.expires is None or now < self.expires)
