"""Fixtures: a real local server, and `twin`, which runs one scenario through both shells."""

from __future__ import annotations

import inspect
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import clients
from clients import httpx
from clients.testing import Mock, Route
from tests.redis_server import RedisServer
from tests.server import ERRORS, Hostile, Server

URL = 'http://api.test/v1/'


@pytest.fixture(scope='session')
def server() -> Iterator[Server]:
    """A real HTTP/1.1 server on 127.0.0.1 shared by the session."""
    with Server() as running:
        yield running


@pytest.fixture(autouse=True)
def server_errors() -> Iterator[list[str]]:
    """A handler error in a test server fails the test (a client hanging up is none); pop what you expect."""
    ERRORS.clear()
    yield ERRORS
    assert not ERRORS, 'a test server failed:\n' + '\n'.join(ERRORS)


@pytest.fixture(scope='session')
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a free port of 127.0.0.1, shared by the session (flush what you use)."""
    with RedisServer() as running:
        yield running


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own, which the test may stop and start again."""
    with RedisServer() as running:
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


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    """A raw-socket server of this test's own that sends scripted bytes (see `tests.server.Hostile`)."""
    with Hostile() as running:
        yield running


@dataclass
class Sent:
    """A request as the mock saw it (`clients.testing.Call`), its header names in lower case."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    timeout: tuple[float | None, float | None]


class Twin:
    """One shell, sync or async, behind the same interface, so scenarios are written once.

    Its mocks are the library's own kit (`clients.testing.Mock`, the `clients_mock` fixture):
    every twin scenario runs through it, in each shell and over each transport.
    """

    def __init__(self, name: str, request: pytest.FixtureRequest, transport: str = 'httpx') -> None:
        self.name = name
        self.transport = transport
        self.request = request
        prefix = 'Async' if name == 'async' else ''
        for kind in ('Client', 'Resource', 'Remote', 'Graph', 'Proxy', 'JsonRpc'):
            setattr(self, kind, getattr(clients, prefix + kind))
        self.HTTPError = clients.errors.HttpxHTTPError if name == 'async' else clients.errors.RequestsHTTPError
        self._routes: dict[tuple[str, str], Route] = {}

    def __repr__(self) -> str:
        return self.name

    @property
    def mocker(self) -> Mock:
        """The test's `clients_mock` (started when a scenario first mocks or asks what was sent)."""
        mock: Mock = self.request.getfixturevalue('clients_mock')
        return mock

    def mock(self, method: str, url: str, status: int = 200, json: Any = None, body: bytes | None = None,
             headers: dict[str, str] | None = None, error: str | None = None) -> None:
        """Answer `method url` (exactly that query) with a response, or with `error` (see
        `clients.testing.answer`); mocked again, it answers in turn, the last answer repeating."""
        route = self._routes.get((method, url))
        if route is None:
            route = self._routes[method, url] = self.mocker.route(method, url, exact=True, required=False)
        if error is not None:
            route.respond(error=error)
        elif json is not None:
            route.respond(status, json=json, headers=headers)
        else:
            route.respond(status, content=body or b'', headers=headers)

    def sent(self) -> list[Sent]:
        """Return the requests the mock received, in order."""
        return [Sent(call.method, call.url, {name.lower(): value for name, value in call.headers.items()},
                     call.content, call.timeout) for call in self.mocker.calls]

    async def __call__(self, value: Any) -> Any:
        """Await `value` if it is awaitable: the result of a call in either shell."""
        return await value if inspect.isawaitable(value) else value

    async def list(self, items: Any) -> list[Any]:
        """Collect an iterator or async iterator."""
        if hasattr(items, '__aiter__'):
            return [item async for item in items]
        return list(items)

    def one_connection(self, url: str) -> Any:
        """A `Resource` whose pool holds one connection: a request waits (5 s at most) until it is free."""
        if self.name == 'async':
            return self.Resource(url, limits=httpx.Limits(max_connections=1), timeout=5)
        api = self.Resource(url, timeout=5)
        api.mount('http://', clients.connections.Adapter(pool_connections=1, pool_maxsize=1, pool_block=True))
        return api

    async def close(self, client: Any) -> None:
        await self(client.aclose() if self.name == 'async' else client.close())

    def transport_error(self) -> Exception:
        """A connection error of this shell's library."""
        if self.name == 'async':
            return httpx.ConnectError('refused')
        return clients.base.requests.ConnectionError('refused')


# Async tests that use these run over both transports (`twin` tests always do).
REAL_SERVERS = {'server', 'other', 'fresh', 'hostile'}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run `twin` tests sync and async over both transports, and real-server async tests over both."""
    real = REAL_SERVERS & set(metafunc.fixturenames)
    if 'twin' in metafunc.fixturenames:
        metafunc.parametrize('twin', ['sync', 'async', 'async-aiohttp'], indirect=True)
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
    """The sync or the async shell (each test runs with both, the async one over both transports)."""
    name, _, transport = request.param.partition('-')
    monkeypatch.setattr(clients.transports, 'DEFAULT', transport or 'httpx')
    return Twin(name, request, transport or 'httpx')


async def each(items: Any) -> AsyncIterator[Any]:
    """Iterate a sync or an async iterator alike, in an async for."""
    if hasattr(items, '__aiter__'):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


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


@pytest.fixture
def runpy_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let `runpy` run a module of `clients` in-process.

    pytest rewrites the asserts of every module of a distribution that ships a plugin (ours
    does: `pytest_clients`), and its import hook has no `get_code`, which `runpy` needs.
    """
    from _pytest.assertion.rewrite import AssertionRewritingHook

    monkeypatch.setattr(sys, 'meta_path', [found for found in sys.meta_path
                                           if not isinstance(found, AssertionRewritingHook)])


@pytest.fixture(autouse=True)
def secret_params(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names an `ApiKey(query=...)` registers as secret are this test's only (the set is process-wide)."""
    monkeypatch.setattr(clients.urls, 'SECRET_PARAMS', set(clients.urls.SECRET_PARAMS))


@pytest.fixture(autouse=True)
def instant_retries(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retries with the default clock do not really wait in tests; the waits are recorded."""
    waits: list[float] = []

    async def asleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(clients.retry.CLOCK, 'sleep', waits.append)
    monkeypatch.setattr(clients.retry.CLOCK, 'asleep', asleep)
    return waits
