"""Subscriptions on the fake exchange behave like Upbit's (docs/upbit.md §2, §3)."""

from __future__ import annotations

import pytest
import websocket

from upbit_sync.formats import CANDLE_TYPES


def test_simple_ticker_session_gets_a_binary_snapshot_then_realtime_frames(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]}, fmt="SIMPLE")

    first = session.message()
    rest = [session.message() for _ in range(3)]

    assert first["ty"] == "ticker" and first["cd"] == "KRW-BTC" and first["st"] == "SNAPSHOT"
    assert [m["st"] for m in rest] == ["REALTIME"] * 3
    assert "trade_price" not in first and first["tp"] > 0


def test_data_frames_are_binary(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "trade", "codes": ["KRW-BTC"]})

    opcodes = {session.frame()[0] for _ in range(3)}

    assert opcodes == {websocket.ABNF.OPCODE_BINARY}


def test_without_a_format_object_messages_use_default_keys(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})

    message = session.message()

    assert message["type"] == "ticker" and message["stream_type"] == "SNAPSHOT"


@pytest.mark.parametrize(("fmt", "type_key"), [
    ("DEFAULT", "type"), ("SIMPLE", "ty"), ("JSON_LIST", "type"), ("SIMPLE_LIST", "ty"),
])
def test_each_format_has_its_keys_and_list_formats_wrap_each_message(server, connect, fmt,
                                                                     type_key):
    session = connect(server.public_url)
    session.subscribe({"type": "orderbook", "codes": ["KRW-BTC.5"]}, fmt=fmt)

    messages = [session.message() for _ in range(2)]

    for message in messages:
        if fmt.endswith("_LIST"):
            assert isinstance(message, list) and len(message) == 1
            message = message[0]
        assert message[type_key] == "orderbook"


def test_a_format_object_switches_every_stream_of_the_connection(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})
    session.until(lambda m: m.get("type") == "ticker")

    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]},
                      {"type": "trade", "codes": ["KRW-ETH"]}, fmt="SIMPLE")
    seen = session.until(lambda m: "ty" in m)
    after = session.collect(0.3)

    assert seen[-1]["ty"] in ("ticker", "trade")
    assert after and all("ty" in m for m in after)
    assert {m["ty"] for m in after} == {"ticker", "trade"}


def test_each_code_gets_one_snapshot_before_its_realtime_messages(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC", "KRW-ETH", "BTC-XRP"]})

    messages = session.collect(0.4)

    for code in ("KRW-BTC", "KRW-ETH", "BTC-XRP"):
        kinds = [m["stream_type"] for m in messages if m["code"] == code]
        assert kinds[0] == "SNAPSHOT" and kinds.count("SNAPSHOT") == 1
        assert len(kinds) >= 3


def test_is_only_snapshot_sends_one_snapshot_per_code_and_nothing_else(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC", "KRW-ETH"], "is_only_snapshot": True})

    messages = session.collect(0.4)

    assert sorted(m["code"] for m in messages) == ["KRW-BTC", "KRW-ETH"]
    assert {m["stream_type"] for m in messages} == {"SNAPSHOT"}


def test_is_only_realtime_sends_no_snapshot(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "trade", "codes": ["KRW-BTC"], "is_only_realtime": True})

    messages = session.collect(0.3)

    assert messages and {m["stream_type"] for m in messages} == {"REALTIME"}


def test_camel_case_flags_are_honoured_by_default(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"], "isOnlySnapshot": True})

    messages = session.collect(0.3)

    assert [m["stream_type"] for m in messages] == ["SNAPSHOT"]


def test_camel_case_flags_are_ignored_when_the_fake_is_told_so(make_server, connect):
    server = make_server(honour_camel_case=False)
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"], "isOnlySnapshot": True})

    messages = session.collect(0.3)

    assert "REALTIME" in {m["stream_type"] for m in messages}


def test_a_new_request_replaces_the_whole_subscription_set(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})
    session.until(lambda m: m["stream_type"] == "REALTIME")

    session.subscribe({"type": "ticker", "codes": ["KRW-ETH"]})
    session.until(lambda m: m["code"] == "KRW-ETH")
    after = session.collect(0.3)

    assert after and {m["code"] for m in after} == {"KRW-ETH"}


def test_codes_kept_across_a_replace_get_a_fresh_snapshot(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})
    session.until(lambda m: m["stream_type"] == "REALTIME")

    session.subscribe({"type": "ticker", "codes": ["KRW-BTC", "KRW-ETH"]})
    seen = session.until(lambda m: m["code"] == "KRW-ETH")
    seen += session.collect(0.2)

    kinds = [m["stream_type"] for m in seen if m["code"] == "KRW-BTC"]
    assert "SNAPSHOT" in kinds


def test_codes_kept_across_a_replace_keep_streaming_without_snapshot_when_configured(
        make_server, connect):
    server = make_server(resnapshot_on_replace=False)
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})
    session.until(lambda m: m["stream_type"] == "REALTIME")

    session.subscribe({"type": "ticker", "codes": ["KRW-BTC", "KRW-ETH"]})
    seen = session.until(lambda m: m["code"] == "KRW-ETH")
    seen += session.collect(0.2)

    kinds = [m["stream_type"] for m in seen if m["code"] == "KRW-BTC"]
    assert kinds and "SNAPSHOT" not in kinds
    assert next(m["stream_type"] for m in seen if m["code"] == "KRW-ETH") == "SNAPSHOT"


@pytest.mark.parametrize("bad_code", ["krw-btc", "KRWBTC", "KRW_BTC", "KRW-BTC-X", ""])
def test_malformed_or_lowercase_codes_are_ignored_silently(server, connect, bad_code):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": [bad_code, "KRW-ETH"]})

    messages = session.collect(0.25)

    assert messages and {m["code"] for m in messages} == {"KRW-ETH"}
    assert server.open_connections()


def test_a_request_of_only_unknown_codes_gives_no_data_and_no_error(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["krw-btc"]})

    assert session.collect(0.25) == []
    assert server.open_connections()


@pytest.mark.parametrize(("code", "depth"), [
    ("KRW-BTC.1", 1), ("KRW-BTC.5", 5), ("KRW-BTC.15", 15), ("KRW-BTC.30", 30),
    ("KRW-BTC", 30), ("KRW-BTC.7", 30),
])
def test_orderbook_depth_comes_from_the_code_suffix(server, connect, code, depth):
    session = connect(server.public_url)
    session.subscribe({"type": "orderbook", "codes": [code]})

    messages = [session.message() for _ in range(2)]

    for message in messages:
        assert message["code"] == "KRW-BTC"
        assert len(message["orderbook_units"]) == depth


def test_orderbook_level_is_echoed_and_prices_sit_on_its_grid(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "orderbook", "codes": ["KRW-BTC.5"], "level": 100000})

    message = session.message()

    assert message["level"] == 100000
    prices = [u["ask_price"] for u in message["orderbook_units"]]
    prices += [u["bid_price"] for u in message["orderbook_units"]]
    assert all(price % 100000 == 0 for price in prices)


def test_a_nonzero_level_on_a_non_krw_market_gives_no_data(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "orderbook", "codes": ["BTC-ETH"], "level": 10},
                      {"type": "ticker", "codes": ["KRW-BTC"]})

    messages = session.collect(0.25)

    assert messages and {m["type"] for m in messages} == {"ticker"}
    assert server.open_connections()


def test_every_candle_type_streams(server, connect):
    session = connect(server.public_url)
    session.subscribe(*({"type": name, "codes": ["KRW-BTC"]} for name in CANDLE_TYPES))

    messages = session.collect(0.3)

    assert {m["type"] for m in messages} == set(CANDLE_TYPES)


def test_realtime_messages_follow_message_rate(make_server, connect):
    server = make_server(message_rate=25.0)
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"], "is_only_realtime": True})
    session.message()

    count = len(session.collect(1.0))

    assert 15 <= count <= 35


def test_message_rate_zero_sends_only_snapshots(make_server, connect):
    server = make_server(message_rate=0)
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})

    messages = session.collect(0.3)

    assert [m["stream_type"] for m in messages] == ["SNAPSHOT"]
