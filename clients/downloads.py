"""Downloads that never lie: into a file object, or to a path through a temporary file that is
renamed into place only when the body is complete; resuming with `Range`; progress.

`download` is a stream flow (see `streams`) that both shells drive: it hands over the chunks
to write, and decides what each response means for the file. A `Target` owns the local file,
and this module owns every file a download writes (`PathTarget`, `temporary`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import stat
import time
from collections.abc import Awaitable, Callable
from typing import IO, Any, Protocol, TypeVar

from . import fields, streams, urls
from .errors import IncompleteBody
from .flows import strong_etag

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows: no locks, so no temporary file is taken as abandoned)
    fcntl = None  # type: ignore[assignment]

Progress = Callable[[int, 'int | None'], Any]


class Writer(Protocol):
    """A binary file object as `Resource.download` writes it: `write` may write part of `data`."""

    def write(self, data: bytes, /) -> int | None: ...


class AsyncWriter(Protocol):
    """A binary file object as `AsyncResource.download` writes it: sync, or with an awaitable `write`."""

    def write(self, data: bytes, /) -> int | Awaitable[int | None] | None: ...


# What a download writes to, and returns: a path or a file object.
Destination = TypeVar('Destination', bound=Writer | str | os.PathLike[str])
AsyncDestination = TypeVar('AsyncDestination', bound=AsyncWriter | str | os.PathLike[str])

_CONTENT_RANGE = re.compile(r'\s*bytes\s+(?:([0-9]+)-([0-9]+)|\*)/([0-9]+|\*)\s*', re.IGNORECASE | re.ASCII)


def content_range(header: str | None) -> tuple[int | None, int | None, int | None] | None:
    """Return (first, last, total) of a `Content-Range` header (`None` for `*`), or `None` if invalid."""
    match = _CONTENT_RANGE.fullmatch(header or '')
    if not match:
        return None
    first, last, total = positions = [fields.integer(value) for value in match.groups()]
    if any(found is None and value not in (None, '*') for found, value in zip(positions, match.groups(), strict=True)):
        return None  # a position of more digits than any file has
    if (first is not None and last is not None and last < first) or (
            total is not None and last is not None and last >= total):
        return None
    return first, last, total


class Target:
    """Where a download goes: a file object, written as given.

    It remembers what identifies the body being written, its validator (`ETag` or
    `Last-Modified`) and total length, so that a later part of the body is used only when it
    is a part of the same one (see `continues`).
    """

    def __init__(self, file: Any) -> None:
        self.file = file
        self.offset = 0
        self.validator: str | None = None
        self.total: int | None = None

    def remember(self, validator: str | None, total: int | None) -> None:
        """Keep the validator and total length of the body being written."""
        self.validator, self.total = validator, total

    def continues(self, validator: str | None, total: int | None) -> bool:
        """Return whether a 206 with this validator and total is a part of the body written so far.

        Both must be those remembered (a validator in `If-Range` that a server ignored shows
        here); without a validator the total must be known, though a change that keeps the
        length cannot be told then.
        """
        if not self.offset:
            return True
        if validator != self.validator or (self.total is not None and total != self.total):
            return False
        return validator is not None or total is not None

    def restart(self) -> None:
        """Start the file over: nothing to do before the first byte; a file object cannot later."""
        if self.offset:
            raise IncompleteBody('the server did not continue the download, and a file object cannot start over')
        self.remember(None, None)

    def commit(self) -> None:
        """The body is complete."""

    def abort(self) -> None:
        """The download failed."""

    def result(self) -> Any:
        """Return what `download` returns: the file object."""
        return self.file


# Seconds after which a temporary file that no live process holds is taken as abandoned.
STALE = 60.0
# The most a `.part.validator` record may hold.
RECORD_SIZE = 1 << 16
# Never through a link, never blocked by a FIFO (O_NONBLOCK does nothing to a regular file).
_OPEN = getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_CLOEXEC', 0)
_HEADER_VALUE = re.compile(r'[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?')


def _refused(name: str) -> OSError:
    return OSError(errno.ELOOP, 'not a regular file of its own (a symbolic or hard link, a device or a pipe); '
                                'a download does not write or read through it', name)


def _owned(name: str, flags: int, mode: int = 0o600) -> int:
    """Open `name` (never through a symbolic link); return the descriptor of a regular file with one link."""
    try:
        handle = os.open(name, flags | _OPEN, mode)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO):  # a symbolic link; a FIFO without a reader
            raise _refused(name) from None
        raise
    found = os.fstat(handle)
    if not stat.S_ISREG(found.st_mode) or found.st_nlink != 1:
        os.close(handle)
        raise _refused(name)
    return handle


def _flock(handle: int) -> None:
    """Lock an open file for this process without waiting: `BlockingIOError` if another holds it."""
    if fcntl is None:  # pragma: no cover
        raise OSError(errno.ENOLCK, 'no file locks on this system')
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _lock(handle: int, name: str) -> None:
    """Lock the open file `name` for this process: a file that no live process locks is abandoned.

    Where the file system has no locks, the file stays unlocked (and is never taken as abandoned).
    """
    try:
        _flock(handle)
    except BlockingIOError:
        os.close(handle)
        raise BlockingIOError(errno.EAGAIN, 'another download is writing it', name) from None
    except OSError:
        pass


def _abandoned(name: str) -> None:
    """Remove the temporary file `name` if no live process holds its lock."""
    with contextlib.suppress(OSError):
        handle = _owned(name, os.O_RDONLY)
        try:
            _flock(handle)
            os.remove(name)
        finally:
            os.close(handle)


def sweep(directory: str, prefix: str) -> None:
    """Remove the files `<prefix><32 hex digits>.part` in `directory` that dead processes left.

    A process that was killed (or lost its power) leaves its temporary files behind; those
    that no live process holds locked and that are older than `STALE` seconds (so that a file
    just created, not yet locked, is never taken) are abandoned.
    """
    pattern = re.compile(re.escape(prefix) + r'[0-9a-f]{32}\.part')
    cutoff = time.time() - STALE
    with os.scandir(directory) as entries:
        found = [entry.path for entry in entries if pattern.fullmatch(entry.name)
                 and entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff]
    for name in found:
        _abandoned(name)


def temporary(directory: str, prefix: str) -> tuple[IO[bytes], str]:
    """Create and lock a new file `<prefix><32 hex digits>.part` in `directory`; return it and its name.

    First removes those of `prefix` that dead processes left (see `sweep`). The file is
    locked until it is closed, so that no other process takes it as abandoned.
    """
    sweep(directory, prefix)
    name = os.path.join(directory, f'{prefix}{secrets.token_hex(16)}.part')
    handle = _owned(name, os.O_RDWR | os.O_CREAT | os.O_EXCL)
    _lock(handle, name)
    return os.fdopen(handle, 'wb'), name


class PathTarget(Target):
    """A path: written to a temporary file in the same directory, renamed into place when complete.

    The temporary file is `.<name>.<random>.part`, locked while this process writes it, so
    that a later download to the same directory removes the ones a dead process left (see
    `temporary`). With `resume`, it is `<path>.part` instead, kept when the download fails,
    so that the next `download(..., resume=True)` continues it; what identifies its body (its
    validator, for `If-Range`, and its total length) is kept beside it in
    `<path>.part.validator`, replaced atomically. Neither is ever opened through a symbolic
    link or as anything but a regular file, and two downloads never write one `.part` at once.
    A `.part` without its record is started over: nothing tells what body it is a part of.
    """

    def __init__(self, path: str | os.PathLike[str], resume: bool = False) -> None:
        self.path = path
        self.resume = resume
        name = os.fspath(path)
        self.directory, base = os.path.split(os.path.abspath(name))
        if resume:
            sweep(self.directory, f'.{base}.')
            self.temp = name + '.part'
            handle = _owned(self.temp, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)  # (as open() makes it)
            _lock(handle, self.temp)
            file: IO[bytes] = os.fdopen(handle, 'ab')
        else:
            file, self.temp = temporary(self.directory, f'.{base}.')
        super().__init__(file)
        self.offset = file.tell()
        self.sidecar = self.temp + '.validator'
        if resume and self.offset:
            try:
                record = self._recorded()
            except BaseException:
                file.close()
                raise
            if record is None:
                self.restart()
            else:
                self.validator, self.total = record

    def _recorded(self) -> tuple[str | None, int | None] | None:
        """Return the validator and total kept in the sidecar, or `None` if there is no usable record."""
        try:
            handle = _owned(self.sidecar, os.O_RDONLY)
        except FileNotFoundError:
            return None
        with os.fdopen(handle, 'rb') as saved:
            data = saved.read(RECORD_SIZE + 1)
        try:
            record = json.loads(data) if len(data) <= RECORD_SIZE else None
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        validator, total = record.get('validator'), record.get('total')
        if not (validator is None or (isinstance(validator, str) and _HEADER_VALUE.fullmatch(validator))):
            return None
        if not (total is None or (type(total) is int and total >= 0)):
            return None
        return (validator, total) if validator is not None or total is not None else None

    def remember(self, validator: str | None, total: int | None) -> None:
        """Keep the validator and total, on disk too when resuming (written whole, then renamed over)."""
        super().remember(validator, total)
        if not self.resume:
            return
        if validator is None and total is None:
            self._forget()
            return
        saved, name = temporary(self.directory, f'.{os.path.basename(self.sidecar)}.')
        try:
            with saved:
                saved.write(json.dumps({'validator': validator, 'total': total}).encode())
            os.replace(name, self.sidecar)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(name)
            raise

    def _forget(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.sidecar)

    def restart(self) -> None:
        """Empty the temporary file."""
        self.file.seek(0)
        self.file.truncate()
        self.offset = 0
        Target.remember(self, None, None)

    def commit(self) -> None:
        """Flush the temporary file to disk and rename it into place."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.temp, self.path)
        self._forget()

    def abort(self) -> None:
        """Close the temporary file; remove it unless it is kept for resuming."""
        self.file.close()
        if not self.resume:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.temp)

    def result(self) -> Any:
        """Return the path."""
        return self.path


def target(file: Any, resume: bool = False) -> Target:
    """Return the target for `file`: a path (str or PathLike) or a binary file object."""
    if isinstance(file, str | os.PathLike):
        return PathTarget(file, resume)
    if not callable(getattr(file, 'write', None)):
        raise TypeError(f'download needs a path or a file object with write(), not {type(file).__name__}')
    if resume:
        raise ValueError('resume=True needs a path to download to, not a file object')
    return Target(file)


def validator(headers: Any) -> str | None:
    """Return what identifies this version of a body for `If-Range`: a strong `ETag`, else
    `Last-Modified`, else `None`."""
    if etag := strong_etag(headers):
        return etag
    modified = headers.get('Last-Modified')
    return str(modified) if modified else None


def _encoded(headers: Any) -> bool:
    return headers.get('Content-Encoding', 'identity').strip().lower() not in ('', 'identity')


def download(path: object, kwargs: dict[str, Any], target: Target, progress: Progress | None = None,
             resume: bool = False) -> streams.Stream:
    """GET `path` into `target`, handing over chunks to write as they arrive; commit the target when complete.

    With `resume`, continues from the target's offset with `Range` (and `Accept-Encoding:
    identity`, so offsets count the stored bytes, and `If-Range` with the validator of the
    partial body, so a changed body comes whole). A 200 starts the file over. A 206 is used
    only when its `Content-Range` starts at the offset and it is a part of the same body
    (`Target.continues`: the same validator and total), whether or not the server honoured
    `If-Range`; otherwise the download starts over with a plain GET, so a file is never
    spliced from two bodies. A 416 whose total is the offset means the file was already
    complete; a 206 that ends before the total is followed by a request for the rest.
    """
    started_over = False
    reported: tuple[int, int | None] | None = None
    while True:
        offset = target.offset
        headers = dict(kwargs.get('headers') or {})
        if resume:
            headers['Accept-Encoding'] = 'identity'
        if offset:
            headers['Range'] = f'bytes={offset}-'
            if target.validator:
                headers['If-Range'] = target.validator
        options = dict(kwargs, headers=headers)
        opened = yield streams.Open('GET', path, options, accept=(416,) if offset else ())
        if isinstance(opened, streams.Dropped):
            raise opened.error
        where = urls.where('GET', opened.url)
        found = content_range(opened.headers.get('Content-Range'))
        encoded = _encoded(opened.headers)
        length = opened.headers.get('Content-Length')
        size = None if encoded else fields.integer(length)
        identity = validator(opened.headers)
        if opened.status == 416:
            if found is not None and found[0] is None and found[2] == offset and target.total in (None, offset):
                target.commit()
                return
            found = None
        elif opened.status != 206:
            target.restart()
            found = (0, None, size)
        elif found is not None and (encoded or not target.continues(identity, found[2])):
            found = None
        if found is None or found[0] != target.offset:
            if started_over:
                raise IncompleteBody(f'{where}: the server answered {opened.status} with Content-Range '
                                     f'{opened.headers.get("Content-Range")!r}, which does not continue the '
                                     'body, again after starting over')
            started_over = True
            target.restart()
            continue
        first, last, total = found
        target.remember(identity, total)
        if opened.status == 206 and last is not None:
            size = last - target.offset + 1
        done = target.offset
        if progress is not None and (done, total) != reported:
            reported = (done, total)
            progress(done, total)
        pending: list[bytes] = []
        while True:
            chunk = yield streams.Read(pending)
            if pending:  # handed over (written) before this read
                done += len(pending[0])
                target.offset = done
                if progress is not None:
                    reported = (done, total)
                    progress(done, total)
            if not chunk or isinstance(chunk, streams.Dropped):
                break
            pending = [chunk]
        if isinstance(chunk, streams.Dropped):
            raise chunk.error
        received = done - (first or 0)
        if size is not None and received != size:
            raise IncompleteBody(f'{where}: the body has {received} bytes, expected {size}')
        if opened.status == 206 and total is not None and done < total:
            continue
        target.commit()
        return


def unwritten(chunk: bytes, written: Any) -> bytes:
    """Return what a file's `write(chunk)` left unwritten, by the count it returned.

    Buffered files write everything; a raw file or pipe may write part and return less
    (`None`, or a writer that returns nothing, counts as everything written).
    """
    if isinstance(written, int) and not isinstance(written, bool) and written < len(chunk):
        if written <= 0:
            raise OSError(f'the file took no bytes of a {len(chunk)}-byte write (it returned {written})')
        return chunk[written:]
    return b''
