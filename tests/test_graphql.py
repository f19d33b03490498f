"""GraphQL: the core rules, and Graph / AsyncGraph through both shells."""

import json

import pytest

import clients
from clients import DecodeError, GraphQLError, graphql
from tests.conftest import URL

GQL = URL + 'graphql'
ERRORS = [{'message': 'no such field', 'locations': [{'line': 1, 'column': 3}], 'path': ['user'],
           'extensions': {'code': 'GRAPHQL_VALIDATION_FAILED'}}, {'message': 'second'}]


def test_body():
    assert graphql.body('{ a }', None, {}) == {'query': '{ a }', 'variables': {}}
    assert graphql.body('query Q { a }', 'Q', {'x': 1}) == {'query': 'query Q { a }', 'variables': {'x': 1},
                                                         'operationName': 'Q'}
    with pytest.raises(ValueError, match='non-empty string'):
        graphql.body('  ', None, {})


def test_data():
    assert graphql.data({'data': {'a': 1}}) == {'a': 1}
    assert graphql.data({'data': {'a': 1}, 'errors': []}) == {'a': 1}
    with pytest.raises(GraphQLError, match=r'^no such field \(and 1 more\)$') as info:
        graphql.data({'data': {'a': None}, 'errors': ERRORS})
    assert info.value.errors == ERRORS
    assert info.value.data == {'a': None}
    with pytest.raises(GraphQLError, match=r'^oops$'):
        graphql.data({'errors': ['oops']})
    with pytest.raises(DecodeError, match='not a JSON object'):
        graphql.data('text')


def test_error_without_messages():
    assert str(GraphQLError([])) == 'GraphQL error'
    assert str(GraphQLError([{'path': ['x']}])) == "{'path': ['x']}"


@pytest.mark.parametrize(('status', 'content_type', 'body', 'readable'), [
    (200, 'application/json', b'{"data": 1}', True),
    (200, graphql.RESPONSE_TYPE, b'{"data": 1}', True),
    (400, graphql.RESPONSE_TYPE, b'{"errors": [{"message": "x"}]}', True),
    (400, graphql.RESPONSE_TYPE, b'{"errors": []}', False),
    (400, graphql.RESPONSE_TYPE, b'{not json', False),
    (400, 'application/json', b'{"errors": [{"message": "x"}]}', False),
    (500, 'text/plain', b'oops', False),
])
def test_result(status, content_type, body, readable):
    result = graphql.result(status, content_type, body)
    assert (result is not graphql.HTTP_ERROR) == readable


async def test_execute(twin):
    graph = twin.Graph(GQL, json={'extensions': {'persisted': False}})
    twin.mock('POST', GQL, json={'data': {'user': {'login': 'x'}}, 'errors': []})
    query = 'query User($id: ID!) { user(id: $id) { login } }'
    assert await twin(graph.execute(query, 'User', id=1)) == {'user': {'login': 'x'}}
    sent = twin.sent()[0]
    assert json.loads(sent.body) == {'query': query, 'variables': {'id': 1}, 'operationName': 'User',
                                     'extensions': {'persisted': False}}
    assert sent.headers['accept'] == graphql.ACCEPT


async def test_errors_carry_everything(twin):
    graph = twin.Graph(GQL)
    twin.mock('POST', GQL, json={'data': {'user': None}, 'errors': ERRORS})
    with pytest.raises(clients.GraphQLError, match=r'^no such field \(and 1 more\)$') as info:
        await twin(graph.execute('{ user { nope } }'))
    assert type(info.value) is twin.Graph.Error
    assert info.value.errors == ERRORS
    assert info.value.errors[0]['extensions'] == {'code': 'GRAPHQL_VALIDATION_FAILED'}
    assert info.value.data == {'user': None}


async def test_graphql_response_type_error_status_is_read(twin):
    graph = twin.Graph(GQL)
    twin.mock('POST', GQL, status=400, body=json.dumps({'errors': ERRORS[:1]}).encode(),
              headers={'Content-Type': graphql.RESPONSE_TYPE})
    with pytest.raises(clients.GraphQLError, match=r'^no such field$') as info:
        await twin(graph.execute('{ user { nope } }'))
    assert info.value.data is None


@pytest.mark.parametrize(('content_type', 'body'), [
    ('application/json', {'errors': [{'message': 'x'}]}),
    (graphql.RESPONSE_TYPE, {'message': 'gateway says no'}),
])
async def test_other_error_statuses_are_http_errors(twin, content_type, body):
    graph = twin.Graph(GQL)
    twin.mock('POST', GQL, status=401, body=json.dumps(body).encode(), headers={'Content-Type': content_type})
    with pytest.raises(clients.HTTPError, match='401 Unauthorized'):
        await twin(graph.execute('{ me }'))


async def test_check_hook_sees_the_result(twin):
    class Unwrapped(twin.Graph):
        @staticmethod
        def check(result):
            return result['payload']

    twin.mock('POST', GQL, json={'payload': {'a': 1}})
    assert await twin(Unwrapped(GQL).execute('{ a }')) == {'a': 1}
