"""Routes of the test server for OAuth 2.0 and webhooks (registered on import).

Each test sets `server.oauth` / `server.webhook_secret` on its own `fresh` server.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from urllib.parse import parse_qs, unquote_plus, urlsplit

import clients
from tests.server import Handler, route


def oauth_state(server: object) -> dict:
    state = server.__dict__.setdefault('oauth', {})  # type: ignore[attr-defined]
    state.setdefault('lock', threading.Lock())
    for key, value in {'issued': 0, 'current': None, 'delay': 0.0, 'expires_in': 3600, 'fail': False,
                       'token': None, 'requests': [], 'refresh': None, 'reject': False}.items():
        state.setdefault(key, value)
    return state


def basic(header: str | None) -> tuple[str, str] | None:
    """Return the client id and secret of an `Authorization: Basic` header (RFC 6749 2.3.1)."""
    kind, _, value = (header or '').partition(' ')
    if kind.lower() != 'basic':
        return None
    client_id, _, secret = base64.b64decode(value).decode().partition(':')
    return unquote_plus(client_id), unquote_plus(secret)


@route('/oauth/token')
def token(handler: Handler) -> None:
    """Issue `t<n>` tokens for client `id` / secret `secret`, given by HTTP Basic or in the form.

    A request that authenticates both ways is refused (RFC 6749 2.3: one method per request).
    """
    state = oauth_state(handler.server)
    form = {key: values[-1] for key, values in parse_qs(handler.body().decode()).items()}
    credentials = basic(handler.headers.get('Authorization'))
    state['requests'].append({'query': urlsplit(handler.path).query, 'form': form, 'basic': credentials,
                              'content_type': handler.headers.get('Content-Type')})
    time.sleep(state['delay'])
    if state['fail']:
        return handler.send_json(500, {'error': 'server_error', 'error_description': 'token store down'})
    if credentials and {'client_id', 'client_secret'} & set(form):
        return handler.send_json(400, {'error': 'invalid_request', 'error_description': 'more than one method'})
    client_id, secret = credentials or (form.get('client_id'), form.get('client_secret'))
    grant = form.get('grant_type')
    if client_id != 'id' or (grant == 'client_credentials' and secret != 'secret'):
        return handler.send_json(401, {'error': 'invalid_client'})
    if grant == 'refresh_token' and form.get('refresh_token') != state['refresh']:
        return handler.send_json(400, {'error': 'invalid_grant'})
    with state['lock']:
        state['issued'] += 1
        value = state['token'] or f't{state["issued"]}'
        state['current'] = value
        state['refresh'] = f'r{state["issued"]}'
    return handler.send_json(200, {'access_token': value, 'token_type': 'bearer',
                                   'expires_in': state['expires_in'], 'refresh_token': state['refresh']})


@route('/oauth/protected')
def protected(handler: Handler) -> None:
    """200 with the current token, 401 with any other."""
    state = oauth_state(handler.server)
    handler.body()  # read it (chunked too), so the connection can serve the next request
    given = handler.headers.get('Authorization')
    if not state['reject'] and state['current'] and given == f'Bearer {state["current"]}':
        return handler.send_json(200, {'token': state['current']})
    return handler.send_json(401, {'error': 'invalid_token'}, WWW_Authenticate='Bearer error="invalid_token"')


@route('/webhook')
def webhook(handler: Handler) -> None:
    """Verify a delivery with `verify_webhook`: 200 with the payload, or 401 with the reason."""
    body = handler.body()
    try:
        payload = clients.verify_webhook(handler.server.webhook_secret, body, handler.headers.items())  # type: ignore[attr-defined]
    except clients.WebhookError as exc:
        return handler.send_json(401, {'message': str(exc)})
    headers = {name.lower(): value for name, value in handler.headers.items()}
    return handler.send_json(200, {'payload': payload, 'headers': headers, 'body': json.loads(body)})
