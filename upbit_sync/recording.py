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

``record --follow`` also marks each market listed or delisted while it ran, in the file of the
type it was followed for (:func:`index_event` reads any index line back as its event)::

    {"_event": "MarketListed", "connection": "public", "type": "trade", "market": "KRW-NEW",
     "quote": "KRW", "korean_name": "...", "english_name": "...", "at": 1796141824.5}
    {"_event": "MarketDelisted", ...the same fields}

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

With ``format="parquet"`` (``--format parquet``) each type and period is one Parquet file instead,
``DIR/trade/20261201-15.parquet``, with typed columns, its index lines beside it in
``20261201-15.index.ndjson`` and, while its period is open, its rows in a spool
``20261201-15.spool-<id>.arrows`` (``record_parquet.py`` says how a crash is survived).
:func:`read_recording` reads either format (and spools) into pyarrow Tables or pandas DataFrames with
the same columns; :func:`read_lines` and replay read them too.

This module is the recording's public face and its reader; the format's names are in
``record_format.py``, the writer in ``recorder.py``, the files it writes in ``record_files.py``, and
Parquet in ``record_parquet.py``, imported only when a Parquet file is met (every name other code
imports is importable from here).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, cast, overload

from .errors import InvalidRequestError
from .protocol import ALL_TYPES
from .record_format import (
    ACCOUNT_TYPES,
    COMPRESSIONS,
    DAY,
    FORMATS,
    INDEX_KEY,
    SUFFIXES,
    RecordingError,
    RecordingNotFound,
    check_readable,
    index_event,
    index_line,
    is_columnar,
    is_index,
    json_line,
    parse_period,
    period_name,
    reason_of,
)
from .recorder import FLUSH_INTERVAL, QUEUE_LINES, Recorder, RecorderStats

if TYPE_CHECKING:  # for the annotations only: both are imported when read_recording runs
    import pandas
    import pyarrow

__all__ = [
    "ACCOUNT_TYPES", "COMPRESSIONS", "DAY", "FLUSH_INTERVAL", "FORMATS", "INDEX_KEY", "MAX_LINE",
    "QUEUE_LINES", "SUFFIXES", "ReadReport", "Recorder", "RecorderStats", "RecordingError",
    "RecordingNotFound", "check_readable", "index_event", "index_line", "is_index", "json_line",
    "parse_period", "period_name", "read_lines", "read_recording", "recording_files",
]

log = logging.getLogger(__name__)

MAX_LINE = 16 * 1024 * 1024  # bytes: a longer line is skipped unread (a few kB of gzip can inflate to GBs)
_SKIP_PIECE = 64 * 1024  # bytes read at a time while skipping a line over MAX_LINE
_NAMED = 5  # bad lines a file's warning names; the rest are counted


# ---- reading --------------------------------------------------------------------------------------


def recording_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The files ``paths`` name, in the order given; a directory stands for every ``*.ndjson``,
    ``*.ndjson.gz``, ``*.parquet`` and spool file under it, by path (so each type's periods come in
    time order). A path that does not exist, or a directory without recordings, is a
    :class:`RecordingNotFound`."""
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and _is_recording_name(p.name))
            if not inside:
                raise RecordingNotFound(f"no recording file (*.ndjson, *.ndjson.gz, *.parquet) under {path}")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise RecordingNotFound(f"no such file or directory: {path}")
    return found


def _is_recording_name(name: str) -> bool:
    return name.endswith((".ndjson", ".ndjson.gz")) or is_columnar(name)


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
    its end or at a last line cut short (these two: a recorder stopped abruptly). A Parquet file or
    spool gives its rows as the lines NDJSON holds (a ConfigError without pyarrow); a spool ends at a
    batch cut short, and one already merged into its Parquet file gives nothing.
    """
    report = report if report is not None else ReadReport(path)
    try:
        if is_columnar(path.name):
            yield from _columnar(path, report)
        else:
            yield from _parse(path, report)
    finally:
        if report.problem is not None:
            log.warning("%s", report.problem)


def _parse(path: Path, report: ReadReport) -> Iterator[dict[str, Any]]:
    try:
        handle = _open_for_reading(path)
    except OSError as exc:
        report.ended = f"not readable ({reason_of(exc)})"
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


def _columnar(path: Path, report: ReadReport) -> Iterator[dict[str, Any]]:
    from . import record_parquet

    record_parquet.require(f"reading {path}")
    table, report.ended = record_parquet.read_table(path)
    if table is not None:
        for row in record_parquet.rows_of(table):
            report.lines += 1
            yield row


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



# ---- into tables ---------------------------------------------------------------------------------

PathArg = str | os.PathLike[str]


@overload
def read_recording(paths: PathArg | Iterable[PathArg], *, types: str,
                   output: Literal["arrow"] = "arrow") -> pyarrow.Table: ...
@overload
def read_recording(paths: PathArg | Iterable[PathArg], *, types: str,
                   output: Literal["pandas"]) -> pandas.DataFrame: ...
@overload
def read_recording(paths: PathArg | Iterable[PathArg], *, types: Sequence[str] | None = None,
                   output: Literal["arrow"] = "arrow") -> dict[str, pyarrow.Table]: ...
@overload
def read_recording(paths: PathArg | Iterable[PathArg], *, types: Sequence[str] | None = None,
                   output: Literal["pandas"]) -> dict[str, pandas.DataFrame]: ...
def read_recording(paths: PathArg | Iterable[PathArg], *, types: str | Sequence[str] | None = None,
                   output: str = "arrow") -> Any:
    """A recording as tables, whichever format wrote it: NDJSON (``.ndjson``, ``.ndjson.gz``), Parquet
    and the spools of a Parquet recording still open or stopped abruptly, or directories of them.

    ``types`` as one name (``"trade"``) gives that type's table; a list of names, or None for every
    type found, gives a dict type -> table. A type's table has the same columns whichever format
    wrote it (``record_parquet.py``: DEFAULT field names, times as UTC timestamps, orderbook units as
    a list column, ``received_at``, ``_extra``), its rows in file order (files by path: time order);
    a type named but not found is an empty table. ``output="pandas"`` gives DataFrames instead.
    Index lines (the gaps) are not rows: :func:`read_lines` reads them. Damage is skipped as replay
    skips it (one warning per damaged file). Needs pyarrow (the ``parquet`` extra), and pandas for
    ``output="pandas"``: a ConfigError naming the extra otherwise. A path that is not there is a
    RecordingNotFound, a recording with nothing readable a RecordingError; a bad argument an
    InvalidRequestError naming it."""
    if output not in ("arrow", "pandas"):
        raise InvalidRequestError(f"output must be 'arrow' or 'pandas', not {output!r}")
    wanted = _types_wanted(types)
    from . import record_parquet

    record_parquet.require("read_recording")
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    tables: dict[str, list[Any]] = {kind: [] for kind in wanted or ()}
    problems: list[str] = []
    readable = False
    for path in recording_files(items):
        report = ReadReport(path)
        if is_columnar(path.name):
            kind = record_parquet.kind_of(path)
            if wanted is not None and kind is not None and kind not in wanted:
                continue
            table, report.ended = record_parquet.read_table(path)
            if report.problem is not None:
                log.warning("%s", report.problem)
            kind = kind or (path.parent.name if path.parent.name in ALL_TYPES else None)
            if table is not None and kind is not None:
                tables.setdefault(kind, []).append(table)
                readable = readable or table.num_rows > 0
        else:
            rows: dict[str, list[dict[str, Any]]] = {}
            for line in read_lines(path, report):
                kind = line.get("type")
                if not is_index(line) and isinstance(kind, str) and (wanted is None or kind in wanted):
                    rows.setdefault(kind, []).append(line)
            for kind, found in rows.items():
                tables.setdefault(kind, []).append(record_parquet.table_of(kind, found))
            readable = readable or report.lines > 0
        if report.problem is not None:
            problems.append(report.problem)
    check_readable(problems, readable)
    result = {kind: record_parquet.combine(kind, found) for kind, found in tables.items()}
    if output == "pandas":
        result = {kind: record_parquet.to_pandas(table) for kind, table in result.items()}
    return result[types] if isinstance(types, str) else result


def _types_wanted(types: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if types is None:
        return None
    names = [types] if isinstance(types, str) else types
    if not isinstance(names, Sequence) or not names or not all(isinstance(n, str) for n in names):
        raise InvalidRequestError(f"types must be a type name or a list of them, not {types!r}")
    unknown = [name for name in names if name not in ALL_TYPES]
    if unknown:
        raise InvalidRequestError(f"types: {', '.join(map(repr, unknown))} is no message type; "
                                  f"one of {', '.join(ALL_TYPES)}")
    return tuple(dict.fromkeys(names))
