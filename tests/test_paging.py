"""Pagination: the core (Link parsing, strategies, the flow) and `pages` / `each` in both shells."""

import pytest

import clients
from clients import paging
from clients.flows import Call, Pause, Reply
from tests.conftest import URL


def test_parse_links():
    header = ('<https://h/x?page=2>; rel="next", <https://h/x?a=1,2>; rel="last"; title="a, b; c", '
              '</rel>; REL=prev;rel=ignored, <h>;title="q\\"x";empty;rel=first')
    assert paging.parse_links(header) == [
        ('https://h/x?page=2', {'rel': 'next'}),
        ('https://h/x?a=1,2', {'rel': 'last', 'title': 'a, b; c'}),
        ('/rel', {'rel': 'prev'}),
        ('h', {'title': 'q"x', 'empty': '', 'rel': 'first'}),
    ]
    assert paging.parse_links('<a> ; rel= "next" ,<b>;;rel=x') == [('a', {'rel': 'next'}), ('b', {'rel': 'x'})]
    assert paging.parse_links(None) == []
    assert paging.parse_links('<unterminated') == []
    assert paging.parse_links('junk <a>') == [('a', {})]


def test_link():
    header = '<https://h/last>; rel="last", <?page=2>; rel="prefetch Next"'
    assert paging.link(header, 'next', 'https://h/items?page=1') == 'https://h/items?page=2'
    assert paging.link(header, 'last') == 'https://h/last'
    assert paging.link(header, 'prev') is None


def test_field_and_params():
    assert paging.field({'meta': {'next': 'x'}}, 'meta.next') == 'x'
    assert paging.field({'meta': []}, 'meta.next') is None
    assert paging.field(None, 'next') is None
    assert paging.with_param('http://h/x?a=1&page=2&b=', 'page', 3) == 'http://h/x?a=1&b=&page=3'
    assert paging.query_param('http://h/x?page=1&page=2', 'page') == '2'
    assert paging.query_param('http://h/x', 'page') is None


def page(content, url='http://h/x', headers=None):
    return paging.Page(url, content, headers or {})


def test_items():
    strategy = paging.Link()
    assert strategy.items(page([1, 2])) == [1, 2]
    assert strategy.items(page(None)) == []
    assert strategy.items(page({'total': 2, 'results': [1, 2]})) == [1, 2]
    with pytest.raises(clients.PaginationError, match=r"GET http://h/x: cannot tell .*'a', 'b'.*items="):
        strategy.items(page({'a': [], 'b': []}))
    with pytest.raises(clients.PaginationError, match=r'list fields: none'):
        strategy.items(page({'a': 1}))
    with pytest.raises(clients.PaginationError, match=r'a page of str has no items'):
        strategy.items(page('text'))
    nested = paging.Link(items='data.items')
    assert nested.items(page({'data': {'items': [3]}, 'other': []})) == [3]
    with pytest.raises(clients.PaginationError, match=r"no list at 'data.items'"):
        nested.items(page({'data': {}}))
    with pytest.raises(NotImplementedError):
        paging.Strategy().next(page([]), [])


def test_strategies():
    assert paging.NextURL().next(page({'next': '/x?p=2'}, 'http://h/x'), []) == 'http://h/x?p=2'
    assert paging.NextURL('links.next').next(page({'links': {'next': None}}), []) is None
    cursor = paging.Cursor('meta.next', 'after')
    assert cursor.next(page({'meta': {'next': 'c2'}}, 'http://h/x?after=c1&n=1'), []) == 'http://h/x?n=1&after=c2'
    for end in (None, False, '', {}):
        assert cursor.next(page({'meta': {'next': end} if end != {} else {}}), []) is None
    numbers = paging.PageNumber(size='per_page')
    assert numbers.first({'per_page': 2}) == {'page': 1, 'per_page': 2}
    assert numbers.first({'page': 5}) == {'page': 5}
    assert numbers.next(page([1, 2], 'http://h/x?per_page=2&page=1'), [1, 2]) == 'http://h/x?per_page=2&page=2'
    assert numbers.next(page([1], 'http://h/x?per_page=2&page=1'), [1]) is None
    assert numbers.next(page([], 'http://h/x?page=1'), []) is None
    assert paging.PageNumber().next(page([1], 'http://h/x?page=1&per_page=x'), [1]) == 'http://h/x?per_page=x&page=2'
    with pytest.raises(clients.PaginationError, match=r"query parameter 'page' is not a number: 'x'"):
        numbers.next(page([1], 'http://h/x?page=x'), [1])
    with pytest.raises(clients.PaginationError, match=r"'page' is not a number: None"):
        numbers.next(page([1], 'http://h/x'), [1])
    offset = paging.Offset()
    assert offset.first({'limit': 2}) == {'offset': 0, 'limit': 2}
    assert offset.next(page([1, 2], 'http://h/x?offset=4&limit=2'), [1, 2]) == 'http://h/x?limit=2&offset=6'
    assert offset.next(page([1], 'http://h/x?offset=4&limit=2'), [1]) is None
    assert offset.next(page([1], 'http://h/x?offset=4&limit=%C2%B2'), [1]) == 'http://h/x?limit=%C2%B2&offset=5'
    assert offset.next(page([], 'http://h/x?offset=4'), []) is None


def drive(flow, replies):
    """Run a flow against canned replies (url -> (content, headers)); return calls and pauses."""
    calls, pauses, reply = [], [], None
    try:
        while True:
            step = flow.send(reply)
            if isinstance(step, Call):
                calls.append(step)
                url = step.path if '?' in str(step.path) else f'{step.path}?{step.kwargs["params"]}'
                content, headers = replies[url]
                reply = Reply(content, headers, url)
            else:
                assert isinstance(step, Pause)
                pauses.append(step.value)
                reply = None
    except StopIteration as stop:
        end = stop.value
    assert end is paging.END
    return calls, pauses


def test_follow_foreign_next_page_drops_callers_credentials():
    replies = {
        "http://h/x?{'q': 1}": ([1], {'Link': '<http://h/x?p=2>; rel="next"'}),
        'http://h/x?p=2': ([2], {'Link': '<https://other/x?p=3>; rel="next"'}),
        'https://other/x?p=3': ([3], {}),
    }
    kwargs = {'headers': {'authorization': 'x', 'X-Other': 'y'}, 'auth': ('u', 'p'), 'timeout': 1}
    flow = paging.follow('http://h/x', {'q': 1}, paging.Link(), ['http://h/'], kwargs=kwargs)
    calls, pauses = drive(flow, replies)
    assert pauses == [[1], [2], [3]]
    assert calls[1].kwargs == kwargs
    assert calls[2].kwargs == {'headers': {'X-Other': 'y'}, 'auth': None, 'timeout': 1}
    flow = paging.follow('http://h/x', {'q': 1}, paging.Link(), ['http://h/'], kwargs={'auth': ('u', 'p')})
    assert drive(flow, replies)[0][2].kwargs == {'auth': None}


@pytest.mark.parametrize('limit', [-1, 1.5, True, '2'])
def test_follow_rejects_bad_limits(limit):
    with pytest.raises(ValueError, match=r'max_pages must be a non-negative integer or None'):
        next(paging.follow('', {}, paging.Link(), [], max_pages=limit))


def test_follow_zero_limits_fetch_nothing():
    assert drive(paging.follow('x', {}, paging.Link(), [], max_items=0), {}) == ([], [])
    assert drive(paging.follow('x', {}, paging.Link(), [], max_pages=0), {}) == ([], [])


def link(url):
    return {'Link': f'<{url}>; rel="next"'}


async def test_pages_follow_link_headers_lazily(twin):
    first = URL + 'repos?per_page=2'
    twin.mock('GET', first, json=[1, 2], headers=link(first + '&page=2'))
    twin.mock('GET', first + '&page=2', json=[3, 4], headers=link('?per_page=2&page=3'))
    twin.mock('GET', URL + 'repos?per_page=2&page=3', json=[5])
    res = twin.Resource(URL)
    assert await twin.list(res.repos.pages(per_page=2)) == [[1, 2], [3, 4], [5]]
    assert await twin.list(res.repos.each(per_page=2)) == [1, 2, 3, 4, 5]
    assert len(twin.sent()) == 6
    items = res.each('repos', per_page=2)
    if twin.name == 'async':
        assert await items.__anext__() == 1
        await items.aclose()
    else:
        assert next(items) == 1
        items.close()
    assert len(twin.sent()) == 7
    assert await twin.list(res.each('repos', max_items=3, per_page=2)) == [1, 2, 3]
    assert await twin.list(res.pages('repos', max_pages=2, per_page=2)) == [[1, 2], [3, 4]]
    assert [sent.url for sent in twin.sent()[7:]] == [first, first + '&page=2'] * 2


async def test_pages_of_any_shape_need_no_items_with_link_headers(twin):
    twin.mock('GET', URL + 'report', json={'total': 1, 'by': {'a': 1}}, headers=link(URL + 'report/2'))
    twin.mock('GET', URL + 'report/2', body=b'plain text', headers={'Content-Type': 'text/plain'})
    pages = await twin.list(twin.Resource(URL).pages('report'))
    assert pages == [{'total': 1, 'by': {'a': 1}}, 'plain text']
    with pytest.raises(clients.PaginationError, match='cannot tell which field holds the items'):
        await twin.list(twin.Resource(URL).each('report'))


async def test_next_links_are_followed_exactly(twin):
    twin.mock('GET', URL + 'dir', json=[1], headers=link(URL + 'dir/?page=2'))
    twin.mock('GET', URL + 'dir/?page=2', json=[2])
    assert await twin.list(twin.Resource(URL).each('dir')) == [1, 2]
    assert twin.sent()[1].url == URL + 'dir/?page=2'


async def test_pages_with_body_strategies(twin):
    twin.mock('GET', URL + 'drf', json={'count': 3, 'next': URL + 'drf?page=2', 'results': [1, 2]})
    twin.mock('GET', URL + 'drf?page=2', json={'count': 3, 'next': None, 'results': [3]})
    twin.mock('GET', URL + 'slack', json={'members': [1], 'meta': {'next_cursor': 'abc'}})
    twin.mock('GET', URL + 'slack?cursor=abc', json={'members': [2], 'meta': {'next_cursor': ''}})
    twin.mock('GET', URL + 'numbered?page=1', json=[1, 2])
    twin.mock('GET', URL + 'numbered?page=2', json=[3])
    twin.mock('GET', URL + 'numbered?page=3', json=[])
    twin.mock('GET', URL + 'offset?offset=0&limit=2', json={'data': [1, 2], 'total': 3})
    twin.mock('GET', URL + 'offset?offset=2&limit=2', json={'data': [3], 'total': 3})
    res = twin.Resource(URL)
    assert await twin.list(res.each('drf', strategy=clients.paging.NextURL())) == [1, 2, 3]
    cursor = clients.paging.Cursor('meta.next_cursor')
    assert await twin.list(res.each('slack', strategy=cursor)) == [1, 2]
    assert await twin.list(res.pages('numbered', strategy=clients.paging.PageNumber())) == [[1, 2], [3], []]
    assert await twin.list(res.each('offset', strategy=clients.paging.Offset(), limit=2)) == [1, 2, 3]


async def test_pages_loop_raises(twin):
    twin.mock('GET', URL + 'a', json=[1], headers=link(URL + 'b'))
    twin.mock('GET', URL + 'b', json=[2], headers=link(URL + 'a'))
    got = []
    with pytest.raises(clients.PaginationError, match=rf'page loop: the next page of {URL}b is {URL}a, which was'):
        if twin.name == 'async':
            async for item in twin.Resource(URL).each('a'):
                got.append(item)
        else:
            got.extend(twin.Resource(URL).each('a'))
    assert got == [1, 2]


async def test_pagination_strategy_is_a_class_setting(twin, monkeypatch):
    monkeypatch.setattr(twin.Resource, 'pagination', clients.paging.NextURL(items='values'))
    twin.mock('GET', URL + 'x', json={'values': [1], 'next': 'x2'})
    twin.mock('GET', URL + 'x2', json={'values': [2], 'next': None})
    assert await twin.list(twin.Resource(URL).each('x')) == [1, 2]


async def test_pages_against_a_real_server(twin, server, other):
    api = twin.Resource(server.url, headers={'Authorization': 'Bearer t'})
    items = await twin.list(api.each('pages', total=5, size=2))
    assert items == [{'n': n, 'auth': 'Bearer t'} for n in range(5)]
    items = await twin.list(api.each('pages', total=5, size=2, next=other.url))
    assert items == [{'n': n, 'auth': 'Bearer t'} for n in range(2)] + [{'n': n, 'auth': None} for n in range(2, 5)]
    with pytest.raises(clients.PaginationError, match='page loop'):
        await twin.list(api.pages('pages', total=3, size=2, loop=1, page=1))
    await twin.close(api)
