"""Starting and stopping the fake, HangingServer, and the pytest plugin's fixture."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import websocket
from websockets.exceptions import ConnectionClosed, InvalidMessage

from upbit_sync.testing import FakeUpbitServer, HangingServer

REPO = Path(__file__).resolve().parents[2]


def fake_threads():
    return [t.name for t in threading.enumerate() if t.name.startswith("upbit-")]


def test_stop_leaves_no_thread_and_no_connection(connect, auth):
    server = FakeUpbitServer(status_interval=0.2).start()
    public = connect(server.public_url)
    public.subscribe({"type": "orderbook", "codes": ["KRW-BTC"]})
    public.ws.send("PING")
    private = connect(server.private_url, header=auth())
    private.subscribe({"type": "myOrder"})
    half_open = socket.create_connection(("127.0.0.1", server.port))  # never sends the upgrade
    public.message()
    assert fake_threads()

    server.stop()

    assert fake_threads() == []
    assert server.open_connections() == []
    public.expect_drop()
    private.expect_drop()
    half_open.settimeout(2)
    try:  # EOF, or a reset when stop() came before the accept
        assert half_open.recv(1024) == b""
    except ConnectionResetError:
        pass
    half_open.close()


def test_stop_releases_the_port(server):
    port = server.port

    server.stop()

    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def test_a_new_server_can_take_over_the_port_of_a_stopped_one(server, make_server, connect):
    port = server.port
    connect(server.public_url)
    assert server.wait_for(lambda: server.open_connections() != [])
    server.stop()

    successor = make_server(port=port)
    session = connect(successor.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})

    assert successor.port == port
    assert session.message()["stream_type"] == "SNAPSHOT"


def test_stop_returns_promptly_while_a_firehose_is_blocked_on_a_client_that_does_not_read(
        server, connect):
    connect(server.public_url)
    assert server.wait_for(lambda: server.open_connections() != [])
    result: list[int] = []
    pump = threading.Thread(target=lambda: result.append(server.firehose(10**8, b"x" * 1000)),
                            daemon=True)
    pump.start()
    assert server.wait_for(lambda: server.connections[0].sent_count > 1000)

    started = time.monotonic()
    server.stop()
    pump.join(5)

    assert time.monotonic() - started < 2.0
    assert not pump.is_alive() and 0 < result[0] < 10**8
    assert fake_threads() == []


def test_stop_is_idempotent_and_works_before_start():
    FakeUpbitServer().stop()
    server = FakeUpbitServer().start()

    server.stop()
    server.stop()

    assert fake_threads() == []


def test_a_server_starts_only_once():
    with FakeUpbitServer() as server, pytest.raises(RuntimeError):
        server.start()


def test_the_context_manager_starts_and_stops(connect):
    with FakeUpbitServer() as server:
        session = connect(server.public_url)
        assert server.wait_for(lambda: server.open_connections() != [])

    session.expect_drop()
    assert fake_threads() == []


def test_threads_are_named_upbit_fake_and_are_daemons(server, connect):
    connect(server.public_url)
    assert server.wait_for(lambda: any("conn" in name for name in fake_threads()))

    ours = [t for t in threading.enumerate() if t.name.startswith("upbit-fake")]

    assert {"upbit-fake-accept", "upbit-fake-sender"} <= {t.name for t in ours}
    assert all(t.daemon for t in ours)


def test_it_listens_on_127_0_0_1_only(server):
    # Bound to 0.0.0.0 it would accept on 127.0.0.2 too (Linux routes all of 127/8 to lo).
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.2", server.port), timeout=1).close()

    assert server.public_url.startswith("ws://127.0.0.1:")


def test_hanging_server_without_handshake_never_answers_the_upgrade():
    with HangingServer("no_handshake") as hanging:
        with pytest.raises((websocket.WebSocketTimeoutException, TimeoutError)):
            websocket.create_connection(hanging.url, timeout=0.3)

        assert hanging.accepted == 1
    assert fake_threads() == []


def test_hanging_server_dead_after_handshake_upgrades_then_never_answers_a_ping():
    with HangingServer("dead_after_handshake") as hanging:
        ws = websocket.create_connection(hanging.url, timeout=2)
        ws.ping(b"hello?")
        ws.settimeout(0.3)

        with pytest.raises(websocket.WebSocketTimeoutException):
            ws.recv_data_frame(control_frame=True)

        assert (hanging.accepted, hanging.handshakes) == (1, 1)
        ws.abort()
        ws.shutdown()
    assert fake_threads() == []


def test_hanging_server_stop_closes_its_clients():
    hanging = HangingServer("dead_after_handshake").start()
    ws = websocket.create_connection(hanging.url, timeout=2)

    hanging.stop()
    hanging.stop()

    with pytest.raises(websocket.WebSocketConnectionClosedException):
        ws.recv()
    ws.shutdown()


def test_hanging_server_rejects_an_unknown_mode():
    with pytest.raises(ValueError):
        HangingServer("sleepy")


def test_the_fake_upbit_fixture_serves_a_running_exchange(fake_upbit, connect):
    session = connect(fake_upbit.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})

    assert session.message()["code"] == "KRW-BTC"


@pytest.mark.parametrize("fake_upbit", [{"auth_failure": "http", "idle_timeout": 9.0}],
                         indirect=True)
def test_the_fake_upbit_fixture_takes_options_by_indirect_parameter(fake_upbit):
    assert (fake_upbit.auth_failure, fake_upbit.idle_timeout) == ("http", 9.0)


def test_the_pytest_plugin_works_in_a_fresh_pytest_run(tmp_path):
    (tmp_path / "test_user_bot.py").write_text(textwrap.dedent("""
        import pytest
        import websocket

        @pytest.mark.fake_upbit(idle_timeout=7.5)
        def test_marker_options(fake_upbit):
            assert fake_upbit.idle_timeout == 7.5
            websocket.create_connection(fake_upbit.public_url, timeout=3).close()

        def test_default_options(fake_upbit):
            assert fake_upbit.connect_limit == 5
    """))
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "upbit_sync.testing.pytest_plugin",
         "-p", "no:cacheprovider", "--strict-markers", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def _hung_up_before_the_request() -> BaseException:
    """What websockets 16 raises for a client that closed its socket before sending its request."""
    error = InvalidMessage("did not receive a valid HTTP request")
    error.__cause__ = EOFError("connection closed while reading HTTP request line")
    return error


@pytest.mark.parametrize("thread_name, shown", [("upbit-fake-conn-99", False),
                                                 ("someone-elses-server", True)])
@pytest.mark.parametrize("make_error", [lambda: ConnectionClosed(None, None), _hung_up_before_the_request],
                         ids=["closed mid-handshake", "closed before the request"])
def test_a_client_hanging_up_during_the_handshake_is_not_an_error_of_the_fake(
    caplog: pytest.LogCaptureFixture, thread_name: str, shown: bool, make_error: Any
) -> None:
    """A client stopped while it connects hangs up mid-handshake; websockets logs that at ERROR with a
    traceback, which on the fake's own threads is routine and kept out of sight."""
    def log_it() -> None:
        error = make_error()
        logging.getLogger("websockets.server").error(
            "opening handshake failed", exc_info=(type(error), error, None))

    thread = threading.Thread(target=log_it, name=thread_name, daemon=True)
    thread.start()
    thread.join(5)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert bool(errors) is shown
