"""The ``indicator`` and ``indicator_signal`` channels of the fake exchange (docs/channels.md §2-§4).

What is served:

- **Candles.** Each (market, timeframe) has a candle series of its own: a seeded random walk (one
  ``random.Random`` per seed, market and timeframe, so the n-th candle of a series is the same in
  every run with that seed), started at the market's price in the fake's :class:`MarketSimulator`
  and pulled gently back to it, prices on the market's tick table. The tape is not used: it trades
  in real time at ``message_rate``, while an indicator needs hundreds of closed candles the moment
  it is asked for, on a clock that a test can speed up. A series starts with :data:`WINDOW` closed
  candles of history, so every indicator has a value at the first close after a subscription.
- **The clock.** :class:`InfoClock` runs ``time_scale`` times as fast as the wall clock, from the wall
  clock's time when the server was made; candles start on multiples of their length in UTC epoch
  seconds (a ``1d`` candle at 00:00 UTC, as Upbit's day candles). ``timestamp`` stays wall time.
- **Values.** Computed at every candle close over the last :data:`WINDOW` closed candles by the
  pure functions below: Wilder's RSI, SMA, EMA (seeded with the SMA of its first ``period`` values),
  MACD (EMA fast - EMA slow; signal = EMA of that line; histogram = line - signal), Bollinger bands
  (SMA +- multiplier x population standard deviation), and volume (the candle's volume, the SMA of
  the last ``period`` volumes including it, and their ratio). One message per close per (code,
  indicator item), none at subscribe time (§2).
- **Signals.** Checked at candle close only (§4 leaves intra-candle checks OPEN). A signal fires when
  its condition is met at this close and was not met at the previous one (computed from the previous
  window), so it fires once per not-met -> met edge, again after the condition lapses, never while it
  holds. Conditions: ``volume_spike`` ratio >= multiplier; ``overbought`` RSI >= threshold,
  ``oversold`` RSI <= threshold; ``price_cross_above``/``below`` close > / < the MA (Bollinger: the
  upper / lower band, or the middle one, as ``ChannelRules.bollinger_band`` says); ``golden_cross`` /
  ``dead_cross`` short MA (MACD line) > / < long MA (signal line); ``zero_cross_above``/``below``
  MACD line > / < 0.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

from ..indicators import TIMEFRAMES as TIMEFRAMES  # the fake's server checks with it
from .channels import ChannelRules
from .market import tick_size

# -- Upbit's tables (docs/channels.md §2-§4): the SDK's, so that client and fake agree -----------

Param = int | float | str
Params = tuple[tuple[str, Param], ...]  # (DEFAULT name, value) in the order they are echoed

WINDOW = 400  # closed candles each value is computed over (enough for SMA 200 and EMA 200's seed)
KEPT = 5_000  # closed candles a series keeps for introspection; older ones are dropped
_BUDGET = 256  # candle closes handled per call of IndicatorFeed.due

# -- the math: pure functions over a window, oldest value first ---------------------------------


def _need(values: Sequence[float], count: int) -> None:
    if len(values) < count:
        raise ValueError(f"needs at least {count} values, got {len(values)}")


def sma(values: Sequence[float], period: int) -> float:
    """The mean of the last ``period`` values."""
    _need(values, period)
    return math.fsum(values[len(values) - period:]) / period


def ema_series(values: Sequence[float], period: int) -> list[float]:
    """The EMA (alpha = 2 / (period + 1)) from the ``period``-th value on, seeded with the SMA of
    the first ``period`` values: one entry per value from index ``period - 1``."""
    _need(values, period)
    alpha = 2.0 / (period + 1)
    current = math.fsum(values[:period]) / period
    out = [current]
    for value in values[period:]:
        current += alpha * (value - current)
        out.append(current)
    return out


def ema(values: Sequence[float], period: int) -> float:
    """The EMA at the last value (see :func:`ema_series`)."""
    return ema_series(values, period)[-1]


def moving_average(values: Sequence[float], period: int, kind: str) -> float:
    """``SMA`` or ``EMA`` of ``period`` at the last value."""
    if kind == "SMA":
        return sma(values, period)
    if kind == "EMA":
        return ema(values, period)
    raise ValueError(f"moving average type must be SMA or EMA, not {kind!r}")


def wilder_rsi(closes: Sequence[float], period: int) -> float:
    """Wilder's RSI at the last close: average gain and loss seeded with the mean of the first
    ``period`` changes, then smoothed as ``(previous * (period - 1) + change) / period``.
    100 when there were no losses (50 when there were no changes at all)."""
    _need(closes, period + 1)
    changes = [after - before for before, after in itertools.pairwise(closes)]
    gain = math.fsum(max(change, 0.0) for change in changes[:period]) / period
    loss = math.fsum(max(-change, 0.0) for change in changes[:period]) / period
    for change in changes[period:]:
        gain = (gain * (period - 1) + max(change, 0.0)) / period
        loss = (loss * (period - 1) + max(-change, 0.0)) / period
    if loss == 0.0:
        return 100.0 if gain > 0.0 else 50.0
    return 100.0 - 100.0 / (1.0 + gain / loss)


def macd(closes: Sequence[float], fast: int, slow: int, signal_period: int
         ) -> tuple[float, float, float]:
    """``(MACD line, signal line, histogram)`` at the last close: the line is EMA(fast) - EMA(slow)
    from the ``slow``-th close on, the signal its EMA(signal_period), the histogram their difference."""
    if not 0 < fast < slow:
        raise ValueError("macd needs 0 < fast < slow")
    _need(closes, slow + signal_period - 1)
    fast_line = ema_series(closes, fast)[slow - fast:]
    line = [f - s for f, s in zip(fast_line, ema_series(closes, slow), strict=True)]
    signal = ema(line, signal_period)
    return line[-1], signal, line[-1] - signal


def bollinger(closes: Sequence[float], period: int, multiplier: float
              ) -> tuple[float, float, float]:
    """``(upper, middle, lower)``: the SMA of the last ``period`` closes plus and minus
    ``multiplier`` population standard deviations of them."""
    middle = sma(closes, period)
    last = closes[len(closes) - period:]
    deviation = math.sqrt(math.fsum((value - middle) ** 2 for value in last) / period)
    return middle + multiplier * deviation, middle, middle - multiplier * deviation


def volume_ratio(volumes: Sequence[float], period: int) -> tuple[float, float, float]:
    """``(volume, average, ratio)``: the last candle's volume, the mean of the last ``period``
    volumes (that one included) and volume / average (0 when the average is 0)."""
    average = sma(volumes, period)
    volume = volumes[-1]
    return volume, average, volume / average if average > 0 else 0.0


# -- what is asked for ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Indicator:
    """One validated ``indicators[]`` item of an ``indicator`` request: its type and params."""

    type: str
    params: Params

    def param(self, name: str) -> Any:
        return dict(self.params)[name]

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "params": dict(self.params)}


@dataclass(frozen=True)
class Signal:
    """One validated ``indicators[]`` item of an ``indicator_signal`` request."""

    indicator: Indicator
    trigger: str
    event_params: tuple[tuple[str, int], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out = {**self.indicator.as_dict(), "trigger": self.trigger}
        if self.event_params:
            out["event_params"] = dict(self.event_params)
        return out


Item = Indicator | Signal


def compute(indicator: Indicator, candles: Sequence[Candle]) -> dict[str, float]:
    """The ``value`` object (DEFAULT keys) of ``indicator`` at the last of ``candles``."""
    closes = [c.close for c in candles]
    kind = indicator.type
    if kind == "volume":
        volume, average, ratio = volume_ratio([c.volume for c in candles], indicator.param("period"))
        return {"volume": volume, "avg_volume": average, "ratio": ratio}
    if kind == "rsi":
        return {"rsi": wilder_rsi(closes, indicator.param("period"))}
    if kind == "moving_average":
        return {"value": moving_average(closes, indicator.param("period"), indicator.param("type"))}
    if kind == "ma_crossover":
        ma_type = indicator.param("type")
        return {"ma_short": moving_average(closes, indicator.param("short_period"), ma_type),
                "ma_long": moving_average(closes, indicator.param("long_period"), ma_type)}
    if kind == "bollinger_bands":
        upper, middle, lower = bollinger(closes, indicator.param("period"),
                                         indicator.param("multiplier"))
        return {"bb_upper": upper, "bb_middle": middle, "bb_lower": lower}
    if kind == "macd":
        line, signal, histogram = macd(closes, indicator.param("fast"), indicator.param("slow"),
                                       indicator.param("signal_period"))
        return {"macd": line, "macd_signal": signal, "histogram": histogram}
    raise ValueError(f"unknown indicator {kind!r}")


def signal_met(signal: Signal, value: Mapping[str, float], close: float,
               bollinger_band: str = "outer") -> bool:
    """Whether ``signal``'s condition holds for this ``value`` (of :func:`compute`) and close."""
    trigger = signal.trigger
    events = dict(signal.event_params)
    kind = signal.indicator.type
    if trigger == "volume_spike":
        return value["ratio"] >= events["multiplier"]
    if trigger == "overbought":
        return value["rsi"] >= events["threshold"]
    if trigger == "oversold":
        return value["rsi"] <= events["threshold"]
    if trigger in ("price_cross_above", "price_cross_below"):
        above = trigger == "price_cross_above"
        if kind == "moving_average":
            line = value["value"]
        elif bollinger_band == "middle":
            line = value["bb_middle"]
        else:
            line = value["bb_upper"] if above else value["bb_lower"]
        return close > line if above else close < line
    if kind == "ma_crossover":
        fast, slow = value["ma_short"], value["ma_long"]
    else:
        fast, slow = value["macd"], value["macd_signal"]
    if trigger == "golden_cross":
        return fast > slow
    if trigger == "dead_cross":
        return fast < slow
    if trigger == "zero_cross_above":
        return value["macd"] > 0
    if trigger == "zero_cross_below":
        return value["macd"] < 0
    raise ValueError(f"unknown trigger {trigger!r}")


# -- candles -------------------------------------------------------------------------------------


def _utc_text(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True, slots=True)
class Candle:
    """One closed candle of a series; ``start`` in epoch seconds on the info clock."""

    start: float
    seconds: int
    open: float
    high: float
    low: float
    close: float
    volume: float

    @property
    def candle_date_time_utc(self) -> str:
        """The start as Upbit writes candle times, ``yyyy-MM-ddTHH:mm:ss`` UTC."""
        return _utc_text(self.start)


class InfoClock:
    """Epoch seconds that run ``scale`` times as fast as the wall clock; thread-safe."""

    def __init__(self, scale: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._origin = (time.monotonic(), time.time())
        self._scale = 1.0
        self.scale = scale

    @property
    def scale(self) -> float:
        return self._scale

    @scale.setter
    def scale(self, scale: float) -> None:
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (
            math.isfinite(scale) and scale > 0
        ):
            raise ValueError(f"time_scale must be a finite number above 0, not {scale!r}")
        with self._lock:
            now = time.monotonic()
            self._origin = (now, self._at(now))  # a new speed from now on, no jump
            self._scale = float(scale)

    def at(self, monotonic: float) -> float:
        """The info clock's epoch seconds at this ``time.monotonic()`` reading."""
        with self._lock:
            return self._at(monotonic)

    def monotonic_at(self, seconds: float) -> float:
        """The ``time.monotonic()`` reading at which the info clock shows ``seconds``."""
        with self._lock:
            mono, epoch = self._origin
            return mono + (seconds - epoch) / self._scale

    def _at(self, monotonic: float) -> float:
        mono, epoch = self._origin
        return epoch + (monotonic - mono) * self._scale


class CandleSeries:
    """The closed candles of one (market, timeframe) and the one that is open; not thread-safe.

    The series opens with :data:`WINDOW` closed candles of history before the candle open at
    ``now``. Each :meth:`close` makes the open candle (from :meth:`script` if queued, else from the
    walk) and opens the next one.
    """

    def __init__(self, code: str, timeframe: str, anchor: float, seed: str, now: float) -> None:
        self.code = code
        self.timeframe = timeframe
        self.seconds = TIMEFRAMES[timeframe]
        self.quote = code.split("-", 1)[0]
        self._rng = random.Random(seed)
        self._anchor = anchor
        self._price = anchor
        self._sigma = 0.002 * math.sqrt(self.seconds / 300)
        # Typical volume of a candle: 300 trades of 200,000 KRW per 5 minutes.
        self._volume = 6e7 / anchor * self.seconds / 300
        self._script: deque[tuple[float, float | None]] = deque()
        self.candles: list[Candle] = []
        self.count = 0  # closed candles made so far, history included
        self.opened = math.floor(now / self.seconds) * self.seconds  # start of the open candle
        # (signal, candle count) -> whether the condition held at that candle
        self.met: dict[Signal, tuple[int, bool]] = {}
        start = self.opened - WINDOW * self.seconds
        for index in range(WINDOW):
            self._append(self._make(start + index * self.seconds))

    @property
    def next_close(self) -> float:
        """When the open candle closes, on the info clock."""
        return self.opened + self.seconds

    def close(self) -> Candle:
        """Close the open candle and open the next one; returns the closed candle."""
        candle = self._make(self.opened)
        self._append(candle)
        self.opened += self.seconds
        return candle

    def catch_up(self, now: float) -> None:
        """Close, unseen, every candle that ended by ``now`` (at most :data:`WINDOW` are made: older
        ones would be outside every window)."""
        behind = int((now - self.opened) // self.seconds)
        if behind <= 0:
            return
        if behind > WINDOW:
            self.opened += (behind - WINDOW) * self.seconds
            behind = WINDOW
        for _ in range(behind):
            self.close()

    def script(self, closes: Iterable[float], volumes: Iterable[float] | None = None) -> None:
        """The next closes (and volumes) of the series, in order, instead of the walk's."""
        prices = [float(p) for p in closes]
        sizes: list[float | None] = [float(v) for v in volumes] if volumes is not None else []
        if volumes is not None and len(sizes) != len(prices):
            raise ValueError("volumes must be as many as closes")
        if any(not math.isfinite(p) or p <= 0 for p in prices):
            raise ValueError("closes must be finite prices above 0")
        if any(v is not None and (not math.isfinite(v) or v < 0) for v in sizes):
            raise ValueError("volumes must be finite and not negative")
        sizes.extend([None] * (len(prices) - len(sizes)))
        self._script.extend(zip(prices, sizes, strict=True))

    def window(self, end: int | None = None) -> list[Candle]:
        """The :data:`WINDOW` closed candles ending at the one of index ``end`` (default: the last)."""
        stop = len(self.candles) if end is None else end + 1
        return self.candles[max(0, stop - WINDOW):stop]

    def _append(self, candle: Candle) -> None:
        self.candles.append(candle)
        self.count += 1
        if len(self.candles) > KEPT + WINDOW:
            del self.candles[:len(self.candles) - KEPT]

    def _snap(self, price: float) -> float:
        tick = tick_size(self.quote, price)
        digits = max(0, -math.floor(math.log10(tick) + 1e-9))
        return round(max(tick, round(price / tick) * tick), digits)

    def _make(self, start: float) -> Candle:
        rng = self._rng
        opening = self._price
        if self._script:
            close, scripted_volume = self._script.popleft()
            high, low = max(opening, close), min(opening, close)
            volume = scripted_volume if scripted_volume is not None else self._volume
        else:
            pull = -0.02 * math.log(opening / self._anchor)
            close = self._snap(opening * math.exp(pull + rng.gauss(0.0, self._sigma)))
            high = self._snap(max(opening, close) * (1 + abs(rng.gauss(0.0, self._sigma / 2))))
            low = self._snap(min(opening, close) * (1 - abs(rng.gauss(0.0, self._sigma / 2))))
            volume = self._volume * rng.lognormvariate(0.0, 0.5)
            if rng.random() < 0.04:  # now and then a burst of trading
                volume *= rng.uniform(2.0, 8.0)
            volume = round(volume, 8)
        self._price = close
        return Candle(start, self.seconds, opening, high, low, close, volume)


# -- messages ------------------------------------------------------------------------------------


def indicator_message(item: Item, code: str, timeframe: str, value: Mapping[str, float],
                      candle: Candle, rules: ChannelRules, now: float | None = None
                      ) -> dict[str, Any]:
    """The DEFAULT-keyed ``indicator`` or ``indicator_signal`` message for ``item``'s value at the
    close of ``candle`` (§3); ``now`` (epoch seconds, default the wall clock) is its ``timestamp``."""
    indicator = item.indicator if isinstance(item, Signal) else item
    moment = candle.start + candle.seconds if rules.candle_time == "close" else candle.start
    values: dict[str, Any] = {key: repr(number) if rules.value_strings else number
                              for key, number in value.items()}
    message: dict[str, Any] = {
        "type": "indicator_signal" if isinstance(item, Signal) else "indicator",
        "code": code,
        "timeframe": timeframe,
        "indicator": indicator.type,
    }
    if isinstance(item, Signal):
        message["trigger"] = item.trigger
    message["params"] = dict(indicator.params)
    if isinstance(item, Signal):
        message["event_params"] = dict(item.event_params)
    message.update({
        "value": values,
        "candle_date_time_utc": _utc_text(moment),
        "timestamp": int((time.time() if now is None else now) * 1000),
        "stream_type": "REALTIME",
    })
    return message




# -- the feed: who gets which message when -------------------------------------------------------

C = TypeVar("C", bound=Hashable)  # what a connection is to the server (its Session)
SeriesKey = tuple[str, str]  # (code, timeframe)


@dataclass(frozen=True)
class InfoStream:
    """One thing a connection asked for: an indicator item of a code on a timeframe."""

    code: str
    timeframe: str
    item: Item


@dataclass(frozen=True)
class _Listener(Generic[C]):
    """One connection's item on a series; closes before ``since`` (info clock) are not its own."""

    conn: C
    key: SeriesKey
    item: Item
    since: float


class IndicatorFeed(Generic[C]):
    """Candle series, subscriptions and the messages each candle close makes; thread-safe.

    ``anchor`` gives a market's starting price; ``seed`` makes every series reproducible; ``rules``
    reads the server's current :class:`ChannelRules`. The server calls :meth:`assign` for each
    request, :meth:`next_due` to know when to wake and :meth:`due` to collect what is to be sent.
    Nothing here sends, or takes the server's lock.
    """

    def __init__(self, anchor: Callable[[str], float], seed: int, clock: InfoClock,
                 rules: Callable[[], ChannelRules]) -> None:
        self._anchor = anchor
        self._seed = seed
        self.clock = clock
        self._rules = rules
        self._lock = threading.Lock()
        self._series: dict[SeriesKey, CandleSeries] = {}
        self._wanted: dict[C, list[_Listener[C]]] = {}
        self._listeners: dict[SeriesKey, list[_Listener[C]]] = {}

    def assign(self, conn: C, streams: Sequence[InfoStream], now: float) -> None:
        """Replace what ``conn`` listens to (nothing for an empty list) from ``now``
        (``time.monotonic()``) on: its first message comes with the first close after it."""
        with self._lock:
            virtual = self.clock.at(now)
            listeners: list[_Listener[C]] = []
            for stream in dict.fromkeys(streams):  # a repeated item is served once
                key = (stream.code, stream.timeframe)
                series = self._series_of(stream.code, stream.timeframe, virtual)
                if key not in self._listeners:  # no one was listening: it stood still
                    series.catch_up(virtual)
                listeners.append(_Listener(conn, key, stream.item, virtual))
            if listeners:
                self._wanted[conn] = listeners
            else:
                self._wanted.pop(conn, None)
            self._rebuild()

    def forget(self, conn: C) -> None:
        with self._lock:
            if self._wanted.pop(conn, None) is not None:
                self._rebuild()

    def next_due(self) -> float | None:
        """The ``time.monotonic()`` of the next candle close someone listens to, or None."""
        with self._lock:
            closes = [self._series[key].next_close for key in self._listeners]
        return self.clock.monotonic_at(min(closes)) if closes else None

    def due(self, now: float, alive: Callable[[C], bool]) -> list[tuple[C, dict[str, Any]]]:
        """Close every listened-to candle that ended by ``now`` (``time.monotonic()``), oldest first,
        and return the messages they make, each with its connection; forgets dead connections.
        A message object may go to several connections: do not change it."""
        out: list[tuple[C, dict[str, Any]]] = []
        rules = self._rules()
        with self._lock:
            dead = [conn for conn in self._wanted if not alive(conn)]
            for conn in dead:
                del self._wanted[conn]
            if dead:
                self._rebuild()
            virtual = self.clock.at(now)
            heap = [(self._series[key].next_close, index, key)
                    for index, key in enumerate(self._listeners)]
            heapq.heapify(heap)
            budget = _BUDGET
            while heap and heap[0][0] <= virtual and budget > 0:
                budget -= 1
                closing, index, key = heapq.heappop(heap)
                series = self._series[key]
                listeners = [entry for entry in self._listeners[key] if entry.since < closing]
                self._close(series, listeners, rules, out)
                heapq.heappush(heap, (series.next_close, index, key))
        return out

    def candles(self, code: str, timeframe: str) -> list[Candle]:
        """The closed candles the series keeps, oldest first (history included); [] before anyone
        asked for it."""
        with self._lock:
            series = self._series.get((code, timeframe))
            return list(series.candles) if series is not None else []

    def script(self, code: str, timeframe: str, closes: Iterable[float],
               volumes: Iterable[float] | None, now: float) -> None:
        """Queue the next closes (and volumes) of a series; see :meth:`CandleSeries.script`."""
        with self._lock:
            virtual = self.clock.at(now)
            series = self._series_of(code, timeframe, virtual)
            if (code, timeframe) not in self._listeners:
                series.catch_up(virtual)
            series.script(closes, volumes)

    def _series_of(self, code: str, timeframe: str, virtual: float) -> CandleSeries:
        key = (code, timeframe)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = CandleSeries(
                code, timeframe, self._anchor(code), f"{self._seed}:{code}:{timeframe}:candles",
                virtual,
            )
        return series

    def _rebuild(self) -> None:
        by_series: dict[SeriesKey, list[_Listener[C]]] = {}
        for listeners in self._wanted.values():
            for entry in listeners:
                by_series.setdefault(entry.key, []).append(entry)
        self._listeners = by_series

    def _close(self, series: CandleSeries, listeners: Sequence[_Listener[C]], rules: ChannelRules,
               out: list[tuple[C, dict[str, Any]]]) -> None:
        candle = series.close()
        window = series.window()
        values: dict[Indicator, dict[str, float]] = {}
        messages: dict[Item, dict[str, Any] | None] = {}
        now = time.time()
        for entry in listeners:
            item = entry.item
            if item not in messages:
                indicator = item.indicator if isinstance(item, Signal) else item
                value = values.get(indicator)
                if value is None:
                    value = values[indicator] = compute(indicator, window)
                fires = not isinstance(item, Signal) or self._edge(series, item, value, rules)
                messages[item] = (indicator_message(item, series.code, series.timeframe, value,
                                                    candle, rules, now) if fires else None)
            message = messages[item]
            if message is not None:
                out.append((entry.conn, message))

    @staticmethod
    def _edge(series: CandleSeries, signal: Signal, value: Mapping[str, float],
              rules: ChannelRules) -> bool:
        """Whether ``signal`` went from not met (previous close) to met (this close)."""
        count = series.count
        band = rules.bollinger_band
        met = signal_met(signal, value, series.candles[-1].close, band)
        known = series.met.get(signal)
        if known is not None and known[0] == count - 1:
            before = known[1]
        else:  # the first close since it was asked for: the previous candle's state, from its window
            previous = series.window(len(series.candles) - 2)
            before = signal_met(signal, compute(signal.indicator, previous), previous[-1].close, band)
        series.met[signal] = (count, met)
        return met and not before
