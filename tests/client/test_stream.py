"""stream(): a blocking iterator that never leaks its subscription, however the loop is left."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import upbit_sync as us
from tests.client.conftest import BULK, Sink, dispatcher_stats, public_conn, served, trade_frames
from tests.support import wait_until

BTC, ETH = "KRW-BTC", "KRW-ETH"


@pytest.fixture
def anchored(exchange, client):
    """Another subscription on the same connection, so "the server's set shrinks" is one request away."""
    client.subscribe("ticker", [ETH], Sink())
    assert wait_until(lambda: served(exchange, "ticker") == {ETH})
    return client


def _stream_is_gone(exchange, client, type_: str = "trade") -> None:
    assert wait_until(lambda: not served(exchange, type_) and served(exchange, "ticker") == {ETH}), (
        f"served: {type_} {served(exchange, type_)}, ticker {served(exchange, 'ticker')}"
    )
    assert [s.type for s in client.subscriptions] == ["ticker"]


def test_stream_yields_typed_messages_in_order(anchored):
    trades: list[Any] = []
    for trade in anchored.stream("trade", [BTC], timeout=5.0):
        trades.append(trade)
        if len(trades) == 10:
            break
    assert all(isinstance(t, us.Trade) and t.code == BTC for t in trades)
    ids = [t.sequential_id for t in trades]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_timeout_raises_and_the_subscription_is_gone(harness, quiet_exchange):
    client = harness.client(harness.manager(quiet_exchange))
    client.subscribe("ticker", [ETH], Sink())
    assert wait_until(lambda: served(quiet_exchange, "ticker") == {ETH})
    seen: list[Any] = []
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        for message in client.stream("trade", [BTC], timeout=0.3):
            seen.append(message)  # the snapshot; nothing follows on a quiet exchange
    assert time.monotonic() - started >= 0.3
    assert [m.stream_type for m in seen] == ["SNAPSHOT"], "the subscription never reached the server"
    _stream_is_gone(quiet_exchange, client)


def test_break_cancels_the_subscription(exchange, anchored):
    for _ in anchored.stream("trade", [BTC], timeout=5.0):
        assert served(exchange, "trade") == {BTC}
        break
    _stream_is_gone(exchange, anchored)


def test_an_exception_inside_the_loop_cancels_the_subscription(exchange, anchored):
    with pytest.raises(RuntimeError, match="boom"):
        for _ in anchored.stream("trade", [BTC], timeout=5.0):
            raise RuntimeError("boom")
    _stream_is_gone(exchange, anchored)


def _consume_in_a_thread(stream: Any) -> tuple[threading.Thread, Sink, list[BaseException]]:
    sink = Sink()
    failures: list[BaseException] = []

    def consume() -> None:
        try:
            for message in stream:
                sink(message)
        except BaseException as exc:  # reported to the test, never left to the thread
            failures.append(exc)

    thread = threading.Thread(target=consume, name="test-stream-consumer", daemon=True)
    thread.start()
    return thread, sink, failures


def test_closing_the_stream_from_another_thread_ends_the_loop(exchange, anchored):
    stream = anchored.stream("trade", [BTC])  # no timeout: only close() can end the wait
    assert isinstance(stream, us.MessageStream)
    thread, sink, failures = _consume_in_a_thread(stream)
    assert sink.wait(lambda: len(sink.messages) >= 3)

    stream.close()

    thread.join(3.0)
    assert not thread.is_alive(), "the loop did not end after close()"
    assert failures == []
    _stream_is_gone(exchange, anchored)
    stream.close()  # idempotent


def test_closing_the_client_from_another_thread_ends_the_loop(harness, exchange, manager):
    client = harness.client(manager)
    thread, sink, failures = _consume_in_a_thread(client.stream("trade", [BTC]))
    assert sink.wait(lambda: len(sink.messages) >= 3)

    client.close()

    thread.join(3.0)
    assert not thread.is_alive(), "the loop did not end after client.close()"
    assert failures == []
    assert wait_until(lambda: not served(exchange, "trade"))
    assert client.subscriptions == []


def test_a_closed_stream_waiting_with_a_timeout_ends_at_once(exchange, anchored):
    stream = anchored.stream("trade", [BTC], timeout=30.0)
    thread, sink, failures = _consume_in_a_thread(stream)
    assert sink.wait(lambda: sink.messages)
    started = time.monotonic()
    stream.close()
    thread.join(3.0)
    assert not thread.is_alive() and time.monotonic() - started < 3.0
    assert failures == []
    _stream_is_gone(exchange, anchored)


def test_stream_with_events_yields_reconnected_after_a_drop(exchange, anchored):
    seen: list[Any] = []
    dropped = False
    deadline = time.monotonic() + 10.0
    for item in anchored.stream("trade", [BTC], timeout=5.0, events=True):
        seen.append(item)
        if isinstance(item, us.Trade) and not dropped:
            exchange.drop_all()
            dropped = True
        if isinstance(item, us.Reconnected) or time.monotonic() > deadline:
            break
    reconnected = [e for e in seen if isinstance(e, us.Reconnected)]
    assert reconnected, f"no Reconnected among {[type(x).__name__ for x in seen]}"
    assert reconnected[0].connection == "public" and reconnected[0].downtime_s >= 0
    _stream_is_gone(exchange, anchored)


def test_stream_without_events_yields_only_messages(exchange, anchored):
    seen: list[Any] = []
    dropped = False
    deadline = time.monotonic() + 10.0
    for item in anchored.stream("trade", [BTC], timeout=5.0):
        seen.append(item)
        if not dropped:
            exchange.drop_all()
            dropped = True
        if sum(getattr(x, "stream_type", None) == "SNAPSHOT" for x in seen) >= 2:
            break  # the snapshot after the reconnect: the drop happened and was recovered
        assert time.monotonic() < deadline, "no fresh snapshot after the drop"
    assert all(isinstance(x, us.Trade) for x in seen), [type(x).__name__ for x in seen]


def test_raw_stream_yields_dicts_with_default_keys(anchored):
    for message in anchored.stream("ticker", [BTC], timeout=5.0, raw=True):
        assert isinstance(message, dict)
        assert message["code"] == BTC and "trade_price" in message and "tp" not in message
        break


def test_stream_of_an_orderbook_honours_depth(anchored):
    books: list[Any] = []
    for book in anchored.stream("orderbook", [BTC], timeout=5.0, depth=5):
        books.append(book)
        if len(books) == 3:
            break
    assert {len(b.units) for b in books} == {5}


def test_stream_without_snapshot_yields_only_realtime(anchored):
    seen: list[Any] = []
    for trade in anchored.stream("trade", [BTC], timeout=5.0, snapshot=False):
        seen.append(trade)
        if len(seen) == 5:
            break
    assert [t.stream_type for t in seen] == ["REALTIME"] * 5


def test_a_stream_whose_reader_falls_behind_counts_and_reports_its_loss(harness, quiet_exchange):
    manager = harness.manager(quiet_exchange, queue_size=100, **BULK)
    client = harness.client(manager)
    stream = client.stream("trade", [BTC], timeout=1.0, events=True)
    while not isinstance(next(stream), us.Trade):  # Connected first; then the snapshot: it is live
        pass
    frames, sent = trade_frames([BTC], 1_000)
    before = manager.health()["connections"]["public"]["messages"]
    quiet_exchange.firehose(len(frames), frames, conn_id=public_conn(quiet_exchange).id)
    assert wait_until(lambda: manager.health()["connections"]["public"]["messages"] >= before + len(frames)
                      and dispatcher_stats(manager)["queue_depth"] == 0), "the frames were not taken in"

    items: list[Any] = []
    with pytest.raises(TimeoutError):
        for item in stream:  # the backlog, then a quiet second
            items.append(item)

    trades = [i.sequential_id for i in items if isinstance(i, us.Trade)]
    assert trades == sorted(trades) and trades[-1] == sent[BTC][-1]
    dropped = len(frames) - len(trades)
    assert dropped > 0, "a reader that never read kept everything: the stream is not bounded"
    assert dispatcher_stats(manager)["drops"] == dropped, "the stream's loss is not counted in health"
    assert manager.health()["connections"]["public"]["drops"] == dropped  # and charged to its socket
    losses = [i for i in items if isinstance(i, us.DataLoss)]
    assert losses, "the stream's loss was silent"
    assert sum(e.dropped for e in losses) <= dropped



def test_stopping_the_manager_ends_a_stream_waiting_without_timeout(harness, exchange):
    manager = harness.manager(exchange)
    client = harness.client(manager)
    stream = client.stream("ticker", [BTC])
    ended = threading.Event()

    def reader() -> None:
        for _ in stream:
            pass
        ended.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    assert wait_until(lambda: stream.subscription.delivered > 0)
    manager.stop()
    assert ended.wait(5.0), "a stream kept waiting after its manager stopped"
    thread.join(5.0)
    assert stream.closed
