"""The `User-Agent` every client sends: `clients/<version> (<library>/<version>)`.

The library is the one a shell is built over (`python-requests` for the sync classes and
the command line, `python-httpx` for the async ones, over either transport). It is a
default header like any other: client headers, a request's headers or the CLI's `-H`
replace it.
"""

from __future__ import annotations

import functools

import httpx
import requests


@functools.cache
def user_agent(library: str, version: str) -> str:
    """Return the `User-Agent` of clients built over `library` at `version`."""
    from . import __version__  # (the package imports the shells before it names its version)

    return f'clients/{__version__} ({library}/{version})'


def sync() -> str:
    """Return the `User-Agent` of the sync clients: `clients/<version> (python-requests/<version>)`."""
    return user_agent('python-requests', requests.__version__)


def asynchronous() -> str:
    """Return the `User-Agent` of the async clients: `clients/<version> (python-httpx/<version>)`."""
    return user_agent('python-httpx', httpx.__version__)
