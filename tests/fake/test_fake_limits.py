"""Connect and message rate limits (docs/upbit.md §5) and refuse_next."""

from __future__ import annotations

import time

import pytest
import websocket


def try_connect(url: str, origin: bool = False) -> int:
    """The HTTP status of one upgrade attempt (101 when it opened; the socket is closed again).

    ``origin`` sends websocket-client's default ``Origin`` header; without it none is sent.
    """
    try:
        ws = websocket.create_connection(url, timeout=3, suppress_origin=not origin)
    except websocket.WebSocketBadStatusException as exc:
        return exc.status_code
    ws.close()
    return 101


def test_more_than_connect_limit_upgrades_in_a_second_get_429(make_server):
    server = make_server(connect_limit=3)

    statuses = [try_connect(server.public_url) for _ in range(4)]

    assert statuses == [101, 101, 101, 429]
    assert [a.status for a in server.connect_attempts] == statuses
    assert server.connections_opened == 3


def test_the_connect_window_slides(make_server):
    server = make_server(connect_limit=2)
    assert [try_connect(server.public_url) for _ in range(3)] == [101, 101, 429]
    first = server.connect_attempts[0].time

    assert server.wait_for(lambda: time.monotonic() - first > 1.05, timeout=3)
    later = [try_connect(server.public_url) for _ in range(2)]

    assert 101 in later


def test_the_connect_limit_counts_both_paths(make_server, auth):
    server = make_server(connect_limit=2)
    assert try_connect(server.public_url) == 101

    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        for _ in range(2):
            websocket.create_connection(server.private_url, timeout=3, header=auth(),
                                        suppress_origin=True).close()

    assert refused.value.status_code == 429


def test_connect_limit_none_turns_the_limit_off(make_server):
    server = make_server(connect_limit=None)

    statuses = [try_connect(server.public_url) for _ in range(8)]

    assert statuses == [101] * 8


def test_the_connect_limit_can_change_at_runtime(make_server):
    server = make_server(connect_limit=None)
    assert [try_connect(server.public_url) for _ in range(3)] == [101] * 3

    server.connect_limit = 3

    assert try_connect(server.public_url) == 429


def test_refuse_next_answers_that_many_upgrades_with_the_status(server):
    server.refuse_next(2, status=418)

    statuses = [try_connect(server.public_url) for _ in range(3)]

    assert statuses == [418, 418, 101]
    assert [a.reason for a in server.connect_attempts[:2]] == ["refuse_next"] * 2


def test_clear_refusals_ends_an_outage_made_with_refuse_next(server):
    server.refuse_next(1000)
    assert try_connect(server.public_url) == 429

    assert server.clear_refusals() == 999
    assert try_connect(server.public_url) == 101


def test_refuse_next_defaults_to_429(server):
    server.refuse_next(1)

    assert try_connect(server.public_url) == 429


def test_more_than_the_per_second_message_limit_closes_the_connection(make_server, connect):
    server = make_server(message_limit=(3, 100))
    session = connect(server.public_url)

    for _ in range(4):
        session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]}, fmt="SIMPLE")
    code, _, before = session.expect_close()

    errors = [m["error"] for m in before if "error" in m]
    assert [e["name"] for e in errors] == ["Too Many Requests"] and errors[0]["message"]
    assert code == 1000


def test_more_than_the_per_minute_message_limit_closes_the_connection(make_server, connect):
    server = make_server(message_limit=(100, 3))
    session = connect(server.public_url)

    for _ in range(4):
        session.subscribe({"type": "ticker", "codes": ["KRW-BTC"], "is_only_snapshot": True})
    code, _, before = session.expect_close()

    assert [m["error"]["name"] for m in before if "error" in m] == ["Too Many Requests"]
    assert code == 1000


def test_requests_within_the_limit_are_served(make_server, connect):
    server = make_server(message_limit=(3, 100))
    session = connect(server.public_url)

    for code in ("KRW-BTC", "KRW-ETH", "KRW-XRP"):
        session.subscribe({"type": "ticker", "codes": [code], "is_only_snapshot": True})
    messages = session.collect(0.3)

    assert "error" not in str(messages)
    assert server.connections[0].is_open


def test_list_subscriptions_counts_toward_the_message_limit(make_server, connect):
    server = make_server(message_limit=(2, 100))
    session = connect(server.public_url)

    for _ in range(3):
        session.send_json([{"ticket": "t"}, {"method": "LIST_SUBSCRIPTIONS"}])
    code, _, before = session.expect_close()

    assert before[-1]["error"]["name"] == "Too Many Requests"
    assert code == 1000


def test_a_ping_does_not_count_toward_the_message_limit(make_server, connect):
    server = make_server(message_limit=(1, 100))
    session = connect(server.public_url)

    for _ in range(3):
        session.ws.send("PING")
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})
    messages = session.until(lambda m: m.get("type") == "ticker")

    assert "error" not in str(messages)


def test_message_limit_none_turns_the_limit_off(make_server, connect):
    server = make_server(message_limit=None)
    session = connect(server.public_url)

    for _ in range(12):
        session.subscribe({"type": "ticker", "codes": ["KRW-BTC"], "is_only_snapshot": True})
    messages = session.collect(0.3)

    assert messages and "error" not in str(messages)
    assert len(server.connections[0].requests) == 12 and server.connections[0].is_open


def test_the_message_limit_can_change_at_runtime(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"], "is_only_snapshot": True})
    session.message()

    server.message_limit = (1, 100)
    session.subscribe({"type": "ticker", "codes": ["KRW-ETH"], "is_only_snapshot": True})
    code, _, before = session.expect_close()

    assert [m["error"]["name"] for m in before if "error" in m] == ["Too Many Requests"]
    assert code == 1000


def test_a_second_upgrade_with_origin_within_the_window_gets_429(server):
    statuses = [try_connect(server.public_url, origin=True) for _ in range(2)]

    assert statuses == [101, 429]
    assert [a.reason for a in server.connect_attempts] == ["", "origin limit"]
    assert server.connections_opened == 1


def test_upgrades_without_origin_are_not_held_to_the_origin_rule(server):
    assert try_connect(server.public_url, origin=True) == 101

    statuses = [try_connect(server.public_url) for _ in range(4)]  # five in all: the connect limit

    assert statuses == [101] * 4


def test_the_origin_rule_spans_both_paths(server, auth):
    assert try_connect(server.public_url, origin=True) == 101

    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(server.private_url, timeout=3, header=auth())

    assert refused.value.status_code == 429
    assert server.connect_attempts[-1].reason == "origin limit"


def test_origin_limit_false_turns_the_rule_off(make_server):
    server = make_server(origin_limit=False)

    statuses = [try_connect(server.public_url, origin=True) for _ in range(2)]

    assert statuses == [101, 101]


def test_the_origin_limit_can_change_at_runtime(server):
    assert [try_connect(server.public_url, origin=True) for _ in range(2)] == [101, 429]

    server.origin_limit = False
    assert try_connect(server.public_url, origin=True) == 101

    server.origin_limit = True
    assert try_connect(server.public_url, origin=True) == 429


def test_the_origin_window_is_counted_from_the_last_upgrade_let_through(server):
    server.origin_window = 1.0
    assert try_connect(server.public_url, origin=True) == 101
    passed = server.connect_attempts[0].time
    assert server.wait_for(lambda: time.monotonic() - passed > 0.5, timeout=3)
    assert try_connect(server.public_url, origin=True) == 429  # refused: does not restart the window

    assert server.wait_for(lambda: time.monotonic() - passed > 1.0, timeout=3)

    assert try_connect(server.public_url, origin=True) == 101
    assert server.connect_attempts[-1].time - server.connect_attempts[1].time < 1.0
