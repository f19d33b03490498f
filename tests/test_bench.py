"""The benchmarks run (quick mode: a handful of requests); their figures are not checked here."""

import os

import pytest
import requests

import clients
from bench import streaming


def test_streaming_bench_runs(capsys):
    figures = streaming.main(['--quick'])
    rates = {'requests iter_content(1 MiB)', 'requests raw.read1(1 MiB)', 'Resource.download', 'Resource.iter',
             'Resource.iter(chunk_size=1 MiB)', 'httpx aiter_bytes()', 'AsyncResource.download', 'AsyncResource.iter',
             'AsyncResource.iter(chunk_size=1 MiB)'}
    assert set(figures) == rates | {f'RSS {name}' for name in streaming.RSS_CASES}
    assert all(figures[name] > 0 for name in rates)
    assert all(figures[f'RSS {name}'] >= 0 for name in streaming.RSS_CASES)
    out = capsys.readouterr().out
    assert 'ratio to the raw library' in out
    assert 'Resource.download' in out
    assert 'highest while streaming' in out
    assert 'AsyncResource.download(path)' in out


def test_proxy_bench_runs(capsys):
    from bench import proxy

    results = proxy.main(['--quick'])
    assert set(results) == {'Proxy', 'AsyncProxy'}
    for figures in results.values():
        assert figures['requests'] > 0
        assert figures['success'] == 1  # every GET succeeded though a host went down
        assert figures['ratio'] > 0
    out = capsys.readouterr().out
    assert 'succeeded' in out
    assert 'x raw' in out


def test_forward_bench_runs(capsys):
    from bench import forward

    figures = forward.main(['--quick'])
    paths = (forward.DIRECT, forward.RAW_ASGI, forward.ASGI, forward.RAW_WSGI, forward.WSGI)
    assert all(figures[f'{path} requests/s'] > 0 for path in paths)
    assert all(figures[f'{path} {kind} MiB/s'] > 0 for path in paths for kind in ('download', 'upload'))
    assert all(figures[f'{path} CPU us/request'] >= 0 for path in paths)
    out = capsys.readouterr().out
    assert 'ratio to the upstream directly' in out
    assert "serving process's CPU" in out
    assert 'growth of the serving process' in out
    assert 'x raw' in out


def test_forward_cpu_bench_runs(capsys):
    from bench import forward_cpu

    figures = forward_cpu.main(['--requests', '10', '--rounds', '1'])
    assert set(figures) == {'raw-asgi', 'asgi', 'raw-wsgi', 'wsgi'}
    assert all(value > 0 for value in figures.values())
    assert 'forwarder CPU µs per request' in capsys.readouterr().out


def test_startup_bench_runs(capsys):
    from bench import startup

    figures = startup.main(['--quick', '--profile'])
    assert set(figures) == {'python (nothing imported)', 'import requests', 'import clients', 'clients --help',
                            'clients URL'}
    assert figures['import requests']['time ratio'] == figures['import requests']['RSS ratio'] == 1
    assert all(figure['ms'] > 0 and figure['MiB'] > 0 for figure in figures.values())
    out = capsys.readouterr().out
    assert 'clients URL' in out
    assert 'slowest imports of `import clients`' in out


def old_httpx():
    """The raw httpx package's case, measured beside httpx2 (the 12x target is against it)."""
    from bench import run

    return {run.OLD_HTTPX} if clients.library.NAME == 'httpx2' else set()


def test_suite_runs_in_quick_mode(capfd, monkeypatch):
    from bench import run

    monkeypatch.setattr(clients.transports, 'DEFAULT', 'auto')  # as outside the tests
    figures = run.main(['--quick'])
    assert set(figures) == {
        'requests.Session', 'Resource.get', 'Resource.items[str(i)]', 'requests.get per call', 'Client.get',
        'httpx.AsyncClient', 'aiohttp.ClientSession', 'AsyncResource.get [aiohttp]',
        'AsyncResource.items[] [aiohttp]', 'AsyncResource.get [httpx]', *old_httpx(),
    }
    assert all(figure['rate'] > 0 for figure in figures.values())
    # connections counted from the server's log: pooled clients open one, naive calls one each
    sequential = ['requests.Session', 'Resource.get', 'Resource.items[str(i)]', 'Client.get']
    assert [figures[name]['connections'] for name in sequential] == [1, 1, 1, 1]
    assert figures['requests.get per call']['connections'] == 12
    assert all(1 <= figure['connections'] <= 4 for name, figure in figures.items() if 'Async' in name)
    assert figures['AsyncResource.get [aiohttp]']['ratio to aiohttp.ClientSession'] > 0
    for name in old_httpx():
        assert figures['AsyncResource.get [aiohttp]'][f'ratio to {name}'] > 0
    out = capfd.readouterr().out
    assert 'python on http://127.0.0.1:' in out
    assert 'AsyncResource.items[] [aiohttp]' in out
    assert f"over {clients.library.NAME} {clients.httpx.__version__} (" in out
    assert "default transport is 'aiohttp', and [httpx] is transport='httpx'" in out
    assert 'ratio to the raw library' in out  # from bench.streaming, run in its own process
    assert 'ratio to the upstream directly' in out  # from bench.forward, run in its own process
    assert "with the ratio to python -c 'import requests'" in out  # from bench.startup


def test_only_keeps_the_cases_named_and_their_baselines(capfd):
    from bench import run

    figures = run.main(['--quick', '--only', 'items[', '--skip', 'streaming', '--skip', 'forwarding'])
    assert set(figures) == {'requests.Session', 'Resource.items[str(i)]', 'httpx.AsyncClient',
                            'aiohttp.ClientSession', 'AsyncResource.items[] [aiohttp]', *old_httpx()}
    out = capfd.readouterr().out
    assert 'streaming (bench.streaming)' not in out
    assert 'startup (bench.startup)' in out
    assert 'forwarding (bench.forward)' not in out
    with pytest.raises(SystemExit, match=r'--only nothing: no case matches; the cases: requests.Session, '):
        run.main(['--quick', '--only', 'nothing'])


def test_the_environment_is_padded_and_counted(capfd, monkeypatch):
    from bench import run

    size = len(os.environ) + 5
    for index in range(size):  # (monkeypatch removes the fillers again)
        monkeypatch.delenv(f'BENCH_FILLER_{index}', raising=False)
    run.main(['--quick', '--only', 'Resource.get', '--skip', 'streaming', '--skip', 'forwarding',
              '--environment', str(size)])
    assert len(os.environ) == size
    assert f'; {size} environment variables' in capfd.readouterr().out
    run.pad(os.environ, size - 1)  # (never removes any)
    assert len(os.environ) == size


def test_without_nginx_the_python_server_is_used(monkeypatch, capsys):
    from bench import run

    monkeypatch.setattr(run, 'find_nginx', lambda: None)
    with pytest.raises(SystemExit, match=r'nginx is not installed: apt-get install -y nginx-light'), run.start('nginx'):
        pass
    with run.start('auto') as server:
        assert server.name == 'python'
        assert requests.get(server.url + 'x/1').json()['id'] == 1
        assert [len(serials) for serials in server.connections().values()] == [1]
    assert 'using the Python server in bench/server.py' in capsys.readouterr().out


def test_cache_bench_runs(capsys):
    from bench import cache

    figures = cache.main(['--quick'])
    assert figures['20 tasks, coalesce=True']['requests'] == 1
    assert figures['20 tasks, coalesce=False']['requests'] == 20
    assert figures['fresh (max-age=60 + ETag)']['requests'] == 1
    assert figures['revalidated (max-age=0 + ETag)']['hit_rate'] == 0.9
    assert 'saved' in capsys.readouterr().out


def test_fleet_bench_runs(capsys):
    from bench import fleet

    figures = fleet.main(['--quick', '--outage'])
    assert set(figures) == {'shared', 'alone', 'outage', 'after', 'succeeded'}
    assert figures['succeeded'] == 1
    out = capsys.readouterr().out
    assert 'shared through Redis' in out
    assert 'x the limit' in out
