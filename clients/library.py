"""The httpx library the async shell runs over: `httpx2`, the maintained fork, or `httpx`.

It is chosen once, when `clients` is first imported: the one the `CLIENTS_HTTPX` environment
variable names (`httpx2` or `httpx`), else `httpx2` when it is installed, else `httpx`. The
async classes, their errors, the transports and the auth helpers are all built on the chosen
library's classes, so `isinstance(AsyncResource(url), httpx2.AsyncClient)` holds when httpx2
is chosen, and `clients.httpx` is that library (for code that runs over either).

mypy sees httpx2; to check code over httpx, set `always_true = CLIENTS_HTTPX1`. pyright needs
telling either way: `defineConstant = { CLIENTS_HTTPX1 = false }` for httpx2, `true` for httpx.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

__all__ = ['CLIENTS_HTTPX1', 'ENVIRONMENT', 'NAME', 'NAMES', 'choose', 'httpcore', 'httpx']

ENVIRONMENT = 'CLIENTS_HTTPX'
# In order of preference, each with the extra that installs it.
NAMES = {'httpx2': 'clients', 'httpx': "'clients[httpx]'"}
CLIENTS_HTTPX1 = False  # true only to a type checker told so


def choose(named: str, installed: Callable[[str], bool]) -> str:
    """Return the library to use: the one `named` (if not empty), else the first installed.

    Raises:
        ValueError: a name that is not one of `NAMES`
        ImportError: the library named, or every library, is not installed
    """
    if named:
        if named not in NAMES:
            raise ValueError(f'{ENVIRONMENT} must be {" or ".join(NAMES)} (or unset): not {named!r}')
        if not installed(named):
            raise ImportError(f'{ENVIRONMENT}={named}, but {named} is not installed: pip install {NAMES[named]}')
        return named
    for name in NAMES:
        if installed(name):
            return name
    raise ImportError(f'the async clients need {" or ".join(NAMES)}: pip install clients')


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


NAME = choose(os.environ.get(ENVIRONMENT, ''), _installed)

if TYPE_CHECKING:
    if not CLIENTS_HTTPX1:
        import httpcore2 as httpcore
        import httpx2 as httpx
    else:  # (mypy keeps the first import of a name when it is not told which branch holds)
        import httpcore  # type: ignore[no-redef, unused-ignore]
        import httpx  # type: ignore[no-redef, unused-ignore]
else:
    httpx = importlib.import_module(NAME)
    httpcore = importlib.import_module(NAME.replace('httpx', 'httpcore'))
