"""Candle history of every unit, paged backwards past Upbit's 200 per call, oldest first.

Paging (docs/trading.md): each call asks for the candles before ``to`` (exclusive), newest
first; the next ``to`` is the oldest start received plus ``Z``, and bars are kept by their start, so
none comes twice. Whether ``count`` counts candles or time slots is OPEN: under the second reading a
quiet stretch gives an empty page in mid-history, so an empty page moves ``to`` back by ``count``
units, at most :data:`EMPTY_PAGES` times in a row, before the history is taken to have ended (seconds
candles end for good three months back: Upbit keeps no more).
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from ..config import Config
from ..errors import InvalidRequestError
from ..protocol import market_codes
from ..types import CandleBar
from . import convert
from .transport import Transport, whole

CandleUnit = Literal["1s", "1m", "3m", "5m", "10m", "15m", "30m", "60m", "240m", "1d", "1w", "1M", "1y"]
# unit -> (path, length in seconds; None for calendar months and years)
UNITS: dict[str, tuple[str, int | None]] = {
    "1s": ("/v1/candles/seconds", 1),
    **{f"{n}m": (f"/v1/candles/minutes/{n}", n * 60) for n in (1, 3, 5, 10, 15, 30, 60, 240)},
    "1d": ("/v1/candles/days", 86_400), "1w": ("/v1/candles/weeks", 604_800),
    "1M": ("/v1/candles/months", None), "1y": ("/v1/candles/years", None),
}
PAGE = 200  # Upbit's most candles per call
EMPTY_PAGES = 3  # empty pages in a row, each stepping back a page's span, before history has ended
SECONDS_REACH = timedelta(days=90)  # seconds candles: only the last 3 months exist


def check_unit(unit: object) -> str:
    """``unit`` when it is one of :data:`UNITS`; InvalidRequestError naming it otherwise."""
    if not isinstance(unit, str) or unit not in UNITS:
        raise InvalidRequestError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}")
    return unit


def to_time(to: object) -> datetime | None:
    """``to`` as an aware UTC datetime: None, an aware datetime, or ISO text (no zone: UTC, as Upbit
    reads it). A naive datetime is refused: which zone would it be in?"""
    if to is None:
        return None
    if isinstance(to, str):
        try:
            found = datetime.fromisoformat(to.strip().replace("Z", "+00:00").replace(" ", "T", 1))
        except ValueError:
            raise InvalidRequestError(f"to must be an ISO date and time, not {to!r}") from None
        return (found if found.tzinfo is not None else found.replace(tzinfo=timezone.utc)).astimezone(
            timezone.utc)
    if isinstance(to, datetime):
        if to.tzinfo is None or to.utcoffset() is None:
            raise InvalidRequestError(f"to must be an aware datetime (with a tzinfo), not the naive {to!r}")
        return to.astimezone(timezone.utc)
    raise InvalidRequestError(f"to must be a datetime, ISO text or None, not {to!r}")


def wire_time(moment: datetime) -> str:
    """``moment`` as ``to`` is sent: whole seconds, rounded up (``to`` is exclusive), with ``Z``."""
    seconds = math.ceil(moment.timestamp())
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def step_back(moment: datetime, unit: str, n: int) -> datetime:
    """``n`` units before ``moment`` (calendar months and years for ``1M`` and ``1y``)."""
    seconds = UNITS[unit][1]
    if seconds is not None:
        return moment - timedelta(seconds=seconds * n)
    months = moment.year * 12 + moment.month - 1 - (n if unit == "1M" else 12 * n)
    year, month = divmod(months, 12)
    if year < 1:
        return datetime(1, 1, 1, tzinfo=timezone.utc)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def candle_bar(unit: str, n: convert.Num) -> Callable[[dict[str, Any]], CandleBar]:
    """The converter of one REST candle of ``unit``."""
    def bar(row: dict[str, Any]) -> CandleBar:
        return CandleBar(
            row["market"], unit, row["candle_date_time_utc"], row.get("candle_date_time_kst", ""),
            n(row["opening_price"]), n(row["high_price"]), n(row["low_price"]), n(row["trade_price"]),
            n(row["candle_acc_trade_volume"]), n(row["candle_acc_trade_price"]),
            int(row.get("timestamp") or 0), row)
    return bar


class CandleCalls:
    """RestClient's candle calls (mixed into :class:`~upbit_sync.rest.RestClient`)."""

    _transport: Transport
    config: Config

    def candles(self, market: str, unit: CandleUnit, count: int = 200,
                to: datetime | str | None = None) -> list[CandleBar]:
        """The last ``count`` candles of ``market`` before ``to`` (exclusive; None: up to now, the
        candle in progress included), oldest first, each once. ``unit``: ``"1s"``, ``"1m"``, ``"3m"``,
        ``"5m"``, ``"10m"``, ``"15m"``, ``"30m"``, ``"60m"``, ``"240m"``, ``"1d"``, ``"1w"``, ``"1M"``
        or ``"1y"``. ``count`` has no upper bound: past 200 the history is paged backwards (one call
        per 200). ``to``: an aware datetime or ISO text (no zone: UTC). A bucket without a trade has
        no candle; fewer than ``count`` come back when the history is shorter."""
        (code,) = market_codes([market])
        check_unit(unit)
        if not whole(count) or count < 1:
            raise InvalidRequestError(f"count must be a whole number >= 1, not {count!r}")
        cursor = to_time(to)
        path, _ = UNITS[unit]
        exact = self.config.decimal
        rows_to_bar = candle_bar(unit, convert.exact_num if exact else convert.num)
        found: dict[str, CandleBar] = {}
        want = min(PAGE, count)
        empty = 0
        while len(found) < count:
            if unit == "1s" and cursor is not None and cursor < datetime.now(timezone.utc) - SECONDS_REACH:
                break  # Upbit keeps three months of seconds candles: nothing older exists
            params: dict[str, Any] = {"market": code, "count": want}
            if cursor is not None:
                params["to"] = wire_time(cursor)
            rows = self._transport.call("GET", path, params, exact=exact)
            bars = convert.typed(rows_to_bar, rows)
            if not bars:  # not proof the history ended (count may count time slots): look further back
                empty += 1
                if empty > EMPTY_PAGES:
                    break
                cursor = step_back(cursor or datetime.now(timezone.utc), unit, want)
                continue
            empty = 0
            for bar in bars:
                if cursor is None or bar.start < cursor:
                    found.setdefault(bar.candle_date_time_utc, bar)
            oldest = min(bar.start for bar in bars)
            if cursor is not None and oldest >= cursor:
                break  # the page went no further back: nothing more to be had this way
            cursor = oldest
        newest = sorted(found.values(), key=lambda bar: bar.start)
        return newest[-count:]
