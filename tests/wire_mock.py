"""A mock answered over real sockets, for mock-based scenarios under the aiohttp transport.

pytest-httpx answers inside httpx's own transport, which the aiohttp transport never calls.
Under the aiohttp transport, `Twin.mock` registers answers here instead: every host name
resolves to this server on 127.0.0.1 (plain HTTP, or TLS with a test CA for port 443), so
aiohttp's own request writing and response parsing run for real, and `Twin.sent` reports
what arrived on the wire. A mocked transport error is a real one: a host whose answers are
all errors resolves to a closed port, and the refused attempts are recorded as sent, as
pytest-httpx records them.

Matching follows pytest-httpx: the method and the whole URL (query in any order); the first
matching answer not yet given, else the last matching one.
"""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import trustme
from aiohttp.abc import AbstractResolver, ResolveResult

import clients
from clients import httpx
from tests.server import Handler, Server


@dataclass
class Answer:
    method: str
    url: httpx.URL
    status: int = 200
    body: bytes = b''
    headers: dict[str, str] = field(default_factory=dict)
    exc: Exception | None = None
    calls: int = 0

    def matches(self, method: str, url: httpx.URL) -> bool:
        return method == self.method and _key(url) == _key(self.url)


def _key(url: httpx.URL) -> tuple[Any, ...]:
    return url.scheme, url.host, url.port, url.path, sorted(url.params.multi_items())


class WireMock:
    """The registry, and the plain and TLS servers that answer from it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answers: list[Answer] = []
        self.sent: list[Any] = []
        self.unmatched: list[str] = []
        self.sessions: list[Any] = []
        self.ca = trustme.CA()
        self.plain = _Server(self, 'http')
        self.tls = _Server(self, 'https')
        self.tls.socket = self._server_context().wrap_socket(self.tls.socket, server_side=True)
        self.client_ssl = ssl.create_default_context()
        self.ca.configure_trust(self.client_ssl)
        with socket.socket() as closed:  # a port nothing listens on: connecting is refused
            closed.bind(('127.0.0.1', 0))
            self.closed_port = closed.getsockname()[1]

    def _server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert('localhost').configure_cert(context)
        contexts: dict[str, ssl.SSLContext] = {}

        def by_name(sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
            if name and name not in contexts:  # a certificate for whatever host the test names
                contexts[name] = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                self.ca.issue_cert(name).configure_cert(contexts[name])
            if name:
                sock.context = contexts[name]

        context.sni_callback = by_name
        return context

    def __enter__(self) -> WireMock:
        for server in (self.plain, self.tls):
            server.__enter__()
        return self

    def __exit__(self, *args: Any) -> None:
        for server in (self.plain, self.tls):
            server.__exit__(*args)

    def reset(self) -> None:
        with self.lock:
            self.answers.clear()
            self.sent.clear()
            self.unmatched.clear()
            self.sessions.clear()

    async def close_pools(self) -> None:
        """Close the pools the test left open (a pytest-httpx mock holds no sockets to leak)."""
        for session in self.sessions:
            await session.close()

    def add(self, method: str, url: str, status: int, body: bytes, headers: dict[str, str],
            exc: Exception | None) -> None:
        with self.lock:
            self.answers.append(Answer(method, httpx.URL(url), status, body, dict(headers), exc))

    def answer(self, method: str, url: httpx.URL) -> Answer | None:
        """Pick the answer for a request, as pytest-httpx does, and count it."""
        with self.lock:
            found = [answer for answer in self.answers if answer.matches(method, url)]
            if not found:
                return None
            chosen = next((answer for answer in found if not answer.calls), found[-1])
            chosen.calls += 1
            return chosen

    def down(self, host: str) -> bool:
        """Whether every answer registered for `host` is a transport error."""
        with self.lock:
            answers = [answer for answer in self.answers if answer.url.host == host]
        return bool(answers) and all(answer.exc is not None for answer in answers)

    def record(self, method: str, url: str, headers: dict[str, str], body: bytes) -> None:
        from tests.conftest import Sent

        with self.lock:
            self.sent.append(Sent(method, url, {name.lower(): value for name, value in headers.items()}, body))


class _Server(Server):
    """The test server's machinery, answering from the mock."""

    def __init__(self, mock: WireMock, scheme: str) -> None:
        super().__init__()
        self.RequestHandlerClass = _Handler
        self.mock = mock
        self.scheme = scheme

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(Handler):
    server: _Server  # type: ignore[assignment]

    def handle_any(self) -> None:
        mock = self.server.mock
        url = httpx.URL(f'{self.server.scheme}://{self.headers["Host"]}{self.path}')
        body = self.body()
        mock.record(self.command, str(url), dict(self.headers), body)
        answer = mock.answer(self.command, url)
        if answer is None or answer.exc is not None:
            mock.unmatched.append(f'{self.command} {url}')
            self.send(599, f'no mock answers {self.command} {url}'.encode(), 'text/plain')
            return
        self.send_response(answer.status)
        framed = {name.lower() for name in answer.headers} & {'content-length', 'transfer-encoding'}
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if not framed:
            self.send_header('Content-Length', str(len(answer.body)))
        self.end_headers()
        if self.command != 'HEAD' and answer.status not in (204, 304):
            self.wfile.write(answer.body)
        if framed:  # the test chose the framing: end the connection so a mismatch cannot hang
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any


class _Resolver(AbstractResolver):
    """Every host name is the mock: TLS on port 443, plain HTTP otherwise; a down host is refused."""

    def __init__(self, mock: WireMock) -> None:
        self.mock = mock

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET,
                      ) -> list[ResolveResult]:
        if self.mock.down(host):
            target = self.mock.closed_port
        else:
            target = (self.mock.tls if port == 443 else self.mock.plain).port
        return [ResolveResult(hostname=host, host='127.0.0.1', port=target, family=socket.AF_INET, proto=0,
                              flags=socket.AI_NUMERICHOST)]

    async def close(self) -> None:
        pass


def connector(mock: WireMock) -> type:
    """The aiohttp transport's connector, resolving every host to the mock and trusting its CA."""

    class Connector(clients.transports._Connector):  # type: ignore[misc, name-defined]
        def __init__(self, max_keepalive: int | None, **kwargs: Any) -> None:
            kwargs.update(resolver=_Resolver(mock), ssl=mock.client_ssl, use_dns_cache=False)
            super().__init__(max_keepalive, **kwargs)

        async def connect(self, req: aiohttp.ClientRequest, traces: Any, timeout: Any) -> Any:  # noqa: ASYNC109 (aiohttp's signature)
            answer = _peek(mock, req.method, httpx.URL(str(req.url)))
            if answer is not None and answer.exc is not None:  # refused: record it as pytest-httpx would
                mock.record(req.method, str(req.url), dict(req.headers), b'')
            return await super().connect(req, traces, timeout)

    return Connector


def sessions(mock: WireMock) -> Any:
    """`AiohttpTransport._session` that keeps each session it opens, for `close_pools`."""
    opened = clients.transports.AiohttpTransport._session

    def session(transport: Any) -> Any:
        pool = opened(transport)
        if pool not in mock.sessions:
            mock.sessions.append(pool)
        return pool

    return session


def _peek(mock: WireMock, method: str, url: httpx.URL) -> Answer | None:
    with mock.lock:
        return next((answer for answer in mock.answers if answer.matches(method, url)), None)
