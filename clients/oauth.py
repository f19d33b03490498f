"""OAuth 2.0 token state: the token request's form, and when a cached token must be renewed."""

from __future__ import annotations

from typing import Any

from . import fields
from .errors import TokenError
from .flows import authorization

# More seconds than a token can mean (a lifetime of 30 billion years is garbage).
_LONGEST = 1e18


class TokenState:
    """A cached token and its expiry; `generation` counts the tokens accepted so far."""

    def __init__(self, client_id: str, client_secret: str | None, scope: str | None,
                 refresh_token: str | None, leeway: float) -> None:
        if not isinstance(client_id, str) or not client_id:
            raise TokenError('OAuth2 needs a client_id')
        self.client_id, self.client_secret, self.scope = client_id, client_secret, scope
        self.refresh_token, self.leeway = refresh_token, leeway
        self.token: dict[str, Any] | None = None
        self.header = ''
        self.expires: float | None = None
        self.generation = 0

    def form(self) -> dict[str, str]:
        """Return the token request's form body: refresh-token grant if there is one."""
        if self.refresh_token:
            form = {'grant_type': 'refresh_token', 'refresh_token': self.refresh_token}
        else:
            form = {'grant_type': 'client_credentials'}
        form['client_id'] = self.client_id
        if self.client_secret is not None:
            form['client_secret'] = self.client_secret
        if self.scope:
            form['scope'] = self.scope
        return form

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
