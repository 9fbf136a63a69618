"""The fake lists Upbit's markets and ignores other codes silently, as Upbit does (docs/upbit.md §2)."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from upbit_sync.formats import CANDLE_TYPES
from upbit_sync.testing import DEFAULT_MARKETS, FakeUpbitServer, Market, MarketSimulator

TYPES = ["ticker", "trade", "orderbook", *CANDLE_TYPES]


def code_of(message):
    return message.get("code", message.get("cd"))


def test_the_default_list_has_krw_btc_and_usdt_markets():
    quotes = Counter(m.quote for m in DEFAULT_MARKETS)

    assert quotes["KRW"] >= 120 and quotes["BTC"] >= 60 and quotes["USDT"] >= 20
    assert set(quotes) == {"KRW", "BTC", "USDT"}


def test_the_default_list_names_markets_as_upbit_shows_them():
    by_code = {m.market: m for m in DEFAULT_MARKETS}

    assert by_code["KRW-BTC"] == Market("KRW-BTC", "비트코인", "Bitcoin")
    assert (by_code["KRW-ETH"].korean_name, by_code["KRW-ETH"].english_name) == ("이더리움", "Ethereum")
    assert (by_code["KRW-XRP"].korean_name, by_code["KRW-XRP"].english_name) == ("리플", "XRP")
    assert (by_code["KRW-SOL"].korean_name, by_code["KRW-SOL"].english_name) == ("솔라나", "Solana")
    assert (by_code["KRW-DOGE"].korean_name, by_code["KRW-DOGE"].english_name) == ("도지코인", "Dogecoin")
    assert by_code["BTC-ETH"].korean_name == "이더리움" and by_code["USDT-BTC"].english_name == "Bitcoin"


def test_every_default_market_is_a_well_formed_code_listed_once_with_both_names():
    codes = [m.market for m in DEFAULT_MARKETS]

    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[A-Z0-9]+-[A-Z0-9]+", code) for code in codes)
    assert all(m.korean_name and m.english_name for m in DEFAULT_MARKETS)
    assert all(m.market == f"{m.quote}-{m.base}" for m in DEFAULT_MARKETS)


def test_a_server_lists_the_default_markets_unless_told_otherwise(server):
    assert server.markets == DEFAULT_MARKETS


@pytest.mark.parametrize("type_name", TYPES)
def test_the_simulator_makes_every_type_for_every_listed_market(type_name):
    simulator = MarketSimulator(seed=3)

    for market in DEFAULT_MARKETS:
        message = simulator.make(type_name, market.market)

        assert message["code"] == market.market and message["type"] == type_name


def test_every_listed_market_gets_its_snapshot(server, connect):
    codes = [m.market for m in DEFAULT_MARKETS]
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": codes, "is_only_snapshot": True})

    messages = [session.message() for _ in codes]

    assert sorted(code_of(m) for m in messages) == sorted(codes)
    assert all(m["trade_price"] > 0 and m["stream_type"] == "SNAPSHOT" for m in messages)


@pytest.mark.parametrize(("type_name", "unknown", "listed"), [
    ("ticker", "KRW-NOPE", "KRW-BTC"),
    ("trade", "BTC-NOPE", "BTC-ETH"),
    ("orderbook", "KRW-NOPE.5", "KRW-BTC.5"),
    ("candle.1m", "USDT-NOPE", "USDT-BTC"),
])
def test_an_unlisted_code_gets_no_data_and_no_error_while_a_listed_one_is_served(
        server, connect, type_name, unknown, listed):
    session = connect(server.public_url)
    session.subscribe({"type": type_name, "codes": [unknown, listed]})

    messages = [session.message() for _ in range(4)]  # an unlisted code's data would be among them

    assert [m["stream_type"] for m in messages] == ["SNAPSHOT"] + ["REALTIME"] * 3
    assert {code_of(m) for m in messages} == {listed.split(".")[0]}
    assert server.connections[0].is_open


def test_a_request_naming_only_unlisted_codes_is_answered_with_nothing(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-NOPE", "KRW-BTCC"]})

    assert session.collect(0.3) == []
    assert server.connections[0].is_open
    assert server.connections[0].subscriptions[0]["codes"] == ["KRW-NOPE", "KRW-BTCC"]  # as sent


def test_markets_none_serves_any_well_formed_code(make_server, connect):
    server = make_server(markets=None)
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-C17", "krw-c18"]})

    first = session.message()

    assert server.markets is None
    assert (code_of(first), first["stream_type"]) == ("KRW-C17", "SNAPSHOT")


def test_a_custom_list_of_codes_serves_those_only(make_server, connect):
    server = make_server(markets=["KRW-BTC", "KRW-C17"])
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-ETH", "KRW-C17"], "is_only_snapshot": True},
                      {"type": "trade", "codes": ["KRW-BTC"], "is_only_snapshot": True})

    messages = [session.message() for _ in range(2)]

    assert sorted(code_of(m) for m in messages) == ["KRW-BTC", "KRW-C17"]
    assert session.collect(0.2) == []


def test_listed_codes_take_upbits_names_and_others_their_coins(make_server):
    server = make_server(markets=["KRW-BTC", "KRW-C17", "KRW-BTC"])

    assert server.markets == (Market("KRW-BTC", "비트코인", "Bitcoin"), Market("KRW-C17", "C17", "C17"))


def test_a_custom_list_of_records_is_kept_as_given(make_server):
    records = (Market("KRW-ABC", "에이비씨", "Abc", warning=True), Market("BTC-ABC", "에이비씨", "Abc"))

    server = make_server(markets=list(records))

    assert server.markets == records


@pytest.mark.parametrize("markets", [["krw-btc"], ["KRW_BTC"], ["KRW-BTC.5"], [Market("BTC", "b", "b")]])
def test_a_malformed_code_in_the_list_is_a_value_error(markets):
    with pytest.raises(ValueError, match="not an Upbit market code"):
        FakeUpbitServer(markets=markets)


def test_a_lone_string_is_not_a_list_of_markets():
    with pytest.raises(TypeError):
        FakeUpbitServer(markets="KRW-BTC")


def test_the_list_can_change_while_running(server, connect):
    server.markets = ["KRW-ETH"]
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC", "KRW-ETH"], "is_only_snapshot": True})

    first = session.message()

    assert code_of(first) == "KRW-ETH"
    assert server.markets == (Market("KRW-ETH", "이더리움", "Ethereum"),)


def test_emit_my_order_for_an_unlisted_code_is_a_value_error(server):
    with pytest.raises(ValueError, match="KRW-NOPE"):
        server.emit_my_order(code="KRW-NOPE")


def test_a_my_order_subscription_to_unlisted_codes_only_gets_no_orders(server, connect, auth):
    session = connect(server.private_url, header=auth())
    session.subscribe({"type": "myOrder", "codes": ["KRW-NOPE"]}, {"type": "myAsset"})
    assert server.wait_for(lambda: server.connections[0].subscriptions != [])

    server.emit_my_order(code="KRW-BTC")
    server.emit_my_asset()

    assert session.message()["type"] == "myAsset"  # the order, sent first, never came
