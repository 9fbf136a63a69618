"""A password inside a WebSocket URL never reaches a log line, a repr, an event or the health report
(issue 18 §5): the connection to the fake exchange is made with it, and only shown masked."""

from __future__ import annotations

import logging

import upbit_sync as us
from tests.engine.conftest import fast_config
from tests.support import EventLog, wait_until
from upbit_sync.manager import WebSocketManager, port_of

PASSWORD = "hunter2-in-the-url"


def test_a_password_in_the_public_url_is_shown_nowhere(exchange, caplog):
    url = exchange.public_url.replace("ws://", f"ws://bot:{PASSWORD}@")
    manager = WebSocketManager(fast_config(exchange, public_url=url))
    log = EventLog()
    client = us.WebSocketClient(manager=manager, on_event=log.on_event, on_error=log.on_error)
    caplog.set_level(logging.DEBUG, logger="upbit_sync")
    try:
        received: list = []
        client.subscribe("ticker", ["KRW-BTC"], received.append)
        assert wait_until(lambda: received, timeout=5.0)
        assert log.wait(lambda: log.events_of(us.Connected))
        (connected,) = log.events_of(us.Connected)
        shown = [connected.url, repr(connected), repr(port_of(manager).link("public").conn),
                 str(manager.health()), repr(manager), repr(manager.config), caplog.text]
        assert all(PASSWORD not in text for text in shown), [t for t in shown if PASSWORD in t]
        assert "bot:****@127.0.0.1" in connected.url
    finally:
        client.close()
        manager.stop()
