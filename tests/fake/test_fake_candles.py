"""The fake exchange's REST candles, driven by plain ``requests`` and a raw WebSocket: every unit's
path, Upbit's parameters and its answers to bad ones, newest first, ``to`` exclusive; bars made of the
same trades as the WebSocket candles (a closed bucket's last candle message equals its REST bar);
a seeded synthetic past; both readings of ``count``; quiet periods."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from upbit_sync.testing.rest_quotation import CANDLE_PATHS

FIGURES = ("opening_price", "high_price", "low_price", "trade_price", "candle_acc_trade_volume",
           "candle_acc_trade_price")
PAST = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(days=1)


def text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def candles(client: Any, path: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(path, {"market": "KRW-BTC", **params})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def starts(rows: list[dict[str, Any]]) -> list[str]:
    return [row["candle_date_time_utc"] for row in rows]


@pytest.mark.parametrize("path", sorted(CANDLE_PATHS))
def test_every_unit_answers_newest_first_with_upbit_s_fields(server, rest, path):
    rows = candles(rest(server), path, count=3, to=text(PAST))
    assert len(rows) == 3 and starts(rows) == sorted(starts(rows), reverse=True)
    assert all(row["candle_date_time_utc"] < PAST.strftime("%Y-%m-%dT%H:%M:%S") for row in rows)
    assert set(rows[0]) >= {"market", "candle_date_time_utc", "candle_date_time_kst", "timestamp", *FIGURES}
    assert all(row["low_price"] <= min(row["opening_price"], row["trade_price"])
               <= max(row["opening_price"], row["trade_price"]) <= row["high_price"] for row in rows)
    if "/minutes/" in path:
        assert rows[0]["unit"] == int(path.rsplit("/", 1)[1])
    if path.endswith(("weeks", "months", "years")):
        assert rows[0]["first_day_of_period"] == rows[0]["candle_date_time_utc"][:10]
    if path.endswith("days"):
        assert rows[0]["prev_closing_price"] == rows[1]["trade_price"]


def test_count_defaults_to_one_and_above_200_is_a_validation_error(server, rest):
    client = rest(server)
    assert len(candles(client, "/v1/candles/minutes/1", to=text(PAST))) == 1
    assert len(candles(client, "/v1/candles/minutes/1", to=text(PAST), count=200)) == 200
    for count in ("201", "0", "x"):
        answer = client.get("/v1/candles/minutes/1", {"market": "KRW-BTC", "count": count})
        assert answer.status_code == 400 and answer.json()["error"]["name"] == "validation_error"


def test_to_is_exclusive_and_read_in_each_of_upbit_s_forms(server, rest):
    client = rest(server)
    kst = PAST.astimezone(timezone(timedelta(hours=9)))
    forms = [text(PAST), PAST.strftime("%Y-%m-%d %H:%M:%S"), kst.strftime("%Y-%m-%dT%H:%M:%S+09:00")]
    answers = [candles(client, "/v1/candles/minutes/1", count=2, to=form) for form in forms]
    assert answers[0] == answers[1] == answers[2]
    assert starts(answers[0]) == [(PAST - timedelta(minutes=k)).strftime("%Y-%m-%dT%H:%M:%S") for k in (1, 2)]
    for bad in ("1700000000000", "yesterday", "2025-13-01T00:00:00Z"):
        answer = client.get("/v1/candles/minutes/1", {"market": "KRW-BTC", "to": bad})
        assert answer.status_code == 400 and answer.json()["error"]["name"] == "validation_error"


def test_an_unlisted_market_is_code_not_found(server, rest):
    answer = rest(server).get("/v1/candles/days", {"market": "KRW-NOPE"})
    assert answer.status_code == 404 and answer.json()["error"]["message"] == "Code not found"


def test_seconds_candles_reach_back_three_months_only(server, rest):
    old = datetime.now(timezone.utc) - timedelta(days=91)
    assert candles(rest(server), "/v1/candles/seconds", count=5, to=text(old)) == []


def test_the_synthetic_past_is_the_seed_s_and_has_450_minutes_and_more(make_server, rest):
    one, other = make_server(seed=11), make_server(seed=11)
    pages = []
    for server in (one, other):
        client = rest(server)
        found: list[dict[str, Any]] = []
        for _ in range(3):  # each page before the oldest of the last
            to = found[-1]["candle_date_time_utc"] + "Z" if found else text(PAST)
            found += candles(client, "/v1/candles/minutes/1", count=200, to=to)
        pages.append(found)
    assert pages[0] == pages[1] and len(pages[0]) == 600 and len(set(starts(pages[0]))) == 600
    different = candles(rest(make_server(seed=12)), "/v1/candles/minutes/1", count=200, to=text(PAST))
    assert different != pages[0][:200]


def test_a_closed_bucket_s_last_websocket_candle_equals_its_rest_bar(server, connect, rest):
    """Candles of one second at 20 messages a second: each closed bucket, as its last message showed
    it, is REST's bar of it, trade for trade."""
    session = connect(server.public_url)
    session.subscribe({"type": "candle.1s", "codes": ["KRW-BTC"]})
    last: dict[str, dict[str, Any]] = {}
    while len(last) < 4:
        message = session.message(timeout=3.0)
        last[message["candle_date_time_utc"]] = message
    closed = sorted(last)[:-1]  # a later bucket's message came: these are over
    answer = candles(rest(server), "/v1/candles/seconds", count=10)
    rows = {row["candle_date_time_utc"]: row for row in answer}
    for start in closed:
        assert [last[start][name] for name in FIGURES] == [rows[start][name] for name in FIGURES]


def test_the_first_candle_of_a_unit_holds_every_trade_of_its_bucket(server, rest):
    """Trades happen before anyone asks for a unit: its first candle is all of them, not the last."""
    simulator = server.market
    for _ in range(5):
        simulator.make("trade", "KRW-ETH")
    candle = simulator.make("candle.60m", "KRW-ETH", "SNAPSHOT")
    start = datetime.fromisoformat(candle["candle_date_time_utc"]).replace(tzinfo=timezone.utc)
    trades = [t for t in server.trades("KRW-ETH") if t["timestamp"] >= start.timestamp() * 1000]
    assert len(trades) >= 5
    (row,) = candles(rest(server), "/v1/candles/minutes/60", market="KRW-ETH",
                     to=text(start + timedelta(hours=1)))
    assert [candle[name] for name in FIGURES] == [row[name] for name in FIGURES]
    assert row["timestamp"] == trades[0]["timestamp"]


def test_count_counts_candles_or_time_slots_as_set(server, rest):
    client = rest(server)
    server.quiet_period("KRW-BTC", PAST - timedelta(minutes=7), PAST - timedelta(minutes=2))
    by_candles = candles(client, "/v1/candles/minutes/1", count=5, to=text(PAST))
    assert starts(by_candles) == [(PAST - timedelta(minutes=k)).strftime("%Y-%m-%dT%H:%M:%S")
                                  for k in (1, 2, 8, 9, 10)]
    server.candle_count = "slots"
    by_slots = candles(client, "/v1/candles/minutes/1", count=5, to=text(PAST))
    assert starts(by_slots) == starts(by_candles)[:2]  # the other three slots were quiet
    assert candles(client, "/v1/candles/minutes/1", count=5, to=text(PAST - timedelta(minutes=2))) == []


def test_a_quiet_period_leaves_a_bucket_only_when_it_covers_all_of_it(server, rest):
    client = rest(server)
    day = PAST.replace(hour=0, minute=0)
    server.quiet_period("KRW-BTC", day + timedelta(hours=1), day + timedelta(hours=5))
    hours = [start for start in starts(candles(client, "/v1/candles/minutes/60", count=24,
                                               to=text(day + timedelta(days=1))))
             if start.startswith(day.strftime("%Y-%m-%d"))]
    assert len(hours) == 20 and (day + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S") not in hours
    days = starts(candles(client, "/v1/candles/days", count=2, to=text(day + timedelta(days=1))))
    assert days[0] == day.strftime("%Y-%m-%dT%H:%M:%S")  # a quiet morning does not empty a day
