"""Recovery: every end nobody asked for brings the connection back with exactly what it carried."""

from __future__ import annotations

import pytest

from tests.support import Recorder, wait_until
from upbit_sync.manager import WebSocketManager, port_of
from upbit_sync.protocol import make_spec
from upbit_sync.testing import FakeUpbitServer
from upbit_sync.types import Disconnected, Reconnected, ServerError

SPECS = [
    make_spec("ticker", ["KRW-BTC", "KRW-ETH"]),
    make_spec("trade", ["KRW-BTC"]),
    make_spec("orderbook", ["KRW-BTC"], depth=5),
]


def _objects(payload: list[dict]) -> list[dict]:
    """A request without its ticket: what it asks for."""
    return [obj for obj in payload if "ticket" not in obj]


def _subscribed(manager: WebSocketManager, exchange: FakeUpbitServer, recorder: Recorder):
    port_of(manager).set_wanted("public", SPECS)
    assert recorder.wait(lambda: recorder.count(type="orderbook") and recorder.count(code="KRW-ETH"))
    (first,) = exchange.open_connections()
    return first


def _replacement(exchange: FakeUpbitServer, old_id: int):
    assert wait_until(lambda: any(c.id != old_id and c.subscriptions for c in exchange.open_connections()))
    return next(c for c in exchange.open_connections() if c.id != old_id)


def _data_flows_again(recorder: Recorder) -> None:
    seen = len(recorder.items)
    assert recorder.wait(lambda: len(recorder.items) >= seen + 5), "no data after the reconnect"


def test_abrupt_drop_reconnects_and_resends_the_same_merged_set(manager, exchange, recorder):
    first = _subscribed(manager, exchange, recorder)
    exchange.drop_all()
    second = _replacement(exchange, first.id)
    assert second.subscriptions == first.subscriptions
    data_requests = [r.payload for r in second.requests if isinstance(r.payload, list)]
    assert _objects(data_requests[0]) == _objects(first.requests[0].payload)
    _data_flows_again(recorder)
    assert recorder.wait(lambda: recorder.events_of(Reconnected))
    assert recorder.events_of(Disconnected)


@pytest.mark.parametrize("code", [1000, 1001])
def test_clean_server_close_is_recovered(manager, exchange, recorder, code):
    first = _subscribed(manager, exchange, recorder)
    exchange.close_all(code)
    second = _replacement(exchange, first.id)
    assert second.subscriptions == first.subscriptions
    _data_flows_again(recorder)
    (disconnected,) = recorder.events_of(Disconnected)
    assert disconnected.code == code


def test_silent_server_is_detected_by_staleness_and_recovered(manager, exchange, recorder):
    first = _subscribed(manager, exchange, recorder)
    exchange.silence(True)
    assert recorder.wait(lambda: recorder.events_of(Disconnected), timeout=5.0)
    assert "no data" in manager.health()["connections"]["public"]["last_error"]
    exchange.silence(False)
    second = _replacement(exchange, first.id)
    assert second.subscriptions == first.subscriptions
    _data_flows_again(recorder)


def test_server_error_frame_is_reported_and_the_connection_recovered(manager, exchange, recorder):
    first = _subscribed(manager, exchange, recorder)
    port_of(manager).link("public").conn.send("this is not a request")  # a broken request on purpose
    assert recorder.wait(lambda: recorder.events_of(ServerError))
    assert recorder.events_of(ServerError)[0].name == "WRONG_FORMAT"
    second = _replacement(exchange, first.id)
    assert second.subscriptions == first.subscriptions
    _data_flows_again(recorder)


def test_bad_frame_is_counted_and_the_stream_goes_on(manager, exchange, recorder):
    _subscribed(manager, exchange, recorder)
    exchange.send_raw(b"{not json")
    exchange.send_raw(b'{"neither":"type nor status"}')
    assert wait_until(lambda: manager.health()["connections"]["public"]["bad_frames"] == 2)
    _data_flows_again(recorder)
    assert exchange.connections_opened == 1
