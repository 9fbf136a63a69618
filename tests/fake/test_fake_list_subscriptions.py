"""LIST_SUBSCRIPTIONS reports the connection's real state (docs/upbit.md §2)."""

from __future__ import annotations

LIST = {"method": "LIST_SUBSCRIPTIONS"}


def reply_of(session, fmt=None, key="method"):
    request = [{"ticket": "list-ticket"}, LIST] + ([{"format": fmt}] if fmt else [])
    session.send_json(request)
    return session.until(lambda m: key in m)[-1]


def test_the_reply_lists_the_current_subscriptions(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]},
                      {"type": "orderbook", "codes": ["KRW-BTC.15"], "level": 0})

    reply = reply_of(session)

    assert reply == {
        "method": "LIST_SUBSCRIPTIONS",
        "result": [{"type": "ticker", "codes": ["KRW-BTC"]},
                   {"type": "orderbook", "codes": ["KRW-BTC.15"], "level": 0}],
        "ticket": "list-ticket",
    }


def test_the_reply_uses_simple_keys_on_a_simple_connection(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "orderbook", "codes": ["KRW-ETH"]}, fmt="SIMPLE")

    reply = reply_of(session, fmt="SIMPLE", key="mthd")

    assert reply == {"mthd": "LIST_SUBSCRIPTIONS",
                     "rslt": [{"ty": "orderbook", "cds": ["KRW-ETH"], "lv": 0}],
                     "tckt": "list-ticket"}


def test_the_reply_is_wrapped_on_a_list_format_connection(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-ETH"]}, fmt="JSON_LIST")
    session.send_json([{"ticket": "t"}, LIST, {"format": "JSON_LIST"}])

    reply = session.until(lambda m: isinstance(m, list) and "method" in m[0])[-1]

    assert reply[0]["result"] == [{"type": "ticker", "codes": ["KRW-ETH"]}]


def test_list_subscriptions_does_not_replace_the_subscriptions(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]}, fmt="SIMPLE")
    session.until(lambda m: m.get("st") == "REALTIME")

    reply_of(session, fmt="SIMPLE", key="mthd")
    after = session.collect(0.25)

    assert after and all(m["cd"] == "KRW-BTC" and m["st"] == "REALTIME" for m in after)
    assert server.connections[0].subscriptions[0]["codes"] == ["KRW-BTC"]


def test_ignored_codes_are_not_listed(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "trade", "codes": ["krw-btc", "KRW-ETH", "KRW-ETH"]})

    reply = reply_of(session)

    assert reply["result"] == [{"type": "trade", "codes": ["KRW-ETH"]}]


def test_unlisted_codes_are_not_listed(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "trade", "codes": ["KRW-NOPE", "KRW-ETH"]},
                      {"type": "orderbook", "codes": ["KRW-BTC.15", "KRW-NOPE.15"], "level": 0})

    reply = reply_of(session)

    assert reply["result"] == [{"type": "trade", "codes": ["KRW-ETH"]},
                               {"type": "orderbook", "codes": ["KRW-BTC.15"], "level": 0}]


def test_unlisted_my_order_codes_are_not_listed(server, connect, auth):
    session = connect(server.private_url, header=auth())
    session.subscribe({"type": "myOrder", "codes": ["KRW-NOPE", "KRW-BTC"]})

    assert reply_of(session)["result"] == [{"type": "myOrder", "codes": ["KRW-BTC"]}]


def test_before_any_subscription_the_result_is_empty(server, connect):
    session = connect(server.public_url)

    assert reply_of(session)["result"] == []


def test_private_subscriptions_are_listed(server, connect, auth):
    session = connect(server.private_url, header=auth())
    session.subscribe({"type": "myOrder", "codes": ["KRW-BTC"]}, {"type": "myAsset"})

    reply = reply_of(session)

    assert reply["result"] == [{"type": "myOrder", "codes": ["KRW-BTC"]}, {"type": "myAsset"}]


def test_a_request_without_a_format_object_is_answered_in_the_current_format(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]}, fmt="SIMPLE")

    reply = reply_of(session, key="mthd")
    after = session.collect(0.2)

    assert reply["rslt"] == [{"ty": "ticker", "cds": ["KRW-BTC"]}]
    assert after and all("ty" in m for m in after)


def test_a_format_object_in_the_request_switches_the_connection(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]}, fmt="SIMPLE")
    session.message()

    reply_of(session, fmt="DEFAULT")

    assert server.connections[0].format == "DEFAULT"
    assert all("type" in m for m in session.collect(0.2))
