"""A frame the SDK cannot understand raises DecodeError, and never any other exception."""

from __future__ import annotations

import json
from typing import Any

import pytest

from upbit_sync import DecodeError, UpbitError
from upbit_sync.protocol import decode

from . import payloads


def _without(text: str, key: str) -> str:
    data = payloads.as_dict(text)
    del data[key]
    return json.dumps(data)


def _with(text: str, key: str, value: Any) -> str:
    data = payloads.as_dict(text)
    data[key] = value
    return json.dumps(data)


def _nested_lists(depth: int) -> str:
    """JSON lists nested ``depth`` deep: still under orjson's 1024 limit, so it parses."""
    return "[" * depth + "]" * depth


MALFORMED_FRAMES: dict[str, str | bytes] = {
    "invalid JSON": b'{"type":"ticker",',
    "not JSON at all": b"PONG",
    "empty frame": b"",
    "invalid UTF-8": b'{"status":"\xff\xfe"}',
    "lone surrogate in a str frame": '{"status":"\ud800"}',
    "top-level number": b"42",
    "top-level string": b'"UP"',
    "top-level null": b"null",
    "top-level true": b"true",
    "list holding a number": b'[{"status":"UP"},1]',
    "list holding a list": b"[[]]",
    "list holding null": b"[null]",
    "ticker without trade_price": _without(payloads.TICKER_DEFAULT, "trade_price"),
    "ticker without code": _without(payloads.TICKER_DEFAULT, "code"),
    "simple orderbook without tas": json.dumps(
        {k: v for k, v in payloads.as_dict(payloads.ORDERBOOK_SIMPLE).items() if k != "tas"}
    ),
    "trade without sequential_id": _without(payloads.TRADE_DEFAULT, "sequential_id"),
    "candle without candle_date_time_utc": _without(payloads.CANDLE_DEFAULT,
                                                    "candle_date_time_utc"),
    "orderbook whose units are a string": _with(payloads.ORDERBOOK_DEFAULT, "orderbook_units",
                                                "none"),
    "orderbook whose units are an object": _with(payloads.ORDERBOOK_DEFAULT, "orderbook_units",
                                                 {"ask_price": 1}),
    "orderbook whose units are null": _with(payloads.ORDERBOOK_DEFAULT, "orderbook_units", None),
    "orderbook unit that is a number": _with(payloads.ORDERBOOK_DEFAULT, "orderbook_units", [1]),
    "orderbook unit without bid_size": _with(
        payloads.ORDERBOOK_DEFAULT, "orderbook_units",
        [{"ask_price": 1, "bid_price": 1, "ask_size": 1}],
    ),
    "my asset whose assets are a number": _with(payloads.MY_ASSET_DEFAULT, "assets", 5),
    "my asset entry without balance": _with(payloads.MY_ASSET_DEFAULT, "assets",
                                            [{"currency": "KRW", "locked": 0}]),
    "my order without uuid": _without(payloads.MY_ORDER_DEFAULT, "uuid"),
    "unknown type nope": b'{"type":"nope","code":"KRW-BTC"}',
    "unknown simple type nope": b'{"ty":"nope","cd":"KRW-BTC"}',
    "object of no known kind": b'{"hello":"world"}',
    "empty object": b"{}",
    "type that is a number": b'{"type":5}',
    "simple type that is a list": b'{"ty":[]}',
    "simple type that is an object": b'{"ty":{"a":1}}',
    "list subscriptions result not a list": b'{"method":"LIST_SUBSCRIPTIONS","result":"x"}',
    "list subscriptions entry without type": b'{"method":"LIST_SUBSCRIPTIONS","result":[{}]}',
    "list subscriptions codes not a list": (
        b'{"method":"LIST_SUBSCRIPTIONS","result":[{"type":"ticker","codes":"KRW-BTC"}]}'
    ),
    "unterminated arrays 100000 deep": "[" * 100000,
    "arrays 100000 deep": _nested_lists(100000),
    "arrays 1000 deep (parsable)": _nested_lists(1000),
    "list holding arrays 1000 deep": "[" + _nested_lists(1000) + "]",
}


@pytest.mark.parametrize("frame", MALFORMED_FRAMES.values(), ids=MALFORMED_FRAMES.keys())
def test_malformed_frame_raises_decode_error(frame: str | bytes) -> None:
    with pytest.raises(DecodeError):
        decode(frame)


# Odd but parsable values deep inside a known frame: a message or a DecodeError are both fine,
# a RecursionError from turning them into text is not.
DEEPLY_NESTED_VALUES: dict[str, str] = {
    "status holding arrays 1000 deep": '{"status":' + _nested_lists(1000) + "}",
    "error holding arrays 1000 deep": '{"error":' + _nested_lists(1000) + "}",
    "list subscriptions codes holding arrays 1000 deep": (
        '{"method":"LIST_SUBSCRIPTIONS","result":[{"type":"ticker","codes":['
        + _nested_lists(1000) + "]}]}"
    ),
}


@pytest.mark.parametrize("frame", DEEPLY_NESTED_VALUES.values(), ids=DEEPLY_NESTED_VALUES.keys())
def test_deeply_nested_value_decodes_or_raises_decode_error(frame: str) -> None:
    try:
        messages = decode(frame)
    except DecodeError:
        return
    assert len(messages) == 1


def test_decode_error_is_an_upbit_error() -> None:
    with pytest.raises(UpbitError):
        decode(b"{")


def test_decode_error_names_the_missing_field() -> None:
    with pytest.raises(DecodeError, match="trade_price"):
        decode(_without(payloads.TICKER_DEFAULT, "trade_price"))


def test_decode_error_names_the_unknown_type() -> None:
    with pytest.raises(DecodeError, match="nope"):
        decode(b'{"type":"nope"}')


def test_one_bad_object_in_a_list_frame_fails_the_whole_frame() -> None:
    frame = "[" + payloads.TICKER_DEFAULT + "," + _without(payloads.TRADE_DEFAULT, "code") + "]"
    with pytest.raises(DecodeError):
        decode(frame)
