"""MarketSimulator makes plausible, internally consistent messages (docs/upbit.md §8, §9)."""

from __future__ import annotations

import itertools
import json
import re
from datetime import datetime, timedelta

import pytest

from upbit_sync import formats
from upbit_sync.formats import CANDLE_TYPES
from upbit_sync.testing import MarketSimulator, encode
from upbit_sync.testing.market import CANDLE_SECONDS


@pytest.fixture
def market():
    return MarketSimulator(seed=42)


def test_ticker_carries_every_documented_field(market):
    ticker = market.make("ticker", "KRW-BTC", "SNAPSHOT")

    assert set(ticker) == set(formats.TICKER.simple)
    assert ticker["stream_type"] == "SNAPSHOT"
    assert re.fullmatch(r"\d{8}", ticker["trade_date"])
    assert re.fullmatch(r"\d{6}", ticker["trade_time"])


def test_ticker_change_fields_agree_with_the_previous_close(market):
    for _ in range(50):
        t = market.make("ticker", "KRW-ETH")
        diff = t["trade_price"] - t["prev_closing_price"]
        expected = "RISE" if diff > 0 else "FALL" if diff < 0 else "EVEN"
        assert t["change"] == expected
        assert t["signed_change_price"] == pytest.approx(diff)
        assert t["change_price"] == pytest.approx(abs(diff))
        assert t["change_rate"] == pytest.approx(abs(diff) / t["prev_closing_price"], rel=1e-6)
        assert t["signed_change_rate"] == pytest.approx(diff / t["prev_closing_price"], rel=1e-6)
        assert t["low_price"] <= t["trade_price"] <= t["high_price"]
        assert t["lowest_52_week_price"] <= t["low_price"]
        assert t["high_price"] <= t["highest_52_week_price"]


def test_accumulated_volumes_grow_and_add_up(market):
    tickers = [market.make("ticker", "KRW-XRP") for _ in range(20)]

    volumes = [t["acc_trade_volume"] for t in tickers]
    assert volumes == sorted(volumes) and volumes[0] < volumes[-1]
    for t in tickers:
        assert t["acc_ask_volume"] + t["acc_bid_volume"] == pytest.approx(t["acc_trade_volume"])
        assert t["acc_trade_volume_24h"] >= t["acc_trade_volume"]


def test_trade_dates_sequence_ids_and_best_prices_are_consistent(market):
    trades = [market.make("trade", "KRW-BTC") for _ in range(100)]

    ids = [t["sequential_id"] for t in trades]
    assert all(a < b for a, b in itertools.pairwise(ids))
    for t in trades:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", t["trade_date"])
        assert re.fullmatch(r"\d{2}:\d{2}:\d{2}", t["trade_time"])
        assert t["best_ask_price"] > t["best_bid_price"]
        side = "best_bid_price" if t["ask_bid"] == "ASK" else "best_ask_price"
        assert t["trade_price"] == t[side]
    assert set(trades[0]) == set(formats.TRADE.simple)


def test_a_snapshot_repeats_the_last_trade_without_trading(market):
    last = market.make("trade", "KRW-BTC")

    snapshot = market.make("trade", "KRW-BTC", "SNAPSHOT")

    assert snapshot["sequential_id"] == last["sequential_id"]
    assert snapshot["trade_price"] == last["trade_price"]


@pytest.mark.parametrize("depth", [1, 5, 15, 30])
def test_orderbooks_have_the_depth_sorted_sides_and_matching_totals(market, depth):
    for _ in range(20):
        book = market.make("orderbook", "KRW-BTC", depth=depth)
        units = book["orderbook_units"]
        asks = [u["ask_price"] for u in units]
        bids = [u["bid_price"] for u in units]
        assert len(units) == depth
        assert asks == sorted(asks) and len(set(asks)) == depth
        assert bids == sorted(bids, reverse=True) and len(set(bids)) == depth
        assert asks[0] > bids[0]
        assert book["total_ask_size"] == pytest.approx(sum(u["ask_size"] for u in units))
        assert book["total_bid_size"] == pytest.approx(sum(u["bid_size"] for u in units))


def test_the_orderbook_top_matches_the_last_trade(market):
    trade = market.make("trade", "KRW-BTC")

    top = market.make("orderbook", "KRW-BTC", "SNAPSHOT")["orderbook_units"][0]

    assert (top["ask_price"], top["bid_price"]) == (trade["best_ask_price"],
                                                    trade["best_bid_price"])


@pytest.mark.parametrize("candle_type", CANDLE_TYPES)
def test_candles_are_floored_to_their_unit_and_ohlc_consistent(market, candle_type):
    candles = [market.make(candle_type, "KRW-BTC") for _ in range(30)]

    for c in candles:
        start = datetime.fromisoformat(c["candle_date_time_utc"])
        seconds = (start - datetime(1970, 1, 1)).total_seconds()
        assert seconds % CANDLE_SECONDS[candle_type] == 0
        kst = datetime.fromisoformat(c["candle_date_time_kst"])
        assert kst - start == timedelta(hours=9)
        assert c["low_price"] <= min(c["opening_price"], c["trade_price"])
        assert max(c["opening_price"], c["trade_price"]) <= c["high_price"]
        assert c["candle_acc_trade_volume"] > 0
    assert set(candles[0]) == set(formats.CANDLE.simple)


def test_a_candle_follows_the_trades_of_its_code(market):
    market.make("candle.240m", "KRW-BTC")
    trades = [market.make("trade", "KRW-BTC") for _ in range(20)]

    candle = market.make("candle.240m", "KRW-BTC", "SNAPSHOT")

    assert candle["trade_price"] == trades[-1]["trade_price"]
    assert candle["high_price"] >= max(t["trade_price"] for t in trades)
    assert candle["low_price"] <= min(t["trade_price"] for t in trades)


@pytest.mark.parametrize(("code", "low", "high"), [
    ("KRW-BTC", 5e7, 3e8), ("KRW-ETH", 1e6, 2e7), ("KRW-1INCH", 0.5, 2e5),
    ("BTC-ETH", 1e-3, 1.0), ("BTC-NEWCOIN", 1e-8, 1e-2), ("USDT-BTC", 1e4, 3e5),
])
def test_prices_are_realistic_for_the_quote_currency(market, code, low, high):
    assert low <= market.make("ticker", code)["trade_price"] <= high


def test_one_walk_is_shared_by_every_type_of_a_code(market):
    trade = market.make("trade", "KRW-SOL")

    ticker = market.make("ticker", "KRW-SOL", "SNAPSHOT")

    assert ticker["trade_price"] == trade["trade_price"]
    assert ticker["trade_volume"] == trade["trade_volume"]


def test_a_seed_makes_the_market_reproducible():
    one, two = MarketSimulator(seed=5), MarketSimulator(seed=5)
    two.make("ticker", "KRW-ETH")  # other codes do not disturb a code's walk

    assert one.make("ticker", "KRW-BTC")["trade_price"] == two.make("ticker", "KRW-BTC")[
        "trade_price"]


def test_private_events_have_every_documented_field(market):
    order = market.my_order(code="KRW-ETH", state="trade")
    asset = market.my_asset()

    assert set(order) == set(formats.MY_ORDER.simple)
    assert set(asset) == set(formats.MY_ASSET.simple)
    assert order["code"] == "KRW-ETH" and order["trades_count"] == 1


@pytest.mark.parametrize(("fmt", "wrapped", "key"), [
    ("DEFAULT", False, "type"), ("SIMPLE", False, "ty"),
    ("JSON_LIST", True, "type"), ("SIMPLE_LIST", True, "ty"),
])
def test_encode_applies_simple_keys_and_list_wrapping(market, fmt, wrapped, key):
    book = market.make("orderbook", "KRW-BTC", depth=1)

    decoded = json.loads(encode(book, fmt))

    message = decoded[0] if wrapped else decoded
    assert isinstance(decoded, list) == wrapped
    assert message[key] == "orderbook"
    units = message["obu" if key == "ty" else "orderbook_units"]
    assert set(units[0]) == ({"ap", "bp", "as", "bs"} if key == "ty" else
                             {"ask_price", "bid_price", "ask_size", "bid_size"})


def test_encode_refuses_an_unknown_format(market):
    with pytest.raises(ValueError):
        encode(market.make("ticker", "KRW-BTC"), "XML")
