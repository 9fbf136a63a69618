"""DEFAULT <-> SIMPLE key maps for every Upbit message type (docs/upbit.md §8).

One :class:`KeyMap` per type; each names its DEFAULT keys once, with their SIMPLE abbreviation, and
the nested lists (``obu``, ``ast``, ``rslt``) and objects (an indicator's ``p``, ``ep``, ``v``) carry a
map of their own. Keys a map does not know are passed through unchanged, so a field Upbit adds later
is never lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CANDLE_TYPES = (
    "candle.1s", "candle.1m", "candle.3m", "candle.5m", "candle.10m",
    "candle.15m", "candle.30m", "candle.60m", "candle.240m",
)


@dataclass(frozen=True)
class KeyMap:
    """The abbreviations of one message type; ``nested`` maps a list or object field to its own map."""

    simple: Mapping[str, str]
    nested: Mapping[str, KeyMap] = field(default_factory=dict)
    default: Mapping[str, str] = field(init=False)

    def __post_init__(self) -> None:
        inverse = {short: full for full, short in self.simple.items()}
        if len(inverse) != len(self.simple):
            taken = [s for s in inverse if list(self.simple.values()).count(s) > 1]
            raise ValueError(f"SIMPLE key used twice: {taken}")
        object.__setattr__(self, "default", inverse)

    def to_simple(self, message: Mapping[str, Any]) -> dict[str, Any]:
        return _rename(message, self.simple, self.nested, to_simple=True)

    def to_default(self, message: Mapping[str, Any]) -> dict[str, Any]:
        return _rename(message, self.default, self.nested, to_simple=False)


def _rename(
    message: Mapping[str, Any],
    names: Mapping[str, str],
    nested: Mapping[str, KeyMap],
    to_simple: bool,
) -> dict[str, Any]:
    if not nested:
        return {names.get(k, k): v for k, v in message.items()}
    out: dict[str, Any] = {}
    for key, value in message.items():
        new_key = names.get(key, key)
        inner = nested.get(key if to_simple else new_key)
        if inner is not None:
            convert = inner.to_simple if to_simple else inner.to_default
            if isinstance(value, list):
                value = [convert(item) if isinstance(item, Mapping) else item for item in value]
            elif isinstance(value, Mapping):  # the params and values of an indicator
                value = convert(value)
        out[new_key] = value
    return out


def _with_common(**own: str) -> dict[str, str]:
    return {"type": "ty", "code": "cd", "timestamp": "tms", "stream_type": "st", **own}


TICKER = KeyMap(_with_common(
    opening_price="op", high_price="hp", low_price="lp", trade_price="tp",
    prev_closing_price="pcp", change="c", change_price="cp", signed_change_price="scp",
    change_rate="cr", signed_change_rate="scr", trade_volume="tv", acc_trade_volume="atv",
    acc_trade_volume_24h="atv24h", acc_trade_price="atp", acc_trade_price_24h="atp24h",
    trade_date="tdt", trade_time="ttm", trade_timestamp="ttms", ask_bid="ab",
    acc_ask_volume="aav", acc_bid_volume="abv", highest_52_week_price="h52wp",
    highest_52_week_date="h52wdt", lowest_52_week_price="l52wp", lowest_52_week_date="l52wdt",
    market_state="ms", is_trading_suspended="its", delisting_date="dd", market_warning="mw",
))

TRADE = KeyMap(_with_common(
    trade_price="tp", trade_volume="tv", ask_bid="ab", prev_closing_price="pcp", change="c",
    change_price="cp", trade_date="td", trade_time="ttm", trade_timestamp="ttms",
    sequential_id="sid", best_ask_price="bap", best_ask_size="bas", best_bid_price="bbp",
    best_bid_size="bbs",
))

ORDERBOOK_UNIT = KeyMap({"ask_price": "ap", "bid_price": "bp", "ask_size": "as", "bid_size": "bs"})

ORDERBOOK = KeyMap(
    _with_common(total_ask_size="tas", total_bid_size="tbs", orderbook_units="obu", level="lv"),
    nested={"orderbook_units": ORDERBOOK_UNIT},
)

CANDLE = KeyMap(_with_common(
    candle_date_time_utc="cdttmu", candle_date_time_kst="cdttmk", opening_price="op",
    high_price="hp", low_price="lp", trade_price="tp", candle_acc_trade_volume="catv",
    candle_acc_trade_price="catp",
))

MY_ORDER = KeyMap(_with_common(
    uuid="uid", ask_bid="ab", order_type="ot", state="s", trade_uuid="tuid", price="p",
    avg_price="ap", volume="v", remaining_volume="rv", executed_volume="ev", trades_count="tc",
    reserved_fee="rsf", remaining_fee="rmf", paid_fee="pf", locked="l", executed_funds="ef",
    time_in_force="tif", trade_fee="tf", is_maker="im", identifier="id", smp_type="smpt",
    prevented_volume="pv", prevented_locked="pl", trade_timestamp="ttms",
    order_timestamp="otms",
))

ASSET = KeyMap({"currency": "cu", "balance": "b", "locked": "l"})

MY_ASSET = KeyMap(
    {"type": "ty", "timestamp": "tms", "stream_type": "st",
     "asset_uuid": "astuid", "assets": "ast", "asset_timestamp": "asttms"},
    nested={"assets": ASSET},
)

# the indicator types (docs/channels.md §3): params, event params and values are objects of their own
INDICATOR_PARAMS = KeyMap({
    "period": "p", "type": "t", "short_period": "shp", "long_period": "lop", "multiplier": "m",
    "fast": "f", "slow": "s", "signal_period": "sgp",
})
EVENT_PARAMS = KeyMap({"multiplier": "mul", "threshold": "th"})
INDICATOR_VALUE = KeyMap({  # the moving average's ``value`` keeps its name in SIMPLE
    "volume": "vol", "avg_volume": "av", "ratio": "rto", "rsi": "rsi", "value": "value",
    "ma_short": "mas", "ma_long": "mal", "bb_upper": "bbu", "bb_middle": "bbm", "bb_lower": "bbl",
    "macd": "macd", "macd_signal": "macds", "histogram": "hist",
})
INDICATOR = KeyMap(
    {"type": "ty", "code": "cd", "timeframe": "tf", "indicator": "ind", "trigger": "tr", "params": "p",
     "event_params": "ep", "value": "v", "candle_date_time_utc": "cdttmu", "timestamp": "tms",
     "stream_type": "st"},
    nested={"params": INDICATOR_PARAMS, "event_params": EVENT_PARAMS, "value": INDICATOR_VALUE},
)

ANNOUNCEMENT = KeyMap({  # no code: a notice belongs to no market (docs/channels.md §5)
    "type": "ty", "uuid": "uid", "title": "tt", "category": "cat", "event_type": "et", "url": "url",
    "body": "bd", "first_listed_at": "flat", "listed_at": "lat", "timestamp": "tms",
    "stream_type": "st",
})

LISTED_SUBSCRIPTION = KeyMap({"type": "ty", "codes": "cds", "level": "lv"})

LIST_SUBSCRIPTIONS = KeyMap(
    {"method": "mthd", "result": "rslt", "ticket": "tckt"},
    nested={"result": LISTED_SUBSCRIPTION},
)

BY_TYPE: dict[str, KeyMap] = {
    "ticker": TICKER,
    "trade": TRADE,
    "orderbook": ORDERBOOK,
    "myOrder": MY_ORDER,
    "myAsset": MY_ASSET,
    **{name: CANDLE for name in CANDLE_TYPES},
    "indicator": INDICATOR,
    "indicator_signal": INDICATOR,
    "announcement": ANNOUNCEMENT,
}


def key_map(message_type: str) -> KeyMap | None:
    """The map for a message type (``"ticker"``, ``"candle.1m"``, ...), or None if unknown."""
    return BY_TYPE.get(message_type)


def to_simple(message: Mapping[str, Any]) -> dict[str, Any]:
    """A DEFAULT-keyed message with SIMPLE keys; the type is read from its ``type`` key."""
    if "method" in message:
        return LIST_SUBSCRIPTIONS.to_simple(message)
    kind = message.get("type")
    km = BY_TYPE.get(kind) if isinstance(kind, str) else None
    return km.to_simple(message) if km is not None else dict(message)


def to_default(message: Mapping[str, Any]) -> dict[str, Any]:
    """A SIMPLE-keyed message with DEFAULT keys; the type is read from its ``ty`` key."""
    if "mthd" in message:
        return LIST_SUBSCRIPTIONS.to_default(message)
    kind = message.get("ty")
    km = BY_TYPE.get(kind) if isinstance(kind, str) else None
    return km.to_default(message) if km is not None else dict(message)
