"""Cookies of a client and of its views: bound to the client's origins, and layered per view.

`with_cookies` gives a view a `Layered` jar over the jar of the client it came from: the
view sends that client's cookies and its own (its own win on the same name, domain and
path), and keeps what it stores (its own cookies, and those the server sets in answer to
its requests) in its own layer. The jar under it is only read, so no cookie of a view
reaches its root's requests or another view's.
"""

from __future__ import annotations

import http.cookiejar
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import requests

from . import urls

# Cookies as a client takes them: names and values, as a mapping or (name, value) pairs.
Pairs = Mapping[str, str] | Iterable[tuple[str, str]]


def bound(bases: Iterable[str], pairs: Pairs = (), **more: str) -> list[http.cookiejar.Cookie]:
    """Return cookies of names and values bound to the origins of `bases` (see `urls.cookies`)."""
    items = list(pairs.items() if isinstance(pairs, Mapping) else pairs) + list(more.items())
    bases = list(bases)
    return [cookie for name, value in items for cookie in urls.cookies(bases, name, value)]


class Layered(http.cookiejar.CookieJar):
    """A view's jar: its own cookies over `parent`, a jar it reads and never changes."""

    def __init__(self, parent: http.cookiejar.CookieJar) -> None:
        super().__init__(parent._policy)  # type: ignore[attr-defined]  # (the parent's rules for what is kept)
        self.parent = parent

    def __iter__(self) -> Iterator[http.cookiejar.Cookie]:
        own = list(super().__iter__())
        shadowed = {(cookie.domain, cookie.path, cookie.name) for cookie in own}
        yield from (cookie for cookie in self.parent if (cookie.domain, cookie.path, cookie.name) not in shadowed)
        yield from own

    def add_cookie_header(self, request: Any) -> None:
        """Add the `Cookie` header of both layers to a urllib-style request."""
        flat = http.cookiejar.CookieJar(self._policy)  # type: ignore[attr-defined]
        for cookie in self:
            flat.set_cookie(cookie)
        flat.add_cookie_header(request)


class RequestsLayered(Layered, requests.cookies.RequestsCookieJar):  # type: ignore[misc]  # (iterates cookies, as requests does)
    """A `Layered` jar that is also the `RequestsCookieJar` a `requests.Session` keeps."""
