"""Pagination: RFC 8288 `Link` headers, next links and cursors in the body, page and offset
parameters, written once as a flow that both shells drive.

A strategy looks at one page (its URL, decoded content and headers) and returns the items
on it and the URL of the next page, or `None` at the end. `follow` asks the shell for each
page in turn, hands each page (or its items) to the caller, and only asks for the next
page when the caller wants it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from . import fields, urls
from .errors import PaginationError
from .flows import Call, Flow, Pause, Reply

# Returned by `follow` when there are no more pages.
END = object()


def parse_links(header: str | None) -> list[tuple[str, dict[str, str]]]:
    """Return the (target, parameters) pairs of an RFC 8288 `Link` header.

    Parameter names are lowercased; quoted values are unquoted; commas and semicolons
    inside `<...>` or quotes do not split. Malformed parts are skipped.
    """
    links: list[tuple[str, dict[str, str]]] = []
    text = header or ''
    index = 0
    while True:
        start = text.find('<', index)
        if start < 0:
            return links
        end = text.find('>', start)
        if end < 0:
            return links
        target = text[start + 1:end].strip()
        params, index = _params(text, end + 1)
        links.append((target, params))


def _params(text: str, index: int) -> tuple[dict[str, str], int]:
    """Parse `; name=value` pairs from `index` up to the comma ending this link."""
    params: dict[str, str] = {}
    while index < len(text):
        char = text[index]
        if char == ',':
            return params, index + 1
        if char != ';':
            index += 1
            continue
        index += 1
        name_end = index
        while name_end < len(text) and text[name_end] not in '=;,':
            name_end += 1
        name = text[index:name_end].strip().lower()
        index = name_end
        value = ''
        if index < len(text) and text[index] == '=':
            value, index = _value(text, index + 1)
        if name and name not in params:  # RFC 8288: the first occurrence wins
            params[name] = value
    return params, index


def _value(text: str, index: int) -> tuple[str, int]:
    while index < len(text) and text[index] in ' \t':
        index += 1
    if index < len(text) and text[index] == '"':
        chars = []
        index += 1
        while index < len(text) and text[index] != '"':
            if text[index] == '\\' and index + 1 < len(text):
                index += 1
            chars.append(text[index])
            index += 1
        return ''.join(chars), index + 1
    end = index
    while end < len(text) and text[end] not in ';,':
        end += 1
    return text[index:end].strip(), end


def link(header: str | None, rel: str = 'next', base: str = '') -> str | None:
    """Return the target of the first link with relation `rel`, resolved against `base`."""
    for target, params in parse_links(header):
        if rel.lower() in params.get('rel', '').lower().split():
            return urljoin(base, target)
    return None


def field(content: Any, name: str) -> Any:
    """Return the value at a dotted path (`meta.next_cursor`) in decoded JSON, or `None`."""
    value = content
    for part in name.split('.'):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def with_param(url: str, name: str, value: object) -> str:
    """Return `url` with query parameter `name` set to `value` (replacing any present)."""
    parts = urlsplit(url)
    query = [(key, item) for key, item in parse_qsl(parts.query, keep_blank_values=True) if key != name]
    query.append((name, str(value)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def query_param(url: str, name: str) -> str | None:
    """Return the last value of query parameter `name` in `url`, or `None`."""
    found = [item for key, item in parse_qsl(urlsplit(url).query, keep_blank_values=True) if key == name]
    return found[-1] if found else None


@dataclass
class Page:
    """One fetched page: its final URL, decoded content and response headers."""

    url: str
    content: Any
    headers: Mapping[str, str]


class Strategy:
    """How to find the items on a page and the URL of the next one.

    Args:
        items: dotted path of the item list in a JSON object page (`data`, `result.items`);
            by default a list page is the items, and an object page's only list field is
    """

    counts_items = False  # whether `next` needs the page's items (else pages need no items)

    def __init__(self, items: str | None = None) -> None:
        self.items_field = items

    def items(self, page: Page) -> list[Any]:
        """Return the items on `page`."""
        content = page.content
        if self.items_field is not None:
            found = field(content, self.items_field)
            if not isinstance(found, list):
                raise PaginationError(f'{urls.where("GET", page.url)}: no list at {self.items_field!r} in the page')
            return found
        if content is None:
            return []
        if isinstance(content, list):
            return content
        if isinstance(content, Mapping):
            lists = [name for name, value in content.items() if isinstance(value, list)]
            if len(lists) == 1:
                return list(content[lists[0]])
            names = ', '.join(map(repr, lists)) or 'none'
            raise PaginationError(
                f'{urls.where("GET", page.url)}: cannot tell which field holds the items (list fields: {names}); '
                'pass items="<field>" to the strategy'
            )
        raise PaginationError(f'{urls.where("GET", page.url)}: a page of {type(content).__name__} has no items')

    def next(self, page: Page, items: list[Any]) -> str | None:
        """Return the URL of the page after `page`, or `None` if it is the last."""
        raise NotImplementedError


class Link(Strategy):
    """Follow RFC 8288 `Link: <url>; rel="next"` headers (GitHub, GitLab, ...)."""

    def __init__(self, rel: str = 'next', items: str | None = None) -> None:
        super().__init__(items)
        self.rel = rel

    def next(self, page: Page, items: list[Any]) -> str | None:
        """Return the `rel="next"` target of the page's `Link` header."""
        return link(page.headers.get('Link'), self.rel, page.url)


class NextURL(Strategy):
    """Follow a next-page URL in the JSON body (`{"next": "...", "results": [...]}`).

    Args:
        field: dotted path of the next URL (`next`, `links.next`, `paging.next`)
    """

    def __init__(self, field: str = 'next', items: str | None = None) -> None:
        super().__init__(items)
        self.field = field

    def next(self, page: Page, items: list[Any]) -> str | None:
        """Return the page's next URL, resolved against the page's URL."""
        value = field(page.content, self.field)
        return urljoin(page.url, value) if isinstance(value, str) and value else None


class Cursor(Strategy):
    """Send a cursor from the JSON body as a query parameter of the next request.

    Args:
        field: dotted path of the cursor in the body (`next_cursor`, `meta.next_token`)
        param: the query parameter that carries it
    """

    def __init__(self, field: str = 'next_cursor', param: str = 'cursor', items: str | None = None) -> None:
        super().__init__(items)
        self.field = field
        self.param = param

    def next(self, page: Page, items: list[Any]) -> str | None:
        """Return the page's URL with the cursor parameter set, or `None` without a cursor."""
        value = field(page.content, self.field)
        if value is None or value is False or value == '':
            return None
        return with_param(page.url, self.param, value)


class PageNumber(Strategy):
    """Count pages in a query parameter (`?page=1`, `?page=2`, ...) until a page is empty.

    Args:
        param: the page-number parameter
        start: the first page's number, unless the request sets the parameter itself
        size: the page-size parameter (`per_page`); when the request sets it, a shorter
            page is known to be the last and no empty page is fetched
    """

    counts_items = True

    def __init__(self, param: str = 'page', start: int = 1, size: str | None = None, items: str | None = None) -> None:
        super().__init__(items)
        self.param = param
        self.start = start
        self.size = size

    def first(self, params: dict[str, Any]) -> dict[str, Any]:
        """Return the first request's parameters, with the page number set."""
        return {self.param: self.start, **params}

    def next(self, page: Page, items: list[Any]) -> str | None:
        """Return the URL of the next page number; `None` after an empty or short page."""
        if not items or _short(page.url, self.size, items):
            return None
        current = query_param(page.url, self.param)
        number = _integer(current, self.param, page.url)
        return with_param(page.url, self.param, number + 1)


class Offset(PageNumber):
    """Move an offset parameter (`?offset=0`, `?offset=100`, ...) past each page's items.

    Args:
        param: the offset parameter
        start: the first offset, unless the request sets the parameter itself
        size: the page-size parameter (`limit`); as for `PageNumber`
    """

    def __init__(self, param: str = 'offset', start: int = 0, size: str | None = 'limit',
                 items: str | None = None) -> None:
        super().__init__(param, start, size, items)

    def next(self, page: Page, items: list[Any]) -> str | None:
        """Return the URL of the offset after this page's items; `None` after an empty or short page."""
        if not items or _short(page.url, self.size, items):
            return None
        current = _integer(query_param(page.url, self.param), self.param, page.url)
        return with_param(page.url, self.param, current + len(items))


def _integer(value: str | None, name: str, url: str) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        where = urls.where('GET', url)
        raise PaginationError(f'{where}: query parameter {name!r} is not a number: {value!r}') from None


def _short(url: str, size: str | None, items: list[Any]) -> bool:
    value = fields.integer(query_param(url, size)) if size else None
    return value is not None and len(items) < value


def _stripped(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Return request options without the credentials a caller passed for this request."""
    kwargs = dict(kwargs, auth=None)
    headers = kwargs.get('headers')
    if headers:
        names = {name.lower() for name in urls.CREDENTIAL_HEADERS}
        kwargs['headers'] = {name: value for name, value in dict(headers).items() if name.lower() not in names}
    return kwargs


def follow(path: object, params: dict[str, Any], strategy: Strategy, bases: list[str],
           max_pages: int | None = None, max_items: int | None = None, items: bool = False,
           kwargs: dict[str, Any] | None = None) -> Flow:
    """GET `path` and each next page; pause with each page's content, or its items.

    A next URL on another origin is fetched without credentials (the client's are stripped by
    the shell, the caller's here); a next URL already fetched raises `PaginationError`.
    Returns `END` when done.

    Args:
        path: the first page, relative to the client
        params: query parameters of the first request
        strategy: how to find items and the next page
        bases: the client's base URLs (whose origins its credentials belong to)
        max_pages: stop after this many pages
        max_items: stop after this many items (the last page's items are cut short)
        items: pause with lists of items instead of page contents
        kwargs: other request options, sent with every page
    """
    for name, limit in (('max_pages', max_pages), ('max_items', max_items)):
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise ValueError(f'{name} must be a non-negative integer or None, not {limit!r}')
    kwargs = dict(kwargs or {})
    if isinstance(strategy, PageNumber):
        params = strategy.first(params)
    call = Call('GET', path, dict(kwargs, params=params))
    seen: set[str] = set()
    pages = count = 0
    while pages != max_pages and count != max_items:
        reply: Reply = yield call
        page = Page(reply.url, reply.content, reply.headers)
        seen.add(page.url)
        needed = items or max_items is not None or strategy.counts_items
        found = strategy.items(page) if needed else []
        pages += 1
        if max_items is not None:
            found = found[:max_items - count]
        count += len(found)
        yield Pause(found if items else page.content)
        if pages == max_pages or count == max_items:
            break
        url = strategy.next(page, found)
        if url is None:
            break
        if url in seen:
            loop = f'page loop: the next page of {page.url} is {url}, which was already fetched'
            raise PaginationError(urls.redact(loop))
        options = _stripped(kwargs) if urls.foreign(url, bases) else kwargs
        call = Call('GET', url, options)
    return END
