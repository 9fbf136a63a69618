"""The format of a recording, shared by its writer and its reader: the names of its files (one per
type and UTC period), its index lines, how a line is written, and its errors.

The recording itself is described in ``recording.py``, its public face.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import msgspec

from .errors import UpbitError
from .types import DataLoss, Event, MarketDelisted, MarketListed, Reconnected

COMPRESSIONS = ("gzip", "none")
SUFFIXES = {"gzip": ".ndjson.gz", "none": ".ndjson"}
FORMATS = ("ndjson", "parquet")  # ndjson: SUFFIXES; parquet: record_parquet.py
PARQUET_SUFFIX = ".parquet"
INDEX_SUFFIX = ".index.ndjson"  # beside each Parquet file: its index lines, as an NDJSON file holds them
NEEDS_PYARROW = "pip install 'upbit-sync[parquet]'"
# an open period's Parquet rows, spooled until it closes: <period>.spool-<id>.arrows (record_parquet.py)
SPOOL_NAME = re.compile(r"(.+)\.spool-([0-9a-f]{8,32})\.arrows")
INDEX_KEY = "_event"
DAY = 86_400
ACCOUNT_TYPES = frozenset({"myOrder", "myAsset"})  # the account's own orders and balances: owner-only files

_PERIOD = re.compile(r"([1-9][0-9]*)([mhd])")
_UNIT_SECONDS = {"m": 60, "h": 3_600, "d": DAY}


class RecordingError(UpbitError, ValueError):
    """A recording that cannot be written (a refused path, a failed write) or holds nothing readable;
    a bad period or compression."""


def check_readable(problems: list[str], readable: bool) -> None:
    """RecordingError naming the first problems when none of a recording's files held anything
    readable (each file's problem: a bad line, a corrupt member, an unreadable file)."""
    if problems and not readable:
        more = f"; and {len(problems) - 3} more file(s)" if len(problems) > 3 else ""
        raise RecordingError(f"nothing readable in the recording: {'; '.join(problems[:3])}{more}")


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


IndexEvent = Reconnected | DataLoss | MarketListed | MarketDelisted  # what an index line records
_LISTINGS: dict[str, type[MarketListed] | type[MarketDelisted]] = {
    "MarketListed": MarketListed, "MarketDelisted": MarketDelisted}


def index_line(event: IndexEvent, at: float) -> dict[str, Any]:
    """The index line for a gap, or a market listed or delisted (``record --follow``): when it
    happened (``at``, epoch seconds) and what the SDK said."""
    if isinstance(event, (MarketListed, MarketDelisted)):
        return {INDEX_KEY: type(event).__name__, "connection": event.connection, "type": event.type,
                "market": event.market, "quote": event.quote, "korean_name": event.korean_name,
                "english_name": event.english_name, "at": at}
    if isinstance(event, Reconnected):
        return {INDEX_KEY: "Reconnected", "connection": event.connection, "downtime_s": event.downtime_s,
                "trades_may_be_missing": event.trades_may_be_missing, "at": at}
    return {INDEX_KEY: "DataLoss", "connection": event.connection, "type": event.type, "code": event.code,
            "dropped": event.dropped, "policy": event.policy, "reason": event.reason, "at": at}


def index_event(line: dict[str, Any]) -> Event | None:
    """The event an index line records (``at`` becomes a listing's ``at``), or None for a line that
    is no index line or one of a kind or shape this version does not know."""
    kind = line.get(INDEX_KEY)
    try:
        if kind == "Reconnected":
            return Reconnected(line["connection"], float(line["downtime_s"]),
                               bool(line["trades_may_be_missing"]))
        if kind == "DataLoss":
            return DataLoss(line["connection"], line["type"], line["code"], int(line["dropped"]),
                            line["policy"], line.get("reason", ""))
        if kind in _LISTINGS:
            return _LISTINGS[kind](line["connection"], line["type"], line["market"], line["quote"],
                                   line.get("korean_name"), line.get("english_name"), float(line["at"]))
    except (KeyError, TypeError, ValueError):
        return None
    return None


_EXACT_JSON = msgspec.json.Encoder(decimal_format="number")


def json_line(line: dict[str, Any]) -> str:
    """One message or index line as compact JSON; a ``Decimal`` (``Config(decimal=True)``) is written
    as the number it is, digit for digit (json.dumps knows no Decimal: only such lines take the
    other encoder)."""
    try:
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))
    except TypeError:
        return _EXACT_JSON.encode(line).decode("utf-8")


def is_columnar(name: str) -> bool:
    """Whether a file name is a Parquet recording file or its spool (read through pyarrow)."""
    return name.endswith(PARQUET_SUFFIX) or SPOOL_NAME.fullmatch(name) is not None


def is_index(line: dict[str, Any]) -> bool:
    """Whether a line of a recording is an index line rather than a message."""
    return INDEX_KEY in line


def reason_of(error: OSError) -> str:
    """An OSError in a few words ("No space left on device"), without the errno and the path."""
    return error.strerror or str(error)
