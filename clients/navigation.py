"""The pure half of every client: base URL, derived views, verbs and attribute navigation.

These mixins do no I/O; each shell (`base`, `aio`) supplies `request`, `_derive` and the
settings it copies. Verbs are shared because they only return the result of `request`
(a value in the sync shell, an awaitable in the async one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

from . import content, urls

_R_co = TypeVar('_R_co', covariant=True)
_R = TypeVar('_R')


class Sender(Protocol[_R_co]):
    """What the verbs need: a `request` method; its return type is each verb's.

    `Client.get` returns a `requests.Response`, `Resource.get` the decoded content, and the
    async twins a coroutine of the same.
    """

    def request(self, method: str, path: object = ..., **kwargs: Any) -> _R_co: ...

# Default timeout for every client, sync and async: (connect, read) seconds.
TIMEOUT = (5.0, 30.0)

# Headers as a client takes them: a mapping or (name, value) pairs.
Headers = Mapping[str, str] | Sequence[tuple[str, str]]

# httpx's and requests' names for whether to follow redirects; both shells take either.
REDIRECTS = ('follow_redirects', 'allow_redirects')


def redirects(options: dict[str, Any]) -> bool | None:
    """Pop either name for following redirects from `options`; return its value, or None if neither is given.

    Both names with different values, or a value that is not a bool, raise `TypeError`.
    """
    if REDIRECTS[0] not in options and REDIRECTS[1] not in options:
        return None
    given = {name: options.pop(name) for name in REDIRECTS if name in options}
    for name, value in given.items():
        if not isinstance(value, bool):
            raise TypeError(f'{name} must be True or False, not {value!r}')
    if len(set(given.values())) > 1:
        raise TypeError('follow_redirects and allow_redirects (one setting, two names) disagree: give one of them')
    follow: bool = next(iter(given.values()))
    return follow


class Navigable:
    """Base URL handling, derived views and verbs shared by `Client` and `AsyncClient`."""

    url: str
    trailing: str
    _root: bool

    def __repr__(self) -> str:
        return f'{type(self).__name__}({urls.redact(self.url)}... {self.trailing})'

    def __truediv__(self, path: object) -> Self:
        """Return a derived client at `path` (a navigation key, see `urls.key`) under this one,
        sharing its connection pool."""
        return self._derive(urls.key(path))

    def __copy__(self) -> Self:
        return self._derive()

    if TYPE_CHECKING:  # supplied by each shell

        def _derive(self, path: object = None, cls: type | None = None) -> Self: ...

    def _bases(self) -> list[str]:
        """Return the base URLs whose origins this client's credentials belong to."""
        return [self.url]

    def _url(self, path: object, base: str | None = None) -> str:
        """Return the URL for `path`: joined under `base` (this client's URL) and finished with
        `trailing`; an absolute URL is used as given (a server's next link, say)."""
        if urls.absolute_url(path):
            return urls.checked(path, 'URL')
        return urls.finish(urls.join(base or self.url, path), self.trailing)

    def _foreign(self, path: object, url: str) -> bool:
        """Whether request URL `url` (for `path`) is outside this client's origins.

        Decided from the URL that is sent, never from the path as written (see `urls.origin`).
        """
        return urls.foreign(url, self._bases())

    @staticmethod
    def content_type(response: Any) -> str:
        """Return how to decode `response`: 'json', 'lines', 'events', 'text', or '' for bytes.

        Every decoding asks this hook (1.3's); override it on a class or an instance to
        decode differently. The default classifies the `Content-Type` header.
        """
        return content.named(response.headers.get('Content-Type'))

    def _kind(self, response: Any) -> content.Kind:
        """Return the kind `response` decodes as: what `content_type` says, checked."""
        return content.chosen(self.content_type(response),
                              lambda: f'{urls.where(response.request.method, response.url)}: '
                                      f'{type(self).__name__}.content_type')

    def with_headers(self, headers: Headers = (), **more: str) -> Self:
        """Return a derived client whose headers are updated with `headers` and `more`."""
        client = self._derive()
        client.headers.update(dict(headers, **more))  # type: ignore[attr-defined]
        return client

    def get(self: Sender[_R], path: object = '', **kwargs: Any) -> _R:
        """GET request with optional path."""
        return self.request('GET', path, **kwargs)

    def options(self: Sender[_R], path: object = '', **kwargs: Any) -> _R:
        """OPTIONS request with optional path."""
        return self.request('OPTIONS', path, **kwargs)

    def head(self: Sender[_R], path: object = '', **kwargs: Any) -> _R:
        """HEAD request with optional path; redirects are not followed unless asked."""
        if REDIRECTS[0] not in kwargs and REDIRECTS[1] not in kwargs:
            kwargs['allow_redirects'] = False
        return self.request('HEAD', path, **kwargs)

    def post(self: Sender[_R], path: object = '', json: Any = None, **kwargs: Any) -> _R:
        """POST request with optional path and JSON body."""
        return self.request('POST', path, json=json, **kwargs)

    def put(self: Sender[_R], path: object = '', json: Any = None, **kwargs: Any) -> _R:
        """PUT request with optional path and JSON body."""
        return self.request('PUT', path, json=json, **kwargs)

    def patch(self: Sender[_R], path: object = '', json: Any = None, **kwargs: Any) -> _R:
        """PATCH request with optional path and JSON body."""
        return self.request('PATCH', path, json=json, **kwargs)

    def delete(self: Sender[_R], path: object = '', **kwargs: Any) -> _R:
        """DELETE request with optional path."""
        return self.request('DELETE', path, **kwargs)


# Names of 1.3 methods that are gone, and what replaces each: they raise, never navigate.
RETIRED = {
    'clone': 'use `client / path` for a view at another path, or `.client` for the plain client',
    'updater': 'use `update(path, callback)` or `with updating(path) as data:`',
}
# Attribute names that never navigate, even when missing (e.g. while unpickling).
RESERVED = frozenset({
    'url', 'trailing', 'timeout', 'json', 'urls', 'headers', 'cookies', 'auth', 'proxies',
    'hooks', 'params', 'verify', 'cert', 'adapters', 'stream', 'trust_env', 'max_redirects',
    'follow_redirects', *RETIRED,
})


def missing(owner: object, name: str) -> AttributeError:
    """Return the error for an attribute that does not navigate; a retired 1.3 name says what replaces it."""
    hint = f' (1.3\'s {name} is gone: {RETIRED[name]})' if name in RETIRED else ''
    return AttributeError(f'{type(owner).__name__!r} object has no attribute {name!r}{hint}')


class Navigation:
    """Attribute navigation: `resource.user.repos` is the resource at `user/repos/`."""

    if TYPE_CHECKING:  # supplied by each shell

        def _derive(self, path: object = None, cls: type | None = None) -> Self: ...

    @property
    def client(self) -> Any:  # each shell names its plain client class
        """This client as a plain client (same pool, no navigation, raw responses)."""
        mro = type(self).__mro__
        plain = next(cls for cls in mro if issubclass(cls, Navigable) and not issubclass(cls, Navigation))
        return self._derive(cls=plain)

    def __getattr__(self, name: str) -> Self:
        """Return a derived client at path `name`; private and reserved names raise."""
        if name.startswith('_') or name in RESERVED:
            raise missing(self, name)
        return self._derive(urls.key(name))

    def _item(self, key: object) -> str:
        return urls.key(key)
