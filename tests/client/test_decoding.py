"""Frames decoded straight into typed messages (protocol.typed_decoder), end to end through the fake
exchange: field types are checked, a key the SDK does not know is kept, raw dicts say everything."""

from __future__ import annotations

import logging
from typing import Any

import upbit_sync as us
from tests.client.conftest import Sink
from tests.support import wait_until
from upbit_sync.testing import MarketSimulator, encode

BTC = "KRW-BTC"


def _ticker(**changes: Any) -> dict[str, Any]:
    message = MarketSimulator(seed=5).make("ticker", BTC)
    message.update(stream_type="REALTIME", change="RISE", **changes)
    return message


def _subscribed(harness: Any, server: Any, raw: bool = False) -> tuple[us.WebSocketManager, Sink]:
    manager = harness.manager(server)
    sink = Sink()
    harness.client(manager, sink).subscribe("ticker", [BTC], sink, raw=raw)
    assert sink.wait(lambda: sink.messages), "no snapshot"
    return manager, sink


def test_a_frame_off_the_wire_is_a_ticker_of_the_public_class(harness, quiet_exchange):
    _, sink = _subscribed(harness, quiet_exchange)
    quiet_exchange.send_raw(encode(_ticker(trade_price=123.5), "SIMPLE"))
    assert sink.wait(lambda: len(sink) == 2)
    ticker = sink.messages[1]
    assert type(ticker) is us.Ticker and ticker.trade_price == 123.5 and ticker.change is us.Change.RISE
    assert ticker.received_at > 0 and ticker.raw["received_at"] == ticker.received_at
    assert ticker.raw["trade_price"] == 123.5 and ticker.raw["type"] == "ticker"


def test_a_string_where_a_number_belongs_is_a_bad_frame_and_the_stream_goes_on(harness, quiet_exchange,
                                                                                caplog):
    caplog.set_level(logging.WARNING, logger="upbit_sync")
    manager, sink = _subscribed(harness, quiet_exchange)
    quiet_exchange.send_raw(encode(_ticker(trade_price="123.5"), "SIMPLE"))
    quiet_exchange.send_raw(encode(_ticker(trade_price=124.0), "SIMPLE"))
    assert sink.wait(lambda: len(sink) == 2)
    assert sink.messages[1].trade_price == 124.0  # the bad one was never delivered
    assert wait_until(lambda: manager.health()["connections"]["public"]["bad_frames"] == 1)
    assert not sink.errors
    (record,) = [r for r in caplog.records if "bad frame" in r.getMessage()]
    assert "Expected `float | null`, got `str` - at `$.trade_price`" in record.getMessage()


def test_a_key_the_sdk_does_not_know_is_kept_in_raw_and_said_once(harness, quiet_exchange, caplog):
    caplog.set_level(logging.INFO, logger="upbit_sync")
    _, sink = _subscribed(harness, quiet_exchange)
    for price in (1.0, 2.0):
        quiet_exchange.send_raw(encode(_ticker(trade_price=price, brand_new_field=[1, 2]), "SIMPLE"))
    assert sink.wait(lambda: len(sink) == 3)
    for ticker, price in zip(sink.messages[1:], (1.0, 2.0), strict=True):
        assert type(ticker) is us.Ticker and ticker.trade_price == price
        assert ticker.raw["brand_new_field"] == [1, 2] and ticker.raw["trade_price"] == price
    said = [r for r in caplog.records if "brand_new_field" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.INFO


def test_an_enum_value_new_to_the_sdk_arrives_as_its_string(harness, quiet_exchange):
    _, sink = _subscribed(harness, quiet_exchange)
    quiet_exchange.send_raw(encode(_ticker(market_warning="DANGER"), "SIMPLE"))
    assert sink.wait(lambda: len(sink) == 2)
    ticker = sink.messages[1]
    assert type(ticker) is us.Ticker and ticker.market_warning == "DANGER"
    assert ticker.change is us.Change.RISE  # the values it knows are still members


def test_raw_subscribers_get_default_keys_with_the_receipt_time(harness, quiet_exchange):
    _, sink = _subscribed(harness, quiet_exchange, raw=True)
    quiet_exchange.send_raw(encode(_ticker(trade_price=99.0), "SIMPLE"))
    assert sink.wait(lambda: len(sink) == 2)
    raw = sink.messages[1]
    assert type(raw) is dict and raw["type"] == "ticker" and raw["code"] == BTC
    assert raw["trade_price"] == 99.0 and raw["received_at"] > 0 and "tp" not in raw
    assert raw["change"] == "RISE"


def test_two_raw_subscribers_get_dicts_of_their_own(harness, quiet_exchange):
    manager = harness.manager(quiet_exchange)
    first, second = Sink(), Sink()
    client = harness.client(manager, first)
    client.subscribe("ticker", [BTC], first, raw=True)
    client.subscribe("ticker", [BTC], second, raw=True)
    assert first.wait(lambda: first.messages) and second.wait(lambda: second.messages)
    first.messages[0]["trade_price"] = -1.0  # one subscriber's change is not the other's
    assert second.messages[0]["trade_price"] != -1.0
