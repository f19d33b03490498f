"""Event hooks and log records of each request's attempts, over both shells and the real server."""

import logging

import pytest

import clients
from clients import Retry, events
from clients.errors import BodyTooLarge, DeadlineExceeded
from tests.test_resilience import closed_port, flaky

RETRY = Retry(attempts=3, backoff=0, jitter=0)


def recorder():
    """A hook and the events it received, as (kind, attempt, status, error type, delay) tuples."""
    seen = []

    def hook(event):
        seen.append(event)
    return hook, seen


def summary(seen):
    return [(event.kind, event.attempt, event.status, event.error and event.error.split(':')[0], event.delay)
            for event in seen]


async def test_a_retried_request_fires_request_response_and_retry_events(twin, fresh):
    hook, seen = recorder()
    api = twin.Resource(fresh.url, retry=RETRY, request_hooks={kind: [hook] for kind in events.KINDS})
    assert (await twin(api.get('flaky', params=flaky(1))))['attempt'] == 2
    assert summary(seen) == [
        ('request', 1, None, None, None), ('response', 1, 503, None, None), ('retry', 1, 503, None, 0.0),
        ('request', 2, None, None, None), ('response', 2, 200, None, None),
    ]
    assert {event.method for event in seen} == {'GET'}
    assert {event.url for event in seen} == {f'{fresh.url}flaky?key=***&fail=1'}  # (`key` names a credential)
    await twin.close(api)


async def test_retries_ending_on_a_status_fire_give_up(twin, fresh):
    hook, seen = recorder()
    api = twin.Resource(fresh.url, retry=Retry(attempts=2, backoff=0, jitter=0), request_hooks={'give_up': hook})
    with pytest.raises(twin.HTTPError):
        await twin(api.get('flaky', params=flaky(5)))
    assert summary(seen) == [('give_up', 2, 503, None, None)]
    await twin.close(api)


async def test_a_failed_connection_fires_retry_then_give_up_with_its_error(twin):
    hook, seen = recorder()
    api = twin.Resource(f'http://127.0.0.1:{closed_port()}/', retry=RETRY,
                        request_hooks={'retry': [hook], 'give_up': [hook], 'response': [hook]})
    with pytest.raises(type(twin.transport_error())):
        await twin(api.get('x', params={'token': 'hush'}))
    assert [(kind, attempt) for kind, attempt, *_ in summary(seen)] == [('retry', 1), ('retry', 2), ('give_up', 3)]
    assert all(event.error and 'hush' not in event.error for event in seen)
    assert all(event.url.endswith('x?token=***') for event in seen)
    await twin.close(api)


def refuse(event):
    raise LookupError('the hook refused')


ENDINGS = {  # how a request ends in an error: (the request's path and options, the error it raises)
    'deadline': (('slow', {'params': {'delay': 1}, 'deadline': 0.3, 'timeout': 5}), DeadlineExceeded),
    'deadline-retrying': (('slow', {'params': {'delay': 1}, 'deadline': 0.3, 'timeout': 5, 'retry': RETRY}),
                          DeadlineExceeded),
    'max_body': (('bytes/100', {'max_body': 10}), BodyTooLarge),
    'redirects': (('redirect', {'params': {'to': '/redirect?to=%2Fecho'}}), None),  # two, one allowed
    'refused': ((None, {'retry': RETRY}), 'transport'),
    'hook': (('echo', {'hook': refuse}), LookupError),
}


@pytest.mark.parametrize('ending', ENDINGS)
async def test_every_way_a_request_ends_in_an_error_fires_one_give_up(twin, fresh, caplog, ending):
    """The last event of a request that raises is its one give_up, naming what it raised; its log record too."""
    (path, given), raised = ENDINGS[ending]
    options = dict(given)
    caplog.set_level(logging.DEBUG, logger='clients.requests')
    hook, seen = recorder()
    api = twin.Resource(fresh.url if path else f'http://127.0.0.1:{closed_port()}/', retry=None,
                        request_hooks={kind: [hook] for kind in events.KINDS})
    api.request_hooks['request'].append(options.pop('hook', lambda event: None))
    api.max_redirects = 1
    if raised == 'transport':
        raised = type(twin.transport_error())
    elif raised is None:
        raised = clients.httpx.TooManyRedirects if twin.name == 'async' else clients.base.requests.TooManyRedirects
    with pytest.raises(raised) as caught:
        await twin(api.get(path or 'x', **options))
    gave_up = [event for event in seen if event.kind == 'give_up']
    assert len(gave_up) == 1
    assert seen[-1] is gave_up[0]
    assert gave_up[0].error.startswith(f'{type(caught.value).__name__}: ')
    assert gave_up[0].attempt == (3 if ending == 'refused' else 1)
    assert gave_up[0].url.startswith(fresh.url if path else 'http://127.0.0.1:')
    records = [record for record in caplog.records if record.name == 'clients.requests']
    assert [record.http_kind for record in records].count('give_up') == 1
    assert (records[-1].levelname, records[-1].getMessage()) == ('WARNING', gave_up[0].message())
    await twin.close(api)


async def test_async_hooks_are_awaited_by_the_async_shell(fresh):
    seen = []

    async def hook(event):
        seen.append(event.kind)
    api = clients.AsyncResource(fresh.url, request_hooks={'request': hook, 'response': [hook]})
    await api.get('echo')
    assert seen == ['request', 'response']
    await api.aclose()


class Awaitable:
    """An awaitable that is not a coroutine."""

    def __await__(self):  # pragma: no cover (never awaited: the sync shell refuses it)
        yield


async def coroutine(event):  # pragma: no cover (never awaited: the sync shell refuses it)
    pass


@pytest.mark.parametrize('hook', [coroutine, lambda event: Awaitable()])
def test_the_sync_shell_refuses_an_async_hook(fresh, hook):
    api = clients.Resource(fresh.url, request_hooks={'request': [hook]})
    with pytest.raises(TypeError, match=r"'request' event hook .* of a sync client returned an awaitable"):
        api.get('echo')
    api.close()


async def test_an_exception_in_a_hook_propagates(twin, fresh):
    def hook(event):
        raise LookupError(event.kind)
    api = twin.Resource(fresh.url, request_hooks={'response': [hook]})
    with pytest.raises(LookupError, match='response'):
        await twin(api.get('echo'))
    await twin.close(api)


async def test_derived_clients_inherit_a_copy_of_the_hooks(twin, fresh):
    first, seen = recorder()
    second, more = recorder()
    api = twin.Resource(fresh.url, request_hooks={'request': [first]})
    child = api / 'echo'
    child.request_hooks['request'].append(second)
    assert api.request_hooks['request'] == [first]
    await twin(child.get())
    await twin(api.get('echo'))
    assert (len(seen), len(more)) == (2, 1)
    api.request_hooks = {'response': first}
    assert child.request_hooks['response'] == []
    assert api.request_hooks['request'] == []
    await twin.close(api)


@pytest.mark.parametrize(('given', 'error', 'message'), [
    ({'responses': []}, ValueError, "unknown event 'responses': expected one of request, response, retry, give_up"),
    ({'retry': [42]}, TypeError, "the 'retry' event hook int is not callable"),
    ({'give_up': 'print'}, TypeError, "the 'give_up' event hook str is not callable"),
])
def test_bad_hooks_are_refused_naming_what_was_wrong(twin, given, error, message):
    with pytest.raises(error, match=message):
        twin.Client('http://127.0.0.1:1/', request_hooks=given)


async def test_each_event_is_a_log_record_with_its_fields(twin, fresh, caplog):
    caplog.set_level(logging.DEBUG, logger='clients.requests')
    api = twin.Resource(fresh.url, retry=Retry(attempts=2, backoff=0, jitter=0))
    with pytest.raises(twin.HTTPError):
        await twin(api.get('flaky', params=flaky(5)))
    records = [record for record in caplog.records if record.name == 'clients.requests']
    url = records[0].http_url
    assert [(record.levelname, record.getMessage()) for record in records] == [
        ('DEBUG', f'GET {url}: attempt 1'),
        ('DEBUG', f'GET {url}: attempt 1 answered status 503'),
        ('INFO', f'GET {url}: attempt 1 failed (status 503), retrying in 0.00 s'),
        ('DEBUG', f'GET {url}: attempt 2'),
        ('DEBUG', f'GET {url}: attempt 2 answered status 503'),
        ('WARNING', f'GET {url}: giving up after attempt 2 (status 503)'),
    ]
    assert [(record.http_kind, record.http_attempt, record.http_status) for record in records][-1] == (
        'give_up', 2, 503)
    await twin.close(api)


def test_a_failure_before_any_url_is_told_by_method():
    found = events.event('give_up', 'GET', None, 1, error=OSError('down'))
    assert found.message() == 'GET: giving up after attempt 1 (OSError: down)'


def test_no_record_is_made_when_the_logger_is_off(caplog):
    caplog.set_level(logging.ERROR, logger='clients.requests')
    events.log(events.event('give_up', 'GET', 'http://h.test/', 1, 503))
    assert caplog.records == []
