"""Rules the live exchange enforces that a loopback test would not notice by itself (issue 8)."""

from __future__ import annotations

import upbit_sync as us
from tests.client.conftest import Sink, public_conn
from tests.support import wait_until
from upbit_sync.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY


def test_no_upgrade_the_sdk_makes_carries_an_origin_header(harness, exchange):
    """Upbit holds upgrades carrying Origin to one per 10 s (the fake enforces it): websocket-client
    adds one unless told not to, on every path: the socket threads, snapshot(), reconnects."""
    assert exchange.origin_limit
    manager = harness.manager(exchange, access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY)
    sink = Sink()
    client = harness.client(manager, sink)
    client.subscribe("ticker", ["KRW-BTC"], sink)
    client.subscribe("myOrder", None, Sink())
    assert wait_until(lambda: any(c.is_private and c.subscriptions for c in exchange.open_connections()))
    assert client.snapshot("ticker", ["KRW-ETH"], timeout=3.0)
    public_conn(exchange)
    for _ in range(2):  # reconnects come within a second: each would be refused with an Origin
        target = exchange.connections_opened + 2
        exchange.drop_all()
        assert wait_until(lambda t=target: exchange.connections_opened >= t, timeout=5.0)
    attempts = exchange.connect_attempts
    assert len(attempts) >= 7
    assert [a for a in attempts if a.header("Origin") is not None] == []
    assert not [a for a in attempts if a.reason == "origin limit"]
    assert not [e for e in sink.errors if isinstance(e, us.UpbitError)]
