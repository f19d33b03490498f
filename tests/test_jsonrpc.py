"""JSON-RPC 2.0: the core rules, and JsonRpc / AsyncJsonRpc through both shells."""

import json

import pytest

import clients
from clients import jsonrpc
from tests.conftest import URL

RPC = URL + 'rpc'


def test_request_envelopes():
    assert jsonrpc.request('subtract', [42, 23], None, 1) == {'jsonrpc': '2.0', 'method': 'subtract',
                                                            'params': [42, 23], 'id': 1}
    assert jsonrpc.request('subtract', (), {'minuend': 42}, 'a') == {
        'jsonrpc': '2.0', 'method': 'subtract', 'params': {'minuend': 42}, 'id': 'a'}
    assert jsonrpc.request('ping') == {'jsonrpc': '2.0', 'method': 'ping'}
    with pytest.raises(ValueError, match='positional or named, not both'):
        jsonrpc.request('f', [1], {'a': 2})
    with pytest.raises(ValueError, match='non-empty string'):
        jsonrpc.request('')
    assert jsonrpc.call('f', 1) == {'jsonrpc': '2.0', 'method': 'f', 'params': [1], 'id': None}
    assert 'id' not in jsonrpc.notification('f', a=1)


def test_ids_are_unique_across_threads():
    import threading

    ids, seen = jsonrpc.Ids(), []
    threads = [threading.Thread(target=lambda: seen.extend(next(ids) for _ in range(1000))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(1, 4001))


@pytest.mark.parametrize(('code', 'cls'), [
    (-32700, clients.ParseError), (-32600, clients.InvalidRequest), (-32601, clients.MethodNotFound),
    (-32602, clients.InvalidParams), (-32603, clients.InternalError), (-32000, clients.ServerError),
    (-32099, clients.ServerError), (-31999, clients.JsonRpcError), (42, clients.JsonRpcError),
])
def test_error_classes(code, cls):
    error = jsonrpc.error({'code': code, 'message': 'boom', 'data': {'why': 1}})
    assert type(error) is cls
    assert (error.code, error.message, error.data) == (code, 'boom', {'why': 1})
    assert str(error) == f'boom ({code})'


ERROR_RESPONSES = [
    ({'code': -32601, 'message': 'Method not found', 'data': 'x'}, clients.MethodNotFound, 'Method not found (-32601)'),
    ({'code': -32000, 'message': 'busy'}, clients.ServerError, 'busy (-32000)'),
    ({'code': 7, 'message': 'custom'}, clients.JsonRpcError, 'custom (7)'),
    ('nope', clients.JsonRpcError, "malformed error object: 'nope' (None)"),
]


@pytest.mark.parametrize(('obj', 'cls', 'text'), ERROR_RESPONSES)
def test_errors_name_the_method_and_the_url(obj, cls, text):
    url = 'http://rpc.test/v1/'
    error = jsonrpc.error(obj, 'math.subtract', url)
    assert type(error) is cls
    assert str(error) == f'math.subtract: {text} from POST {url}'
    assert (error.method, error.url) == ('math.subtract', url)
    assert str(jsonrpc.error(obj)) == text  # nothing known, nothing added
    with pytest.raises(cls) as info:
        jsonrpc.result({'jsonrpc': '2.0', 'error': obj, 'id': 1}, 1, 'math.subtract', url)
    assert str(info.value) == str(error)
    if isinstance(obj, dict):
        assert (info.value.code, info.value.message, info.value.data) == (obj['code'], obj['message'], obj.get('data'))
    calls = numbered(jsonrpc.call('ok'), jsonrpc.call('math.subtract'))
    response = [{'jsonrpc': '2.0', 'result': 1, 'id': 1}, {'jsonrpc': '2.0', 'error': obj, 'id': 2}]
    with pytest.raises(clients.BatchError) as batch:
        jsonrpc.results(calls, response, url)
    assert str(batch.value) == f'1 of 2 calls failed; first: {error}'
    assert (batch.value.method, batch.value.url) == ('', url)
    assert str(batch.value.errors[0]) == str(error)
    unread = [{'jsonrpc': '2.0', 'error': obj, 'id': None}]  # the server could not tell which call failed
    for reply_ in (unread, unread[0]):
        with pytest.raises(cls) as info:
            jsonrpc.results(calls, reply_, url)
        assert str(info.value) == f'{text} from POST {url}'


@pytest.mark.parametrize(('response', 'text'), [
    ([1], 'JSON-RPC response is not an object'),
    ({'jsonrpc': '1.0', 'result': 1, 'id': 1}, 'unsupported JSON-RPC version'),
    ({'jsonrpc': '2.0', 'result': 1, 'id': 2}, 'response id 2 does not match request id 1'),
    ({'jsonrpc': '2.0', 'result': 1}, 'JSON-RPC response has no id'),
    ({'jsonrpc': '2.0', 'id': 1}, 'neither result nor error'),
    ({'jsonrpc': '2.0', 'error': {'code': 1, 'message': 'x'}, 'id': 7}, 'error response id 7'),
])
def test_protocol_errors_name_the_method_and_the_url(response, text):
    with pytest.raises(clients.ProtocolError) as info:
        jsonrpc.result(response, 1, 'work', 'http://rpc.test/')
    assert str(info.value).startswith('work: ')
    assert text in str(info.value)
    assert str(info.value).endswith(' from POST http://rpc.test/')


@pytest.mark.parametrize('response', [
    [{'jsonrpc': '2.0', 'result': 1, 'id': 1}], [{'jsonrpc': '2.0', 'result': 1, 'id': 1}] * 2,
    [{'jsonrpc': '2.0', 'result': 1, 'id': 9}], {'jsonrpc': '2.0', 'result': 1, 'id': 1}, 'text',
])
def test_batch_protocol_errors_name_the_url(response):
    calls = numbered(jsonrpc.call('a'), jsonrpc.call('b'))
    with pytest.raises(clients.ProtocolError) as info:
        jsonrpc.results(calls, response, 'http://rpc.test/')
    assert str(info.value).endswith(' from POST http://rpc.test/')


@pytest.mark.parametrize('url', ['http://user:s3cr3t@rpc.test/v1/', 'http://:s3cr3t@rpc.test/v1/',
                                 'http://us%40er:s3cr3t%40x@rpc.test/v1/'])
def test_errors_leave_the_password_of_the_url_out(url):
    error = jsonrpc.error({'code': -32601, 'message': 'Method not found'}, 'm', url)
    assert str(error).startswith('m: Method not found (-32601) from POST http://')
    assert str(error).endswith('rpc.test/v1/')
    assert error.url == url  # the URL as sent, like HTTPError.url; only the message is redacted
    with pytest.raises(clients.ProtocolError) as info:
        jsonrpc.result({'jsonrpc': '2.0', 'result': 1, 'id': 2}, 1, 'm', url)
    assert str(info.value).endswith('rpc.test/v1/')
    with pytest.raises(clients.BatchError) as batch:
        jsonrpc.results(numbered(jsonrpc.call('m')), [{'jsonrpc': '2.0', 'error': {'code': 1}, 'id': 1}], url)
    assert 's3cr3t' not in str(batch.value) + str(error) + str(info.value)


def test_malformed_error_object():
    error = jsonrpc.error('nope')
    assert type(error) is clients.JsonRpcError
    assert error.code is None
    assert str(error) == "malformed error object: 'nope' (None)"


def test_result():
    assert jsonrpc.result({'jsonrpc': '2.0', 'result': 19, 'id': 1}, 1) == 19
    assert jsonrpc.result({'result': None, 'id': 1}, 1) is None
    with pytest.raises(clients.MethodNotFound, match='no such method'):
        jsonrpc.result({'jsonrpc': '2.0', 'error': {'code': -32601, 'message': 'no such method'}, 'id': 1}, 1)
    with pytest.raises(clients.ParseError):
        jsonrpc.result({'jsonrpc': '2.0', 'error': {'code': -32700, 'message': 'x'}, 'id': None}, 1)
    bad = [
        ([1], 'not an object'),
        ({'jsonrpc': '1.0', 'result': 1, 'id': 1}, 'unsupported JSON-RPC version'),
        ({'jsonrpc': '2.0', 'result': 1, 'id': 2}, 'response id 2 does not match request id 1'),
        ({'jsonrpc': '2.0', 'result': 1}, 'has no id'),
        ({'jsonrpc': '2.0', 'id': 1}, 'neither result nor error'),
        ({'jsonrpc': '2.0', 'error': {'code': 1, 'message': 'x'}, 'id': 7}, 'error response id 7'),
    ]
    for response, message in bad:
        with pytest.raises(clients.ProtocolError, match=message):
            jsonrpc.result(response, 1)


def test_read():
    ok = b'{"jsonrpc": "2.0", "result": 1, "id": 1}'
    assert jsonrpc.read(200, 'application/json', ok) == {'jsonrpc': '2.0', 'result': 1, 'id': 1}
    assert jsonrpc.read(204, None, b'') is None
    error = b'{"jsonrpc": "2.0", "error": {"code": -32601, "message": "x"}, "id": 1}'
    assert jsonrpc.read(404, 'application/json', error)['error']['code'] == -32601
    assert jsonrpc.read(500, 'application/json', b'[' + error + b']')[0]['id'] == 1
    assert jsonrpc.read(500, 'application/json', b'{"message": "down"}') is jsonrpc.HTTP_ERROR
    assert jsonrpc.read(500, 'application/json', b'[]') is jsonrpc.HTTP_ERROR
    assert jsonrpc.read(500, 'application/json', b'{broken') is jsonrpc.HTTP_ERROR
    assert jsonrpc.read(502, 'text/html', b'<h1>bad gateway</h1>') is jsonrpc.HTTP_ERROR


def numbered(*calls):
    return jsonrpc.number(calls, jsonrpc.Ids())


def test_batch_results_match_ids_in_any_order():
    calls = numbered(jsonrpc.call('a'), jsonrpc.notification('n'), jsonrpc.call('b'))
    assert [message.get('id') for message in calls] == [1, None, 2]
    response = [{'jsonrpc': '2.0', 'result': 'B', 'id': 2}, {'jsonrpc': '2.0', 'result': 'A', 'id': 1}]
    assert jsonrpc.results(calls, response) == ['A', None, 'B']
    assert jsonrpc.results(numbered(jsonrpc.notification('n')), None) == [None]


def test_batch_errors():
    calls = numbered(jsonrpc.call('a'), jsonrpc.call('b'))
    ok_a = {'jsonrpc': '2.0', 'result': 'A', 'id': 1}
    failed_b = {'jsonrpc': '2.0', 'error': {'code': -32602, 'message': 'bad params'}, 'id': 2}
    with pytest.raises(clients.BatchError, match=r'^1 of 2 calls failed; first: b: bad params \(-32602\)$') as info:
        jsonrpc.results(calls, [failed_b, ok_a])
    assert info.value.results[0] == 'A'
    assert isinstance(info.value.results[1], clients.InvalidParams)
    assert info.value.errors == [info.value.results[1]]
    assert info.value.code == -32602
    cases = [
        ([ok_a], r'lacks ids \[2\]'),
        ([ok_a, ok_a], 'repeats id 1'),
        ([ok_a, {'jsonrpc': '2.0', 'result': 0, 'id': 9}], 'unexpected id 9'),
        ([ok_a, 'junk'], 'unexpected id None'),
        ({'jsonrpc': '2.0', 'result': 1, 'id': 1}, 'not a list'),
        ('text', 'not a list'),
    ]
    for response, message in cases:
        with pytest.raises(clients.ProtocolError, match=message):
            jsonrpc.results(calls, response)
    with pytest.raises(clients.InvalidRequest):
        jsonrpc.results(calls, {'jsonrpc': '2.0', 'error': {'code': -32600, 'message': 'x'}, 'id': None})
    with pytest.raises(clients.ParseError):
        jsonrpc.results(calls, [ok_a, {'jsonrpc': '2.0', 'error': {'code': -32700, 'message': 'x'}, 'id': None}])
    with pytest.raises(TypeError, match='batch items are'):
        jsonrpc.number([{'method': 'raw dict'}], jsonrpc.Ids())
    with pytest.raises(ValueError, match='at least one call'):
        jsonrpc.number([], jsonrpc.Ids())


def reply(twin, result=None, error=None, status=200, id=1):
    body = {'jsonrpc': '2.0', 'id': id}
    body.update({'error': error} if error else {'result': result})
    twin.mock('POST', RPC, status=status, json=body)


async def test_calls_positional_and_named(twin):
    rpc = twin.JsonRpc(RPC)
    assert isinstance(rpc, twin.Remote)
    reply(twin, 19, id=1)
    assert await twin(rpc.subtract(42, 23)) == 19
    reply(twin, 19, id=2)
    assert await twin(rpc.subtract(minuend=42, subtrahend=23)) == 19
    first, second = (json.loads(request.body) for request in twin.sent())
    assert first == {'jsonrpc': '2.0', 'method': 'subtract', 'params': [42, 23], 'id': 1}
    assert second == {'jsonrpc': '2.0', 'method': 'subtract', 'params': {'minuend': 42, 'subtrahend': 23}, 'id': 2}


async def test_namespaced_and_item_methods(twin):
    rpc = twin.JsonRpc(RPC)
    reply(twin, 'ok')
    assert await twin(rpc.math.add(1, 2)) == 'ok'
    reply(twin, 'ok', id=2)
    assert await twin(rpc['batch'](1)) == 'ok'
    methods = [json.loads(request.body)['method'] for request in twin.sent()]
    assert methods == ['math.add', 'batch']
    assert 'math.add' in repr(rpc.math.add)
    with pytest.raises(AttributeError):
        rpc._private  # noqa: B018
    with pytest.raises(AttributeError):
        rpc.math._private  # noqa: B018
    assert (rpc / 'v2').url == URL + 'rpc/v2/'


async def test_error_objects_raise_typed_errors(twin):
    rpc = twin.JsonRpc(RPC)
    reply(twin, error={'code': -32601, 'message': 'Method not found', 'data': 'nope'})
    with pytest.raises(clients.MethodNotFound) as info:
        await twin(rpc.nope())
    assert (info.value.code, info.value.message, info.value.data) == (-32601, 'Method not found', 'nope')
    assert str(info.value) == f'nope: Method not found (-32601) from POST {RPC}'
    assert (info.value.method, info.value.url) == ('nope', RPC)


async def test_batch_errors_name_each_method_and_the_url(twin):
    rpc = twin.JsonRpc(RPC)
    twin.mock('POST', RPC, json=[{'jsonrpc': '2.0', 'result': 7, 'id': 1},
                                 {'jsonrpc': '2.0', 'error': {'code': -32602, 'message': 'Invalid params'}, 'id': 2}])
    with pytest.raises(clients.BatchError) as info:
        await twin(rpc.batch(jsonrpc.call('sum', 1, 2), jsonrpc.call('math.divide', 1, 0)))
    assert str(info.value) == f'1 of 2 calls failed; first: math.divide: Invalid params (-32602) from POST {RPC}'
    assert info.value.results[0] == 7
    assert (info.value.errors[0].method, info.value.errors[0].url, info.value.url) == ('math.divide', RPC, RPC)


async def test_error_objects_with_error_statuses(twin):
    rpc = twin.JsonRpc(RPC)
    reply(twin, error={'code': -32000, 'message': 'overloaded'}, status=500)
    with pytest.raises(clients.ServerError, match='overloaded'):
        await twin(rpc.work())


async def test_plain_http_errors_stay_http_errors(twin):
    twin.mock('POST', RPC, status=503, body=b'maintenance', headers={'Content-Type': 'text/plain'})
    with pytest.raises(clients.HTTPError, match='503 Service Unavailable: maintenance'):
        await twin(twin.JsonRpc(RPC).work())


async def test_mismatched_id_is_an_error(twin):
    rpc = twin.JsonRpc(RPC)
    reply(twin, 'somebody else', id=99)
    with pytest.raises(clients.ProtocolError) as info:
        await twin(rpc.work())
    assert str(info.value) == f'work: response id 99 does not match request id 1 from POST {RPC}'


async def test_notification(twin):
    twin.mock('POST', RPC, status=204)
    assert await twin(twin.JsonRpc(RPC).notify('update', 1, 2)) is None
    assert json.loads(twin.sent()[0].body) == {'jsonrpc': '2.0', 'method': 'update', 'params': [1, 2]}


async def test_batch(twin):
    rpc = twin.JsonRpc(RPC)
    twin.mock('POST', RPC, json=[{'jsonrpc': '2.0', 'result': ['hello', 5], 'id': 2},
                                 {'jsonrpc': '2.0', 'result': 7, 'id': 1}])
    results = await twin(rpc.batch(jsonrpc.call('sum', 1, 2, 4), jsonrpc.notification('notify_hello', 7),
                                   jsonrpc.call('get_data')))
    assert results == [7, None, ['hello', 5]]
    sent = json.loads(twin.sent()[0].body)
    assert sent == [
        {'jsonrpc': '2.0', 'method': 'sum', 'params': [1, 2, 4], 'id': 1},
        {'jsonrpc': '2.0', 'method': 'notify_hello', 'params': [7]},
        {'jsonrpc': '2.0', 'method': 'get_data', 'id': 2},
    ]


async def test_batch_with_a_missing_response(twin):
    rpc = twin.JsonRpc(RPC)
    twin.mock('POST', RPC, json=[{'jsonrpc': '2.0', 'result': 7, 'id': 1}])
    with pytest.raises(clients.ProtocolError, match=r'lacks ids \[2\]'):
        await twin(rpc.batch(jsonrpc.call('a'), jsonrpc.call('b')))


async def test_batch_of_notifications(twin):
    twin.mock('POST', RPC, status=204)
    assert await twin(twin.JsonRpc(RPC).batch(jsonrpc.notification('a'), jsonrpc.notification('b'))) == [None, None]


async def test_plain_remote_keeps_its_behaviour(twin):
    twin.mock('POST', RPC, json={'anything': True})
    assert await twin(twin.Remote(RPC)(method='x')) == {'anything': True}
    assert json.loads(twin.sent()[0].body) == {'method': 'x'}
