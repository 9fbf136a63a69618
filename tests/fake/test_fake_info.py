"""The info endpoint, /websocket/v1/info: JWT like the private one, indicator and indicator_signal
requests (merged, replaced, refused with Upbit's error names), formats, PING and the limits
(docs/channels.md §1-§4, §6, §7)."""

from __future__ import annotations

import itertools
import json

import pytest
import websocket

from upbit_sync.testing import INFO_PATH, TEST_ACCESS_KEY, ChannelRules, bearer, make_token
from upbit_sync.testing.indicators import WINDOW

FAST_CANDLES = {"time_scale": 15_000.0}  # a 5-minute candle closes every 20 ms
RSI = {"type": "rsi", "params": {"period": 14}}


def indicator(*items, codes=("KRW-BTC",), timeframe="5m", kind="indicator"):
    return {"type": kind, "codes": list(codes), "timeframe": timeframe, "indicators": list(items)}


# -- the endpoint and its JWT ----------------------------------------------------------------------


def test_info_url_is_the_third_path(server):
    assert server.info_url == f"ws://127.0.0.1:{server.port}/websocket/v1/info"
    assert INFO_PATH == "/websocket/v1/info"


@pytest.mark.parametrize("algorithm", ["HS256", "HS512"])
def test_a_valid_token_opens_the_info_endpoint(make_server, connect_info, algorithm):
    server = make_server(**FAST_CANDLES)
    session = connect_info(server, algorithm=algorithm)
    session.subscribe(indicator(RSI))

    message = session.message()

    assert message["type"] == "indicator"
    conn = server.connections[0]
    assert conn.is_info and not conn.is_private and conn.path == INFO_PATH
    assert conn.authorized_access_key == TEST_ACCESS_KEY


BAD_TOKENS = {
    "missing token": [],
    "bad secret": [f"Authorization: {bearer(make_token(secret_key='x' * 40))}"],
    "unknown access key": [f"Authorization: {bearer(make_token(access_key='nobody'))}"],
    "not bearer": [f"Authorization: Basic {make_token()}"],
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_without_a_valid_token_the_info_endpoint_sends_invalid_auth_then_closes(server, connect,
                                                                                 case):
    session = connect(server.info_url, header=BAD_TOKENS[case])

    error = session.message()
    code, _, _ = session.expect_close()

    assert error["error"]["name"] == "INVALID_AUTH"
    assert code == 1000
    assert server.connections[0].authorized_access_key is None


def test_without_a_token_the_info_upgrade_gets_401_in_http_mode(make_server):
    server = make_server(auth_failure="http")

    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(server.info_url, timeout=3, suppress_origin=True)

    assert refused.value.status_code == 401
    assert server.connect_attempts[-1].path == INFO_PATH
    assert server.connections_opened == 0


def test_the_info_endpoint_takes_the_keys_the_private_one_takes(make_server, connect_info):
    secret = "another-secret-of-forty-characters-01234"
    server = make_server(keys={"other-access": secret}, **FAST_CANDLES)

    refused = connect_info(server)  # the default test key is not one of this server's
    accepted = connect_info(server, access_key="other-access", secret_key=secret)
    accepted.subscribe(indicator(RSI))

    assert refused.message()["error"]["name"] == "INVALID_AUTH"
    assert accepted.message()["type"] == "indicator"


def test_a_nonce_used_on_the_private_endpoint_is_refused_on_the_info_one(server, connect):
    header = [f"Authorization: {bearer(make_token(nonce='once-for-both'))}"]
    connect(server.private_url, header=header).subscribe({"type": "myAsset"})
    info = connect(server.info_url, header=header)

    assert info.message()["error"]["name"] == "INVALID_AUTH"
    assert server.connect_attempts[-1].reason == "nonce reused"


# -- which types go where --------------------------------------------------------------------------


@pytest.mark.parametrize("request_type", [
    {"type": "ticker", "codes": ["KRW-BTC"]}, {"type": "myOrder"}, {"type": "announcement"},
])
def test_the_info_endpoint_refuses_other_types(server, connect_info, request_type):
    session = connect_info(server)
    session.subscribe(request_type)

    error = session.message()

    assert error["error"]["name"] == "INVALID_PARAM"
    assert request_type["type"] in error["error"]["message"]


def test_indicator_types_are_refused_on_the_public_endpoint(server, connect):
    session = connect(server.public_url)
    session.subscribe(indicator(RSI))

    assert session.message()["error"]["name"] == "INVALID_PARAM"


def test_indicator_types_are_refused_on_the_private_endpoint_by_default(server, connect, auth):
    session = connect(server.private_url, header=auth())
    session.subscribe(indicator(RSI))

    assert session.message()["error"]["name"] == "INVALID_PARAM"


def test_a_rule_serves_indicator_types_on_the_private_endpoint_too(make_server, connect, auth):
    server = make_server(channel_rules=ChannelRules(indicators_on_private=True), **FAST_CANDLES)
    session = connect(server.private_url, header=auth())
    session.subscribe(indicator(RSI), {"type": "myAsset"})

    message = session.message()

    assert message["type"] == "indicator" and message["code"] == "KRW-BTC"


# -- bad requests (§6) -----------------------------------------------------------------------------

MACD = {"fast": 12, "slow": 26, "signal_period": 9}
BAD = [
    ("non-KRW code", indicator(RSI, codes=["BTC-ETH"]), "INVALID_PARAM"),
    ("orderbook suffix", indicator(RSI, codes=["KRW-BTC.5"]), "INVALID_PARAM"),
    ("lowercase code", indicator(RSI, codes=["krw-btc"]), "INVALID_PARAM"),
    ("no codes", {"type": "indicator", "timeframe": "5m", "indicators": [RSI]}, "NO_CODES"),
    ("empty codes", indicator(RSI, codes=[]), "NO_CODES"),
    ("codes not a list", dict(indicator(RSI), codes="KRW-BTC"), "WRONG_FORMAT"),
    ("bad timeframe", indicator(RSI, timeframe="1m"), "INVALID_PARAM"),
    ("no timeframe", {"type": "indicator", "codes": ["KRW-BTC"], "indicators": [RSI]},
     "INVALID_PARAM"),
    ("no indicators", {"type": "indicator", "codes": ["KRW-BTC"], "timeframe": "5m"},
     "INVALID_PARAM"),
    ("empty indicators", indicator(), "INVALID_PARAM"),
    ("indicators not a list", dict(indicator(), indicators=RSI), "WRONG_FORMAT"),
    ("item not an object", indicator("rsi"), "WRONG_FORMAT"),
    ("unknown indicator", indicator({"type": "stochastic", "params": {"period": 14}}),
     "INVALID_PARAM"),
    ("no params", indicator({"type": "rsi"}), "INVALID_PARAM"),
    ("unlisted period", indicator({"type": "rsi", "params": {"period": 15}}), "INVALID_PARAM"),
    ("fractional period", indicator({"type": "rsi", "params": {"period": 14.5}}), "INVALID_PARAM"),
    ("period as a string", indicator({"type": "rsi", "params": {"period": "14"}}), "INVALID_PARAM"),
    ("MA without a type", indicator({"type": "moving_average", "params": {"period": 20}}),
     "INVALID_PARAM"),
    ("MA of an unknown type",
     indicator({"type": "moving_average", "params": {"period": 20, "type": "WMA"}}), "INVALID_PARAM"),
    ("mismatched MA pair", indicator({"type": "ma_crossover", "params": {
        "short_period": 5, "long_period": 60, "type": "SMA"}}), "INVALID_PARAM"),
    ("unlisted MACD set", indicator({"type": "macd", "params": {
        "fast": 12, "slow": 26, "signal_period": 5}}), "INVALID_PARAM"),
    ("Bollinger without a multiplier", indicator({"type": "bollinger_bands", "params": {"period": 20}}),
     "INVALID_PARAM"),
    ("Bollinger multiplier 0", indicator({"type": "bollinger_bands", "params": {
        "period": 20, "multiplier": 0}}), "INVALID_PARAM"),
    ("signal without a trigger", indicator({"type": "macd", "params": MACD}, kind="indicator_signal"),
     "INVALID_PARAM"),
    ("unknown trigger", indicator({"type": "macd", "params": MACD, "trigger": "overbought"},
                                  kind="indicator_signal"), "INVALID_PARAM"),
    ("missing event params", indicator({"type": "rsi", "params": {"period": 14},
                                        "trigger": "overbought"}, kind="indicator_signal"),
     "INVALID_PARAM"),
    ("unlisted threshold", indicator({"type": "rsi", "params": {"period": 14}, "trigger": "overbought",
                                      "event_params": {"threshold": 75}}, kind="indicator_signal"),
     "INVALID_PARAM"),
    ("event params where none are taken", indicator(
        {"type": "macd", "params": MACD, "trigger": "golden_cross", "event_params": {"threshold": 70}},
        kind="indicator_signal"), "INVALID_PARAM"),
    ("event params not an object", indicator(
        {"type": "volume", "params": {"period": 10}, "trigger": "volume_spike", "event_params": 2},
        kind="indicator_signal"), "WRONG_FORMAT"),
    ("period allowed for indicator but not for signals", indicator(
        {"type": "rsi", "params": {"period": 2}, "trigger": "oversold", "event_params": {"threshold": 30}},
        kind="indicator_signal"), "INVALID_PARAM"),
    ("Bollinger period 10 on a signal", indicator(
        {"type": "bollinger_bands", "params": {"period": 10, "multiplier": 2.0},
         "trigger": "price_cross_above"}, kind="indicator_signal"), "INVALID_PARAM"),
]


@pytest.mark.parametrize(("request_type", "name"), [case[1:] for case in BAD],
                         ids=[case[0] for case in BAD])
def test_a_bad_indicator_request_gets_its_error_then_close_1000(server, connect_info, request_type,
                                                                name):
    session = connect_info(server)
    session.subscribe(request_type)

    error = session.message()
    code, _, _ = session.expect_close()

    assert error["error"]["name"] == name
    assert error["error"]["message"]
    assert code == 1000


@pytest.mark.parametrize(("text", "name"), [
    ("not json", "WRONG_FORMAT"),
    (json.dumps([indicator(RSI)]), "NO_TICKET"),
    (json.dumps([{"ticket": "t"}]), "NO_TYPE"),
    (json.dumps([{"ticket": "t"}, indicator(RSI), {"format": "XML"}]), "WRONG_FORMAT"),
])
def test_the_general_errors_hold_on_the_info_endpoint(server, connect_info, text, name):
    session = connect_info(server)
    session.ws.send(text)

    assert session.message()["error"]["name"] == name


def test_an_unlisted_period_names_the_problem(server, connect_info):
    session = connect_info(server)
    session.subscribe(indicator({"type": "rsi", "params": {"period": 15}}))

    error = session.message()["error"]

    assert error["name"] == "INVALID_PARAM" and "period=15" in error["message"]


def test_indicator_errors_ignore_leaves_the_bad_parts_out_silently(make_server, connect_info):
    server = make_server(channel_rules=ChannelRules(indicator_errors="ignore"), **FAST_CANDLES)
    session = connect_info(server)
    session.subscribe(
        indicator(RSI, {"type": "rsi", "params": {"period": 15}}, codes=["BTC-ETH", "KRW-ETH"]),
        indicator(RSI, timeframe="7m"),
    )

    messages = session.until(lambda m: m.get("type") == "indicator")

    assert "error" not in str(messages)
    assert (messages[-1]["code"], messages[-1]["params"]) == ("KRW-ETH", {"period": 14})
    assert server.connections[0].subscriptions == [
        {"type": "indicator", "codes": ["KRW-ETH"], "timeframe": "5m",
         "indicators": [{"type": "rsi", "params": {"period": 14}}]},
    ]


def test_indicator_errors_can_name_another_error_per_case(make_server, connect_info):
    server = make_server(channel_rules=ChannelRules(
        indicator_errors={"code": "NO_CODES", "timeframe": "WRONG_FORMAT"}))
    by_code, by_timeframe, by_params = connect_info(server), connect_info(server), connect_info(server)

    by_code.subscribe(indicator(RSI, codes=["USDT-BTC"]))
    by_timeframe.subscribe(indicator(RSI, timeframe="2h"))
    by_params.subscribe(indicator({"type": "rsi", "params": {"period": 99}}))

    assert by_code.message()["error"]["name"] == "NO_CODES"
    assert by_timeframe.message()["error"]["name"] == "WRONG_FORMAT"
    assert by_params.message()["error"]["name"] == "INVALID_PARAM"  # cases left out keep the default


def test_channel_rules_refuse_unknown_answers():
    with pytest.raises(ValueError):
        ChannelRules(indicator_errors="SILENCE")
    with pytest.raises(ValueError):
        ChannelRules(indicator_errors={"codes": "ignore"})


def test_empty_event_params_are_accepted_by_default_and_refused_by_a_rule(make_server, connect_info):
    cross = {"type": "macd", "params": MACD, "trigger": "golden_cross", "event_params": {}}
    lenient = make_server()
    strict = make_server(channel_rules=ChannelRules(empty_event_params=False))
    accepted, refused = connect_info(lenient), connect_info(strict)

    accepted.subscribe(indicator(cross, kind="indicator_signal"))
    refused.subscribe(indicator(cross, kind="indicator_signal"))

    assert refused.message()["error"]["name"] == "INVALID_PARAM"
    assert lenient.wait_for(lambda: lenient.connections[0].subscriptions != [])
    assert lenient.connections[0].subscriptions[0]["indicators"] == [
        {"type": "macd", "params": MACD, "trigger": "golden_cross"}]


def test_any_positive_bollinger_multiplier_by_default_a_listed_one_by_rule(make_server, connect_info):
    bands = {"type": "bollinger_bands", "params": {"period": 20, "multiplier": 2.5}}
    lenient = make_server(**FAST_CANDLES)
    strict = make_server(channel_rules=ChannelRules(bollinger_multipliers=(2.0,)))
    accepted, refused = connect_info(lenient), connect_info(strict)

    accepted.subscribe(indicator(bands))
    refused.subscribe(indicator(bands))

    assert accepted.message()["params"] == {"period": 20, "multiplier": 2.5}
    assert refused.message()["error"]["name"] == "INVALID_PARAM"


@pytest.mark.parametrize("field", ["is_only_snapshot", "is_only_realtime", "level"])
def test_fields_outside_the_schema_are_ignored_by_default_and_refused_by_a_rule(
        make_server, connect_info, field):
    lenient = make_server(**FAST_CANDLES)
    strict = make_server(channel_rules=ChannelRules(extra_fields="WRONG_FORMAT"))
    accepted, refused = connect_info(lenient), connect_info(strict)

    accepted.subscribe(dict(indicator(RSI), **{field: 0 if field == "level" else True}))
    refused.subscribe(dict(indicator(RSI), **{field: 0 if field == "level" else True}))

    assert accepted.message()["type"] == "indicator"
    assert refused.message()["error"]["name"] == "WRONG_FORMAT"


def test_an_unlisted_krw_code_is_ignored_like_an_unknown_public_code(make_server, connect_info):
    server = make_server(**FAST_CANDLES)
    session = connect_info(server)
    session.subscribe(indicator(RSI, codes=["KRW-NOPE", "KRW-BTC"]))

    first = session.message()

    assert first["code"] == "KRW-BTC"
    assert server.connections[0].subscriptions[0]["codes"] == ["KRW-NOPE", "KRW-BTC"]  # as sent


# -- merged and replaced requests ------------------------------------------------------------------


def test_several_objects_in_one_request_are_all_served(make_server, connect_info):
    server = make_server(**FAST_CANDLES)
    session = connect_info(server)
    session.subscribe(
        indicator(RSI, timeframe="5m"),
        indicator({"type": "volume", "params": {"period": 20}}, codes=["KRW-ETH"], timeframe="15m"),
        indicator({"type": "macd", "params": MACD, "trigger": "golden_cross"},
                  {"type": "macd", "params": MACD, "trigger": "dead_cross"},
                  timeframe="60m", kind="indicator_signal"),
        fmt="SIMPLE",
    )

    messages = session.until(lambda m: m["tf"] == "15m", timeout=5)

    assert {(m["cd"], m["tf"], m["ind"]) for m in messages} == {("KRW-BTC", "5m", "rsi"),
                                                               ("KRW-ETH", "15m", "volume")}
    assert [s["timeframe"] for s in server.connections[0].subscriptions] == ["5m", "15m", "60m"]
    assert server.candles("KRW-BTC", "60m")  # the signal's series runs too


def test_a_timeframe_closes_at_its_own_pace(make_server, connect_info):
    server = make_server(**FAST_CANDLES)
    session = connect_info(server)
    session.subscribe(indicator(RSI, timeframe="5m"), indicator(RSI, timeframe="15m"))
    counts = {"5m": 0, "15m": 0}

    def third_15m_close(message):
        counts[message["timeframe"]] += 1
        return counts["15m"] == 3

    session.until(third_15m_close, timeout=5)

    # 1 to 3 five-minute closes up to the first 15-minute one, then 3 per 15 minutes.
    assert 7 <= counts["5m"] <= 9


def test_a_repeated_item_is_served_once(make_server, connect_info):
    server = make_server(**FAST_CANDLES)
    session = connect_info(server)
    session.subscribe(indicator(RSI, RSI), indicator(RSI))

    first, second = session.message(), session.message()

    assert second["candle_date_time_utc"] > first["candle_date_time_utc"]


def test_a_new_request_replaces_the_indicator_set(make_server, connect_info):
    server = make_server(**FAST_CANDLES)
    session = connect_info(server)
    session.subscribe(indicator(RSI, timeframe="5m"))
    session.message()

    session.subscribe(indicator(RSI, codes=["KRW-ETH"], timeframe="5m"), ticket="second")
    messages = session.until(lambda m: m["code"] == "KRW-ETH")
    after = session.until(lambda m: m["code"] == "KRW-ETH")  # another close, all of it after

    assert all(m["code"] == "KRW-BTC" for m in messages[:-1])
    assert all(m["code"] == "KRW-ETH" for m in after)
    assert server.connections[0].subscriptions[0]["codes"] == ["KRW-ETH"]


def test_list_subscriptions_shows_the_indicator_objects(server, connect_info):
    session = connect_info(server)
    signal = {"type": "rsi", "params": {"period": 14}, "trigger": "oversold",
              "event_params": {"threshold": 30}}
    session.subscribe(indicator(RSI, codes=["KRW-BTC", "KRW-NOPE"]),
                      indicator(signal, timeframe="1d", kind="indicator_signal"))
    session.send_json([{"ticket": "list"}, {"method": "LIST_SUBSCRIPTIONS"}])

    reply = session.until(lambda m: "method" in m)[-1]

    assert reply["result"] == [
        {"type": "indicator", "codes": ["KRW-BTC"], "timeframe": "5m", "indicators": [RSI]},
        {"type": "indicator_signal", "codes": ["KRW-BTC"], "timeframe": "1d", "indicators": [signal]},
    ]


# -- formats ---------------------------------------------------------------------------------------

# The SIMPLE names, as docs/channels.md §3 lists them.
SIMPLE_TOP = {"type": "ty", "code": "cd", "timeframe": "tf", "indicator": "ind", "params": "p",
              "value": "v", "candle_date_time_utc": "cdttmu", "timestamp": "tms", "stream_type": "st",
              "trigger": "tr", "event_params": "ep"}
SIMPLE_PARAM = {"period": "p", "type": "t", "short_period": "shp", "long_period": "lop",
                "multiplier": "m", "fast": "f", "slow": "s", "signal_period": "sgp"}
SIMPLE_VALUE = {"volume": "vol", "avg_volume": "av", "ratio": "rto", "rsi": "rsi", "value": "value",
                "ma_short": "mas", "ma_long": "mal", "bb_upper": "bbu", "bb_middle": "bbm",
                "bb_lower": "bbl", "macd": "macd", "macd_signal": "macds", "histogram": "hist"}
EVERY_KIND = [
    {"type": "volume", "params": {"period": 5}},
    RSI,
    {"type": "moving_average", "params": {"period": 3, "type": "SMA"}},
    {"type": "ma_crossover", "params": {"short_period": 20, "long_period": 60, "type": "EMA"}},
    {"type": "bollinger_bands", "params": {"period": 10, "multiplier": 1.5}},
    {"type": "macd", "params": {"fast": 8, "slow": 17, "signal_period": 9}},
]


def as_simple(message):
    out = {}
    for key, value in message.items():
        if key == "params":
            value = {SIMPLE_PARAM[k]: v for k, v in value.items()}
        elif key == "value":
            value = {SIMPLE_VALUE[k]: v for k, v in value.items()}
        elif key == "event_params":
            value = {{"multiplier": "mul", "threshold": "th"}[k]: v for k, v in value.items()}
        out[SIMPLE_TOP[key]] = value
    return out


def one_candle_of_each_kind(session, after, time_key, kind_key):
    """The messages of the first candle later than ``after``, by indicator."""
    got = {}

    def complete(message):
        if message[time_key] > after:
            got[message[kind_key]] = message
        return len(got) == len(EVERY_KIND)

    session.until(complete, timeout=5)
    return got


def test_simple_and_default_carry_the_same_message_under_their_names(make_server, connect_info):
    server = make_server(**FAST_CANDLES)
    default, simple = connect_info(server), connect_info(server)
    default.subscribe(indicator(*EVERY_KIND), fmt="DEFAULT")
    simple.subscribe(indicator(*EVERY_KIND), fmt="SIMPLE")
    listening = max(default.message()["candle_date_time_utc"], simple.message()["cdttmu"])

    as_default = one_candle_of_each_kind(default, listening, "candle_date_time_utc", "indicator")
    as_simple_ = one_candle_of_each_kind(simple, listening, "cdttmu", "ind")

    assert set(as_default) == {k["type"] for k in EVERY_KIND}
    for kind, message in as_simple_.items():
        assert message == as_simple(as_default[kind])
    assert set(as_default["macd"]) == {"type", "code", "timeframe", "indicator", "params", "value",
                                       "candle_date_time_utc", "timestamp", "stream_type"}


def test_signals_use_their_simple_names_too(make_server, connect_info):
    server = make_server(**FAST_CANDLES)
    session = connect_info(server)
    # Met at every other close at most, but one of the two always goes from not met to met soon.
    session.subscribe(indicator(
        {"type": "rsi", "params": {"period": 7}, "trigger": "overbought", "event_params": {"threshold": 70}},
        {"type": "rsi", "params": {"period": 7}, "trigger": "oversold", "event_params": {"threshold": 30}},
        kind="indicator_signal"), fmt="SIMPLE")

    message = session.message(timeout=10)

    assert message["ty"] == "indicator_signal" and message["ind"] == "rsi"
    assert message["tr"] in ("overbought", "oversold")
    assert message["p"] == {"p": 7} and set(message["ep"]) == {"th"}
    assert set(message["v"]) == {"rsi"} and message["st"] == "REALTIME"


@pytest.mark.parametrize(("fmt", "key"), [("JSON_LIST", "type"), ("SIMPLE_LIST", "ty")])
def test_list_formats_wrap_each_message(make_server, connect_info, fmt, key):
    server = make_server(**FAST_CANDLES)
    session = connect_info(server)
    session.subscribe(indicator(RSI), fmt=fmt)

    message = session.message()

    assert isinstance(message, list) and message[0][key] == "indicator"


def test_rules_can_send_values_as_strings_and_the_close_as_candle_time(make_server, connect_info):
    server = make_server(channel_rules=ChannelRules(value_strings=True, candle_time="close"),
                         **FAST_CANDLES)
    session = connect_info(server)
    session.subscribe(indicator(RSI))

    message = session.message()

    first_close = server.candles("KRW-BTC", "5m")[WINDOW]
    assert _epoch(message["candle_date_time_utc"]) == first_close.start + 300
    assert isinstance(message["value"]["rsi"], str)
    assert 0 <= float(message["value"]["rsi"]) <= 100


def _epoch(text):
    from datetime import datetime, timezone

    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()


# -- the clock, PING and the limits ----------------------------------------------------------------


def test_time_scale_closes_several_5_minute_candles_within_a_second(make_server, connect_info):
    server = make_server(time_scale=3000.0)  # a 5-minute candle every 0.1 s
    session = connect_info(server)
    session.subscribe(indicator(RSI))

    messages = [session.message(timeout=1.0) for _ in range(4)]

    starts = [_epoch(m["candle_date_time_utc"]) for m in messages]
    assert [b - a for a, b in itertools.pairwise(starts)] == [300.0] * 3
    assert all(s % 300 == 0 for s in starts)


def test_time_scale_can_change_while_running(make_server, connect_info):
    server = make_server(time_scale=1.0)  # real time: no 5-minute close within the test
    session = connect_info(server)
    session.subscribe(indicator(RSI))
    assert server.wait_for(lambda: server.candles("KRW-BTC", "5m") != [])

    server.time_scale = 30_000.0

    assert session.message(timeout=2.0)["type"] == "indicator"
    with pytest.raises(ValueError):
        server.time_scale = 0


def test_ping_gets_status_up_on_the_info_endpoint(server, connect_info):
    session = connect_info(server)

    session.ws.send("PING")

    assert session.message(timeout=1.0) == {"status": "UP"}
    assert server.connections[0].pings == 1


def test_info_requests_count_toward_the_message_limit(make_server, connect_info):
    server = make_server(message_limit=(2, 100))
    session = connect_info(server)

    for _ in range(3):
        session.subscribe(indicator(RSI))
    code, _, before = session.expect_close()

    assert [m["error"]["name"] for m in before if "error" in m] == ["Too Many Requests"]
    assert code == 1000


def test_info_upgrades_count_toward_the_connect_limit(make_server, auth):
    server = make_server(connect_limit=2)
    websocket.create_connection(server.public_url, timeout=3, suppress_origin=True).close()
    websocket.create_connection(server.info_url, timeout=3, header=auth(), suppress_origin=True).close()

    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(server.info_url, timeout=3, header=auth(), suppress_origin=True)

    assert refused.value.status_code == 429
    assert [a.path for a in server.connect_attempts][-1] == INFO_PATH


def test_while_silenced_candles_close_unheard(make_server, connect_info):
    server = make_server(**FAST_CANDLES)
    session = connect_info(server)
    session.subscribe(indicator(RSI))
    session.message()

    server.silence()
    count = len(server.candles("KRW-BTC", "5m"))  # from here on, every close is a silent one
    assert server.wait_for(lambda: len(server.candles("KRW-BTC", "5m")) >= count + 3)
    server.silence(False)
    silent = {c.candle_date_time_utc for c in server.candles("KRW-BTC", "5m")[count:count + 3]}
    later = session.until(lambda m: m["candle_date_time_utc"] > max(silent))

    assert not silent & {m["candle_date_time_utc"] for m in later}
