"""Indicator, signal and announcement requests and messages without a socket: what make_spec takes,
what build_request sends, and how frames decode (docs/channels.md §2-§5)."""

from __future__ import annotations

import json

import pytest

import upbit_sync as us
from upbit_sync import formats
from upbit_sync.errors import DecodeError, SubscriptionError
from upbit_sync.protocol import build_request, make_spec, to_message, typed_decoder


def test_helpers_and_upbits_dicts_ask_for_the_same_thing() -> None:
    helpers = make_spec("indicator_signal", ["KRW-BTC"], timeframe="15m",
                        indicators=[us.RSI(14).oversold(30), us.MACD().golden_cross()])
    dicts = make_spec("indicator_signal", ["KRW-BTC"], timeframe="15m", indicators=[
        {"type": "rsi", "params": {"period": 14.0}, "trigger": "oversold", "event_params": {"threshold": 30}},
        {"type": "macd", "params": {"signal_period": 9, "slow": 26, "fast": 12}, "trigger": "golden_cross"},
    ])
    assert helpers == dicts
    assert [item.as_dict() for item in helpers.indicators] == [
        {"type": "rsi", "params": {"period": 14}, "trigger": "oversold", "event_params": {"threshold": 30}},
        {"type": "macd", "params": {"fast": 12, "slow": 26, "signal_period": 9}, "trigger": "golden_cross"},
    ]


def test_repeated_indicators_and_categories_are_asked_once() -> None:
    twice = [us.RSI(14), us.RSI(14), us.SMA(20)]
    spec = make_spec("indicator", ["KRW-BTC"], timeframe="5m", indicators=twice)
    assert spec.indicators == (us.RSI(14), us.SMA(20))
    assert make_spec("announcement", categories=["trade", "trade"]).categories == ("trade",)


def test_a_single_indicator_needs_no_list() -> None:
    assert make_spec("indicator", "KRW-BTC", timeframe="1d", indicators=us.MACD()).indicators == (us.MACD(),)


@pytest.mark.parametrize(("indicators", "match"), [
    (["rsi"], "an indicator is an IndicatorSpec .* not 'rsi'"),
    ([None], "an indicator is an IndicatorSpec .* not None"),
    ("rsi", "indicators must be a list of indicators, not 'rsi'"),
    (14, "indicators must be a list of indicators, not 14"),
    ([{"type": "rsi", "params": {"period": 14}, "window": 3}], "unknown key.*window"),
], ids=repr)
def test_indicators_that_are_not_specs_or_dicts_are_named(indicators, match) -> None:
    with pytest.raises(SubscriptionError, match=match):
        make_spec("indicator", ["KRW-BTC"], timeframe="5m", indicators=indicators)


def test_is_only_snapshot_is_refused_for_the_realtime_types() -> None:
    with pytest.raises(SubscriptionError, match="no snapshot"):
        make_spec("announcement", is_only_snapshot=True)


def test_the_request_has_one_object_per_timeframe_and_list_and_no_snapshot_flags() -> None:
    a = make_spec("indicator", ["KRW-BTC"], timeframe="60m", indicators=[us.RSI(14)])
    b = make_spec("indicator", ["KRW-ETH"], timeframe="60m", indicators=[us.RSI(14)])
    c = make_spec("indicator", ["KRW-BTC"], timeframe="5m", indicators=[us.RSI(14)])
    frame = json.loads(build_request([a, b, c], "SIMPLE", ticket="t"))
    assert frame == [
        {"ticket": "t"},
        {"type": "indicator", "codes": ["KRW-BTC", "KRW-ETH"], "timeframe": "60m",
         "indicators": [{"type": "rsi", "params": {"period": 14}}]},
        {"type": "indicator", "codes": ["KRW-BTC"], "timeframe": "5m",
         "indicators": [{"type": "rsi", "params": {"period": 14}}]},
        {"format": "SIMPLE"},
    ]


@pytest.mark.parametrize(("asks", "expected"), [
    ([dict(categories=["trade"]), dict(categories=["notice"], include_body=True)],
     {"type": "announcement", "categories": ["trade", "notice"], "include_body": True}),
    ([dict(categories=["trade"]), {}], {"type": "announcement"}),
    ([{}], {"type": "announcement"}),
])
def test_announcement_asks_become_one_object(asks, expected) -> None:
    frame = json.loads(build_request([make_spec("announcement", **ask) for ask in asks], "DEFAULT"))
    assert frame[1:] == [expected, {"format": "DEFAULT"}]


def test_a_spec_accepts_only_messages_it_asked_for() -> None:
    spec = make_spec("indicator", ["KRW-BTC"], timeframe="60m", indicators=[us.MovingAverage(20, "EMA")])
    base = {"type": "indicator", "code": "KRW-BTC", "timeframe": "60m", "indicator": "moving_average",
            "params": {"type": "EMA", "period": 20.0}}
    assert spec.accepts(base)
    assert not spec.accepts({**base, "timeframe": "15m"})
    assert not spec.accepts({**base, "params": {"period": 20, "type": "SMA"}})
    assert not spec.accepts({**base, "indicator": "stoch"})
    news = make_spec("announcement", categories=["wallet"])
    assert news.accepts({"category": "wallet"}) and not news.accepts({"category": "trade"})


# ---- messages -------------------------------------------------------------------------------------------


SIGNAL = {"type": "indicator_signal", "code": "KRW-BTC", "timeframe": "15m", "indicator": "volume",
          "trigger": "volume_spike", "params": {"period": 20}, "event_params": {"multiplier": 3},
          "value": {"volume": 12.5, "avg_volume": 4.0, "ratio": 3.125},
          "candle_date_time_utc": "2026-10-21T04:00:00", "timestamp": 1792556100180,
          "stream_type": "REALTIME"}


def test_indicator_key_maps_rename_the_nested_objects() -> None:
    simple = formats.to_simple(SIGNAL)
    assert simple["p"] == {"p": 20} and simple["ep"] == {"mul": 3}
    assert simple["v"] == {"vol": 12.5, "av": 4.0, "rto": 3.125}
    assert formats.to_default(simple) == SIGNAL


@pytest.mark.parametrize("simple", [False, True], ids=["DEFAULT", "SIMPLE"])
def test_a_signal_decodes_into_its_records(simple) -> None:
    message = to_message(formats.to_simple(SIGNAL) if simple else dict(SIGNAL))
    assert type(message) is us.IndicatorSignal
    assert message.params == us.VolumeParams(20) and message.event_params == us.EventParams(multiplier=3)
    assert message.value == us.VolumeValue(12.5, 4.0, 3.125)
    assert message.raw == SIGNAL


def test_values_sent_as_text_are_read_as_numbers() -> None:
    message = to_message({**SIGNAL, "value": {"volume": "12.5", "avg_volume": "4", "ratio": "3.125"}})
    assert message.value == us.VolumeValue(12.5, 4.0, 3.125)


def test_an_indicator_new_to_this_version_keeps_its_objects_as_mappings() -> None:
    message = to_message({**SIGNAL, "indicator": "stochastic", "params": {"k": 14, "d": 3},
                          "value": {"k": 80.5, "d": 75.0}, "event_params": {}})
    assert message.params == {"k": 14, "d": 3} and message.value == {"k": 80.5, "d": 75.0}


@pytest.mark.parametrize("change", [{"value": {"ratio": 1.0}}, {"params": None}, {"timestamp": "late"}],
                         ids=["missing value", "null params", "text timestamp"])
def test_a_malformed_indicator_is_a_decode_error_naming_the_field(change) -> None:
    with pytest.raises(DecodeError, match="malformed indicator_signal frame"):
        to_message({**SIGNAL, **change})


def test_the_strict_decoder_takes_announcements_and_leaves_indicators_to_the_careful_path() -> None:
    decode = typed_decoder("SIMPLE")
    assert decode is not None
    notice = {"ty": "announcement", "uid": "u-1", "tt": "title", "cat": "trade", "et": "UPDATED",
              "url": "https://example.invalid/n", "bd": None, "flat": "2026-10-21T14:30:00+09:00",
              "lat": "2026-10-21T15:00:00+09:00", "tms": 1, "st": "REALTIME"}
    message = decode(json.dumps(notice).encode())
    assert type(message) is us.Announcement and message.event_type is us.EventType.UPDATED
    assert message.code is None and message.listed_at == "2026-10-21T15:00:00+09:00"
    with pytest.raises(Exception):  # noqa: B017 - msgspec's ValidationError: the careful path takes it
        decode(json.dumps(formats.to_simple(SIGNAL)).encode())


def test_an_announcement_may_lack_any_field() -> None:
    message = to_message({"type": "announcement"})
    assert type(message) is us.Announcement and message.title is None and message.body is None
