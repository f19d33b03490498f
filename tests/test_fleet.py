"""Four real processes share one quota through a real redis-server, in both shells and both async transports.

The workers are `bench.fleet`'s: each sends its GETs through `RateLimit(store=..., key=...)`
and reports when each response came back; the test checks the fleet's total against the
token bucket (`Run.excess`: the most requests any stretch of time held beyond it).
"""

import time

import pytest

from bench.fleet import collect, fleet, go, run

SHELLS = ['sync', 'httpx', 'aiohttp']


@pytest.mark.timeout(120)
@pytest.mark.parametrize('shell', SHELLS)
def test_four_processes_stay_within_one_shared_limit(shell, server, redis_server, request):
    rate, burst = 20.0, 5
    options = {'url': server.url + 'echo', 'redis': redis_server.url, 'key': request.node.name, 'rate': rate,
               'burst': burst, 'requests': 20, 'shell': shell}
    result = run(4, options)
    assert len(result.records) == 80
    assert {status for _, status in result.records} == {200}
    assert result.excess(rate, burst) == 0  # no stretch of time saw more than the one bucket allows
    assert 0.8 * rate < result.rate(burst) <= 1.05 * rate  # and the fleet used its quota


@pytest.mark.timeout(120)
@pytest.mark.parametrize('shell', SHELLS)
def test_killing_redis_mid_run_loses_no_request(shell, server, own_redis, request):
    rate, burst, processes = 10.0, 5, 4
    options = {'url': server.url + 'echo', 'redis': own_redis.url, 'key': 'fleet', 'rate': rate, 'burst': burst,
               'requests': 30, 'shell': shell, 'retry': 0.3, 'concurrency': 2}
    with fleet(processes, options) as started:
        began = go(started)
        time.sleep(1.0)
        down = time.time()
        own_redis.stop()
        time.sleep(1.0)
        own_redis.start()
        back = time.time()
        result = collect(started, began)
    assert [len(records) for records in result.workers] == [30] * processes  # every process went on to the end
    assert {status for _, status in result.records} == {200}  # and no request was lost
    before = result.excess(rate, burst, until=down)
    # While Redis was away each process kept its own bucket: a limit, never none. Beside the
    # local buckets, the stretch holds what was legitimately granted by the shared one: the
    # slots its threads or tasks held ahead when Redis went, paced at `rate`, and
    # the fresh shared bucket a process may reach again before `back` is stamped.
    held = options['concurrency'] * processes
    alone = result.excess(rate * processes + rate, burst * processes + held + burst, since=down, until=back)
    after = result.excess(rate, burst, since=back + 0.6)  # back on the shared bucket (a fresh one)
    assert (before, alone, after) == (0, 0, 0)
    assert result.rate(0, down + 0.3, back) > 1.5 * rate  # the processes did fall back, and kept going
    assert len([when for when, _ in result.records if when > back + 0.6]) >= 20
