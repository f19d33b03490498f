"""Downloads that never lie: into a file object, or to a path through a temporary file that is
renamed into place only when the body is complete; resuming with `Range`; progress.

`download` is a stream flow (see `streams`) that both shells drive: it pauses with the chunks
to write, and decides what each response means for the file. A `Target` owns the local file.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from typing import IO, Any, Protocol, TypeVar

from . import fields, streams, urls
from .errors import IncompleteBody
from .flows import Pause, strong_etag

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
    """Where a download goes: a file object, written as given."""

    def __init__(self, file: Any) -> None:
        self.file = file
        self.offset = 0
        self.validator: str | None = None

    def remember(self, validator: str | None) -> None:
        """Keep the validator (`ETag` or `Last-Modified`) of the body being written."""
        self.validator = validator

    def restart(self) -> None:
        """Start the file over: nothing to do before the first byte; a file object cannot later."""
        if self.offset:
            raise IncompleteBody('the server did not continue the download, and a file object cannot start over')

    def commit(self) -> None:
        """The body is complete."""

    def abort(self) -> None:
        """The download failed."""

    def result(self) -> Any:
        """Return what `download` returns: the file object."""
        return self.file


class PathTarget(Target):
    """A path: written to a temporary file in the same directory, renamed into place when complete.

    With `resume`, the temporary file is `<path>.part` and is kept when the download fails,
    so that the next `download(..., resume=True)` continues it; the body's validator is kept
    beside it in `<path>.part.validator`, for `If-Range`.
    """

    def __init__(self, path: str | os.PathLike[str], resume: bool = False) -> None:
        self.path = path
        self.resume = resume
        name = os.fspath(path)
        if resume:
            self.temp = name + '.part'
            file: IO[bytes] = open(self.temp, 'ab')  # noqa: SIM115 (closed by commit or abort)
        else:
            directory, base = os.path.split(os.path.abspath(name))
            handle, self.temp = tempfile.mkstemp(dir=directory, prefix=f'.{base}.', suffix='.part')
            file = os.fdopen(handle, 'wb')
        super().__init__(file)
        self.offset = file.tell()
        self.sidecar = self.temp + '.validator'
        if resume and self.offset:
            with contextlib.suppress(FileNotFoundError), open(self.sidecar) as saved:
                self.validator = saved.read().strip() or None

    def remember(self, validator: str | None) -> None:
        """Keep the validator, on disk too when resuming."""
        super().remember(validator)
        if self.resume:
            if validator:
                with open(self.sidecar, 'w') as saved:
                    saved.write(validator)
            else:
                self._forget()

    def _forget(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.sidecar)

    def restart(self) -> None:
        """Empty the temporary file."""
        self.file.seek(0)
        self.file.truncate()
        self.offset = 0

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
    """GET `path` into `target`, pausing with chunks to write; commit the target when complete.

    With `resume`, continues from the target's offset with `Range` (and `Accept-Encoding:
    identity`, so offsets count the stored bytes, and `If-Range` with the validator of the
    partial body, so a changed body comes whole). A 200 starts the file over; a 206 whose
    `Content-Range` does not start at the offset is not used: the download starts over with
    a plain GET; a 416 whose total is the offset means the file was already complete; a 206
    that ends before the total is followed by a request for the rest.
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
        opened = yield streams.Open('GET', path, options, accept=(416,) if offset else (), whole=True)
        if isinstance(opened, streams.Dropped):
            raise opened.error
        where = urls.where('GET', opened.url)
        found = content_range(opened.headers.get('Content-Range'))
        encoded = _encoded(opened.headers)
        if opened.status == 416:
            if found is not None and found[0] is None and found[2] == offset:
                target.commit()
                return
            found = None
        elif opened.status != 206:
            target.restart()
            found = (0, None, None)
        if found is None or found[0] != target.offset or (encoded and opened.status == 206):
            if started_over:
                raise IncompleteBody(f'{where}: the server answered {opened.status} with Content-Range '
                                     f'{opened.headers.get("Content-Range")!r} to a request without Range')
            started_over = True
            target.restart()
            continue
        first, last, total = found
        target.remember(validator(opened.headers))
        length = opened.headers.get('Content-Length')
        size = None if encoded else fields.integer(length)
        if opened.status == 206 and last is not None:
            size = last - target.offset + 1
        else:
            total = size
        done = target.offset
        if progress is not None and (done, total) != reported:
            reported = (done, total)
            progress(done, total)
        while (chunk := (yield streams.Read())) and not isinstance(chunk, streams.Dropped):
            yield Pause([chunk])
            done += len(chunk)
            target.offset = done
            if progress is not None:
                reported = (done, total)
                progress(done, total)
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
