"""Fixtures: a real local server, and `twin`, which runs one scenario through both shells."""

from __future__ import annotations

import inspect
import json as json_module
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

import clients
from tests.server import Server

URL = 'http://api.test/v1/'


@pytest.fixture(scope='session')
def server() -> Iterator[Server]:
    """A real HTTP/1.1 server on 127.0.0.1 shared by the session."""
    with Server() as running:
        yield running


@pytest.fixture(scope='session')
def other() -> Iterator[Server]:
    """A second server: another origin (another port)."""
    with Server() as running:
        yield running


@pytest.fixture
def fresh() -> Iterator[Server]:
    """A server of this test's own, for exact connection counts."""
    with Server() as running:
        yield running


@dataclass
class Sent:
    """A request as a mock saw it."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


class Twin:
    """One shell, sync or async, behind the same interface, so scenarios are written once."""

    def __init__(self, name: str, request: pytest.FixtureRequest) -> None:
        self.name = name
        self.request = request
        prefix = 'Async' if name == 'async' else ''
        for kind in ('Client', 'Resource', 'Remote', 'Graph', 'Proxy', 'JsonRpc'):
            setattr(self, kind, getattr(clients, prefix + kind))
        self.HTTPError = clients.errors.HttpxHTTPError if name == 'async' else clients.errors.RequestsHTTPError
        self._mock: Any = None

    def __repr__(self) -> str:
        return self.name

    @property
    def mocker(self) -> Any:
        if self._mock is None:
            fixture = 'httpx_mock' if self.name == 'async' else 'requests_mock'
            self._mock = self.request.getfixturevalue(fixture)
        return self._mock

    def mock(self, method: str, url: str, status: int = 200, json: Any = None, body: bytes | None = None,
             headers: dict[str, str] | None = None, exc: Exception | None = None) -> None:
        """Answer `method url` with a response (or raise `exc`), any number of times."""
        if json is not None:
            body = json_module.dumps(json).encode()
            headers = {'Content-Type': 'application/json', **(headers or {})}
        if self.name == 'async':
            if exc is not None:
                self.mocker.add_exception(exc, method=method, url=url, is_reusable=True, is_optional=True)
                return
            self.mocker.add_response(method=method, url=url, status_code=status, content=body or b'',
                                     headers=headers or {}, is_reusable=True, is_optional=True)
        else:
            if exc is not None:
                self.mocker.register_uri(method, url, exc=exc)
                return
            self.mocker.register_uri(method, url, status_code=status, content=body or b'', headers=headers or {})

    def sent(self) -> list[Sent]:
        """Return the requests the mock received, in order."""
        if self.name == 'async':
            return [Sent(r.method, str(r.url), {k.lower(): v for k, v in r.headers.items()}, r.content)
                    for r in self.mocker.get_requests()]
        return [Sent(r.method, r.url, {k.lower(): v for k, v in r.headers.items()},
                     r.body.encode() if isinstance(r.body, str) else (r.body or b''))
                for r in self.mocker.request_history]

    async def __call__(self, value: Any) -> Any:
        """Await `value` if it is awaitable: the result of a call in either shell."""
        return await value if inspect.isawaitable(value) else value

    async def list(self, items: Any) -> list[Any]:
        """Collect an iterator or async iterator."""
        if hasattr(items, '__aiter__'):
            return [item async for item in items]
        return list(items)

    async def close(self, client: Any) -> None:
        await self(client.aclose() if self.name == 'async' else client.close())

    def transport_error(self) -> Exception:
        """A connection error of this shell's library."""
        if self.name == 'async':
            return httpx.ConnectError('refused')
        return clients.base.requests.ConnectionError('refused')


# Tests that use these run their async side over both transports; mock-based tests use httpx's
# transport, the layer pytest-httpx mocks (see README, Development).
REAL_SERVERS = {'server', 'other', 'fresh'}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run `twin` tests sync and async, and real-server async tests over both transports."""
    real = REAL_SERVERS & set(metafunc.fixturenames)
    if 'twin' in metafunc.fixturenames:
        metafunc.parametrize('twin', ['sync', 'async'] + (['async-aiohttp'] if real else []), indirect=True)
    elif real and (inspect.iscoroutinefunction(metafunc.function)
                   or any(name.startswith('Async') for name in metafunc.function.__code__.co_names)):
        metafunc.parametrize('async_transport', ['httpx', 'aiohttp'], indirect=True)


@pytest.fixture(autouse=True)
def async_transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The transport async clients use when none is named: httpx's unless parametrized."""
    name = getattr(request, 'param', 'httpx')
    monkeypatch.setattr(clients.transports, 'DEFAULT', name)
    return name


@pytest.fixture
def twin(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, async_transport: str) -> Twin:
    """The sync or the async shell (each test runs with both; `async-aiohttp` on real servers)."""
    name, _, transport = request.param.partition('-')
    monkeypatch.setattr(clients.transports, 'DEFAULT', transport or 'httpx')
    return Twin(name, request)


async def collect(items: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in items]


class FakeClock(clients.retry.Clock):
    """A clock whose sleeps only move its time forward, and are recorded."""

    def __init__(self, start: float = 1000.0, wall: float = 1_700_000_000.0) -> None:
        self.monotonic = start
        self.wall = wall
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.monotonic

    def time(self) -> float:
        return self.wall

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.sleeps.append(seconds)
            self.monotonic += seconds
            self.wall += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock, for `clients.Retry(clock=clock)`."""
    return FakeClock()


@pytest.fixture(autouse=True)
def instant_retries(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retries with the default clock do not really wait in tests; the waits are recorded."""
    waits: list[float] = []

    async def asleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(clients.retry.CLOCK, 'sleep', waits.append)
    monkeypatch.setattr(clients.retry.CLOCK, 'asleep', asleep)
    return waits
