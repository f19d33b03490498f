"""Webhooks: signing outgoing deliveries and verifying incoming ones, for any web framework.

A delivery is a JSON body with three headers: `X-Webhook-Id` (also sent as
`Idempotency-Key`), `X-Webhook-Timestamp` (Unix seconds) and `X-Webhook-Signature-256`:
`sha256=` and the hex HMAC-SHA256, keyed with the shared secret, of
`<timestamp>.<body>`. Signing the timestamp lets receivers reject replays of old deliveries.
GitHub's body-only `X-Hub-Signature-256` can be verified too (`tolerance=None`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import WebhookError

SIGNATURE = 'X-Webhook-Signature-256'
TIMESTAMP = 'X-Webhook-Timestamp'
ID = 'X-Webhook-Id'
GITHUB_SIGNATURE = 'X-Hub-Signature-256'
TOLERANCE = 300.0


def _key(secret: str | bytes) -> bytes:
    if not secret:
        raise ValueError('a webhook secret must not be empty')
    return secret.encode() if isinstance(secret, str) else secret


def signature(secret: str | bytes, body: bytes, timestamp: str | None = None) -> str:
    """Return `sha256=<hex>` over `<timestamp>.<body>`, or over the body alone without one."""
    message = body if timestamp is None else timestamp.encode() + b'.' + body
    return 'sha256=' + hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def delivery(payload: Any, secret: str | bytes, clock: Callable[[], float] = time.time,
             id: str | None = None) -> tuple[bytes, dict[str, str]]:
    """Return the body and headers of a signed delivery of JSON `payload`."""
    body = json.dumps(payload, separators=(',', ':'), ensure_ascii=False).encode()
    timestamp = str(int(clock()))
    import uuid  # (imported when first used: it costs import clients a few milliseconds)

    id = id or str(uuid.uuid4())
    headers = {
        'Content-Type': 'application/json',
        ID: id,
        'Idempotency-Key': id,
        TIMESTAMP: timestamp,
        SIGNATURE: signature(secret, body, timestamp),
    }
    return body, headers


def _lookup(headers: Mapping[str, str] | Iterable[tuple[str, str]], name: str) -> str | None:
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        if key.lower() == name.lower():
            return value
    return None


def verify_webhook(secret: str | bytes, body: bytes, headers: Mapping[str, str] | Iterable[tuple[str, str]],
                   tolerance: float | None = TOLERANCE, clock: Callable[[], float] = time.time) -> Any:
    """Check a delivery's signature (in constant time) and age; return its decoded JSON.

    Args:
        secret: the shared secret
        body: the raw request body, exactly as received
        headers: the request headers (any mapping or (name, value) pairs; case does not matter)
        tolerance: the greatest age (and clock skew) accepted, in seconds; `None` skips the
            age check and also accepts GitHub's body-only `X-Hub-Signature-256`

    Raises:
        WebhookError: a missing or wrong signature, or a stale or malformed timestamp
    """
    if not isinstance(body, bytes):
        raise TypeError(f'verify the raw body bytes, not {type(body).__name__}')
    given = _lookup(headers, SIGNATURE)
    if given is not None:
        timestamp = _lookup(headers, TIMESTAMP)
        if timestamp is None:
            raise WebhookError(f'missing {TIMESTAMP} header')
        try:
            sent = int(timestamp)
        except ValueError as exc:
            raise WebhookError(f'malformed {TIMESTAMP}: {timestamp!r}') from exc
        expected = signature(secret, body, timestamp)
    elif tolerance is None and (given := _lookup(headers, GITHUB_SIGNATURE)) is not None:
        sent, expected = None, signature(secret, body)
    else:
        raise WebhookError(f'missing {SIGNATURE} header')
    if not given.isascii() or not hmac.compare_digest(given.encode(), expected.encode()):
        raise WebhookError('webhook signature does not match')
    if tolerance is not None and sent is not None and abs(clock() - sent) > tolerance:
        raise WebhookError(f'webhook timestamp {sent} is outside the {tolerance:g} s tolerance')
    try:
        return json.loads(body) if body else None
    except (ValueError, RecursionError) as exc:
        reason = 'nested too deeply' if isinstance(exc, RecursionError) else exc
        raise WebhookError(f'webhook body is not JSON: {reason}') from exc
