"""DEFAULT <-> SIMPLE key maps: literally docs/upbit.md §8, lossless both ways."""

from __future__ import annotations

import json
from typing import Any

import pytest

from upbit_sync import formats
from upbit_sync.formats import KeyMap
from upbit_sync.protocol import ALL_TYPES, decode
from upbit_sync.types import Message

from . import payloads

# ---- docs/upbit.md §8, written out as data ----------------------------------------------------

COMMON = {"type": "ty", "code": "cd", "timestamp": "tms", "stream_type": "st"}

SECTION_8_TICKER = {
    **COMMON,
    "opening_price": "op", "high_price": "hp", "low_price": "lp", "trade_price": "tp",
    "prev_closing_price": "pcp", "change": "c", "change_price": "cp",
    "signed_change_price": "scp", "change_rate": "cr", "signed_change_rate": "scr",
    "trade_volume": "tv", "acc_trade_volume": "atv", "acc_trade_volume_24h": "atv24h",
    "acc_trade_price": "atp", "acc_trade_price_24h": "atp24h", "trade_date": "tdt",
    "trade_time": "ttm", "trade_timestamp": "ttms", "ask_bid": "ab", "acc_ask_volume": "aav",
    "acc_bid_volume": "abv", "highest_52_week_price": "h52wp", "highest_52_week_date": "h52wdt",
    "lowest_52_week_price": "l52wp", "lowest_52_week_date": "l52wdt", "market_state": "ms",
    "is_trading_suspended": "its", "delisting_date": "dd", "market_warning": "mw",
}

SECTION_8_TRADE = {
    **COMMON,
    "trade_price": "tp", "trade_volume": "tv", "ask_bid": "ab", "prev_closing_price": "pcp",
    "change": "c", "change_price": "cp", "trade_date": "td", "trade_time": "ttm",
    "trade_timestamp": "ttms", "sequential_id": "sid", "best_ask_price": "bap",
    "best_ask_size": "bas", "best_bid_price": "bbp", "best_bid_size": "bbs",
}

SECTION_8_ORDERBOOK = {
    **COMMON,
    "total_ask_size": "tas", "total_bid_size": "tbs", "orderbook_units": "obu", "level": "lv",
}

SECTION_8_ORDERBOOK_UNIT = {
    "ask_price": "ap", "bid_price": "bp", "ask_size": "as", "bid_size": "bs",
}

SECTION_8_CANDLE = {
    **COMMON,
    "candle_date_time_utc": "cdttmu", "candle_date_time_kst": "cdttmk", "opening_price": "op",
    "high_price": "hp", "low_price": "lp", "trade_price": "tp",
    "candle_acc_trade_volume": "catv", "candle_acc_trade_price": "catp",
}

SECTION_8_MY_ORDER = {
    **COMMON,
    "uuid": "uid", "ask_bid": "ab", "order_type": "ot", "state": "s", "trade_uuid": "tuid",
    "price": "p", "avg_price": "ap", "volume": "v", "remaining_volume": "rv",
    "executed_volume": "ev", "trades_count": "tc", "reserved_fee": "rsf", "remaining_fee": "rmf",
    "paid_fee": "pf", "locked": "l", "executed_funds": "ef", "time_in_force": "tif",
    "trade_fee": "tf", "is_maker": "im", "identifier": "id", "smp_type": "smpt",
    "prevented_volume": "pv", "prevented_locked": "pl", "trade_timestamp": "ttms",
    "order_timestamp": "otms",
}

SECTION_8_MY_ASSET = {  # myAsset has no code
    "type": "ty", "timestamp": "tms", "stream_type": "st",
    "asset_uuid": "astuid", "assets": "ast", "asset_timestamp": "asttms",
}

SECTION_8_ASSET = {"currency": "cu", "balance": "b", "locked": "l"}

SECTION_8_LIST_SUBSCRIPTIONS = {"method": "mthd", "result": "rslt", "ticket": "tckt"}

SECTION_8_LISTED_SUBSCRIPTION = {"type": "ty", "codes": "cds", "level": "lv"}

SECTION_8 = {
    "ticker": (formats.TICKER, SECTION_8_TICKER),
    "trade": (formats.TRADE, SECTION_8_TRADE),
    "orderbook": (formats.ORDERBOOK, SECTION_8_ORDERBOOK),
    "orderbook_units": (formats.ORDERBOOK_UNIT, SECTION_8_ORDERBOOK_UNIT),
    "candle": (formats.CANDLE, SECTION_8_CANDLE),
    "myOrder": (formats.MY_ORDER, SECTION_8_MY_ORDER),
    "myAsset": (formats.MY_ASSET, SECTION_8_MY_ASSET),
    "assets": (formats.ASSET, SECTION_8_ASSET),
    "LIST_SUBSCRIPTIONS": (formats.LIST_SUBSCRIPTIONS, SECTION_8_LIST_SUBSCRIPTIONS),
    "result": (formats.LISTED_SUBSCRIPTION, SECTION_8_LISTED_SUBSCRIPTION),
}

SECTION_8_NESTED = {
    "orderbook": (formats.ORDERBOOK, "orderbook_units", formats.ORDERBOOK_UNIT),
    "myAsset": (formats.MY_ASSET, "assets", formats.ASSET),
    "LIST_SUBSCRIPTIONS": (formats.LIST_SUBSCRIPTIONS, "result", formats.LISTED_SUBSCRIPTION),
}


# ---- the maps are §8 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SECTION_8)
def test_simple_map_is_exactly_section_8(name: str) -> None:
    key_map, expected = SECTION_8[name]
    assert dict(key_map.simple) == expected


@pytest.mark.parametrize("name", SECTION_8)
def test_every_section_8_default_key_is_in_the_map(name: str) -> None:
    key_map, expected = SECTION_8[name]
    assert set(expected) <= set(key_map.simple)


@pytest.mark.parametrize("name", SECTION_8)
def test_no_simple_key_is_used_twice_in_a_map(name: str) -> None:
    key_map, _ = SECTION_8[name]
    shorts = list(key_map.simple.values())
    assert len(shorts) == len(set(shorts))


@pytest.mark.parametrize("name", SECTION_8)
def test_default_map_is_the_inverse_of_the_simple_map(name: str) -> None:
    key_map, expected = SECTION_8[name]
    assert dict(key_map.default) == {short: full for full, short in expected.items()}


@pytest.mark.parametrize("name", SECTION_8_NESTED)
def test_nested_list_field_has_its_own_section_8_map(name: str) -> None:
    key_map, list_field, item_map = SECTION_8_NESTED[name]
    assert dict(key_map.nested) == {list_field: item_map}


def test_key_map_rejects_a_simple_key_used_twice() -> None:
    with pytest.raises(ValueError, match="tp"):
        KeyMap({"trade_price": "tp", "total_price": "tp"})


@pytest.mark.parametrize("message_type", ALL_TYPES)
def test_every_subscription_type_has_a_key_map(message_type: str) -> None:
    expected = {
        "ticker": formats.TICKER, "trade": formats.TRADE, "orderbook": formats.ORDERBOOK,
        "myOrder": formats.MY_ORDER, "myAsset": formats.MY_ASSET,
        "announcement": formats.ANNOUNCEMENT, "indicator": formats.INDICATOR,
        "indicator_signal": formats.INDICATOR,
    }.get(message_type, formats.CANDLE)
    assert formats.key_map(message_type) is expected


def test_unknown_type_has_no_key_map() -> None:
    assert formats.key_map("nope") is None


# ---- renaming against hand-written SIMPLE payloads ---------------------------------------------------


def test_to_simple_of_the_default_orderbook_is_the_live_simple_orderbook() -> None:
    default = payloads.as_dict(payloads.ORDERBOOK_DEFAULT)
    assert formats.to_simple(default) == payloads.as_dict(payloads.ORDERBOOK_SIMPLE)


def test_to_default_of_the_live_simple_orderbook_expands_its_units() -> None:
    simple = payloads.as_dict(payloads.ORDERBOOK_SIMPLE)
    assert formats.to_default(simple) == payloads.as_dict(payloads.ORDERBOOK_DEFAULT)


def test_to_simple_of_my_order_uses_every_section_8_abbreviation() -> None:
    default = payloads.as_dict(payloads.MY_ORDER_DEFAULT)
    assert formats.to_simple(default) == payloads.as_dict(payloads.MY_ORDER_SIMPLE)


def test_to_simple_of_a_list_subscriptions_reply_renames_its_result_entries() -> None:
    default = payloads.as_dict(payloads.LIST_SUBSCRIPTIONS_DEFAULT)
    assert formats.to_simple(default) == payloads.as_dict(payloads.LIST_SUBSCRIPTIONS_SIMPLE)


def test_to_default_of_a_simple_list_subscriptions_reply_expands_its_result_entries() -> None:
    simple = payloads.as_dict(payloads.LIST_SUBSCRIPTIONS_SIMPLE)
    assert formats.to_default(simple) == payloads.as_dict(payloads.LIST_SUBSCRIPTIONS_DEFAULT)


def test_to_simple_of_my_asset_renames_its_assets() -> None:
    simple = formats.to_simple(payloads.as_dict(payloads.MY_ASSET_DEFAULT))
    assert simple["ty"] == "myAsset"
    assert simple["astuid"] == "e635f223-1609-4969-8fb6-4376937baad6"
    assert [set(item) for item in simple["ast"]] == [{"cu", "b", "l"}]


def test_trade_date_of_a_trade_abbreviates_to_td_not_tdt() -> None:
    simple = formats.to_simple(payloads.as_dict(payloads.TRADE_DEFAULT))
    assert simple["td"] == "2026-08-26"
    assert "tdt" not in simple


def test_trade_date_of_a_ticker_abbreviates_to_tdt() -> None:
    simple = formats.to_simple(payloads.as_dict(payloads.TICKER_DEFAULT))
    assert simple["tdt"] == "20230221"
    assert "td" not in simple


# ---- round trips over every payload ---------------------------------------------------------------------


@pytest.mark.parametrize("payload_id", payloads.DEFAULT_PAYLOADS)
def test_to_default_of_to_simple_gives_back_the_default_dict(payload_id: str) -> None:
    default = payloads.as_dict(payloads.DEFAULT_PAYLOADS[payload_id])
    assert formats.to_default(formats.to_simple(default)) == default


@pytest.mark.parametrize("payload_id", payloads.DEFAULT_PAYLOADS)
def test_simple_frame_decodes_to_the_same_message_as_the_default_frame(payload_id: str) -> None:
    default_text = payloads.DEFAULT_PAYLOADS[payload_id]
    simple_frame = json.dumps(formats.to_simple(payloads.as_dict(default_text))).encode("utf-8")
    assert decode(simple_frame) == decode(default_text.encode("utf-8"))


@pytest.mark.parametrize("payload_id", payloads.DEFAULT_PAYLOADS)
def test_simple_frame_decodes_to_the_same_raw_as_the_default_frame(payload_id: str) -> None:
    default_text = payloads.DEFAULT_PAYLOADS[payload_id]
    simple_frame = json.dumps(formats.to_simple(payloads.as_dict(default_text))).encode("utf-8")
    from_simple = decode(simple_frame)
    from_default = decode(default_text.encode("utf-8"))
    raws = [(m.raw if isinstance(m, Message) else None) for m in from_simple]
    assert raws == [(m.raw if isinstance(m, Message) else None) for m in from_default]


def test_data_payloads_are_renamed_by_to_simple() -> None:
    # Guards the round trips above from passing vacuously on an identity to_simple.
    for payload_id in ("ticker", "trade", "orderbook", "candle.1m", "myOrder", "myAsset"):
        default = payloads.as_dict(payloads.DEFAULT_PAYLOADS[payload_id])
        simple = formats.to_simple(default)
        assert "ty" in simple and "type" not in simple, payload_id


# ---- unknown keys pass through -----------------------------------------------------------------------


def _with(text: str, **extra: Any) -> dict[str, Any]:
    data = payloads.as_dict(text)
    data.update(extra)
    return data


def test_unknown_top_level_key_passes_through_to_simple() -> None:
    simple = formats.to_simple(_with(payloads.TICKER_DEFAULT, brand_new_field=[1, 2]))
    assert simple["brand_new_field"] == [1, 2]


def test_unknown_top_level_key_passes_through_to_default() -> None:
    simple = formats.to_simple(payloads.as_dict(payloads.TICKER_DEFAULT))
    simple["zz"] = "x"
    assert formats.to_default(simple)["zz"] == "x"


def test_unknown_key_in_a_nested_unit_passes_through_both_ways() -> None:
    default = payloads.as_dict(payloads.ORDERBOOK_DEFAULT)
    default["orderbook_units"][0]["ask_count"] = 3
    simple = formats.to_simple(default)
    assert simple["obu"][0]["ask_count"] == 3
    assert formats.to_default(simple)["orderbook_units"][0]["ask_count"] == 3


def test_unknown_top_level_key_reaches_raw() -> None:
    frame = json.dumps(formats.to_simple(_with(payloads.TRADE_DEFAULT, trade_fee_rate=0.0005)))
    assert decode(frame)[0].raw["trade_fee_rate"] == 0.0005  # type: ignore[union-attr]


def test_message_of_unknown_type_passes_through_unchanged_both_ways() -> None:
    message = {"type": "newType", "code": "KRW-BTC", "trade_price": 1}
    simple_message = {"ty": "newType", "cd": "KRW-BTC", "tp": 1}
    assert formats.to_simple(message) == message
    assert formats.to_default(simple_message) == simple_message
