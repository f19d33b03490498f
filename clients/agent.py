"""The `User-Agent` every client sends: `clients/<version> (<library>/<version>)`.

The library is the one a shell is built over (`python-requests` for the sync classes and
the command line, `python-httpx2` or `python-httpx` for the async ones, the library they
subclass (see `clients.library`), over either transport). It is a
default header like any other: client headers, a request's headers or the CLI's `-H`
replace it.
"""

from __future__ import annotations

import functools

import requests

from . import library


@functools.cache
def user_agent(library: str, version: str) -> str:
    """Return the `User-Agent` of clients built over `library` at `version`."""
    from . import __version__  # (the package imports the shells before it names its version)

    return f'clients/{__version__} ({library}/{version})'


def sync() -> str:
    """Return the `User-Agent` of the sync clients: `clients/<version> (python-requests/<version>)`."""
    return user_agent('python-requests', requests.__version__)


def asynchronous() -> str:
    """Return the `User-Agent` of the async clients: `clients/<version> (python-httpx2/<version>)` (or httpx)."""
    return user_agent(f'python-{library.NAME}', library.httpx.__version__)
