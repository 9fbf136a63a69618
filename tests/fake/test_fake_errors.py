"""Bad requests get Upbit's error frame, then a close 1000 (docs/upbit.md §3)."""

from __future__ import annotations

import time

import pytest
import websocket

PUBLIC_CASES = [
    ("not json", "WRONG_FORMAT"),
    ('{"ticket": "t", "type": "ticker", "codes": ["KRW-BTC"]}', "WRONG_FORMAT"),
    ('[{"ticket": "t"}, {"type": "ticker", "codes": ["KRW-BTC"]}, {"format": "XML"}]',
     "WRONG_FORMAT"),
    ('[{"ticket": "t"}, {"type": "ticker", "codes": "KRW-BTC"}]', "WRONG_FORMAT"),
    ('[{"type": "ticker", "codes": ["KRW-BTC"]}]', "NO_TICKET"),
    ('[{"ticket": ""}, {"type": "ticker", "codes": ["KRW-BTC"]}]', "NO_TICKET"),
    ('[{"ticket": "t"}]', "NO_TYPE"),
    ('[{"ticket": "t"}, {"format": "SIMPLE"}]', "NO_TYPE"),
    ('[{"ticket": "t"}, {"type": "ticker"}]', "NO_CODES"),
    ('[{"ticket": "t"}, {"type": "orderbook", "codes": []}]', "NO_CODES"),
    ('[{"ticket": "t"}, {"type": "nope", "codes": ["KRW-BTC"]}]', "INVALID_PARAM"),
    ('[{"ticket": "t"}, {"type": "myOrder"}]', "INVALID_PARAM"),
    ('[{"ticket": "t"}, {"type": "myAsset"}]', "INVALID_PARAM"),
]


@pytest.mark.parametrize(("request_text", "name"), PUBLIC_CASES)
def test_a_bad_public_request_gets_its_error_name_then_close_1000(server, connect, request_text,
                                                                  name):
    session = connect(server.public_url)
    session.ws.send(request_text)

    error = session.message()
    code, _, _ = session.expect_close()

    assert error["error"]["name"] == name
    assert error["error"]["message"]
    assert code == 1000


@pytest.mark.parametrize(("request_text", "name"), [
    ('[{"ticket": "t"}, {"type": "myAsset", "codes": ["KRW-BTC"]}]', "WRONG_FORMAT"),
    ('[{"ticket": "t"}, {"type": "ticker", "codes": ["KRW-BTC"]}]', "INVALID_PARAM"),
    ('[{"ticket": "t"}, {"type": "trade", "codes": ["KRW-BTC"]}]', "INVALID_PARAM"),
])
def test_a_bad_private_request_gets_its_error_name_then_close_1000(server, connect, auth,
                                                                   request_text, name):
    session = connect(server.private_url, header=auth())
    session.ws.send(request_text)

    error = session.message()
    code, _, _ = session.expect_close()

    assert error["error"]["name"] == name
    assert code == 1000


def test_an_unknown_type_names_itself_in_the_message(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "nope", "codes": ["KRW-BTC"]})

    error = session.message()

    assert error == {"error": {"name": "INVALID_PARAM", "message": "nope 은 지원하지 않는 타입입니다."}}


def test_the_close_follows_the_error_after_error_close_delay(make_server, connect):
    server = make_server(error_close_delay=0.3)
    session = connect(server.public_url)
    session.ws.send("not json")

    session.message()
    errored = time.monotonic()
    session.expect_close()

    assert time.monotonic() - errored >= 0.25


def test_a_bad_request_leaves_the_previous_subscriptions_in_place_until_the_close(server,
                                                                                  connect):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})
    session.until(lambda m: m.get("stream_type") == "REALTIME")

    session.subscribe({"type": "ticker"})
    session.expect_close()

    assert server.connections[0].subscriptions[0]["codes"] == ["KRW-BTC"]


def test_an_unknown_path_gets_http_404(server):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(f"ws://127.0.0.1:{server.port}/websocket/v2", timeout=3)

    assert refused.value.status_code == 404
    assert server.connect_attempts[-1].status == 404
    assert server.connections_opened == 0
