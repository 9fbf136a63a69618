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
it. A recorder started again within a period appends to that period's file (a gzip file then holds two
members, which every gzip reader reads on). :class:`Recorder` writes on a thread of its own, so the
SDK's workers only hand lines over.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

import msgspec

from .types import DataLoss, Reconnected

log = logging.getLogger(__name__)

COMPRESSIONS = ("gzip", "none")
SUFFIXES = {"gzip": ".ndjson.gz", "none": ".ndjson"}
INDEX_KEY = "_event"
DAY = 86_400

FLUSH_INTERVAL = 1.0  # seconds between flushes of the open files (no fsync: that is at rotation)
QUEUE_LINES = 100_000  # lines the writer may fall behind before the SDK's workers wait for it
_WAKE = 0.25  # the writer looks at the clock at least this often, so idle files still rotate
_BATCH = 1_000  # lines taken from the queue per round
_STOP = object()

_PERIOD = re.compile(r"([1-9][0-9]*)([mhd])")
_UNIT_SECONDS = {"m": 60, "h": 3_600, "d": DAY}


class RecordingError(ValueError):
    """A file that is not a recording: a line that is not a JSON object, or a corrupt gzip stream."""


def parse_period(text: str) -> int:
    """A rotation period in seconds from ``15m``, ``1h``, ``1d``: whole minutes that divide a day, so
    every period starts at the same UTC times every day."""
    match = _PERIOD.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"not a period such as 15m, 1h or 1d: {text!r}")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > DAY or DAY % seconds:
        raise ValueError(f"the period must divide a day evenly (e.g. 15m, 1h, 6h, 1d), not {text!r}")
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
    does not exist is a FileNotFoundError; a directory without recordings, a FileNotFoundError too."""
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and _is_recording_name(p.name))
            if not inside:
                raise FileNotFoundError(f"no *.ndjson or *.ndjson.gz file under {path}")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")
    return found


def _is_recording_name(name: str) -> bool:
    return name.endswith((".ndjson", ".ndjson.gz"))


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    """Every line of one recording file, parsed, in order.

    A file cut short by a crash (a gzip stream without its end, a last line without its newline) ends
    where the damage starts, with a WARNING; a line that is not a JSON object anywhere else is a
    RecordingError naming the file and line.
    """
    with _open_for_reading(path) as handle:
        number = 0
        while True:
            try:
                raw = handle.readline()
            except EOFError:  # a gzip stream without its trailer: the recorder did not finish it
                log.warning("%s ends early (the recorder was stopped abruptly); read up to there", path)
                return
            except (OSError, gzip.BadGzipFile) as exc:
                raise RecordingError(f"{path}: not a readable recording: {exc}") from None
            if not raw:
                return
            number += 1
            complete = raw.endswith(b"\n")
            try:
                line = json.loads(raw)
            except ValueError:
                if not complete:  # the last line, cut short
                    log.warning("%s: line %d is cut short; read up to it", path, number)
                    return
                raise RecordingError(f"{path}: line {number} is not JSON") from None
            if not isinstance(line, dict):
                raise RecordingError(f"{path}: line {number} is not a JSON object")
            yield line


def _open_for_reading(path: Path) -> BinaryIO:
    """The file's lines as bytes: gzip by its magic number, whatever its name."""
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return cast(BinaryIO, gzip.open(path, "rb"))
    return open(path, "rb")


# ---- writing --------------------------------------------------------------------------------------


class _File:
    """One open file of one type and period."""

    def __init__(self, path: Path, compress: str) -> None:
        self.path = path
        self.raw = open(path, "ab")  # noqa: SIM115 - closed by close()
        self.gzip = (gzip.GzipFile(fileobj=self.raw, mode="ab", compresslevel=6)
                     if compress == "gzip" else None)

    def write(self, data: bytes) -> None:
        (self.gzip or self.raw).write(data)

    def flush(self) -> None:
        if self.gzip is not None:
            self.gzip.flush()  # a sync flush: what is written so far can be decompressed
        self.raw.flush()

    def close(self) -> None:
        """Finish the file and make it durable: the gzip trailer, then flush and fsync."""
        try:
            if self.gzip is not None:
                self.gzip.close()  # writes the trailer; the raw file stays open
            self.raw.flush()
            os.fsync(self.raw.fileno())
        finally:
            self.raw.close()


@dataclass
class RecorderStats:
    """What the recorder has written so far (a copy: read it from any thread)."""

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
    thread. A write that fails (disk full, permissions) stops the writer; :attr:`failure` holds why.
    """

    def __init__(self, directory: str | os.PathLike[str], types: Sequence[str], *, period: int = 3_600,
                 compress: str = "gzip", clock: Callable[[], float] = time.time) -> None:
        if compress not in COMPRESSIONS:
            raise ValueError(f"compress must be one of {COMPRESSIONS}, not {compress!r}")
        self.directory = Path(directory)
        self.types = tuple(types)
        self.period = period
        self.compress = compress
        self.clock = clock
        self.failure: OSError | None = None
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_LINES)
        self._files: dict[str, tuple[str, _File]] = {}  # type -> (period name, its open file)
        self._stats = RecorderStats()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="upbit-record-writer", daemon=True)

    def start(self) -> Recorder:
        """Make the type folders (an OSError here means nothing could be recorded) and start writing."""
        for kind in self.types:
            (self.directory / kind).mkdir(parents=True, exist_ok=True)
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
        last_flush = time.monotonic()
        try:
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
        except OSError as exc:
            self.failure = exc
            log.error("recording stopped: %s", exc)
        finally:
            self._close_files()

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
            path = self._line(kind, item, now)
            with self._lock:
                self._stats.messages += 1
                self._stats.by_type[kind] = self._stats.by_type.get(kind, 0) + 1
                self._stats.current = path
            return
        kinds, event, line = entry
        paths = [self._line(kind, line, now) for kind in kinds]
        with self._lock:
            self._stats.current = paths[-1] if paths else self._stats.current
            if isinstance(event, Reconnected):
                self._stats.reconnects += 1
            else:
                self._stats.losses += 1
                self._stats.dropped += event.dropped

    def _line(self, kind: str, line: dict[str, Any], now: float) -> Path:
        data = json_line(line).encode("utf-8") + b"\n"
        handle = self._file(kind, now)
        handle.write(data)
        return handle.path

    def _file(self, kind: str, now: float) -> _File:
        name = period_name(now, self.period)
        opened = self._files.get(kind)
        if opened is not None and opened[0] == name:
            return opened[1]
        if opened is not None:
            opened[1].close()
        path = self.directory / kind / f"{name}{SUFFIXES[self.compress]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = _File(path, self.compress)
        self._files[kind] = (name, handle)
        _fsync_directory(path.parent)  # the new file's name is durable too
        with self._lock:
            if path not in self._stats.files:
                self._stats.files.append(path)
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
            except OSError as exc:
                self.failure = self.failure or exc
                log.error("could not finish %s: %s", handle.path, exc)


def _fsync_directory(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not possible everywhere (Windows): the file's own fsync still holds
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
