"""The benchmarks run (quick mode: a handful of requests); their figures are not checked here."""

from bench import streaming


def test_streaming_bench_runs(capsys):
    figures = streaming.main(['--quick'])
    rates = {'requests iter_content(1 MiB)', 'Resource.download', 'Resource.iter',
             'httpx aiter_bytes()', 'AsyncResource.download', 'AsyncResource.iter'}
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
    out = capsys.readouterr().out
    assert 'ratio to the upstream directly' in out
    assert 'growth of the serving process' in out
    assert 'x raw' in out
