"""The async shell runs over httpx2 or httpx, chosen once at import (`clients.library`)."""

from __future__ import annotations

import configparser
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import clients
from clients import auth, errors, library, transports

ROOT = Path(__file__).parent.parent
BOTH = {'httpx2', 'httpx'}
# What this run chose: the variable's library, else httpx2 (the test extra installs both).
EXPECTED = os.environ.get(library.ENVIRONMENT) or 'httpx2'
OTHER = (BOTH - {EXPECTED}).pop()


@pytest.mark.parametrize(('named', 'installed', 'chosen'), [
    ('', BOTH, 'httpx2'),
    ('', {'httpx2'}, 'httpx2'),
    ('', {'httpx'}, 'httpx'),
    ('httpx', BOTH, 'httpx'),
    ('httpx2', BOTH, 'httpx2'),
])
def test_the_library_named_else_httpx2_else_httpx(named, installed, chosen):
    assert library.choose(named, installed.__contains__) == chosen


@pytest.mark.parametrize(('named', 'installed', 'error', 'message'), [
    ('HTTPX', BOTH, ValueError, "CLIENTS_HTTPX must be httpx2 or httpx (or unset): not 'HTTPX'"),
    ('httpx2 ', BOTH, ValueError, "CLIENTS_HTTPX must be httpx2 or httpx (or unset): not 'httpx2 '"),
    ('requests', BOTH, ValueError, "CLIENTS_HTTPX must be httpx2 or httpx (or unset): not 'requests'"),
    ('httpx', {'httpx2'}, ImportError, "CLIENTS_HTTPX=httpx, but httpx is not installed: pip install 'clients[httpx]'"),
    ('httpx2', {'httpx'}, ImportError, 'CLIENTS_HTTPX=httpx2, but httpx2 is not installed: pip install clients'),
    ('', set(), ImportError, 'the async clients need httpx2 or httpx: pip install clients'),
])
def test_a_library_that_cannot_be_used_is_refused_by_name(named, installed, error, message):
    with pytest.raises(error) as caught:
        library.choose(named, installed.__contains__)
    assert str(caught.value) == message


def test_the_library_in_use_is_the_one_chosen():
    assert library.NAME == EXPECTED
    assert clients.httpx is library.httpx is importlib.import_module(EXPECTED)
    assert library.httpcore is importlib.import_module(EXPECTED.replace('httpx', 'httpcore'))


ASYNC_CLASSES = [
    (clients.AsyncClient, ('http://h/',)), (clients.AsyncResource, ('http://h/',)),
    (clients.AsyncRemote, ('http://h/',)), (clients.AsyncGraph, ('http://h/',)),
    (clients.AsyncJsonRpc, ('http://h/',)), (clients.AsyncProxy, ('http://h/', 'http://i/')),
]


@pytest.mark.parametrize(('cls', 'args'), ASYNC_CLASSES, ids=lambda value: getattr(value, '__name__', ''))
@pytest.mark.parametrize('transport', ['aiohttp', 'httpx'])
async def test_async_clients_are_clients_of_the_library_in_use(cls, args, transport):
    chosen, other = importlib.import_module(EXPECTED), importlib.import_module(OTHER)
    async with cls(*args, transport=transport) as client:
        assert isinstance(client, chosen.AsyncClient)
        assert not isinstance(client, other.AsyncClient)
        assert isinstance(client._transport, chosen.AsyncBaseTransport)


# Each class of ours and the class of the library it must also be.
SUBCLASSES = [
    (errors.HttpxHTTPError, 'HTTPStatusError'),
    (errors.HttpxDecodeError, 'DecodingError'),
    (errors.HttpxGraphQLError, 'HTTPError'),
    (errors.HttpxDeadlineExceeded, 'TimeoutException'),
    (errors.HttpxBodyTooLarge, 'RequestError'),
    (errors.HttpxIncompleteBody, 'RemoteProtocolError'),
    (auth.Auth, 'Auth'),
    (auth.Bearer, 'Auth'),
    (auth.ApiKey, 'Auth'),
    (auth.HmacSigner, 'Auth'),
    (auth.OAuth2, 'Auth'),
    (transports.AiohttpTransport, 'AsyncBaseTransport'),
    (transports.Cookies, 'Cookies'),
]


@pytest.mark.parametrize(('ours', 'theirs'), SUBCLASSES, ids=lambda value: getattr(value, '__name__', value))
def test_errors_auth_and_transports_subclass_the_library_in_use(ours, theirs):
    assert issubclass(ours, getattr(importlib.import_module(EXPECTED), theirs))
    assert not issubclass(ours, getattr(importlib.import_module(OTHER), theirs))


def test_transport_errors_are_the_library_in_use():
    assert importlib.import_module(EXPECTED).TransportError in errors.TRANSPORT_ERRORS
    assert importlib.import_module(OTHER).TransportError not in errors.TRANSPORT_ERRORS


async def test_pools_mended_are_those_of_the_library_in_use():
    async with clients.AsyncClient('http://h/', transport='httpx') as client:
        pool = client._transport._pool
        assert isinstance(pool, importlib.import_module(EXPECTED.replace('httpx', 'httpcore')).AsyncConnectionPool)
        assert isinstance(pool, transports._Reclaiming)


def _imported(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = ('import sys, clients\n'
            'bases = [cls.__module__ for cls in type(clients.AsyncResource("http://h/")).__mro__]\n'
            'print(clients.library.NAME, max(bases, key=lambda name: name.startswith("httpx")), '
            '*sorted(name for name in ("httpx", "httpx2", "httpcore", "httpcore2") if name in sys.modules))')
    env = {name: value for name, value in os.environ.items() if name != library.ENVIRONMENT}
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT,
                          env=env | environment, timeout=60, check=False)


@pytest.mark.parametrize(('environment', 'chosen'), [
    ({}, 'httpx2'),
    ({'CLIENTS_HTTPX': ''}, 'httpx2'),
    ({'CLIENTS_HTTPX': 'httpx2'}, 'httpx2'),
    ({'CLIENTS_HTTPX': 'httpx'}, 'httpx'),
])
def test_the_environment_variable_chooses_once_at_import_and_the_other_is_never_imported(environment, chosen):
    done = _imported(environment)
    core = chosen.replace('httpx', 'httpcore')
    assert (done.returncode, done.stderr) == (0, '')
    assert done.stdout.split() == [chosen, chosen, *sorted([chosen, core])]


def test_a_bad_environment_variable_stops_the_import_with_its_name():
    done = _imported({'CLIENTS_HTTPX': 'httpx3'})
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "ValueError: CLIENTS_HTTPX must be httpx2 or httpx (or unset): not 'httpx3'")


def _requirements(text: str) -> set[str]:
    return {Requirement(line).name for line in text.split('\n') if line.strip()}


def test_a_plain_install_brings_one_library_and_the_fast_transport():
    config = configparser.ConfigParser()
    config.read(ROOT / 'setup.cfg')
    plain = _requirements(config['options']['install_requires'])
    extras = {name: _requirements(value) for name, value in config['options.extras_require'].items()}
    assert plain & BOTH == {'httpx2'}
    assert 'aiohttp' in plain
    assert extras['httpx'] == {'httpx'}
    # only the test extra (which runs the suite over both) brings the other library
    assert [name for name, wanted in extras.items() if wanted & BOTH - {'httpx2'} and name != 'httpx'] == ['test']
