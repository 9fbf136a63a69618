"""No thread of the SDK dies quietly, and nothing is started before a refusal (issue 18 §6): a failure
injected into each loop reaches on_error (an InternalError naming the thread) and the log, the loop
carries on, and the manager's report counts it."""

from __future__ import annotations

import struct

import pytest

import upbit_sync as us
from tests.engine.conftest import fast_config
from tests.support import EventLog, wait_until
from upbit_sync import connection as connection_module
from upbit_sync.dispatch import Dispatcher
from upbit_sync.link import Link
from upbit_sync.manager import WebSocketManager

CODE = "KRW-BTC"


def _once(original, error: BaseException):
    """``original``, except that its first call raises ``error``."""
    calls = []

    def patched(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise error
        return original(*args, **kwargs)

    patched.calls = calls
    return patched


@pytest.fixture
def running(exchange):
    manager = WebSocketManager(fast_config(exchange))
    log = EventLog()
    client = us.WebSocketClient(manager=manager, on_error=log.on_error, on_event=log.on_event)
    received: list = []
    yield manager, client, log, received
    client.close()
    manager.stop()


def _flowing(received: list, timeout: float = 5.0) -> bool:
    count = len(received)
    return wait_until(lambda: len(received) > count + 2, timeout=timeout)


def _internal(log: EventLog, thread: str) -> list[us.InternalError]:
    return [e for e in log.errors if isinstance(e, us.InternalError) and e.thread.startswith(thread)]


def test_a_failure_in_the_watchdog_loop_is_reported_and_the_watchdog_carries_on(running, exchange,
                                                                                 monkeypatch):
    manager, client, log, received = running
    monkeypatch.setattr(Link, "check_stale", _once(Link.check_stale, RuntimeError("injected")))
    client.subscribe("ticker", [CODE], received.append)
    assert log.wait(lambda: _internal(log, "upbit-watchdog"))
    (error,) = _internal(log, "upbit-watchdog")
    assert isinstance(error.__cause__, RuntimeError) and "injected" in str(error)
    assert manager.health()["internal_errors"] == {"upbit-watchdog": 1}
    # still supervising: a dropped connection is brought back
    assert _flowing(received)
    exchange.drop_all()
    assert log.wait(lambda: log.events_of(us.Reconnected), timeout=5.0)


def test_a_failure_in_a_worker_loop_is_reported_and_the_worker_carries_on(running, monkeypatch):
    manager, client, log, received = running
    monkeypatch.setattr(Dispatcher, "_process", _once(Dispatcher._process, RuntimeError("injected")))
    client.subscribe("ticker", [CODE], received.append)
    assert log.wait(lambda: _internal(log, "upbit-worker"))
    assert _flowing(received), "the worker stopped delivering"
    assert sum(manager.health()["internal_errors"].values()) == 1


def test_a_failure_before_a_connect_ends_that_attempt_and_the_next_one_connects(running, monkeypatch):
    _, client, log, received = running
    monkeypatch.setattr(connection_module, "_timeval",
                        _once(connection_module._timeval, struct.error("injected")))
    client.subscribe("ticker", [CODE], received.append)
    assert _flowing(received), "the connection never came up after a failed attempt"
    assert log.wait(lambda: any("injected" in str(e) for e in log.errors)), log.errors


def test_a_failure_while_a_link_handles_an_end_is_reported_and_the_link_reconnects(running, exchange,
                                                                                  monkeypatch):
    _, client, log, received = running
    client.subscribe("ticker", [CODE], received.append)
    assert _flowing(received)
    monkeypatch.setattr(Link, "_ending", _once(Link._ending, RuntimeError("injected")))
    exchange.drop_all()
    assert log.wait(lambda: _internal(log, "upbit-ws-public"))
    assert _flowing(received), "the link stayed down after the failure"


def test_a_private_subscription_without_keys_starts_nothing(exchange):
    manager = WebSocketManager(fast_config(exchange))
    client = us.WebSocketClient(manager=manager)
    try:
        with pytest.raises(us.AuthenticationError):
            client.subscribe("myOrder", None, print)
        with pytest.raises(us.AuthenticationError):
            client.stream("myAsset", None, timeout=1.0)
        assert not manager.running
        assert exchange.connections_opened == 0
    finally:
        client.close()
        manager.stop()


def test_a_failure_that_repeats_every_round_is_told_once_a_second_and_counted_every_time(running,
                                                                                        monkeypatch):
    manager, client, log, received = running

    def always(self, now):
        raise RuntimeError("every round")

    client.subscribe("ticker", [CODE], received.append)
    assert _flowing(received)
    monkeypatch.setattr(Link, "step", always)
    assert wait_until(lambda: manager.health()["internal_errors"].get("upbit-watchdog", 0) >= 12,
                      timeout=5.0)
    told = _internal(log, "upbit-watchdog")
    counted = manager.health()["internal_errors"]["upbit-watchdog"]
    assert 1 <= len(told) < counted
