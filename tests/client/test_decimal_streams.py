"""Config(decimal=True) end to end, against the fake exchange: a client's myOrder and myAsset
callbacks get the exact Decimal of each figure the exchange wrote, in either wire format, while the
same client's ticker stays float."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

import upbit_sync as us
from tests.client.conftest import Sink
from tests.model.test_decimal import (
    ORDER_FIGURES,
    assert_exact_assets,
    assert_exact_order,
    asset_frame,
    order_frame,
)
from tests.support import wait_until
from upbit_sync.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY, FakeUpbitServer

BTC = "KRW-BTC"


def _private_conn(exchange: FakeUpbitServer, types: set[str]) -> Any:
    """The open private connection once it carries every type of ``types``."""
    def carrying() -> Any:
        return next((c for c in exchange.open_connections() if c.is_private
                     and types <= {entry["type"] for entry in c.subscriptions}), None)
    assert wait_until(lambda: carrying() is not None), f"no private connection carrying {types}"
    return carrying()


def _decimal_client(harness: Any, exchange: FakeUpbitServer, wire_format: str, decimal: bool = True
                    ) -> Any:
    manager = harness.manager(exchange, access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY,
                              decimal=decimal, wire_format=wire_format)
    return harness.client(manager)


@pytest.mark.parametrize("wire_format", ["SIMPLE", "DEFAULT"])
def test_my_order_and_my_asset_arrive_with_the_exact_figures_the_exchange_wrote(harness, exchange,
                                                                               wire_format):
    client = _decimal_client(harness, exchange, wire_format)
    orders, assets, tickers = Sink(), Sink(), Sink()
    client.subscribe("myOrder", None, orders)
    client.subscribe("myAsset", None, assets)
    client.subscribe("ticker", [BTC], tickers)
    conn = _private_conn(exchange, {"myOrder", "myAsset"})
    assert conn.format == wire_format
    simple = wire_format == "SIMPLE"
    assert exchange.send_raw(order_frame(simple).encode(), conn.id) == 1
    assert exchange.send_raw(asset_frame(simple).encode(), conn.id) == 1
    assert orders.wait(lambda: orders.messages) and assets.wait(lambda: assets.messages)
    (order,), (asset,) = orders.messages, assets.messages
    assert_exact_order(order)
    assert str(order.price) == ORDER_FIGURES["price"]
    assert_exact_assets(asset)
    assert tickers.wait(lambda: tickers.messages)
    ticker = tickers.messages[0]
    assert type(ticker) is us.Ticker and type(ticker.trade_price) is float


@pytest.mark.parametrize("wire_format", ["SIMPLE", "DEFAULT"])
def test_a_raw_subscriber_gets_the_exact_figures_too(harness, exchange, wire_format):
    client = _decimal_client(harness, exchange, wire_format)
    orders = Sink()
    client.subscribe("myOrder", None, orders, raw=True)
    conn = _private_conn(exchange, {"myOrder"})
    exchange.send_raw(order_frame(wire_format == "SIMPLE").encode(), conn.id)
    assert orders.wait(lambda: orders.messages)
    (order,) = orders.messages
    assert order["type"] == "myOrder"
    assert order["price"] == Decimal(ORDER_FIGURES["price"]) and type(order["price"]) is Decimal


def test_an_order_the_fake_emits_has_the_decimals_of_the_numbers_it_sent(harness, exchange):
    client = _decimal_client(harness, exchange, "SIMPLE")
    orders = Sink()
    client.subscribe("myOrder", None, orders)
    _private_conn(exchange, {"myOrder"})
    sent = exchange.emit_my_order(code=BTC, state="trade", price=0.1, volume=1e-8)
    assert orders.wait(lambda: orders.messages)
    (order,) = orders.messages
    assert (order.uuid, order.price, order.volume) == (sent["uuid"], Decimal("0.1"), Decimal("1e-8"))


def test_with_decimal_off_the_same_frames_arrive_as_floats(harness, exchange):
    client = _decimal_client(harness, exchange, "SIMPLE", decimal=False)
    orders = Sink()
    client.subscribe("myOrder", None, orders)
    conn = _private_conn(exchange, {"myOrder"})
    exchange.send_raw(order_frame(simple=True).encode(), conn.id)
    assert orders.wait(lambda: orders.messages)
    (order,) = orders.messages
    assert type(order) is us.MyOrder
    assert type(order.price) is float and order.price == float(ORDER_FIGURES["price"])
