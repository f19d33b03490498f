import pytest
from hypothesis import given
from hypothesis import strategies as st

from clients import TokenError, downloads, flows


def run(flow, replies):
    """Drive a flow with canned replies; return the calls it made and its result."""
    calls, reply = [], None
    try:
        while True:
            step = flow.send(reply)
            calls.append(step)
            reply = replies.pop(0) if isinstance(step, flows.Call) else None
    except StopIteration as stop:
        return calls, stop.value


def test_conditional():
    assert flows.conditional({'ETag': '"v1"', 'Last-Modified': 'Wed, 21 Oct 2015 07:28:00 GMT'}) == {
        'If-Match': '"v1"', 'If-Unmodified-Since': 'Wed, 21 Oct 2015 07:28:00 GMT'}
    assert flows.conditional({'ETag': 'W/"v1"', 'Last-Modified': 'Wed, 21 Oct 2015 07:28:00 GMT'}) == {
        'If-Unmodified-Since': 'Wed, 21 Oct 2015 07:28:00 GMT'}
    assert flows.conditional({'ETag': 'W/"v1"'}) == {}
    assert flows.conditional({}) == {}


@given(st.sampled_from(['', 'W/', 'w/', ' W/', '\tW/']), st.text(max_size=8), st.booleans())
def test_a_weak_etag_is_never_a_precondition(prefix, tag, dated):
    headers = {'ETag': f'{prefix}"{tag}"', **({'Last-Modified': 'then'} if dated else {})}
    weak = prefix.strip() != ''
    assert ('If-Match' in flows.conditional(headers)) is not weak
    assert flows.strong_etag(headers) == (None if weak else headers['ETag'].strip())
    assert downloads.validator(headers) == (('then' if dated else None) if weak else headers['ETag'].strip())


def test_update_patches_without_callback():
    calls, result = run(flows.update('x', None, {'a': 1}), [flows.Reply({'a': 1, 'b': 2}, {})])
    assert calls == [flows.Call('PATCH', 'x', {'json': {'a': 1}})]
    assert result == {'a': 1, 'b': 2}


def test_update_with_callback_gets_then_puts_conditionally():
    def callback(current, **json):
        return {**current, **json}

    replies = [flows.Reply({'a': 1}, {'ETag': '"e"'}), flows.Reply({'a': 2}, {})]
    calls, result = run(flows.update('x', callback, {'a': 2}), replies)
    assert calls == [flows.Call('GET', 'x'), flows.Call('PUT', 'x', {'json': {'a': 2}, 'headers': {'If-Match': '"e"'}})]
    assert result == {'a': 2}


def test_updating_puts_only_changes():
    flow = flows.updating('x', {'headers': {'X': '1'}})
    assert flow.send(None) == flows.Call('GET', 'x', {'headers': {'X': '1'}})
    pause = flow.send(flows.Reply({'a': [1]}, {'Last-Modified': 'then'}))
    pause.value['a'].append(2)
    put = flow.send(None)
    assert put == flows.Call('PUT', 'x', {'headers': {'X': '1', 'If-Unmodified-Since': 'then'}, 'json': {'a': [1, 2]}})
    with pytest.raises(StopIteration):
        flow.send(flows.Reply(None, {}))
    unchanged = flows.updating('x', {})
    unchanged.send(None)
    unchanged.send(flows.Reply({'a': 1}, {}))
    with pytest.raises(StopIteration):
        unchanged.send(None)


@pytest.mark.parametrize(('token', 'header'), [
    ({'access_token': 't', 'token_type': 'bearer'}, 'Bearer t'),
    ({'access_token': 't', 'token_type': 'MAC'}, 'MAC t'),
    ({'access_token': 't'}, 'Bearer t'),
])
def test_authorization(token, header):
    assert flows.authorization(token) == header


@pytest.mark.parametrize(('token', 'match'), [
    ({'token_type': 'Bearer', 'refresh_token': 'secret'},
     r"no access_token: \{'token_type': 'Bearer', 'refresh_token': '...'\}"),
    ('just text', 'no access_token: .str.'),
    ({'access_token': 't', 'token_type': 5}, 'token_type must be a string'),
    ({'access_token': 't\r\nX-Injected: 1'}, 'line break'),
])
def test_authorization_refuses(token, match):
    with pytest.raises(TokenError, match=match):
        flows.authorization(token)


def test_authorize_method():
    calls, result = run(flows.authorize('token', {'data': {'a': 1}}), [flows.Reply({'access_token': 'x'}, {})])
    assert calls[0].method == 'POST'
    assert result == ({'access_token': 'x'}, 'Bearer x')
    calls, _ = run(flows.authorize('token', {'params': {}}), [flows.Reply({'access_token': 'x'}, {})])
    assert calls[0].method == 'GET'
