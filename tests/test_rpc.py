import pytest

from clients import DecodeError, GraphQLError, rpc


def test_merge():
    defaults = {'jsonrpc': '2.0', 'id': 1}
    assert rpc.merge(defaults, {'id': 2, 'method': 'x'}) == {'jsonrpc': '2.0', 'id': 2, 'method': 'x'}
    assert defaults == {'jsonrpc': '2.0', 'id': 1}


def test_graphql_data():
    assert rpc.graphql_data({'data': {'a': 1}}) == {'a': 1}
    assert rpc.graphql_data({'data': {'a': 1}, 'errors': []}) == {'a': 1}
    errors = [{'message': 'bad', 'path': ['a'], 'locations': [{'line': 1, 'column': 2}]}, {'message': 'worse'}]
    with pytest.raises(GraphQLError, match=r'^bad \(and 1 more\)$') as info:
        rpc.graphql_data({'data': {'a': None}, 'errors': errors})
    assert info.value.errors == errors
    assert info.value.data == {'a': None}
    with pytest.raises(GraphQLError, match=r'^oops$'):
        rpc.graphql_data({'errors': ['oops']})
    with pytest.raises(DecodeError, match='not a JSON object'):
        rpc.graphql_data('text')


def test_graphql_error_without_messages():
    assert str(GraphQLError([])) == 'GraphQL error'
    assert str(GraphQLError([{'path': ['x']}])) == "{'path': ['x']}"
