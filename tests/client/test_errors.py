"""What the application is told when something fails, and that it is told every time (issue 8):
errors are UpbitErrors, waits end with the reason, raising callbacks and bad frames are visible."""

from __future__ import annotations

import gc
import logging
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import upbit_sync as us
from tests.client.conftest import Sink, public_conn, served
from tests.support import wait_until
from upbit_sync import client_core
from upbit_sync.testing import TEST_ACCESS_KEY, encode

BTC, ETH = "KRW-BTC", "KRW-ETH"
REPO = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---- waits end with the reason -------------------------------------------------------------------


def test_a_stream_timeout_is_an_upbit_error_and_a_timeout_error(harness, quiet_exchange):
    client = harness.client(harness.manager(quiet_exchange))
    with pytest.raises(us.StreamTimeout) as caught:
        for _ in client.stream("trade", [BTC], timeout=0.3, snapshot=False):
            pass
    assert isinstance(caught.value, TimeoutError) and isinstance(caught.value, us.UpbitError)


def test_a_stream_on_a_connection_that_cannot_connect_ends_with_the_connect_error(harness, exchange):
    manager = harness.manager(exchange, public_url=f"ws://127.0.0.1:{_closed_port()}/websocket/v1")
    client = harness.client(manager)
    with pytest.raises(us.ConnectError) as caught:
        for _ in client.stream("trade", [BTC], timeout=0.5):
            pass
    assert caught.value.connection == "public" and "Refused" in str(caught.value)


def test_a_private_stream_whose_keys_are_refused_ends_with_the_authentication_error(harness, exchange):
    manager = harness.manager(exchange, access_key=TEST_ACCESS_KEY, secret_key="x" * 40,
                              reconnect_max_delay=5.0)
    client = harness.client(manager)
    started = time.monotonic()
    with pytest.raises(us.AuthenticationError) as caught:
        for _ in client.stream("myOrder", None, timeout=10.0):
            pass
    assert time.monotonic() - started < 5.0, "the stream waited for its timeout"
    assert caught.value.connection == "private"
    assert "x" * 40 not in str(caught.value)
    assert client.subscriptions == []


def test_snapshot_of_an_exchange_that_cannot_be_reached_raises_connect_error(harness, exchange):
    manager = harness.manager(exchange, start=False,
                              public_url=f"ws://127.0.0.1:{_closed_port()}/websocket/v1")
    with pytest.raises(us.ConnectError):
        harness.client(manager).snapshot("ticker", [BTC], timeout=2.0)


def test_snapshot_refused_with_429_raises_rate_limit_error(harness, exchange):
    client = harness.client(harness.manager(exchange, start=False))
    exchange.refuse_next(1, status=429)
    with pytest.raises(us.RateLimitError) as caught:
        client.snapshot("ticker", [BTC], timeout=2.0)
    assert caught.value.status == 429


def test_snapshot_names_the_codes_that_got_nothing(harness, exchange, caplog):
    client = harness.client(harness.manager(exchange, start=False))
    caplog.set_level(logging.WARNING, logger="upbit_sync")
    result = client.snapshot("ticker", [BTC, "KRW-NOPE"], timeout=1.0)
    assert set(result) == {BTC} and result.missing == ("KRW-NOPE",)
    assert any("KRW-NOPE" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("call", [
    lambda c: c.stream("trade", [BTC], timeout=-1.0),
    lambda c: c.snapshot("ticker", [BTC], timeout=-0.5),
    lambda c: c.snapshot("ticker", [BTC], timeout=float("nan")),
    lambda c: c.list_subscriptions(timeout=-1),
], ids=["stream", "snapshot", "snapshot-nan", "list_subscriptions"])
def test_a_negative_timeout_is_refused_naming_it(harness, exchange, call):
    client = harness.client(harness.manager(exchange, start=False))
    with pytest.raises(us.ConfigError, match="timeout"):
        call(client)


@pytest.mark.parametrize("call", [
    lambda c: c.subscribe("ticker", [BTC], Sink()),
    lambda c: c.unsubscribe("ticker", [BTC]),
    lambda c: c.stream("trade", [BTC], timeout=1.0),
    lambda c: c.snapshot("ticker", [BTC], timeout=1.0),
    lambda c: c.list_subscriptions(timeout=1.0),
], ids=["subscribe", "unsubscribe", "stream", "snapshot", "list_subscriptions"])
def test_every_method_of_a_closed_client_raises_closed_error(harness, exchange, manager, call):
    client = harness.client(manager)
    client.close()
    with pytest.raises(us.ClosedError):
        call(client)


# ---- raising callbacks and bad frames ------------------------------------------------------------


def _raising(exc_type: type[Exception] = ZeroDivisionError) -> Sink:
    def fail(message: Any) -> None:
        raise exc_type("the callback failed")
    return Sink(hook=fail)


def test_a_raising_callback_without_on_error_is_logged_once_with_its_traceback_then_counted(
    harness, exchange, caplog, monkeypatch,
):
    monkeypatch.setattr(client_core, "ERROR_LOG_INTERVAL", 0.5)
    caplog.set_level(logging.DEBUG, logger="upbit_sync")
    client = harness.client(harness.manager(exchange))
    sink = _raising()
    client.subscribe("ticker", [BTC], sink)
    assert sink.wait(lambda: len(sink.messages) >= 3)

    def records() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.levelno == logging.ERROR and "callback" in r.getMessage()]

    assert wait_until(lambda: len(records()) >= 2, timeout=5.0)
    first, second = records()[:2]
    assert first.exc_info is not None and first.exc_info[0] is ZeroDivisionError
    assert "more failure" in second.getMessage()
    assert len(records()) < len(sink.messages), "every failure got its own line"


def test_a_raising_callback_with_on_error_goes_there_and_not_to_the_error_log(harness, exchange, caplog):
    caplog.set_level(logging.DEBUG, logger="upbit_sync")
    sink = _raising()
    errors = Sink()
    client = harness.client(harness.manager(exchange), on_error=errors.on_error)
    client.subscribe("ticker", [BTC], sink)
    assert errors.wait(lambda: len(errors.errors) >= 3)
    assert all(isinstance(e, ZeroDivisionError) for e in errors.errors)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_an_on_error_that_raises_is_logged_not_lost(harness, exchange, caplog):
    caplog.set_level(logging.ERROR, logger="upbit_sync")

    def broken_on_error(error: BaseException) -> None:
        raise RuntimeError("on_error is broken too")

    client = harness.client(harness.manager(exchange), on_error=broken_on_error)
    client.subscribe("ticker", [BTC], _raising())
    assert wait_until(lambda: any("on_error" in r.getMessage() for r in caplog.records))


def test_without_any_logging_setup_a_raising_callback_still_reaches_stderr(exchange):
    """The package adds no handler, so Python's last-resort handler shows WARNING and ERROR."""
    script = textwrap.dedent(f"""
        import threading, upbit_sync as us
        failed = threading.Event()
        def callback(ticker):
            failed.set()
            raise ZeroDivisionError("on purpose")
        with us.WebSocketManager(us.Config(public_url={exchange.public_url!r})) as manager:
            with us.WebSocketClient(manager) as client:
                client.subscribe("ticker", ["KRW-BTC"], callback)
                assert failed.wait(10)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPBIT_")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "ZeroDivisionError: on purpose" in done.stderr and "Traceback" in done.stderr


def test_a_malformed_message_is_a_bad_frame_not_a_callback_error(harness, quiet_exchange):
    manager = harness.manager(quiet_exchange)
    sink = Sink()
    client = harness.client(manager, sink)
    client.subscribe("ticker", [BTC], sink)
    assert sink.wait(lambda: sink.messages), "no snapshot"
    broken = encode({"type": "ticker", "code": BTC, "stream_type": "REALTIME"}, "SIMPLE")  # no prices
    quiet_exchange.send_raw(broken)
    assert wait_until(lambda: manager.health()["connections"]["public"]["bad_frames"] == 1)
    assert len(sink.messages) == 1 and not sink.errors
    assert manager.health()["dispatcher"]["callback_errors"] == 0


# ---- things that happen to a client --------------------------------------------------------------


def test_a_client_collected_with_active_subscriptions_says_so(harness, exchange, manager, caplog):
    caplog.set_level(logging.WARNING, logger="upbit_sync")
    client = us.WebSocketClient(manager)
    client.subscribe("ticker", [BTC], Sink())
    assert wait_until(lambda: served(exchange, "ticker") == {BTC})
    del client
    gc.collect()
    (warning,) = [r for r in caplog.records if "garbage-collected" in r.getMessage()]
    assert "ticker" in warning.getMessage() and BTC in warning.getMessage()
    assert wait_until(lambda: not served(exchange, "ticker"))


def test_a_closed_client_is_not_reported_as_collected(harness, exchange, manager, caplog):
    caplog.set_level(logging.WARNING, logger="upbit_sync")
    client = us.WebSocketClient(manager)
    client.subscribe("ticker", [BTC], Sink())
    client.close()
    del client
    gc.collect()
    assert not [r for r in caplog.records if "garbage-collected" in r.getMessage()]


def test_a_stream_keeps_its_client_alive(harness, exchange, manager):
    stream = us.WebSocketClient(manager).stream("ticker", [BTC], timeout=5.0)
    gc.collect()
    assert isinstance(next(stream), us.Ticker)
    stream.close()


def test_a_subscribed_code_that_gets_no_snapshot_is_named_in_a_warning(harness, exchange, caplog):
    caplog.set_level(logging.WARNING, logger="upbit_sync")
    manager = harness.manager(exchange, snapshot_grace=0.5)
    sink = Sink()
    harness.client(manager).subscribe("ticker", [BTC, "KRW-NOPE"], sink)
    assert sink.wait(lambda: sink.messages)
    public_conn(exchange)

    def warnings() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "KRW-NOPE" in r.getMessage()]

    assert wait_until(lambda: warnings(), timeout=3.0)
    (warning,) = warnings()
    assert warning.levelno == logging.WARNING and BTC not in warning.getMessage()
    # said once, not again at every request
    harness.client(manager).subscribe("trade", [BTC], Sink())
    assert not wait_until(lambda: len(warnings()) > 1, timeout=1.0)
