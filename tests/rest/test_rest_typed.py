"""Typed quotation records (REST orderbooks, tickers by quote currency), exact figures with
``Config(decimal=True)``, malformed answers as DecodeError, and how the transport tells a call that
never left from one that may have reached Upbit."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import responses

import upbit_sync as us
from upbit_sync.rest.transport import NotSentError, may_have_arrived
from upbit_sync.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY, FakeUpbitServer


@pytest.fixture
def fake(harness: Any) -> FakeUpbitServer:
    return harness.server()


@pytest.fixture
def rest(fake: FakeUpbitServer) -> Iterator[us.RestClient]:
    client = us.RestClient(us.Config(rest_url=fake.rest_url, access_key=TEST_ACCESS_KEY,
                                     secret_key=TEST_SECRET_KEY))
    yield client
    client.close()


@pytest.fixture
def base() -> str:
    return f"https://api-{uuid.uuid4().hex[:8]}.upbit.test"


def test_rest_orderbooks_are_typed_best_first(rest):
    books = rest.orderbook(["KRW-BTC", "KRW-ETH"], count=5)
    assert [b.market for b in books] == ["KRW-BTC", "KRW-ETH"]
    book = books[0]
    assert isinstance(book, us.MarketOrderbook) and 1 <= len(book.orderbook_units) <= 5
    level = book.orderbook_units[0]
    assert isinstance(level, us.OrderbookLevel) and level.ask_price > level.bid_price
    asks = [u.ask_price for u in book.orderbook_units]
    assert asks == sorted(asks) and book.timestamp > 0


def test_tickers_by_quote_currency_are_every_market_of_it(rest):
    tickers = rest.tickers_by_quote("KRW")
    assert tickers and all(t.market.startswith("KRW-") for t in tickers)
    both = rest.tickers_by_quote(["KRW", "BTC"])
    assert {t.market.partition("-")[0] for t in both} == {"KRW", "BTC"}


@responses.activate
def test_with_decimal_a_rest_orderbook_s_json_numbers_are_exact(base):
    responses.get(f"{base}/v1/orderbook", json=None, body=(
        '[{"market":"KRW-BTC","timestamp":1,"total_ask_size":0.1,"total_bid_size":0.30000000000000004,'
        '"orderbook_units":[{"ask_price":100000000,"bid_price":99999000.5,"ask_size":0.1,"bid_size":0.2}],'
        '"level":0}]'))
    with us.RestClient(us.Config(rest_url=base, decimal=True)) as exact:
        (book,) = exact.orderbook("KRW-BTC", level=0)
    assert book.total_bid_size == Decimal("0.30000000000000004")
    assert book.orderbook_units[0].bid_price == Decimal("99999000.5")
    assert "level=0" in responses.calls[0].request.url


@responses.activate
def test_a_malformed_order_answer_is_a_decode_error(base):
    responses.get(f"{base}/v1/order", json={"uuid": "u", "market": "KRW-BTC"})  # no side, no state
    config = us.Config(rest_url=base, access_key="a" * 40, secret_key="s" * 40)
    with us.RestClient(config) as rest, pytest.raises(us.DecodeError, match="side"):
        rest.order(uuid="u")


def test_a_call_to_a_closed_port_never_left(harness):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = us.Config(rest_url=f"http://127.0.0.1:{port}", rest_timeout=2.0)
    with us.RestClient(config) as rest, pytest.raises(NotSentError) as caught:
        rest.markets()
    assert isinstance(caught.value, us.ConnectError) and not may_have_arrived(caught.value)


def test_a_connection_closed_after_the_request_may_have_arrived():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    received = threading.Event()

    def hang_up() -> None:
        connection, _ = listener.accept()
        connection.recv(65536)  # the request arrived...
        received.set()
        connection.close()  # ...and no answer goes back

    thread = threading.Thread(target=hang_up, name="upbit-test-hangup", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        config = us.Config(rest_url=url, rest_timeout=5.0)
        with us.RestClient(config) as rest, pytest.raises(us.ConnectError) as caught:
            rest.markets()
    finally:
        thread.join(5.0)
        listener.close()
    assert received.is_set() and not isinstance(caught.value, NotSentError)
    assert may_have_arrived(caught.value)


@pytest.mark.parametrize("error, arrived", [
    (us.ApiServerError(500, 500, "oops"), True),
    (us.ApiError(502, 502, "bad gateway"), True),
    (us.InsufficientFundsError(400, "insufficient_funds_bid", "no"), False),
    (us.ApiRateLimitError(429, 429, "slow down"), False),
    (us.ConnectError("rest", "http://127.0.0.1", "ReadTimeout"), True),
    (NotSentError("rest", "http://127.0.0.1", "ConnectTimeout"), False),
])
def test_which_failures_may_have_reached_upbit(error, arrived):
    assert may_have_arrived(error) is arrived
