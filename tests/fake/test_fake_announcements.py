"""Announcements on the private endpoint: the subscription's rules, emit_announcement, categories,
include_body and both formats (docs/channels.md §5)."""

from __future__ import annotations

import pytest

from upbit_sync.indicators import CATEGORIES
from upbit_sync.testing import ChannelRules
from upbit_sync.testing.announcements import make_announcement

ANNOUNCEMENT = {"type": "announcement"}
# The SIMPLE names, as docs/channels.md §5 lists them.
SIMPLE = {"type": "ty", "uuid": "uid", "title": "tt", "category": "cat", "event_type": "et",
          "url": "url", "body": "bd", "first_listed_at": "flat", "listed_at": "lat",
          "timestamp": "tms", "stream_type": "st"}


def subscribed(server, *types, connect, auth, fmt=None):
    """A private session whose request the server has applied."""
    session = connect(server.private_url, header=auth())
    conn = server.connections[-1]  # registered before the client saw its 101
    session.subscribe(*types, fmt=fmt)
    assert server.wait_for(lambda: conn.subscriptions != [])
    return session


def test_an_announcement_reaches_a_subscriber_without_its_body_by_default(server, connect, auth):
    session = subscribed(server, ANNOUNCEMENT, connect=connect, auth=auth)

    sent = server.emit_announcement(title="[거래] 원화 마켓 디지털 자산 추가", category="trade")
    received = session.message()

    assert received == {k: v for k, v in sent.items() if k != "body"}
    assert sent["body"]  # the returned message has it: the test can compare with include_body
    assert received["type"] == "announcement" and received["stream_type"] == "REALTIME"
    assert received["event_type"] == "CREATED" and "code" not in received
    assert received["first_listed_at"].endswith("+09:00")


def test_include_body_brings_the_body(server, connect, auth):
    session = subscribed(server, {"type": "announcement", "include_body": True},
                         connect=connect, auth=auth)

    sent = server.emit_announcement(body="## 점검 안내\n\n- 02:00 ~ 04:00", category="maintenance")

    assert session.message() == sent
    assert sent["body"] == "## 점검 안내\n\n- 02:00 ~ 04:00"


def test_a_simple_connection_gets_simple_names(server, connect, auth):
    session = subscribed(server, {"type": "announcement", "include_body": True},
                         connect=connect, auth=auth, fmt="SIMPLE")

    sent = server.emit_announcement(event_type="UPDATED", category="wallet")
    received = session.message()

    assert received == {SIMPLE[key]: value for key, value in sent.items()}
    assert received["ty"] == "announcement" and received["et"] == "UPDATED"


def test_a_simple_list_connection_gets_it_wrapped(server, connect, auth):
    session = subscribed(server, ANNOUNCEMENT, connect=connect, auth=auth, fmt="SIMPLE_LIST")

    sent = server.emit_announcement()
    received = session.message()

    assert received == [{SIMPLE[k]: v for k, v in sent.items() if k != "body"}]


def test_categories_choose_what_arrives(server, connect, auth):
    trade_only = subscribed(server, {"type": "announcement", "categories": ["trade", "nft"]},
                            connect=connect, auth=auth)
    everything = subscribed(server, ANNOUNCEMENT, connect=connect, auth=auth)

    notice = server.emit_announcement(category="notice")
    trading = server.emit_announcement(category="trading")  # not "trade"
    trade = server.emit_announcement(category="trade")

    assert trade_only.message()["uuid"] == trade["uuid"]  # the first it got
    assert [everything.message()["uuid"] for _ in range(3)] == [
        notice["uuid"], trading["uuid"], trade["uuid"]]


def test_announcements_and_my_order_share_one_request(server, connect, auth):
    session = subscribed(server, {"type": "announcement", "categories": ["notice"]},
                         {"type": "myOrder", "codes": []}, {"type": "myAsset"},
                         connect=connect, auth=auth, fmt="DEFAULT")

    order = server.emit_my_order(code="KRW-BTC")
    notice = server.emit_announcement()

    assert [m["type"] for m in (session.message(), session.message())] == ["myOrder", "announcement"]
    assert order["code"] == "KRW-BTC" and notice["category"] == "notice"
    subscriptions = server.connections[0].subscriptions
    assert [entry["type"] for entry in subscriptions] == ["announcement", "myOrder", "myAsset"]
    assert subscriptions[0] == {"type": "announcement", "categories": ["notice"],
                                "include_body": False}


def test_list_subscriptions_shows_the_announcement_object(server, connect, auth):
    session = subscribed(server, {"type": "announcement", "include_body": True},
                         connect=connect, auth=auth)
    session.send_json([{"ticket": "list"}, {"method": "LIST_SUBSCRIPTIONS"}])

    reply = session.until(lambda m: "method" in m)[-1]

    assert reply["result"] == [{"type": "announcement", "include_body": True}]


def test_a_new_request_without_announcement_ends_them(server, connect, auth):
    session = subscribed(server, ANNOUNCEMENT, {"type": "myAsset"}, connect=connect, auth=auth)
    session.subscribe({"type": "myAsset"}, ticket="again")
    assert server.wait_for(lambda: len(server.connections[0].requests) == 2
                           and len(server.connections[0].subscriptions) == 1)

    server.emit_announcement()
    asset = server.emit_my_asset()

    assert session.message() == asset  # the announcement before it did not come


def test_announcements_do_not_reach_public_connections(server, connect):
    public = connect(server.public_url)
    public.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})
    public.message()

    sent = server.emit_announcement()
    later = public.until(lambda m: m["timestamp"] >= sent["timestamp"] + 150)

    assert all(m["type"] == "ticker" for m in later)


def test_a_body_too_big_for_a_frame_is_sent_as_null(server, connect, auth):
    session = subscribed(server, {"type": "announcement", "include_body": True},
                         connect=connect, auth=auth)

    sent = server.emit_announcement(body="가" * 400_000)  # 1.2 MB of UTF-8
    received = session.message()

    assert len(sent["body"]) == 400_000
    assert received["body"] is None and received["uuid"] == sent["uuid"]


@pytest.mark.parametrize(("announcement", "name"), [
    ({"type": "announcement", "categories": ["news"]}, "INVALID_PARAM"),
    ({"type": "announcement", "categories": ["trade", "Trade"]}, "INVALID_PARAM"),
    ({"type": "announcement", "categories": "trade"}, "WRONG_FORMAT"),
    ({"type": "announcement", "include_body": "yes"}, "WRONG_FORMAT"),
])
def test_a_bad_announcement_request_gets_its_error(server, connect, auth, announcement, name):
    session = connect(server.private_url, header=auth())
    session.subscribe(announcement)

    error = session.message()
    code, _, _ = session.expect_close()

    assert error["error"]["name"] == name
    assert code == 1000


def test_an_unsupported_category_names_itself(server, connect, auth):
    session = connect(server.private_url, header=auth())
    session.subscribe({"type": "announcement", "categories": ["news"]})

    assert "news" in session.message()["error"]["message"]


def test_every_documented_category_is_accepted(server, connect, auth):
    session = subscribed(server, {"type": "announcement", "categories": list(CATEGORIES)},
                         connect=connect, auth=auth)

    sent = [server.emit_announcement(category=category) for category in CATEGORIES]

    assert [session.message()["category"] for _ in CATEGORIES] == [m["category"] for m in sent]
    assert len(CATEGORIES) == 13


def test_announcement_is_refused_on_the_public_endpoint(server, connect):
    session = connect(server.public_url)
    session.subscribe(ANNOUNCEMENT)

    assert session.message()["error"]["name"] == "INVALID_PARAM"


def test_codes_are_ignored_by_default_and_refused_by_a_rule(make_server, connect, auth):
    lenient = make_server()
    strict = make_server(channel_rules=ChannelRules(extra_fields="WRONG_FORMAT"))
    accepted = subscribed(lenient, {"type": "announcement", "codes": ["KRW-BTC"]},
                          connect=connect, auth=auth)
    refused = connect(strict.private_url, header=auth())
    refused.subscribe({"type": "announcement", "codes": ["KRW-BTC"]})

    sent = lenient.emit_announcement()

    assert accepted.message()["uuid"] == sent["uuid"]
    assert refused.message()["error"]["name"] == "WRONG_FORMAT"


def test_a_rule_can_require_the_format_object(make_server, connect, auth):
    server = make_server(channel_rules=ChannelRules(announcement_requires_format=True))
    without = connect(server.private_url, header=auth())
    with_format = connect(server.private_url, header=auth())

    without.subscribe(ANNOUNCEMENT)
    with_format.subscribe(ANNOUNCEMENT, fmt="DEFAULT")

    assert without.message()["error"]["name"] == "INVALID_PARAM"
    assert server.wait_for(lambda: any(c.subscriptions for c in server.connections))
    assert with_format.ws.connected


def test_emit_announcement_refuses_typos():
    with pytest.raises(TypeError):
        make_announcement(categroy="trade")
    with pytest.raises(ValueError):
        make_announcement(category="news")
    with pytest.raises(ValueError):
        make_announcement(event_type="DELETED")


def test_emit_announcement_with_no_subscriber_still_returns_the_message(server):
    sent = server.emit_announcement(title="t")

    assert sent["title"] == "t" and sent["category"] == "notice" and len(sent["uuid"]) == 36
