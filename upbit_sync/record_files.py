"""The files a recorder writes: each opened safely and knowing what it holds.

Safe to write: no file or type folder is created or opened through a symbolic link (one planted there
is an error naming it), a file is appended to only when it is a regular file of the user's own, and
the account types (``ACCOUNT_TYPES``: orders, balances) go into 0600 files in 0700 folders. A message
counts as written once it is where a reader gets it back; a failed write cuts the file back to that.
"""

from __future__ import annotations

import errno
import gzip
import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from .record_format import RecordingError, json_line, reason_of

log = logging.getLogger("upbit_sync.recording")  # the recording's one logger, whichever module speaks

_WRITE_SIZE = 256 * 1024  # bytes a file holds in memory before it writes them out
# never through a symbolic link; never blocked by a FIFO planted where a file goes (0 where unknown)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


class _Sink:
    """Where a GzipFile puts what it compresses: the buffer its :class:`RecordFile` writes out itself."""

    def __init__(self, buffer: bytearray) -> None:
        self.buffer = buffer

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def flush(self) -> None:
        pass


class Sink(Protocol):
    """The open file(s) of one type and period, whatever the format: NDJSON (:class:`RecordFile`) or
    Parquet (``record_parquet.HourFile``)."""

    path: Path

    def add(self, line: dict[str, Any], *, message: bool) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class RecordFile:
    """One open file of one type and period, which knows what it holds.

    Messages count as written (``on_written``) only once they are in the file where a reader gets them
    back: written out whole, and for gzip behind a sync flush. A write that fails cuts the file back to
    that point and closes it, so no count claims a line the file does not hold.
    """

    def __init__(self, path: Path, compress: str, private: bool, on_written: Callable[[int], None]) -> None:
        self.path = path
        self.fd = _create(path, private)
        self.on_written = on_written
        self._good = os.fstat(self.fd).st_size  # the end of what readers get back
        self._end = self._good  # the end of what is written out
        self._pending = 0  # messages written since _good
        self._dirty = False  # anything written since _good
        self._buffer = bytearray()
        self._gzip = (gzip.GzipFile(fileobj=_Sink(self._buffer), mode="wb", compresslevel=6)
                      if compress == "gzip" else None)

    def add(self, line: dict[str, Any], *, message: bool) -> None:
        """One message or index line, as a line of JSON."""
        self.write(json_line(line).encode("utf-8") + b"\n", message=message)

    def write(self, data: bytes, *, message: bool) -> None:
        if self.fd < 0:
            return
        if self._gzip is not None:
            self._gzip.write(data)
        else:
            self._buffer += data
        self._pending += message
        self._dirty = True
        if len(self._buffer) >= _WRITE_SIZE:
            self.flush()

    def flush(self) -> None:
        """Put what is written where readers get it (for gzip, behind a sync flush) and count it."""
        if self.fd < 0 or not self._dirty:
            return  # an idle gzip file would grow by an empty block at each flush
        try:
            if self._gzip is not None:
                self._gzip.flush()
            self._drain()
        except OSError as exc:
            raise self._broken(exc) from exc
        self._count()

    def close(self) -> None:
        """Finish the file and make it durable: the gzip trailer, then write, count, fsync. Idempotent."""
        if self.fd < 0:
            return
        try:
            if self._gzip is not None:
                self._gzip.close()  # the trailer goes to the buffer
            self._drain()
            self._count()
            os.fsync(self.fd)
        except OSError as exc:
            raise self._broken(exc) from exc
        os.close(self.fd)
        self.fd = -1

    def _drain(self) -> None:
        with memoryview(self._buffer) as view:
            done = 0
            while done < len(view):
                done += os.write(self.fd, view[done:])
        self._buffer.clear()
        self._end += done

    def _count(self) -> None:
        pending, self._pending, self._dirty, self._good = self._pending, 0, False, self._end
        if pending:
            self.on_written(pending)

    def _broken(self, exc: OSError) -> RecordingError:
        """After a failed write: cut the file back to what was counted, close it; the error to raise."""
        try:
            os.ftruncate(self.fd, self._good)
        except OSError as cut:
            log.warning("could not cut %s back to its last whole line after a failed write: %s",
                        self.path, reason_of(cut))
        finally:
            os.close(self.fd)
            self.fd = -1
        return RecordingError(f"{self.path}: {reason_of(exc)}")


def create_new(path: Path, private: bool) -> BinaryIO:
    """A new file at ``path`` to write (a spool, a Parquet file's temporary name), made with the care
    of :func:`_create`; one already there is an error."""
    return os.fdopen(_create(path, private, os.O_WRONLY | os.O_CREAT | os.O_EXCL), "wb")


def open_existing(path: Path) -> BinaryIO:
    """A recording file of ours to read back (a spool to finish, a Parquet file to merge into), not
    reached through a symbolic link."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC)
    except OSError:
        if path.is_symlink():
            raise RecordingError(f"{path} is a symbolic link; not followed") from None
        raise
    try:
        _check_own(fd, path, private=False)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def sync_folder(folder: Path) -> None:
    """Make a rename or removal in ``folder`` durable, where the system allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _create(path: Path, private: bool, mode: int = os.O_WRONLY | os.O_APPEND | os.O_CREAT) -> int:
    """A descriptor to write to ``path`` (opened with ``mode``, by default to append), reached without
    following a symbolic link (neither the file nor its folder: one planted there is refused, not
    written through); the file must be a regular file of the user's own, and an account type's is
    made 0600."""
    folder = _open_folder(path.parent)
    flags = mode | _NOFOLLOW | _NONBLOCK | _CLOEXEC
    try:
        if folder is None and path.is_symlink():  # no O_NOFOLLOW here (Windows): the best left
            raise RecordingError(f"{path} is a symbolic link; not followed")
        try:
            fd = os.open(path.name if folder is not None else path, flags, 0o600 if private else 0o666,
                         dir_fd=folder)
        except OSError as exc:
            if path.is_symlink():
                raise RecordingError(f"{path} is a symbolic link; not followed") from None
            if exc.errno == errno.ENXIO:  # a FIFO nobody reads: O_NONBLOCK saved us from waiting on it
                raise RecordingError(f"{path} is not a regular file; not written to") from None
            raise
        try:
            _check_own(fd, path, private)
        except BaseException:
            os.close(fd)
            raise
        if folder is not None:
            try:
                os.fsync(folder)  # the new file's name is durable too
            except OSError:  # not everywhere possible: the file's own fsync still holds
                pass
    finally:
        if folder is not None:
            os.close(folder)
    return fd


def _open_folder(folder: Path) -> int | None:
    """A descriptor of a type's folder, which must not be a symbolic link; None where folders cannot
    be opened (Windows)."""
    if os.open not in os.supports_dir_fd:
        return None
    try:
        return os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC)
    except OSError:
        if folder.is_symlink():
            raise RecordingError(f"{folder} is a symbolic link; not followed") from None
        raise


def _check_own(fd: int, path: Path, private: bool) -> None:
    """Refuse what is no regular file of ours; close an account type's file to others."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise RecordingError(f"{path} is not a regular file; not written to")
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise RecordingError(f"{path} is owned by another user (uid {info.st_uid}); not appended to")
    if private and stat.S_IMODE(info.st_mode) & 0o077 and hasattr(os, "fchmod"):
        os.fchmod(fd, 0o600)  # left readable by an older recorder, or made by hand
    if _NONBLOCK:
        os.set_blocking(fd, True)


def make_folder(folder: Path, private: bool) -> None:
    """A type's folder, made if missing (0700 for an account type, else by the umask); a symbolic link
    there is refused, and an account type's folder open to others is closed (0700)."""
    try:
        folder.mkdir(mode=0o700 if private else 0o777)
    except FileExistsError:
        pass
    info = folder.lstat()
    if stat.S_ISLNK(info.st_mode):
        raise RecordingError(f"{folder} is a symbolic link; not followed")
    if not stat.S_ISDIR(info.st_mode):
        raise RecordingError(f"{folder} is not a folder")
    if private and stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, 0o700)
