"""A sync program loads no async stack: httpx, aiohttp, asyncio, hishel and OpenTelemetry are
imported when first used, and the names that need them still resolve to the same objects."""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import opentelemetry
import pytest
import requests
import urllib3

import clients
from clients import auth, errors, library, retry, telemetry

ROOT = Path(__file__).parent.parent

# The modules of the async stack, of the cache and of tracing.
HEAVY = ('httpx', 'httpx2', 'httpcore', 'httpcore2', 'h11', 'h2', 'anyio', 'aiohttp', 'asyncio', 'hishel',
         'opentelemetry')

SYNC = '''
import sys
HEAVY = {heavy!r}

def loaded():
    return sorted(name for name in HEAVY if name in sys.modules)

import clients
assert loaded() == [], loaded()
import clients.cli, clients.errors, clients.auth
assert loaded() == [], loaded()
with clients.Resource(sys.argv[1], retry=clients.Retry(attempts=2)) as api:
    assert api.echo.get()['method'] == 'GET'
    api.cache = None
    api.coalesce = True
    assert api.echo.get(cache=False)['method'] == 'GET'
    try:
        clients.Resource('http://127.0.0.1:1/').get('', retry=None)
    except OSError:
        pass
# urls.origin reads every URL with httpx's parser too (its package, no transport)
assert set(loaded()) <= {{clients.library.NAME}}, loaded()
print('sync ok')

import asyncio
assert isinstance(clients.AsyncResource('http://h.test/'), clients.httpx.AsyncClient)
assert issubclass(clients.errors.HttpxHTTPError, clients.httpx.HTTPStatusError)
assert clients.errors.HttpxHTTPError is clients.errors.HttpxHTTPError
assert clients.Cache.__module__ == 'clients.cache' and 'hishel' in sys.modules
assert {{'AsyncResource', 'Cache', 'httpx'}} <= set(dir(clients)) and 'AsyncResource' in clients.__all__
assert clients.transports.LIMITS is not None  # a submodule, as `import clients` gave in 1.3
print('async ok')
'''


def _run(code: str, *args: str, environment: dict[str, str] | None = None) -> str:
    env = {name: value for name, value in os.environ.items() if not name.startswith('OTEL_')}
    done = subprocess.run([sys.executable, '-c', code, *args], capture_output=True, text=True, cwd=ROOT,
                          env=env | (environment or {}), timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_sync_program_loads_no_async_stack_and_the_async_names_still_resolve(server):
    assert _run(SYNC.format(heavy=HEAVY), server.url).split() == ['sync', 'ok', 'async', 'ok']


AUTH = '''
import sys
{first}
import clients

class Mine(clients.auth.Auth):
    def sign(self, method, url, headers, body):
        return url, {{'X-Mine': '1'}}

made = Mine(), clients.Bearer('t')
from clients import httpx
for auth in (*made, Mine(), clients.ApiKey('k', query='key')):
    assert isinstance(auth, httpx.Auth), type(auth).__mro__
    assert httpx.Client(auth=auth).auth is auth  # (not wrapped as a function auth)
request = next(Mine().sync_auth_flow(httpx.Request('GET', 'http://h.test/')))
assert request.headers['X-Mine'] == '1'
print('ok')
'''


@pytest.mark.parametrize('first', ['', 'import {name}', 'import {name}; from clients import library'])
def test_auth_classes_defined_before_the_library_is_imported_are_httpx_auths(first):
    """1.3's `Auth` subclassed `httpx.Auth` when defined; code that subclasses it, or hands one
    to a raw httpx client, works whichever of clients and httpx is imported first."""
    assert _run(AUTH.format(first=first.format(name=library.NAME))).strip() == 'ok'


def test_auth_made_after_the_program_imported_httpx_itself_is_an_httpx_auth():
    code = ('import clients, importlib, sys\n'
            'bearer = clients.Bearer\n'
            'httpx = importlib.import_module(clients.library.NAME)\n'
            'assert "httpx" not in vars(clients.library)\n'
            'assert isinstance(bearer("t"), httpx.Auth)\n'
            'print("ok")')
    assert _run(code).strip() == 'ok'


def test_adopting_again_changes_nothing():
    before = auth.Bearer.__mro__
    auth._adopt(library.httpx)
    seen = []
    library.adopt(seen.append)
    library._ADOPTERS.remove(seen.append)
    assert auth.Bearer.__mro__ == before
    assert seen == [library.httpx]


def test_the_library_imported_first_through_clients_tells_the_adopters(monkeypatch):
    module = library.httpx
    seen: list[object] = []
    monkeypatch.delattr(library, 'httpx')
    monkeypatch.setattr(library, '_ADOPTERS', [seen.append])
    assert library.httpx is module
    assert library.httpx is module
    assert seen == [module]


def test_without_the_library_loaded_nothing_is_taken_for_one_of_its_errors(monkeypatch):
    errors_of_requests = [
        requests.exceptions.ConnectTimeout('slow'),
        requests.exceptions.ReadTimeout('slow'),
        requests.exceptions.ConnectionError(urllib3.exceptions.NewConnectionError(None, 'refused')),
        requests.exceptions.ChunkedEncodingError('cut'),
        ConnectionRefusedError(111, 'Connection refused'),
        TimeoutError('timed out'),
        ValueError('not a transport error'),
    ]
    loaded = [(retry.failure(error), retry.cause(error)) for error in errors_of_requests]
    assert errors.transport_errors() == (OSError, library.httpx.TransportError) == errors.TRANSPORT_ERRORS
    monkeypatch.delitem(sys.modules, library.NAME)
    assert library.loaded() is None
    assert [(retry.failure(error), retry.cause(error)) for error in errors_of_requests] == loaded
    assert errors.transport_errors() == (OSError,)


def test_the_lazy_names_are_the_same_objects_every_time():
    assert errors.HttpxDecodeError is importlib.import_module('clients.aioerrors').HttpxDecodeError
    assert pickle.loads(pickle.dumps(errors.HttpxHTTPError)) is errors.HttpxHTTPError
    error = errors.HttpxIncompleteBody('cut')
    assert type(pickle.loads(pickle.dumps(error))) is errors.HttpxIncompleteBody
    assert clients.httpx is library.httpx
    assert {'AsyncResource', 'Cache', 'httpx', 'Resource'} <= set(dir(clients))
    assert clients.transports is importlib.import_module('clients.transports')  # submodules, as in 1.3
    with pytest.raises(AttributeError, match=r"module 'clients' has no attribute 'Nothing'"):
        clients.Nothing  # noqa: B018
    with pytest.raises(AttributeError, match=r"module 'clients.errors' has no attribute 'Nothing'"):
        errors.Nothing  # noqa: B018
    with pytest.raises(AttributeError, match=r"module 'clients.library' has no attribute 'Nothing'"):
        library.Nothing  # noqa: B018


def test_tracing_starts_when_the_program_imports_opentelemetry(monkeypatch):
    monkeypatch.setattr(telemetry, '_PENDING', True)
    monkeypatch.setattr(telemetry, 'TRACER', None)
    monkeypatch.setattr(telemetry, 'INSTRUMENTS', None)
    imported = sys.modules.pop('opentelemetry')
    assert imported is opentelemetry
    assert not telemetry.enabled()
    telemetry.cache('hit')  # nothing to count with
    sys.modules['opentelemetry'] = imported
    assert telemetry.enabled()
    assert telemetry.INSTRUMENTS is not None


def test_an_environment_naming_a_provider_loads_opentelemetry_at_import(monkeypatch):
    monkeypatch.setenv('OTEL_PROPAGATORS', 'tracecontext')
    try:
        importlib.reload(telemetry)
        assert not telemetry._PENDING
        assert telemetry.TRACER is not None
    finally:
        monkeypatch.delenv('OTEL_PROPAGATORS')
        importlib.reload(telemetry)
