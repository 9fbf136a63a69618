"""Backpressure at the edges: a socket thread held by ``overflow="block"`` never ends its own healthy
connection, and a message larger than a worker's whole byte budget costs none of its neighbours."""

from __future__ import annotations

import threading
import time
from typing import Any

import upbit_sync as us
from tests.client.conftest import Sink, public_conn, trade_frames
from tests.support import wait_until
from upbit_sync.testing import MarketSimulator, encode

CODE = "KRW-BTC"


def _subscribed(harness, exchange, sink: Sink, **config: Any) -> tuple[Any, Any]:
    manager = harness.manager(exchange, **config)
    client = harness.client(manager, sink)
    sub = client.subscribe("trade", [CODE], sink)
    assert wait_until(lambda: public_conn(exchange).subscriptions, timeout=5.0)
    assert sink.wait(lambda: len(sink.messages) >= 1)  # the snapshot: the socket carries the set
    return manager, sub


def test_a_socket_thread_held_by_block_keeps_its_connection_and_loses_nothing(harness, quiet_exchange):
    """A slow callback and a burst hold the socket thread (``block``) for far longer than a ping
    timeout while the server's pong waits behind thousands of unread frames: the frames are proof
    of life, so the SDK keeps its one connection, and everything sent is delivered."""
    sent = 2_000
    frames, _ = trade_frames([CODE], sent)
    sink = Sink(hook=lambda message: time.sleep(0.003))  # the callback's work: 3 ms a message
    manager, sub = _subscribed(harness, quiet_exchange, sink, overflow="block", queue_size=20,
                               block_timeout=5.0, ping_interval=0.5, ping_timeout=0.3, stale_after=30.0)
    before = len(sink.messages)
    burst = threading.Thread(target=quiet_exchange.firehose, args=(sent, frames), daemon=True)
    burst.start()
    harness.defer(lambda: burst.join(10.0))

    def lost() -> int:
        return sum(e.dropped for e in sink.events_of(us.DataLoss))

    assert sink.wait(lambda: len(sink.messages) - before + lost() >= sent, timeout=40.0), (
        f"sent {sent}, delivered {len(sink.messages) - before}, reported lost {lost()}"
    )
    assert lost() == 0 and sub.dropped == 0
    assert not sink.events_of(us.Disconnected) and not sink.events_of(us.Reconnected)
    assert quiet_exchange.connections_opened == 1
    assert manager.health()["connections"]["public"]["reconnects"] == 0


def test_a_message_larger_than_the_whole_byte_budget_costs_no_neighbour(harness, quiet_exchange):
    """With a worker's budget at 128 KiB (300 trades take 90 kB), a 200 kB trade arrives while the
    worker holds earlier ones:
    no eviction can make room for it, so none happens; it is dropped and reported on its own, and
    every good message around it, and the bad frames' count, are what was sent."""
    gate = threading.Event()
    sink = Sink(hook=lambda message: gate.wait(10.0))
    harness.defer(gate.set)
    manager, sub = _subscribed(harness, quiet_exchange, sink, queue_bytes=128 * 1024, queue_size=10_000,
                               overflow="drop_oldest")
    frames, _ = trade_frames([CODE], 300)
    simulator = MarketSimulator(5)
    huge = simulator.make("trade", CODE, "REALTIME")
    huge["junk"] = "x" * 200_000  # a key the SDK does not know: the frame goes the careful way
    bad = b'{"ty":"trade","cd":"KRW-BTC","tp":"not a number"' * 3  # not JSON at all
    burst = [*frames[:150], *[bad] * 100, encode(huge, "SIMPLE"), *[bad] * 100, *frames[150:]]
    bad_before = manager.health()["connections"]["public"]["bad_frames"]
    before = len(sink.messages)
    assert quiet_exchange.firehose(len(burst), burst) == len(burst)
    assert wait_until(lambda: manager.health()["connections"]["public"]["bad_frames"] - bad_before == 200,
                      timeout=10.0)
    gate.set()
    assert sink.wait(lambda: len(sink.messages) - before + sub.dropped >= 301, timeout=10.0)
    good = [m for m in sink.messages[before:] if "junk" not in m.raw]
    assert len(good) == 300, f"{300 - len(good)} good messages lost beside the oversized one"
    assert sub.dropped <= 1
    assert len(sink.messages) - before + sub.dropped == 301
