"""OpenTelemetry spans and metrics of every request, checked with the SDK's in-memory exporter and reader."""

import importlib
import logging
import sys
import uuid

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import clients
from clients import RateLimit, Retry, hosts, telemetry
from tests import auth_server
from tests.test_resilience import closed_port, flaky

EXPORTER = InMemorySpanExporter()
READER = InMemoryMetricReader()
PROVIDER = TracerProvider()
PROVIDER.add_span_processor(SimpleSpanProcessor(EXPORTER))
INSTRUMENTS = telemetry._Instruments(MeterProvider(metric_readers=[READER]).get_meter('clients'))


@pytest.fixture
def spans(monkeypatch):
    """The spans finished during the test, in order, through an SDK provider of the test's own.

    (The global provider is left alone: set once, it would trace every later test's requests.)
    """
    EXPORTER.clear()
    monkeypatch.setattr(telemetry, 'TRACER', PROVIDER.get_tracer('clients'))
    monkeypatch.setattr(telemetry, 'INSTRUMENTS', INSTRUMENTS)
    return EXPORTER.get_finished_spans


def outer():
    """A span of the caller's, current while the request is sent."""
    return PROVIDER.get_tracer('test').start_as_current_span('outer')


def points(name, port=None):
    """The data points of metric `name` (for requests to the server on `port`, if given)."""
    found = []
    data = READER.get_metrics_data()
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found += [point for point in metric.data.data_points
                          if port is None or point.attributes.get('server.port') == port]
    return found


def traceparent(span):
    context = span.get_span_context()
    return f'00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}'


def port(server):
    return server.server_address[1]


async def test_each_request_is_a_client_span_under_the_callers_with_its_context_sent(twin, fresh, spans):
    api = twin.Resource(fresh.url)
    with outer() as caller:
        echoed = await twin(api.echo.get(params={'page': '2', 'api_key': 'k3y'}))
    (span,) = spans()[:-1]
    assert span.name == 'GET'
    assert span.kind is trace.SpanKind.CLIENT
    assert span.parent.span_id == caller.get_span_context().span_id
    assert dict(span.attributes) == {
        'http.request.method': 'GET', 'url.full': fresh.url + 'echo?page=2&api_key=***', 'url.scheme': 'http',
        'server.address': '127.0.0.1', 'server.port': port(fresh), 'http.response.status_code': 200,
    }
    assert span.status.status_code is trace.StatusCode.UNSET
    assert echoed['headers']['traceparent'] == traceparent(span)
    await twin.close(api)


async def test_each_retry_is_a_span_with_its_resend_count(twin, fresh, spans, clock):
    api = twin.Resource(fresh.url, retry=Retry(backoff=1, jitter=0, clock=clock))
    assert (await twin(api.get('flaky', params=flaky(2))))['attempt'] == 3
    sent = spans()
    assert [span.attributes['http.response.status_code'] for span in sent] == [503, 503, 200]
    assert [span.attributes.get('http.request.resend_count') for span in sent] == [None, 1, 2]
    assert [span.attributes.get('error.type') for span in sent] == ['503', '503', None]
    assert [span.status.status_code for span in sent] == [trace.StatusCode.ERROR] * 2 + [trace.StatusCode.UNSET]
    assert len({span.context.trace_id for span in sent}) == 3  # (no span of the caller's: each its own trace)
    await twin.close(api)


async def test_each_redirect_hop_is_a_span_with_its_resend_count(twin, fresh, spans):
    api = twin.Resource(fresh.url)
    with outer() as caller:
        echoed = await twin(api.redirect(to=fresh.url + 'echo?token=t0ken'))
    first, second = spans()[:-1]
    assert (first.attributes['http.response.status_code'], second.attributes['http.response.status_code']) == (302,
                                                                                                                200)
    assert 'http.request.resend_count' not in first.attributes
    assert second.attributes['http.request.resend_count'] == 1
    assert second.attributes['url.full'] == fresh.url + 'echo?token=***'
    assert {first.parent.span_id, second.parent.span_id} == {caller.get_span_context().span_id}  # siblings
    assert echoed['headers']['traceparent'] == traceparent(second)
    assert first.end_time <= second.start_time
    await twin.close(api)


async def test_an_oauth2_refresh_shows_the_refused_request_the_token_request_and_the_replay(twin, fresh, spans):
    state = auth_server.oauth_state(fresh)
    api = twin.Resource(fresh.url + 'oauth', auth=clients.OAuth2(fresh.url + 'oauth/token', 'id', 'secret'))
    assert await twin(api.protected.get()) == {'token': 't1'}
    state['current'] = 'revoked'
    EXPORTER.clear()
    assert await twin(api.protected.get()) == {'token': 't2'}
    refused, token, replay = spans()
    assert [span.name for span in (refused, token, replay)] == ['GET', 'POST', 'GET']
    assert refused.attributes['http.response.status_code'] == 401
    assert token.attributes['url.full'] == fresh.url + 'oauth/token'
    assert 'http.request.resend_count' not in token.attributes  # (a request of its own)
    assert replay.attributes['http.request.resend_count'] == 1
    assert replay.attributes['http.response.status_code'] == 200
    await twin.close(api)


async def test_a_failed_connection_is_a_span_with_its_error_type(twin, spans):
    url = f'http://127.0.0.1:{closed_port()}/'
    api = twin.Resource(url, retry=None)
    with pytest.raises(Exception) as info:
        await twin(api.get('x', params={'secret': 'hush'}))
    (span,) = spans()
    assert span.attributes['error.type'] in {'requests.exceptions.ConnectionError',
                                             f'{clients.library.NAME}.ConnectError'}
    assert isinstance(info.value, twin.transport_error().__class__)
    assert span.attributes['url.full'] == url + 'x?secret=***'
    assert 'http.response.status_code' not in span.attributes
    assert span.status.status_code is trace.StatusCode.ERROR
    assert 'hush' not in span.status.description
    await twin.close(api)


async def test_a_request_its_deadline_ends_is_a_span_of_that_error_as_its_give_up_is(twin, fresh, spans):
    """The hop the deadline cut records the error the request raises, as the give_up event and its log record do."""
    gave_up = []
    api = twin.Resource(fresh.url, retry=None, deadline=0.3, timeout=5, request_hooks={'give_up': gave_up.append})
    with pytest.raises(clients.errors.DeadlineExceeded) as info:
        await twin(api.get('slow', params={'delay': 1}))
    (span,) = spans()
    (event,) = gave_up
    assert span.attributes['error.type'] == telemetry.error_type(info.value)
    assert span.attributes['error.type'] in {'clients.errors.RequestsDeadlineExceeded',
                                             'clients.errors.HttpxDeadlineExceeded'}
    assert span.status.status_code is trace.StatusCode.ERROR
    assert span.status.description == event.error == f'{type(info.value).__name__}: {info.value}'
    (duration,) = points('http.client.request.duration', port(fresh))
    assert duration.attributes['error.type'] == span.attributes['error.type']
    (active,) = points('http.client.active_requests', port(fresh))
    assert active.value == 0
    await twin.close(api)


async def test_durations_and_active_requests_are_measured(twin, fresh, spans):
    api = twin.Resource(fresh.url)
    await twin(api.get('echo'))
    with pytest.raises(twin.HTTPError):
        await twin(api.get('status/404'))
    durations = points('http.client.request.duration', port(fresh))
    assert sorted(point.attributes.get('http.response.status_code') for point in durations) == [200, 404]
    assert [point.attributes['error.type'] for point in durations if 'error.type' in point.attributes] == ['404']
    assert all(point.count == 1 and point.sum > 0 for point in durations)
    (active,) = points('http.client.active_requests', port(fresh))
    assert active.value == 0
    await twin.close(api)


SECRETS = ('b3arer-S3CRET', 'qu3ry-S3CRET', 'passw0rd-S3CRET', 'acc3ss-S3CRET', 'c00kie-S3CRET')


async def test_no_credential_appears_in_any_span_metric_log_record_or_error(twin, fresh, spans, caplog):
    caplog.set_level(logging.DEBUG, logger='clients')
    state = auth_server.oauth_state(fresh)
    state['token'] = 'acc3ss-S3CRET'
    base = fresh.url.replace('http://', 'http://user:passw0rd-S3CRET@')
    seen = []
    hooks = {kind: [seen.append] for kind in clients.events.KINDS}
    bearer = twin.Resource(fresh.url, headers={'Authorization': 'Bearer b3arer-S3CRET'},
                           cookies={'sid': 'c00kie-S3CRET'}, retry=Retry(backoff=0, jitter=0), request_hooks=hooks)
    basic = twin.Resource(base, request_hooks=hooks)
    oauth = twin.Resource(fresh.url + 'oauth', auth=clients.OAuth2(fresh.url + 'oauth/token', 'id', 'secret',
                                                                  token_endpoint_auth_method='client_secret_post'),
                          request_hooks=hooks)
    errors = []
    for call in (lambda: bearer.get('flaky', params=flaky(1, api_key='qu3ry-S3CRET')), lambda: basic.get('echo'),
                 lambda: oauth.protected.get(),
                 lambda: bearer.get('status/503', params={'access_token': 'qu3ry-S3CRET'}),
                 lambda: basic.get('redirect', params={'to': base + 'status/400?sig=qu3ry-S3CRET'})):
        try:
            await twin(call())
        except Exception as exc:  # (the error's message is checked too)
            errors.append(exc)
    state['current'] = 'revoked'
    await twin(oauth.protected.get())
    assert len(errors) == 2
    assert len(spans()) >= 8
    recorded = [repr((span.name, dict(span.attributes), span.status.description, span.events)) for span in spans()]
    recorded += [record.getMessage() + repr(vars(record)) for record in caplog.records]
    recorded += [repr(event) for event in seen]
    assert {event.kind for event in seen} == {'request', 'response', 'retry', 'give_up'}
    recorded += [str(error) + ' '.join(getattr(error, '__notes__', [])) for error in errors]
    for metric in READER.get_metrics_data().resource_metrics:
        recorded.append(metric.to_json())
    text = '\n'.join(recorded)
    assert '***' in text
    assert [line for line in text.splitlines() if any(secret in line for secret in SECRETS)] == []
    for client in (bearer, basic, oauth):
        await twin.close(client)


def test_attributes_of_an_unknown_method_and_a_default_port():
    assert telemetry.attributes('purge', 'https://h.test/x') == {
        'http.request.method': '_OTHER', 'http.request.method_original': 'purge', 'url.full': 'https://h.test/x',
        'url.scheme': 'https', 'server.address': 'h.test', 'server.port': 443,
    }
    assert 'server.port' not in telemetry.attributes('GET', 'ftp://h.test/')


def test_error_types_are_qualified_names():
    assert telemetry.error_type(TimeoutError()) == 'TimeoutError'
    assert telemetry.error_type(clients.DecodeError('x')) == 'clients.errors.DecodeError'


async def test_a_span_is_named_http_for_an_unknown_method(twin, fresh, spans):
    api = twin.Client(fresh.url)
    response = await twin(api.request('PURGE', 'echo'))
    assert response.status_code == 501  # (the test server does not know it either)
    (span,) = spans()
    assert span.name == 'HTTP'
    assert span.attributes['http.request.method'] == '_OTHER'
    await twin.close(api)


@pytest.fixture
def without_api(monkeypatch):
    """`clients.telemetry` as it is when `opentelemetry-api` is not installed."""
    monkeypatch.setitem(sys.modules, 'opentelemetry', None)
    importlib.reload(telemetry)
    yield telemetry
    monkeypatch.delitem(sys.modules, 'opentelemetry')
    importlib.reload(telemetry)


async def test_without_the_api_nothing_is_traced_or_sent(twin, fresh, spans, without_api):
    assert without_api.TRACER is None
    api = twin.Resource(fresh.url, auth=clients.OAuth2(fresh.url + 'oauth/token', 'id', 'secret'))
    auth_server.oauth_state(fresh)
    echoed = await twin(api.echo.get(params={'key': uuid.uuid4().hex}))
    assert 'traceparent' not in echoed['headers']
    assert spans() == ()
    without_api.retried('GET', None)
    assert without_api.waited(1.0) == 1.0
    without_api.cache('hit')
    without_api.circuit('http://h.test/', 'open')
    await twin.close(api)


async def test_retries_rate_limit_waits_and_cache_lookups_are_counted(twin, fresh, spans, clock):
    api = twin.Resource(fresh.url, retry=Retry(backoff=1, jitter=0, clock=clock), cache=True)
    await twin(api.get('flaky', params=flaky(2)))
    (retries,) = points('clients.retries', port(fresh))
    assert (retries.value, retries.attributes['http.request.method']) == (2, 'GET')
    before = {point.attributes['clients.cache.result']: point.value for point in points('clients.cache.lookups')}
    name = uuid.uuid4().hex
    assert (await twin(api.get(f'cached/{name}', params={'cc': 'max-age=60'})))['hits'] == 1
    assert (await twin(api.get(f'cached/{name}', params={'cc': 'max-age=60'})))['hits'] == 1
    after = {point.attributes['clients.cache.result']: point.value for point in points('clients.cache.lookups')}
    assert (after['hit'] - before.get('hit', 0), after['miss'] - before.get('miss', 0)) == (1, 1)
    await twin.close(api)


def _waited():
    (histogram,) = points('clients.rate_limit.wait') or [None]
    return (0, 0.0) if histogram is None else (histogram.count, histogram.sum)


async def test_rate_limit_waits_are_measured(twin, fresh, spans):
    api = twin.Resource(fresh.url, rate=RateLimit(50, burst=1))
    count, total = _waited()
    for _ in range(3):
        await twin(api.get('echo'))
    now_count, now_total = _waited()
    assert now_count - count >= 1
    assert now_total - total > 0
    await twin.close(api)


async def test_a_request_sent_around_request_is_still_a_span(twin, fresh, spans):
    """`send` of requests' Session or httpx's client, given a request built by hand: no resends to count."""
    api = twin.Client(fresh.url)
    if twin.name == 'sync':
        response = api.send(api.prepare_request(clients.base.requests.Request('GET', fresh.url + 'echo')))
    else:
        response = await api.send(api.build_request('GET', fresh.url + 'echo'))
    assert response.status_code == 200
    (span,) = spans()
    assert 'http.request.resend_count' not in span.attributes
    assert response.json()['headers']['traceparent'] == traceparent(span)
    await twin.close(api)


async def test_circuit_state_changes_are_counted_by_host_and_state(twin, fresh, spans):
    class Quick(hosts.Stats):
        threshold, cooldown = 1, 0.0  # (open after one failure, half-open at once)

    class Proxy(twin.Proxy):
        Stats = Quick
    proxy = Proxy(fresh.url, retry=None)
    assert (await twin(proxy.get('status/503'))).status_code == 503
    assert (await twin(proxy.get('status/502'))).status_code == 502  # the probe fails: open again
    assert (await twin(proxy.get('echo'))).status_code == 200
    changes = {point.attributes['clients.circuit.state']: point.value
               for point in points('clients.circuit.state_changes') if point.attributes['clients.host'] == fresh.url}
    assert changes == {'open': 2, 'half-open': 2, 'closed': 1}
    await twin.close(proxy)
