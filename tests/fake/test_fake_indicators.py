"""The info channel's numbers: the indicator math against textbook computations written here, the
values on the wire against the candles they came from, and signals once per not-met -> met edge
(docs/channels.md §3, §4; the definitions are in upbit_sync/testing/indicators.py)."""

from __future__ import annotations

import itertools
import math
import random
import statistics

import pytest

from upbit_sync.testing import ChannelRules
from upbit_sync.testing.indicators import (
    WINDOW,
    Indicator,
    Signal,
    bollinger,
    ema,
    macd,
    signal_met,
    sma,
    volume_ratio,
    wilder_rsi,
)

FAST_CANDLES = {"time_scale": 15_000.0}  # a 5-minute candle closes every 20 ms
REL = 1e-9

# -- textbook versions, written independently of the module ---------------------------------------


def ref_sma(xs, n):
    total = 0.0
    for x in xs[len(xs) - n:]:
        total += x
    return total / n


def ref_ema_by_index(xs, n):
    """EMA at every index from n - 1 on, keyed by index: SMA seed, then x*k + prev*(1-k)."""
    k = 2 / (n + 1)
    out = {n - 1: sum(xs[:n]) / n}
    for i in range(n, len(xs)):
        out[i] = xs[i] * k + out[i - 1] * (1 - k)
    return out


def ref_ema(xs, n):
    return ref_ema_by_index(xs, n)[len(xs) - 1]


def ref_rsi(xs, n):
    ups, downs = [], []
    for i in range(1, len(xs)):
        d = xs[i] - xs[i - 1]
        ups.append(d if d > 0 else 0.0)
        downs.append(-d if d < 0 else 0.0)
    up, down = sum(ups[:n]) / n, sum(downs[:n]) / n
    for i in range(n, len(ups)):
        up = (up * (n - 1) + ups[i]) / n
        down = (down * (n - 1) + downs[i]) / n
    if up + down == 0:
        return 50.0
    return 100.0 * up / (up + down)  # = 100 - 100 / (1 + RS)


def ref_macd(xs, fast, slow, signal_n):
    fast_ema, slow_ema = ref_ema_by_index(xs, fast), ref_ema_by_index(xs, slow)
    line = [fast_ema[i] - slow_ema[i] for i in range(slow - 1, len(xs))]
    signal = ref_ema(line, signal_n)
    return line[-1], signal, line[-1] - signal


def ref_bollinger(xs, n, m):
    last = xs[len(xs) - n:]
    mid = statistics.fmean(last)
    sd = statistics.pstdev(last)
    return mid + m * sd, mid, mid - m * sd


def ref_value(item, candles):
    """The value object of an ``indicators[]`` item (DEFAULT keys) at the last candle."""
    closes = [c.close for c in candles]
    params = item["params"]
    kind = item["type"]
    if kind == "volume":
        volumes = [c.volume for c in candles]
        avg = statistics.fmean(volumes[-params["period"]:])
        return {"volume": volumes[-1], "avg_volume": avg, "ratio": volumes[-1] / avg}
    if kind == "rsi":
        return {"rsi": ref_rsi(closes, params["period"])}
    ma = ref_sma if params.get("type") == "SMA" else ref_ema
    if kind == "moving_average":
        return {"value": ma(closes, params["period"])}
    if kind == "ma_crossover":
        return {"ma_short": ma(closes, params["short_period"]),
                "ma_long": ma(closes, params["long_period"])}
    if kind == "bollinger_bands":
        upper, middle, lower = ref_bollinger(closes, params["period"], params["multiplier"])
        return {"bb_upper": upper, "bb_middle": middle, "bb_lower": lower}
    line, signal, hist = ref_macd(closes, params["fast"], params["slow"], params["signal_period"])
    return {"macd": line, "macd_signal": signal, "histogram": hist}


def ref_met(item, value, close):
    trigger = item["trigger"]
    events = item.get("event_params", {})
    if trigger == "volume_spike":
        return value["ratio"] >= events["multiplier"]
    if trigger == "overbought":
        return value["rsi"] >= events["threshold"]
    if trigger == "oversold":
        return value["rsi"] <= events["threshold"]
    if trigger.startswith("price_cross"):
        if item["type"] == "moving_average":
            line = value["value"]
        else:
            line = value["bb_upper"] if trigger.endswith("above") else value["bb_lower"]
        return close > line if trigger.endswith("above") else close < line
    fast, slow = ((value["ma_short"], value["ma_long"]) if item["type"] == "ma_crossover"
                  else (value["macd"], value["macd_signal"]))
    return {"golden_cross": fast > slow, "dead_cross": fast < slow,
            "zero_cross_above": value.get("macd", 0) > 0,
            "zero_cross_below": value.get("macd", 0) < 0}[trigger]


def window_at(candles, index):
    return candles[index - WINDOW + 1:index + 1]


def assert_close(actual, expected):
    assert actual.keys() == expected.keys()
    for key, want in expected.items():
        assert math.isclose(actual[key], want, rel_tol=REL), (key, actual[key], want)


# -- the pure functions ---------------------------------------------------------------------------


def walk(n, seed=3, start=100.0):
    rng = random.Random(seed)
    out, price = [], start
    for _ in range(n):
        price *= math.exp(rng.gauss(0, 0.01))
        out.append(price)
    return out


@pytest.mark.parametrize("period", [2, 5, 14, 25, 200])
def test_sma_and_ema_match_the_textbook_loops(period):
    xs = walk(400)

    assert math.isclose(sma(xs, period), ref_sma(xs, period), rel_tol=REL)
    assert math.isclose(ema(xs, period), ref_ema(xs, period), rel_tol=REL)


@pytest.mark.parametrize("period", [2, 7, 14, 21, 25])
def test_wilder_rsi_matches_the_textbook_loop(period):
    xs = walk(400, seed=period)

    assert math.isclose(wilder_rsi(xs, period), ref_rsi(xs, period), rel_tol=REL)


def test_rsi_is_100_without_losses_and_50_without_changes():
    assert wilder_rsi([1.0, 2.0, 3.0, 4.0], 3) == 100.0
    assert wilder_rsi([5.0] * 10, 3) == 50.0


@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (8, 17, 9), (5, 35, 5)])
def test_macd_line_signal_and_histogram_match_the_textbook_loop(fast, slow, signal):
    xs = walk(400, seed=fast)

    got = macd(xs, fast, slow, signal)
    want = ref_macd(xs, fast, slow, signal)

    for g, w in zip(got, want, strict=True):
        assert math.isclose(g, w, rel_tol=REL)
    assert math.isclose(got[2], got[0] - got[1], rel_tol=REL)


@pytest.mark.parametrize(("period", "multiplier"), [(10, 2.0), (20, 2.5), (50, 1.0)])
def test_bollinger_bands_match_the_population_deviation(period, multiplier):
    xs = walk(400, seed=period)

    for g, w in zip(bollinger(xs, period, multiplier), ref_bollinger(xs, period, multiplier),
                    strict=True):
        assert math.isclose(g, w, rel_tol=REL)


def test_volume_ratio_is_the_last_volume_over_the_mean_including_it():
    volumes = [1.0, 2.0, 3.0, 4.0, 10.0]

    assert volume_ratio(volumes, 5) == (10.0, 4.0, 2.5)


def test_too_few_values_is_a_value_error():
    with pytest.raises(ValueError):
        wilder_rsi([1.0] * 14, 14)
    with pytest.raises(ValueError):
        macd([1.0] * 30, 12, 26, 9)


def test_the_bollinger_band_rule_picks_the_band_a_cross_watches():
    item = Signal(Indicator("bollinger_bands", (("period", 20), ("multiplier", 2.0))),
                  "price_cross_above")
    bands = {"bb_upper": 110.0, "bb_middle": 100.0, "bb_lower": 90.0}

    assert not signal_met(item, bands, 105.0, "outer")
    assert signal_met(item, bands, 105.0, "middle")


# -- values on the wire ----------------------------------------------------------------------------

ALL_KINDS = [
    {"type": "rsi", "params": {"period": 14}},
    {"type": "rsi", "params": {"period": 2}},
    {"type": "moving_average", "params": {"period": 200, "type": "EMA"}},
    {"type": "moving_average", "params": {"period": 20, "type": "SMA"}},
    {"type": "ma_crossover", "params": {"short_period": 5, "long_period": 20, "type": "EMA"}},
    {"type": "bollinger_bands", "params": {"period": 20, "multiplier": 2.0}},
    {"type": "macd", "params": {"fast": 12, "slow": 26, "signal_period": 9}},
    {"type": "macd", "params": {"fast": 5, "slow": 35, "signal_period": 5}},
    {"type": "volume", "params": {"period": 20}},
]


def test_every_value_equals_the_textbook_value_over_its_candles(make_server, connect_info):
    server = make_server(**FAST_CANDLES)
    session = connect_info(server)
    session.subscribe({"type": "indicator", "codes": ["KRW-BTC", "KRW-ETH"], "timeframe": "5m",
                       "indicators": ALL_KINDS})

    messages = session.until(lambda m: m["code"] == "KRW-ETH" and m["indicator"] == "volume"
                             and len(server.candles("KRW-ETH", "5m")) >= WINDOW + 3, timeout=5)

    assert len(messages) >= 2 * len(ALL_KINDS)
    for code in ("KRW-BTC", "KRW-ETH"):
        candles = server.candles(code, "5m")
        index = {c.candle_date_time_utc: i for i, c in enumerate(candles)}
        for message in (m for m in messages if m["code"] == code):
            item = next(k for k in ALL_KINDS
                        if (k["type"], k["params"]) == (message["indicator"], message["params"]))
            expected = ref_value(item, window_at(candles, index[message["candle_date_time_utc"]]))
            assert_close(message["value"], expected)


def test_the_first_message_is_for_the_first_close_after_the_subscription(make_server, connect_info):
    server = make_server(**FAST_CANDLES)
    session = connect_info(server)
    session.subscribe({"type": "indicator", "codes": ["KRW-XRP"], "timeframe": "15m",
                       "indicators": [{"type": "rsi", "params": {"period": 14}}]})

    first = session.message()
    candles = server.candles("KRW-XRP", "15m")

    # The series began with WINDOW candles of history; none of them was sent.
    assert first["candle_date_time_utc"] == candles[WINDOW].candle_date_time_utc
    assert first["stream_type"] == "REALTIME"


def test_one_message_per_close_per_code_and_item(make_server, connect_info):
    server = make_server(**FAST_CANDLES)
    session = connect_info(server)
    items = [{"type": "rsi", "params": {"period": 7}}, {"type": "volume", "params": {"period": 5}}]
    session.subscribe({"type": "indicator", "codes": ["KRW-BTC", "KRW-SOL"], "timeframe": "5m",
                       "indicators": items})

    stamps: set[str] = set()

    def five_candles(message):
        stamps.add(message["candle_date_time_utc"])
        return len(stamps) > 4

    messages = session.until(five_candles, timeout=5)
    by_candle: dict[str, list[tuple[str, str]]] = {}
    for m in messages:
        by_candle.setdefault(m["candle_date_time_utc"], []).append((m["code"], m["indicator"]))
    complete = sorted(by_candle)[:-1]  # the last candle's messages may still be arriving

    assert len(complete) >= 3
    for stamp in complete:
        assert sorted(by_candle[stamp]) == sorted(
            (code, kind) for code in ("KRW-BTC", "KRW-SOL") for kind in ("rsi", "volume"))


def test_the_candle_series_is_the_same_for_the_same_seed(make_server, connect_info):
    first, second = make_server(seed=11, **FAST_CANDLES), make_server(seed=11, **FAST_CANDLES)
    other = make_server(seed=12, **FAST_CANDLES)
    for server in (first, second, other):
        connect_info(server).subscribe({"type": "indicator", "codes": ["KRW-ETH"], "timeframe": "1d",
                                        "indicators": [{"type": "rsi", "params": {"period": 14}}]})
    assert first.wait_for(lambda: all(s.candles("KRW-ETH", "1d") for s in (first, second, other)))

    def shape(server):
        return [(c.open, c.high, c.low, c.close, c.volume) for c in server.candles("KRW-ETH", "1d")]

    assert shape(first)[:WINDOW] == shape(second)[:WINDOW]
    assert shape(first)[:WINDOW] != shape(other)[:WINDOW]


def test_candles_start_on_their_timeframe_and_follow_the_market_price(make_server, connect_info):
    server = make_server(**FAST_CANDLES)
    connect_info(server).subscribe({"type": "indicator", "codes": ["KRW-BTC"], "timeframe": "240m",
                                    "indicators": [{"type": "rsi", "params": {"period": 14}}]})
    assert server.wait_for(lambda: server.candles("KRW-BTC", "240m") != [])

    candles = server.candles("KRW-BTC", "240m")

    assert all(c.start % 14_400 == 0 and c.seconds == 14_400 for c in candles)
    assert all(b.start - a.start == 14_400 and b.open == a.close
               for a, b in itertools.pairwise(candles))
    assert all(c.low <= min(c.open, c.close) and c.high >= max(c.open, c.close) for c in candles)
    anchor = server.market.anchor("KRW-BTC")
    assert all(anchor / 3 < c.close < anchor * 3 for c in candles)


# -- signals ---------------------------------------------------------------------------------------

SIGNALS = [
    {"type": "rsi", "params": {"period": 7}, "trigger": "overbought", "event_params": {"threshold": 70}},
    {"type": "rsi", "params": {"period": 7}, "trigger": "oversold", "event_params": {"threshold": 30}},
    {"type": "macd", "params": {"fast": 5, "slow": 35, "signal_period": 5}, "trigger": "golden_cross"},
    {"type": "macd", "params": {"fast": 5, "slow": 35, "signal_period": 5}, "trigger": "dead_cross"},
    {"type": "macd", "params": {"fast": 5, "slow": 35, "signal_period": 5},
     "trigger": "zero_cross_above"},
    {"type": "ma_crossover", "params": {"short_period": 5, "long_period": 20, "type": "SMA"},
     "trigger": "golden_cross"},
    {"type": "moving_average", "params": {"period": 5, "type": "EMA"}, "trigger": "price_cross_above"},
    {"type": "moving_average", "params": {"period": 5, "type": "EMA"}, "trigger": "price_cross_below"},
    {"type": "bollinger_bands", "params": {"period": 20, "multiplier": 2.0},
     "trigger": "price_cross_below"},
    {"type": "volume", "params": {"period": 10}, "trigger": "volume_spike",
     "event_params": {"multiplier": 2}},
]
PULSE = {"type": "rsi", "params": {"period": 2}}  # one indicator message per close: the clock


def expected_signals(candles, first, last, signals):
    """(candle time, trigger, indicator) of every not-met -> met edge from candle ``first`` to
    ``last`` (indices), by the textbook definitions."""
    out = []
    for index in range(first, last + 1):
        for item in signals:
            now = ref_met(item, ref_value(item, window_at(candles, index)), candles[index].close)
            before = ref_met(item, ref_value(item, window_at(candles, index - 1)),
                             candles[index - 1].close)
            if now and not before:
                out.append((candles[index].candle_date_time_utc, item["trigger"], item["type"]))
    return out


def run_signals(server, session, signals, closes):
    """Subscribe to ``signals`` and a pulse, read ``closes`` closes; the messages and candles."""
    session.subscribe(
        {"type": "indicator_signal", "codes": ["KRW-BTC"], "timeframe": "5m", "indicators": signals},
        {"type": "indicator", "codes": ["KRW-BTC"], "timeframe": "5m", "indicators": [PULSE]},
    )
    pulses = []

    def done(message):
        if message["type"] == "indicator":
            pulses.append(message)
        return len(pulses) == closes

    messages = session.until(done, timeout=10)
    return [m for m in messages if m["type"] == "indicator_signal"], pulses


def test_signals_fire_once_per_edge_exactly_as_computed(make_server, connect_info):
    server = make_server(**FAST_CANDLES)
    session = connect_info(server)

    fired, pulses = run_signals(server, session, SIGNALS, closes=80)

    candles = server.candles("KRW-BTC", "5m")
    index = {c.candle_date_time_utc: i for i, c in enumerate(candles)}
    first, last = index[pulses[0]["candle_date_time_utc"]], index[pulses[-1]["candle_date_time_utc"]]
    got = [(m["candle_date_time_utc"], m["trigger"], m["indicator"]) for m in fired]
    want = expected_signals(candles, first, last, SIGNALS)
    assert sorted(got) == sorted(want)
    assert len(got) >= 5  # the walk does cross: this test has something to check
    assert len(set(got)) == len(got)  # never twice for one candle
    for message in fired:
        item = next(s for s in SIGNALS if (s["type"], s["trigger"], s["params"])
                    == (message["indicator"], message["trigger"], message["params"]))
        assert message["event_params"] == item.get("event_params", {})
        at = index[message["candle_date_time_utc"]]
        assert_close(message["value"], ref_value(item, window_at(candles, at)))


def subscribe_with_pulse(session, code, signal):
    session.subscribe(
        {"type": "indicator_signal", "codes": [code], "timeframe": "5m", "indicators": [signal]},
        {"type": "indicator", "codes": [code], "timeframe": "5m", "indicators": [PULSE]},
    )
    session.until(lambda m: m["type"] == "indicator")  # listening: the next closes are heard


def read_through_script(server, session, code, script):
    """Script the next closes and read until the pulse of the last scripted candle; returns the
    messages, the candles and the index of the first scripted candle."""
    server.script_candles(code, "5m", script)

    def start_of(candles):
        return next((i for i, c in enumerate(candles) if c.close == script[0]), None)

    def past_script(message):
        if message["type"] != "indicator":
            return False
        candles = server.candles(code, "5m")
        start = start_of(candles)
        if start is None or start + len(script) > len(candles):
            return False
        last = candles[start + len(script) - 1]
        return message["candle_date_time_utc"] >= last.candle_date_time_utc

    messages = session.until(past_script, timeout=5)
    candles = server.candles(code, "5m")
    start = start_of(candles)
    assert [c.close for c in candles[start:start + len(script)]] == script
    return messages, candles, start


def test_a_signal_stays_silent_while_its_condition_holds_and_fires_again_after_it_lapses(
        make_server, connect_info):
    server = make_server(**FAST_CANDLES)
    session = connect_info(server)
    subscribe_with_pulse(session, "KRW-BTC", {"type": "moving_average", "trigger": "price_cross_above",
                                              "params": {"period": 5, "type": "SMA"}})
    price = server.market.anchor("KRW-BTC")
    low = [price * (0.5 - 0.001 * i) for i in range(6)]
    high = [price * (1.5 + 0.001 * i) for i in range(4)]
    script = low + high + low[:3] + high[:2]  # below, above for 4, below for 3, above for 2

    messages, candles, start = read_through_script(server, session, "KRW-BTC", script)

    scripted = [c.candle_date_time_utc for c in candles[start:start + len(script)]]
    fired = [m["candle_date_time_utc"] for m in messages if m["type"] == "indicator_signal"]
    assert [stamp for stamp in fired if stamp in scripted] == [scripted[6], scripted[13]]


def test_an_rsi_threshold_is_crossed_once_per_fall_on_scripted_closes(make_server, connect_info):
    server = make_server(**FAST_CANDLES)
    session = connect_info(server)
    oversold = {"type": "rsi", "params": {"period": 7}, "trigger": "oversold",
                "event_params": {"threshold": 30}}
    subscribe_with_pulse(session, "KRW-ETH", oversold)
    price = server.market.anchor("KRW-ETH")
    rise = [price * (1.2 + 0.02 * i) for i in range(1, 11)]         # 0-9: up
    fall = [rise[-1] * (1 - 0.02 * i) for i in range(1, 9)]          # 10-17: down, RSI to ~0
    recover = [fall[-1] * (1 + 0.03 * i) for i in range(1, 9)]      # 18-25: up again
    fall_again = [recover[-1] * (1 - 0.03 * i) for i in range(1, 11)]  # 26-35: down again
    script = rise + fall + recover + fall_again

    messages, candles, start = read_through_script(server, session, "KRW-ETH", script)

    scripted = {c.candle_date_time_utc: i - start
                for i, c in enumerate(candles[start:start + len(script)], start)}
    fired = [scripted[m["candle_date_time_utc"]] for m in messages
             if m["type"] == "indicator_signal" and m["candle_date_time_utc"] in scripted]
    want = [scripted[stamp] for stamp, _, _ in
            expected_signals(candles, start, start + len(script) - 1, [oversold])]
    assert fired == want
    assert len([i for i in want if 10 <= i <= 17]) == 1
    assert len([i for i in want if 26 <= i <= 35]) == 1
    assert all(10 <= i <= 17 or 26 <= i <= 35 for i in want)


def test_a_bollinger_middle_rule_changes_what_crosses(make_server, connect_info):
    server = make_server(channel_rules=ChannelRules(bollinger_band="middle"), **FAST_CANDLES)
    session = connect_info(server)
    cross = {"type": "bollinger_bands", "params": {"period": 20, "multiplier": 2.0},
             "trigger": "price_cross_above"}

    fired, pulses = run_signals(server, session, [cross], closes=60)

    candles = server.candles("KRW-BTC", "5m")
    index = {c.candle_date_time_utc: i for i, c in enumerate(candles)}
    want = []
    for i in range(index[pulses[0]["candle_date_time_utc"]], index[pulses[-1]["candle_date_time_utc"]] + 1):
        mid_now = ref_bollinger([c.close for c in window_at(candles, i)], 20, 2.0)[1]
        mid_before = ref_bollinger([c.close for c in window_at(candles, i - 1)], 20, 2.0)[1]
        if candles[i].close > mid_now and not candles[i - 1].close > mid_before:
            want.append(candles[i].candle_date_time_utc)
    assert [m["candle_date_time_utc"] for m in fired] == want
    assert want
