"""Indicators, signals and announcements end to end against the fake exchange: typed in SIMPLE and
DEFAULT, through callbacks and stream(), values equal to an independent computation over the fake's
candles, signals once per not-met -> met edge, the info connection restored exactly after a drop,
and bad requests refused before anything is sent (docs/channels.md)."""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import upbit_sync as us
from tests.engine.conftest import FAST
from tests.fake.test_fake_indicators import ref_met, ref_value, window_at
from tests.support import wait_until
from upbit_sync.testing import FakeUpbitServer

REL = 1e-9
CANDLES_FAST = 30_000.0  # a 5-minute candle closes every 10 ms


class Inbox:
    """Messages a callback got, with a wait on their number."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._cond = threading.Condition()

    def __call__(self, message: Any) -> None:
        with self._cond:
            self.items.append(message)
            self._cond.notify_all()

    def wait(self, count: int, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.items) >= count, timeout)

    def snapshot(self) -> list[Any]:
        with self._cond:
            return list(self.items)


@pytest.fixture(params=["SIMPLE", "DEFAULT"])
def wire_format(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def exchange() -> Iterator[FakeUpbitServer]:
    with FakeUpbitServer(time_scale=CANDLES_FAST, status_interval=0.3, seed=11) as server:
        yield server


@contextlib.contextmanager
def client_for(exchange: FakeUpbitServer, *, keys: bool = True, **overrides: Any
               ) -> Iterator[us.WebSocketClient]:
    """A client of its own manager, both stopped at the end."""
    with us.WebSocketManager(exchange.config(keys=keys, **{**FAST, **overrides})) as manager, \
            us.WebSocketClient(manager) as client:
        yield client


def info_connections(exchange: FakeUpbitServer) -> list[Any]:
    return [c for c in exchange.connections if c.is_info]


def candle_index(exchange: FakeUpbitServer, code: str, timeframe: str, when: str) -> tuple[list[Any], int]:
    candles = exchange.candles(code, timeframe)
    return candles, next(i for i, c in enumerate(candles) if c.candle_date_time_utc == when)


def close_to(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL, abs_tol=1e-9)


# ---- indicator ---------------------------------------------------------------------------------------


INDICATORS = [us.RSI(14), us.MACD(12, 26, 9), us.SMA(20), us.EMA(50), us.BollingerBands(20, 2.0),
              us.MACrossover(5, 20, "EMA"), us.Volume(20)]
RECORDS = {"rsi": (us.RsiParams, us.RsiValue), "macd": (us.MacdParams, us.MacdValue),
           "moving_average": (us.MovingAverageParams, us.MovingAverageValue),
           "bollinger_bands": (us.BollingerBandsParams, us.BollingerBandsValue),
           "ma_crossover": (us.MaCrossoverParams, us.MaCrossoverValue),
           "volume": (us.VolumeParams, us.VolumeValue)}


def test_indicator_values_equal_an_independent_computation_over_the_fakes_candles(exchange, wire_format):
    inbox = Inbox()
    with client_for(exchange, wire_format=wire_format) as client:
        client.subscribe("indicator", ["KRW-BTC", "KRW-ETH"], inbox, timeframe="5m", indicators=INDICATORS)
        assert inbox.wait(3 * 2 * len(INDICATORS))
    messages = inbox.snapshot()
    assert {m.indicator for m in messages} == {i.type for i in INDICATORS}
    for message in messages:
        assert type(message) is us.Indicator and message.timeframe == "5m"
        assert message.code in ("KRW-BTC", "KRW-ETH") and message.stream_type == us.StreamType.REALTIME
        params_cls, value_cls = RECORDS[message.indicator]
        assert type(message.params) is params_cls and type(message.value) is value_cls
        assert message.received_at > 0
        candles, index = candle_index(exchange, message.code, "5m", message.candle_date_time_utc)
        item = {"type": message.indicator, "params": message.raw["params"]}  # as sent, DEFAULT keys
        expected = ref_value(item, window_at(candles, index))
        for name, number in expected.items():
            assert close_to(getattr(message.value, name), number), (message, name, number)


def test_indicator_through_stream_is_typed(exchange, wire_format):
    with client_for(exchange, wire_format=wire_format) as client, client.stream(
            "indicator", ["KRW-XRP"], timeframe="15m", indicators=[{"type": "rsi", "params": {"period": 7}}],
            timeout=10.0) as stream:
        message = next(iter(stream))
    assert type(message) is us.Indicator
    assert (message.code, message.timeframe, message.params) == ("KRW-XRP", "15m", us.RsiParams(7))
    assert 0.0 <= message.value.rsi <= 100.0


def test_each_subscription_gets_only_its_own_timeframe_and_indicators(exchange):
    hourly, quarter = Inbox(), Inbox()
    with client_for(exchange) as client:
        client.subscribe("indicator", ["KRW-BTC"], hourly, timeframe="60m", indicators=[us.RSI(14)])
        client.subscribe("indicator", ["KRW-BTC"], quarter, timeframe="15m", indicators=[us.MACD()])
        assert hourly.wait(2) and quarter.wait(4)
        (conn,) = [c for c in info_connections(exchange) if c.is_open]
        objects = [o for o in conn.requests[-1].payload if o.get("type") == "indicator"]
    asked = {(o["timeframe"], o["indicators"][0]["type"]) for o in objects}
    assert asked == {("60m", "rsi"), ("15m", "macd")}
    assert {(m.timeframe, m.indicator) for m in hourly.snapshot()} == {("60m", "rsi")}
    assert {(m.timeframe, m.indicator) for m in quarter.snapshot()} == {("15m", "macd")}


def test_raw_delivery_gives_default_keys(exchange, wire_format):
    inbox = Inbox()
    with client_for(exchange, wire_format=wire_format) as client:
        client.subscribe("indicator", ["KRW-BTC"], inbox, timeframe="5m", indicators=[us.MACD()], raw=True)
        assert inbox.wait(1)
    item = inbox.snapshot()[0]
    assert item["type"] == "indicator" and item["indicator"] == "macd"
    assert item["params"] == {"fast": 12, "slow": 26, "signal_period": 9}
    assert set(item["value"]) == {"macd", "macd_signal", "histogram"}


# ---- indicator_signal --------------------------------------------------------------------------------


def saw_tooth(start: float, legs: int, steps: int, size: float) -> list[float]:
    """Closes that fall ``steps`` candles, then rise as long, ``legs`` times over."""
    closes, price = [], start
    for leg in range(legs):
        for _ in range(steps):
            price *= (1 - size) if leg % 2 == 0 else (1 + size)
            closes.append(price)
    return closes


def test_signals_fire_once_per_edge_and_match_an_independent_check(exchange, wire_format):
    signal = us.RSI(14).oversold(30)
    values, signals = Inbox(), Inbox()
    with client_for(exchange, wire_format=wire_format) as client:
        client.subscribe("indicator", ["KRW-BTC"], values, timeframe="5m", indicators=[us.RSI(14)])
        client.subscribe("indicator_signal", ["KRW-BTC"], signals, timeframe="5m", indicators=[signal])
        assert values.wait(1)
        closes = saw_tooth(exchange.market.anchor("KRW-BTC"), legs=6, steps=30, size=0.01)
        exchange.script_candles("KRW-BTC", "5m", closes)
        assert values.wait(len(values.snapshot()) + len(closes) + 2, timeout=20.0)
    seen = values.snapshot()[:-1]  # a signal of the last close may still be on its way
    candles = exchange.candles("KRW-BTC", "5m")
    item = signal.as_dict()
    expected = []
    for message in seen:
        _, index = candle_index(exchange, "KRW-BTC", "5m", message.candle_date_time_utc)
        now = ref_met(item, ref_value(item, window_at(candles, index)), candles[index].close)
        before = ref_met(item, ref_value(item, window_at(candles, index - 1)), candles[index - 1].close)
        if now and not before:
            expected.append(message.candle_date_time_utc)
    window = {m.candle_date_time_utc for m in seen}
    fired = [s for s in signals.snapshot() if s.candle_date_time_utc in window]
    assert len(expected) >= 3  # the saw tooth crosses 30 on each of its three falls
    assert [s.candle_date_time_utc for s in fired] == expected
    for s in fired:
        assert type(s) is us.IndicatorSignal and s.trigger == "oversold"
        assert s.event_params == us.EventParams(threshold=30) and s.value.rsi <= 30


def test_signal_stream_with_events(exchange, wire_format):
    exchange.script_candles("KRW-ETH", "5m", saw_tooth(exchange.market.anchor("KRW-ETH"), 2, 40, 0.01))
    with client_for(exchange, wire_format=wire_format) as client, client.stream(
            "indicator_signal", ["KRW-ETH"], timeframe="5m", indicators=[us.RSI(14).oversold(30)],
            events=True, timeout=10.0) as stream:
        message = next(m for m in stream if not isinstance(m, us.Event))
    assert type(message) is us.IndicatorSignal and message.code == "KRW-ETH"


# ---- announcement ------------------------------------------------------------------------------------


def private_ready(exchange: FakeUpbitServer) -> bool:
    return any(c.is_private and c.subscriptions for c in exchange.open_connections())


def test_announcements_arrive_typed_by_category_with_body_only_when_asked(exchange, wire_format):
    trade, everything = Inbox(), Inbox()
    with client_for(exchange, wire_format=wire_format) as client:
        client.subscribe("announcement", None, trade, categories=["trade"])
        client.subscribe("announcement", None, everything, include_body=True)
        assert wait_until(lambda: private_ready(exchange))
        sent = exchange.emit_announcement(category="trade", title="[거래] 신규 디지털 자산", body="# 안내")
        exchange.emit_announcement(category="maintenance", title="점검")
        assert everything.wait(2) and trade.wait(1)
        (conn,) = [c for c in exchange.open_connections() if c.is_private]
        (obj,) = [o for o in conn.requests[-1].payload if o.get("type") == "announcement"]
    assert obj == {"type": "announcement", "include_body": True}  # all categories: none named
    (got,) = trade.snapshot()
    assert type(got) is us.Announcement and got.code is None
    assert (got.uuid, got.title, got.category, got.url) == (sent["uuid"], sent["title"], "trade", sent["url"])
    assert got.event_type == us.EventType.CREATED and got.listed_at == sent["listed_at"]
    assert got.body == "# 안내"  # the connection asked for bodies for the other subscription
    assert [m.category for m in everything.snapshot()] == ["trade", "maintenance"]


def test_announcement_stream_and_merged_categories(exchange, wire_format):
    with client_for(exchange, wire_format=wire_format) as client:
        client.subscribe("announcement", None, lambda m: None, categories=["notice"])
        with client.stream("announcement", None, categories=["wallet", "trade"], timeout=10.0) as stream:
            assert wait_until(lambda: private_ready(exchange) and any(
                o.get("categories") == ["notice", "wallet", "trade"]
                for c in exchange.open_connections() if c.is_private for o in c.subscriptions))
            exchange.emit_announcement(category="notice")
            exchange.emit_announcement(category="wallet", title="입출금 안내")
            message = next(iter(stream))
    assert type(message) is us.Announcement and message.category == "wallet" and message.body is None


def test_announcement_shares_the_private_connection_with_my_order(exchange):
    with client_for(exchange) as client:
        client.subscribe("myOrder", None, lambda m: None)
        client.subscribe("announcement", None, lambda m: None)
        assert wait_until(lambda: any(
            {o["type"] for o in c.subscriptions} == {"myOrder", "announcement"}
            for c in exchange.open_connections() if c.is_private))
    assert len([c for c in exchange.connections if c.is_private]) == 1


# ---- the info connection -----------------------------------------------------------------------------


def test_info_connection_opens_only_for_indicator_subscriptions_and_has_a_health_slot(exchange):
    with client_for(exchange) as client:
        client.subscribe("ticker", ["KRW-BTC"], lambda m: None)
        assert wait_until(lambda: exchange.connections_opened >= 1)
        assert "info" not in client.manager.health()["connections"]
        sub = client.subscribe("indicator", ["KRW-BTC"], lambda m: None, timeframe="1d",
                               indicators=[us.RSI(14)])
        assert sub.connection == "info"
        assert wait_until(lambda: client.manager.health()["connections"]["info"]["state"] == "OPEN")
        (conn,) = info_connections(exchange)
        assert conn.authorized_access_key  # the JWT went on the upgrade
        sub.cancel()
        assert wait_until(lambda: not conn.is_open)


def test_info_connection_restores_its_merged_request_exactly_after_a_drop(exchange):
    inbox = Inbox()
    with client_for(exchange) as client:
        client.subscribe("indicator", ["KRW-BTC", "KRW-ETH"], inbox, timeframe="5m",
                         indicators=[us.RSI(14), us.MACD()])
        client.subscribe("indicator", ["KRW-BTC"], inbox, timeframe="60m", indicators=[us.SMA(20)])
        client.subscribe("indicator_signal", ["KRW-BTC"], inbox, timeframe="15m",
                         indicators=[us.MACD().golden_cross(), us.RSI(14).overbought(70)])
        assert wait_until(lambda: any(c.is_open and c.subscriptions for c in info_connections(exchange)))
        (first,) = [c for c in info_connections(exchange) if c.is_open]
        before = first.requests[-1].payload
        exchange.drop_all()
        assert wait_until(lambda: any(c is not first and c.is_open and c.subscriptions
                                      for c in info_connections(exchange)))
        (second,) = [c for c in info_connections(exchange) if c.is_open]
        after = second.requests[-1].payload
        count = len(inbox.snapshot())
        assert inbox.wait(count + 3)  # and data flows again
    assert len(before) == 5  # ticket, three objects, format
    assert after[1:] == before[1:]


def test_a_quiet_info_connection_is_kept_by_the_heartbeat_not_cut_for_silence(exchange):
    exchange.time_scale = 1.0  # no 1-day candle closes during the test
    with client_for(exchange) as client:
        client.subscribe("indicator_signal", ["KRW-BTC"], lambda m: None, timeframe="1d",
                         indicators=[us.RSI(14).oversold(30)])
        assert wait_until(lambda: client.manager.health()["connections"]["info"]["state"] == "OPEN")
        # several times stale_after (0.8 s) without data: the PING's status frames keep it
        assert not wait_until(lambda: len(info_connections(exchange)) > 1, timeout=3.0)
        assert client.manager.health()["connections"]["info"]["state"] == "OPEN"


# ---- refused before sending --------------------------------------------------------------------------


def asking(*items: Any, timeframe: str = "5m") -> dict[str, Any]:
    return {"timeframe": timeframe, "indicators": list(items)}


SPIKE_WITHOUT_MULTIPLIER = {"type": "volume", "params": {"period": 20}, "trigger": "volume_spike"}
BAD_REQUESTS = [
    ("indicator", ["USDT-BTC"], asking(us.RSI(14)), "KRW markets only.*USDT-BTC"),
    ("indicator", ["KRW-BTC"], asking(us.RSI(14), timeframe="2m"), "timeframe must be one of.*'2m'"),
    ("indicator", ["KRW-BTC"], dict(indicators=[us.RSI(14)]), "needs a timeframe"),
    ("indicator", ["KRW-BTC"], dict(timeframe="5m"), "needs indicators"),
    ("indicator", ["KRW-BTC"], asking(), "at least one indicator"),
    ("indicator", ["KRW-BTC"], asking(us.RSI(16)), "period=16 is not offered"),
    ("indicator", ["KRW-BTC"], asking(us.MACrossover(5, 60)), "short_period/long_period must be one of"),
    ("indicator", ["KRW-BTC"], asking(us.MACD(12, 26, 5)), "fast/slow/signal_period"),
    ("indicator", ["KRW-BTC"], asking(us.MovingAverage(20, "WMA")), "type must be one of SMA, EMA"),
    ("indicator", ["KRW-BTC"], asking(us.BollingerBands(20, -1)), "positive number"),
    ("indicator", ["KRW-BTC"], asking({"type": "stoch", "params": {}}), "unknown indicator type 'stoch'"),
    ("indicator", ["KRW-BTC"], asking(us.RSI(14).oversold(30)), "trigger belongs to an indicator_signal"),
    ("indicator_signal", ["KRW-BTC"], asking(us.RSI(14)), "needs a trigger"),
    ("indicator_signal", ["KRW-BTC"], asking(us.RSI(2).oversold(30)), "rsi signal: period=2 is not offered"),
    ("indicator_signal", ["KRW-BTC"], asking(us.RSI(14).oversold(25)), "threshold must be one of 20, 30"),
    ("indicator_signal", ["KRW-BTC"], asking(us.RSI(14).golden_cross()), "unknown rsi trigger"),
    ("indicator_signal", ["KRW-BTC"], asking(SPIKE_WITHOUT_MULTIPLIER), "needs event param multiplier"),
    ("indicator_signal", ["KRW-BTC"], asking(us.MACD().signal("golden_cross", x=1)), "takes no event params"),
    ("indicator_signal", ["KRW-BTC"], asking(us.BollingerBands(10).price_cross_above()),
     "period=10 is not offered"),
    ("announcement", None, dict(categories=["trades"]), "unknown announcement category 'trades'"),
    ("announcement", None, dict(categories=[]), "at least one category"),
    ("announcement", None, dict(include_body="yes"), "include_body must be True or False"),
    ("announcement", ["KRW-BTC"], {}, "announcement takes no codes"),
    ("announcement", None, dict(timeframe="5m"), "timeframe and indicators apply to indicator"),
    ("ticker", ["KRW-BTC"], dict(timeframe="5m"), "timeframe applies to indicator and indicator_signal only"),
    ("ticker", ["KRW-BTC"], dict(categories=["trade"]), "categories applies to announcement only"),
]


@pytest.mark.parametrize(("kind", "codes", "options", "match"), BAD_REQUESTS,
                         ids=[f"{k}-{m[:30]}" for k, _, _, m in BAD_REQUESTS])
def test_invalid_requests_are_refused_before_anything_is_sent(exchange, kind, codes, options, match):
    with client_for(exchange) as client:
        with pytest.raises(us.SubscriptionError, match=match):
            client.subscribe(kind, codes, lambda m: None, **options)
        assert not client.subscriptions
        assert not info_connections(exchange)
        assert not any(c.is_private for c in exchange.connections)


def test_snapshot_refuses_the_realtime_only_types(exchange):
    with client_for(exchange) as client:
        for kind in ("indicator", "indicator_signal", "announcement"):
            with pytest.raises(us.SubscriptionError, match="has no snapshot"):
                client.snapshot(kind, ["KRW-BTC"])


def test_indicator_types_need_keys(exchange):
    with client_for(exchange, keys=False) as client:
        with pytest.raises(us.AuthenticationError, match="access_key"):
            client.subscribe("indicator", ["KRW-BTC"], lambda m: None, timeframe="5m", indicators=[us.RSI()])
        with pytest.raises(us.AuthenticationError, match="access_key"):
            client.subscribe("announcement", None, lambda m: None)


def test_unsubscribing_some_codes_keeps_the_timeframe_and_indicators_of_the_rest(exchange):
    with client_for(exchange) as client:
        client.subscribe("indicator", ["KRW-BTC", "KRW-ETH"], lambda m: None, timeframe="60m",
                         indicators=[us.RSI(14), us.MACD()])
        client.unsubscribe("indicator", ["KRW-ETH"])
        (sub,) = client.subscriptions
        assert sub.codes == ("KRW-BTC",)
        assert (sub.spec.timeframe, sub.spec.indicators) == ("60m", (us.RSI(14), us.MACD()))
        assert wait_until(lambda: any(
            o.get("codes") == ["KRW-BTC"] and o.get("timeframe") == "60m"
            for c in info_connections(exchange) if c.is_open for o in c.subscriptions))
