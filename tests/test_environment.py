"""The environment settings of a sync client are requests' own, read once per change of the environment."""

import contextlib
import os
from collections.abc import Iterator

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

import clients
from clients import environment

NOISE = {f'BENCH_VARIABLE_{index}': 'x' * 40 for index in range(100)}
HOSTS = ['h', 'api.example.com', 'example.com', 'sub.api.example.com', '127.0.0.1', '10.1.2.3', '[::1]', 'localhost']
URLS = st.builds('{}://{}{}/path'.format, st.sampled_from(['http', 'https', 'ftp']), st.sampled_from(HOSTS),
                 st.sampled_from(['', ':80', ':8443', ':99999']))
NAMES = [f'{scheme}_proxy' for scheme in ('http', 'https', 'all', 'ftp', 'no')]
ENTRIES = st.sampled_from(['example.com', '.example.com', 'api.example.com:8443', '10.0.0.0/8', '127.0.0.1', '*',
                           'localhost', ' h ', '', 'ex*'])
VALUES = st.one_of(st.just(''), st.sampled_from(['http://proxy:3128', 'socks5://s:1080']),
                   st.lists(ENTRIES, max_size=4).map(','.join))
ENVIRONMENTS = st.dictionaries(
    st.one_of(st.sampled_from(NAMES).flatmap(lambda name: st.sampled_from([name, name.upper(), name.title()])),
              st.sampled_from(['REQUEST_METHOD', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE'])),
    VALUES, max_size=6)
PROXIES = st.one_of(st.none(), st.dictionaries(st.sampled_from(['http', 'https', 'no_proxy', 'all']), VALUES,
                                               max_size=3))


@contextlib.contextmanager
def environ(values: dict[str, str]) -> Iterator[None]:
    """Set the process environment to `values` beside 100 others, and put it back after."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(NOISE | values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def merged(session, url, proxies, verify):
    """`session.merge_environment_settings`, or the exception it raises."""
    try:
        return session.merge_environment_settings(url, None if proxies is None else dict(proxies), None, verify, None)
    except Exception as exc:
        return type(exc), str(exc)


@settings(max_examples=300, deadline=None)
@given(st.lists(ENVIRONMENTS, min_size=1, max_size=3), st.lists(st.tuples(URLS, PROXIES), min_size=1, max_size=6),
       st.sampled_from([None, True, False, 'ca.pem']), st.booleans(),
       st.sampled_from([{}, {'https': 'http://session:1'}]))
def test_the_same_settings_as_requests(environments, sent, verify, trust_env, session_proxies):
    client, session = clients.Client('http://h/'), requests.Session()
    for each in (client, session):
        each.trust_env, each.proxies = trust_env, dict(session_proxies)
    for values in environments:  # one after another: the memo follows each change
        with environ(values):
            for url, proxies in sent * 2:
                assert merged(client, url, proxies, verify) == merged(session, url, proxies, verify)


def test_a_changed_environment_is_read_again(monkeypatch):
    client = clients.Client('http://h/')
    monkeypatch.setenv('HTTPS_PROXY', 'http://one:1')
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', 'first.pem')
    settings = client.merge_environment_settings('https://h/x', {}, None, None, None)
    assert (settings['proxies']['https'], settings['verify']) == ('http://one:1', 'first.pem')
    monkeypatch.setenv('HTTPS_PROXY', 'http://two:2')
    monkeypatch.setenv('NO_PROXY', 'other')
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', 'second.pem')
    settings = client.merge_environment_settings('https://h/x', {}, None, None, None)
    assert (settings['proxies']['https'], settings['verify']) == ('http://two:2', 'second.pem')
    monkeypatch.setenv('NO_PROXY', 'h')
    assert client.merge_environment_settings('https://h/x', {}, None, None, None)['proxies'] == {}


def test_the_environment_is_scanned_once_while_it_holds(monkeypatch):
    monkeypatch.setenv('HTTP_PROXY', 'http://proxy:3128')
    calls = []
    original = requests.utils.get_environ_proxies

    def counted(url, no_proxy=None):
        calls.append(url)
        return original(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.utils, 'get_environ_proxies', counted)
    for path in ('a', 'b', 'c'):
        assert environment.settings(f'http://same:1/{path}', None)[0]['http'] == 'http://proxy:3128'
    assert calls == ['http://same:1/a']
    found, _ = environment.settings('http://same:1/a', None)
    found['http'] = 'changed'  # each caller gets its own dict
    assert environment.settings('http://same:1/a', None)[0]['http'] == 'http://proxy:3128'


def test_a_change_while_deciding_is_not_remembered(monkeypatch):
    monkeypatch.setenv('HTTP_PROXY', 'http://proxy:3128')
    original = requests.utils.get_environ_proxies

    def changing(url, no_proxy=None):
        found = original(url, no_proxy=no_proxy)
        os.environ['HTTP_PROXY'] = 'http://later:1'  # another thread, meanwhile
        return found

    monkeypatch.setattr(requests.utils, 'get_environ_proxies', changing)
    assert environment.settings('http://racing/', None)[0]['http'] == 'http://proxy:3128'
    monkeypatch.setattr(requests.utils, 'get_environ_proxies', original)
    assert environment.settings('http://racing/', None)[0]['http'] == 'http://later:1'


def test_the_memo_is_bounded(monkeypatch):
    monkeypatch.setenv('HTTP_PROXY', 'http://proxy:3128')
    for port in range(environment._SIZE + 10):
        environment.settings(f'http://h:{port}/', None)
    assert len(environment._memo.proxies) <= environment._SIZE


def test_requests_reads_what_it_cannot_be_told_apart_from(monkeypatch):
    monkeypatch.setenv('HTTP_PROXY', 'http://proxy:3128')
    assert environment.cacheable()
    system = {'http': 'http://system:1'}  # as on macOS or Windows: the system's settings
    monkeypatch.setattr(requests.utils, 'getproxies', lambda: system)
    assert not environment.cacheable()
    client = clients.Client('http://h/')
    assert client.merge_environment_settings('http://h/', {}, None, None, None)['proxies'] == system
    monkeypatch.undo()
    with_list = {'no_proxy': ['h']}  # not a string: requests' own error
    session = requests.Session()
    assert merged(client, 'http://h/', with_list, None) == merged(session, 'http://h/', with_list, None)


def test_requests_through_the_client_use_the_environment(server, monkeypatch):
    monkeypatch.setenv('HTTP_PROXY', 'http://127.0.0.1:9/')  # nothing listens: a request through it fails
    monkeypatch.setenv('NO_PROXY', '127.0.0.1')
    with clients.Resource(server.url) as api:
        assert api.echo.get()['path'] == '/echo'
        monkeypatch.delenv('NO_PROXY')
        with pytest.raises(requests.exceptions.ProxyError):
            api.echo.get(retry=clients.Retry(attempts=1))
