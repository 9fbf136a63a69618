"""The fake exchange trades (issue 20 §5): orders validated as Upbit does, limit orders resting and
filling from the tape, market orders filling at once against the book, balances moving, myOrder and
myAsset to the owning key only, identifiers burnt per account, every order endpoint, and the faults
a test injects into order calls. Driven with plain ``requests`` and raw sockets, not the SDK."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

import pytest
import requests

from upbit_sync.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY

OTHER = "otherAccessKey"
OTHER_SECRET = "otherSecretKey0123456789abcdefABCDEFGHIJ"
KEYS = {TEST_ACCESS_KEY: TEST_SECRET_KEY, OTHER: OTHER_SECRET}
BID = {"market": "KRW-BTC", "side": "bid", "ord_type": "limit", "price": "100000000", "volume": "0.01"}


@pytest.fixture
def client(server, rest):
    return rest(server)


def place(client: Any, **body: Any) -> requests.Response:
    response: requests.Response = client.call("POST", "/v1/orders", body=body, signed=True)
    return response


def placed(client: Any, **body: Any) -> dict[str, Any]:
    response = place(client, **body)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


def error(response: requests.Response) -> tuple[int, Any]:
    return response.status_code, response.json()["error"]["name"]


def balance(server: Any, currency: str, key: str | None = None) -> tuple[Decimal, Decimal]:
    row = next((r for r in server.account(key) if r["currency"] == currency), None)
    return (Decimal(row["balance"]), Decimal(row["locked"])) if row else (Decimal(0), Decimal(0))


def get_order(client: Any, **params: str) -> dict[str, Any]:
    response = client.get("/v1/order", params, signed=True)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def book(server: Any) -> tuple[Decimal, Decimal]:
    """KRW-BTC's best bid and ask as the matcher sees them (price -/+ one tick of 1000 KRW)."""
    price = Decimal(repr(server.market.price("KRW-BTC")))
    return price - 1000, price + 1000


# -- limit orders on the tape ----------------------------------------------------------------------


def test_a_limit_bid_rests_with_its_funds_locked(server, client):
    order = placed(client, **BID, identifier="rest-1")

    assert (order["state"], order["locked"], order["reserved_fee"]) == ("wait", "1000500", "500")
    assert (order["executed_volume"], order["remaining_volume"], order["trades_count"]) == ("0", "0.01", 0)
    assert order["identifier"] == "rest-1" and order["smp_type"] == "cancel_maker"
    assert balance(server, "KRW") == (Decimal("8999500"), Decimal("1000500"))


def test_a_limit_bid_fills_partly_then_fully_as_trades_cross_its_price(server, client):
    order = placed(client, **BID)

    server.trade("KRW-BTC", 100_000_000, 0.004, side="ASK")
    partly = get_order(client, uuid=order["uuid"])
    server.trade("KRW-BTC", 99_000_000, 0.02, side="ASK")
    done = get_order(client, uuid=order["uuid"])

    assert (partly["state"], partly["executed_volume"], partly["remaining_volume"]) == (
        "wait", "0.004", "0.006")
    assert (partly["trades_count"], partly["locked"], partly["paid_fee"]) == (1, "600300", "200")
    assert (done["state"], done["executed_volume"], done["trades_count"], done["locked"]) == (
        "done", "0.01", 2, "0")
    assert [t["price"] for t in done["trades"]] == ["100000000", "100000000"]  # at the order's price
    assert [t["volume"] for t in done["trades"]] == ["0.004", "0.006"]
    assert done["paid_fee"] == "500"
    assert balance(server, "KRW") == (Decimal("8999500"), 0)
    assert balance(server, "BTC") == (Decimal("0.02"), 0)


def test_a_trade_above_a_bid_fills_nothing(server, client):
    order = placed(client, **BID)

    server.trade("KRW-BTC", 100_001_000, 1.0, side="BID")

    assert get_order(client, uuid=order["uuid"])["executed_volume"] == "0"


def test_a_limit_ask_fills_when_a_trade_reaches_its_price(server, client):
    ask = placed(client, market="KRW-BTC", side="ask", ord_type="limit", price="130000000", volume="0.01")
    assert balance(server, "BTC") == (0, Decimal("0.01"))

    server.trade("KRW-BTC", 130_000_000, 0.5, side="BID")

    assert get_order(client, uuid=ask["uuid"])["state"] == "done"
    assert balance(server, "BTC") == (0, 0)
    assert balance(server, "KRW")[0] == Decimal("10000000") + Decimal("1300000") - Decimal("650")


def test_the_tape_s_own_trades_fill_a_resting_order(server, client, connect):
    bid, _ = book(server)
    order = placed(client, **dict(BID, price=str(bid + 1000), volume="0.0001"))  # at the price: rests
    server.message_rate = 200.0  # a fast tape: the walk crosses the price sooner
    session = connect(server.public_url)
    session.subscribe({"type": "trade", "codes": ["KRW-BTC"]})  # starts the tape

    assert server.wait_for(lambda: server.orders[0]["trades_count"] > 0, timeout=20)
    assert server.orders[0]["uuid"] == order["uuid"]


def test_a_scripted_trade_reaches_the_trade_listeners_and_the_history(server, connect):
    server.message_rate = 0  # the tape waits: only the scripted trade is sent
    session = connect(server.public_url)
    session.subscribe({"type": "trade", "codes": ["KRW-BTC"]})
    session.until(lambda m: m["stream_type"] == "SNAPSHOT")

    tick = server.trade("KRW-BTC", 101_000_000, 0.25, side="ASK")
    sent = session.until(lambda m: m["stream_type"] == "REALTIME")[-1]

    assert (sent["trade_price"], sent["trade_volume"], sent["ask_bid"]) == (101_000_000, 0.25, "ASK")
    assert sent["sequential_id"] == tick["sequential_id"] == server.trades("KRW-BTC")[0]["sequential_id"]
    assert server.market.price("KRW-BTC") == 101_000_000


def test_a_scripted_trade_right_after_the_snapshot_reaches_a_subscriber(server, connect, monkeypatch):
    # The feed thread may be held up right after writing a snapshot: the subscriber already has it and
    # must get the next trade. (The window is widened here so the race shows every time.)
    from upbit_sync.testing.connections import Connections

    write = Connections.write_frames
    snapshot_written = threading.Event()

    def slow_after_snapshot(self, conn, data, *args):
        done = write(self, conn, data, *args)
        if b"SNAPSHOT" in data and threading.current_thread().name.startswith("upbit-fake"):
            snapshot_written.set()
            time.sleep(0.5)  # widens the window after the write; not a synchronisation
        return done

    monkeypatch.setattr(Connections, "write_frames", slow_after_snapshot)
    server.message_rate = 0
    session = connect(server.public_url)
    session.subscribe({"type": "trade", "codes": ["KRW-BTC"]})
    session.until(lambda m: m["stream_type"] == "SNAPSHOT")
    # the client can read the snapshot before the feed thread is back from writing it
    assert snapshot_written.wait(5)

    server.trade("KRW-BTC", 101_000_000, 0.25, side="ASK")

    sent = session.until(lambda m: m["stream_type"] == "REALTIME")[-1]
    assert (sent["trade_price"], sent["trade_volume"]) == (101_000_000, 0.25)


def test_trades_share_their_volume_best_price_first(server, client):
    low = placed(client, **dict(BID, price="99000000"))
    high = placed(client, **BID)

    server.trade("KRW-BTC", 99_000_000, 0.015, side="ASK")

    assert get_order(client, uuid=high["uuid"])["executed_volume"] == "0.01"
    assert get_order(client, uuid=low["uuid"])["executed_volume"] == "0.005"


# -- orders that take ------------------------------------------------------------------------------


def test_a_market_buy_by_amount_fills_at_the_best_ask_and_ends_cancel_with_a_residual(server, client):
    _, ask = book(server)
    order = placed(client, market="KRW-BTC", side="bid", ord_type="price", price="100000")

    volume = (Decimal(100000) / ask).quantize(Decimal("0.00000001"), rounding="ROUND_DOWN")
    assert (order["state"], order["volume"]) == ("cancel", None)
    assert order["executed_volume"] == str(volume.normalize())
    assert order["locked"] == "0" and order["trades_count"] == 1
    funds = volume * ask
    assert balance(server, "KRW") == (Decimal(10_000_000) - funds - funds * Decimal("0.0005"), 0)
    assert balance(server, "BTC")[0] == Decimal("0.01") + volume


def test_a_market_buy_whose_amount_divides_exactly_ends_done(server, client):
    _, ask = book(server)
    order = placed(client, market="KRW-BTC", side="bid", ord_type="price", price=str(ask / 100))

    assert (order["state"], order["executed_volume"]) == ("done", "0.01")


def test_a_market_sell_fills_at_the_best_bid_and_ends_done(server, client):
    bid, _ = book(server)
    order = placed(client, market="KRW-BTC", side="ask", ord_type="market", volume="0.004")

    assert (order["state"], order["executed_volume"], order["price"]) == ("done", "0.004", None)
    assert get_order(client, uuid=order["uuid"])["trades"][0]["price"] == str(int(bid))
    assert balance(server, "BTC") == (Decimal("0.006"), 0)


def test_a_crossing_limit_order_fills_at_once_as_taker_at_the_book_s_price(server, client):
    _, ask = book(server)
    order = placed(client, **dict(BID, price=str(ask + 10_000), volume="0.001"))

    assert order["state"] == "done"
    assert get_order(client, uuid=order["uuid"])["trades"][0]["price"] == str(int(ask))
    assert balance(server, "KRW")[1] == 0  # the price improvement is unlocked


def test_best_orders_need_ioc_or_fok_and_fill_at_once(server, client):
    refused = place(client, market="KRW-BTC", side="ask", ord_type="best", volume="0.001")
    sold = placed(client, market="KRW-BTC", side="ask", ord_type="best", volume="0.001", time_in_force="ioc")

    assert error(refused) == (400, "create_ask_error")
    assert (sold["state"], sold["executed_volume"]) == ("done", "0.001")


def test_ioc_fills_what_the_book_holds_and_cancels_the_rest(server, client):
    server.book_depth = 0.004
    _, ask = book(server)
    order = placed(client, **dict(BID, price=str(ask), time_in_force="ioc"))

    assert (order["state"], order["executed_volume"], order["remaining_volume"]) == (
        "cancel", "0.004", "0.006")
    assert balance(server, "KRW")[1] == 0


def test_fok_that_cannot_fill_whole_is_cancelled_unfilled(server, client):
    server.book_depth = 0.004
    _, ask = book(server)
    order = placed(client, **dict(BID, price=str(ask), time_in_force="fok"))

    assert (order["state"], order["executed_volume"], order["trades_count"]) == ("cancel", "0", 0)
    assert balance(server, "KRW") == (Decimal(10_000_000), 0)


def test_a_crossing_post_only_is_refused_and_burns_its_identifier(server, client):
    _, ask = book(server)
    refused = place(client, **dict(BID, price=str(ask), time_in_force="post_only"), identifier="po-1")
    resting = placed(client, **dict(BID, time_in_force="post_only"), identifier="po-2")
    again = place(client, **BID, identifier="po-1")

    assert error(refused) == (400, "invalid_post_only")
    assert (resting["state"], resting["smp_type"]) == ("wait", "none")
    assert error(again) == (400, "duplicated_identifier")


# -- refusals and identifiers ----------------------------------------------------------------------


@pytest.mark.parametrize(("body", "name"), [
    (dict(BID, price="100000500"), "invalid_price_bid"),
    ({"market": "KRW-BTC", "side": "ask", "ord_type": "limit", "price": "130000001", "volume": "0.001"},
     "invalid_price_ask"),
    (dict(BID, volume="0.00004"), "under_min_total_bid"),
    ({"market": "KRW-BTC", "side": "ask", "ord_type": "market", "volume": "0.00001"}, "under_min_total_ask"),
    (dict(BID, volume="1"), "insufficient_funds_bid"),
    ({"market": "KRW-BTC", "side": "ask", "ord_type": "market", "volume": "1"}, "insufficient_funds_ask"),
    ({"market": "KRW-BTC", "side": "ask", "ord_type": "market", "volume": "0.001", "price": "1"},
     "create_ask_error"),
    ({"market": "KRW-BTC", "side": "bid", "ord_type": "market", "volume": "0.001"}, "create_bid_error"),
    ({"market": "KRW-BTC", "side": "bid", "ord_type": "price", "price": "10000", "time_in_force": "ioc"},
     "create_bid_error"),
    ({"market": "KRW-BTC", "side": "bid", "ord_type": "price"}, "validation_error"),
    (dict(BID, time_in_force="gtc"), "validation_error"),
])
def test_a_refused_order_is_400_with_upbit_s_name_and_changes_nothing(server, client, body, name):
    response = place(client, **body)

    assert error(response) == (400, name)
    assert server.orders == []
    assert balance(server, "KRW") == (Decimal(10_000_000), 0)


def test_an_identifier_is_burnt_by_its_first_use_even_a_refused_one(server, client):
    first = placed(client, **BID, identifier="once")
    refused = place(client, **dict(BID, volume="1"), identifier="refused-once")

    assert error(place(client, **BID, identifier="once")) == (400, "duplicated_identifier")
    assert error(refused) == (400, "insufficient_funds_bid")
    assert error(place(client, **BID, identifier="refused-once")) == (400, "duplicated_identifier")
    assert [o["uuid"] for o in server.orders] == [first["uuid"]]


def test_identifiers_are_per_account(make_server, rest):
    server = make_server(keys=KEYS)
    client = rest(server)
    mine = placed(client, **BID, identifier="shared")
    theirs = client.call("POST", "/v1/orders", body=dict(BID, identifier="shared"), signed=True,
                         access_key=OTHER, secret_key=OTHER_SECRET)

    assert theirs.status_code == 201 and theirs.json()["uuid"] != mine["uuid"]
    assert balance(server, "KRW", OTHER)[1] == Decimal("1000500")
    assert get_order(client, identifier="shared")["uuid"] == mine["uuid"]


def test_a_test_order_creates_nothing_and_burns_no_identifier(server, client):
    tested = client.call("POST", "/v1/orders/test", body=dict(BID, identifier="t-1"), signed=True)
    refused = client.call("POST", "/v1/orders/test", body=dict(BID, volume="1"), signed=True)

    assert tested.status_code == 201 and tested.json()["identifier"] == "t-1"
    assert error(refused) == (400, "insufficient_funds_bid")
    assert server.orders == [] and balance(server, "KRW") == (Decimal(10_000_000), 0)
    assert placed(client, **BID, identifier="t-1")["state"] == "wait"


# -- finding and listing ---------------------------------------------------------------------------


def test_an_order_is_found_by_uuid_or_identifier_with_its_trades(server, client):
    order = placed(client, **BID, identifier="find-me")
    server.trade("KRW-BTC", 100_000_000, 0.004, side="ASK")

    by_identifier = get_order(client, identifier="find-me")
    unknown = client.get("/v1/order", {"identifier": "nobody"}, signed=True)

    assert by_identifier["uuid"] == order["uuid"]
    (trade,) = by_identifier["trades"]
    assert (trade["price"], trade["volume"], trade["funds"], trade["side"]) == (
        "100000000", "0.004", "400000", "bid")
    assert error(unknown) == (404, "order_not_found")


def test_orders_by_ids_come_in_any_state(server, client):
    waiting = placed(client, **BID, identifier="a")
    done = placed(client, market="KRW-BTC", side="ask", ord_type="market", volume="0.001", identifier="b")

    uuids = [waiting["uuid"], done["uuid"]]
    by_uuids = client.get("/v1/orders/uuids", {"uuids[]": uuids}, signed=True).json()
    by_ids = client.get("/v1/orders/uuids", {"identifiers[]": ["b"], "order_by": "asc"}, signed=True).json()
    both = client.get("/v1/orders/uuids", {"uuids[]": ["x"], "identifiers[]": ["b"]}, signed=True)

    assert [o["state"] for o in by_uuids] == ["done", "wait"]  # newest first
    assert [o["uuid"] for o in by_ids] == [done["uuid"]] and by_ids[0]["executed_funds"] != "0"
    assert error(both) == (400, "validation_error")


def test_open_orders_are_wait_only_by_default_paged_and_carry_executed_funds(server, client):
    orders = [placed(client, **dict(BID, price=str(90_000_000 + i * 1_000_000), volume="0.001"))
              for i in range(3)]
    server.trade("KRW-BTC", 92_000_000, 0.0005, side="ASK")

    first = client.get("/v1/orders/open", {"limit": "2"}, signed=True).json()
    second = client.get("/v1/orders/open", {"limit": "2", "page": "2"}, signed=True).json()

    assert [o["uuid"] for o in first + second] == [o["uuid"] for o in reversed(orders)]
    assert first[0]["executed_funds"] == "46000" and "trades" not in first[0]
    closed = client.get("/v1/orders/open", {"states[]": ["done"]}, signed=True)
    assert error(closed) == (400, "validation_error")


def test_closed_orders_filter_on_creation_time_within_seven_days(server, client):
    order = placed(client, **BID)
    client.call("DELETE", "/v1/order", {"uuid": order["uuid"]}, signed=True)
    created = server.orders[0]["created_at"]

    found = client.get("/v1/orders/closed", {"start_time": created}, signed=True).json()
    later = client.get("/v1/orders/closed", {"start_time": "2999-01-01T00:00:00+09:00"}, signed=True).json()
    by_default = client.get("/v1/orders/closed", {"states[]": ["cancel"]}, signed=True).json()
    too_wide = client.get("/v1/orders/closed", {"start_time": "1700000000000", "end_time": "1700900000000"},
                          signed=True)
    no_zone = client.get("/v1/orders/closed", {"start_time": "2026-01-01T00:00:00"}, signed=True)

    assert [o["uuid"] for o in found] == [order["uuid"]] and found[0]["state"] == "cancel"
    assert later == [] and [o["uuid"] for o in by_default] == [order["uuid"]]
    assert error(too_wide) == (400, "validation_error") and error(no_zone) == (400, "validation_error")


# -- cancelling ------------------------------------------------------------------------------------


def test_a_cancel_answers_the_order_as_found_then_it_is_cancel_and_its_funds_are_free(server, client):
    order = placed(client, **BID)

    answer = client.call("DELETE", "/v1/order", {"uuid": order["uuid"]}, signed=True)
    again = client.call("DELETE", "/v1/order", {"uuid": order["uuid"]}, signed=True)

    assert answer.status_code == 200
    assert (answer.json()["state"], answer.json()["locked"]) == ("wait", "1000500")
    assert get_order(client, uuid=order["uuid"])["state"] == "cancel"
    assert error(again) == (404, "order_not_found")
    assert balance(server, "KRW") == (Decimal(10_000_000), 0)


def test_cancel_by_ids_reports_success_and_failure(server, client):
    one, two = placed(client, **BID, identifier="c1"), placed(client, **BID, identifier="c2")
    client.call("DELETE", "/v1/order", {"uuid": two["uuid"]}, signed=True)

    named = {"identifiers[]": ["c1", "c2", "c3"]}
    result = client.call("DELETE", "/v1/orders/uuids", named, signed=True).json()

    assert result["success"] == {"count": 1, "orders": [{"uuid": one["uuid"], "market": "KRW-BTC",
                                                         "identifier": "c1"}]}
    assert result["failed"]["count"] == 2
    assert [o["identifier"] for o in result["failed"]["orders"]] == ["c2", "c3"]


def test_cancel_and_new_replaces_an_open_order(server, client):
    old = placed(client, **BID, identifier="old")
    answer = client.call("POST", "/v1/orders/cancel_and_new", body={
        "prev_order_identifier": "old", "new_ord_type": "limit", "new_price": "99000000",
        "new_volume": "remain_only", "new_identifier": "new"}, signed=True)

    assert answer.status_code == 201
    body = answer.json()
    assert (body["uuid"], body["state"], body["new_order_identifier"]) == (old["uuid"], "wait", "new")
    new = get_order(client, uuid=body["new_order_uuid"])
    assert (new["price"], new["volume"], new["state"]) == ("99000000", "0.01", "wait")
    assert get_order(client, uuid=old["uuid"])["state"] == "cancel"
    assert balance(server, "KRW")[1] == Decimal("990495")


def test_cancel_and_new_refuses_the_old_identifier_and_makes_nothing_for_a_done_order(server, client):
    placed(client, **BID, identifier="same")
    reused = client.call("POST", "/v1/orders/cancel_and_new", body={
        "prev_order_identifier": "same", "new_ord_type": "limit", "new_price": "99000000",
        "new_volume": "0.01", "new_identifier": "same"}, signed=True)
    server.trade("KRW-BTC", 100_000_000, 1, side="ASK")
    late = client.call("POST", "/v1/orders/cancel_and_new", body={
        "prev_order_identifier": "same", "new_ord_type": "limit", "new_price": "99000000",
        "new_volume": "0.01"}, signed=True)

    assert error(reused) == (400, "duplicated_identifier")
    assert late.status_code == 201 and late.json()["state"] == "done"
    assert late.json()["new_order_uuid"] is None and len(server.orders) == 1


def test_the_order_chance_shows_fees_limits_and_the_ledger(server, client):
    placed(client, **BID)

    chance = client.get("/v1/orders/chance", {"market": "KRW-BTC"}, signed=True).json()

    assert chance["bid_fee"] == chance["ask_fee"] == "0.0005"
    assert chance["market"]["id"] == "KRW-BTC" and chance["market"]["bid"] == {"currency": "KRW",
                                                                                "min_total": "5000"}
    assert chance["market"]["state"] == "active" and "price" in chance["market"]["bid_types"]
    assert (chance["bid_account"]["currency"], chance["bid_account"]["locked"]) == ("KRW", "1000500")
    assert chance["ask_account"]["balance"] == "0.01"


# -- accounts --------------------------------------------------------------------------------------


def test_setting_accounts_resets_every_account(make_server, rest):
    server = make_server(keys=KEYS)
    placed(rest(server), **BID)
    server.accounts = [{"currency": "KRW", "balance": "20000", "locked": "0", "avg_buy_price": "0",
                        "avg_buy_price_modified": False, "unit_currency": "KRW"}]

    assert [r["balance"] for r in server.account()] == ["20000"]
    assert [r["balance"] for r in server.account(OTHER)] == ["20000"]
    assert error(place(rest(server), **BID)) == (400, "insufficient_funds_bid")


def test_one_account_s_orders_never_touch_another_s_balances(make_server, rest):
    server = make_server(keys=KEYS)
    client = rest(server)
    placed(client, **BID)
    server.trade("KRW-BTC", 100_000_000, 1, side="ASK")

    theirs = client.get("/v1/accounts", signed=True, access_key=OTHER, secret_key=OTHER_SECRET).json()

    assert theirs == server.accounts
    assert balance(server, "BTC") == (Decimal("0.02"), 0)


def test_a_buy_moves_the_average_buy_price(server, client):
    placed(client, **BID)
    server.trade("KRW-BTC", 100_000_000, 1, side="ASK")

    btc = next(r for r in server.account() if r["currency"] == "BTC")
    assert Decimal(btc["avg_buy_price"]) == Decimal(107_000_000)  # (0.01 x 114M + 0.01 x 100M) / 0.02


# -- the private side ------------------------------------------------------------------------------


def private(server: Any, connect: Any, auth: Any, **token: Any) -> Any:
    """A private session subscribed to myOrder and myAsset, once the fake has taken the request."""
    session = connect(server.private_url, header=auth(**token))
    session.subscribe({"type": "myOrder"}, {"type": "myAsset"})
    key = token.get("access_key", TEST_ACCESS_KEY)
    assert server.wait_for(lambda: any(c.subscriptions for c in server.open_connections()
                                       if c.authorized_access_key == key))
    return session


def test_my_order_tells_wait_each_fill_then_done_and_my_asset_the_balances(server, client, connect, auth):
    session = private(server, connect, auth)
    order = placed(client, **BID)
    server.trade("KRW-BTC", 100_000_000, 0.004, side="ASK")
    server.trade("KRW-BTC", 100_000_000, 0.01, side="ASK")

    messages = session.until(lambda m: m["type"] == "myOrder" and m["state"] == "done")
    orders = [m for m in messages if m["type"] == "myOrder"]
    assets = [m for m in messages if m["type"] == "myAsset"]

    assert [m["state"] for m in orders] == ["wait", "trade", "trade", "done"]
    assert all(m["uuid"] == order["uuid"] and m["ask_bid"] == "BID" for m in orders)
    first, second = orders[1], orders[2]
    assert (first["price"], first["volume"], first["executed_volume"], first["trades_count"]) == (
        100_000_000, 0.004, 0.004, 1)
    assert (second["volume"], second["executed_volume"], second["remaining_volume"]) == (0.006, 0.01, 0)
    assert first["is_maker"] is True and first["trade_fee"] == 200 and first["trade_uuid"]
    assert first["trade_uuid"] != second["trade_uuid"] and second["paid_fee"] == 500
    assert first["locked"] == 600_300
    krw = [a for m in assets for a in m["assets"] if a["currency"] == "KRW"]
    assert (krw[0]["balance"], krw[0]["locked"]) == (8_999_500, 1_000_500)
    assert (krw[-1]["balance"], krw[-1]["locked"]) == (8_999_500, 0)
    session.until(lambda m: m["type"] == "myAsset")  # the one after done


def test_a_cancel_goes_out_as_my_order_cancel(server, client, connect, auth):
    session = private(server, connect, auth)
    order = placed(client, **BID)
    client.call("DELETE", "/v1/order", {"uuid": order["uuid"]}, signed=True)

    orders = [m for m in session.until(lambda m: m["type"] == "myOrder" and m["state"] == "cancel")
              if m["type"] == "myOrder"]

    assert [m["state"] for m in orders] == ["wait", "cancel"] and orders[-1]["locked"] == 0


def test_private_events_reach_only_the_owning_key(make_server, rest, connect, auth):
    server = make_server(keys=KEYS)
    mine = private(server, connect, auth)
    theirs = private(server, connect, auth, access_key=OTHER, secret_key=OTHER_SECRET)
    client = rest(server)

    placed(client, **BID)
    mine.until(lambda m: m["type"] == "myOrder")
    client.call("POST", "/v1/orders", body=BID, signed=True, access_key=OTHER, secret_key=OTHER_SECRET)
    theirs_first = theirs.until(lambda m: m["type"] == "myOrder")

    assert len([m for m in theirs_first if m["type"] == "myOrder"]) == 1
    assert [m for m in mine.collect(0.3) if m["type"] == "myOrder"] == []


def test_cut_private_ends_private_connections_only(server, client, connect, auth):
    session = private(server, connect, auth)
    public = connect(server.public_url)
    public.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})
    public.message()

    assert server.cut_private() == 1
    session.expect_drop()
    placed(client, **BID)  # nobody hears of it: myOrder has no snapshot
    assert [c.is_private for c in server.open_connections()] == [False]


# -- faults ----------------------------------------------------------------------------------------


def test_drop_makes_the_order_and_closes_the_connection_without_an_answer(server, client, connect, auth):
    session = private(server, connect, auth)
    server.fail_next_order("drop")

    with pytest.raises(requests.ConnectionError):
        place(client, **BID, identifier="dropped")

    assert [o["identifier"] for o in server.orders] == ["dropped"]
    assert session.until(lambda m: m["type"] == "myOrder")[-1]["identifier"] == "dropped"
    assert get_order(client, identifier="dropped")["state"] == "wait"
    assert error(place(client, **BID, identifier="dropped")) == (400, "duplicated_identifier")
    assert [r.status for r in server.rest_requests if r.path == "/v1/orders"] == [0, 400]


def test_500_after_making_the_order(server, client):
    server.fail_next_order("500")

    response = place(client, **BID, identifier="made")

    assert (response.status_code, response.json()["error"]["name"]) == (500, 500)
    assert [o["identifier"] for o in server.orders] == ["made"]


def test_delay_answers_after_the_client_gave_up(server, client):
    server.fail_next_order("delay", seconds=1.0)

    with pytest.raises(requests.Timeout):
        client.session.post(client.base_url + "/v1/orders", json=dict(BID, identifier="slow"), timeout=0.2,
                            headers=signed_headers(dict(BID, identifier="slow")))

    assert [o["identifier"] for o in server.orders] == ["slow"]


def signed_headers(body: dict[str, Any]) -> dict[str, str]:
    from upbit_sync.auth import query_hash
    from upbit_sync.testing import bearer, make_token
    return {"Authorization": bearer(make_token(query_hash=query_hash(body), query_hash_alg="SHA512"))}


@pytest.mark.parametrize(("burn", "then"), [(True, 400), (False, 201)])
def test_500_before_makes_nothing_and_burns_the_identifier_unless_told(server, client, burn, then):
    server.fail_next_order("500_before", burn=burn)

    first = place(client, **BID, identifier="before")
    second = place(client, **BID, identifier="before")

    assert first.status_code == 500 and second.status_code == then
    assert len(server.orders) == (0 if burn else 1)


def test_hide_keeps_a_made_order_out_of_sight_for_a_while(server, client):
    server.fail_next_order("hide", seconds=0.5)
    order = placed(client, **BID, identifier="hidden")

    unseen = client.get("/v1/order", {"identifier": "hidden"}, signed=True)
    listed = client.get("/v1/orders/open", signed=True).json()

    assert error(unseen) == (404, "order_not_found") and listed == []
    assert [o["uuid"] for o in server.orders] == [order["uuid"]]
    assert server.wait_for(lambda: [o["uuid"] for o in client.get("/v1/orders/open", signed=True).json()]
                           == [order["uuid"]], timeout=3)


def test_a_fault_on_cancels_applies_to_the_cancel_only(server, client):
    order = placed(client, **BID)
    server.fail_next_order("drop", path="/v1/order")

    with pytest.raises(requests.ConnectionError):
        client.call("DELETE", "/v1/order", {"uuid": order["uuid"]}, signed=True)

    assert server.orders[0]["state"] == "cancel"
    assert placed(client, **BID)["state"] == "wait"


def test_a_fault_on_cancel_and_new_is_counted_per_call(server, client):
    placed(client, **BID, identifier="first")
    server.fail_next_order("500", path="/v1/orders/cancel_and_new")

    response = client.call("POST", "/v1/orders/cancel_and_new", body={
        "prev_order_identifier": "first", "new_ord_type": "limit", "new_price": "99000000",
        "new_volume": "0.01", "new_identifier": "second"}, signed=True)

    assert response.status_code == 500
    assert [(o["identifier"], o["state"]) for o in server.orders] == [("first", "cancel"), ("second", "wait")]


def test_bad_fault_settings_are_refused(server):
    with pytest.raises(ValueError):
        server.fail_next_order("explode")
    with pytest.raises(ValueError):
        server.fail_next_order("hide", path="/v1/order")
