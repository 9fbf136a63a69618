"""RestClient.candles against the fake exchange: history paged backwards past 200, oldest first, each
bar once, under both readings of ``count`` (candles or time slots), across empty windows; and its
arguments checked before anything is sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

import upbit_sync as us
from upbit_sync.testing import FakeUpbitServer

MINUTE = timedelta(minutes=1)
# a moment of the fake's synthetic past (every minute has a bar there), on a minute's start
PAST = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(days=2)


@pytest.fixture
def fake(harness: Any) -> FakeUpbitServer:
    return harness.server()


@pytest.fixture
def rest(fake: FakeUpbitServer) -> Iterator[us.RestClient]:
    client = us.RestClient(us.Config(rest_url=fake.rest_url))
    yield client
    client.close()


def candle_calls(fake: FakeUpbitServer) -> list[Any]:
    return [r for r in fake.rest_requests if r.path.startswith("/v1/candles/")]


def wire(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def starts(bars: list[us.CandleBar]) -> list[datetime]:
    return [bar.start for bar in bars]


@pytest.mark.parametrize("reading", ["candles", "slots"])
def test_450_minute_candles_come_paged_oldest_first_each_once_and_contiguous(rest, fake, reading):
    fake.candle_count = reading
    bars = rest.candles("KRW-BTC", "1m", count=450, to=PAST)
    assert len(bars) == 450
    assert starts(bars) == [PAST - (450 - i) * MINUTE for i in range(450)]  # no gap, no repeat
    assert {bar.market for bar in bars} == {"KRW-BTC"} and {bar.unit for bar in bars} == {"1m"}
    calls = candle_calls(fake)
    assert [c.query["count"] for c in calls] == ["200", "200", "200"]
    # each page starts where the last one ended: to = the oldest start received, with Z
    assert [c.query["to"] for c in calls] == [wire(PAST - k * 200 * MINUTE) for k in range(3)]


def test_the_same_history_under_both_readings_of_count(rest, fake):
    fake.candle_count = "candles"
    by_candles = rest.candles("KRW-ETH", "3m", count=250, to=PAST)
    fake.candle_count = "slots"
    assert rest.candles("KRW-ETH", "3m", count=250, to=PAST) == by_candles


def test_an_empty_window_in_mid_history_is_stepped_over(rest, fake):
    """A quiet stretch longer than a page: read as time slots, one page is empty, yet older bars exist."""
    fake.candle_count = "slots"
    fake.quiet_period("KRW-BTC", PAST - 350 * MINUTE, PAST - 100 * MINUTE)
    bars = rest.candles("KRW-BTC", "1m", count=300, to=PAST)
    assert len(bars) == 300 and len(set(starts(bars))) == 300 and starts(bars) == sorted(starts(bars))
    assert not [s for s in starts(bars) if PAST - 350 * MINUTE <= s < PAST - 100 * MINUTE]
    assert starts(bars)[-100] == PAST - 100 * MINUTE and starts(bars)[-101] == PAST - 351 * MINUTE
    # the page of the 200 minutes before PAST - 100 min was empty: the next looked 200 minutes further
    assert [c.query["to"] for c in candle_calls(fake)] == [
        wire(PAST), wire(PAST - 100 * MINUTE), wire(PAST - 300 * MINUTE), wire(PAST - 500 * MINUTE)]


def test_an_empty_window_read_as_candles_is_never_seen(rest, fake):
    fake.quiet_period("KRW-BTC", PAST - 350 * MINUTE, PAST - 100 * MINUTE)
    bars = rest.candles("KRW-BTC", "1m", count=300, to=PAST)
    assert starts(bars) == ([PAST - (550 - i) * MINUTE for i in range(200)]
                            + [PAST - (100 - i) * MINUTE for i in range(100)])
    assert len(candle_calls(fake)) == 2  # 200 candles a page, whatever lies between


def test_history_ends_after_a_few_empty_pages(rest, fake):
    bars = rest.candles("KRW-BTC", "1d", count=10, to="2017-09-01T00:00:00Z")  # before Upbit opened
    assert bars == []
    assert len(candle_calls(fake)) == 1 + 3  # the first empty page and three steps back


def test_seconds_candles_older_than_three_months_are_not_asked_for(rest, fake):
    old = datetime.now(timezone.utc) - timedelta(days=100)
    assert rest.candles("KRW-BTC", "1s", count=5, to=old) == []
    assert candle_calls(fake) == []


def test_seconds_candles_of_the_last_three_months_come_back(rest):
    to = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=3)
    bars = rest.candles("KRW-BTC", "1s", count=5, to=to)
    assert starts(bars) == [to - timedelta(seconds=5 - i) for i in range(5)]


@pytest.mark.parametrize("unit", ["5m", "60m", "240m", "1d", "1w", "1M", "1y"])
def test_every_unit_pages_oldest_first(rest, unit):
    bars = rest.candles("KRW-BTC", unit, count=3, to=PAST)
    assert len(bars) == 3 and starts(bars) == sorted(starts(bars)) and bars[-1].start < PAST
    assert {bar.unit for bar in bars} == {unit}


def test_to_as_iso_text_or_an_aware_datetime_means_the_same(rest):
    kst = timezone(timedelta(hours=9))
    by_datetime = rest.candles("KRW-BTC", "1m", count=3, to=PAST.astimezone(kst))
    assert rest.candles("KRW-BTC", "1m", count=3, to=PAST.strftime("%Y-%m-%dT%H:%M:%SZ")) == by_datetime
    assert rest.candles("KRW-BTC", "1m", count=3, to=PAST.strftime("%Y-%m-%d %H:%M:%S")) == by_datetime


def test_the_latest_candles_without_to_include_the_one_in_progress(rest, fake):
    fake.market.make("trade", "KRW-BTC")  # the market trades now: its current minute has a bar
    bars = rest.candles("KRW-BTC", "1m", count=2)
    assert bars[-1].start == datetime.now(timezone.utc).replace(second=0, microsecond=0) or (
        bars[-1].start == datetime.now(timezone.utc).replace(second=0, microsecond=0) - MINUTE)


def test_decimal_config_gives_exact_decimals(fake):
    with us.RestClient(us.Config(rest_url=fake.rest_url, decimal=True)) as rest:
        (bar,) = rest.candles("KRW-BTC", "1m", count=1, to=PAST)
    assert isinstance(bar.trade_price, Decimal) and isinstance(bar.candle_acc_trade_volume, Decimal)
    assert bar.candle_acc_trade_volume == Decimal(str(bar.raw["candle_acc_trade_volume"]))


@pytest.mark.parametrize(("arguments", "named"), [
    ({"unit": "2m"}, "unit"),
    ({"unit": "1h"}, "unit"),
    ({"count": 0}, "count"),
    ({"count": 2.0}, "count"),
    ({"count": True}, "count"),
    ({"to": datetime(2025, 1, 1)}, "to"),  # naive: which zone?
    ({"to": "yesterday"}, "to"),
    ({"to": 1_700_000_000_000}, "to"),
    ({"market": "krw-btc"}, "krw-btc"),
])
def test_a_bad_argument_is_refused_naming_it_before_anything_is_sent(rest, fake, arguments, named):
    call: dict[str, Any] = {"market": "KRW-BTC", "unit": "1m", **arguments}
    with pytest.raises(us.InvalidRequestError, match=named):
        rest.candles(**call)
    assert candle_calls(fake) == []


def test_to_frame_gives_a_frame_indexed_by_the_utc_start(rest, fake):
    import pandas

    bars = rest.candles("KRW-BTC", "1m", count=5, to=PAST)
    frame = us.to_frame(bars)
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame.columns) == ["open", "high", "low", "close", "volume", "value", "market", "unit"]
    assert frame.index.name == "start" and str(frame.index.tz) == "UTC"
    assert list(frame.index) == [pandas.Timestamp(bar.start) for bar in bars]
    assert list(frame["close"]) == [bar.trade_price for bar in bars]
    assert list(frame["volume"]) == [bar.candle_acc_trade_volume for bar in bars]
    assert set(frame["market"]) == {"KRW-BTC"} and set(frame["unit"]) == {"1m"}
    assert us.to_frame([]).empty


def test_to_frame_keeps_decimals_exact(fake):
    with us.RestClient(us.Config(rest_url=fake.rest_url, decimal=True)) as rest:
        bars = rest.candles("KRW-BTC", "1m", count=3, to=PAST)
    frame = us.to_frame(bars)
    assert list(frame["value"]) == [bar.candle_acc_trade_price for bar in bars]
    assert all(isinstance(value, Decimal) for value in frame["value"])


def test_to_frame_refuses_what_is_not_a_bar():
    with pytest.raises(us.InvalidRequestError, match="CandleBar"):
        us.to_frame([{"open": 1}])  # type: ignore[list-item]
