"""Trades happen on a tape per market, whoever listens: every connection sees the same trades, the
market trades on while nobody is connected, and /v1/trades/ticks serves the same trades."""

from __future__ import annotations

import itertools
import time

from upbit_sync.testing import MarketSimulator

CODE = "KRW-BTC"


def is_trade(message, stream_type="REALTIME"):
    return message.get("type", message.get("ty")) == "trade" and message.get(
        "stream_type", message.get("st")) == stream_type


def realtime_trades(session, n, timeout=5.0):
    """The next ``n`` REALTIME trades of a session (other messages skipped)."""
    found = []
    while len(found) < n:
        found.append(session.until(is_trade, timeout)[-1])
    return found


def ids(messages, key="sequential_id"):
    return [m[key] for m in messages]


def test_a_trade_seen_on_the_socket_is_in_trades_ticks_with_the_same_fields(server, connect, rest):
    session = connect(server.public_url)
    session.subscribe({"type": "trade", "codes": [CODE]})
    seen = session.until(lambda m: is_trade(m, "SNAPSHOT")) + realtime_trades(session, 5)

    ticks = rest(server).get("/v1/trades/ticks", {"market": CODE, "count": 200}).json()

    by_id = {t["sequential_id"]: t for t in ticks}
    for trade in seen:
        tick = by_id[trade["sequential_id"]]
        assert tick["market"] == trade["code"] == CODE
        assert (tick["trade_price"], tick["trade_volume"], tick["ask_bid"]) == (
            trade["trade_price"], trade["trade_volume"], trade["ask_bid"])
        assert tick["timestamp"] == trade["trade_timestamp"]
        assert (tick["trade_date_utc"], tick["trade_time_utc"]) == (trade["trade_date"], trade["trade_time"])
        assert tick["prev_closing_price"] == trade["prev_closing_price"]


def test_a_connection_gets_every_trade_of_the_tape_once_snapshot_first(make_server, connect):
    server = make_server(message_rate=50.0)
    session = connect(server.public_url)
    session.subscribe({"type": "trade", "codes": [CODE]})

    snapshot = session.message()
    later = realtime_trades(session, 10)

    assert is_trade(snapshot, "SNAPSHOT")
    got = ids([snapshot, *later])
    tape = [t["sequential_id"] for t in reversed(server.trades(CODE))]
    start = tape.index(got[0])
    assert got == tape[start:start + len(got)]  # no gap, no repeat
    assert all(a < b for a, b in itertools.pairwise(got))


def test_two_connections_see_the_same_trades(make_server, connect):
    server = make_server(message_rate=50.0)
    first, second = connect(server.public_url), connect(server.public_url)
    first.subscribe({"type": "trade", "codes": [CODE]})
    realtime_trades(first, 2)
    second.subscribe({"type": "trade", "codes": [CODE]}, fmt="SIMPLE")
    assert is_trade(second.message(), "SNAPSHOT")

    theirs = realtime_trades(second, 8)
    last = theirs[-1]["sid"]
    mine = first.until(lambda m: is_trade(m) and m["sequential_id"] == last)

    mine = [m for m in mine if is_trade(m) and m["sequential_id"] >= theirs[0]["sid"]]
    assert [(m["sequential_id"], m["trade_price"], m["trade_volume"], m["ask_bid"], m["trade_timestamp"])
            for m in mine] == [(m["sid"], m["tp"], m["tv"], m["ab"], m["ttms"]) for m in theirs]


def test_trades_go_on_while_no_client_is_connected(server, connect, rest):
    session = connect(server.public_url)
    session.subscribe({"type": "trade", "codes": [CODE]})
    last_seen = realtime_trades(session, 2)[-1]["sequential_id"]

    server.drop_all()
    session.expect_drop()
    assert server.wait_for(lambda: server.open_connections() == [])
    dropped_ms = int(time.time() * 1000)
    assert server.wait_for(lambda: sum(t["timestamp"] > dropped_ms for t in server.trades(CODE)) >= 5)

    ticks = rest(server).get("/v1/trades/ticks", {"market": CODE, "count": 100}).json()
    gap = [t for t in ticks if t["timestamp"] > dropped_ms]
    assert len(gap) >= 5 and all(t["sequential_id"] > last_seen for t in gap)

    again = connect(server.public_url)
    again.subscribe({"type": "trade", "codes": [CODE]})
    snapshot = again.message()
    assert is_trade(snapshot, "SNAPSHOT") and snapshot["sequential_id"] >= gap[0]["sequential_id"]
    assert server.trades("KRW-ETH") == []  # no one asked for its trades: no tape


def test_a_new_subscriptions_snapshot_is_the_tapes_latest_trade(make_server, connect, rest):
    server = make_server(message_rate=0)  # snapshots only: the tape never moves
    first, second = connect(server.public_url), connect(server.public_url)
    first.subscribe({"type": "trade", "codes": [CODE]})
    made = first.message()  # the market never traded: one trade on the spot
    second.subscribe({"type": "trade", "codes": [CODE]})

    again = second.message()

    assert again == made and is_trade(made, "SNAPSHOT")
    ticks = rest(server).get("/v1/trades/ticks", {"market": CODE, "count": 10}).json()
    assert ids(ticks) == [made["sequential_id"]]
    assert server.wait_for(lambda: len(server.trades(CODE)) > 1, timeout=0.3) is False


def test_an_only_snapshot_subscription_gets_nothing_more_while_the_tape_runs(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "trade", "codes": [CODE], "is_only_snapshot": True},
                      {"type": "ticker", "codes": ["KRW-ETH"]})
    count = len(server.trades(CODE))

    seen = []
    for _ in range(5):
        seen += session.until(lambda m: m["type"] == "ticker" and m["stream_type"] == "REALTIME")

    assert [m["stream_type"] for m in seen if m["type"] == "trade"] == ["SNAPSHOT"]
    assert len(server.trades(CODE)) > count  # the market trades on


def test_tickers_of_a_taped_market_show_the_tapes_trades(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "trade", "codes": [CODE]}, {"type": "ticker", "codes": [CODE]})

    tickers = []
    while len(tickers) < 6:
        message = session.until(lambda m: m["type"] == "ticker" and m["stream_type"] == "REALTIME")[-1]
        tickers.append(message)

    tape = {(t["timestamp"], t["trade_price"], t["trade_volume"], t["ask_bid"]) for t in server.trades(CODE)}
    for ticker in tickers:
        assert (ticker["trade_timestamp"], ticker["trade_price"], ticker["trade_volume"],
                ticker["ask_bid"]) in tape


def test_silence_holds_the_frames_but_not_the_trades(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "trade", "codes": [CODE]})
    realtime_trades(session, 2)
    conn = server.connections[0]

    server.silence()
    sent = conn.sent_count
    made = len(server.trades(CODE))
    assert server.wait_for(lambda: len(server.trades(CODE)) >= made + 5)
    assert conn.sent_count == sent
    held = server.trades(CODE)[0]["sequential_id"]
    server.silence(False)

    resumed = session.until(lambda m: is_trade(m) and m["sequential_id"] > held)[-1]
    assert resumed["sequential_id"] > held


def test_a_simulators_history_keeps_the_last_trades_in_order():
    market = MarketSimulator(seed=1, history=5)
    trades = [market.make("trade", CODE) for _ in range(8)]

    kept = market.history(CODE)

    assert [r.sequential_id for r in kept] == ids(trades[-5:])
    assert [(r.trade_price, r.trade_volume, r.ask_bid, r.timestamp) for r in kept] == [
        (t["trade_price"], t["trade_volume"], t["ask_bid"], t["trade_timestamp"]) for t in trades[-5:]]
    assert market.make("trade", CODE, "SNAPSHOT") == dict(trades[-1], stream_type="SNAPSHOT")
