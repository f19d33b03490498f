"""The pytest plugin of `clients` (entry point `pytest11`): fixtures of `clients.testing`.

`clients_mock` answers every client's requests from the routes a test registers and fails the
test if a route was never called or a request matched none; `clients_clock` makes the
library's time fake and its waits instant. (This module imports `clients` only when a fixture
is used, so that coverage of a test run sees the package imported.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def clients_mock() -> Iterator[Any]:
    """A started `clients.testing.Mock`; checked when the test ends (see `Mock.check`)."""
    from clients.testing import Mock

    with Mock() as mock:
        yield mock
    mock.check()


@pytest.fixture
def clients_clock() -> Iterator[Any]:
    """An installed `clients.testing.FakeClock`: every wait of the library is instant and recorded."""
    from clients.testing import FakeClock

    with FakeClock() as clock:
        yield clock
