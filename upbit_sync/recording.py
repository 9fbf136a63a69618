"""The files ``upbit-sync record`` writes and ``FakeUpbitServer.replay`` reads back.

A recording is a directory with one folder per message type and one file per rotation period (UTC)::

    DIR/trade/20261201-15.ndjson.gz      # 1h periods (the default) and longer: YYYYMMDD-HH
    DIR/ticker/20261201-1545.ndjson.gz   # periods shorter than an hour: YYYYMMDD-HHMM

Each line is one JSON object: a message as the SDK delivers it with ``raw=True`` (Upbit's DEFAULT keys,
plus the SDK's ``received_at``, the wall-clock time it was read), or an *index line* that marks a gap in
the data, told apart by its ``_event`` key::

    {"_event": "Reconnected", "connection": "public", "downtime_s": 0.2, "trades_may_be_missing": false,
     "at": 1796141824.5}
    {"_event": "DataLoss", "connection": "public", "type": "trade", "code": "KRW-BTC", "dropped": 3,
     "policy": "drop_oldest", "reason": "", "at": 1796141824.5}

A file belongs to the period in which its lines were written. Gzip files are closed (trailer written,
flushed, fsynced) when their period ends and when the recorder stops; in between they are flushed
every second, so a crash loses at most that last second and every reader still gets what came before
it. A message counts as written once it is flushed so; a write that fails (a full disk) cuts the file
back to that point, so the counts are what the files hold. A recorder started again within a period
appends to that period's file (a gzip file then holds two members, which every gzip reader reads
on). :class:`Recorder` writes on a thread of its own, so the SDK's workers only hand lines over.

Safe to write: no file or type folder is created or opened through a symbolic link (one planted
there is an error naming it), a file is appended to only when it is a regular file of the user's own,
and the account types (:data:`ACCOUNT_TYPES`: orders, balances) go into 0600 files in 0700 folders.
Safe to read: :func:`read_lines` skips a bad line and names it (file:line) in one warning per file,
refuses a line over :data:`MAX_LINE` without reading it whole, and ends a file at a corrupt gzip
member, so one damaged file never stops a replay of the others.
"""

from __future__ import annotations

import errno
import functools
import gzip
import json
import logging
import os
import queue
import re
import stat
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

import msgspec

from .errors import UpbitError
from .types import DataLoss, Reconnected

log = logging.getLogger(__name__)

COMPRESSIONS = ("gzip", "none")
SUFFIXES = {"gzip": ".ndjson.gz", "none": ".ndjson"}
INDEX_KEY = "_event"
DAY = 86_400
ACCOUNT_TYPES = frozenset({"myOrder", "myAsset"})  # the account's own orders and balances: owner-only files
MAX_LINE = 16 * 1024 * 1024  # bytes: a longer line is skipped unread (a few kB of gzip can inflate to GBs)

FLUSH_INTERVAL = 1.0  # seconds between flushes of the open files (no fsync: that is at rotation)
QUEUE_LINES = 100_000  # lines the writer may fall behind before the SDK's workers wait for it
_WAKE = 0.25  # the writer looks at the clock at least this often, so idle files still rotate
_BATCH = 1_000  # lines taken from the queue per round
_WRITE_SIZE = 256 * 1024  # bytes a file holds in memory before it writes them out
_SKIP_PIECE = 64 * 1024  # bytes read at a time while skipping a line over MAX_LINE
_NAMED = 5  # bad lines a file's warning names; the rest are counted
_STOP = object()
# never through a symbolic link; never blocked by a FIFO planted where a file goes (0 where unknown)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)

_PERIOD = re.compile(r"([1-9][0-9]*)([mhd])")
_UNIT_SECONDS = {"m": 60, "h": 3_600, "d": DAY}


class RecordingError(UpbitError, ValueError):
    """A recording that cannot be written (a refused path, a failed write) or holds nothing readable;
    a bad period or compression."""


class RecordingNotFound(RecordingError, FileNotFoundError):
    """A recording path that is not there, or a directory without recording files."""


def parse_period(text: str) -> int:
    """A rotation period in seconds from ``15m``, ``1h``, ``1d``: whole minutes that divide a day, so
    every period starts at the same UTC times every day."""
    match = _PERIOD.fullmatch(text.strip().lower())
    if match is None:
        raise RecordingError(f"not a period such as 15m, 1h or 1d: {text!r}")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > DAY or DAY % seconds:
        raise RecordingError(f"the period must divide a day evenly (e.g. 15m, 1h, 6h, 1d), not {text!r}")
    return seconds


def period_name(at: float, period: int) -> str:
    """The name of the file of the period holding ``at`` (epoch seconds, UTC): its start time."""
    start = int(at // period * period)
    stamp = "%Y%m%d-%H" if period % 3_600 == 0 else "%Y%m%d-%H%M"
    return time.strftime(stamp, time.gmtime(start))


def index_line(event: Reconnected | DataLoss, at: float) -> dict[str, Any]:
    """The index line for a gap: when it happened (``at``, epoch seconds) and what the SDK said."""
    if isinstance(event, Reconnected):
        return {INDEX_KEY: "Reconnected", "connection": event.connection, "downtime_s": event.downtime_s,
                "trades_may_be_missing": event.trades_may_be_missing, "at": at}
    return {INDEX_KEY: "DataLoss", "connection": event.connection, "type": event.type, "code": event.code,
            "dropped": event.dropped, "policy": event.policy, "reason": event.reason, "at": at}


_EXACT_JSON = msgspec.json.Encoder(decimal_format="number")


def json_line(line: dict[str, Any]) -> str:
    """One message or index line as compact JSON; a ``Decimal`` (``Config(decimal=True)``) is written
    as the number it is, digit for digit (json.dumps knows no Decimal: only such lines take the
    other encoder)."""
    try:
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))
    except TypeError:
        return _EXACT_JSON.encode(line).decode("utf-8")


def is_index(line: dict[str, Any]) -> bool:
    """Whether a line of a recording is an index line rather than a message."""
    return INDEX_KEY in line


# ---- reading --------------------------------------------------------------------------------------


def recording_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The files ``paths`` name, in the order given; a directory stands for every ``*.ndjson`` and
    ``*.ndjson.gz`` file under it, by path (so each type's periods come in time order). A path that
    does not exist, or a directory without recordings, is a :class:`RecordingNotFound`."""
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and _is_recording_name(p.name))
            if not inside:
                raise RecordingNotFound(f"no *.ndjson or *.ndjson.gz file under {path}")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise RecordingNotFound(f"no such file or directory: {path}")
    return found


def _is_recording_name(name: str) -> bool:
    return name.endswith((".ndjson", ".ndjson.gz"))


@dataclass
class ReadReport:
    """What reading one file met besides good lines: the bad lines it skipped, and why it stopped
    before the file's end. :func:`read_lines` fills it in as it goes."""

    path: Path
    lines: int = 0  # good lines read
    bad: int = 0  # lines skipped
    named: list[str] = field(default_factory=list)  # "file:line (why)" for the first few bad lines
    ended: str | None = None  # why the rest of the file was not read

    def skip(self, number: int, why: str) -> None:
        self.bad += 1
        if len(self.named) < _NAMED:
            self.named.append(f"{self.path}:{number} ({why})")

    @property
    def problem(self) -> str | None:
        """The file's trouble in one line (its warning), or None when it read clean."""
        parts = []
        if self.bad:
            more = f", and {self.bad - len(self.named)} more" if self.bad > len(self.named) else ""
            parts.append(f"skipped {self.bad} bad line{'s' if self.bad > 1 else ''}: "
                         f"{', '.join(self.named)}{more}")
        if self.ended:
            parts.append(self.ended)
        return f"{self.path}: {'; '.join(parts)}" if parts else None


def read_lines(path: Path, report: ReadReport | None = None) -> Iterator[dict[str, Any]]:
    """Every good line of one recording file, parsed, in order; what else it met goes into ``report``
    and, when there was anything, into one WARNING once the file is done.

    A bad line (not JSON, not an object, nested too deep, longer than :data:`MAX_LINE`) is skipped.
    The file ends early, keeping what came before, at a corrupt gzip member, at a gzip stream without
    its end or at a last line cut short (these two: a recorder stopped abruptly).
    """
    report = report if report is not None else ReadReport(path)
    try:
        yield from _parse(path, report)
    finally:
        if report.problem is not None:
            log.warning("%s", report.problem)


def _parse(path: Path, report: ReadReport) -> Iterator[dict[str, Any]]:
    try:
        handle = _open_for_reading(path)
    except OSError as exc:
        report.ended = f"not readable ({_why(exc)})"
        return
    with handle:
        number = 0
        while True:
            limit = MAX_LINE  # looked up each time, so a test can lower it
            try:
                raw = handle.readline(limit + 1)
                too_long = len(raw) > limit and not raw.endswith(b"\n")
                if too_long:
                    _skip_line(handle)
            except EOFError:  # a gzip stream without its end: the recorder did not finish it
                report.ended = (f"ends early after line {number} (the recorder was stopped abruptly): "
                                "read up to there")
                return
            except (OSError, zlib.error) as exc:
                corrupt = isinstance(exc, (zlib.error, gzip.BadGzipFile))
                report.ended = (f"{'corrupt gzip data' if corrupt else 'unreadable'} after line {number} "
                                f"({exc}): the rest of the file is skipped")
                return
            if not raw:
                return
            number += 1
            if too_long:
                report.skip(number, f"longer than {_size(limit)}")
                continue
            try:
                line = json.loads(raw)
            except RecursionError:
                report.skip(number, "nested too deep")
                continue
            except ValueError:  # UnicodeDecodeError too
                if not raw.endswith(b"\n"):  # the last line, cut short
                    report.ended = (f"line {number} is cut short (the recorder was stopped abruptly): "
                                    "read up to it")
                    return
                report.skip(number, "not JSON")
                continue
            if not isinstance(line, dict):
                report.skip(number, "not a JSON object")
                continue
            report.lines += 1
            yield line


def _skip_line(handle: BinaryIO) -> None:
    """Read on to the end of the current line in bounded pieces, keeping none of it."""
    while True:
        piece = handle.readline(_SKIP_PIECE)
        if not piece or piece.endswith(b"\n"):
            return


def _size(count: int) -> str:
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count % size == 0:
            return f"{count // size} {unit}"
    return f"{count:,} bytes"


def _open_for_reading(path: Path) -> BinaryIO:
    """The file's lines as bytes: gzip by its magic number, whatever its name."""
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return cast(BinaryIO, gzip.open(path, "rb"))
    return open(path, "rb")


# ---- writing --------------------------------------------------------------------------------------


class _Sink:
    """Where a GzipFile puts what it compresses: the buffer its :class:`_File` writes out itself."""

    def __init__(self, buffer: bytearray) -> None:
        self.buffer = buffer

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def flush(self) -> None:
        pass


class _File:
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
                        self.path, _why(cut))
        finally:
            os.close(self.fd)
            self.fd = -1
        return RecordingError(f"{self.path}: {_why(exc)}")


def _create(path: Path, private: bool) -> int:
    """A descriptor to append to ``path``, reached without following a symbolic link (neither the file
    nor its folder: one planted there is refused, not written through); the file must be a regular
    file of the user's own, and an account type's is made 0600."""
    folder = _open_folder(path.parent)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _NONBLOCK | _CLOEXEC
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


def _make_folder(folder: Path, private: bool) -> None:
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


def _why(error: OSError) -> str:
    """An OSError in a few words ("No space left on device"), without the errno and the path."""
    return error.strerror or str(error)


@dataclass
class RecorderStats:
    """What the recorder has written so far (a copy: read it from any thread). ``messages`` counts
    what the files hold: a message is counted once it is written out where readers get it."""

    messages: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    reconnects: int = 0
    losses: int = 0  # DataLoss events
    dropped: int = 0  # messages those events said were lost
    files: list[Path] = field(default_factory=list)  # every file written to, in the order first opened
    current: Path | None = None  # the file written to last

    @property
    def gaps(self) -> int:
        return self.reconnects + self.losses


class Recorder:
    """Writes the lines of a recording under ``directory`` on its own thread, ``upbit-record-writer``.

    :meth:`message` and :meth:`event` may be called from any thread (the SDK's workers): they only
    queue the line, waiting only while the writer is :data:`QUEUE_LINES` behind (a stalled disk then
    slows the SDK, whose overflow policy decides what goes, and says so). The writer serialises,
    rotates, flushes and fsyncs. :meth:`close` writes what is queued, closes every file and joins the
    thread. Anything that stops the writer (a failed write, a refused path, a bug) is kept in
    :attr:`failure`, a RecordingError, and told to ``on_error`` (on the writer's thread), or without
    one logged at ERROR; lines handed over after it are dropped rather than waited on.
    """

    def __init__(self, directory: str | os.PathLike[str], types: Sequence[str], *, period: int = 3_600,
                 compress: str = "gzip", clock: Callable[[], float] = time.time,
                 on_error: Callable[[RecordingError], None] | None = None) -> None:
        if compress not in COMPRESSIONS:
            raise RecordingError(f"compress must be one of {COMPRESSIONS}, not {compress!r}")
        self.directory = Path(directory)
        self.types = tuple(types)
        self.period = period
        self.compress = compress
        self.clock = clock
        self.on_error = on_error
        self.failure: RecordingError | None = None
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_LINES)
        self._files: dict[str, tuple[str, _File]] = {}  # type -> (period name, its open file)
        self._stats = RecorderStats()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="upbit-record-writer", daemon=True)

    def start(self) -> Recorder:
        """Make the recording's folders and start writing; a RecordingError naming the trouble if they
        cannot be made (nothing could be recorded). The directory, when made here for an account type,
        is 0700."""
        private = any(kind in ACCOUNT_TYPES for kind in self.types)
        try:
            self.directory.mkdir(mode=0o700 if private else 0o777, parents=True, exist_ok=True)
            for kind in self.types:
                _make_folder(self.directory / kind, kind in ACCOUNT_TYPES)
        except (OSError, RecordingError) as exc:
            why = _why(exc) if isinstance(exc, OSError) else str(exc)
            raise RecordingError(f"cannot record into {self.directory}: {why}") from None
        self._thread.start()
        return self

    def message(self, kind: str, item: dict[str, Any]) -> None:
        """Queue one message of type ``kind`` (DEFAULT keys). One without ``received_at`` (a trade
        backfilled from REST) is stamped with the time it reached the recorder."""
        if "received_at" not in item:
            item = {**item, "received_at": self.clock()}
        self._put((kind, item))

    def event(self, event: Reconnected | DataLoss) -> None:
        """Queue the index line of a gap: a DataLoss goes into its type's file, a Reconnected (which
        concerns every stream of its connection) into every type's."""
        kinds = (event.type,) if isinstance(event, DataLoss) and event.type in self.types else self.types
        self._put((kinds, event, index_line(event, self.clock())))

    def _put(self, entry: object) -> None:
        while not self._closing.is_set() and self.failure is None:
            try:
                self._queue.put(entry, timeout=_WAKE)
                return
            except queue.Full:
                continue

    @property
    def stats(self) -> RecorderStats:
        with self._lock:
            copy = RecorderStats(**vars(self._stats))
            copy.by_type = dict(copy.by_type)
            copy.files = list(copy.files)
            return copy

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, finish every file (trailer, flush, fsync), join the writer. Idempotent."""
        if not self._thread.is_alive():
            self._close_files()
            return
        self._closing.set()
        deadline = time.monotonic() + timeout
        while self._thread.is_alive() and time.monotonic() < deadline:
            try:
                self._queue.put(_STOP, timeout=_WAKE)
                break
            except queue.Full:
                continue
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            log.error("the record writer did not finish within %.0f s", timeout)

    # ---- the writer thread --------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._write_until_stopped()
        except Exception as exc:  # whatever it is, told rather than the thread dying quietly
            self._fail(_as_failure(exc, f"cannot write into {self.directory}"))
        finally:
            self._close_files()

    def _write_until_stopped(self) -> None:
        last_flush = time.monotonic()
        while True:
            batch = self._take()
            now = self.clock()
            self._rotate(now)
            for entry in batch:
                if entry is _STOP:
                    return
                self._write(entry, now)
            if time.monotonic() - last_flush >= FLUSH_INTERVAL:
                for _, handle in self._files.values():
                    handle.flush()
                last_flush = time.monotonic()

    def _fail(self, error: RecordingError) -> None:
        """Keep the first failure, and tell each one: to on_error, or without one to the log (with the
        traceback of what was no file error: a bug to report)."""
        if self.failure is None:
            self.failure = error
        bug = error.__cause__ if not isinstance(error.__cause__, (OSError, type(None))) else None
        if self.on_error is None:
            log.error("recording stopped: %s", error, exc_info=bug)
            return
        if bug is not None:
            log.debug("the record writer failed", exc_info=bug)
        try:
            self.on_error(error)
        except Exception:
            log.exception("the recorder's on_error callback failed")

    def _take(self) -> list[Any]:
        try:
            batch = [self._queue.get(timeout=_WAKE)]
        except queue.Empty:
            return []
        while len(batch) < _BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, entry: tuple[Any, ...], now: float) -> None:
        if len(entry) == 2:
            kind, item = entry
            path = self._line(kind, item, now, message=True)
            with self._lock:
                self._stats.current = path
            return
        kinds, event, line = entry
        paths = [self._line(kind, line, now, message=False) for kind in kinds]
        with self._lock:
            self._stats.current = paths[-1] if paths else self._stats.current
            if isinstance(event, Reconnected):
                self._stats.reconnects += 1
            else:
                self._stats.losses += 1
                self._stats.dropped += event.dropped

    def _line(self, kind: str, line: dict[str, Any], now: float, *, message: bool) -> Path:
        data = json_line(line).encode("utf-8") + b"\n"
        handle = self._file(kind, now)
        handle.write(data, message=message)
        return handle.path

    def _written(self, kind: str, messages: int) -> None:
        with self._lock:
            self._stats.messages += messages
            self._stats.by_type[kind] = self._stats.by_type.get(kind, 0) + messages

    def _file(self, kind: str, now: float) -> _File:
        name = period_name(now, self.period)
        opened = self._files.get(kind)
        if opened is not None and opened[0] == name:
            return opened[1]
        if opened is not None:
            del self._files[kind]
            opened[1].close()
        private = kind in ACCOUNT_TYPES
        folder = self.directory / kind
        _make_folder(folder, private)  # again: it may have been removed since
        handle = _File(folder / f"{name}{SUFFIXES[self.compress]}", self.compress, private,
                       functools.partial(self._written, kind))
        self._files[kind] = (name, handle)
        with self._lock:
            if handle.path not in self._stats.files:
                self._stats.files.append(handle.path)
        return handle

    def _rotate(self, now: float) -> None:
        """Finish the files whose period is over, written to lately or not."""
        name = period_name(now, self.period)
        for kind, (opened, handle) in list(self._files.items()):
            if opened != name:
                del self._files[kind]
                handle.close()

    def _close_files(self) -> None:
        files, self._files = list(self._files.values()), {}
        for _, handle in files:
            try:
                handle.close()
            except Exception as exc:  # every file gets its chance to be finished
                self._fail(_as_failure(exc, f"could not finish {handle.path}"))


def _as_failure(error: Exception, doing: str) -> RecordingError:
    """What stopped the writer, as the RecordingError it reports: a file error in a few words, anything
    else (a bug) by its type, with it as the cause."""
    if isinstance(error, RecordingError):
        return error
    why = _why(error) if isinstance(error, OSError) else f"{type(error).__name__}: {error}"
    failure = RecordingError(f"{doing}: {why}")
    failure.__cause__ = error
    return failure
