"""Recordings in Parquet (``upbit-sync record --format parquet``, ``Recorder(format="parquet")``; the
``parquet`` extra): one file per type and period with typed columns, written so that a crash loses at
most the last flush. The one module that imports pyarrow; the rest of the SDK imports it only when
asked for Parquet, so the SDK works without pyarrow.

**Columns**, the same for every file of a type, derived from its message class (``types/``): ``type``,
then one column per field by its DEFAULT name, in field order: integers int64, except the epoch
millisecond times (:data:`TIME_MS`) which are timestamp[ms, UTC]; figures float64 (a ``Decimal`` of
``Config(decimal=True)`` becomes a float); enums and text string; flags bool; the nested lists
(``orderbook_units``, ``assets``) list<struct>; an indicator's ``params`` and ``value`` JSON text.
Then ``received_at`` (the SDK's receipt time, timestamp[us, UTC]) and ``_extra``: the keys of a line no
column holds, or whose value does not fit its column, as a JSON object (null when none), so nothing a
message held is lost. NDJSON lines read by ``read_recording`` take the same conversion
(:func:`to_batch`): both formats give the same table.

**Crash safety.** A Parquet file is readable only once its footer is written, at close. So while a
period is open its rows go to a spool beside it, ``<period>.spool-<id>.arrows``: an Arrow IPC stream,
one record batch per flush, handed to the OS at once, so after a ``kill -9`` a reader gets every batch
but a last one cut short. When the period ends (and at a clean stop) the spool becomes the period's
``.parquet`` (after what a file there holds already, such as an earlier run's rows of that hour):
written under a temporary name, fsynced, renamed over it, then the spool removed. The Parquet file's
metadata lists the spools merged into it, so a spool that outlived its merge (a crash between the
rename and the removal) is never read twice. The next recorder's start finishes the spools a crashed
run left (:func:`recover`); ``read_recording`` and ``replay`` read them as they are meanwhile.

Index lines (``Reconnected``, ``DataLoss``) go to ``<period>.index.ndjson`` beside the Parquet file,
exactly as an NDJSON recording holds them, so one reader serves both.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from .errors import ConfigError
from .protocol import CLASSES, INFO_CLASSES
from .record_files import RecordFile, create_new, open_existing, sync_folder
from .record_format import (
    INDEX_SUFFIX,
    NEEDS_PYARROW,
    PARQUET_SUFFIX,
    SPOOL_NAME,
    RecordingError,
    json_line,
    reason_of,
)

try:
    import pyarrow as pa
    import pyarrow.ipc
    import pyarrow.parquet as pq
except ImportError:  # the parquet extra is not installed: require() says so
    AVAILABLE = False
else:
    AVAILABLE = True
    _BAD_VALUE = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, TypeError)
    _FILE_ERRORS = (OSError, pa.ArrowException)

log = logging.getLogger("upbit_sync.recording")  # the recording's one logger, whichever module speaks

EXTRA = "_extra"
TIME_MS = frozenset({"timestamp", "trade_timestamp", "asset_timestamp", "order_timestamp"})
ROW_GROUP = 65_536  # rows per row group of a finished file
BATCH_ROWS = 10_000  # rows an open period holds before it spools them without waiting for the flush
COMPRESSION = "zstd"
_TYPE_KEY = b"upbit_sync.type"
_SPOOL_KEY = b"upbit_sync.spool"
_MERGED_KEY = b"upbit_sync.merged"
_JSON = {b"upbit_sync.json": b"1"}  # a column of JSON text, decoded again for replay


def require(what: str) -> None:
    """A ConfigError naming the extra when pyarrow is missing."""
    if not AVAILABLE:
        raise ConfigError(f"{what} needs pyarrow: {NEEDS_PYARROW}")


def has_columns(kind: str) -> bool:
    """Whether a message type has Parquet columns (every type the SDK subscribes to has)."""
    return kind in CLASSES or kind in INFO_CLASSES


# ---- columns ------------------------------------------------------------------------------------


@cache
def schema_of(kind: str) -> Any:
    """The columns of one message type (see the module docstring)."""
    cls = CLASSES.get(kind) or INFO_CLASSES.get(kind)
    if cls is None:
        raise RecordingError(f"no Parquet columns for type {kind!r}")
    fields = [pa.field("type", pa.string())]
    for item in msgspec.structs.fields(cls):
        if item.name != "received_at":
            try:
                fields.append(_field(item.name, msgspec.inspect.type_info(item.type)))
            except TypeError:  # a union msgspec cannot describe (an indicator's records): JSON text
                fields.append(pa.field(item.name, pa.string(), metadata=_JSON))
    fields += [pa.field("received_at", pa.timestamp("us", tz="UTC")), pa.field(EXTRA, pa.string())]
    return pa.schema(fields, metadata={_TYPE_KEY: kind.encode()})


def _field(name: str, kind: Any) -> Any:
    inspect = msgspec.inspect
    if isinstance(kind, inspect.UnionType):
        kinds = [k for k in kind.types if not isinstance(k, inspect.NoneType)]
        if len(kinds) == 1:
            return _field(name, kinds[0])
        if all(isinstance(k, (inspect.StrType, inspect.EnumType)) for k in kinds):
            return pa.field(name, pa.string())
    elif isinstance(kind, inspect.BoolType):
        return pa.field(name, pa.bool_())
    elif isinstance(kind, inspect.IntType):
        return pa.field(name, pa.timestamp("ms", tz="UTC") if name in TIME_MS else pa.int64())
    elif isinstance(kind, inspect.FloatType):
        return pa.field(name, pa.float64())
    elif isinstance(kind, (inspect.StrType, inspect.EnumType)):
        return pa.field(name, pa.string())
    elif (isinstance(kind, (inspect.VarTupleType, inspect.ListType))
          and isinstance(kind.item_type, inspect.StructType)):
        inner = [_field(item.name, item.type) for item in kind.item_type.fields]
        if not any(field.metadata for field in inner):
            return pa.field(name, pa.list_(pa.struct(inner)))
    return pa.field(name, pa.string(), metadata=_JSON)


@cache
def _names(kind: str) -> frozenset[str]:
    return frozenset(schema_of(kind).names)


def to_batch(kind: str, rows: Sequence[dict[str, Any]]) -> Any:
    """Lines of one type (DEFAULT keys, as NDJSON holds them) as a record batch of its columns."""
    schema = schema_of(kind)
    known = _names(kind)
    extras: list[dict[str, Any] | None] = [
        {k: v for k, v in row.items() if k not in known} or None for row in rows]
    arrays = [_array(field, [row.get(field.name) for row in rows], extras)
              for field in schema if field.name != EXTRA]
    arrays.append(pa.array([None if extra is None else json_line(extra) for extra in extras], pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _array(field: Any, values: list[Any], extras: list[dict[str, Any] | None]) -> Any:
    """One column; a value that does not fit it is null there and kept in its row's ``_extra``."""
    if field.metadata == _JSON:
        return pa.array([None if v is None else json_line(v) for v in values], pa.string())
    if field.name == "received_at":
        values = [round(float(v) * 1e6) if _number(v) else v for v in values]
    try:
        return pa.array(values, field.type)
    except _BAD_VALUE:
        pass
    plain = [_plain(v) for v in values]  # Decimals as floats, at any depth
    try:
        return pa.array(plain, field.type)
    except _BAD_VALUE:
        pass
    fitted: list[Any] = []
    for number, value in enumerate(plain):
        try:
            pa.array([value], field.type)
            fitted.append(value)
        except _BAD_VALUE:
            fitted.append(None)
            extras[number] = {**(extras[number] or {}), field.name: values[number]}
    return pa.array(fitted, field.type)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def rows_of(table: Any) -> Iterator[dict[str, Any]]:
    """A table of recorded messages as the lines NDJSON holds (DEFAULT keys, times as numbers:
    milliseconds, and ``received_at`` in seconds), null values left out: what replay plays."""
    columns: dict[str, list[Any]] = {}
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            values = column.cast(pa.int64()).to_pylist()
            if field.name == "received_at":
                values = [None if v is None else v / 1e6 for v in values]
        elif field.metadata == _JSON:
            values = [None if v is None else json.loads(v) for v in column.to_pylist()]
        else:
            values = column.to_pylist()
        columns[field.name] = values
    extra = columns.pop(EXTRA, None)
    for number in range(table.num_rows):
        row = {name: values[number] for name, values in columns.items() if values[number] is not None}
        if extra is not None and extra[number] is not None:
            row.update(json.loads(extra[number]))
        yield row


def table_of(kind: str, rows: Sequence[dict[str, Any]]) -> Any:
    """Lines of one type as a table: its columns when the SDK knows the type, else as pyarrow infers."""
    if has_columns(kind):
        return pa.Table.from_batches([to_batch(kind, rows)], schema=schema_of(kind))
    return pa.Table.from_pylist(list(rows))


def combine(kind: str, tables: Sequence[Any]) -> Any:
    """The tables of one type, one after the other (an empty one of its columns for none)."""
    if not tables:
        return schema_of(kind).empty_table() if has_columns(kind) else pa.table({})
    if has_columns(kind):
        return pa.concat_tables(tables)
    return pa.concat_tables(tables, promote_options="permissive")


def to_pandas(table: Any) -> Any:
    """A table as a pandas DataFrame (the pandas extra)."""
    try:
        return table.to_pandas()
    except ImportError:
        raise ConfigError("read_recording(output='pandas') needs pandas: "
                          "pip install 'upbit-sync[pandas]'") from None


def _conform(data: Any, schema: Any) -> Any:
    """A batch or table of another version's columns as this version's (missing ones null)."""
    if data.schema.remove_metadata().equals(schema.remove_metadata()):
        return data.replace_schema_metadata(schema.metadata)
    arrays = [data.column(field.name).cast(field.type) if field.name in data.schema.names
              else pa.nulls(data.num_rows, field.type) for field in schema]
    maker = pa.Table if isinstance(data, pa.Table) else pa.RecordBatch
    return maker.from_arrays(arrays, schema=schema)


# ---- reading -----------------------------------------------------------------------------------


def kind_of(path: Path) -> str | None:
    """The type a Parquet file or spool holds, from its metadata (None: unreadable or not ours)."""
    try:
        with open_existing(path) as handle:
            schema = (pq.read_schema(handle) if path.name.endswith(PARQUET_SUFFIX)
                      else pa.ipc.open_stream(handle).schema)
    except (*_FILE_ERRORS, RecordingError):
        return None
    value = (schema.metadata or {}).get(_TYPE_KEY)
    return value.decode() if value else None


def read_table(path: Path) -> tuple[Any, str | None]:
    """A Parquet file or spool as a table of its type's columns, and what kept it from being read whole
    (None when nothing did). A spool already merged into its period's Parquet file reads as nothing."""
    spool = SPOOL_NAME.fullmatch(path.name)
    try:
        if spool is None:
            with open_existing(path) as handle:
                table = pq.read_table(handle)
            problem = None
        else:
            if spool.group(2) in _merged(path.with_name(spool.group(1) + PARQUET_SUFFIX)):
                return None, None
            with open_existing(path) as handle:
                schema, batches, problem = _read_spool(handle)
            if schema is None:
                return None, problem
            table = pa.Table.from_batches(batches, schema=schema)
    except (*_FILE_ERRORS, RecordingError) as exc:
        return None, f"not a readable {'spool' if spool else 'Parquet file'} ({_why(exc)}): skipped"
    kind = (table.schema.metadata or {}).get(_TYPE_KEY, b"").decode()
    if has_columns(kind):
        table = _conform(table, schema_of(kind))
    return table, problem


def _read_spool(handle: BinaryIO) -> tuple[Any, list[Any], str | None]:
    """A spool's schema and whole batches; where it was cut short, the problem."""
    try:
        reader = pa.ipc.open_stream(handle)
    except _FILE_ERRORS:
        return None, [], "holds nothing (the recorder stopped before its first flush)"
    batches: list[Any] = []
    while True:
        try:
            batches.append(reader.read_next_batch())
        except StopIteration:
            return reader.schema, batches, None
        except _FILE_ERRORS:
            rows = sum(batch.num_rows for batch in batches)
            return reader.schema, batches, (f"cut short after row {rows} (the recorder was stopped "
                                            "abruptly): read up to there")


def _merged(target: Path) -> list[str]:
    """The spools merged into a Parquet file ([] when there is none)."""
    if not target.exists() and not target.is_symlink():
        return []
    with open_existing(target) as handle:
        metadata = pq.read_schema(handle).metadata or {}
    merged = json.loads(metadata.get(_MERGED_KEY, b"[]"))
    return [str(item) for item in merged] if isinstance(merged, list) else []


def _why(error: BaseException) -> str:
    return reason_of(error) if isinstance(error, OSError) else str(error)


# ---- writing -----------------------------------------------------------------------------------


def _ignore(count: int) -> None:
    """Index lines count as no messages."""


class HourFile:
    """The open Parquet file of one type and period (``path``, the file it becomes): its rows are
    spooled at each :meth:`flush` and become the Parquet file at :meth:`close`. Messages count as
    written (``on_written``) once their batch is in the spool where a reader gets it back."""

    def __init__(self, path: Path, kind: str, private: bool, on_written: Callable[[int], None]) -> None:
        self.path = path
        self.kind = kind
        self.private = private
        self.on_written = on_written
        spool_id = uuid.uuid4().hex[:16]
        self.spool = path.with_name(f"{_stem(path)}.spool-{spool_id}.arrows")
        self._rows: list[dict[str, Any]] = []
        self._index: RecordFile | None = None
        self._closed = False
        schema = schema_of(kind)
        self._out = create_new(self.spool, private)
        try:
            self._writer = pa.ipc.new_stream(
                self._out, schema.with_metadata({**schema.metadata, _SPOOL_KEY: spool_id.encode()}))
            self._out.flush()
        except _FILE_ERRORS as exc:
            self._out.close()
            raise RecordingError(f"{self.spool}: {_why(exc)}") from exc

    def add(self, line: dict[str, Any], *, message: bool) -> None:
        """A message (a row, spooled at the next flush) or an index line (to the index file)."""
        if self._closed:
            return
        if message:
            self._rows.append(line)
            if len(self._rows) >= BATCH_ROWS:
                self._spool()
            return
        if self._index is None:
            index = self.path.with_name(_stem(self.path) + INDEX_SUFFIX)
            self._index = RecordFile(index, "none", self.private, _ignore)
        self._index.add(line, message=False)

    def flush(self) -> None:
        """The rows held so far into the spool, as one batch, and to the OS; the index lines too."""
        if self._closed:
            return
        self._spool()
        if self._index is not None:
            self._index.flush()

    def close(self) -> None:
        """Spool what is held, finish the spool, make it the period's Parquet file. Idempotent."""
        if self._closed:
            return
        try:
            self._spool()
            self._writer.close()
            self._out.flush()
            os.fsync(self._out.fileno())
        except _FILE_ERRORS as exc:
            raise RecordingError(f"{self.spool}: {_why(exc)}") from exc
        finally:
            self._closed = True
            self._out.close()
            if self._index is not None:
                self._index.close()
        finish(self.spool, self.path, self.private)

    def _spool(self) -> None:
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        try:
            self._writer.write_batch(to_batch(self.kind, rows))
            self._out.flush()
        except _FILE_ERRORS as exc:
            self._closed = True
            self._out.close()
            raise RecordingError(f"{self.spool}: {_why(exc)}") from exc
        self.on_written(len(rows))


def _stem(path: Path) -> str:
    return path.name[: -len(PARQUET_SUFFIX)]


class _Groups:
    """Batches gathered into row groups of about :data:`ROW_GROUP` rows."""

    def __init__(self, writer: Any, schema: Any) -> None:
        self.writer = writer
        self.schema = schema
        self.held: list[Any] = []
        self.rows = 0

    def add(self, batch: Any) -> None:
        self.held.append(_conform(batch, self.schema))
        self.rows += batch.num_rows
        if self.rows >= ROW_GROUP:
            self.close()

    def close(self) -> None:
        if self.held:
            self.writer.write_table(pa.Table.from_batches(self.held, schema=self.schema),
                                    row_group_size=ROW_GROUP)
        self.held, self.rows = [], 0


def finish(spool: Path, target: Path, private: bool) -> int:
    """Make the period's Parquet file ``target`` from a spool, after what ``target`` holds already;
    atomically (a temporary file renamed over it), then remove the spool. Returns the rows taken."""
    match = SPOOL_NAME.fullmatch(spool.name)
    spool_id = match.group(2) if match else spool.name
    merged = _merged(target)
    had_target = target.exists()
    rows = 0
    if spool_id not in merged:
        temporary = target.with_name(target.name + ".tmp")
        temporary.unlink(missing_ok=True)  # a crashed finish's
        with open_existing(spool) as handle:
            schema, batches, problem = _read_spool(handle)
        rows = sum(batch.num_rows for batch in batches)
        if problem is not None:
            log.warning("%s: %s", spool, problem)
        kind = (schema.metadata or {}).get(_TYPE_KEY, b"").decode() if schema is not None else ""
        if rows and has_columns(kind):
            _write(temporary, target if had_target else None, batches, kind, [*merged, spool_id], private)
            os.replace(temporary, target)
            sync_folder(target.parent)
    spool.unlink(missing_ok=True)
    sync_folder(spool.parent)
    return rows


def _write(temporary: Path, earlier: Path | None, batches: Iterable[Any], kind: str, merged: list[str],
           private: bool) -> None:
    schema = schema_of(kind)
    schema = schema.with_metadata({_TYPE_KEY: kind.encode(), _MERGED_KEY: json.dumps(merged).encode()})
    with create_new(temporary, private) as out:
        writer = pq.ParquetWriter(out, schema, compression=COMPRESSION)
        groups = _Groups(writer, schema)
        if earlier is not None:
            with open_existing(earlier) as handle:
                for batch in pq.ParquetFile(handle).iter_batches(ROW_GROUP):
                    groups.add(batch)
        for batch in batches:
            groups.add(batch)
        groups.close()
        writer.close()
        out.flush()
        os.fsync(out.fileno())


def recover(folder: Path, private: bool) -> None:
    """Finish the spools a recorder that stopped abruptly left in a type's folder (each into its
    period's Parquet file), and remove the temporary files of a finish it did not complete. One that
    cannot be finished is left as it is, with a warning: readers still read it."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return
    for name in names:
        if name.endswith(PARQUET_SUFFIX + ".tmp"):
            (folder / name).unlink(missing_ok=True)
    for name in names:
        match = SPOOL_NAME.fullmatch(name)
        if match is None:
            continue
        spool = folder / name
        try:
            rows = finish(spool, folder / (match.group(1) + PARQUET_SUFFIX), private)
        except (*_FILE_ERRORS, RecordingError) as exc:
            log.warning("could not finish %s, left by a recorder that stopped abruptly (%s): it stays "
                        "and is read as it is", spool, _why(exc))
            continue
        log.warning("finished %s, left by a recorder that stopped abruptly: %d rows into %s%s",
                    spool, rows, match.group(1), PARQUET_SUFFIX)
