"""What an ``indicator`` or ``indicator_signal`` subscription asks for, and Upbit's tables that say
what may be asked (docs/channels.md §2, §4, §5).

An indicator is named by a small value, :class:`IndicatorSpec`, made by the helpers below::

    RSI(14)                      # {"type": "rsi", "params": {"period": 14}}
    MACD(12, 26, 9)
    RSI(14).oversold(30)         # a signal: the trigger and its event params
    MACrossover(5, 20, "EMA").golden_cross()

or given as a dict in Upbit's own request form (``{"type": "rsi", "params": {"period": 14}}``).
:func:`indicator_spec` checks either against the tables and raises SubscriptionError naming the bad
value and the allowed ones, before anything is sent. The fake exchange serves from the same tables.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import SubscriptionError

# ---- Upbit's tables ---------------------------------------------------------------------------------

TIMEFRAMES: dict[str, int] = {"5m": 300, "15m": 900, "60m": 3600, "240m": 14400, "1d": 86400}
MA_TYPES = ("SMA", "EMA")
INFO_TYPES = ("indicator", "indicator_signal")
CATEGORIES = (
    "notice", "trade", "wallet", "maintenance", "digital_asset", "nft", "service", "event", "note",
    "trading", "airdrop", "feature", "disclosure",
)  # the 13 announcement categories; ``trade`` and ``trading`` are two of them


@dataclass(frozen=True)
class ParamSet:
    """The params one indicator type takes: integer ``keys`` whose combination must be one of
    ``allowed``, plus the MA ``type`` and the Bollinger ``multiplier`` where they apply."""

    keys: tuple[str, ...]
    allowed: frozenset[tuple[int, ...]]
    ma_type: bool = False
    multiplier: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return self.keys + (("type",) if self.ma_type else ()) + (("multiplier",) if self.multiplier else ())


def _singles(*values: int) -> frozenset[tuple[int, ...]]:
    return frozenset((value,) for value in values)


_MA_PAIRS = frozenset({(5, 20), (20, 60), (30, 90), (50, 200)})
_MACD_SETS = frozenset({(12, 26, 9), (8, 17, 9), (5, 35, 5)})

INDICATOR_PARAMS: dict[str, ParamSet] = {
    "volume": ParamSet(("period",), _singles(5, 10, 15, 20, 25, 30, 35, 40, 45, 50)),
    "rsi": ParamSet(("period",), _singles(*range(2, 15), 21, 25)),
    "moving_average": ParamSet(
        ("period",), _singles(3, 5, 7, 10, 15, 20, 25, 30, 50, 60, 90, 99, 100, 120, 200), ma_type=True
    ),
    "ma_crossover": ParamSet(("short_period", "long_period"), _MA_PAIRS, ma_type=True),
    "bollinger_bands": ParamSet(("period",), _singles(10, 20, 50), multiplier=True),
    "macd": ParamSet(("fast", "slow", "signal_period"), _MACD_SETS),
}
# a signal takes fewer params than a plain indicator
SIGNAL_PARAMS: dict[str, ParamSet] = {
    "volume": ParamSet(("period",), _singles(10, 20, 50)),
    "rsi": ParamSet(("period",), _singles(7, 9, 14, 21, 25)),
    "moving_average": ParamSet(("period",), _singles(5, 10, 20, 30, 60, 90, 120, 200), ma_type=True),
    "ma_crossover": ParamSet(("short_period", "long_period"), _MA_PAIRS, ma_type=True),
    "bollinger_bands": ParamSet(("period",), _singles(20), multiplier=True),
    "macd": ParamSet(("fast", "slow", "signal_period"), _MACD_SETS),
}
# per indicator, its triggers and the one event param each needs, with its allowed values (None: none)
TRIGGERS: dict[str, dict[str, tuple[str, frozenset[int]] | None]] = {
    "volume": {"volume_spike": ("multiplier", frozenset({2, 3, 5}))},
    "rsi": {"overbought": ("threshold", frozenset({70, 80})),
            "oversold": ("threshold", frozenset({20, 30}))},
    "moving_average": {"price_cross_above": None, "price_cross_below": None},
    "ma_crossover": {"golden_cross": None, "dead_cross": None},
    "bollinger_bands": {"price_cross_above": None, "price_cross_below": None},
    "macd": {"golden_cross": None, "dead_cross": None, "zero_cross_above": None,
             "zero_cross_below": None},
}

Param = int | float | str
Params = tuple[tuple[str, Param], ...]  # (name, value), in the order Upbit documents them


# ---- the request value ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndicatorSpec:
    """One ``indicators[]`` item: an indicator type and its params, and for a signal its trigger and
    event params. Hashable; compare equal when they ask for the same thing."""

    type: str
    params: Params
    trigger: str | None = None
    event_params: tuple[tuple[str, int], ...] = ()

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={value!r}" for name, value in self.params)
        text = f"{self.type}({args})"
        if self.trigger is not None:
            extra = ", ".join(f"{name}={value!r}" for name, value in self.event_params)
            text += f".{self.trigger}({extra})"
        return text

    def as_dict(self) -> dict[str, Any]:
        """The item as Upbit's request takes it (DEFAULT keys)."""
        item: dict[str, Any] = {"type": self.type, "params": dict(self.params)}
        if self.trigger is not None:
            item["trigger"] = self.trigger
            if self.event_params:
                item["event_params"] = dict(self.event_params)
        return item

    @property
    def indicator(self) -> IndicatorSpec:
        """The plain indicator, without its trigger."""
        return IndicatorSpec(self.type, self.params)

    # the triggers, as methods: RSI(14).oversold(30)
    def signal(self, trigger: str, **event_params: int) -> IndicatorSpec:
        """This indicator as a signal on ``trigger`` (checked when it is subscribed)."""
        return IndicatorSpec(self.type, self.params, trigger, tuple(event_params.items()))

    def oversold(self, threshold: int = 30) -> IndicatorSpec:
        return self.signal("oversold", threshold=threshold)

    def overbought(self, threshold: int = 70) -> IndicatorSpec:
        return self.signal("overbought", threshold=threshold)

    def volume_spike(self, multiplier: int = 2) -> IndicatorSpec:
        return self.signal("volume_spike", multiplier=multiplier)

    def price_cross_above(self) -> IndicatorSpec:
        return self.signal("price_cross_above")

    def price_cross_below(self) -> IndicatorSpec:
        return self.signal("price_cross_below")

    def golden_cross(self) -> IndicatorSpec:
        return self.signal("golden_cross")

    def dead_cross(self) -> IndicatorSpec:
        return self.signal("dead_cross")

    def zero_cross_above(self) -> IndicatorSpec:
        return self.signal("zero_cross_above")

    def zero_cross_below(self) -> IndicatorSpec:
        return self.signal("zero_cross_below")


def RSI(period: int = 14) -> IndicatorSpec:
    """Wilder's relative strength index over ``period`` candles."""
    return IndicatorSpec("rsi", (("period", period),))


def MovingAverage(period: int, type: str = "SMA") -> IndicatorSpec:
    """A simple (``SMA``) or exponential (``EMA``) moving average of the close."""
    return IndicatorSpec("moving_average", (("period", period), ("type", type)))


def SMA(period: int) -> IndicatorSpec:
    return MovingAverage(period, "SMA")


def EMA(period: int) -> IndicatorSpec:
    return MovingAverage(period, "EMA")


def MACrossover(short_period: int = 5, long_period: int = 20, type: str = "SMA") -> IndicatorSpec:
    """Two moving averages, for their crossings: (5, 20), (20, 60), (30, 90) or (50, 200)."""
    return IndicatorSpec("ma_crossover", (("short_period", short_period), ("long_period", long_period),
                                          ("type", type)))


def BollingerBands(period: int = 20, multiplier: float = 2.0) -> IndicatorSpec:
    """The SMA of the close with bands ``multiplier`` standard deviations above and below."""
    return IndicatorSpec("bollinger_bands", (("period", period), ("multiplier", multiplier)))


def MACD(fast: int = 12, slow: int = 26, signal_period: int = 9) -> IndicatorSpec:
    """EMA(fast) - EMA(slow), its signal line and their difference: (12, 26, 9), (8, 17, 9), (5, 35, 5)."""
    return IndicatorSpec("macd", (("fast", fast), ("slow", slow), ("signal_period", signal_period)))


def Volume(period: int = 20) -> IndicatorSpec:
    """The candle's volume against its mean over ``period`` candles."""
    return IndicatorSpec("volume", (("period", period),))


# ---- checking what is asked -------------------------------------------------------------------------


def _allowed(values: Iterable[Any]) -> str:
    return ", ".join(str(v) for v in sorted(values))


def _integer(value: Any) -> int | None:
    """``value`` as an int when it is a whole number (14 or 14.0), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None
    return int(value)


def indicator_spec(item: Any, signal: bool) -> IndicatorSpec:
    """``item`` (an IndicatorSpec or a dict in Upbit's request form) checked for an ``indicator``
    (``signal=False``) or ``indicator_signal`` subscription; SubscriptionError naming what is wrong."""
    kind: Any
    if isinstance(item, IndicatorSpec):
        kind, params, trigger, event_params = (item.type, dict(item.params), item.trigger,
                                               dict(item.event_params))
        unknown: list[str] = []
    elif isinstance(item, Mapping):
        unknown = sorted(str(k) for k in item if k not in ("type", "params", "trigger", "event_params"))
        kind, params = item.get("type"), item.get("params", {})
        trigger, event_params = item.get("trigger"), item.get("event_params", {})
        if not isinstance(params, Mapping):
            raise SubscriptionError(f"indicator params must be a mapping, not {params!r}")
        if not isinstance(event_params, Mapping):
            raise SubscriptionError(f"indicator event_params must be a mapping, not {event_params!r}")
        params, event_params = dict(params), dict(event_params)
    else:
        raise SubscriptionError(
            f"an indicator is an IndicatorSpec (upbit_sync.RSI(14), ...) or a dict such as "
            f"{{'type': 'rsi', 'params': {{'period': 14}}}}, not {item!r}"
        )
    if unknown:
        raise SubscriptionError(f"indicator {item!r}: unknown key(s) {', '.join(unknown)}")
    tables = SIGNAL_PARAMS if signal else INDICATOR_PARAMS
    if not isinstance(kind, str) or kind not in tables:
        raise SubscriptionError(f"unknown indicator type {kind!r}; expected one of: {', '.join(tables)}")
    checked = _params(kind, params, tables[kind], signal)
    if not signal:
        if trigger is not None or event_params:
            raise SubscriptionError(
                f"{kind}: a trigger belongs to an indicator_signal subscription, not to indicator"
            )
        return IndicatorSpec(kind, checked)
    triggers = TRIGGERS[kind]
    if trigger is None:
        raise SubscriptionError(
            f"{kind} signal needs a trigger; expected one of: {', '.join(triggers)}"
        )
    if not isinstance(trigger, str) or trigger not in triggers:
        raise SubscriptionError(
            f"unknown {kind} trigger {trigger!r}; expected one of: {', '.join(triggers)}"
        )
    needed = triggers[trigger]
    if needed is None:
        if event_params:
            raise SubscriptionError(f"{kind} {trigger} takes no event params, not {event_params!r}")
        return IndicatorSpec(kind, checked, trigger)
    name, values = needed
    extra = sorted(set(event_params) - {name})
    if extra:
        raise SubscriptionError(f"{kind} {trigger}: unknown event param(s) {', '.join(map(str, extra))}")
    if name not in event_params:
        raise SubscriptionError(f"{kind} {trigger} needs event param {name} (one of {_allowed(values)})")
    number = _integer(event_params[name])
    if number not in values:
        raise SubscriptionError(
            f"{kind} {trigger}: {name} must be one of {_allowed(values)}, not {event_params[name]!r}"
        )
    return IndicatorSpec(kind, checked, trigger, ((name, number),))


def _params(kind: str, params: dict[str, Any], spec: ParamSet, signal: bool) -> Params:
    where = f"{kind}{' signal' if signal else ''}"
    extra = sorted(str(k) for k in set(params) - set(spec.names))
    if extra:
        raise SubscriptionError(f"{where}: unknown param(s) {', '.join(extra)}; it takes "
                                f"{', '.join(spec.names)}")
    missing = [name for name in spec.names if name not in params]
    if missing:
        raise SubscriptionError(f"{where} needs param(s) {', '.join(missing)}")
    numbers = tuple(_integer(params[name]) for name in spec.keys)
    if None in numbers or numbers not in spec.allowed:
        given = ", ".join(f"{name}={params[name]!r}" for name in spec.keys)
        choices = "; ".join(", ".join(map(str, option)) for option in sorted(spec.allowed))
        label = "/".join(spec.keys)
        raise SubscriptionError(f"{where}: {given} is not offered; {label} must be one of: {choices}")
    out: list[tuple[str, Param]] = list(zip(spec.keys, numbers, strict=True))  # type: ignore[arg-type]
    if spec.ma_type:
        ma_type = params["type"]
        if ma_type not in MA_TYPES:
            raise SubscriptionError(f"{where}: type must be one of {', '.join(MA_TYPES)}, not {ma_type!r}")
        out.append(("type", ma_type))
    if spec.multiplier:
        multiplier = params["multiplier"]
        if (isinstance(multiplier, bool) or not isinstance(multiplier, (int, float))
                or not math.isfinite(multiplier) or multiplier <= 0):
            raise SubscriptionError(f"{where}: multiplier must be a positive number, not {multiplier!r}")
        out.append(("multiplier", float(multiplier)))
    return tuple(out)


def indicator_specs(items: Any, signal: bool) -> tuple[IndicatorSpec, ...]:
    """Every item of ``indicators=`` checked, repeats dropped; at least one."""
    if isinstance(items, (IndicatorSpec, Mapping)):
        items = [items]
    if isinstance(items, str) or not isinstance(items, Iterable):
        raise SubscriptionError(f"indicators must be a list of indicators, not {items!r}")
    checked = tuple(dict.fromkeys(indicator_spec(item, signal) for item in items))
    if not checked:
        raise SubscriptionError("indicators must name at least one indicator")
    return checked


def timeframe_of(timeframe: Any) -> str:
    if not isinstance(timeframe, str) or timeframe not in TIMEFRAMES:
        raise SubscriptionError(
            f"timeframe must be one of {', '.join(TIMEFRAMES)}, not {timeframe!r}"
        )
    return timeframe


def categories_of(categories: Any) -> tuple[str, ...] | None:
    """``categories=`` checked: None (every category) or known categories, repeats dropped."""
    if categories is None:
        return None
    if isinstance(categories, str):
        categories = [categories]
    if not isinstance(categories, Iterable):
        raise SubscriptionError(f"categories must be a list of categories, not {categories!r}")
    checked = tuple(categories)
    for category in checked:
        if not isinstance(category, str) or category not in CATEGORIES:
            raise SubscriptionError(
                f"unknown announcement category {category!r}; expected some of: {', '.join(CATEGORIES)}"
            )
    if not checked:
        raise SubscriptionError("categories must name at least one category (None: all of them)")
    return tuple(dict.fromkeys(checked))


__all__ = [
    "CATEGORIES",
    "EMA",
    "INDICATOR_PARAMS",
    "INFO_TYPES",
    "MACD",
    "MA_TYPES",
    "RSI",
    "SIGNAL_PARAMS",
    "SMA",
    "TIMEFRAMES",
    "TRIGGERS",
    "BollingerBands",
    "IndicatorSpec",
    "MACrossover",
    "MovingAverage",
    "ParamSet",
    "Volume",
    "categories_of",
    "indicator_spec",
    "indicator_specs",
    "timeframe_of",
]
