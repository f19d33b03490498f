"""Host choice for proxies: per-host counters and the choice of the least troubled host."""

from __future__ import annotations

import collections
import contextlib
import random
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from . import urls
from .errors import TRANSPORT_ERRORS, HTTPError


class Stats(collections.Counter[str]):
    """Thread-safe counts of one host: `errors`, `failures` (5xx) and active `connections`."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def add(self, **counts: int) -> None:
        """Add to the counts atomically."""
        with self.lock:
            self.update(counts)

    def __reduce__(self) -> Any:
        return type(self), (), None, None, iter(self.items())


HostStats = Stats  # the name `Stats` is also a class attribute of Balancer


class Balancer:
    """Mixin for proxies: `urls` maps each base URL to its `Stats`; the least troubled wins.

    Args:
        *urls: base URLs of the hosts
        **kwargs: options of the client class it is mixed into
    """

    Stats = Stats
    urls: dict[str, HostStats]
    trailing: str

    def __init__(self, *urls: str, **kwargs: Any) -> None:
        table = hosts(urls, self.Stats)
        super().__init__(next(iter(table)), **kwargs)  # type: ignore[call-arg]
        self.urls = table

    def __repr__(self) -> str:
        return f'{type(self).__name__}({" ".join(self.urls)}... {self.trailing})'

    def _bases(self) -> list[str]:
        return list(self.urls)

    def _derive(self, path: object = None, cls: type | None = None) -> Any:
        new = super()._derive(path, cls)  # type: ignore[misc]
        if path is not None:
            new.urls = derive(self.urls, path)
        return new

    def priority(self, url: str) -> Any:
        """Return a comparable priority for `url`, lower is better; `None` excludes it.

        The default minimizes (errors, failures, active connections).
        """
        stats = self.urls[url]
        return stats['errors'], stats['failures'], stats['connections']

    def choice(self, method: str) -> str:
        """Return the base URL for a request; ties are broken at random.

        Args:
            method: the request's method, for extensions that route reads and writes apart
        """
        ranked: dict[Any, list[str]] = collections.defaultdict(list)
        for url in self.urls:
            ranked[self.priority(url)].append(url)
        ranked.pop(None, None)
        if not ranked:
            raise LookupError(f'no host is available for {method}: {", ".join(self.urls)}')
        return random.choice(ranked[min(ranked)])

    @contextlib.contextmanager
    def counting(self, url: str) -> Iterator[HostStats]:
        """Count an active connection to `url` while the block runs.

        A transport error raised in the block counts as an error, a 5xx status error as a
        failure; the block adds `failures` itself for responses it returns unraised.
        """
        stats = self.urls[url]
        stats.add(connections=1)
        try:
            yield stats
        except HTTPError as exc:
            stats.add(failures=int(exc.status_code >= 500))
            raise
        except TRANSPORT_ERRORS:
            stats.add(errors=1)
            raise
        finally:
            stats.add(connections=-1)


def hosts(addresses: tuple[str, ...], stats: type[Stats]) -> dict[str, Stats]:
    """Return the proxy table for base URLs, each checked and given fresh counts."""
    if not addresses:
        raise ValueError('a proxy needs at least one base URL')
    return {urls.base(url): stats() for url in addresses}


def derive(table: Mapping[str, Stats], path: object) -> dict[str, Stats]:
    """Return the table of a derived proxy: each URL joined with `path`, sharing the counts."""
    return {urls.child(url, path): stats for url, stats in table.items()}
