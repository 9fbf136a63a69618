"""Peers that misbehave below the WebSocket protocol: a handshake that never ends, a dead peer."""

from __future__ import annotations

import time

from tests.engine.conftest import fast_config
from tests.support import Recorder, wait_until
from upbit_sync.manager import WebSocketManager, port_of
from upbit_sync.protocol import make_spec
from upbit_sync.testing import HangingServer
from upbit_sync.types import Disconnected


def test_handshake_that_never_ends_is_abandoned_and_retried():
    with HangingServer(mode="no_handshake") as hanging:
        manager = WebSocketManager(fast_config(public_url=hanging.url, connect_timeout=0.4))
        manager.start()
        try:
            assert wait_until(lambda: hanging.accepted >= 3, timeout=6.0)
            state = manager.health()["connections"]["public"]
            assert state["state"] != "OPEN" and state["connect_attempts"] >= 3
        finally:
            started = time.monotonic()
            manager.stop()
            assert time.monotonic() - started < 2.0


def test_dead_peer_is_detected_and_the_connection_replaced():
    with HangingServer(mode="dead_after_handshake") as dead:
        recorder = Recorder()
        config = fast_config(public_url=dead.url, ping_interval=0.4, ping_timeout=0.2, stale_after=1.0)
        manager = WebSocketManager(config)
        port_of(manager).add_listener(recorder)
        with manager:
            port_of(manager).set_wanted("public", [make_spec("ticker", ["KRW-BTC"])])
            assert recorder.wait(lambda: recorder.events_of(Disconnected), timeout=6.0)
            assert wait_until(lambda: dead.accepted >= 2, timeout=4.0)
