"""Start, stop and leaks: stop() is prompt, final, idempotent and leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.engine.conftest import fast_config
from tests.support import upbit_threads, wait_until
from upbit_sync import ConfigError
from upbit_sync.manager import WebSocketManager, port_of
from upbit_sync.protocol import make_spec
from upbit_sync.types import Connected, Reconnected

REPO = Path(__file__).resolve().parents[2]


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_listener_receives_decoded_messages_with_default_keys(manager, recorder):
    port_of(manager).set_wanted("public", [make_spec("ticker", ["KRW-BTC"])])
    assert recorder.wait(lambda: recorder.count(type="ticker", code="KRW-BTC") >= 2)
    connection, item = recorder.items[0]
    assert connection == "public" and "trade_price" in item and "tp" not in item
    assert recorder.events_of(Connected)


def test_stop_from_another_thread_while_reconnecting_returns_quickly(exchange):
    exchange.refuse_next(1000, status=429)
    manager = WebSocketManager(fast_config(exchange))
    manager.start()
    assert wait_until(lambda: len(exchange.connect_attempts) >= 3)
    took: list[float] = []

    def stopper() -> None:
        started = time.monotonic()
        manager.stop()
        took.append(time.monotonic() - started)

    thread = threading.Thread(target=stopper, daemon=True)
    thread.start()
    thread.join(5)
    assert took and took[0] < 2.0
    assert wait_until(lambda: not upbit_threads() or all(t.startswith("upbit-fake") for t in upbit_threads()))
    attempts = len(exchange.connect_attempts)
    manager.stop()  # a second stop is harmless
    assert not wait_until(lambda: len(exchange.connect_attempts) > attempts, timeout=0.5)


def test_stop_is_final_until_start(manager, exchange, recorder):
    port_of(manager).set_wanted("public", [make_spec("ticker", ["KRW-BTC"])])
    assert recorder.wait(lambda: recorder.items)
    manager.stop()
    assert wait_until(lambda: not exchange.open_connections())
    assert not manager.running
    manager.start()
    assert wait_until(lambda: any(c.subscriptions for c in exchange.open_connections()))


def test_twenty_drop_cycles_leak_no_thread_and_no_socket(exchange, recorder):
    # Staleness is set well apart from the drops: on a loaded machine a 0.8 s silence can happen
    # between two cycles, and its extra reconnect would spoil the exact count.
    # Each socket is dropped a moment after it opens, so each reconnect counts as a flap and backs
    # off: short delays keep the twenty cycles about leaks, not about waiting.
    manager = WebSocketManager(fast_config(exchange, stale_after=5.0, reconnect_delay=0.02,
                                           reconnect_max_delay=0.05))
    port_of(manager).add_listener(recorder)
    exchange.message_rate = 100.0  # and the data each cycle waits for comes soon after the reconnect
    manager.start()
    try:
        port_of(manager).set_wanted("public", [make_spec("ticker", ["KRW-BTC"])])
        assert recorder.wait(lambda: recorder.items)
        threads_before, fds_before = threading.active_count(), _open_fds()
        for cycle in range(20):
            seen = len(recorder.items)
            exchange.drop_all()
            opened = cycle + 2
            assert wait_until(lambda n=opened: exchange.connections_opened >= n), f"cycle {cycle}"
            assert recorder.wait(lambda n=seen: len(recorder.items) > n + 1), f"no data in {cycle}"
        assert len(recorder.events_of(Reconnected)) == 20
        assert wait_until(lambda: threading.active_count() <= threads_before, timeout=3.0), (
            [t.name for t in threading.enumerate()]
        )
        assert wait_until(lambda: _open_fds() <= fds_before, timeout=3.0)
    finally:
        manager.stop()


def test_get_instance_is_process_wide_and_refuses_another_config():
    first = WebSocketManager.get_instance()
    try:
        assert WebSocketManager.get_instance() is first
        with pytest.raises(ConfigError):
            WebSocketManager.get_instance(fast_config(stale_after=5.0))
    finally:
        WebSocketManager._instance = None


def test_health_reports_each_connection(manager, recorder):
    port_of(manager).set_wanted("public", [make_spec("ticker", ["KRW-BTC", "KRW-ETH"])])
    assert recorder.wait(lambda: recorder.items)
    assert wait_until(lambda: manager.health()["connections"]["public"]["in_sync"])
    report = manager.health()
    public = report["connections"]["public"]
    assert report["healthy"] and report["running"]
    assert public["state"] == "OPEN" and public["subscriptions"] == 2
    assert public["messages"] > 0 and public["last_message_age_s"] < 1.0
    assert (public["queue_depth"], public["drops"]) == (0, 0)  # a listener only: nothing queued


SCRIPT = textwrap.dedent(
    """
    import sys, time
    from upbit_sync import Config
    from upbit_sync.manager import WebSocketManager, port_of
    from upbit_sync.protocol import make_spec
    from upbit_sync.testing import FakeUpbitServer

    with FakeUpbitServer() as exchange:
        manager = WebSocketManager(Config(public_url=exchange.public_url, reconnect_delay=0.05))
        manager.start()
        port_of(manager).set_wanted("public", [make_spec("ticker", ["KRW-BTC"])])
        deadline = time.monotonic() + 5
        while not exchange.open_connections() and time.monotonic() < deadline:
            time.sleep(0.01)
        if sys.argv[1] == "stop-while-reconnecting":
            exchange.refuse_next(1000)
            exchange.drop_all()
            time.sleep(0.2)
            manager.stop()
    print("done")
    """
)


@pytest.mark.parametrize("mode", ["forget-to-stop", "stop-while-reconnecting"])
def test_process_exits_without_hanging(mode):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=20, env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "done" in result.stdout
