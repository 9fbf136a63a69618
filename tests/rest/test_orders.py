"""The order calls of RestClient: arguments refused before anything is sent (naming the argument),
typed answers from the fake exchange, and the paging, chunking and window splitting of the lists
(against mocked answers, where a test can count the calls)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

import upbit_sync as us
from upbit_sync.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY, FakeUpbitServer

ACCESS, SECRET = "order-test-access-key-0123456789abcdefghij", "order-test-secret-key-0123456789abcdefghi"


@pytest.fixture
def fake(harness: Any) -> FakeUpbitServer:
    return harness.server()


@pytest.fixture
def rest(fake: FakeUpbitServer) -> Iterator[us.RestClient]:
    client = us.RestClient(us.Config(rest_url=fake.rest_url, access_key=TEST_ACCESS_KEY,
                                     secret_key=TEST_SECRET_KEY))
    yield client
    client.close()


@pytest.fixture
def base() -> str:
    return f"https://api-{uuid.uuid4().hex[:8]}.upbit.test"


@pytest.fixture
def mocked(base: str) -> Iterator[us.RestClient]:
    client = us.RestClient(us.Config(rest_url=base, access_key=ACCESS, secret_key=SECRET))
    yield client
    client.close()


# ---- arguments refused before anything is sent --------------------------------------------------

BAD_PLACEMENTS = [
    (dict(market="krw-btc"), "market"),
    (dict(market="KRWBTC"), "market"),
    (dict(side="buy"), "side"),
    (dict(ord_type="stop"), "ord_type"),
    (dict(price=None), "price"),
    (dict(volume=None), "volume"),
    (dict(price=0), "price"),
    (dict(price=-5), "price"),
    (dict(price=float("nan")), "price"),
    (dict(price=float("inf")), "price"),
    (dict(volume=True), "volume"),
    (dict(volume="abc"), "volume"),
    (dict(volume=Decimal("NaN")), "volume"),
    (dict(ord_type="price", volume="1"), "volume"),
    (dict(ord_type="price", volume=None, side="ask"), "side"),
    (dict(ord_type="market", side="bid", price=None), "side"),
    (dict(ord_type="market", side="ask", price="100"), "price"),
    (dict(ord_type="price", volume=None, time_in_force="ioc"), "time_in_force"),
    (dict(ord_type="best", volume=None), "time_in_force"),
    (dict(ord_type="best", volume=None, time_in_force="post_only"), "time_in_force"),
    (dict(ord_type="best", volume="1", time_in_force="ioc"), "volume"),
    (dict(ord_type="best", side="ask", time_in_force="fok"), "price"),
    (dict(time_in_force="gtc"), "time_in_force"),
    (dict(time_in_force=""), "time_in_force"),
    (dict(smp_type="maybe"), "smp_type"),
    (dict(time_in_force="post_only", smp_type="reduce"), "smp_type"),
    (dict(identifier=""), "identifier"),
    (dict(identifier="x" * 65), "identifier"),
    (dict(identifier="has space"), "identifier"),
    (dict(identifier="한글"), "identifier"),
]


@pytest.mark.parametrize("change, named", BAD_PLACEMENTS)
@responses.activate
def test_a_bad_placement_is_refused_naming_the_argument_before_anything_is_sent(mocked, change, named):
    args: dict[str, Any] = {"market": "KRW-BTC", "side": "bid", "ord_type": "limit", "price": 100,
                            "volume": "1"}
    args.update(change)
    for call in (mocked.place_order, mocked.test_order):
        with pytest.raises(us.InvalidRequestError, match=named):
            call(**args)
    assert len(responses.calls) == 0


@pytest.mark.parametrize("args", [
    dict(ord_type="limit", price=100, volume=1, time_in_force="post_only", smp_type="none"),
    dict(ord_type="price", price="5000"),
    dict(ord_type="market", side="ask", volume=Decimal("0.5")),
    dict(ord_type="best", price=10000, time_in_force="ioc"),
    dict(ord_type="best", side="ask", volume="1e-3", time_in_force="fok"),
])
@responses.activate
def test_each_order_type_goes_out_with_what_it_needs_as_decimal_text(mocked, base, args):
    responses.post(f"{base}/v1/orders/test", json={"uuid": "t", "market": "KRW-BTC", "side": "bid",
                                                   "ord_type": "limit", "state": "wait"}, status=201)
    call = {"market": "KRW-BTC", "side": "bid", **args}
    mocked.test_order(**call)
    body = json.loads(responses.calls[0].request.body)
    for key in ("price", "volume"):
        if args.get(key) is not None:
            assert isinstance(body[key], str) and "e" not in body[key].lower()
        else:
            assert key not in body
    assert "identifier" not in body  # a test order burns nothing


@pytest.mark.parametrize("call, named", [
    (lambda r: r.order(), "uuid or identifier"),
    (lambda r: r.order(uuid="a", identifier="b"), "uuid or identifier"),
    (lambda r: r.orders(), "uuids or identifiers"),
    (lambda r: r.orders(uuids=[]), "uuids"),
    (lambda r: r.open_orders(states=["done"]), "states"),
    (lambda r: r.open_orders(states=[]), "states"),
    (lambda r: r.closed_orders(states=["wait"]), "states"),
    (lambda r: r.closed_orders(start_time=datetime(2026, 1, 1)), "start_time"),
    (lambda r: r.closed_orders(end_time="2026-01-01T00:00:00"), "end_time"),
    (lambda r: r.closed_orders(start_time=True), "start_time"),
    (lambda r: r.closed_orders(start_time=2_000_000, end_time=1_000_000), "before"),
    (lambda r: r.cancel_order(), "uuid or identifier"),
    (lambda r: r.cancel_orders(uuids=["a"], identifiers=["b"]), "uuids or identifiers"),
    (lambda r: r.cancel_open_orders(side="both"), "side"),
    (lambda r: r.cancel_open_orders(pairs=["KRW-BTC"], quote_currencies=["KRW"]), "pairs or quote"),
    (lambda r: r.cancel_open_orders(quote_currencies=["EUR"]), "quote_currencies"),
    (lambda r: r.cancel_open_orders(pairs=[f"KRW-C{i}" for i in range(21)]), "pairs"),
    (lambda r: r.cancel_open_orders(count=301), "count"),
    (lambda r: r.cancel_and_new(new_ord_type="limit", new_price=1, new_volume=1), "prev_uuid"),
    (lambda r: r.cancel_and_new("u", new_ord_type="stop"), "new_ord_type"),
    (lambda r: r.cancel_and_new("u", new_ord_type="limit", new_volume=1), "new_price"),
    (lambda r: r.cancel_and_new("u", new_ord_type="price", new_price=1, new_volume="remain_only"),
     "new_volume"),
    (lambda r: r.cancel_and_new("u", new_ord_type="best", new_price=1, new_volume=1,
                                new_time_in_force="ioc"), "new_price"),
    (lambda r: r.cancel_and_new(prev_identifier="same", new_ord_type="market", new_volume=1,
                                new_identifier="same"), "new_identifier"),
    (lambda r: r.order_chance("BTC"), "market"),
    (lambda r: r.orderbook(["KRW-BTC"], count=31), "count"),
    (lambda r: r.orderbook(["KRW-BTC"], level=-1), "level"),
    (lambda r: r.tickers_by_quote(["krw"]), "quotes"),
])
@responses.activate
def test_bad_arguments_of_the_other_order_calls_are_refused_before_sending(mocked, call, named):
    with pytest.raises(us.InvalidRequestError, match=named):
        call(mocked)
    assert len(responses.calls) == 0


# ---- against the fake exchange ------------------------------------------------------------------


def test_an_order_is_typed_with_upbit_s_field_names_and_found_with_its_fills(rest, fake):
    placed = rest.place_order("KRW-BTC", "bid", "limit", 50_000_000, 0.001, identifier="typed-1")
    assert isinstance(placed, us.Order) and placed.state == "wait" and placed.is_open
    assert (placed.market, placed.side, placed.ord_type, placed.identifier) == (
        "KRW-BTC", "bid", "limit", "typed-1")
    assert placed.price == 50_000_000.0 and placed.volume == 0.001 and placed.executed_volume == 0.0
    found = rest.order(identifier="typed-1")
    assert found.uuid == placed.uuid and found.trades == ()
    assert rest.order(uuid=placed.uuid).identifier == "typed-1"
    with pytest.raises(us.OrderNotFoundError):
        rest.order(identifier="nobody")


def test_a_market_buy_fills_at_once_and_its_fills_are_typed(rest):
    placed = rest.place_order("KRW-BTC", "bid", "price", price=10_000)
    found = rest.order(uuid=placed.uuid)
    assert found.is_final and found.trades and isinstance(found.trades[0], us.OrderTrade)
    assert found.trades[0].market == "KRW-BTC" and found.trades[0].volume > 0


def test_test_order_creates_nothing(rest, fake):
    checked = rest.test_order("KRW-BTC", "bid", "limit", 50_000_000, "0.001", identifier="only-a-test")
    assert isinstance(checked, us.Order)
    assert fake.orders == []
    rest.place_order("KRW-BTC", "bid", "limit", 50_000_000, "0.001", identifier="only-a-test")  # not burnt


def test_open_orders_are_both_waiting_and_listed_and_closed_ones_are_found_by_time(rest):
    a = rest.place_order("KRW-BTC", "bid", "limit", 50_000_000, 0.001)
    b = rest.place_order("KRW-BTC", "bid", "limit", 49_000_000, 0.001)
    assert {o.uuid for o in rest.open_orders()} == {a.uuid, b.uuid}
    assert [o.uuid for o in rest.open_orders(market="KRW-ETH")] == []
    assert {o.uuid for o in rest.orders(uuids=[a.uuid, b.uuid])} == {a.uuid, b.uuid}
    assert [o.uuid for o in rest.orders(identifiers=[a.identifier or ""])] == [a.uuid]
    rest.cancel_order(uuid=a.uuid)
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    closed = rest.closed_orders(start_time=since)
    assert [(o.uuid, o.state) for o in closed] == [(a.uuid, "cancel")]
    assert rest.closed_orders(states=["done"], start_time=since) == []
    assert [o.uuid for o in rest.open_orders()] == [b.uuid]


def test_batch_cancels_report_what_was_cancelled_and_what_was_refused(rest):
    a = rest.place_order("KRW-BTC", "bid", "limit", 50_000_000, 0.001)
    b = rest.place_order("KRW-BTC", "bid", "limit", 49_000_000, 0.001)
    result = rest.cancel_orders(uuids=[a.uuid])
    assert isinstance(result, us.BatchCancelResult)
    assert [r.uuid for r in result.success] == [a.uuid] and result.success_count == 1
    rest_of = rest.cancel_open_orders(side="bid", pairs=["KRW-BTC"])
    assert [r.uuid for r in rest_of.success] == [b.uuid]
    assert rest.open_orders() == []


def test_cancel_and_new_returns_the_old_order_with_the_new_one_named(rest):
    old = rest.place_order("KRW-BTC", "bid", "limit", 50_000_000, 0.001)
    result = rest.cancel_and_new(old.uuid, new_ord_type="limit", new_price=48_000_000,
                                 new_volume="remain_only")
    assert result.uuid == old.uuid and result.new_order_uuid
    new = rest.order(uuid=result.new_order_uuid)
    assert new.identifier == result.new_order_identifier and new.price == 48_000_000.0


def test_the_order_chance_is_typed(rest):
    chance = rest.order_chance("KRW-BTC")
    assert isinstance(chance, us.OrderChance) and chance.market.id == "KRW-BTC"
    assert chance.bid_account.currency == "KRW" and chance.ask_account.currency == "BTC"
    assert chance.bid_fee > 0 and "limit" in chance.market.bid_types


def test_with_decimal_every_figure_of_an_order_is_exact(fake):
    config = us.Config(rest_url=fake.rest_url, access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY,
                       decimal=True)
    with us.RestClient(config) as exact:
        placed = exact.place_order("KRW-BTC", "bid", "limit", "50000000", "0.001")
        assert placed.volume == Decimal("0.001") and isinstance(placed.locked, Decimal)
        assert isinstance(exact.order_chance("KRW-BTC").bid_fee, Decimal)


# ---- paging, chunks and windows (mocked, to count the calls) ------------------------------------


def row(n: int, state: str = "wait", created: str = "2026-12-05T10:00:00+09:00") -> dict[str, Any]:
    return {"uuid": f"u{n}", "market": "KRW-BTC", "side": "bid", "ord_type": "limit", "state": state,
            "price": "100", "volume": "1", "remaining_volume": "1", "executed_volume": "0",
            "trades_count": 0, "paid_fee": "0", "locked": "100", "created_at": created}


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


@responses.activate
def test_open_orders_walks_every_page_and_keeps_each_order_once(mocked, base):
    responses.get(f"{base}/v1/orders/open", json=[row(i) for i in range(100)])
    responses.get(f"{base}/v1/orders/open", json=[row(i) for i in range(99, 150)])  # a row shifted
    found = mocked.open_orders()
    assert len(found) == 150 and len({o.uuid for o in found}) == 150
    pages = [query(c) for c in responses.calls]
    assert [p["page"] for p in pages] == [["1"], ["2"]]
    assert pages[0]["states[]"] == ["wait", "watch"] and pages[0]["limit"] == ["100"]


@responses.activate
def test_open_orders_stop_at_a_page_that_brings_nothing_new(mocked, base):
    responses.get(f"{base}/v1/orders/open", json=[row(i) for i in range(100)])  # pages ignored
    assert len(mocked.open_orders(market="KRW-BTC")) == 100
    assert len(responses.calls) == 2


@responses.activate
def test_orders_by_ids_go_100_per_call_and_cancels_20(mocked, base):
    ids = [f"u{i}" for i in range(250)]
    responses.get(f"{base}/v1/orders/uuids", json=[])
    responses.delete(f"{base}/v1/orders/uuids",
                     json={"success": {"count": 1, "orders": [{"uuid": "u0", "market": "KRW-BTC"}]},
                           "failed": {"count": 0, "orders": []}})
    mocked.orders(uuids=ids)
    assert [len(query(c)["uuids[]"]) for c in responses.calls] == [100, 100, 50]
    responses.calls.reset()
    result = mocked.cancel_orders(uuids=ids[:45])
    assert [len(query(c)["uuids[]"]) for c in responses.calls] == [20, 20, 5]
    assert result.success_count == 3 and result.failed_count == 0


@responses.activate
def test_closed_orders_split_a_long_span_into_7_day_windows_and_a_full_window_in_halves(mocked, base):
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    end = start + timedelta(days=10)
    full = [row(i, "done", f"2026-11-0{1 + i % 5}T00:00:00+00:00") for i in range(1000)]
    responses.get(f"{base}/v1/orders/closed", json=full)  # the first 7 days: full, so halved
    halves = [row(1, "done"), row(2000, "cancel", "2026-11-04T00:00:00+00:00")]
    responses.get(f"{base}/v1/orders/closed", json=halves)
    responses.get(f"{base}/v1/orders/closed", json=[row(2001, "done", "2026-11-06T00:00:00+00:00")])
    responses.get(f"{base}/v1/orders/closed", json=[row(2002, "done", "2026-11-09T00:00:00+00:00")])
    found = mocked.closed_orders(start_time=start, end_time=end.isoformat())
    windows = [(int(query(c)["start_time"][0]), int(query(c)["end_time"][0])) for c in responses.calls]
    ms = int(start.timestamp() * 1000)
    week = 7 * 86_400_000
    assert windows[0] == (ms, ms + week)
    assert windows[1:3] == [(ms, ms + week // 2), (ms + week // 2, ms + week)]
    assert windows[3] == (ms + week, int(end.timestamp() * 1000))
    assert len(found) == 1000 + 3 and len({o.uuid for o in found}) == len(found)
    assert found[-1].uuid == "u2002"  # oldest first


@responses.activate
def test_closed_orders_take_epoch_ms_and_iso_text_with_a_zone(mocked, base):
    responses.get(f"{base}/v1/orders/closed", json=[])
    mocked.closed_orders(market="KRW-BTC", start_time=1_700_000_000_000,
                         end_time="2023-11-15T07:13:20+09:00")
    sent = query(responses.calls[0])
    assert sent["start_time"] == ["1700000000000"] and sent["market"] == ["KRW-BTC"]
    assert sent["states[]"] == ["done", "cancel"]
