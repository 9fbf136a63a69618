"""Subscriptions: many components, one merged request per change, each gets exactly what it asked for."""

from __future__ import annotations

import gc
import threading
from typing import Any

import pytest

import upbit_sync as us
from tests.client.conftest import (
    Sink,
    all_requests,
    data_requests,
    public_conn,
    public_conns,
    request_codes,
    served,
)
from tests.support import wait_until
from upbit_sync.testing import DEFAULT_MARKETS, PRIVATE_PATH

BTC, ETH, XRP, SOL = "KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL"


def _received_more(sink: Sink, n: int) -> bool:
    seen = len(sink)
    return sink.wait(lambda: len(sink.messages) >= seen + n)


def test_overlapping_codes_from_two_clients_become_one_merged_request_per_change(
        harness, exchange, manager):
    first, second = harness.client(manager), harness.client(manager)
    conn = public_conn(exchange)
    first.subscribe("ticker", [BTC, ETH], Sink())
    assert wait_until(lambda: data_requests(conn) and set(request_codes(data_requests(conn)[-1], "ticker"))
                      == {BTC, ETH})
    before = len(data_requests(conn))

    second.subscribe("ticker", [ETH, XRP], Sink())

    assert wait_until(lambda: len(data_requests(conn)) > before)
    assert not wait_until(lambda: len(data_requests(conn)) > before + 1, timeout=0.4), (
        "one change must make one request"
    )
    latest = data_requests(conn)[-1]
    assert sorted(request_codes(latest, "ticker")) == [BTC, ETH, XRP], "the union, each code once"
    assert len([o for o in latest if o.get("type") == "ticker"]) == 1
    assert served(exchange, "ticker") == {BTC, ETH, XRP}


def test_each_client_receives_exactly_its_codes(harness, exchange, manager):
    first_sink, second_sink = Sink(), Sink()
    harness.client(manager).subscribe("ticker", [BTC, ETH], first_sink)
    harness.client(manager).subscribe("ticker", [ETH, XRP], second_sink)
    assert first_sink.wait(lambda: all(first_sink.codes()[c] >= 3 for c in (BTC, ETH)))
    assert second_sink.wait(lambda: all(second_sink.codes()[c] >= 3 for c in (ETH, XRP)))
    assert set(first_sink.codes()) == {BTC, ETH}
    assert set(second_sink.codes()) == {ETH, XRP}
    assert all(isinstance(m, us.Ticker) for m in first_sink.messages + second_sink.messages)


def test_cancelling_one_client_leaves_the_other_intact_and_shrinks_the_server_set(
        harness, exchange, manager):
    first_sink, second_sink = Sink(), Sink()
    first = harness.client(manager).subscribe("ticker", [BTC, ETH], first_sink)
    harness.client(manager).subscribe("ticker", [ETH, XRP], second_sink)
    assert wait_until(lambda: served(exchange, "ticker") == {BTC, ETH, XRP})
    assert first_sink.wait(lambda: first_sink.codes()[BTC] and first_sink.codes()[ETH])

    first.cancel()

    assert wait_until(lambda: served(exchange, "ticker") == {ETH, XRP})
    assert not first.active
    assert _received_more(second_sink, 3)
    stopped_at = len(first_sink)
    before = second_sink.codes()
    assert second_sink.wait(lambda: all(second_sink.codes()[c] >= before[c] + 3 for c in (ETH, XRP)))
    assert len(first_sink) == stopped_at, "a cancelled subscription still receives messages"
    assert set(second_sink.codes()) == {ETH, XRP}


def test_a_garbage_collected_client_unsubscribes_by_itself(harness, exchange, manager):
    kept_sink = Sink()
    harness.client(manager).subscribe("ticker", [BTC, ETH], kept_sink)
    doomed = us.WebSocketClient(manager=manager)
    doomed.subscribe("ticker", [ETH, XRP], Sink())
    assert wait_until(lambda: served(exchange, "ticker") == {BTC, ETH, XRP})

    del doomed
    gc.collect()

    assert wait_until(lambda: served(exchange, "ticker") == {BTC, ETH})
    before = kept_sink.codes()
    assert kept_sink.wait(lambda: all(kept_sink.codes()[c] >= before[c] + 3 for c in (BTC, ETH)))


def test_unsubscribe_codes_then_a_whole_type_shrinks_the_server_set(exchange, client):
    sink = Sink()
    client.subscribe("ticker", [BTC, ETH, XRP], sink)
    client.subscribe("trade", [BTC], sink)
    assert wait_until(lambda: served(exchange, "ticker") == {BTC, ETH, XRP} and served(exchange, "trade"))

    client.unsubscribe("ticker", [ETH])
    assert wait_until(lambda: served(exchange, "ticker") == {BTC, XRP})
    assert served(exchange, "trade") == {BTC}
    assert sink.wait(lambda: sink.codes()[BTC] >= 3)
    eth = sink.codes()[ETH]
    before = sink.codes()
    assert sink.wait(lambda: sink.codes()[XRP] >= before[XRP] + 3 and sink.codes()[BTC] >= before[BTC] + 3)
    assert sink.codes()[ETH] == eth, "an unsubscribed code is still delivered"

    client.unsubscribe("ticker")
    assert wait_until(lambda: not served(exchange, "ticker"))
    assert served(exchange, "trade") == {BTC}
    assert [s.type for s in client.subscriptions] == ["trade"]


def test_subscription_handle_describes_itself_and_cancel_is_idempotent(exchange, client):
    sub = client.subscribe("orderbook", [BTC], Sink(), depth=15)
    assert isinstance(sub, us.Subscription)
    assert (sub.type, sub.codes, sub.depth, sub.raw) == ("orderbook", (BTC,), 15, False)
    assert sub.overflow == "drop_oldest", "overflow=None means Config.overflow"
    assert sub.active and client.subscriptions == [sub]
    assert wait_until(lambda: served(exchange, "orderbook") == {f"{BTC}.15"})

    sub.cancel()
    sub.cancel()

    assert not sub.active and client.subscriptions == []
    assert wait_until(lambda: not served(exchange, "orderbook"))


def test_delivered_counts_what_the_callback_received(exchange, client):
    sink = Sink()
    sub = client.subscribe("ticker", [BTC], sink)
    assert sink.wait(lambda: len(sink.messages) >= 5)
    sub.cancel()
    assert wait_until(lambda: sub.delivered == len(sink))
    assert sub.dropped == 0


def test_different_orderbook_depths_for_one_code_each_get_their_own(harness, exchange, manager):
    five, fifteen = Sink(), Sink()
    harness.client(manager).subscribe("orderbook", [BTC], five, depth=5)
    harness.client(manager).subscribe("orderbook", [BTC], fifteen, depth=15)
    assert five.wait(lambda: len(five.messages) >= 5)
    assert fifteen.wait(lambda: len(fifteen.messages) >= 5)
    assert all(isinstance(m, us.Orderbook) and m.code == BTC for m in five.messages + fifteen.messages)
    assert {len(m.units) for m in five.messages} == {5}
    assert {len(m.units) for m in fifteen.messages} == {15}


BAD_SUBSCRIPTIONS = [
    pytest.param("tickr", [BTC], {}, id="unknown-type"),
    pytest.param("ticker", ["krw-btc"], {}, id="lowercase-code"),
    pytest.param("ticker", [BTC, "BTC"], {}, id="one-bad-code-among-good"),
    pytest.param("ticker", [], {}, id="no-codes"),
    pytest.param("trade", [BTC], {"depth": 5}, id="depth-on-trade"),
    pytest.param("orderbook", [BTC], {"depth": 7}, id="unsupported-depth"),
    pytest.param("orderbook", ["BTC-ETH"], {"level": 1000}, id="level-off-krw"),
    pytest.param("ticker", [BTC], {"overflow": "drop_everything"}, id="unknown-overflow"),
]


@pytest.mark.parametrize(("type_", "codes", "options"), BAD_SUBSCRIPTIONS)
def test_a_bad_subscription_raises_before_anything_is_sent(exchange, client, type_, codes, options):
    kept = client.subscribe("ticker", [ETH], Sink())
    assert wait_until(lambda: served(exchange, "ticker") == {ETH})
    requests = all_requests(exchange)

    with pytest.raises(us.SubscriptionError):
        client.subscribe(type_, codes, Sink(), **options)

    assert client.subscriptions == [kept]
    assert not wait_until(lambda: all_requests(exchange) > requests, timeout=0.3)
    assert served(exchange, "ticker") == {ETH}


@pytest.mark.parametrize("type_", ["myOrder", "myAsset"])
def test_private_subscribe_without_keys_raises_authentication_error(exchange, client, type_):
    with pytest.raises(us.AuthenticationError):
        client.subscribe(type_, None, Sink())
    assert client.subscriptions == []
    assert not wait_until(
        lambda: any(a.path == PRIVATE_PATH for a in exchange.connect_attempts), timeout=0.3
    )


def test_private_subscription_with_keys_receives_typed_orders(harness, exchange, private_manager):
    sink = Sink()
    harness.client(private_manager).subscribe("myOrder", None, sink)
    assert wait_until(lambda: any(c.is_private and c.subscriptions for c in exchange.open_connections()))
    sent: dict[str, Any] = exchange.emit_my_order(code=BTC, state="done")
    assert sink.wait(lambda: sink.messages)
    (order,) = sink.messages
    assert isinstance(order, us.MyOrder)
    assert (order.uuid, order.code, order.state) == (sent["uuid"], BTC, "done")
    assert all(not c.subscriptions for c in public_conns(exchange))


@pytest.mark.parametrize(
    ("type_", "kind"),
    [("ticker", us.Ticker), ("trade", us.Trade), ("orderbook", us.Orderbook), ("candle.1m", us.Candle)],
)
def test_each_type_arrives_as_its_typed_message(exchange, client, type_, kind):
    sink = Sink()
    client.subscribe(type_, [BTC], sink)
    assert sink.wait(lambda: len(sink.messages) >= 2)
    assert all(isinstance(m, kind) and m.type == type_ and m.code == BTC for m in sink.messages)


def test_one_code_of_two_types_reaches_only_the_subscriber_of_each_type(harness, exchange, manager):
    tickers, trades = Sink(), Sink()
    harness.client(manager).subscribe("ticker", [BTC], tickers)
    harness.client(manager).subscribe("trade", [BTC], trades)
    assert tickers.wait(lambda: len(tickers.messages) >= 3) and trades.wait(lambda: len(trades.messages) >= 3)
    assert all(isinstance(m, us.Ticker) for m in tickers.messages)
    assert all(isinstance(m, us.Trade) for m in trades.messages)


def test_two_subscriptions_of_one_client_to_one_code_both_receive(exchange, client):
    first, second = Sink(), Sink()
    client.subscribe("ticker", [BTC], first)
    client.subscribe("ticker", [BTC], second)
    assert first.wait(lambda: len(first.messages) >= 3) and second.wait(lambda: len(second.messages) >= 3)
    assert request_codes(data_requests(public_conn(exchange))[-1], "ticker") == [BTC]


def test_unsubscribe_touches_only_this_clients_subscriptions(harness, exchange, manager):
    leaving, staying = harness.client(manager), harness.client(manager)
    kept = Sink()
    leaving.subscribe("ticker", [BTC, ETH], Sink())
    staying.subscribe("ticker", [BTC], kept)
    assert wait_until(lambda: served(exchange, "ticker") == {BTC, ETH})

    leaving.unsubscribe("ticker")

    assert wait_until(lambda: served(exchange, "ticker") == {BTC})
    assert leaving.subscriptions == [] and len(staying.subscriptions) == 1
    before = len(kept)
    assert kept.wait(lambda: len(kept.messages) >= before + 3)


class _Component:
    """An application part that owns its client and subscribes one of its own methods."""

    def __init__(self, manager: us.WebSocketManager, seen: Sink) -> None:
        self.client = us.WebSocketClient(manager=manager)
        self.seen = seen
        self.client.subscribe("ticker", [XRP, SOL], self.on_ticker)

    def on_ticker(self, ticker: us.Ticker) -> None:
        self.seen(ticker)


def test_a_garbage_collected_component_owning_its_client_unsubscribes(harness, exchange, manager):
    kept = Sink()
    harness.client(manager).subscribe("ticker", [BTC], kept)
    seen = Sink()
    component = _Component(manager, seen)
    assert wait_until(lambda: served(exchange, "ticker") == {BTC, XRP, SOL})
    assert seen.wait(lambda: len(seen.messages) >= 2), "the component's method was never called"

    del component
    gc.collect()

    assert wait_until(lambda: served(exchange, "ticker") == {BTC})
    before = len(kept)
    assert kept.wait(lambda: len(kept.messages) >= before + 3)


def test_the_connection_for_a_second_depth_is_released_when_no_longer_needed(harness, exchange, manager):
    five = Sink()
    harness.client(manager).subscribe("orderbook", [BTC], five, depth=5)
    fifteen = harness.client(manager).subscribe("orderbook", [BTC], Sink(), depth=15)
    assert wait_until(lambda: served(exchange, "orderbook") == {f"{BTC}.5", f"{BTC}.15"})

    fifteen.cancel()

    assert wait_until(lambda: served(exchange, "orderbook") == {f"{BTC}.5"})
    assert wait_until(lambda: len(public_conns(exchange)) == 1), "an empty public connection stayed open"
    before = len(five)
    assert five.wait(lambda: len(five.messages) >= before + 3)
    assert {len(m.units) for m in five.messages} == {5}


def test_a_burst_of_subscriptions_from_many_threads_is_coalesced(exchange, client):
    sink = Sink()
    conn = public_conn(exchange)
    codes = [m.market for m in DEFAULT_MARKETS if m.quote == "KRW"][:100]
    start = threading.Barrier(10)
    failures: list[BaseException] = []

    def subscribe_ten(part: list[str]) -> None:
        start.wait(5.0)
        try:
            for code in part:
                client.subscribe("ticker", [code], sink)
        except BaseException as exc:  # reported to the test, never left to the thread
            failures.append(exc)

    threads = [threading.Thread(target=subscribe_ten, args=(codes[i::10],), daemon=True) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10.0)
    assert failures == [] and len(client.subscriptions) == 100

    assert wait_until(lambda: served(exchange, "ticker") == set(codes))
    assert len(data_requests(conn)) <= 5, f"{len(data_requests(conn))} requests for one burst"
    assert conn.is_open and exchange.connections_opened == 1, "the exchange refused the burst"
    assert sink.wait(lambda: set(sink.codes()) == set(codes))


def test_a_callback_can_cancel_its_own_subscription(exchange, client):
    def cancel_on_third(message: Any) -> None:
        if len(sink.messages) == 3:
            sub.cancel()

    sink = Sink(hook=cancel_on_third)
    sub = client.subscribe("ticker", [BTC], sink)
    assert wait_until(lambda: not sub.active)
    assert wait_until(lambda: not served(exchange, "ticker"))
    assert len(sink) == 3
    other = Sink()
    client.subscribe("trade", [BTC], other)
    assert other.wait(lambda: len(other.messages) >= 3), "the worker is stuck after the cancel"
    assert len(sink) == 3


def test_auth_failure_reaches_on_error(harness, exchange):
    manager = harness.manager(exchange, access_key="wrong-access-key", secret_key="x" * 40,
                              reconnect_max_delay=5.0)
    sink = Sink()
    harness.client(manager, sink).subscribe("myOrder", None, sink)
    assert sink.wait(lambda: sink.errors)
    assert isinstance(sink.errors[0], us.AuthenticationError)


def test_a_callback_method_whose_object_is_collected_ends_its_subscription_loudly(
        exchange, client, caplog):
    class Handler:
        def on_ticker(self, message: Any) -> None:
            pass

    sub = client.subscribe("ticker", [BTC], Handler().on_ticker)  # nothing keeps the Handler
    gc.collect()
    assert wait_until(lambda: not sub.active)
    assert wait_until(lambda: not served(exchange, "ticker"))
    assert any("garbage-collected" in r.getMessage() and r.levelname == "WARNING"
               for r in caplog.records)
