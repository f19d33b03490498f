"""The httpx library the async shell runs over: `httpx2`, the maintained fork, or `httpx`.

It is chosen once, when `clients` is first imported: the one the `CLIENTS_HTTPX` environment
variable names (`httpx2` or `httpx`), else `httpx2` when it is installed, else `httpx`. The
async classes, their errors, the transports and the auth helpers are all built on the chosen
library's classes, so `isinstance(AsyncResource(url), httpx2.AsyncClient)` holds when httpx2
is chosen, and `clients.httpx` is that library (for code that runs over either). It is
imported when first used (`library.httpx`), so a sync program never loads it for nothing.

mypy sees httpx2; to check code over httpx, set `always_true = CLIENTS_HTTPX1`. pyright needs
telling either way: `defineConstant = { CLIENTS_HTTPX1 = false }` for httpx2, `true` for httpx.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING

__all__ = ['CLIENTS_HTTPX1', 'ENVIRONMENT', 'NAME', 'NAMES', 'adopt', 'choose', 'httpcore', 'httpx', 'loaded']

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

_ADOPTERS: list[Callable[[ModuleType], None]] = []  # run once, when the library is first imported


def adopt(adopter: Callable[[ModuleType], None]) -> None:
    """Run `adopter(httpx)` once the library is imported (now, if some code already imported it)."""
    _ADOPTERS.append(adopter)
    if 'httpx' in globals():
        adopter(globals()['httpx'])
    else:
        loaded()


def _library() -> ModuleType:
    """Import the library, and tell the adopters the first time."""
    module: ModuleType | None = globals().get('httpx')
    if module is None:
        module = globals()['httpx'] = importlib.import_module(NAME)
        for adopter in _ADOPTERS:
            adopter(module)
    return module


def loaded() -> ModuleType | None:
    """Return the library if some code has imported it (telling the adopters), else None: then
    none of its objects exist yet, and nothing needs to know it."""
    return _library() if NAME in sys.modules else None


if TYPE_CHECKING:
    if not CLIENTS_HTTPX1:
        import httpcore2 as httpcore
        import httpx2 as httpx
    else:  # (mypy keeps the first import of a name when it is not told which branch holds)
        import httpcore  # type: ignore[no-redef, unused-ignore]
        import httpx  # type: ignore[no-redef, unused-ignore]
else:
    def __getattr__(name: str) -> ModuleType:
        """Import the library (`httpx`) or its `httpcore` when first asked for: a sync program never is."""
        if name == 'httpcore':
            module = globals()['httpcore'] = importlib.import_module(NAME.replace('httpx', 'httpcore'))
            return module
        if name != 'httpx':
            raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
        return _library()
