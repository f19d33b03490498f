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
