"""The messages of the newer channels (docs/channels.md): announcements, and the indicator values
and signals of the info connection with the small records their params and values are read into."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from .. import formats
from .message import Message, simple_keys
from .values import EventTypeValue, StreamTypeValue


class Announcement(Message, frozen=True, dict=True, eq=False, tag="announcement",
                   rename=simple_keys(formats.ANNOUNCEMENT)):
    """An Upbit notice, created or updated (private connection; type ``announcement``; no code).

    Every field may be missing from a frame (None then). ``body`` (Markdown) comes only to a
    subscription with ``include_body=True``, and is None when Upbit finds it too large to send.
    ``first_listed_at`` and ``listed_at`` are ISO 8601 text in KST, as sent."""

    KIND: ClassVar[str] = "announcement"
    type: ClassVar[str] = "announcement"

    uuid: str | None = None
    title: str | None = None
    category: str | None = None
    event_type: EventTypeValue | None = None
    url: str | None = None
    body: str | None = None
    first_listed_at: str | None = None
    listed_at: str | None = None
    timestamp: int | None = None
    stream_type: StreamTypeValue | None = None

    @property
    def code(self) -> None:
        """An announcement belongs to no market."""
        return None


# ---- indicator values and params: one small record per indicator (docs/channels.md §3) --------------


class _Record(msgspec.Struct, frozen=True, gc=False):
    pass


class VolumeParams(_Record, frozen=True, gc=False):
    period: int


class RsiParams(_Record, frozen=True, gc=False):
    period: int


class MovingAverageParams(_Record, frozen=True, gc=False):
    period: int
    type: str  # SMA or EMA


class MaCrossoverParams(_Record, frozen=True, gc=False):
    short_period: int
    long_period: int
    type: str


class BollingerBandsParams(_Record, frozen=True, gc=False):
    period: int
    multiplier: float


class MacdParams(_Record, frozen=True, gc=False):
    fast: int
    slow: int
    signal_period: int


class VolumeValue(_Record, frozen=True, gc=False):
    volume: float  # the candle's
    avg_volume: float  # over ``period`` candles
    ratio: float  # volume / avg_volume


class RsiValue(_Record, frozen=True, gc=False):
    rsi: float


class MovingAverageValue(_Record, frozen=True, gc=False):
    value: float


class MaCrossoverValue(_Record, frozen=True, gc=False):
    ma_short: float
    ma_long: float


class BollingerBandsValue(_Record, frozen=True, gc=False):
    bb_upper: float
    bb_middle: float
    bb_lower: float


class MacdValue(_Record, frozen=True, gc=False):
    macd: float
    macd_signal: float
    histogram: float  # macd - macd_signal


class EventParams(_Record, frozen=True, gc=False):
    """What a signal's trigger was asked with: a volume spike's ``multiplier``, an RSI ``threshold``."""

    multiplier: float | None = None
    threshold: float | None = None


IndicatorParams = (VolumeParams | RsiParams | MovingAverageParams | MaCrossoverParams
                   | BollingerBandsParams | MacdParams)
IndicatorValue = (VolumeValue | RsiValue | MovingAverageValue | MaCrossoverValue | BollingerBandsValue
                  | MacdValue)
# indicator type -> (its params record, its value record); an indicator not here keeps plain mappings
INDICATOR_RECORDS: dict[str, tuple[type[Any], type[Any]]] = {
    "volume": (VolumeParams, VolumeValue),
    "rsi": (RsiParams, RsiValue),
    "moving_average": (MovingAverageParams, MovingAverageValue),
    "ma_crossover": (MaCrossoverParams, MaCrossoverValue),
    "bollinger_bands": (BollingerBandsParams, BollingerBandsValue),
    "macd": (MacdParams, MacdValue),
}


class IndicatorMessage(Message, frozen=True, dict=True, eq=False, rename=simple_keys(formats.INDICATOR)):
    """What :class:`Indicator` and :class:`IndicatorSignal` share: one (code, indicator) at one candle
    close. ``params`` and ``value`` are the indicator's records (``RsiParams``, ``RsiValue``, ...);
    for an indicator this version does not know, they are plain dicts (DEFAULT keys where known).
    ``candle_date_time_utc`` is the candle's time as sent (UTC, no offset)."""

    code: str
    timeframe: str
    indicator: str
    params: IndicatorParams | dict[str, Any]
    value: IndicatorValue | dict[str, Any]
    candle_date_time_utc: str
    timestamp: int
    stream_type: StreamTypeValue


class Indicator(IndicatorMessage, frozen=True, dict=True, eq=False, tag="indicator"):
    """An indicator's value at a candle close (info connection; type ``indicator``)."""

    KIND: ClassVar[str] = "indicator"
    type: ClassVar[str] = "indicator"


class IndicatorSignal(IndicatorMessage, frozen=True, dict=True, eq=False, tag="indicator_signal"):
    """A signal's condition went from not met to met (info connection; type ``indicator_signal``):
    ``trigger`` is what fired, ``event_params`` what it was asked with (empty for most)."""

    KIND: ClassVar[str] = "indicator_signal"
    type: ClassVar[str] = "indicator_signal"

    trigger: str
    event_params: EventParams | dict[str, Any] = EventParams()
