from clients import rpc


def test_merge():
    defaults = {'jsonrpc': '2.0', 'id': 1}
    assert rpc.merge(defaults, {'id': 2, 'method': 'x'}) == {'jsonrpc': '2.0', 'id': 2, 'method': 'x'}
    assert defaults == {'jsonrpc': '2.0', 'id': 1}

