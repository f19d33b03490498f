"""What requests reads from the process environment for each request, read once per change.

`requests.Session.merge_environment_settings` scans every environment variable, twice, for
`*_proxy` settings on every request (and `proxy_bypass` scans them again), which costs more
than a whole request through `clients` in an environment of 100 variables. `settings` gives
the same answers from a memo that holds while the environment is unchanged (a comparison
of the raw environment with a copy of it, done in C), worked out on a miss by requests' own
functions. Where the proxy settings come from the system (macOS, Windows) rather than the
environment alone, or requests' functions were replaced, `cacheable` is false and requests
reads them itself.
"""

from __future__ import annotations

import os
import threading
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import requests

_SIZE = 256  # netlocs remembered per environment
_LOCK = threading.Lock()
_ORIGINALS = (requests.utils.get_environ_proxies, urllib.request.getproxies_environment,
              vars(urllib.request)['proxy_bypass_environment'])


class _Memo:
    """The answers for one state of the environment."""

    def __init__(self, raw: dict[Any, Any]) -> None:
        self.raw = raw
        self.bundle = os.environ.get('REQUESTS_CA_BUNDLE') or os.environ.get('CURL_CA_BUNDLE')
        self.proxies: dict[tuple[str, str | None], dict[str, str]] = {}


_memo = _Memo({})


def _raw() -> Any:
    return getattr(os.environ, '_data', None)


def cacheable() -> bool:
    """Whether the proxy settings are the environment's alone, read by requests' own functions."""
    names = vars(requests.utils)
    return (isinstance(_raw(), dict) and requests.sessions.get_environ_proxies is _ORIGINALS[0]
            and (names['get_environ_proxies'], names['getproxies'], names['proxy_bypass']) == _ORIGINALS)


def settings(url: str, no_proxy: str | None) -> tuple[dict[str, str], str | None]:
    """Return `get_environ_proxies(url, no_proxy)` (a new dict) and the CA bundle the environment names.

    Only when `cacheable()`, and `no_proxy` is a string or None.
    """
    global _memo
    raw, memo = _raw(), _memo
    if raw != memo.raw:
        memo = _memo = _Memo(dict(raw))
    key = (urlsplit(url).netloc, no_proxy)  # all of the URL that proxy decisions read
    proxies = memo.proxies.get(key)
    if proxies is None:
        with _LOCK:  # requests sets no_proxy in os.environ while it decides
            proxies = requests.utils.get_environ_proxies(url, no_proxy=no_proxy)
        if len(memo.proxies) >= _SIZE:
            memo.proxies.clear()
        if raw == memo.raw:  # (not changed meanwhile by another thread)
            memo.proxies[key] = proxies
    return dict(proxies), memo.bundle
