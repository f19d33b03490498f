"""Downloads: the flow with canned replies, and `download` to paths against a real server (both shells)."""

import errno
import fcntl
import io
import json
import os
import pathlib
import re
import signal
import stat
import subprocess
import sys
import time

import pytest

import clients
from clients import downloads, streams
from tests.test_integration import pattern


def test_validator():
    assert downloads.validator({'ETag': '"a"', 'Last-Modified': 'Tue, 1 Jul 2025 00:00:00 GMT'}) == '"a"'
    assert downloads.validator({'ETag': 'W/"a"', 'Last-Modified': 'Tue, 1 Jul 2025 00:00:00 GMT'}) == (
        'Tue, 1 Jul 2025 00:00:00 GMT')
    assert downloads.validator({'ETag': 'W/"a"'}) is None
    assert downloads.validator({}) is None


def test_content_range():
    assert downloads.content_range('bytes 0-9/10') == (0, 9, 10)
    assert downloads.content_range(' Bytes 5-9/* ') == (5, 9, None)
    assert downloads.content_range('bytes */10') == (None, None, 10)
    for bad in (None, '', 'bytes 5-4/10', 'bytes 0-10/10', 'items 0-1/2', 'bytes 0-1'):
        assert downloads.content_range(bad) is None


def opened(status=200, **headers):
    return streams.Opened(status, {name.replace('_', '-'): value for name, value in headers.items()}, 'http://h/f')


def run(flow, replies, target):
    """Drive a download flow with canned replies; return the requests' headers."""
    sent, reply, replies = [], None, list(replies)
    while True:
        try:
            step = flow.send(reply)
        except StopIteration:
            return sent
        assert isinstance(step, streams.Open | streams.Read)
        if isinstance(step, streams.Open):
            sent.append(step.kwargs['headers'])
        else:
            for chunk in step.items:
                target.file.write(chunk)
        reply = replies.pop(0)


def keep(path, body, validator=None, total=None):
    """Leave what a failed `download(path, resume=True)` leaves: the partial body and its record."""
    (path.parent / f'{path.name}.part').write_bytes(body)
    record = {'validator': validator, 'total': total}
    (path.parent / f'{path.name}.part.validator').write_text(json.dumps(record))


@pytest.fixture
def partial(tmp_path):
    path = tmp_path / 'f.bin'
    keep(path, b'01234', total=10)
    return path


def test_resume_continues_with_range(partial):
    target = downloads.target(partial, resume=True)
    seen = []
    flow = downloads.download('f', {'headers': {'X': '1'}}, target, lambda *args: seen.append(args), resume=True)
    sent = run(flow, [opened(206, Content_Range='bytes 5-7/10', Content_Length='3'), b'567', b'',
                      opened(206, Content_Range='bytes 8-9/10'), b'89', b''], target)
    assert sent == [{'X': '1', 'Accept-Encoding': 'identity', 'Range': 'bytes=5-'},
                    {'X': '1', 'Accept-Encoding': 'identity', 'Range': 'bytes=8-'}]
    assert partial.read_bytes() == b'0123456789'
    assert not os.path.exists(f'{partial}.part')
    assert seen == [(5, 10), (8, 10), (10, 10)]


@pytest.mark.parametrize('first', [
    opened(206, Content_Range='bytes 0-9/10'),
    opened(206, Content_Range='bytes 5-9/10', Content_Encoding='gzip'),
    opened(416, Content_Range='bytes */7'),
    opened(416),
    opened(206),
])
def test_resume_starts_over_on_a_wrong_answer(partial, first):
    target = downloads.target(partial, resume=True)
    sent = run(downloads.download('f', {}, target, resume=True), [first, opened(200), b'abc', b''], target)
    assert [headers.get('Range') for headers in sent] == ['bytes=5-', None]
    assert partial.read_bytes() == b'abc'


def test_resume_of_a_complete_partial_and_a_200(partial):
    keep(partial, b'01234', total=5)
    target = downloads.target(partial, resume=True)
    complete = opened(416, Content_Range='bytes */5')
    assert len(run(downloads.download('f', {}, target, resume=True), [complete], target)) == 1
    assert partial.read_bytes() == b'01234'
    keep(partial, b'stale', '"old"', 5)
    target = downloads.target(partial, resume=True)
    run(downloads.download('f', {}, target, resume=True), [opened(200, Content_Length='2'), b'ok', b''], target)
    assert partial.read_bytes() == b'ok'


# A 206 at the right offset that is not a part of the body kept: another validator, none when
# one was sent (a server that ignored If-Range says nothing), another total, an unknown one.
SPLICES = [
    ('"a"', 10, {'ETag': '"b"', 'Content-Range': 'bytes 5-9/10'}),
    ('"a"', 10, {'Content-Range': 'bytes 5-9/10'}),
    ('"a"', 10, {'ETag': 'W/"a"', 'Content-Range': 'bytes 5-9/10'}),
    ('"a"', 10, {'ETag': '"a"', 'Content-Range': 'bytes 5-9/12'}),
    ('"a"', 10, {'ETag': '"a"', 'Content-Range': 'bytes 5-9/*'}),
    ('Tue, 1 Jul 2025 00:00:00 GMT', 10, {'Last-Modified': 'Wed, 2 Jul 2025 00:00:00 GMT',
                                          'Content-Range': 'bytes 5-9/10'}),
    (None, 10, {'ETag': '"a"', 'Content-Range': 'bytes 5-9/10'}),
    (None, 10, {'Content-Range': 'bytes 5-9/11'}),
    (None, 10, {'Content-Range': 'bytes 5-9/*'}),
]


@pytest.mark.parametrize(('kept', 'total', 'answer'), SPLICES)
def test_resume_never_splices_another_body(partial, kept, total, answer):
    keep(partial, b'01234', kept, total)
    target = downloads.target(partial, resume=True)
    replies = [streams.Opened(206, answer, 'http://h/f'), opened(200, Content_Length='3', ETag='"c"'), b'abc', b'']
    sent = run(downloads.download('f', {}, target, resume=True), replies, target)
    assert [(headers.get('Range'), headers.get('If-Range')) for headers in sent] == [('bytes=5-', kept), (None, None)]
    assert partial.read_bytes() == b'abc'


@pytest.mark.parametrize(('kept', 'total', 'answer'), [
    ('"a"', 10, {'ETag': '"a"', 'Content-Range': 'bytes 5-9/10'}),
    ('"a"', None, {'ETag': '"a"', 'Content-Range': 'bytes 5-9/10'}),
    ('Tue, 1 Jul 2025 00:00:00 GMT', 10, {'Last-Modified': 'Tue, 1 Jul 2025 00:00:00 GMT', 'ETag': 'W/"x"',
                                          'Content-Range': 'bytes 5-9/10'}),
    (None, 10, {'Content-Range': 'bytes 5-9/10'}),  # without a validator, the total is all there is
])
def test_resume_continues_a_part_of_the_same_body(partial, kept, total, answer):
    keep(partial, b'01234', kept, total)
    target = downloads.target(partial, resume=True)
    run(downloads.download('f', {}, target, resume=True), [streams.Opened(206, answer, 'http://h/f'), b'56789', b''],
        target)
    assert partial.read_bytes() == b'0123456789'


@pytest.mark.parametrize('record', [
    None, '', 'garbage', '"a"', '[]', '{}', json.dumps({'validator': None, 'total': None}),
    json.dumps({'validator': '"a"\r\nX-Injected: 1', 'total': 10}), json.dumps({'validator': 3, 'total': 10}),
    json.dumps({'validator': ' "a"', 'total': 10}), json.dumps({'validator': '"é"', 'total': 10}),
    json.dumps({'total': -1}), json.dumps({'total': True}), json.dumps({'total': 1.5}),
    json.dumps({'validator': '"' + 'a' * downloads.RECORD_SIZE + '"'}),
])
def test_a_partial_body_without_a_usable_record_starts_over(partial, record):
    sidecar = partial.parent / 'f.bin.part.validator'
    sidecar.unlink()
    if record is not None:
        sidecar.write_text(record)
    target = downloads.target(partial, resume=True)
    assert (target.offset, target.validator, target.total) == (0, None, None)
    replies = [opened(200, Content_Length='3'), b'abc', b'']
    sent = run(downloads.download('f', {}, target, resume=True), replies, target)
    assert [headers.get('Range') for headers in sent] == [None]
    assert partial.read_bytes() == b'abc'


def test_a_body_that_changes_between_parts_is_never_committed(tmp_path):
    first = opened(206, Content_Range='bytes 0-1/4', ETag='"a"')
    changed = opened(206, Content_Range='bytes 2-3/4', ETag='"b"')
    target = downloads.target(io.BytesIO())
    with pytest.raises(clients.IncompleteBody, match='a file object cannot start over'):
        run(downloads.download('f', {}, target), [first, b'ab', b'', changed], target)
    path = downloads.target(tmp_path / 'f')
    replies = [first, b'ab', b'', changed, opened(200, Content_Length='4', ETag='"b"'), b'ABCD', b'']
    sent = run(downloads.download('f', {}, path), replies, path)
    assert [(headers.get('Range'), headers.get('If-Range')) for headers in sent] == [
        (None, None), ('bytes=2-', '"a"'), (None, None)]
    assert (tmp_path / 'f').read_bytes() == b'ABCD'
    assert leftovers(tmp_path) == ['f']


def test_starting_over_twice_fails(partial):
    target = downloads.target(partial, resume=True)
    wrong = opened(206, Content_Range='bytes 3-4/5')
    with pytest.raises(clients.IncompleteBody, match=r"answered 206 with Content-Range 'bytes 3-4/5'"):
        run(downloads.download('f', {}, target, resume=True), [wrong, wrong], target)
    target.abort()
    assert (partial.parent / 'f.bin.part').read_bytes() == b''


def test_length_is_checked(tmp_path):
    target = downloads.target(tmp_path / 'x')
    with pytest.raises(clients.IncompleteBody, match=r'GET http://h/f: the body has 2 bytes, expected 3'):
        run(downloads.download('f', {}, target), [opened(Content_Length='3'), b'ab', b''], target)
    target.abort()
    gzipped = downloads.target(io.BytesIO())
    encoded = opened(Content_Length='3', Content_Encoding='gzip')
    run(downloads.download('f', {}, gzipped), [encoded, b'abcd', b''], gzipped)
    assert gzipped.file.getvalue() == b'abcd'
    assert os.listdir(tmp_path) == []


def test_a_file_object_cannot_start_over():
    target = downloads.target(io.BytesIO())
    replies = [opened(206, Content_Range='bytes 0-1/4'), b'ab', b'', opened(200), b'abcd', b'']
    with pytest.raises(clients.IncompleteBody, match='a file object cannot start over'):
        run(downloads.download('f', {}, target), replies, target)


def test_bad_targets(tmp_path):
    with pytest.raises(TypeError, match='download needs a path or a file object with write'):
        downloads.target(3)
    with pytest.raises(ValueError, match='resume=True needs a path'):
        downloads.target(io.BytesIO(), resume=True)
    with pytest.raises(FileNotFoundError):
        downloads.target(tmp_path / 'missing' / 'f')


SIZE = 3_000_000


def leftovers(directory):
    return sorted(os.listdir(directory))


async def test_download_to_a_path(twin, server, tmp_path):
    api = twin.Resource(server.url)
    path = tmp_path / 'f.bin'
    seen = []
    assert await twin(api.download(path, f'file/{SIZE}', progress=lambda *args: seen.append(args))) == path
    assert path.read_bytes() == pattern(SIZE)
    assert leftovers(tmp_path) == ['f.bin']
    assert seen[0] == (0, SIZE)
    assert seen[-1] == (SIZE, SIZE)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert await twin(api.download(str(path), 'file/10')) == str(path)
    assert path.read_bytes() == pattern(10)
    await twin.close(api)


async def test_failed_download_leaves_no_file(twin, server, tmp_path):
    api = twin.Resource(server.url)
    path = tmp_path / 'f.bin'
    with pytest.raises(clients.IncompleteBody):
        await twin(api.download(path, f'file/{SIZE}', params={'cut': 2_500_000}))
    assert leftovers(tmp_path) == []
    path.write_bytes(b'old')
    with pytest.raises(clients.HTTPError):
        await twin(api.download(path, 'status/500'))
    assert leftovers(tmp_path) == ['f.bin']
    assert path.read_bytes() == b'old'
    await twin.close(api)


def record(path):
    return json.loads((path.parent / f'{path.name}.part.validator').read_text())


async def test_resume_against_a_real_server(twin, fresh, tmp_path):
    api = twin.Resource(fresh.url)
    path = tmp_path / 'f.bin'
    with pytest.raises(clients.IncompleteBody):
        await twin(api.download(path, f'file/{SIZE}', resume=True, params={'cut': 2_500_000}))
    assert (tmp_path / 'f.bin.part').read_bytes() == pattern(2_500_000)  # every byte that arrived
    assert leftovers(tmp_path) == ['f.bin.part', 'f.bin.part.validator']
    assert record(path) == {'validator': '"v1"', 'total': SIZE}
    assert await twin(api.download(path, f'file/{SIZE}', resume=True, params={'most': 100_000})) == path
    assert path.read_bytes() == pattern(SIZE)
    assert leftovers(tmp_path) == ['f.bin']
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # as open() would have made it
    ranges = [(headers.get('Range'), headers.get('If-Range')) for _, _, headers in fresh.requests]
    assert ranges[:2] == [(None, None), ('bytes=2500000-', '"v1"')]
    assert len(ranges) == 1 + 5
    await twin.close(api)


async def test_a_small_download_resumes_from_its_last_byte(twin, fresh, tmp_path):
    api = twin.Resource(fresh.url)
    path = tmp_path / 'f.bin'
    with pytest.raises(clients.IncompleteBody):
        await twin(api.download(path, 'file/5000', resume=True, params={'cut': 1234}))
    assert (tmp_path / 'f.bin.part').read_bytes() == pattern(1234)
    assert await twin(api.download(path, 'file/5000', resume=True)) == path
    assert path.read_bytes() == pattern(5000)
    assert [headers.get('Range') for _, _, headers in fresh.requests] == [None, 'bytes=1234-']
    await twin.close(api)


async def test_progress_reports_each_piece_as_it_arrives(twin, server, tmp_path):
    class Cancelled(Exception):
        pass

    seen = []

    def progress(done, total):
        seen.append((done, total))
        if done >= 2000:
            raise Cancelled

    api = twin.Resource(server.url)
    with pytest.raises(Cancelled):
        await twin(api.download(tmp_path / 'f.bin', 'file/4000', resume=True, progress=progress,
                                params={'step': 1000}))
    assert seen == [(0, 4000), (1000, 4000), (2000, 4000)]
    assert (tmp_path / 'f.bin.part').read_bytes() == pattern(2000)
    await twin.close(api)


async def test_resume_of_a_changed_body_starts_over(twin, fresh, tmp_path):
    api = twin.Resource(fresh.url)
    path = tmp_path / 'f.bin'
    keep(path, b'x' * 1000, '"v1"', 5000)
    assert await twin(api.download(path, 'file/5000', resume=True, params={'etag': 'v2'})) == path
    assert path.read_bytes() == pattern(5000)
    assert [headers.get('If-Range') for _, _, headers in fresh.requests] == ['"v1"']
    assert leftovers(tmp_path) == ['f.bin']
    await twin.close(api)


@pytest.mark.parametrize('changed', [
    {'etag': 'v2'},  # a new version, whose 206 the server sends anyway
    {'etag': 'none'},  # a 206 that names no version
    {'total': '9000'},  # the same ETag, but a part of a longer body
])
async def test_resume_against_a_server_that_ignores_if_range(twin, fresh, tmp_path, changed):
    api = twin.Resource(fresh.url)
    path = tmp_path / 'f.bin'
    with pytest.raises(clients.IncompleteBody):
        await twin(api.download(path, 'file/5000', resume=True, params={'cut': 1000}))
    params = {'ignore': '1', 'fill': 'B', **changed}
    assert await twin(api.download(path, 'file/5000', resume=True, params=params)) == path
    assert path.read_bytes() == b'B' * 5000  # the new body whole, never A's first 1000 bytes and B's rest
    ranges = [(headers.get('Range'), headers.get('If-Range')) for _, _, headers in fresh.requests]
    assert ranges == [(None, None), ('bytes=1000-', '"v1"'), (None, None)]
    await twin.close(api)


async def test_resume_without_a_validator_needs_the_same_total(twin, fresh, tmp_path):
    api = twin.Resource(fresh.url)
    path = tmp_path / 'f.bin'
    for query in ({'etag': 'none'}, {'etag': 'none', 'total': '9000'}):
        with pytest.raises(clients.IncompleteBody):
            await twin(api.download(path, 'file/5000', resume=True, params={'cut': 1000, 'etag': 'none'}))
        assert record(path) == {'validator': None, 'total': 5000}
        assert await twin(api.download(path, 'file/5000', resume=True, params=query)) == path
        assert path.read_bytes() == pattern(5000)
    ranges = [(headers.get('Range'), headers.get('If-Range')) for _, _, headers in fresh.requests]
    assert ranges == [(None, None), ('bytes=1000-', None), (None, None), ('bytes=1000-', None), (None, None)]
    await twin.close(api)


@pytest.mark.parametrize('answer', ['norange', 'badrange'])
async def test_resume_starts_over_against_a_real_server(twin, fresh, tmp_path, answer):
    api = twin.Resource(fresh.url)
    path = tmp_path / 'f.bin'
    keep(path, b'x' * 1000, '"v1"', 5000)
    assert await twin(api.download(path, 'file/5000', resume=True, params={answer: '1'})) == path
    assert path.read_bytes() == pattern(5000)
    ranges = [headers.get('Range') for _, _, headers in fresh.requests]
    assert ranges == (['bytes=1000-'] if answer == 'norange' else ['bytes=1000-', None])
    keep(path, pattern(5000), '"v1"', 5000)
    assert await twin(api.download(path, 'file/5000', resume=True)) == path
    assert fresh.requests[-1][2]['Range'] == 'bytes=5000-'
    assert leftovers(tmp_path) == ['f.bin']
    await twin.close(api)


def test_a_failed_connection_raises(tmp_path):
    target = downloads.target(tmp_path / 'f')
    with pytest.raises(OSError, match='refused'):
        run(downloads.download('f', {}, target), [streams.Dropped(OSError('refused'))], target)
    target.abort()
    assert leftovers(tmp_path) == []


async def test_progress_can_cancel(twin, server, tmp_path):
    class Cancelled(Exception):
        pass

    def progress(done, total):
        if done > 1_000_000:
            raise Cancelled

    api = twin.Resource(server.url)
    with pytest.raises(Cancelled):
        await twin(api.download(tmp_path / 'f.bin', f'file/{SIZE}', progress=progress))
    assert leftovers(tmp_path) == []
    with pytest.raises(Cancelled):
        await twin(api.download(tmp_path / 'f.bin', f'file/{SIZE}', resume=True, progress=progress))
    assert leftovers(tmp_path) == ['f.bin.part', 'f.bin.part.validator']
    assert await twin(api.download(tmp_path / 'f.bin', f'file/{SIZE}', resume=True)) == tmp_path / 'f.bin'
    assert (tmp_path / 'f.bin').read_bytes() == pattern(SIZE)
    await twin.close(api)


# --- the files a download writes: never through a link, and none left behind by a dead process ---

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOLD = '''
import os, signal, sys
from clients import downloads
file, name = downloads.temporary(sys.argv[1], sys.argv[2])
file.write(b'partial')
file.flush()
print(name, flush=True)
if sys.argv[3] == 'die':
    os.kill(os.getpid(), signal.SIGKILL)
sys.stdin.read()
'''


def left_by(directory, prefix, dies=True):
    """Start a process that creates a temporary file in `directory` and is killed, or waits; return both."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    process = subprocess.Popen([sys.executable, '-c', HOLD, str(directory), prefix, 'die' if dies else 'wait'],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    if dies:
        name = process.communicate(timeout=10)[0].strip()
        assert process.returncode == -signal.SIGKILL
    else:
        name = process.stdout.readline().strip()
    return pathlib.Path(name), process


def age(*paths):
    old = time.time() - downloads.STALE - 5
    for path in paths:
        os.utime(path, (old, old), follow_symlinks=False)


async def test_temporary_files_of_dead_processes_are_removed(twin, server, tmp_path):
    api = twin.Resource(server.url)
    path = tmp_path / 'f.bin'
    killed, _ = left_by(tmp_path, '.f.bin.')
    young, _ = left_by(tmp_path, '.f.bin.')
    living, holder = left_by(tmp_path, '.f.bin.', dies=False)
    record, _ = left_by(tmp_path, '.f.bin.part.validator.')
    other, _ = left_by(tmp_path, '.g.bin.')
    (tmp_path / 'victim').write_bytes(b'keep')
    alike = [tmp_path / name for name in ('.f.bin.backup.part', f'.f.bin.{"g" * 32}.part', f'.f.bin.{"0" * 32}.partx')]
    for name in alike:
        name.write_bytes(b'not ours')
    link = tmp_path / f'.f.bin.{"1" * 32}.part'
    link.symlink_to(tmp_path / 'victim')
    age(killed, living, record, other, link, *alike)
    assert killed.read_bytes() == b'partial'
    assert await twin(api.download(path, 'file/10')) == path
    assert not killed.exists()
    assert {young, living, record, other, link, *alike} <= set(tmp_path.iterdir())  # alive, young, or not ours
    holder.communicate(timeout=10)
    assert holder.returncode == 0
    assert await twin(api.download(path, 'file/10', resume=True)) == path  # a resume sweeps them too
    assert not living.exists()
    assert not record.exists()  # (the record's temporary files are swept as the record is written)
    assert {young, other, link, *alike} <= set(tmp_path.iterdir())
    assert (tmp_path / 'victim').read_bytes() == b'keep'
    await twin.close(api)


async def test_without_locks_nothing_is_taken_as_abandoned(twin, server, tmp_path, monkeypatch):
    def unsupported(handle, operation):
        raise OSError(errno.ENOLCK, 'No locks available')

    killed, _ = left_by(tmp_path, '.f.bin.')
    age(killed)
    monkeypatch.setattr(fcntl, 'flock', unsupported)
    api = twin.Resource(server.url)
    path = tmp_path / 'f.bin'
    assert await twin(api.download(path, 'file/10')) == path
    assert await twin(api.download(path, 'file/10', resume=True)) == path
    assert path.read_bytes() == pattern(10)
    assert leftovers(tmp_path) == sorted(['f.bin', killed.name])
    await twin.close(api)


def plant(where, kind, victim):
    """Put a symbolic link (to `victim`, or to nothing), a hard link to `victim`, or a FIFO at `where`."""
    if where.exists():
        where.unlink()
    if kind == 'symlink':
        where.symlink_to(victim)
    elif kind == 'dangling':
        where.symlink_to(victim.parent / 'nowhere')
    elif kind == 'hardlink':
        os.link(victim, where)
    else:
        os.mkfifo(where)


@pytest.mark.parametrize('kind', ['symlink', 'dangling', 'hardlink', 'fifo'])
@pytest.mark.parametrize('name', ['f.bin.part', 'f.bin.part.validator'])
async def test_resume_never_writes_or_reads_through_a_link(twin, fresh, tmp_path, kind, name):
    api = twin.Resource(fresh.url)
    path = tmp_path / 'f.bin'
    victim = tmp_path / 'victim'
    victim.write_bytes(b'"a secret"')
    keep(path, b'x' * 1000, '"v1"', 5000)
    plant(tmp_path / name, kind, victim)
    with pytest.raises(OSError, match=f'not a regular file of its own .*{re.escape(name)}'):
        await twin(api.download(path, 'file/5000', resume=True))
    assert victim.read_bytes() == b'"a secret"'
    assert not (tmp_path / 'nowhere').exists()
    assert fresh.requests == []  # (nothing read from the victim went out in If-Range)
    await twin.close(api)


@pytest.mark.parametrize('kind', ['symlink', 'dangling', 'hardlink', 'fifo'])
async def test_the_record_replaces_what_is_in_its_place(twin, fresh, tmp_path, kind):
    api = twin.Resource(fresh.url)
    path = tmp_path / 'f.bin'
    victim = tmp_path / 'victim'
    victim.write_bytes(b'keep')
    sidecar = tmp_path / 'f.bin.part.validator'
    plant(sidecar, kind, victim)
    with pytest.raises(clients.IncompleteBody):
        await twin(api.download(path, 'file/5000', resume=True, params={'cut': 1000}))
    assert victim.read_bytes() == b'keep'
    assert not (tmp_path / 'nowhere').exists()
    assert stat.S_ISREG(sidecar.lstat().st_mode)
    assert sidecar.stat().st_nlink == 1
    assert record(path) == {'validator': '"v1"', 'total': 5000}
    assert leftovers(tmp_path) == ['f.bin.part', 'f.bin.part.validator', 'victim']
    await twin.close(api)


async def test_two_downloads_never_write_one_part_at_once(twin, fresh, tmp_path):
    api = twin.Resource(fresh.url)
    path = tmp_path / 'f.bin'
    first = downloads.target(path, resume=True)
    with pytest.raises(BlockingIOError, match=f'another download is writing it: .*{re.escape(first.temp)}'):
        await twin(api.download(path, 'file/10', resume=True))
    first.abort()
    assert await twin(api.download(path, 'file/10', resume=True)) == path
    assert path.read_bytes() == pattern(10)
    await twin.close(api)


async def test_a_record_that_cannot_be_written_leaves_no_temporary_file(twin, fresh, tmp_path):
    api = twin.Resource(fresh.url)
    path = tmp_path / 'f.bin'
    (tmp_path / 'f.bin.part.validator').mkdir()
    with pytest.raises(IsADirectoryError):
        await twin(api.download(path, 'file/10', resume=True))
    assert leftovers(tmp_path) == ['f.bin.part', 'f.bin.part.validator']
    assert (tmp_path / 'f.bin.part').read_bytes() == b''
    await twin.close(api)
