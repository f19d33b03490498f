"""A sync client prepares every request exactly as `requests.Session.prepare_request` does (its own merge is faster)."""

import collections
import re

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

import clients
from clients import base, urls

AUTHORITIES = ['127.0.0.1:8080', 'H', 'api.Example.COM', 'user:pa%20ss@h', 'h:80', 'h:99999', '[::1]:8443',
               'bücher.de', '*h', '.h', '', 'h:x', 'xn--bcher-kva.de', 'h%41', 'h ']
SCHEMES = ['http', 'https', 'HTTP', 'ftp', 'ws']
RESTS = ['', 'items/1', 'items/1/', 'a.b/c~d_e-f', 'a/./b', 'a/../b', '.hidden', 'a//b', 'ä', 'a b', 'a%2Fb',
         'a?q=1', 'a#f', 'a;b', '..', 'items/{x}']
PLAIN = st.one_of(st.none(), st.dictionaries(st.sampled_from(['a', 'A', 'b', 'X-Y']),
                                             st.one_of(st.none(), st.sampled_from(['1', 'two', '']))))
SETTINGS = st.one_of(PLAIN, PLAIN.map(lambda found: found if found is None else collections.OrderedDict(found)),
                     PLAIN.map(lambda found: found if found is None else CaseInsensitiveDict(found)),
                     PLAIN.map(lambda found: found if found is None else list(found.items())),
                     st.sampled_from(['', 'q=1', b'r=2']))
HEADERS = st.one_of(PLAIN, PLAIN.map(lambda found: found if found is None else CaseInsensitiveDict(found)),
                    PLAIN.map(lambda found: found if found is None else collections.OrderedDict(found)))
BODIES = st.sampled_from([{}, {'data': 'raw'}, {'data': {'f': '1'}}, {'json': {'k': [1]}}, {'data': [('a', 'b')]}])
COOKIES = st.sampled_from([None, {}, {'c': '1'}, requests.cookies.cookiejar_from_dict({'j': '2'})])
AUTH = st.sampled_from([None, ('u', 'p')])


def prepared(session, prepare, request):
    """What a prepared request holds, or the error preparing it raises."""
    try:
        found = prepare(session, request)
    except Exception as exc:
        return type(exc), str(exc)
    return (found.method, found.url, list(found.headers.items()), found.body, found.hooks,
            sorted((cookie.name, cookie.value) for cookie in found._cookies))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(SCHEMES), st.sampled_from(AUTHORITIES), st.sampled_from(RESTS), SETTINGS, HEADERS, SETTINGS,
       HEADERS, BODIES, COOKIES, AUTH, AUTH, st.booleans())
def test_the_same_prepared_request_as_requests(scheme, authority, rest, params, headers, session_params,
                                               session_headers, body, cookies, auth, session_auth, trust_env):
    client = clients.Client('http://h/')
    client.params, client.auth, client.trust_env = session_params, session_auth, trust_env
    if session_headers is not None:
        client.headers = session_headers
    url = f'{scheme}://{authority}/{rest}'
    request = requests.Request('GET', url, headers=headers, params=params, cookies=cookies, auth=auth, **body)
    fast = prepared(client, clients.Client.prepare_request, request)
    assert fast == prepared(client, requests.Session.prepare_request, request)


@pytest.mark.parametrize('url', ['http://h', 'http://h?x', b'http://h/items', '  http://h/items', 'h/items',
                                 'mailto:x@h', 'http://h/a', 'http://[::1/a'])
@pytest.mark.parametrize('params', [None, {}, '', collections.OrderedDict(), {'a': '1'}, [('a', '1')]])
def test_urls_are_prepared_as_requests_prepares_them(url, params):
    ours, theirs = requests.PreparedRequest(), requests.PreparedRequest()
    try:
        theirs.prepare_url(url, params)
    except Exception as exc:
        with pytest.raises(type(exc), match=f'^{re.escape(str(exc))}$'):
            base._prepare_url(ours, url, params)
    else:
        base._prepare_url(ours, url, params)
        assert ours.url == theirs.url


@pytest.mark.parametrize(('url', 'split'), [
    ('http://h/', ('http://h/', '')),
    ('https://u:p@h:1/items/1/', ('https://u:p@h:1/', 'items/1/')),
    ('http://h', None), ('http://h/a/../b', None), ('http://h/a?q', None), ('http://h/a//b', None), ('h/a', None),
])
def test_plain_split(url, split):
    assert urls.plain_split(url) == split


@pytest.mark.parametrize(('request_setting', 'session_setting'), [
    ({'a': '1', 'b': None}, {'b': '2', 'c': '3'}),
    (CaseInsensitiveDict({'X': '1'}), CaseInsensitiveDict({'x': '2', 'Y': None})),
    (None, {'a': '1'}), ({'a': '1'}, None), ([('a', '1')], {'b': '2'}), (True, False), ('x', {'a': '1'}),
])
@pytest.mark.parametrize('dict_class', [collections.OrderedDict, CaseInsensitiveDict])
def test_settings_merge_as_requests_merges_them(request_setting, session_setting, dict_class):
    merged = base._merge(request_setting, session_setting, dict_class)
    expected = requests.sessions.merge_setting(request_setting, session_setting, dict_class=dict_class)
    assert (type(merged), merged) == (type(expected), expected)
    if isinstance(expected, dict_class):
        assert list(merged.items()) == list(expected.items())


def test_a_view_copies_its_headers_as_copy_does():
    api = clients.Resource('http://h/', headers={'X-One': '1', 'x-two': '2'})
    view = api.items
    assert list(view.headers.items()) == list(api.headers.copy().items())
    assert type(view.headers) is CaseInsensitiveDict
    view.headers['X-ONE'] = 'changed'
    assert api.headers['x-one'] == '1'
    assert view.headers['x-one'] == 'changed'
    assert list(dict(view.headers)) == ['User-Agent', 'Accept-Encoding', 'Accept', 'Connection', 'X-ONE', 'x-two']
