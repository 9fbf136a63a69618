"""RestClient against the fake exchange over real HTTP: typed answers, signed calls, nonce reuse, the
adaptive slow-down on 429s with no call lost, and the WebSocket features REST serves (valid orderbook
levels, every market of a quote currency, gap-free trades after drops)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import upbit_sync as us
from tests.client.conftest import Sink, public_conn, served
from tests.support import wait_until
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


def test_markets_come_typed_from_the_exchange_s_list(rest):
    krw = rest.markets(quote="KRW")
    assert krw and all(m.quote == "KRW" for m in krw)
    btc = next(m for m in krw if m.market == "KRW-BTC")
    assert (btc.korean_name, btc.english_name) == ("비트코인", "Bitcoin")
    detailed = rest.markets(details=True)
    assert {m.quote for m in detailed} >= {"KRW", "BTC", "USDT"}


def test_accounts_are_a_signed_call(rest, fake):
    accounts = rest.accounts()
    assert {a.currency for a in accounts} >= {"KRW"}
    krw = next(a for a in accounts if a.currency == "KRW")
    assert krw.balance == float(next(r for r in fake.accounts if r["currency"] == "KRW")["balance"])
    (call,) = [r for r in fake.rest_requests if r.path == "/v1/accounts"]
    assert call.status == 200 and call.header("Origin") is None


def test_a_signed_call_with_arrays_and_a_body_passes_the_query_hash_check(rest, fake):
    order = rest.request("POST", "/v1/orders", json={"market": "KRW-BTC", "side": "bid", "volume": "0.01",
                                                      "price": "100000000", "ord_type": "limit"})
    assert order["state"] == "wait"
    opened = rest.request("GET", "/v1/orders/open", {"market": "KRW-BTC", "states": ["wait", "watch"]})
    assert [o["uuid"] for o in opened] == [order["uuid"]]
    cancelled = rest.request("DELETE", "/v1/order", {"uuid": order["uuid"]})
    assert cancelled["state"] == "wait"  # as the cancel found it; cancelled right after
    assert [o["state"] for o in fake.orders] == ["cancel"]


def test_instruments_give_the_levels_a_market_supports(rest, fake):
    (btc,) = rest.orderbook_instruments(["KRW-BTC"])
    assert btc.supported_levels == fake.supported_levels("KRW-BTC") and btc.tick_size > 0
    assert rest.supported_levels("BTC-ETH") == (0.0,)


def test_a_reused_nonce_is_refused_as_an_authentication_error(rest, monkeypatch):
    fixed = uuid.uuid4()
    monkeypatch.setattr("upbit_sync.auth.uuid.uuid4", lambda: fixed)
    rest.accounts()
    with pytest.raises(us.ApiAuthenticationError) as caught:
        rest.accounts()
    assert caught.value.status == 401 and caught.value.name == "nonce_used"


def test_many_calls_past_the_limit_slow_down_and_none_is_lost(fake, harness):
    fake.rest_limits["trade"] = (4, 1.0)  # the exchange allows less than the SDK's figure (10/s)
    fake.teapot_after = None  # keep answering 429, never block: the SDK must cope with the rate
    config = us.Config(rest_url=fake.rest_url)
    results: list[int] = []
    errors: list[BaseException] = []

    def caller() -> None:
        with us.RestClient(config) as rest:
            for _ in range(5):
                try:
                    results.append(len(rest.trades("KRW-BTC", count=1)))
                except us.UpbitError as exc:
                    errors.append(exc)

    threads = [threading.Thread(target=caller, name="upbit-test-caller", daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and results == [1] * 10, "a call was lost"
    statuses = [r.status for r in fake.rest_requests if r.path == "/v1/trades/ticks"]
    assert 429 in statuses, "the exchange never pushed back: the test proves nothing"
    group = us.RestClient(config)._limits.group("trade")
    assert group.factor < 1.0 and group.throttles == statuses.count(429)


# ---- what REST serves the WebSocket side ----------------------------------------------------------


def test_an_unsupported_orderbook_level_is_refused_naming_the_allowed_ones(harness, fake):
    client = harness.client(harness.manager(fake))
    with pytest.raises(us.SubscriptionError, match="its levels are 0, 1000") as caught:
        client.subscribe("orderbook", ["KRW-BTC"], Sink(), level=5000)
    assert "KRW-BTC" in str(caught.value)
    assert not served(fake, "orderbook")
    sink = Sink()
    client.subscribe("orderbook", ["KRW-BTC"], sink, level=10000)
    assert sink.wait(lambda: sink.messages)


def test_levels_go_unchecked_when_asked_not_to(harness, fake):
    client = harness.client(harness.manager(fake, validate_levels=False))
    client.subscribe("orderbook", ["KRW-BTC"], Sink(), level=5000)  # Upbit would just send nothing
    assert wait_until(lambda: served(fake, "orderbook") == {"KRW-BTC"})


def test_subscribe_markets_takes_every_listed_market_of_a_quote_in_one_request(harness, fake):
    client = harness.client(harness.manager(fake))
    sub = client.subscribe_markets("ticker", quote="USDT", callback=Sink())
    usdt = {m.market for m in fake.markets if m.market.startswith("USDT-")}
    assert set(sub.codes) == usdt
    assert wait_until(lambda: served(fake, "ticker") == usdt)
    requests = [r for r in public_conn(fake).requests if isinstance(r.payload, list)]
    assert len(requests) == 1


def test_backfill_delivers_every_trade_once_in_order_through_twenty_drops(harness):
    fake = harness.server(message_rate=40.0)
    manager = harness.manager(fake, stale_after=5.0)
    events = Sink()
    client = harness.client(manager, events)
    codes = ["KRW-BTC", "KRW-ETH"]
    sink = Sink()
    sub = client.subscribe("trade", codes, sink, backfill=True)
    assert sink.wait(lambda: set(sink.codes()) == set(codes))
    for _ in range(20):
        opened = fake.connections_opened
        assert wait_until(lambda: len(sink) > 0 and public_conn(fake).subscriptions)
        fake.drop_all()
        assert wait_until(lambda o=opened: fake.connections_opened > o and public_conn(fake).subscriptions)
    first = {code: sink.messages[[m.code for m in sink.messages].index(code)].sequential_id for code in codes}
    tape = {code: [t["sequential_id"] for t in reversed(fake.trades(code))] for code in codes}
    # wait until everything the tape made after the first delivery up to now has arrived (the
    # backfills of twenty reconnects queue behind the trade group's REST limit: on a loaded machine
    # the last can take a while)
    goal = {code: tape[code][-1] for code in codes}
    assert sink.wait(lambda: all(goal[c] in {m.sequential_id for m in sink.messages if m.code == c}
                                 for c in codes), timeout=40.0)
    for code in codes:
        got = [m.sequential_id for m in sink.messages if m.code == code]
        expected = tape[code][tape[code].index(first[code]):]
        assert got[:len(expected)] == expected, f"{code}: a trade missing, repeated or out of order"
        stamps = [m.trade_timestamp for m in sink.messages if m.code == code]
        assert stamps == sorted(stamps)
    assert sub.recovered > 0, "the drops left no gap: the test proves nothing"
    assert any(m.stream_type == "BACKFILL" for m in sink.messages)
    reconnects = events.events_of(us.Reconnected)
    assert len(reconnects) == 20 and not any(e.trades_may_be_missing for e in reconnects)
    assert not events.events_of(us.DataLoss)


def test_without_backfill_a_reconnect_says_trades_may_be_missing(harness, fake):
    events = Sink()
    client = harness.client(harness.manager(fake), events)
    sink = Sink()
    client.subscribe("trade", ["KRW-BTC"], sink)
    assert sink.wait(lambda: sink.messages)
    public_conn(fake)
    fake.drop_all()
    assert events.wait(lambda: events.events_of(us.Reconnected))
    assert events.events_of(us.Reconnected)[0].trades_may_be_missing


def test_a_gap_rest_cannot_close_is_a_data_loss_with_its_reason(harness):
    fake = harness.server(message_rate=40.0)
    events = Sink()
    client = harness.client(harness.manager(fake), events)
    sink = Sink()
    client.subscribe("trade", ["KRW-BTC"], sink, backfill=True)
    assert sink.wait(lambda: len(sink) >= 3)
    public_conn(fake)
    fake.refuse_rest_next(10, status=500, group="trade")
    fake.drop_all()
    assert events.wait(lambda: events.events_of(us.DataLoss), timeout=10.0)
    (loss,) = events.events_of(us.DataLoss)
    assert (loss.type, loss.code, loss.policy) == ("trade", "KRW-BTC", "backfill")
    assert "REST refused" in loss.reason and "500" in loss.reason


def test_backfill_applies_to_trades_only(harness, fake):
    client = harness.client(harness.manager(fake))
    with pytest.raises(us.SubscriptionError, match="trade only"):
        client.subscribe("ticker", ["KRW-BTC"], Sink(), backfill=True)

