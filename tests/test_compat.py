"""1.3 code runs unchanged: its attribute names, hooks and errors, through both shells."""

import pickle
import re

import pytest
import requests

import clients
from clients import httpx
from clients.navigation import RETIRED, Navigable
from tests.conftest import URL

NAVIGATING = ('Resource', 'Remote', 'Graph', 'JsonRpc')


@pytest.mark.parametrize('kind', NAVIGATING)
async def test_client_is_the_plain_client(twin, kind):
    api = getattr(twin, kind)(URL, headers={'X': '1'})
    client = api.client
    assert type(client) is twin.Client
    assert client.url == URL
    assert client.headers['X'] == '1'
    twin.mock('GET', URL + 'x', status=404, json={})
    response = await twin(client.get('x'))
    assert response.status_code == 404
    assert [sent.url for sent in twin.sent()] == [URL + 'x']


@pytest.mark.parametrize('kind', NAVIGATING)
@pytest.mark.parametrize('name', sorted(RETIRED))
def test_retired_names_raise_with_what_replaces_them(twin, kind, name):
    api = getattr(twin, kind)(URL)
    with pytest.raises(AttributeError, match=rf"has no attribute '{name}' \(1.3's {name} is gone: use "):
        getattr(api, name)
    assert not hasattr(api, name)


JSON_BODY = b'{"a": 1}\n{"b": 2}'


class _Answers:
    """A `content_type` hook that answers `name` for every response, as a 1.3 subclass might."""

    def __init__(self, name):
        self.name = name
        self.seen = []

    def __call__(self, response):
        self.seen.append(response.headers.get('Content-Type'))
        return self.name


def _hooked(twin, kind, name, where):
    """A client whose `content_type` answers `name`: set on a subclass, or on the instance."""
    hook = _Answers(name)
    if where == 'class':
        cls = type('Hooked', (getattr(twin, kind),), {'content_type': staticmethod(hook)})
        return cls(URL), hook
    api = getattr(twin, kind)(URL)
    api.content_type = hook
    return api, hook


@pytest.mark.parametrize('where', ['class', 'instance'])
@pytest.mark.parametrize(('name', 'content_type', 'body', 'value'), [
    ('text', 'application/json', b'{"a": 1}', '{"a": 1}'),
    ('', 'application/json', b'{"a": 1}', b'{"a": 1}'),
    ('bytes', 'text/plain', b'abc', b'abc'),
    ('json', 'text/plain', b'{"a": 1}', {'a': 1}),
    ('json', None, b'[1]', [1]),
    ('lines', 'text/plain', JSON_BODY, [{'a': 1}, {'b': 2}]),
    ('events', 'text/plain', b'data: x\n\n', [clients.sse.Event(data='x')]),
])
async def test_content_type_hook_decides_decoding(twin, where, name, content_type, body, value):
    api, hook = _hooked(twin, 'Resource', name, where)
    twin.mock('GET', URL + 'items/x', body=body, headers={'Content-Type': content_type} if content_type else {})
    assert await twin(api.items.get('x')) == value  # a derived view keeps the hook
    assert hook.seen == [content_type]


@pytest.mark.parametrize('where', ['class', 'instance'])
@pytest.mark.parametrize(('name', 'content_type', 'body', 'items'), [
    ('text', 'application/x-ndjson', JSON_BODY, ['{"a": 1}', '{"b": 2}']),
    ('json', 'text/plain', JSON_BODY, [{'a': 1}, {'b': 2}]),
    ('events', 'application/octet-stream', b'data: x\n\n', [clients.sse.Event(data='x')]),
    ('', 'text/plain', JSON_BODY, [JSON_BODY]),
])
async def test_content_type_hook_decides_streams(twin, where, name, content_type, body, items):
    api, hook = _hooked(twin, 'Resource', name, where)
    twin.mock('GET', URL + 'feed', body=body, headers={'Content-Type': content_type})
    found = await twin.list(api.iter('feed'))
    assert (b''.join(found) == body) if name == '' else (found == items)
    assert hook.seen == [content_type]


async def test_content_type_hook_decides_pages_and_flows(twin):
    api, _ = _hooked(twin, 'Resource', 'json', 'class')
    twin.mock('GET', URL + 'items', body=b'[1, 2]', headers={
        'Content-Type': 'text/plain', 'Link': f'<{URL}items?page=2>; rel="next"'})
    twin.mock('GET', URL + 'items?page=2', body=b'[3]', headers={'Content-Type': 'text/plain'})
    twin.mock('POST', URL + 'token', body=b'{"access_token": "t", "token_type": "bearer"}',
              headers={'Content-Type': 'text/plain'})
    if twin.name == 'sync':
        assert list(api.each('items')) == [1, 2, 3]
    else:
        assert [item async for item in api.each('items')] == [1, 2, 3]
    assert (await twin(api.authorize('token', data={})))['access_token'] == 't'
    assert api.headers['Authorization'] == 'Bearer t'


@pytest.mark.parametrize('where', ['class', 'instance'])
async def test_content_type_hook_decides_remote_graph_and_jsonrpc(twin, where):
    mislabelled = {'Content-Type': 'text/plain'}  # a server that labels its JSON as text
    twin.mock('POST', URL.rstrip('/'), body=b'{"data": {"a": 1}}', headers=mislabelled)
    twin.mock('POST', URL + 'rpc', body=b'{"jsonrpc": "2.0", "id": 1, "result": 3}', headers=mislabelled)
    remote, _ = _hooked(twin, 'Remote', 'json', where)
    graph, _ = _hooked(twin, 'Graph', 'json', where)
    rpc, _ = _hooked(twin, 'JsonRpc', 'json', where)
    assert await twin(remote()) == {'data': {'a': 1}}
    assert await twin(graph.execute('{ a }')) == {'a': 1}
    assert await twin((rpc / 'rpc').add(1, 2)) == 3
    plain = twin.Graph(URL)
    with pytest.raises(clients.DecodeError, match='not a JSON object'):
        await twin(plain.execute('{ a }'))


async def test_content_type_hook_reads_jsonrpc_error_statuses(twin):
    rpc, _ = _hooked(twin, 'JsonRpc', 'json', 'class')
    twin.mock('POST', URL.rstrip('/'), status=500, headers={'Content-Type': 'text/plain'},
              body=b'{"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "no"}}')
    with pytest.raises(clients.MethodNotFound):
        await twin(rpc.nope())


@pytest.mark.parametrize('name', ['xml', 'JSON', None, ['json']])
async def test_content_type_hook_answers_are_checked(twin, name):
    api, _ = _hooked(twin, 'Resource', name, 'class')
    twin.mock('GET', URL + 'x', body=b'{}', headers={'Content-Type': 'application/json'})
    message = rf"GET {URL}x: Hooked.content_type returned {re.escape(repr(name))}; expected one of 'json', "
    with pytest.raises(ValueError, match=message):
        await twin(api.get('x'))
    with pytest.raises(ValueError, match=message):
        await twin.list(api.iter('x'))


@pytest.mark.parametrize(('content_type', 'name'), [
    ('application/json', 'json'),
    ('application/problem+json', 'json'),
    ('application/x-ndjson', 'lines'),
    ('text/event-stream', 'events'),
    ('text/plain', 'text'),
    ('application/octet-stream', ''),
    (None, ''),
])
def test_default_content_type_is_callable_on_the_class(content_type, name):
    response = requests.Response()
    if content_type:
        response.headers['Content-Type'] = content_type
    for cls in (clients.Resource, clients.AsyncResource, clients.Remote, clients.AsyncGraph, clients.JsonRpc):
        assert cls.content_type(response) == name
    assert clients.AsyncResource.content_type(httpx.Response(200, headers=response.headers)) == name


# The attributes 1.3's own classes defined (beyond requests.Session / httpx.AsyncClient, whose
# names every class keeps): facts read from clients 1.3.
_VERBS = {'request', 'get', 'options', 'head', 'post', 'put', 'patch', 'delete', 'url', 'trailing', 'clone'}
_RESOURCE = {'client', 'content_type', 'updater', 'updating', 'update', 'authorize'}
_REMOTE = {'client', 'json', 'check'}
_PROXY = {'Stats', 'urls', 'priority', 'choice'}
ATTRIBUTES_13 = {
    'Client': _VERBS,
    'Resource': _VERBS | _RESOURCE | {'iter', 'create', 'download'},
    'Remote': _VERBS | _REMOTE,
    'Graph': _VERBS | _REMOTE | {'Error', 'execute'},
    'Proxy': _VERBS | _PROXY,
    'AsyncClient': _VERBS | {'run'},
    'AsyncResource': _VERBS | {'run'} | _RESOURCE,
    'AsyncRemote': _VERBS | {'run'} | _REMOTE,
    'AsyncGraph': _VERBS | {'run'} | _REMOTE | {'Error', 'execute'},
    'AsyncProxy': _VERBS | {'run'} | _PROXY,
}
ATTRIBUTES_13['JsonRpc'] = ATTRIBUTES_13['Remote']  # a Remote, new since 1.3
ATTRIBUTES_13['AsyncJsonRpc'] = ATTRIBUTES_13['AsyncRemote']


def _public(names):
    return {name for name in names if not name.startswith('_')}


@pytest.mark.parametrize('name', sorted(name for name in clients.__all__ if name in ATTRIBUTES_13))
def test_no_13_attribute_navigates(name):
    cls = getattr(clients, name)
    api = cls(URL, URL + 'other/') if 'Proxy' in name else cls(URL)
    if name.startswith('Async'):
        library = _public(dir(httpx.AsyncClient)) | {'follow_redirects', 'max_redirects'}  # (its instance attributes)
    else:
        library = _public(dir(requests.Session)) | set(requests.Session.__attrs__)
    names = ATTRIBUTES_13[name] | library
    for attribute in sorted(names - set(RETIRED)):
        value = getattr(api, attribute)
        assert not isinstance(value, clients.jsonrpc.Method), f'{name}.{attribute} is a remote method'
        assert not (isinstance(value, Navigable) and value.url == api.url + attribute + '/'), (
            f'{name}.{attribute} navigates to {value.url}')
    for attribute in names & set(RETIRED):
        assert not hasattr(api, attribute)
    if not name.startswith('Async'):
        api.close()


GQL = URL + 'graphql'
ERRORS = [{'message': 'no such field', 'path': ['user']}, {'message': 'second'}]


async def test_graph_error_is_caught_as_in_13(twin):
    """`Graph.Error` is a `requests.HTTPError` (an IOError), `AsyncGraph.Error` an `httpx.HTTPError`."""
    twin.mock('POST', GQL, json={'data': {'user': None}, 'errors': ERRORS})
    caught = requests.HTTPError if twin.name == 'sync' else httpx.HTTPError
    with pytest.raises(caught) as info:
        await twin(twin.Graph(GQL).execute('{ user { nope } }'))
    error = info.value
    assert type(error) is twin.Graph.Error
    assert isinstance(error, clients.GraphQLError)
    assert isinstance(error, clients.Error)
    assert isinstance(error, OSError) == (twin.name == 'sync')
    assert not isinstance(error, clients.HTTPError)  # not an error status
    assert error.errors == ERRORS
    assert error.data == {'user': None}
    assert str(error) == 'no such field (and 1 more)'


def test_graph_errors_differ_by_shell_and_share_graphql_error():
    assert clients.Graph.Error is not clients.AsyncGraph.Error
    assert issubclass(clients.Graph.Error, clients.GraphQLError)
    assert issubclass(clients.Graph.Error, requests.HTTPError)
    assert issubclass(clients.AsyncGraph.Error, clients.GraphQLError)
    assert issubclass(clients.AsyncGraph.Error, httpx.HTTPError)
    assert not issubclass(clients.AsyncGraph.Error, requests.HTTPError | OSError)
    for cls in (clients.GraphQLError, clients.Graph.Error, clients.AsyncGraph.Error):
        copied = pickle.loads(pickle.dumps(cls(ERRORS, {'user': None})))
        assert (type(copied), copied.errors, copied.data, str(copied)) == (
            cls, ERRORS, {'user': None}, 'no such field (and 1 more)')
    drawing = clients.errors.__doc__
    assert f'{clients.Graph.Error.__name__} (requests.HTTPError)' in drawing
    assert f'{clients.AsyncGraph.Error.__name__} (httpx.HTTPError)' in drawing


@pytest.mark.parametrize('kind', ['Graph', 'AsyncGraph'])
def test_graph_check_raises_on_the_class(kind):
    graph = getattr(clients, kind)
    assert graph.check({'data': {'a': 1}, 'errors': []}) == {'a': 1}
    with pytest.raises(graph.Error) as info:
        graph.check({'data': None, 'errors': ERRORS})
    assert info.value.errors == ERRORS


async def test_graph_check_overrides_of_13_work(twin):
    """1.3 subclasses override `check`: to unwrap `data`, or to handle errors their own way."""

    class Unwrapping(twin.Graph):
        @classmethod
        def check(cls, result):
            return super().check(result)['viewer']

    class Lenient(twin.Graph):
        @staticmethod
        def check(result):
            return result.get('data')

    class Strict(twin.Graph):
        def check(self, result):
            if result.get('errors'):
                raise LookupError(result['errors'][0]['message'])
            return result['data']

    twin.mock('POST', URL + 'ok', json={'data': {'viewer': {'login': 'x'}}})
    twin.mock('POST', URL + 'partial', json={'data': {'viewer': None}, 'errors': ERRORS})
    assert await twin((Unwrapping(URL) / 'ok').execute('{ viewer { login } }')) == {'login': 'x'}
    with pytest.raises(twin.Graph.Error):
        await twin((Unwrapping(URL) / 'partial').execute('{ viewer { login } }'))
    assert await twin((Lenient(URL) / 'partial').execute('{ viewer { login } }')) == {'viewer': None}
    with pytest.raises(LookupError, match=r'^no such field$'):
        await twin((Strict(URL) / 'partial').execute('{ viewer { login } }'))
