"""Every example in README.md and docs/*.md runs, against local servers.

The convention (also stated in docs/development.md):

- Each ```python block at the start of a line is an example. The blocks of one page run in
  order in one namespace, as a reader follows them: a later block may use an earlier one's names.
- Every http(s) origin an example names (`https://api.github.com`, `http://10.0.0.1`, ...) is
  served by a local `tests.docs_server.DocsServer` of its own, so two origins stay two
  origins; the example's text is run with the origin replaced. `redis://` URLs go to the
  test redis-server.
- Names an example uses without defining them (secrets, a token endpoint, a web framework's
  app) come from `PLACEHOLDERS` below, which says what each stands for.
- Top-level `await` works (the block runs in an event loop); files are written in a
  temporary directory.
- A block right after `<!-- not run: REASON -->` is skipped; the reason is required. Only
  what cannot run on a test machine is skipped: see `test_few_examples_are_skipped`.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import socket
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clients import webhooks
from tests.docs_server import DocsServer

ROOT = Path(__file__).parent.parent
PAGES = [ROOT / 'README.md', *sorted((ROOT / 'docs').glob('*.md'))]
FENCE = re.compile(r'^```(\S*)\n(.*?)^```$', re.MULTILINE | re.DOTALL)
SKIP = re.compile(r'<!-- not run: (.*?) -->\n$')
ORIGIN = re.compile(r'\bhttps?://[A-Za-z0-9.-]+(?::\d+)?', re.IGNORECASE)
REDIS = re.compile(r'\bredis://[A-Za-z0-9.-]+(?::\d+)?')
LANGUAGES = {'python', 'console', 'text'}


@dataclass
class Example:
    page: Path
    line: int  # of the code's first line in the page
    code: str
    skipped: str | None  # the reason, when marked `not run`


def examples(page: Path) -> list[Example]:
    """Return the ```python blocks of a page."""
    text = page.read_text()
    found = []
    for match in FENCE.finditer(text):
        if match[1] == 'python':
            skip = SKIP.search(text, 0, match.start())
            line = text.count('\n', 0, match.start(2)) + 1
            found.append(Example(page, line, match[2], skip[1] if skip else None))
    return found


class Origins:
    """A local docs server per origin that examples name, started on first use."""

    def __init__(self) -> None:
        self.servers: dict[str, DocsServer] = {}

    def __getitem__(self, origin: str) -> str:
        if origin not in self.servers:
            self.servers[origin] = DocsServer()
        return self.servers[origin].origin

    def close(self) -> None:
        for server in self.servers.values():
            server.close()


@pytest.fixture(scope='module')
def origins() -> Iterator[Origins]:
    running = Origins()
    yield running
    running.close()


def placeholders(origins: Origins) -> dict[str, Any]:
    """The names examples use without defining them, and what each stands for."""
    url = origins['https://api.example.com'] + '/'  # your API's base URL
    shared_secret = 'whsec-docs'  # a webhook secret shared with the receiver
    raw_body, request_headers = webhooks.delivery({'event': 'paid', 'id': 7}, shared_secret)  # a delivery received

    async def django_app(scope: Any, receive: Any, send: Any) -> None:
        """Stands for the app Django's `get_asgi_application()` returns (Django is not a test dependency)."""

    return {
        'url': url,
        'token': 'docs-token',  # a bearer token
        'key': 'docs-key',  # an API key
        'key_id': 'docs-key-id', 'secret': 'docs-secret',  # an HMAC signing key
        'token_url': url + 'oauth/token', 'client_id': 'docs-client', 'client_secret': 'docs-client-secret',
        'shared_secret': shared_secret, 'raw_body': raw_body, 'request_headers': request_headers,
        'order': {'item': 7, 'quantity': 1},  # a JSON body
        'app': __import__('starlette.applications').applications.Starlette(),  # a Starlette / FastAPI app
        'flask_app': types.SimpleNamespace(wsgi_app=lambda environ, start_response: []),  # stands for a Flask app
        'get_asgi_application': lambda: django_app,
    }


def localize(code: str, origins: Origins, redis_url: Any) -> str:
    """Return the example with each origin it names replaced by its local server's."""
    code = ORIGIN.sub(lambda match: origins[match[0].lower()], code)
    return REDIS.sub(lambda match: redis_url(), code)


def local_only(getaddrinfo: Any) -> Any:
    """Wrap `socket.getaddrinfo` so that only 127.0.0.1 resolves: an example that escaped `localize` fails."""
    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ('127.0.0.1', b'127.0.0.1'):
            raise OSError(f'an example tried to reach {host!r}: only local servers may be used')
        return getaddrinfo(host, *args, **kwargs)

    return resolve


def run(example: Example, namespace: dict[str, Any], code: str) -> None:
    """Run an example's code so that tracebacks point at its lines in the page."""
    source = '\n' * (example.line - 1) + code
    compiled = compile(source, str(example.page), 'exec', flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if compiled.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(compiled, namespace))
    else:
        exec(compiled, namespace)


RUNNABLE = [page for page in PAGES if any(example.skipped is None for example in examples(page))]


@pytest.mark.parametrize('page', RUNNABLE, ids=[str(page.relative_to(ROOT)) for page in RUNNABLE])
def test_examples_run(page: Path, origins: Origins, request: pytest.FixtureRequest,
                      monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    found = [example for example in examples(page) if example.skipped is None]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(socket, 'getaddrinfo', local_only(socket.getaddrinfo))
    namespace: dict[str, Any] = {'__name__': f'docs.{page.stem}', **placeholders(origins)}

    def redis_url() -> str:
        return f"redis://127.0.0.1:{request.getfixturevalue('redis_server').port}"

    for example in found:
        run(example, namespace, localize(example.code, origins, redis_url))


def test_the_guide_pages_have_examples() -> None:
    names = {page.name for page in RUNNABLE}
    assert {'README.md', 'index.md', 'clients.md', 'streams.md', 'rpc.md', 'auth.md', 'proxy.md', 'forwarding.md',
            'resilience.md', 'caching.md', 'transports.md', 'testing.md', 'types.md'} <= names


def test_every_example_can_be_found() -> None:
    # An example the runner cannot see would go untested: code fences are all of known
    # languages and start their line, and a `not run` mark is always followed by a block.
    for page in PAGES:
        text = page.read_text()
        assert not re.search(r'^[ \t]+```', text, re.MULTILINE), page
        languages = {match[1] for match in FENCE.finditer(text)}
        assert languages <= LANGUAGES, (page, languages - LANGUAGES)
        assert text.count('```') == 2 * len(FENCE.findall(text)), page
        marks = re.findall('^<!-- not run', text, re.MULTILINE)
        assert len(marks) == sum(example.skipped is not None for example in examples(page)), page


def test_few_examples_are_skipped() -> None:
    skipped = {(example.page.name, example.line): example.skipped for page in PAGES for example in examples(page)
               if example.skipped is not None}
    assert all(skipped.values())
    assert len(skipped) <= 3, skipped


def test_an_example_cannot_reach_another_host() -> None:
    resolve = local_only(socket.getaddrinfo)
    assert resolve('127.0.0.1', 80)
    with pytest.raises(OSError, match='only local servers'):
        resolve('example.com', 443)


def test_examples_reach_only_local_servers(origins: Origins) -> None:
    code = "clients.Resource('https://api.github.com/').get('user'); clients.Client('HTTP://10.0.0.1:8080/x')"
    local = localize(code, origins, lambda: 'redis://127.0.0.1:1')
    assert not re.search(r'github|10\.0\.0\.1', local)
    assert local.count('http://127.0.0.1:') == 2
    assert origins['https://api.github.com'] != origins['http://10.0.0.1:8080']
