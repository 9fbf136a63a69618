"""OrderTracker against the fake exchange's matching engine: placed, streamed and reconciled changes,
each reported once and in order, across a private outage with fills and cancels during it."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from typing import Any

import pytest

import upbit_sync as us
from tests.support import wait_until
from upbit_sync.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY, FakeUpbitServer

KEYS = dict(access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY)
MARKET = "KRW-BTC"


class Updates:
    """on_update: every update, and the thread each came on."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.items: list[us.OrderUpdate] = []

    def __call__(self, update: us.OrderUpdate) -> None:
        with self.cond:
            self.items.append(update)
            self.cond.notify_all()

    def of(self, uuid: str) -> list[us.OrderUpdate]:
        with self.cond:
            return [u for u in self.items if u.order.uuid == uuid]

    def changes(self) -> Counter[tuple[str, str, Any]]:
        with self.cond:
            return Counter((u.order.uuid, u.order.state, u.order.executed_volume) for u in self.items)


def _price(client: us.WebSocketClient) -> float:
    """A bid price well under the market, on the tick grid (KRW-BTC's tick is 1,000 KRW)."""
    (ticker,) = client.rest.tickers([MARKET])
    return float(int(ticker.trade_price * 0.9) // 1000 * 1000)


@pytest.fixture
def setup(harness: Any) -> tuple[FakeUpbitServer, us.WebSocketClient, us.OrderTracker, Updates]:
    server = harness.server()
    server.accounts = [{"currency": "KRW", "balance": "100000000", "locked": "0", "avg_buy_price": "0",
                        "avg_buy_price_modified": False, "unit_currency": "KRW"}]
    manager = harness.manager(server, **KEYS)
    client = harness.client(manager)
    updates = Updates()
    tracker = client.track_orders(on_update=updates)
    assert wait_until(lambda: tracker.reconciles >= 1, 10)
    return server, client, tracker, updates


def test_a_placed_order_is_known_at_once_and_its_fills_arrive_once_each_in_order(setup: Any) -> None:
    server, client, tracker, updates = setup
    price = _price(client)
    order = client.place_order(MARKET, "bid", "limit", price=price, volume=0.002)
    assert order.identifier and order.identifier.startswith("us-")
    assert tracker.get(order.uuid) is not None and tracker.get(order.identifier) is not None
    assert [o.uuid for o in tracker.open()] == [order.uuid]

    server.trade(MARKET, price=price, volume=0.0005, side="ASK")  # a partial fill
    assert wait_until(lambda: (o := tracker.get(order.uuid)) is not None and o.executed_volume == 0.0005)
    server.trade(MARKET, price=price, volume=0.01, side="ASK")  # the rest
    done = tracker.wait(order.uuid, timeout=10)
    assert done.state == "done" and done.executed_volume == 0.002
    assert tracker.open() == []

    seen = updates.of(order.uuid)
    assert [(u.order.state, u.order.executed_volume) for u in seen] == [
        ("wait", 0), ("wait", 0.0005), ("wait", 0.002), ("done", 0.002)] or [
        (u.order.state, u.order.executed_volume) for u in seen] == [
        ("wait", 0), ("wait", 0.0005), ("done", 0.002)]
    assert seen[0].source in ("placed", "stream") and all(u.source == "stream" for u in seen[1:])
    assert seen[0].previous is None and all(u.previous == p.order for p, u in itertools.pairwise(seen))
    assert max(updates.changes().values()) == 1


def test_fills_cancels_and_foreign_orders_during_a_private_outage_are_reconciled_once(setup: Any) -> None:
    server, client, tracker, updates = setup
    price = _price(client)
    a = client.place_order(MARKET, "bid", "limit", price=price, volume=0.001)
    b = client.place_order(MARKET, "bid", "limit", price=price, volume=0.002)
    c = client.place_order(MARKET, "bid", "limit", price=price - 1000, volume=0.001)
    assert wait_until(lambda: all(updates.of(o.uuid) for o in (a, b, c)))
    done_before = tracker.reconciles

    server.refuse_next(10**6)  # the private connection stays down until the refusals are cleared
    assert server.cut_private() == 1
    assert wait_until(lambda: client.manager.health()["connections"]["private"]["state"] != "OPEN")
    server.trade(MARKET, price=price, volume=0.002, side="ASK")  # a fills, b half
    client.rest.cancel_order(uuid=c.uuid)
    # an order placed elsewhere (another program on the same keys) that opens and closes meanwhile
    other = client.rest.place_order(MARKET, "bid", "price", price=10_000)
    server.clear_refusals()

    def settled() -> bool:  # the reconcile after the reconnect (one at start may still be finishing)
        got = [tracker.get(o.uuid) for o in (a, b, c, other)]
        return (got[0] is not None and got[0].state == "done" and got[1] is not None
                and got[1].executed_volume == 0.001 and got[2] is not None and got[2].state == "cancel"
                and got[3] is not None)

    assert wait_until(settled, 15), [tracker.get(o.uuid) for o in (a, b, c, other)]
    assert tracker.reconciles > done_before
    found = tracker.get(other.uuid)
    assert found is not None and found.is_final
    for order in (a, b, c):
        last = updates.of(order.uuid)[-1]
        assert last.source == "reconciled"
    assert [o.uuid for o in tracker.open()] == [b.uuid]
    assert max(updates.changes().values()) == 1

    # a late stream frame repeating a change already reconciled is not reported again
    count = len(updates.items)
    server.emit_my_order(code=MARKET, uuid=a.uuid, state="trade", ask_bid="BID", price=price, volume=0.001,
                         executed_volume=0.001, remaining_volume=0.0, identifier=a.identifier)
    marker = client.place_order(MARKET, "bid", "limit", price=price - 2000, volume=0.001)
    assert wait_until(lambda: updates.of(marker.uuid))
    assert len(updates.items) == count + 1

    # balances after the reconnect equal what REST says
    rows = client.rest.accounts()
    assert wait_until(lambda: _balances(tracker.balances()) == _balances(client.rest.accounts()))
    assert rows


def _balances(accounts: list[us.Account]) -> dict[str, tuple[Any, Any]]:
    return {a.currency: (a.balance, a.locked) for a in accounts}


def test_a_placement_left_uncertain_is_learnt_at_the_next_reconcile_and_made_once(harness: Any) -> None:
    server = harness.server()
    client = harness.client(harness.manager(server, **KEYS, order_lookup_timeout=0.3))
    updates = Updates()
    tracker = client.track_orders(on_update=updates)
    assert wait_until(lambda: tracker.reconciles >= 1, 10)
    price = _price(client)
    server.refuse_next(10**6)  # the private connection down: the stream cannot tell of the order
    assert server.cut_private() == 1
    assert wait_until(lambda: client.manager.health()["connections"]["private"]["state"] != "OPEN")
    server.fail_next_order("drop")  # the order is made, its answer lost...
    server.refuse_rest_next(10**6, status=500, group="default")  # ...and every lookup fails

    with pytest.raises(us.OrderUncertainError) as caught:
        client.place_order(MARKET, "bid", "limit", price=price, volume=0.001, identifier="intent-7")
    assert caught.value.identifier == "intent-7" and tracker.get("intent-7") is None

    server.clear_refusals()
    assert wait_until(lambda: tracker.get("intent-7") is not None, 15)
    order = tracker.get("intent-7")
    assert order is not None and order.is_open
    assert [u.source for u in updates.of(order.uuid)] == ["reconciled"]
    assert [o["uuid"] for o in server.orders if o.get("identifier") == "intent-7"] == [order.uuid]


@pytest.mark.parametrize("mode, seconds", [("drop", 0.0), ("500", 0.0), ("delay", 1.0), ("500_before", 0.0)])
def test_a_placement_whose_answer_fails_is_one_order_and_one_update(harness: Any, mode: str,
                                                                    seconds: float) -> None:
    server = harness.server()
    client = harness.client(harness.manager(server, **KEYS, rest_timeout=0.3, order_lookup_timeout=3.0))
    updates = Updates()
    tracker = client.track_orders(on_update=updates)
    assert wait_until(lambda: tracker.reconciles >= 1, 10)
    server.fail_next_order(mode, seconds=seconds, burn=False)  # 500_before: nothing made, sent again

    order = client.place_order(MARKET, "bid", "limit", price=_price(client), volume=0.001,
                               identifier=f"intent-{mode}")

    assert [o["uuid"] for o in server.orders if o.get("identifier") == f"intent-{mode}"] == [order.uuid]
    assert len(server.orders) == 1
    assert wait_until(lambda: updates.of(order.uuid))
    tracker.reconcile()  # a reconcile after it all must not tell the same change again
    done = tracker.reconciles
    assert wait_until(lambda: tracker.reconciles > done, 10)
    assert [(u.order.state, u.order.executed_volume) for u in updates.of(order.uuid)] == [("wait", 0)]


def test_wait_returns_only_once_on_update_has_returned_from_the_final_change(setup: Any) -> None:
    _, client, tracker, updates = setup
    entered, release = threading.Event(), threading.Event()
    hook = updates.__call__

    def slow(update: us.OrderUpdate) -> None:  # the final change takes a while to handle
        if update.order.is_final:
            entered.set()
            release.wait(10)
        hook(update)

    tracker._on_update = slow  # the fixture's tracker, with a slower callback
    order = client.place_order(MARKET, "bid", "limit", price=_price(client), volume=0.001)
    returned = threading.Event()
    waiter = threading.Thread(target=lambda: (tracker.wait(order.uuid, timeout=10), returned.set()),
                              name="test-waiter", daemon=True)
    waiter.start()
    try:
        client.rest.cancel_order(uuid=order.uuid)
        assert entered.wait(10)
        assert not returned.wait(0.3)  # the order is over, but its callback has not returned yet
    finally:
        release.set()
    assert returned.wait(10)
    waiter.join(5)
    assert updates.of(order.uuid)[-1].order.state == "cancel"  # handled before wait returned


def test_wait_times_out_with_the_state_named_and_close_joins_the_thread(setup: Any) -> None:
    _, client, tracker, _updates = setup
    order = client.place_order(MARKET, "bid", "limit", price=_price(client), volume=0.001)
    with pytest.raises(us.StreamTimeout, match="wait"):
        tracker.wait(order.uuid, timeout=0.2)
    with pytest.raises(us.InvalidRequestError, match="timeout"):
        tracker.wait(order.uuid, timeout=-1)
    threads = {t.name for t in threading.enumerate() if t.name.startswith("upbit-orders-")}
    assert threads
    tracker.close()
    assert not {t.name for t in threading.enumerate()} & threads
    with pytest.raises(us.ClosedError):
        tracker.wait(order.uuid, timeout=1)


def test_an_on_update_that_raises_is_told_to_on_error_and_tracking_goes_on(harness: Any) -> None:
    server = harness.server()
    errors: list[BaseException] = []
    client = harness.client(harness.manager(server, **KEYS), on_error=errors.append)
    seen: list[us.OrderUpdate] = []

    def broken(update: us.OrderUpdate) -> None:
        seen.append(update)
        raise RuntimeError("boom")

    tracker = client.track_orders(on_update=broken)
    order = client.place_order(MARKET, "bid", "limit", price=_price(client), volume=0.001)
    client.rest.cancel_order(uuid=order.uuid)
    assert tracker.wait(order.uuid, timeout=10).state == "cancel"
    assert wait_until(lambda: len(seen) >= 2)
    assert any(isinstance(e, RuntimeError) for e in errors)


def test_tracking_needs_keys(harness: Any) -> None:
    server = harness.server()
    client = harness.client(harness.manager(server))
    with pytest.raises(us.AuthenticationError, match="track_orders"):
        client.track_orders()
