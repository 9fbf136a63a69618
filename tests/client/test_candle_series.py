"""client.candles(): closed bars from REST history to the live candle stream, against the fake
exchange, whose REST candles are made of the same trades as its WebSocket candles. Every bar equals
REST's bar of its bucket, none twice, none out of order: live, across a drop, and where only the
clock can say a bucket closed. One-second candles keep each test to a few seconds."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

import upbit_sync as us
from tests.client.conftest import Sink
from upbit_sync.testing import FakeUpbitServer

CODE = "KRW-BTC"
GRACE = 0.3  # Config.candle_grace for these tests: a quiet bucket is settled 0.3 s after its end


def figures(bar: us.CandleBar) -> tuple[Any, ...]:
    """What a bar says, its last trade's time aside (the WebSocket's candle does not carry it)."""
    return (bar.market, bar.unit, bar.candle_date_time_utc, bar.candle_date_time_kst, bar.opening_price,
            bar.high_price, bar.low_price, bar.trade_price, bar.candle_acc_trade_volume,
            bar.candle_acc_trade_price)


def rest_bars(client: Any, bars: list[us.CandleBar]) -> list[us.CandleBar]:
    """REST's 1s bars from the first of ``bars`` to the last, inclusive."""
    first, last = bars[0].start, bars[-1].start
    span = int((last - first).total_seconds()) + 1
    found = client.rest.candles(CODE, "1s", count=span, to=last + timedelta(seconds=1))
    return [bar for bar in found if bar.start >= first]


def in_order_once(bars: list[us.CandleBar]) -> bool:
    starts = [bar.start for bar in bars]
    return all(a < b for a, b in itertools.pairwise(starts))


def take(series: us.CandleSeries, n: int) -> list[us.CandleBar]:
    bars = []
    for bar in series:
        bars.append(bar)
        if len(bars) == n:
            break
    return bars


@pytest.fixture
def fake(harness: Any) -> FakeUpbitServer:
    return harness.server(message_rate=20.0)


@pytest.fixture
def client(harness: Any, fake: FakeUpbitServer) -> Any:
    return harness.client(harness.manager(fake, candle_grace=GRACE))


def test_history_then_live_bars_equal_rest_s_bars_of_the_same_buckets(client):
    series = client.candles(CODE, "1s", history=3, timeout=5.0)
    bars = take(series, 7)
    assert series.closed  # leaving the loop closed it
    assert in_order_once(bars)
    assert [figures(bar) for bar in bars] == [figures(bar) for bar in rest_bars(client, bars)]
    assert bars[0].timestamp and not bars[-1].timestamp  # history from REST, then the live ones


def test_a_callback_gets_each_bar_on_the_series_thread_and_close_joins_it(client):
    sink = Sink()
    series = client.candles(CODE, "1s", 2, sink)
    assert sink.wait(lambda: len(sink.messages) >= 4, timeout=6.0)
    names = set(sink.threads)
    assert names == {f"upbit-candles-{CODE}-1s"}
    series.cancel()
    series.close()  # twice: nothing more happens
    assert not [t for t in threading.enumerate() if t.name in names]
    assert in_order_once(sink.messages)


def test_client_close_ends_the_iterator_and_joins_the_series_thread(harness, fake):
    client = harness.client(harness.manager(fake, candle_grace=GRACE))
    series = client.candles(CODE, "1s", history=1, timeout=5.0)
    assert next(series).unit == "1s"
    client.close()
    assert series.closed
    with pytest.raises(StopIteration):
        next(series)
    assert not [t for t in threading.enumerate() if t.name.startswith("upbit-candles-")]


def test_across_a_drop_no_bar_is_missed_repeated_or_out_of_order(harness, fake):
    """The connection is down for a while and the market trades on (the test trades it): the bars of
    the outage come from REST, the bucket open across the drop too, and the series goes on live."""
    sink = Sink()
    client = harness.client(harness.manager(fake, candle_grace=GRACE), sink)
    series = client.candles(CODE, "1s", 2, sink)
    harness.defer(series.close)
    assert sink.wait(lambda: len(sink.messages) >= 4, timeout=6.0)
    fake.refuse_next(3)  # the first attempts to come back are refused: an outage of a second or so
    fake.drop_all()
    while not sink.events_of(us.Reconnected):  # the market trades while nobody is connected
        fake.market.make("trade", CODE)
        sink.wait(lambda: sink.events_of(us.Reconnected), timeout=0.05)
    after = len(sink)
    assert sink.wait(lambda: len(sink.messages) >= after + 4, timeout=8.0)
    series.close()
    bars = list(sink.messages)
    assert in_order_once(bars)
    assert [figures(bar) for bar in bars] == [figures(bar) for bar in rest_bars(client, bars)]
    assert any(bar.timestamp for bar in bars[2:])  # some after the history came from REST


def test_a_bucket_no_later_message_closes_is_settled_from_rest_after_the_grace(harness):
    """A market that sends nothing live: a bucket with trades is settled by the clock, from REST;
    a bucket without trades gives no bar."""
    fake = harness.server(message_rate=0.0)
    client = harness.client(harness.manager(fake, candle_grace=GRACE, stale_after=30.0))
    series = client.candles(CODE, "1s", history=0, timeout=5.0)
    harness.defer(series.close)
    for _ in range(3):
        fake.market.make("trade", CODE)
    traded = fake.trades(CODE)[0]["timestamp"] // 1000
    bars = []
    for bar in series:
        bars.append(bar)
        if bar.start.timestamp() >= traded:
            break
    assert int(bars[-1].start.timestamp()) == traded and in_order_once(bars)
    assert [figures(bar) for bar in bars] == [figures(bar) for bar in rest_bars(client, bars)
                                              if bar.start in {b.start for b in bars}]
    assert [bar.timestamp for bar in bars] == [bar.timestamp for bar in rest_bars(client, bars)
                                               if bar.start in {b.start for b in bars}]
    traded_seconds = {t["timestamp"] // 1000 for t in fake.trades(CODE)}
    born = int(fake.market.born(CODE))
    live = {int(bar.start.timestamp()) for bar in bars if bar.start.timestamp() >= born}
    assert live <= traded_seconds  # since the market's birth (a synthetic past before): a bar, a trade


def test_a_rest_failure_reaches_on_error_and_the_series_goes_on(harness, fake):
    sink = Sink()
    client = harness.client(harness.manager(fake, candle_grace=GRACE), sink)
    fake.refuse_rest_next(1, 500, group="candle")
    series = client.candles(CODE, "1s", 2, sink)
    harness.defer(series.close)
    assert sink.wait(lambda: sink.errors and len(sink.messages) >= 3, timeout=8.0)
    assert isinstance(sink.errors[0], us.ApiServerError)
    assert in_order_once(sink.messages)


def test_a_rest_failure_is_raised_by_the_iterator_which_goes_on(client, fake):
    fake.refuse_rest_next(1, 500, group="candle")
    series = client.candles(CODE, "1s", history=2, timeout=5.0)
    with pytest.raises(us.ApiServerError):
        next(series)
    bars = [next(series), next(series), next(series)]
    series.close()
    assert in_order_once(bars)


def test_decimal_config_gives_decimals_from_history_and_live_alike(harness, fake):
    client = harness.client(harness.manager(fake, candle_grace=GRACE, decimal=True))
    series = client.candles(CODE, "1s", history=2, timeout=5.0)
    bars = take(series, 4)
    assert all(isinstance(bar.trade_price, Decimal) and isinstance(bar.candle_acc_trade_price, Decimal)
               for bar in bars)
    assert bars[-1].timestamp == 0  # a live one


@pytest.mark.parametrize(("arguments", "named"), [
    ({"unit": "1d"}, "1d"),
    ({"unit": "1M"}, "1M"),
    ({"unit": "2m"}, "unit"),
    ({"history": -1}, "history"),
    ({"history": 1.5}, "history"),
    ({"market": "btc"}, "btc"),
    ({"callback": 3}, "callback"),
])
def test_a_bad_argument_is_refused_naming_it_before_anything_starts(client, fake, arguments, named):
    call: dict[str, Any] = {"market": CODE, "unit": "1m", **arguments}
    with pytest.raises(us.InvalidRequestError, match=named):
        client.candles(**call)
    assert not [r for r in fake.rest_requests if r.path.startswith("/v1/candles")]
    assert not [t for t in threading.enumerate() if t.name.startswith("upbit-candles-")]


def test_a_callback_series_is_not_iterable(client):
    series = client.candles(CODE, "1m", 0, lambda bar: None)
    try:
        with pytest.raises(us.InvalidRequestError):
            iter(series).__next__()
    finally:
        series.close()
