"""The client as an application holds it: start on first use, events, snapshots, listing, closing."""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

import pytest

import upbit_sync as us
from tests.client.conftest import Sink, all_requests, public_conn, served
from tests.support import wait_until

BTC, ETH, XRP = "KRW-BTC", "KRW-ETH", "KRW-XRP"
TEN = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE", "KRW-ADA",
       "BTC-ETH", "BTC-XRP", "USDT-BTC", "USDT-ETH"]


# ---- starting and stopping ---------------------------------------------------------------------


def test_a_client_starts_a_manager_that_has_not_started(harness, exchange):
    manager = harness.manager(exchange, start=False)
    sink = Sink()
    client = harness.client(manager, sink)
    client.subscribe("ticker", [BTC], sink)
    assert manager.running
    assert sink.wait(lambda: len(sink.messages) >= 2)
    assert sink.wait(lambda: sink.events_of(us.Connected))
    assert sink.events_of(us.Connected)[0].connection == "public"


def test_subscribe_on_an_explicitly_stopped_manager_raises_closed_error(harness, exchange, manager):
    client = harness.client(manager)
    public_conn(exchange)
    manager.stop()
    assert wait_until(lambda: not exchange.open_connections())
    opened = exchange.connections_opened
    with pytest.raises(us.ClosedError):
        client.subscribe("ticker", [BTC], Sink())
    assert not manager.running
    assert client.subscriptions == []
    assert not wait_until(lambda: exchange.connections_opened > opened, timeout=0.3)


def test_close_unsubscribes_everything_and_is_idempotent(harness, exchange, manager):
    client = harness.client(manager)
    client.subscribe("ticker", [BTC, ETH], Sink())
    client.subscribe("trade", [BTC], Sink())
    assert wait_until(lambda: served(exchange, "ticker") and served(exchange, "trade"))
    client.close()
    client.close()
    assert wait_until(lambda: not served(exchange, "ticker") and not served(exchange, "trade"))
    assert client.subscriptions == []
    assert manager.running, "closing a client does not stop the shared manager"


def test_a_closed_client_refuses_new_subscriptions(client):
    client.close()
    with pytest.raises(us.ClosedError):
        client.subscribe("ticker", [BTC], Sink())


def test_context_manager_closes_the_client(harness, exchange, manager):
    kept = Sink()
    harness.client(manager).subscribe("ticker", [ETH], kept)
    with us.WebSocketClient(manager=manager) as client:
        client.subscribe("ticker", [BTC], Sink())
        assert wait_until(lambda: served(exchange, "ticker") == {BTC, ETH})
    assert wait_until(lambda: served(exchange, "ticker") == {ETH})
    assert client.subscriptions == []
    before = len(kept)
    assert kept.wait(lambda: len(kept.messages) >= before + 3)


def test_an_abandoned_stream_is_cancelled_when_collected(harness, exchange, manager):
    client = harness.client(manager)
    client.subscribe("ticker", [ETH], Sink())
    stream = client.stream("trade", [BTC], timeout=5.0)
    assert isinstance(next(stream), us.Trade)
    assert served(exchange, "trade") == {BTC}
    del stream
    gc.collect()
    assert wait_until(lambda: not served(exchange, "trade"))
    assert served(exchange, "ticker") == {ETH}
    assert [s.type for s in client.subscriptions] == ["ticker"]


# ---- what subscribers receive --------------------------------------------------------------------


def test_raw_subscription_receives_dicts_with_default_keys(exchange, client):
    sink = Sink()
    client.subscribe("ticker", [BTC], sink, raw=True)
    assert sink.wait(lambda: len(sink.messages) >= 3)
    for message in sink.messages:
        assert isinstance(message, dict)
        assert message["type"] == "ticker" and message["code"] == BTC
        assert "trade_price" in message and "tp" not in message


def test_typed_and_raw_subscribers_of_one_code_each_get_their_form(harness, exchange, manager):
    typed, raw = Sink(), Sink()
    harness.client(manager).subscribe("trade", [BTC], typed)
    harness.client(manager).subscribe("trade", [BTC], raw, raw=True)
    assert typed.wait(lambda: len(typed.messages) >= 3) and raw.wait(lambda: len(raw.messages) >= 3)
    assert all(isinstance(m, us.Trade) for m in typed.messages)
    assert all(isinstance(m, dict) and "sequential_id" in m for m in raw.messages)


def test_a_subscriber_without_snapshots_never_sees_one(harness, exchange, manager):
    realtime_only, with_snapshots = Sink(), Sink()
    harness.client(manager).subscribe("ticker", [BTC], realtime_only, snapshot=False)
    assert realtime_only.wait(lambda: len(realtime_only.messages) >= 3)
    # another subscriber on the same code makes the server send a fresh snapshot; so does a reconnect
    harness.client(manager).subscribe("ticker", [BTC], with_snapshots)
    assert with_snapshots.wait(lambda: any(m.stream_type == "SNAPSHOT" for m in with_snapshots.messages))
    exchange.drop_all()
    assert with_snapshots.wait(
        lambda: sum(m.stream_type == "SNAPSHOT" for m in with_snapshots.messages) >= 2
    ), "no snapshot after the reconnect"
    after = len(realtime_only)
    assert realtime_only.wait(lambda: len(realtime_only.messages) >= after + 3)
    assert {m.stream_type for m in realtime_only.messages} == {"REALTIME"}


def test_every_subscriber_gets_the_snapshot_it_wants(harness, exchange, manager):
    sink = Sink()
    harness.client(manager).subscribe("ticker", [BTC], sink)
    assert sink.wait(lambda: sink.messages)
    assert sink.messages[0].stream_type == "SNAPSHOT"


# ---- lifecycle events ----------------------------------------------------------------------------


def test_reconnected_reaches_on_event_after_a_drop(harness, exchange, manager):
    sink = Sink()
    harness.client(manager, sink).subscribe("ticker", [BTC], sink)
    assert sink.wait(lambda: len(sink.messages) >= 2)
    exchange.drop_all()
    assert sink.wait(lambda: sink.events_of(us.Reconnected))
    (reconnected,) = sink.events_of(us.Reconnected)
    assert reconnected.connection == "public" and reconnected.downtime_s >= 0
    disconnected = sink.events_of(us.Disconnected)
    assert disconnected and sink.events.index(disconnected[0]) < sink.events.index(reconnected)
    before = len(sink)
    assert sink.wait(lambda: len(sink.messages) >= before + 3), "no data after the reconnect"


def test_server_error_reaches_on_event(harness, exchange, manager):
    sink = Sink()
    harness.client(manager, sink).subscribe("ticker", [BTC], sink)
    assert sink.wait(lambda: sink.messages)
    exchange.send_raw(b'{"error":{"name":"INVALID_PARAM","message":"nope"}}')
    assert sink.wait(lambda: sink.events_of(us.ServerError))
    assert sink.events_of(us.ServerError)[0].name == "INVALID_PARAM"


def test_events_never_run_on_the_socket_thread(harness, exchange, manager):
    threads: list[str] = []

    def on_event(event: us.Event) -> None:
        threads.append(threading.current_thread().name)

    sink = Sink()
    harness.client(manager, on_event=on_event).subscribe("ticker", [BTC], sink)
    assert sink.wait(lambda: sink.messages)
    exchange.drop_all()
    assert wait_until(lambda: len(threads) >= 2)
    assert not any(name.startswith("upbit-ws") for name in threads), threads


# ---- snapshot() ------------------------------------------------------------------------------------


def test_snapshot_of_ten_codes_returns_ten_typed_messages(exchange, client):
    public_conn(exchange)
    snap = client.snapshot("ticker", TEN, timeout=5.0)
    assert set(snap) == set(TEN)
    for code, ticker in snap.items():
        assert isinstance(ticker, us.Ticker) and ticker.code == code


def test_snapshot_uses_a_short_lived_connection_of_its_own(exchange, client):
    shared = public_conn(exchange)
    opened = exchange.connections_opened
    shared_requests = len(shared.requests)
    snap = client.snapshot("trade", [BTC, ETH], timeout=5.0)
    assert all(isinstance(t, us.Trade) for t in snap.values()) and set(snap) == {BTC, ETH}
    extra = exchange.connections[opened:]
    assert len(extra) == 1, "one connection per snapshot() call"
    (request,) = [r.payload for r in extra[0].requests if isinstance(r.payload, list)]
    (wanted,) = [obj for obj in request if obj.get("type") == "trade"]
    assert wanted.get("is_only_snapshot") is True
    assert wait_until(lambda: not extra[0].is_open), "the snapshot connection was left open"
    assert len(shared.requests) == shared_requests, "snapshot() touched the shared connection"


def test_snapshot_waits_for_the_connect_limit(harness, exchange):
    manager = harness.manager(exchange, connect_rate_per_second=1)
    client = harness.client(manager)
    public_conn(exchange)
    (first,) = exchange.connect_attempts
    snap = client.snapshot("ticker", [BTC], timeout=5.0)
    assert set(snap) == {BTC}
    second = exchange.connect_attempts[1]
    assert second.time - first.time >= 0.9, "two connects within a second with a limit of 1/s"


def test_snapshot_is_bounded_by_its_timeout(exchange, client):
    public_conn(exchange)
    exchange.silence(True)
    started = time.monotonic()
    try:
        snap = client.snapshot("ticker", [BTC, ETH], timeout=0.5)
    except TimeoutError:
        pass
    else:
        assert set(snap) < {BTC, ETH}, "data from a silent exchange"
    assert time.monotonic() - started < 1.5
    exchange.silence(False)


@pytest.mark.parametrize(
    ("type_", "codes"),
    [
        pytest.param("ticker", ["krw-btc"], id="lowercase"),
        pytest.param("ticker", [BTC, "BTC"], id="one-bad-among-good"),
        pytest.param("ticker", [], id="no-codes"),
        pytest.param("tickr", [BTC], id="unknown-type"),
    ],
)
def test_snapshot_with_bad_codes_raises_before_any_connect(exchange, client, type_, codes):
    public_conn(exchange)
    attempts = len(exchange.connect_attempts)
    with pytest.raises(us.SubscriptionError):
        client.snapshot(type_, codes)
    assert not wait_until(lambda: len(exchange.connect_attempts) > attempts, timeout=0.3)


# ---- list_subscriptions() ------------------------------------------------------------------------


def test_list_subscriptions_returns_what_the_server_says(exchange, client):
    client.subscribe("ticker", [BTC, ETH], Sink())
    client.subscribe("trade", [XRP], Sink())
    assert wait_until(lambda: served(exchange, "ticker") == {BTC, ETH} and served(exchange, "trade"))
    conn = public_conn(exchange)
    requests = all_requests(exchange)

    listing = client.list_subscriptions(timeout=5.0)

    assert isinstance(listing, us.SubscriptionList)
    by_type: dict[str, Any] = {entry.type: set(entry.codes) for entry in listing.result}
    assert by_type == {"ticker": {BTC, ETH}, "trade": {XRP}}
    assert all_requests(exchange) == requests + 1
    assert any(
        {"method": "LIST_SUBSCRIPTIONS"} in r.payload for r in conn.requests if isinstance(r.payload, list)
    ), "not asked on the wire of the public connection"
