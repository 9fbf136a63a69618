"""The fake exchange's candle history: REST's candles of every unit, from the same trades as the
WebSocket ``candle.*`` messages, over a deterministic synthetic past.

A code's series is cut at the bucket its simulated market was born in (first touched, see
:meth:`MarketSimulator.born`):

- from that bucket on, each bar is the simulator's trades of the bucket, added up in trade order
  exactly as the WebSocket candle of that bucket was (so the last ``candle.*`` message of a bucket and
  REST's bar of it are equal); a bucket without a trade has no bar. The history keeps the last
  ``TRADE_HISTORY`` trades: buckets older than the oldest kept trade have no bar either.
- before it, a synthetic past: a price curve fixed by the simulator's seed and the code (a sum of
  waves from minutes to a year long, meeting the market's anchor price at its birth), each bar's
  open and close read off the curve at the bucket's ends, its high, low and volume from a draw seeded
  by the bucket (the curve bends to meet the anchor over the hours before the birth; a day back, it
  is the seed's alone). Every bucket has a bar, back to :data:`LISTED`, except those wholly inside a quiet
  period (``FakeUpbitServer.quiet_period``). Seconds bars reach back :data:`SECONDS_REACH` only.

``count`` counts returned candles or time slots (docs/trading.md, OPEN): the fake does either,
as ``FakeUpbitServer.candle_count`` says.
"""

from __future__ import annotations

import bisect
import calendar
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .market import MarketSimulator, TradeRecord, tick_size

LISTED = int(datetime(2017, 10, 24, tzinfo=timezone.utc).timestamp())  # Upbit opened for trading
SECONDS_REACH = 90 * 86_400  # seconds candles: only the last 3 months (docs/trading.md)
_WEEK_ORIGIN = 4 * 86_400  # 1970-01-05, a Monday: weeks start on Monday (UTC)
_KST = timezone(timedelta(hours=9))
_VOLUME_DIGITS = 8
# (period in seconds, amplitude of log price): the synthetic past's waves
_WAVES = ((420.0, 0.0015), (3_180.0, 0.004), (21_960.0, 0.012), (285_120.0, 0.03),
          (3_542_400.0, 0.08), (34_700_000.0, 0.25))
_BEND = 3600.0  # seconds: how fast the past's bend towards the anchor price fades going back
_TYPICAL_NOTIONAL = {"KRW": 200_000.0, "BTC": 0.003, "USDT": 150.0}  # per trade, one a second


@dataclass(frozen=True)
class Period:
    """A candle unit: ``seconds`` long, or a calendar month or year (``seconds`` None). Buckets are
    aligned to the epoch in UTC; weeks start on Monday, months and years on their first day (UTC)."""

    name: str
    seconds: int | None

    def floor(self, t: int) -> int:
        """The start of the bucket holding second ``t``."""
        if self.seconds == 604_800:
            return (t - _WEEK_ORIGIN) // 604_800 * 604_800 + _WEEK_ORIGIN
        if self.seconds is not None:
            return t // self.seconds * self.seconds
        moment = datetime.fromtimestamp(t, tz=timezone.utc)
        month = moment.month if self.name == "1M" else 1
        return calendar.timegm((moment.year, month, 1, 0, 0, 0))

    def shift(self, start: int, n: int) -> int:
        """The start of the bucket ``n`` buckets after the one starting at ``start`` (n < 0: before)."""
        if self.seconds is not None:
            return start + n * self.seconds
        moment = datetime.fromtimestamp(start, tz=timezone.utc)
        months = moment.year * 12 + moment.month - 1 + (n if self.name == "1M" else 12 * n)
        return calendar.timegm((months // 12, months % 12 + 1, 1, 0, 0, 0))


PERIODS: dict[str, Period] = {name: Period(name, seconds) for name, seconds in (
    ("1s", 1), ("1m", 60), ("3m", 180), ("5m", 300), ("10m", 600), ("15m", 900), ("30m", 1800),
    ("60m", 3600), ("240m", 14_400), ("1d", 86_400), ("1w", 604_800), ("1M", None), ("1y", None))}


@dataclass
class Bar:
    """One bucket's candle; ``last_ms`` is the time of its last trade."""

    start: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    value: float
    last_ms: int


def aggregate(trades: Sequence[TradeRecord], start: int) -> Bar:
    """The bar of ``trades`` (one bucket's, oldest first), added up as the WebSocket candle is."""
    first = trades[0]
    bar = Bar(start, first.trade_price, first.trade_price, first.trade_price, first.trade_price,
              first.trade_volume, first.trade_price * first.trade_volume, first.timestamp)
    for trade in trades[1:]:
        price, volume = trade.trade_price, trade.trade_volume
        bar.high = max(bar.high, price)
        bar.low = min(bar.low, price)
        bar.close = price
        bar.volume += volume
        bar.value += price * volume
        bar.last_ms = trade.timestamp
    return bar


class CandleHistory:
    """The bars of one code and unit, newest first, from its trades and its synthetic past."""

    def __init__(self, simulator: MarketSimulator, code: str, period: Period,
                 quiet: Sequence[tuple[float, float]], now: float) -> None:
        self.code, self.period, self.quiet, self.now = code, period, tuple(quiet), now
        self.born = simulator.born(code)
        self.seed = simulator.seed
        self.anchor = simulator.anchor(code)
        self.quote = code.split("-", 1)[0]
        self.split = period.floor(int(self.born))  # the first bucket made of real trades
        self.trades = simulator.history(code)
        self.stamps = [trade.timestamp for trade in self.trades]
        self.reach = int(now) - SECONDS_REACH if period.name == "1s" else LISTED
        phases = random.Random(f"{self.seed}:{code}:waves")
        self.phases = [phases.uniform(0.0, 2 * math.pi) for _ in _WAVES]

    def newest(self, before: int) -> Iterator[Bar]:
        """Every bar whose bucket starts before second ``before``, newest first."""
        bound = before
        # The trades' part: jump from the latest trade before the bound to its bucket, and so on.
        while True:
            index = bisect.bisect_left(self.stamps, bound * 1000) - 1
            if index < 0:
                break
            start = self.period.floor(self.stamps[index] // 1000)
            if start < self.split or start < self.reach:
                break
            first = bisect.bisect_left(self.stamps, start * 1000)
            yield aggregate(self.trades[first:index + 1], start)
            bound = start
        # The synthetic past, bucket by bucket, skipping quiet periods whole.
        start = self.period.floor(min(before, self.split) - 1)
        while start >= max(self.reach, LISTED) and start < self.split:
            end = self.period.shift(start, 1)
            quiet = next((q for q in self.quiet if q[0] <= start and end <= q[1]), None)
            if quiet is not None:
                start = min(self.period.floor(math.ceil(quiet[0]) - 1), self.period.shift(start, -1))
                continue
            yield self._synthetic(start, end)
            start = self.period.shift(start, -1)

    def _curve(self, t: float) -> float:
        """The synthetic price at second ``t``: the seed's waves, bent over the last hours before the
        market's birth so as to meet its anchor price there (further back, the bend is below a tick,
        so the past is the same whenever the market was born)."""
        bend = math.exp(-max(0.0, self.born - t) / _BEND)
        return self.anchor * math.exp(self._waves(t) - self._waves(self.born) * bend)

    def _waves(self, t: float) -> float:
        return sum(amplitude * math.sin(2 * math.pi * t / period + phase)
                   for (period, amplitude), phase in zip(_WAVES, self.phases, strict=True))

    def _snap(self, price: float) -> float:
        tick = tick_size(self.quote, price)
        digits = max(0, -math.floor(math.log10(tick) + 1e-9))
        return round(max(tick, round(price / tick) * tick), digits)

    def _synthetic(self, start: int, end: int) -> Bar:
        draw = random.Random(f"{self.seed}:{self.code}:{self.period.name}:{start}")
        length = end - start
        opened, closed = self._snap(self._curve(start)), self._snap(self._curve(end))
        middle = self._curve((start + end) / 2)
        spread = 0.0004 * math.sqrt(length / 60)
        high = self._snap(max(opened, closed, middle) * (1 + draw.random() * spread))
        low = self._snap(min(opened, closed, middle) * (1 - draw.random() * spread))
        per_second = _TYPICAL_NOTIONAL.get(self.quote, 100.0) / self.anchor
        volume = round(per_second * length * draw.uniform(0.3, 1.7), _VOLUME_DIGITS) or 1e-8
        value = volume * (opened + high + low + closed) / 4
        return Bar(start, opened, high, low, closed, volume, value, end * 1000 - 1)


def page(history: CandleHistory, before: int, count: int, slots: bool) -> list[Bar]:
    """What one REST call answers, newest first: ``count`` bars before ``before`` (a second), or
    the bars of the ``count`` buckets before it (``slots``)."""
    bars = history.newest(before)
    if not slots:
        return [bar for bar, _ in zip(bars, range(count), strict=False)]
    period = history.period
    oldest = period.shift(period.floor(before - 1), -(count - 1))
    found = []
    for bar in bars:
        if bar.start < oldest:
            break
        found.append(bar)
    return found


def row(code: str, period: Period, bar: Bar, previous: Bar | None) -> dict[str, object]:
    """One bar as REST writes it (docs/trading.md); ``previous``: the bar before (days)."""
    start = datetime.fromtimestamp(bar.start, tz=timezone.utc)
    found: dict[str, object] = {
        "market": code,
        "candle_date_time_utc": start.strftime("%Y-%m-%dT%H:%M:%S"),
        "candle_date_time_kst": start.astimezone(_KST).strftime("%Y-%m-%dT%H:%M:%S"),
        "opening_price": bar.open,
        "high_price": bar.high,
        "low_price": bar.low,
        "trade_price": bar.close,
        "timestamp": bar.last_ms,
        "candle_acc_trade_price": round(bar.value, 8),
        "candle_acc_trade_volume": round(bar.volume, _VOLUME_DIGITS),
    }
    if period.name.endswith("m") and period.seconds is not None and period.seconds >= 60:
        found["unit"] = period.seconds // 60
    elif period.name == "1d":
        before = previous.close if previous is not None else bar.open
        found["prev_closing_price"] = before
        found["change_price"] = round(bar.close - before, 8)
        found["change_rate"] = round((bar.close - before) / before, 10) if before else 0.0
    elif period.name in ("1w", "1M", "1y"):
        found["first_day_of_period"] = start.strftime("%Y-%m-%d")
    return found
