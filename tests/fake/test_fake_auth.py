"""The private endpoint: JWT on the upgrade, both failure modes, myOrder and myAsset events."""

from __future__ import annotations

import warnings

import jwt
import pytest
import websocket

from upbit_sync.testing import TEST_ACCESS_KEY, bearer, make_token

MY_ORDER = {"type": "myOrder"}
MY_ASSET = {"type": "myAsset"}


@pytest.mark.parametrize("algorithm", ["HS256", "HS512"])
def test_a_valid_token_opens_the_private_endpoint(server, connect, auth, algorithm):
    session = connect(server.private_url, header=auth(algorithm=algorithm))
    session.subscribe(MY_ORDER)

    assert server.wait_for(lambda: server.connections[0].subscriptions != [])
    conn = server.connections[0]
    assert conn.is_private and conn.is_open
    assert conn.authorized_access_key == TEST_ACCESS_KEY


def test_other_key_pairs_can_be_configured(make_server, connect, auth):
    server = make_server(keys={"my-access": "my-secret-of-forty-characters-0123456789"})
    session = connect(server.private_url, header=auth(
        access_key="my-access", secret_key="my-secret-of-forty-characters-0123456789"))
    session.subscribe(MY_ASSET)

    assert server.wait_for(lambda: server.connections[0].subscriptions != [])
    assert server.connections[0].authorized_access_key == "my-access"


BAD_TOKENS = {
    "bad secret": lambda auth: auth(secret_key="x" * 40),
    "unknown access key": lambda auth: auth(access_key="nobody"),
    "wrong algorithm": lambda auth: auth(algorithm="HS384"),
    "missing token": lambda auth: [],
    "not bearer": lambda auth: [f"Authorization: Basic {make_token()}"],
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_a_bad_token_gets_invalid_auth_then_close_1000_in_frame_mode(server, connect, auth,
                                                                     case):
    session = connect(server.private_url, header=BAD_TOKENS[case](auth))

    error = session.message()
    code, _, _ = session.expect_close()

    assert error["error"]["name"] == "INVALID_AUTH"
    assert code == 1000
    assert server.connections[0].authorized_access_key is None


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_a_bad_token_gets_http_401_in_http_mode(make_server, auth, case):
    server = make_server(auth_failure="http")

    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(server.private_url, timeout=3, header=BAD_TOKENS[case](auth))

    assert refused.value.status_code == 401
    assert server.connect_attempts[-1].status == 401
    assert server.connections_opened == 0


def test_a_reused_nonce_is_refused(server, connect):
    header = [f"Authorization: {bearer(make_token(nonce='only-once'))}"]
    first = connect(server.private_url, header=header)
    first.subscribe(MY_ORDER)
    second = connect(server.private_url, header=header)

    error = second.message()

    assert error["error"]["name"] == "INVALID_AUTH"
    assert server.connect_attempts[-1].reason == "nonce reused"
    assert server.connections[0].authorized_access_key == TEST_ACCESS_KEY


def test_a_reused_nonce_gets_401_in_http_mode(make_server, connect):
    server = make_server(auth_failure="http")
    header = [f"Authorization: {bearer(make_token(nonce='only-once'))}"]
    connect(server.private_url, header=header)

    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(server.private_url, timeout=3, header=header)

    assert refused.value.status_code == 401


def test_the_public_endpoint_needs_no_token(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})

    assert session.message()["type"] == "ticker"


def test_my_order_without_codes_receives_every_market(server, connect, auth):
    session = connect(server.private_url, header=auth())
    session.subscribe(MY_ORDER)
    assert server.wait_for(lambda: server.connections[0].subscriptions != [])

    sent = [server.emit_my_order(code=code) for code in ("KRW-BTC", "KRW-ETH")]
    received = [session.message(), session.message()]

    assert received == sent
    assert [m["stream_type"] for m in received] == ["REALTIME", "REALTIME"]


def test_my_order_with_codes_receives_only_those_markets(server, connect, auth):
    session = connect(server.private_url, header=auth())
    session.subscribe({"type": "myOrder", "codes": ["KRW-ETH"]})
    assert server.wait_for(lambda: server.connections[0].subscriptions != [])

    server.emit_my_order(code="KRW-BTC")
    sent = server.emit_my_order(code="KRW-ETH", state="done")

    assert session.message() == sent
    assert sent["state"] == "done" and sent["executed_volume"] == sent["volume"]


def test_my_order_events_follow_the_connection_format(server, connect, auth):
    session = connect(server.private_url, header=auth())
    session.subscribe(MY_ORDER, fmt="SIMPLE")
    assert server.wait_for(lambda: server.connections[0].format == "SIMPLE")

    sent = server.emit_my_order(code="KRW-BTC", price=100.0)
    message = session.message()

    assert message["ty"] == "myOrder" and message["cd"] == "KRW-BTC" and message["p"] == 100.0
    assert message["uid"] == sent["uuid"]


def test_my_asset_events_reach_my_asset_subscribers_only(server, connect, auth):
    assets = connect(server.private_url, header=auth())
    assets.subscribe(MY_ASSET)
    orders = connect(server.private_url, header=auth())
    orders.subscribe(MY_ORDER)
    assert server.wait_for(lambda: all(c.subscriptions for c in server.connections))

    sent = server.emit_my_asset(assets=[{"currency": "BTC", "balance": 1.5, "locked": 0.0}])

    assert assets.message() == sent
    assert "code" not in sent
    assert orders.collect(0.2) == []


def test_private_events_do_not_reach_public_connections(server, connect, auth):
    public = connect(server.public_url)
    public.subscribe({"type": "ticker", "codes": ["KRW-BTC"]}, ticket="p")
    public.message()

    server.emit_my_order(code="KRW-BTC")
    server.emit_my_asset()

    assert all(m["type"] == "ticker" for m in public.collect(0.2))


def test_checking_a_forty_character_secret_with_hs512_warns_nothing(server, connect, auth):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session = connect(server.private_url, header=auth(algorithm="HS512"))
        session.subscribe(MY_ASSET)
        assert server.wait_for(lambda: server.connections[0].subscriptions != [])

    assert not [w for w in caught if issubclass(w.category, jwt.InsecureKeyLengthWarning)]
