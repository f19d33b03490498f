"""The HTTP cache through both shells and both async transports, against the real local server."""

import asyncio
import concurrent.futures
import contextlib
import os
import stat
import time
import uuid

import hishel
import pytest
import redis
import requests

import clients
from clients import Cache, RateLimit, httpx
from clients import cache as caches


def name():
    return uuid.uuid4().hex[:12]


def hits(server, key):
    return server.hits.get(f'cached/{key}', 0)


def validators(server, key):
    """The validators each request for `key` carried."""
    found = []
    for _, path, headers in server.requests:
        if path.startswith(f'/cached/{key}'):
            lowered = {k.lower(): v for k, v in headers.items()}
            found.append((lowered.get('if-none-match'), lowered.get('if-modified-since')))
    return found


async def test_fresh_responses_are_served_from_the_cache(twin, server):
    api = twin.Resource(server.url, cache=True)
    key = name()
    values = [await twin(api.get(f'cached/{key}', params={'cc': 'max-age=60'})) for _ in range(3)]
    assert [value['hits'] for value in values] == [1, 1, 1]
    assert hits(server, key) == 1
    assert (api.cache.stats.hits, api.cache.stats.misses, api.cache.stats.stored) == (2, 1, 1)
    assert api.cache.stats.hit_rate == pytest.approx(2 / 3)
    response = await twin(api.client.get(f'cached/{key}', params={'cc': 'max-age=60'}))
    assert response.status_code == 200
    assert 'age' in response.headers
    assert 'content-length' in response.headers
    await twin.close(api)


@pytest.mark.parametrize('query', [{'expires': '60'}, {'cc': 'private, max-age=60'}], ids=['expires', 'private'])
async def test_expires_and_private_responses_are_fresh(twin, server, query):
    api = twin.Resource(server.url, cache=True)
    key = name()
    for _ in range(2):
        await twin(api.get(f'cached/{key}', params=query))
    assert hits(server, key) == 1
    await twin.close(api)


@pytest.mark.parametrize('query', [{'cc': 'no-store, max-age=60'}, {'cc': 'max-age=0'}, {}],
                         ids=['no-store', 'stale-without-validator', 'nothing'])
async def test_what_cannot_be_reused_is_not_stored(twin, server, query):
    api = twin.Resource(server.url, cache=True)
    key = name()
    values = [await twin(api.get(f'cached/{key}', params=query)) for _ in range(2)]
    assert [value['hits'] for value in values] == [1, 2]
    assert api.cache.stats.stored == 0
    await twin.close(api)


@pytest.mark.parametrize(('query', 'sent'), [
    ({'etag': 'v1'}, ('"v1"', None)),
    ({'modified': '1700000000'}, (None, 'Tue, 14 Nov 2023 22:13:20 GMT')),
], ids=['etag', 'last-modified'])
async def test_stale_responses_are_revalidated_and_a_304_refreshes_them(twin, server, query, sent):
    api = twin.Resource(server.url, cache=True)
    key = name()
    query = dict(query, cc='max-age=0')
    values = [await twin(api.get(f'cached/{key}', params=query)) for _ in range(3)]
    assert [value['hits'] for value in values] == [1, 1, 1]  # the body stored first, refreshed by 304s
    assert validators(server, key) == [(None, None), sent, sent]
    assert api.cache.stats.revalidated == 2
    await twin.close(api)


async def test_a_changed_resource_replaces_the_stored_one(twin, server):
    api = twin.Resource(server.url, cache=True)
    key = name()
    query = {'cc': 'max-age=0', 'etag': 'v1'}
    assert (await twin(api.get(f'cached/{key}', params=query)))['hits'] == 1
    await twin(api.get(f'cached/{key}/etag', params={'to': 'v2'}))
    assert (await twin(api.get(f'cached/{key}', params=query)))['hits'] == 2
    assert (await twin(api.get(f'cached/{key}', params=query)))['hits'] == 2
    assert validators(server, key)[-1] == ('"v2"', None)
    await twin.close(api)


async def test_vary_keeps_one_response_per_variant(twin, server):
    api = twin.Resource(server.url, cache=True)
    key = name()
    query = {'cc': 'max-age=60', 'vary': 'Accept'}
    first = await twin(api.get(f'cached/{key}', params=query, headers={'Accept': 'application/json'}))
    other = await twin(api.get(f'cached/{key}', params=query, headers={'Accept': 'text/plain'}))
    again = await twin(api.get(f'cached/{key}', params=query, headers={'Accept': 'application/json'}))
    assert (first['hits'], other['hits'], again['hits']) == (1, 2, 1)
    assert other['accept'] == 'text/plain'
    await twin.close(api)


@pytest.mark.parametrize('setting', [
    {'headers': {'Authorization': 'Bearer sekrit-1'}},
    {'auth': clients.Bearer('sekrit-1')},
    {'auth': ('user', 'sekrit-1')},
    {'cookies': {'session': 'sekrit-1'}},
], ids=['header', 'auth-object', 'basic', 'cookie'])
async def test_credentialed_responses_are_served_only_to_the_same_credentials(twin, server, setting):
    shared = Cache()
    key = name()
    query = {'cc': 'private, max-age=60'}
    owner = twin.Resource(server.url, cache=shared, **setting)
    assert (await twin(owner.get(f'cached/{key}', params=query)))['hits'] == 1
    assert (await twin((owner / 'cached').get(key, params=query)))['hits'] == 1  # a derived view shares it
    anonymous = twin.Resource(server.url, cache=shared)
    assert (await twin(anonymous.get(f'cached/{key}', params=query)))['hits'] == 2
    changed = {name: ({'Authorization': 'Bearer sekrit-2'} if name == 'headers' else clients.Bearer('sekrit-2')
                      if name == 'auth' and not isinstance(value, tuple) else ('user', 'sekrit-2') if name == 'auth'
                      else {'session': 'sekrit-2'}) for name, value in setting.items()}
    stranger = twin.Resource(server.url, cache=shared, **changed)
    assert (await twin(stranger.get(f'cached/{key}', params=query)))['hits'] == 3
    stored = repr(list(shared.storage._entries.values()))
    assert 'sekrit' not in stored
    assert '/cached/' not in stored
    for client in (owner, anonymous, stranger):
        await twin.close(client)


@pytest.mark.parametrize(('path', 'query'), [
    ('status/503', {}), ('status/500', {}), ('short', {}), ('bytes/5000', {'max_body': 100}),
], ids=['503', '500', 'cut', 'over-max-body'])
async def test_errors_and_partial_reads_are_never_stored(twin, server, path, query):
    api = twin.Client(server.url, cache=True, retry=None)
    for _ in range(2):
        with contextlib.suppress(requests.RequestException, httpx.HTTPError, clients.Error):
            await twin(api.get(path, **query))
    assert api.cache.stats.stored == 0
    assert api.cache.stats.hits == 0
    await twin.close(api)


async def test_a_stored_body_over_a_requests_max_body_is_refused_as_the_networks_would_be(twin, server):
    api = twin.Client(server.url, cache=True, retry=None)
    key = name()
    path, cc = f'cached/{key}', {'cc': 'max-age=60'}
    stored = (await twin(api.get(path, params=cc))).content
    assert len(stored) > 20
    with pytest.raises(clients.BodyTooLarge, match=rf'GET {server.url}{path}\?cc=max-age%3D60: the body is larger '
                                                   r'than max_body=20 bytes'):
        await twin(api.get(path, params=cc, max_body=20))
    small = twin.Client(server.url, cache=api.cache, max_body=20)  # the client's max_body, sharing the cache
    with pytest.raises(clients.BodyTooLarge):
        await twin(small.get(path, params=cc))
    await twin.close(small)
    assert (await twin(api.get(path, params=cc, max_body=len(stored)))).content == stored  # at the limit: served
    if twin.name == 'sync':  # a streamed request reads past max_body (the network's rule too)
        assert (await twin(api.get(path, params=cc, max_body=20, stream=True))).raw.read() == stored
    assert hits(server, key) == 1  # every answer came from the cache
    assert api.cache.stats.hits == 3 + (twin.name == 'sync')
    await twin.close(api)


async def test_an_answer_a_retry_gave_up_on_is_not_stored(twin, server, monkeypatch):
    monkeypatch.setattr(caches, 'RETRYABLE', frozenset({200}))  # as if 200 were a status retries give up on
    api = twin.Resource(server.url, cache=True)
    key = name()
    for _ in range(2):
        await twin(api.get(f'cached/{key}', params={'cc': 'max-age=60'}))
    assert hits(server, key) == 2
    await twin.close(api)


async def test_stale_if_error_serves_the_stored_response_on_an_error_status(twin, server):
    api = twin.Resource(server.url, cache=True, retry=None)
    key = name()
    query = {'cc': 'max-age=0, stale-if-error=60', 'etag': 'v1', 'fail': '503'}
    values = [await twin(api.get(f'cached/{key}', params=query)) for _ in range(2)]
    assert [value['hits'] for value in values] == [1, 1]
    assert hits(server, key) == 2
    assert api.cache.stats.stale == 1
    bare = {'cc': 'max-age=0', 'etag': 'v1', 'fail': '503'}
    other = name()
    await twin(api.get(f'cached/{other}', params=bare))
    with pytest.raises(twin.HTTPError):  # without the directive the error is the answer
        await twin(api.get(f'cached/{other}', params=bare))
    await twin.close(api)


async def test_stale_if_error_serves_the_stored_response_when_the_server_is_gone(twin, fresh):
    api = twin.Resource(fresh.url, cache=True, retry=None, timeout=2)
    key, bare = name(), name()
    query = {'cc': 'max-age=0, stale-if-error=60', 'etag': 'v1'}
    await twin(api.get(f'cached/{key}', params=query))
    await twin(api.get(f'cached/{bare}', params={'cc': 'max-age=0', 'etag': 'v1'}))
    fresh.stop()
    assert (await twin(api.get(f'cached/{key}', params=query)))['hits'] == 1
    with pytest.raises((requests.ConnectionError, httpx.TransportError)):
        await twin(api.get(f'cached/{bare}', params={'cc': 'max-age=0', 'etag': 'v1'}))
    with pytest.raises((requests.ConnectionError, httpx.TransportError)):
        await twin(api.get(f'cached/{name()}', params=query))
    await twin.close(api)


async def test_stale_while_revalidate_answers_at_once_and_revalidates_in_the_background(twin, server):
    api = twin.Resource(server.url, cache=True)
    key = name()
    query = {'cc': 'max-age=0, stale-while-revalidate=60', 'etag': 'v1', 'delay': '0.2'}
    await twin(api.get(f'cached/{key}', params=query))
    began = time.monotonic()
    assert (await twin(api.get(f'cached/{key}', params=query)))['hits'] == 1
    assert (await twin(api.get(f'cached/{key}', params=query)))['hits'] == 1  # one revalidation at a time
    assert time.monotonic() - began < 0.2  # not waiting for the server
    for _ in range(100):
        if len(validators(server, key)) == 2 and not api.cache._refreshing:
            break
        await asyncio.sleep(0.02)
    assert validators(server, key) == [(None, None), ('"v1"', None)]
    assert api.cache.stats.stale == 2
    await twin.close(api)


async def test_a_failed_background_revalidation_is_logged(twin, fresh, caplog):
    api = twin.Resource(fresh.url, cache=True, retry=None, timeout=1)
    key = name()
    query = {'cc': 'max-age=0, stale-while-revalidate=60', 'etag': 'v1'}
    await twin(api.get(f'cached/{key}', params=query))
    fresh.stop()
    with caplog.at_level('INFO', logger='clients.caching'):
        assert (await twin(api.get(f'cached/{key}', params=query)))['hits'] == 1
        for _ in range(200):
            if 'background revalidation of GET failed' in caplog.text:
                break
            await asyncio.sleep(0.02)
    assert 'background revalidation of GET failed' in caplog.text
    await twin.close(api)


STALE_WAYS = {  # every way a stale stored response may be served without the server's word
    'stale-while-revalidate': ({'cc': 'max-age=0, stale-while-revalidate=60'}, {}, False),
    'stale-if-error, error status': ({'cc': 'max-age=0, stale-if-error=60', 'fail': '503'}, {}, False),
    'stale-if-error, server gone': ({'cc': 'max-age=0, stale-if-error=60'}, {}, True),
    "the request's max-stale": ({'cc': 'max-age=0'}, {'Cache-Control': 'max-stale=60'}, False),
}


@pytest.mark.parametrize(('query', 'asked', 'gone'), STALE_WAYS.values(), ids=STALE_WAYS)
async def test_a_stale_response_is_served_only_to_its_own_variant(twin, fresh, query, asked, gone):
    api = twin.Resource(fresh.url, cache=True, retry=None, timeout=2)
    key = name()
    query = {**query, 'etag': 'v1', 'vary': 'Accept'}
    first = await twin(api.get(f'cached/{key}', params=query, headers={'Accept': 'application/a+json', **asked}))
    assert first['accept'] == 'application/a+json'
    if gone:
        fresh.stop()
    mine = await twin(api.get(f'cached/{key}', params=query, headers={'Accept': 'application/a+json', **asked}))
    assert mine == first  # served stale to the same variant
    try:  # another variant gets the server's answer, or its error: never the other's response
        other = await twin(api.get(f'cached/{key}', params=query, headers={'Accept': 'application/b+json', **asked}))
    except (requests.RequestException, httpx.HTTPError, clients.Error):
        pass
    else:
        assert other['accept'] == 'application/b+json'
    await twin.close(api)


async def test_a_requests_max_age_and_min_fresh_are_kept(twin, server):
    api = twin.Resource(server.url, cache=True, retry=None)
    key = name()
    query = {'cc': 'max-age=600', 'etag': 'v1'}
    await twin(api.get(f'cached/{key}', params=query))
    assert (await twin(api.get(f'cached/{key}', params=query, headers={'Cache-Control': 'max-age=300'})))['hits'] == 1
    assert (await twin(api.get(f'cached/{key}', params=query, headers={'Cache-Control': 'min-fresh=300'})))['hits'] == 1
    assert hits(server, key) == 1  # both from the cache: young and fresh enough
    await twin(api.get(f'cached/{key}', params=query, headers={'Cache-Control': 'max-age=0'}))
    await twin(api.get(f'cached/{key}', params=query, headers={'Cache-Control': 'min-fresh=900'}))
    assert validators(server, key) == [(None, None), ('"v1"', None), ('"v1"', None)]  # each revalidated
    stale = name()
    await twin(api.get(f'cached/{stale}', params={'cc': 'max-age=0', 'etag': 'v1'}))
    await twin(api.get(f'cached/{stale}', params={'cc': 'max-age=0', 'etag': 'v1'},
                       headers={'Cache-Control': 'max-stale=0'}))
    assert validators(server, stale) == [(None, None), ('"v1"', None)]  # stale beyond what it accepts
    await twin.close(api)


async def test_the_age_an_upstream_cache_gave_counts(twin, server):
    api = twin.Client(server.url, cache=True, retry=None)
    young, old = name(), name()
    first = await twin(api.get(f'cached/{young}', params={'cc': 'max-age=600', 'etag': 'v1', 'age': '300'}))
    hit = await twin(api.get(f'cached/{young}', params={'cc': 'max-age=600', 'etag': 'v1', 'age': '300'}))
    assert hits(server, young) == 1  # 300 of its 600 seconds left: fresh
    assert hit.headers['date'] == first.headers['date']  # the origin's Date, as it came
    assert 300 <= int(hit.headers['age']) <= 302  # and its age counts the upstream's
    assert 'x-clients-origin-date' not in hit.headers
    query = {'cc': 'max-age=600', 'etag': 'v1', 'age': '600'}  # as old as its lifetime: stale on arrival
    for _ in range(3):
        await twin(api.get(f'cached/{old}', params=query))
    # each request revalidated: the 304s say Age 600 too, so it never became fresh
    assert validators(server, old) == [(None, None), ('"v1"', None), ('"v1"', None)]
    refreshed, query = name(), {'cc': 'max-age=2', 'etag': 'v1'}
    await twin(api.get(f'cached/{refreshed}', params=query))
    await asyncio.sleep(2.2)
    for _ in range(2):  # stale: a 304 makes it fresh again, from the 304's Date
        await twin(api.get(f'cached/{refreshed}', params=query))
    assert validators(server, refreshed) == [(None, None), ('"v1"', None)]
    await twin.close(api)


async def test_a_hit_is_never_retried_and_never_waits_for_the_rate_limit(twin, server, instant_retries):
    api = twin.Resource(server.url, cache=True, rate=RateLimit(1, burst=1))
    key = name()
    for _ in range(20):
        await twin(api.get(f'cached/{key}', params={'cc': 'max-age=60'}))
    assert instant_retries == [0.0]
    assert hits(server, key) == 1
    await twin.close(api)


async def test_an_unsafe_request_invalidates_the_stored_response(twin, server):
    api = twin.Resource(server.url, cache=True)
    key = name()
    query = {'cc': 'max-age=60'}
    await twin(api.get(f'cached/{key}', params=query))
    await twin(api.put(f'cached/{key}', params=query, json={}))
    assert (await twin(api.get(f'cached/{key}', params=query)))['hits'] == 3
    await twin.close(api)


async def test_a_request_can_turn_the_cache_off_and_conditional_requests_pass_through(twin, server):
    api = twin.Resource(server.url, cache=True)
    key = name()
    query = {'cc': 'max-age=60', 'etag': 'v1'}
    await twin(api.get(f'cached/{key}', params=query))
    assert (await twin(api.get(f'cached/{key}', params=query, cache=None)))['hits'] == 2
    response = await twin(api.client.get(f'cached/{key}', params=query, headers={'If-None-Match': '"v1"'}))
    assert response.status_code == 304
    assert hits(server, key) == 3
    await twin.close(api)


async def test_streams_and_downloads_read_a_cached_response(twin, server, tmp_path):
    api = twin.Resource(server.url, cache=True)
    key = name()
    query = {'cc': 'max-age=60'}
    value = await twin(api.get(f'cached/{key}', params=query))
    assert await twin.list(api.iter(f'cached/{key}', params=query)) == [value]
    target = tmp_path / 'cached.json'
    await twin(api.download(str(target), f'cached/{key}', params=query))
    assert target.read_bytes() == (await twin(api.client.get(f'cached/{key}', params=query))).content
    assert hits(server, key) == 1
    await twin.close(api)


async def test_pages_are_the_same_with_the_cache_on(twin, server):
    plain, cached = twin.Resource(server.url), twin.Resource(server.url, cache=True)
    assert (await twin.list(cached.each('pages', total=5))) == (await twin.list(plain.each('pages', total=5)))
    await twin.close(plain)
    await twin.close(cached)


def test_settings_are_checked():
    with pytest.raises(TypeError, match='cache must be'):
        clients.Client('http://localhost/', cache='yes')
    with pytest.raises(TypeError, match='coalesce must be True or False'):
        clients.AsyncClient('http://localhost/', coalesce='yes')
    with pytest.raises(TypeError, match=r'hishel\.BaseStorage'):
        Cache(storage={})
    with pytest.raises(TypeError, match='secret'):
        Cache(secret='')
    storage = caches.Memory()
    client = clients.Client('http://localhost/', cache=storage, coalesce=True)
    assert client.cache.storage is storage
    assert client.coalesce is True
    assert repr(Cache()) == 'Cache(Memory)'
    assert Cache.of(False) is None


def test_memory_evicts_the_least_recently_used():
    storage = caches.Memory(max_size=10)
    for key in 'ab':
        entry = storage.create_entry(hishel.Request('GET', key), hishel.Response(200, stream=iter([b'x' * 6])), key)
        list(entry.response.stream)
    assert storage.get_entries('a') == []
    assert len(storage.get_entries('b')) == 1
    assert storage.size == 6
    big = storage.create_entry(hishel.Request('GET', 'c'), hishel.Response(200, stream=iter([b'x' * 11])), 'c')
    list(big.response.stream)
    assert storage.get_entries('c') == []
    storage.update_headers(uuid.uuid4(), hishel.Headers({}))
    storage.remove_entry(uuid.uuid4())
    twins = [storage.create_entry(hishel.Request('GET', 'd'), hishel.Response(200, stream=iter([b'x'])), 'd')
             for _ in range(2)]
    for entry in twins:
        list(entry.response.stream)
    storage.remove_entry(twins[0].id)
    assert [entry.id for entry in storage.get_entries('d')] == [twins[1].id]


def test_basic_credentials_are_named_by_their_user_and_password():
    one, same = requests.auth.HTTPBasicAuth('u', 'p'), requests.auth.HTTPBasicAuth('u', 'p')
    assert caches.auth_identity(one) == caches.auth_identity(same)
    assert caches.auth_identity(one) != caches.auth_identity(requests.auth.HTTPBasicAuth('u', 'q'))


def test_sqlite_storage_is_private_to_its_owner_and_outlives_its_process(server, tmp_path):
    path = tmp_path / 'cache' / 'http.db'
    key = name()
    first = clients.Resource(server.url, cache=Cache(caches.sqlite(path), secret='fleet'))
    first.get(f'cached/{key}', params={'cc': 'max-age=60'}, headers={'Authorization': 'Bearer secret-token'})
    first.cache.storage.close()
    later = clients.Resource(server.url, cache=Cache(caches.sqlite(path), secret='fleet'),
                             headers={'Authorization': 'Bearer secret-token'})
    assert later.get(f'cached/{key}', params={'cc': 'max-age=60'})['hits'] == 1
    for file in path.parent.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
        assert b'secret-token' not in file.read_bytes()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_sqlite_refuses_links_and_makes_open_files_private(tmp_path):
    loose = tmp_path / 'loose.db'
    loose.touch(mode=0o644)
    os.chmod(loose, 0o644)
    caches.sqlite(loose).close()
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600
    link = tmp_path / 'link.db'
    link.symlink_to(loose)
    with pytest.raises(ValueError, match='cannot be opened'):
        caches.sqlite(link)
    os.mkfifo(tmp_path / 'fifo')
    with pytest.raises(ValueError, match='regular file'):
        caches.sqlite(tmp_path / 'fifo')


async def test_async_clients_use_a_sqlite_storage_off_the_loop(server, tmp_path):
    shared = Cache(caches.sqlite(tmp_path / 'http.db'))
    key = name()
    api = clients.AsyncResource(server.url, cache=shared)
    values = [await api.get(f'cached/{key}', params={'cc': 'max-age=0', 'etag': 'v1'}) for _ in range(2)]
    assert [value['hits'] for value in values] == [1, 1]
    await api.aclose()


async def test_redis_storage_is_shared_by_caches_with_one_secret(twin, server, redis_server):
    key = name()
    query = {'cc': 'max-age=60'}
    one = twin.Resource(server.url, cache=Cache(caches.redis(redis_server.url), secret='fleet'))
    two = twin.Resource(server.url, cache=Cache(caches.redis(redis.Redis.from_url(redis_server.url)), secret='fleet'))
    other = twin.Resource(server.url, cache=Cache(caches.redis(redis_server.url)))
    values = [await twin(client.get(f'cached/{key}', params=query)) for client in (one, two, other)]
    assert [value['hits'] for value in values] == [1, 1, 2]
    for client in (one, two, other):
        await twin.close(client)


async def test_a_redis_that_goes_away_is_a_miss(twin, server, own_redis):
    api = twin.Resource(server.url, cache=Cache(caches.redis(own_redis.url)))
    key = name()
    await twin(api.get(f'cached/{key}', params={'cc': 'max-age=60'}))
    own_redis.stop()
    assert (await twin(api.get(f'cached/{key}', params={'cc': 'max-age=60'})))['hits'] == 2
    await twin.close(api)


def test_requests_whose_auth_cannot_be_named_are_not_cached(server):
    class Unhashable(requests.auth.AuthBase):
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, request):
            return request

    api = clients.Resource(server.url, cache=True, coalesce=True, auth=Unhashable())
    key = name()
    for _ in range(2):
        api.get(f'cached/{key}', params={'cc': 'max-age=60'})
    assert hits(server, key) == 2


async def test_async_requests_whose_auth_cannot_be_named_are_not_cached(server):
    class Unhashable(httpx.Auth):
        __hash__ = None  # type: ignore[assignment]

    api = clients.AsyncResource(server.url, cache=True, auth=Unhashable())
    key = name()
    for _ in range(2):
        await api.get(f'cached/{key}', params={'cc': 'max-age=60'})
    assert hits(server, key) == 2
    await api.aclose()


async def test_the_client_default_auth_named_explicitly_is_the_clients(server):
    shared = Cache()
    key = name()
    query = {'cc': 'private, max-age=60'}
    owner = clients.AsyncResource(server.url, cache=shared, auth=clients.Bearer('sekrit-1'))
    await owner.get(f'cached/{key}', params=query, auth=httpx.USE_CLIENT_DEFAULT)
    stranger = clients.AsyncResource(server.url, cache=shared, auth=clients.Bearer('sekrit-2'))
    assert (await stranger.get(f'cached/{key}', params=query, auth=httpx.USE_CLIENT_DEFAULT))['hits'] == 2
    assert (await owner.get(f'cached/{key}', params=query))['hits'] == 1
    await owner.aclose()
    await stranger.aclose()


async def test_a_streamed_miss_is_passed_through_unstored(twin, server):
    api = twin.Resource(server.url, cache=True)
    key = name()
    for _ in range(2):
        await twin.list(api.iter(f'cached/{key}', params={'cc': 'max-age=60'}))
    assert hits(server, key) == 2
    assert api.cache.stats.stored == 0
    await twin.close(api)


# Coalescing.

def test_identical_concurrent_gets_from_threads_send_one_request(server):
    api = clients.Resource(server.url, coalesce=True)
    key = name()
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda _: api.client.get(f'cached/{key}', params={'delay': '0.3'}), range(20)))
    assert hits(server, key) == 1
    assert len({id(response) for response in responses}) == 20
    assert len({id(response.headers) for response in responses}) == 20
    assert {response.json()['hits'] for response in responses} == {1}
    assert api._flights.sent == 1
    assert api._flights.shared == 19


async def test_identical_concurrent_gets_from_tasks_send_one_request(server):
    api = clients.AsyncResource(server.url, coalesce=True)
    key = name()
    responses = await asyncio.gather(*(api.client.get(f'cached/{key}', params={'delay': '0.3'})
                                       for _ in range(20)))
    assert hits(server, key) == 1
    assert len({id(response) for response in responses}) == 20
    assert {response.json()['hits'] for response in responses} == {1}
    await api.aclose()


async def test_different_credentials_or_headers_are_not_coalesced(twin, server):
    api = twin.Client(server.url, coalesce=True)
    key = name()
    variants = [{}, {'Authorization': 'Bearer a'}, {'Authorization': 'Bearer b'}, {'Accept': 'text/plain'}]

    async def one(headers):
        return await twin(api.get(f'cached/{key}', params={'delay': '0.3'}, headers=headers))

    if twin.name == 'sync':
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda headers: api.get(f'cached/{key}', params={'delay': '0.3'}, headers=headers),
                          variants))
    else:
        await asyncio.gather(*(one(headers) for headers in variants))
    assert hits(server, key) == 4
    await twin.close(api)


def test_a_failed_flight_fails_every_caller(server):
    api = clients.Client(server.url, coalesce=True, retry=None, timeout=(1, 0.2))
    key = name()
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        futures = [pool.submit(api.get, f'cached/{key}', params={'delay': '0.5'}) for _ in range(5)]
        errors = [future.exception() for future in futures]
    assert all(isinstance(error, requests.RequestException) for error in errors), errors
    assert hits(server, key) == 1


async def test_a_cancelled_caller_leaves_the_flight_to_the_others(server):
    api = clients.AsyncClient(server.url, coalesce=True)
    key = name()
    first = asyncio.ensure_future(api.get(f'cached/{key}', params={'delay': '0.3'}))
    second = asyncio.ensure_future(api.get(f'cached/{key}', params={'delay': '0.3'}))
    await asyncio.sleep(0.1)
    first.cancel()
    assert (await second).json()['hits'] == 1
    with pytest.raises(asyncio.CancelledError):
        await first
    alone = asyncio.ensure_future(api.get(f'cached/{name()}', params={'delay': '0.3'}))
    await asyncio.sleep(0.1)
    alone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await alone
    assert not api._flights._tasks
    await api.aclose()


async def test_coalescing_and_the_cache_together(twin, server):
    api = twin.Resource(server.url, cache=True, coalesce=True)
    key = name()
    for _ in range(2):
        assert (await twin(api.get(f'cached/{key}', params={'cc': 'max-age=60'})))['hits'] == 1
    assert (await twin(api.get(f'cached/{key}', params={'cc': 'max-age=60'}, coalesce=False)))['hits'] == 1
    await twin.close(api)


def test_flights_name_requests_without_clear_secrets():
    flights = clients.coalesce.Flights()
    assert repr(flights) == 'Flights(sent=0, shared=0)'
    identity = caches.identify(flights.digest, 'get', 'http://a.test/', [('Authorization', 'Bearer x')], None)
    assert identity is not None
    assert 'Bearer x' not in repr(identity)


def test_stored_bodies_read_as_the_network_would():
    entry = hishel.Entry(uuid.uuid4(), hishel.Request('GET', 'k'),
                         hishel.Response(299, hishel.Headers({'x': ['1', '2']}), stream=iter([b'body'])))
    prepared = requests.Request('GET', 'http://a.test/').prepare()
    response = clients.caching._stored(entry, prepared, streamed=True)
    assert response.reason == ''
    assert response.headers['x'] == '1, 2'
    assert b''.join(response.iter_content(2)) == b'body'
