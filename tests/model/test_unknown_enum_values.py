"""Enum fields: a known value is the member, a value new to us is the server's plain string."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

import pytest

from upbit_sync import (
    AskBid,
    Change,
    MarketState,
    MarketWarning,
    OrderState,
    OrderType,
    SmpType,
    StreamType,
    TimeInForce,
)
from upbit_sync.errors import DecodeError
from upbit_sync.protocol import decode

from . import payloads


def decoded_field(text: str, field: str, value: Any) -> Any:
    """``field`` of the message decoded from payload ``text`` with ``field`` set to ``value``."""
    data = payloads.as_dict(text)
    data[field] = value
    return getattr(decode(json.dumps(data).encode("utf-8"))[0], field)


UNKNOWN_VALUES = [
    (payloads.TICKER_DEFAULT, "change", "SUPER"),
    (payloads.TICKER_DEFAULT, "ask_bid", "MID"),
    (payloads.TICKER_DEFAULT, "market_state", "SUSPENDED"),
    (payloads.TICKER_DEFAULT, "market_warning", "DANGER"),
    (payloads.TICKER_DEFAULT, "stream_type", "DELTA"),
    (payloads.TRADE_DEFAULT, "change", "SUPER"),
    (payloads.TRADE_DEFAULT, "ask_bid", "MID"),
    (payloads.ORDERBOOK_DEFAULT, "stream_type", "DELTA"),
    (payloads.CANDLE_DEFAULT, "stream_type", "DELTA"),
    (payloads.MY_ASSET_DEFAULT, "stream_type", "DELTA"),
    (payloads.MY_ORDER_DEFAULT, "state", "new_state"),
    (payloads.MY_ORDER_DEFAULT, "order_type", "iceberg"),
    (payloads.MY_ORDER_DEFAULT, "time_in_force", "gtd"),
    (payloads.MY_ORDER_DEFAULT, "smp_type", "cancel_both"),
]


@pytest.mark.parametrize(
    ("text", "field", "value"), UNKNOWN_VALUES,
    ids=[f"{payloads.as_dict(t)['type']}.{f}={v}" for t, f, v in UNKNOWN_VALUES],
)
def test_unknown_enum_value_decodes_to_the_plain_string(text: str, field: str, value: str) -> None:
    decoded = decoded_field(text, field, value)
    assert decoded == value
    assert type(decoded) is str


KNOWN_VALUES = [
    (payloads.TICKER_DEFAULT, "change", "FALL", Change.FALL),
    (payloads.TICKER_DEFAULT, "change", "EVEN", Change.EVEN),
    (payloads.TICKER_DEFAULT, "ask_bid", "BID", AskBid.BID),
    (payloads.TICKER_DEFAULT, "market_state", "PREVIEW", MarketState.PREVIEW),
    (payloads.TICKER_DEFAULT, "market_state", "DELISTED", MarketState.DELISTED),
    (payloads.TICKER_DEFAULT, "market_warning", "CAUTION", MarketWarning.CAUTION),
    (payloads.TRADE_DEFAULT, "change", "FALL", Change.FALL),
    (payloads.TRADE_DEFAULT, "stream_type", "REALTIME", StreamType.REALTIME),
    (payloads.MY_ORDER_DEFAULT, "state", "wait", OrderState.WAIT),
    (payloads.MY_ORDER_DEFAULT, "state", "watch", OrderState.WATCH),
    (payloads.MY_ORDER_DEFAULT, "state", "done", OrderState.DONE),
    (payloads.MY_ORDER_DEFAULT, "state", "cancel", OrderState.CANCEL),
    (payloads.MY_ORDER_DEFAULT, "state", "prevented", OrderState.PREVENTED),
    (payloads.MY_ORDER_DEFAULT, "order_type", "price", OrderType.PRICE),
    (payloads.MY_ORDER_DEFAULT, "order_type", "market", OrderType.MARKET),
    (payloads.MY_ORDER_DEFAULT, "order_type", "best", OrderType.BEST),
    (payloads.MY_ORDER_DEFAULT, "time_in_force", "fok", TimeInForce.FOK),
    (payloads.MY_ORDER_DEFAULT, "time_in_force", "post_only", TimeInForce.POST_ONLY),
    (payloads.MY_ORDER_DEFAULT, "smp_type", "reduce", SmpType.REDUCE),
    (payloads.MY_ORDER_DEFAULT, "smp_type", "cancel_taker", SmpType.CANCEL_TAKER),
]


@pytest.mark.parametrize(
    ("text", "field", "value", "member"), KNOWN_VALUES,
    ids=[f"{payloads.as_dict(t)['type']}.{f}={v}" for t, f, v, _ in KNOWN_VALUES],
)
def test_known_enum_value_decodes_to_the_enum_member(
    text: str, field: str, value: str, member: Enum
) -> None:
    assert decoded_field(text, field, value) is member


def test_enum_member_compares_equal_to_its_string() -> None:
    msg = decode(payloads.TICKER_DEFAULT)[0]
    assert msg.change == "RISE"  # type: ignore[union-attr]
    assert msg.ask_bid == "ASK"  # type: ignore[union-attr]


def test_enum_member_str_is_its_value() -> None:
    assert str(Change.RISE) == "RISE"
    assert str(OrderState.WAIT) == "wait"


def test_an_enum_field_holding_no_string_is_a_malformed_frame() -> None:
    # a new value is a new string; anything else is the wrong type, which the decoder checks
    with pytest.raises(DecodeError, match=r"malformed ticker frame: Expected `str \| null`, got `array` "
                                          r"- at `\$\.change`"):
        decoded_field(payloads.TICKER_DEFAULT, "change", ["RISE"])
