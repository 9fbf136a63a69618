"""The private connection: JWT on every connect, events flow, refused keys never cause a storm."""

from __future__ import annotations

import pytest

from tests.engine.conftest import fast_config
from tests.support import Recorder, wait_until
from upbit_sync import AuthenticationError
from upbit_sync.manager import WebSocketManager, port_of
from upbit_sync.protocol import make_spec
from upbit_sync.testing import TEST_ACCESS_KEY, FakeUpbitServer


def test_private_connection_opens_only_when_a_private_stream_is_wanted(private_manager, exchange):
    assert wait_until(lambda: exchange.connections_opened == 1)
    assert not any(c.is_private for c in exchange.connections)
    port_of(private_manager).set_wanted("private", [make_spec("myOrder")])
    assert wait_until(lambda: any(c.is_private and c.subscriptions for c in exchange.open_connections()))


def test_valid_keys_receive_my_order_events(private_manager, exchange, recorder):
    port_of(private_manager).set_wanted("private", [make_spec("myOrder"), make_spec("myAsset")])
    assert wait_until(lambda: any(c.is_private and c.subscriptions for c in exchange.open_connections()))
    sent = exchange.emit_my_order(code="KRW-BTC", state="done")
    exchange.emit_my_asset()
    assert recorder.wait(lambda: recorder.count(type="myOrder") and recorder.count(type="myAsset"))
    (connection, order) = next((c, i) for c, i in recorder.items if i["type"] == "myOrder")
    assert connection == "private"
    assert order["uuid"] == sent["uuid"] and order["state"] == "done"
    (conn,) = [c for c in exchange.connections if c.is_private]
    assert conn.authorized_access_key == TEST_ACCESS_KEY


def test_each_connect_carries_a_fresh_token(private_manager, exchange):
    port_of(private_manager).set_wanted("private", [make_spec("myOrder")])
    assert wait_until(lambda: any(c.is_private and c.subscriptions for c in exchange.open_connections()))
    exchange.drop_all()
    # the fake rejects a reused nonce, so a second authorised private connection proves a new token
    assert wait_until(
        lambda: len([c for c in exchange.connections if c.is_private and c.authorized_access_key]) == 2
        and any(c.is_private and c.subscriptions for c in exchange.open_connections())
    )


def test_private_stream_without_keys_raises_at_once(manager):
    with pytest.raises(AuthenticationError, match="access_key"):
        port_of(manager).set_wanted("private", [make_spec("myOrder")])


@pytest.mark.parametrize("auth_failure", ["frame", "http"])
def test_wrong_secret_fails_without_a_reconnect_storm(auth_failure):
    with FakeUpbitServer(auth_failure=auth_failure) as exchange:
        recorder = Recorder()
        config = fast_config(exchange, access_key=TEST_ACCESS_KEY, secret_key="x" * 40,
                             reconnect_max_delay=5.0)
        manager = WebSocketManager(config)
        port_of(manager).add_listener(recorder)
        with manager:
            port_of(manager).set_wanted("private", [make_spec("myOrder")])
            assert recorder.wait(lambda: recorder.errors, timeout=5.0)
            assert isinstance(recorder.errors[0], AuthenticationError)
            assert "x" * 40 not in str(recorder.errors[0])
            assert wait_until(lambda: manager.health()["connections"]["private"]["state"] == "FAILED")
            # retried no more often than reconnect_max_delay (5 s): at most 2 attempts in 10 s
            assert not wait_until(
                lambda: len([a for a in exchange.connect_attempts if "private" in a.path]) > 1,
                timeout=3.0,
            )
            assert manager.health()["connections"]["public"]["state"] == "OPEN"
