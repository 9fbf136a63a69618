"""Frames: LIST formats batch several messages; every frame type a socket gives is accepted."""

from __future__ import annotations

import json

import pytest

from upbit_sync import Candle, MyAsset, Orderbook, Status, Ticker, Trade
from upbit_sync.formats import to_simple
from upbit_sync.protocol import decode

from . import payloads

JSON_LIST_FRAME = "[" + ",".join(
    [payloads.TICKER_DEFAULT, payloads.TRADE_DEFAULT, payloads.ORDERBOOK_DEFAULT,
     payloads.CANDLE_DEFAULT]
) + "]"

SIMPLE_LIST_FRAME = json.dumps(
    [to_simple(payloads.as_dict(text)) for text in
     (payloads.TICKER_DEFAULT, payloads.TRADE_DEFAULT, payloads.MY_ASSET_DEFAULT)]
)


def test_json_list_frame_decodes_to_one_message_per_object_in_order() -> None:
    messages = decode(JSON_LIST_FRAME.encode("utf-8"))
    assert [type(m) for m in messages][:3] == [Ticker, Trade, Orderbook]
    assert isinstance(messages[3], Candle) and messages[3].type == "candle.1m"


def test_json_list_frame_messages_equal_the_single_frame_messages() -> None:
    singles = [decode(text)[0] for text in (payloads.TICKER_DEFAULT, payloads.TRADE_DEFAULT,
                                            payloads.ORDERBOOK_DEFAULT, payloads.CANDLE_DEFAULT)]
    assert decode(JSON_LIST_FRAME) == singles


def test_simple_list_frame_decodes_to_one_message_per_object_in_order() -> None:
    messages = decode(SIMPLE_LIST_FRAME.encode("utf-8"))
    assert [type(m) for m in messages] == [Ticker, Trade, MyAsset]


def test_simple_list_frame_messages_carry_default_raw_keys() -> None:
    ticker = decode(SIMPLE_LIST_FRAME)[0]
    assert isinstance(ticker, Ticker)
    assert ticker.raw == payloads.as_dict(payloads.TICKER_DEFAULT)


def test_list_frame_of_one_object_decodes_to_one_message() -> None:
    assert decode("[" + payloads.STATUS + "]") == [Status("UP")]


def test_empty_list_frame_decodes_to_no_messages() -> None:
    assert decode(b"[]") == []


FRAME_KINDS = {
    "bytes": lambda text: text.encode("utf-8"),
    "bytearray": lambda text: bytearray(text.encode("utf-8")),
    "memoryview": lambda text: memoryview(text.encode("utf-8")),
    "str": lambda text: text,
}


@pytest.mark.parametrize("kind", FRAME_KINDS)
def test_frame_of_each_kind_decodes(kind: str) -> None:
    frame = FRAME_KINDS[kind](payloads.TICKER_DEFAULT)
    assert decode(frame) == decode(payloads.TICKER_DEFAULT.encode("utf-8"))


@pytest.mark.parametrize("kind", FRAME_KINDS)
def test_list_frame_of_each_kind_decodes(kind: str) -> None:
    assert len(decode(FRAME_KINDS[kind](JSON_LIST_FRAME))) == 4


def test_frame_with_non_ascii_text_decodes_from_bytes_and_str_alike() -> None:
    text = payloads.ERROR_NO_TICKET
    assert decode(text) == decode(text.encode("utf-8"))
