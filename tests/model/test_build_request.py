"""build_request / build_list_subscriptions: the request frame of docs/upbit.md §2."""

from __future__ import annotations

import json
from typing import Any

import pytest

from upbit_sync import SubscriptionError
from upbit_sync.protocol import (
    WIRE_FORMATS,
    build_list_subscriptions,
    build_request,
    make_spec,
)


def request(*specs: Any, wire_format: str = "SIMPLE") -> list[dict[str, Any]]:
    """The decoded request frame for ``specs`` with ticket ``"t1"``."""
    frame = build_request(list(specs), wire_format, ticket="t1")
    assert isinstance(frame, str)
    decoded: list[dict[str, Any]] = json.loads(frame)
    return decoded


def type_objects(*specs: Any) -> list[dict[str, Any]]:
    """The type objects of the request: everything between ticket and format."""
    return request(*specs)[1:-1]


# ---- frame layout ------------------------------------------------------------------------------------


def test_ticket_object_comes_first() -> None:
    assert request(make_spec("ticker", "KRW-BTC"))[0] == {"ticket": "t1"}


def test_format_object_comes_last() -> None:
    frame = request(make_spec("ticker", "KRW-BTC"), wire_format="DEFAULT")
    assert frame[-1] == {"format": "DEFAULT"}


def test_format_defaults_to_simple() -> None:
    frame = json.loads(build_request([make_spec("ticker", "KRW-BTC")], ticket="t1"))
    assert frame[-1] == {"format": "SIMPLE"}


@pytest.mark.parametrize("wire_format", WIRE_FORMATS)
def test_every_upbit_format_is_accepted(wire_format: str) -> None:
    assert request(make_spec("ticker", "KRW-BTC"), wire_format=wire_format)[-1] == {
        "format": wire_format
    }


def test_type_objects_come_between_ticket_and_format() -> None:
    frame = request(make_spec("ticker", "KRW-BTC"), make_spec("trade", "KRW-ETH"))
    assert frame == [
        {"ticket": "t1"},
        {"type": "ticker", "codes": ["KRW-BTC"]},
        {"type": "trade", "codes": ["KRW-ETH"]},
        {"format": "SIMPLE"},
    ]


def test_generated_tickets_are_unique_strings() -> None:
    specs = [make_spec("ticker", "KRW-BTC")]
    first = json.loads(build_request(specs))[0]["ticket"]
    second = json.loads(build_request(specs))[0]["ticket"]
    assert isinstance(first, str) and first
    assert first != second


def test_frame_is_compact_json_text() -> None:
    frame = build_request([make_spec("ticker", "KRW-BTC")], ticket="t1")
    assert frame == '[{"ticket":"t1"},{"type":"ticker","codes":["KRW-BTC"]},{"format":"SIMPLE"}]'


# ---- orderbook options -----------------------------------------------------------------------------


def test_orderbook_depth_becomes_a_code_suffix() -> None:
    objects = type_objects(make_spec("orderbook", ["KRW-BTC", "KRW-ETH"], depth=15))
    assert objects == [{"type": "orderbook", "codes": ["KRW-BTC.15", "KRW-ETH.15"]}]


def test_orderbook_level_is_a_key_of_its_object() -> None:
    objects = type_objects(make_spec("orderbook", ["KRW-BTC"], depth=15, level=0))
    assert objects == [{"type": "orderbook", "codes": ["KRW-BTC.15"], "level": 0}]


def test_orderbook_without_options_has_plain_codes_and_no_level() -> None:
    assert type_objects(make_spec("orderbook", "KRW-BTC")) == [
        {"type": "orderbook", "codes": ["KRW-BTC"]}
    ]


def test_orderbooks_with_different_levels_get_one_object_each() -> None:
    objects = type_objects(
        make_spec("orderbook", "KRW-BTC", level=0),
        make_spec("orderbook", "KRW-ETH", level=10000),
    )
    assert objects == [
        {"type": "orderbook", "codes": ["KRW-BTC"], "level": 0},
        {"type": "orderbook", "codes": ["KRW-ETH"], "level": 10000},
    ]


def test_orderbooks_with_different_depths_keep_each_codes_suffix() -> None:
    objects = type_objects(
        make_spec("orderbook", "KRW-BTC", depth=5),
        make_spec("orderbook", "KRW-ETH", depth=30),
    )
    codes = [code for obj in objects for code in obj["codes"]]
    assert sorted(codes) == ["KRW-BTC.5", "KRW-ETH.30"]


def test_same_orderbook_code_with_two_depths_is_rejected_naming_the_code() -> None:
    specs = [make_spec("orderbook", "KRW-BTC", depth=5), make_spec("orderbook", "KRW-BTC", depth=15)]
    with pytest.raises(SubscriptionError, match="KRW-BTC"):
        build_request(specs)


def test_same_orderbook_code_with_two_levels_is_rejected_naming_the_code() -> None:
    specs = [make_spec("orderbook", "KRW-BTC", level=0),
             make_spec("orderbook", "KRW-BTC", level=10000)]
    with pytest.raises(SubscriptionError, match="KRW-BTC"):
        build_request(specs)


def test_same_orderbook_code_with_the_same_options_twice_is_one_code() -> None:
    objects = type_objects(make_spec("orderbook", "KRW-BTC", depth=15),
                           make_spec("orderbook", "KRW-BTC", depth=15))
    assert objects == [{"type": "orderbook", "codes": ["KRW-BTC.15"]}]


def test_float_depth_never_reaches_the_wire_as_a_float_suffix() -> None:
    # 15.0 == 15 passes the membership check; the wire code must still be KRW-BTC.15.
    try:
        spec = make_spec("orderbook", "KRW-BTC", depth=15.0)  # type: ignore[arg-type]
    except SubscriptionError:
        return
    assert type_objects(spec)[0]["codes"] == ["KRW-BTC.15"]


# ---- merging -------------------------------------------------------------------------------------------


def test_specs_of_the_same_type_and_options_share_one_object() -> None:
    objects = type_objects(make_spec("ticker", ["KRW-BTC", "KRW-ETH"]),
                           make_spec("ticker", ["KRW-XRP"]))
    assert objects == [{"type": "ticker", "codes": ["KRW-BTC", "KRW-ETH", "KRW-XRP"]}]


def test_merged_codes_are_deduplicated_in_first_seen_order() -> None:
    objects = type_objects(make_spec("trade", ["KRW-ETH", "KRW-BTC"]),
                           make_spec("trade", ["KRW-BTC", "KRW-XRP", "KRW-ETH"]))
    assert objects == [{"type": "trade", "codes": ["KRW-ETH", "KRW-BTC", "KRW-XRP"]}]


def test_specs_with_different_flags_do_not_share_an_object() -> None:
    objects = type_objects(make_spec("ticker", "KRW-BTC"),
                           make_spec("ticker", "KRW-ETH", is_only_snapshot=True))
    assert objects == [
        {"type": "ticker", "codes": ["KRW-BTC"]},
        {"type": "ticker", "codes": ["KRW-ETH"], "is_only_snapshot": True},
    ]


def test_candle_units_are_separate_objects() -> None:
    objects = type_objects(make_spec("candle.1m", "KRW-BTC"), make_spec("candle.5m", "KRW-BTC"))
    assert [obj["type"] for obj in objects] == ["candle.1m", "candle.5m"]


# ---- private types ---------------------------------------------------------------------------------


def test_my_asset_object_has_no_codes_key() -> None:
    assert type_objects(make_spec("myAsset")) == [{"type": "myAsset"}]


def test_my_order_without_codes_asks_for_every_market() -> None:
    (obj,) = type_objects(make_spec("myOrder"))
    assert obj["type"] == "myOrder"
    assert obj.get("codes", []) == []


def test_my_order_with_codes_asks_for_those_markets() -> None:
    assert type_objects(make_spec("myOrder", ["KRW-BTC"])) == [
        {"type": "myOrder", "codes": ["KRW-BTC"]}
    ]


def test_my_order_for_every_market_is_not_narrowed_by_a_merged_code_list() -> None:
    # One wish for all markets plus one for KRW-BTC must still cover all markets.
    objects = type_objects(make_spec("myOrder"), make_spec("myOrder", ["KRW-BTC"]))
    assert [] in [obj.get("codes", []) for obj in objects if obj["type"] == "myOrder"]


# ---- flags -----------------------------------------------------------------------------------------------


def test_flags_are_absent_when_not_set() -> None:
    (obj,) = type_objects(make_spec("ticker", "KRW-BTC"))
    assert "is_only_snapshot" not in obj
    assert "is_only_realtime" not in obj


def test_is_only_snapshot_appears_when_set() -> None:
    (obj,) = type_objects(make_spec("ticker", "KRW-BTC", is_only_snapshot=True))
    assert obj["is_only_snapshot"] is True
    assert "is_only_realtime" not in obj


def test_is_only_realtime_appears_when_set() -> None:
    (obj,) = type_objects(make_spec("ticker", "KRW-BTC", is_only_realtime=True))
    assert obj["is_only_realtime"] is True
    assert "is_only_snapshot" not in obj


# ---- rejected requests ------------------------------------------------------------------------------


def test_empty_spec_list_is_rejected() -> None:
    with pytest.raises(SubscriptionError, match="at least one"):
        build_request([])


@pytest.mark.parametrize("wire_format", ["XML", "simple", "", "SIMPLE "])
def test_unknown_format_is_rejected_by_name(wire_format: str) -> None:
    with pytest.raises(SubscriptionError, match=f"not {wire_format!r}"):
        build_request([make_spec("ticker", "KRW-BTC")], wire_format)


# ---- LIST_SUBSCRIPTIONS -------------------------------------------------------------------------------


def test_list_subscriptions_request_carries_the_method() -> None:
    frame = json.loads(build_list_subscriptions("DEFAULT", ticket="t2"))
    assert frame[0] == {"ticket": "t2"}
    assert {"method": "LIST_SUBSCRIPTIONS"} in frame


@pytest.mark.parametrize("wire_format", WIRE_FORMATS)
def test_list_subscriptions_request_carries_the_given_format_last(wire_format: str) -> None:
    frame = json.loads(build_list_subscriptions(wire_format, ticket="t2"))
    assert frame[-1] == {"format": wire_format}


def test_list_subscriptions_request_defaults_to_simple() -> None:
    assert json.loads(build_list_subscriptions())[-1] == {"format": "SIMPLE"}


def test_list_subscriptions_request_subscribes_to_nothing() -> None:
    frame = json.loads(build_list_subscriptions("SIMPLE", ticket="t2"))
    assert not any("type" in obj for obj in frame)


def test_list_subscriptions_request_rejects_an_unknown_format() -> None:
    # The format object switches the whole connection; a bad one gets WRONG_FORMAT and a close.
    with pytest.raises(SubscriptionError, match="XML"):
        build_list_subscriptions("XML")
