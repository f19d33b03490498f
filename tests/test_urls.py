import hypothesis
import pytest
from hypothesis import strategies as st

from clients import InvalidURL, urls


def test_base_ensures_slash_and_checks():
    assert urls.base('http://h/api') == 'http://h/api/'
    assert urls.base('https://h/') == 'https://h/'
    with pytest.raises(InvalidURL, match=r"did you mean https://api.github.com\?"):
        urls.base('api.github.com')
    with pytest.raises(InvalidURL, match='absolute http'):
        urls.base('ftp://h/')
    with pytest.raises(InvalidURL, match='must be a string'):
        urls.base(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidURL, match='invalid host or port'):
        urls.base('http://h:99999/')
    with pytest.raises(InvalidURL, match=r"absolute http.*''$"):
        urls.base('')
    with pytest.raises(InvalidURL, match='must not have a query or fragment'):
        urls.base('http://h/x?a=1')
    with pytest.raises(InvalidURL, match='must not have a query or fragment'):
        urls.base('http://h/x#top')
    with pytest.raises(InvalidURL, match='white space'):
        urls.base('http://exa mple.com/')
    with pytest.raises(InvalidURL, match='control characters'):
        urls.absolute('http://h\x01/')
    with pytest.raises(InvalidURL, match='absolute http'):
        urls.absolute(' http://h/')


@pytest.mark.parametrize(('path', 'expected'), [
    ('', 'http://h/api/'),
    ('x', 'http://h/api/x'),
    ('x/y', 'http://h/api/x/y'),
    ('/root', 'http://h/root'),
    ('https://other/z', 'https://other/z'),
    ('users:1', 'http://h/api/users:1'),
    ('mailto:x', 'http://h/api/mailto:x'),
    ('a\\b', 'http://h/api/a%5Cb'),
    (3, 'http://h/api/3'),
    ('//other/x', 'http://other/x'),
])
def test_join(path, expected):
    assert urls.join('http://h/api/', path) == expected


@pytest.mark.parametrize(('key', 'expected'), [
    ('users', 'http://h/api/users'),
    ('users/3', 'http://h/api/users/3'),
    ('users/', 'http://h/api/users/'),
    ('users:1', 'http://h/api/users:1'),
    ('./users:1', 'http://h/api/users:1'),
    ('group%2Fproject', 'http://h/api/group%2Fproject'),
    ('a\\b', 'http://h/api/a%5Cb'),
    ('x?a=..', 'http://h/api/x?a=..'),
    ('.hidden', 'http://h/api/.hidden'),
    ('v1.2', 'http://h/api/v1.2'),
    ('', 'http://h/api/'),
    (7, 'http://h/api/7'),
])
def test_keys_stay_under_the_base(key, expected):
    assert urls.join('http://h/api/', urls.key(key)) == expected


@pytest.mark.parametrize('key', [
    '..', '.', '../admin', 'a/../../admin', 'a/./b', '%2e%2e', '%2E%2e/admin', '.%2e', 'a/%2e%2e%2f..%2fadmin',
    '..%2Fadmin', '..%5Cadmin', 'a\\..\\..\\admin', '..;x/admin', '%252e%252e', '..?x', '..#x',
])
def test_keys_with_dot_segments_are_refused(key):
    with pytest.raises(InvalidURL, match=r'\. or \.\. segments'):
        urls.key(key)


@pytest.mark.parametrize('key', ['/admin', '//evil/x', 'http://evil/', 'a//b'])
def test_keys_from_the_root_or_with_empty_segments_are_refused(key):
    with pytest.raises(InvalidURL, match=r"without empty segments.*get\('/x'\)"):
        urls.key(key)


@pytest.mark.parametrize('text', [' x', '\tx', 'a\tb', 'a\nb', 'a\rb', 'a\x00b', 'a\x7fb', '\u3000x', 'a\u202eb'])
def test_keys_and_paths_with_white_space_or_control_characters_are_refused(text):
    with pytest.raises(InvalidURL, match='white space or control characters'):
        urls.key(text)
    with pytest.raises(InvalidURL, match='white space or control characters'):
        urls.join('http://h/api/', text)


def test_child_and_finish():
    assert urls.child('http://h/api/', 'x') == 'http://h/api/x/'
    assert urls.finish('http://h/api/x/') == 'http://h/api/x'
    assert urls.finish('http://h/api/x', '/') == 'http://h/api/x/'
    assert urls.finish('http://h/api/x/?a=1#f', '.json') == 'http://h/api/x.json?a=1#f'


def test_origin_and_foreign():
    assert urls.origin('http://H:80/x') == ('http', 'h', 80)
    assert urls.origin('https://h/x') == ('https', 'h', 443)
    with pytest.raises(InvalidURL, match='invalid host or port'):
        urls.origin('http://h:bad/')
    assert urls.origin('mailto:x@h') == ('mailto', '', None)
    assert urls.origin('http://M\u00fcnchen.test/') == ('http', 'xn--mnchen-3ya.test', 80)
    assert urls.origin('http://[::1]:80/') == ('http', '::1', 80)
    assert not urls.foreign('http://h/y', ['http://h:80/x/'])
    assert urls.foreign('https://h/y', ['http://h/x/'])
    assert urls.foreign('http://h:8080/y', ['http://h/x/'])
    assert urls.foreign('http://g/y', ['http://h/', 'http://i/'])
    assert not urls.foreign('http://i/y', ['http://h/', 'http://i/'])


def test_credentials():
    client = {'Authorization': 'x', 'Cookie': 'c', 'Accept': '*/*'}
    assert urls.credentials(client, None) == ['Authorization', 'Cookie']
    assert urls.credentials(client, {'authorization': 'mine'}) == ['Cookie']
    assert urls.credentials(client, [('Cookie', 'mine')]) == ['Authorization']


def test_join_fast_path_agrees_with_urljoin():
    from urllib.parse import urljoin

    bases = ['http://h/', 'http://h/api/', 'https://h:8443/a/b/', 'http://h/a//b/', 'http://h/a', 'http://h/a/?q=1',
             'http://h/a/#f']
    paths = ['', 'x', 'x/y', 'x/', 'x?a=1', 'x#f', 'x?a=/./b', 'a.json', '.hidden', './x', 'x/./y', 'x/../y',
             'x/..', 'x//y', '/root', 'x:1', 'a b', '%2e%2e', '?q=2', '#top', 'é', 'x/.', '..', '%41%2F%7e']
    for base in bases:
        for path in paths:
            decoded = path.replace('%2e', '.').replace('%41', 'A').replace('%7e', '~')  # unreserved, as servers read
            expected = urljoin(base, './' + decoded if ':' in decoded else decoded)
            assert urls.join(base, path) == expected, (base, path)
            assert urls.join(base, './' + path) == urljoin(base, './' + decoded), (base, './' + path)


@hypothesis.given(st.sampled_from(['http://h/', 'http://h/api/', 'http://h/a//b/', 'http://h/a', 'http://h/a/?q=1']),
                  st.text(alphabet='ab./:?#%2e', max_size=12))
def test_join_fast_paths_agree_with_urljoin_on_any_path(base, path):
    from urllib.parse import urljoin

    decoded = urls._ESCAPE.sub(urls._unreserved, path)
    assert urls.join(base, './' + path) == urljoin(base, './' + decoded)
    if ':' not in decoded:
        assert urls.join(base, path) == urljoin(base, decoded)


def test_finish_fast_path_agrees():
    def slow(url, trailing):
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(url)
        return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip('/') + trailing, parts.query, parts.fragment))

    for url in ['http://h/', 'http://h', 'http://h/a/', 'http://h/a//', 'http://h/a/b', 'http://h:80/a/?q=1/',
                'http://h/a/#f/']:
        for trailing in ('', '/', '.json'):
            assert urls.finish(url, trailing) == slow(url, trailing), (url, trailing)


@pytest.mark.parametrize(('url', 'expected'), [
    ('http://user:pw@h.test:8/a/?q=1#f', 'http://h.test:8/a/?q=1#f'),
    ('https://user@h.test/', 'https://h.test/'),
    ('http://u%40x:p%40w@h.test/', 'http://h.test/'),  # the last @ ends the userinfo
    ('http://h.test/a@b/?to=x@y', 'http://h.test/a@b/?to=x@y'),  # an @ past the authority stays
    ('http://h.test/', 'http://h.test/'),
    ('relative/path', 'relative/path'),
])
def test_anonymous_drops_the_userinfo_only(url, expected):
    assert urls.anonymous(url) == expected
