"""The cookie core: names and values bound to origins, and the layered jars of views (no network)."""

from __future__ import annotations

import http.cookiejar
import pickle
import re

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from clients import cookies, httpx, urls


def header(jar: http.cookiejar.CookieJar, url: str) -> str | None:
    """The `Cookie` header `jar` itself adds to a request for `url`."""
    request = httpx.Request('GET', url)
    httpx.Cookies(jar).set_cookie_header(request)
    return request.headers.get('Cookie')


def test_a_layered_jar_reads_its_parent_and_keeps_what_it_stores():
    parent = http.cookiejar.CookieJar()
    for name, value in [('family', 'root'), ('tenant', 'root')]:
        parent.set_cookie(urls.cookie('http://api.test/', name, value))
    jar = cookies.Layered(parent)
    for cookie in cookies.bound(['http://api.test/v1/'], {'tenant': 'view'}, extra='1'):
        jar.set_cookie(cookie)
    assert sorted((cookie.name, cookie.value) for cookie in jar) == [
        ('extra', '1'), ('family', 'root'), ('tenant', 'view')]  # its own win over the parent's
    assert len(jar) == 3
    assert header(jar, 'http://api.test/x') == 'family=root; tenant=view; extra=1'
    assert header(jar, 'http://other.test/x') is None
    jar.clear()  # clears its own layer only
    assert [(cookie.name, cookie.value) for cookie in parent] == [('family', 'root'), ('tenant', 'root')]
    assert header(jar, 'http://api.test/x') == 'family=root; tenant=root'


def test_a_requests_layered_jar_is_a_requests_jar_and_pickles_with_both_layers():
    parent = requests.cookies.RequestsCookieJar()
    parent.set_cookie(urls.cookie('http://api.test/', 'family', 'root'))
    jar = cookies.RequestsLayered(parent)
    jar.set_cookie(urls.cookie('http://api.test/', 'view', '1'))
    assert jar.get_dict() == {'family': 'root', 'view': '1'}
    copy = pickle.loads(pickle.dumps(jar))
    assert copy.get_dict() == {'family': 'root', 'view': '1'}
    copy.set('later', '2', domain='api.test')
    assert 'later' not in copy.parent
    assert parent.get_dict() == {'family': 'root'}


def test_cookies_of_several_hosts_are_bound_to_each_on_all_its_ports():
    bound = urls.cookies(['http://127.0.0.1:8001/', 'https://127.0.0.1:8002/a/', 'http://api.test/'], 's', 'v')
    assert [(cookie.domain, cookie.port, cookie.secure) for cookie in bound] == [
        ('127.0.0.1', '8001,8002', False), ('api.test', '80', False)]
    jar = http.cookiejar.CookieJar()
    for cookie in bound:
        jar.set_cookie(cookie)
    for url, expected in [('http://127.0.0.1:8001/x', 's=v'), ('https://127.0.0.1:8002/x', 's=v'),
                          ('http://127.0.0.1:8003/x', None), ('http://api.test/x', 's=v'),
                          ('https://api.test:8443/x', None), ('http://localhost:8001/x', None)]:
        assert header(jar, url) == expected, url
    secure = urls.cookies(['https://api.test/', 'https://api.test:8443/'], 's', 'v')
    assert [(cookie.port, cookie.secure) for cookie in secure] == [('80,443,8443', True)]


@given(st.text(max_size=8), st.text(max_size=12))
def test_a_cookie_is_refused_unless_it_reaches_the_server_as_exactly_one_name_and_value(name, value):
    token = re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name)
    breaks = re.search(r'[^\x20-\x7e]|[;,]', value) or value != value.strip(' ')
    if not token:
        with pytest.raises(ValueError, match='a cookie name must be a token'):
            urls.cookie('http://api.test/', name, value)
    elif breaks:
        message = (f'the value of cookie {name!r} may hold printable ASCII only, without ";" or "," '
                   '(which would end the cookie and start another) or spaces at either end')
        with pytest.raises(ValueError, match=re.escape(message) + '$'):  # never the value: a secret
            urls.cookie('http://api.test/', name, value)
    else:
        jar = http.cookiejar.CookieJar()
        jar.set_cookie(urls.cookie('http://api.test/', name, value))
        assert header(jar, 'http://api.test/') == f'{name}={value}'


def test_a_cookie_name_and_value_are_strings():
    with pytest.raises(TypeError, match='not int and str'):
        urls.cookie('http://api.test/', 1, 'v')  # type: ignore[arg-type]
