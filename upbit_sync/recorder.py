"""The writer of a recording: :class:`Recorder` takes the lines from the SDK's threads and writes them
on a thread of its own, rotating each type's file at the end of its UTC period.

Gzip files are closed (trailer written, flushed, fsynced) when their period ends and when the recorder
stops; in between they are flushed every ``flush_interval`` (:data:`FLUSH_INTERVAL`), so a crash loses
at most that last second and every reader still gets what came before it. A recorder started again
within a period appends to that period's file (a gzip file then holds two members, which every gzip
reader reads on). Parquet files (``format="parquet"``) are spooled the same way and finished at the
same times (``record_parquet.py``).
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .record_files import RecordFile, Sink, make_folder
from .record_format import (
    ACCOUNT_TYPES,
    COMPRESSIONS,
    FORMATS,
    PARQUET_SUFFIX,
    SUFFIXES,
    IndexEvent,
    RecordingError,
    index_line,
    period_name,
    reason_of,
)
from .types import DataLoss, Reconnected

log = logging.getLogger("upbit_sync.recording")  # the recording's one logger, whichever module speaks

FLUSH_INTERVAL = 1.0  # seconds between flushes of the open files (no fsync: that is at rotation)
QUEUE_LINES = 100_000  # lines the writer may fall behind before the SDK's workers wait for it
_WAKE = 0.25  # the writer looks at the clock at least this often, so idle files still rotate
_BATCH = 1_000  # lines taken from the queue per round
_STOP = object()


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

    ``format="parquet"`` writes Parquet files instead of NDJSON (``compress`` then applies to nothing:
    their columns are zstd-compressed); it needs pyarrow, a ConfigError naming the extra here if it
    is missing. Its :meth:`start` first finishes the spools a recorder stopped abruptly left.
    """

    def __init__(self, directory: str | os.PathLike[str], types: Sequence[str], *, period: int = 3_600,
                 compress: str = "gzip", format: str = "ndjson", flush_interval: float = FLUSH_INTERVAL,
                 clock: Callable[[], float] = time.time,
                 on_error: Callable[[RecordingError], None] | None = None) -> None:
        if compress not in COMPRESSIONS:
            raise RecordingError(f"compress must be one of {COMPRESSIONS}, not {compress!r}")
        if format not in FORMATS:
            raise RecordingError(f"format must be one of {FORMATS}, not {format!r}")
        if isinstance(flush_interval, bool) or not 0 < flush_interval <= 60:
            raise RecordingError(f"flush_interval must be seconds in (0, 60], not {flush_interval!r}")
        if format == "parquet":
            _parquet_for(types)
        self.directory = Path(directory)
        self.types = tuple(types)
        self.period = period
        self.compress = compress
        self.format = format
        self.flush_interval = flush_interval
        self.clock = clock
        self.on_error = on_error
        self.failure: RecordingError | None = None
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_LINES)
        self._files: dict[str, tuple[str, Sink]] = {}  # type -> (period name, its open file)
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
                make_folder(self.directory / kind, kind in ACCOUNT_TYPES)
        except (OSError, RecordingError) as exc:
            why = reason_of(exc) if isinstance(exc, OSError) else str(exc)
            raise RecordingError(f"cannot record into {self.directory}: {why}") from None
        if self.format == "parquet":
            from . import record_parquet

            for kind in self.types:
                record_parquet.recover(self.directory / kind, kind in ACCOUNT_TYPES)
        self._thread.start()
        return self

    def message(self, kind: str, item: dict[str, Any]) -> None:
        """Queue one message of type ``kind`` (DEFAULT keys). One without ``received_at`` (a trade
        backfilled from REST) is stamped with the time it reached the recorder."""
        if "received_at" not in item:
            item = {**item, "received_at": self.clock()}
        self._put((kind, item))

    def event(self, event: IndexEvent) -> None:
        """Queue the index line of a gap: a DataLoss goes into its type's file, a Reconnected (which
        concerns every stream of its connection) into every type's; a market listed or delisted
        into the file of the type it was followed for."""
        kind = None if isinstance(event, Reconnected) else event.type
        kinds = (kind,) if kind in self.types else self.types
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
            if time.monotonic() - last_flush >= self.flush_interval:
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
            batch = [self._queue.get(timeout=min(_WAKE, self.flush_interval))]
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
            elif isinstance(event, DataLoss):
                self._stats.losses += 1
                self._stats.dropped += event.dropped

    def _line(self, kind: str, line: dict[str, Any], now: float, *, message: bool) -> Path:
        handle = self._file(kind, now)
        handle.add(line, message=message)
        return handle.path

    def _written(self, kind: str, messages: int) -> None:
        with self._lock:
            self._stats.messages += messages
            self._stats.by_type[kind] = self._stats.by_type.get(kind, 0) + messages

    def _file(self, kind: str, now: float) -> Sink:
        name = period_name(now, self.period)
        opened = self._files.get(kind)
        if opened is not None and opened[0] == name:
            return opened[1]
        if opened is not None:
            del self._files[kind]
            opened[1].close()
        private = kind in ACCOUNT_TYPES
        folder = self.directory / kind
        make_folder(folder, private)  # again: it may have been removed since
        written = functools.partial(self._written, kind)
        handle: Sink
        if self.format == "parquet":
            from .record_parquet import HourFile

            handle = HourFile(folder / f"{name}{PARQUET_SUFFIX}", kind, private, written)
        else:
            handle = RecordFile(folder / f"{name}{SUFFIXES[self.compress]}", self.compress, private, written)
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


def _parquet_for(types: Sequence[str]) -> None:
    """Parquet needs pyarrow (a ConfigError naming the extra) and columns for every type."""
    from . import record_parquet

    record_parquet.require("recording Parquet")
    unknown = [kind for kind in types if not record_parquet.has_columns(kind)]
    if unknown:
        raise RecordingError(f"no Parquet columns for {', '.join(map(repr, unknown))}: record them as NDJSON")


def _as_failure(error: Exception, doing: str) -> RecordingError:
    """What stopped the writer, as the RecordingError it reports: a file error in a few words, anything
    else (a bug) by its type, with it as the cause."""
    if isinstance(error, RecordingError):
        return error
    why = reason_of(error) if isinstance(error, OSError) else f"{type(error).__name__}: {error}"
    failure = RecordingError(f"{doing}: {why}")
    failure.__cause__ = error
    return failure
