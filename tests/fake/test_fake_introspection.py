"""What tests can ask the fake: connections, attempts, requests, subscriptions, counts."""

from __future__ import annotations

import json
import time

import pytest
import websocket


def test_connections_lists_every_accepted_connection_in_order(server, connect):
    first = connect(server.public_url)
    connect(server.public_url)
    first.close()

    assert server.wait_for(lambda: len(server.open_connections()) == 1)
    conns = server.connections
    assert [c.id for c in conns] == [1, 2]
    assert [c.is_open for c in conns] == [False, True]
    assert conns[0].closed_at is not None and conns[0].closed_at >= conns[0].opened_at
    assert server.connections_opened == 2


def test_a_connection_is_registered_before_the_client_sees_the_upgrade(server, connect):
    connect(server.public_url)

    assert server.connections_opened == 1
    assert server.connections[0].is_open


def test_connect_attempts_record_time_path_and_status(server, connect, auth):
    before = time.monotonic()
    connect(server.public_url)
    connect(server.private_url, header=auth())

    attempts = server.connect_attempts

    assert [(a.path, a.status) for a in attempts] == [
        ("/websocket/v1", 101), ("/websocket/v1/private", 101)]
    assert before <= attempts[0].time <= attempts[1].time <= time.monotonic()


def test_an_attempt_records_the_upgrade_headers_with_their_names_as_sent(server, connect):
    connect(server.public_url, header=["X-Bot-Name: probe"], origin=True)
    connect(server.public_url)

    with_origin, without = server.connect_attempts

    assert with_origin.headers["Origin"] == f"http://127.0.0.1:{server.port}"
    assert with_origin.headers["X-Bot-Name"] == "probe"
    assert with_origin.headers["Host"] == f"127.0.0.1:{server.port}"
    assert "Origin" not in without.headers and without.header("origin") is None


def test_header_looks_a_name_up_regardless_of_case(server, connect):
    connect(server.public_url, origin=True)

    attempt, = server.connect_attempts

    assert attempt.header("origin") == attempt.header("ORIGIN") == attempt.headers["Origin"]
    assert attempt.header("x-not-sent") is None


def test_refused_attempts_record_their_headers_too(server):
    server.refuse_next(1)
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(server.public_url, timeout=3, header=["X-Try: 1"])
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(f"ws://127.0.0.1:{server.port}/nowhere", timeout=3,
                                    header=["X-Try: 2"], suppress_origin=True)

    refused, unknown_path = server.connect_attempts

    assert (refused.status, refused.header("x-try")) == (429, "1")
    assert (unknown_path.status, unknown_path.header("x-try")) == (404, "2")
    assert unknown_path.header("origin") is None


def test_the_headers_stay_out_of_the_attempt_repr(server, connect, auth):
    header = auth()
    connect(server.private_url, header=header)

    attempt, = server.connect_attempts

    assert attempt.header("authorization") == header[0].split(": ", 1)[1]
    assert "Bearer" not in repr(attempt) and "headers" not in repr(attempt)


def test_connection_info_knows_its_path_and_kind(server, connect, auth):
    connect(server.public_url)
    connect(server.private_url, header=auth())

    public, private = server.connections

    assert (public.path, public.is_private) == ("/websocket/v1", False)
    assert (private.path, private.is_private) == ("/websocket/v1/private", True)
    assert public.authorized_access_key is None


def test_requests_keep_the_raw_text_and_the_parsed_payload(server, connect):
    session = connect(server.public_url)
    session.ws.send("not json")
    session.expect_close()

    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]}, ticket="abc")
    assert server.wait_for(lambda: server.connections[1].requests != [])

    broken, = server.connections[0].requests
    good, = server.connections[1].requests
    assert (broken.text, broken.payload) == ("not json", None)
    assert good.payload == [{"ticket": "abc"}, {"type": "ticker", "codes": ["KRW-BTC"]}]
    assert json.loads(good.text) == good.payload


def test_subscriptions_show_the_current_set_as_requested(server, connect):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})
    session.subscribe({"type": "orderbook", "codes": ["KRW-BTC.15", "krw-eth"], "level": 0},
                      {"type": "trade", "codes": ["KRW-ETH"], "isOnlyRealtime": True},
                      fmt="SIMPLE")

    assert server.wait_for(lambda: len(server.connections[0].requests) == 2)
    assert server.wait_for(lambda: server.connections[0].format == "SIMPLE")
    assert server.connections[0].subscriptions == [
        {"type": "orderbook", "codes": ["KRW-BTC.15", "krw-eth"], "level": 0,
         "is_only_snapshot": False, "is_only_realtime": False},
        {"type": "trade", "codes": ["KRW-ETH"], "is_only_snapshot": False,
         "is_only_realtime": True},
    ]


def test_sent_count_counts_data_frames_only(server, connect):
    session = connect(server.public_url)
    session.ws.send("PING")
    session.message()
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC", "KRW-ETH"],
                       "is_only_snapshot": True})
    session.message()
    session.message()

    assert server.connections[0].sent_count == 2


def test_open_connections_excludes_closed_ones(server, connect):
    session = connect(server.public_url)
    connect(server.public_url)

    session.close()

    assert server.wait_for(lambda: [c.id for c in server.open_connections()] == [2])


def test_wait_for_returns_false_when_the_deadline_passes(server):
    started = time.monotonic()

    assert server.wait_for(lambda: False, timeout=0.1) is False
    assert time.monotonic() - started >= 0.1


def test_the_urls_point_at_the_listening_ports(server):
    assert server.port > 0 and server.rest_port > 0 and server.rest_port != server.port
    assert server.public_url == f"ws://127.0.0.1:{server.port}/websocket/v1"
    assert server.private_url == f"ws://127.0.0.1:{server.port}/websocket/v1/private"
    assert server.rest_url == f"http://127.0.0.1:{server.rest_port}"


def test_a_client_close_ends_the_connection_even_if_the_client_keeps_tcp_open(server, connect):
    session = connect(server.public_url)
    assert server.wait_for(lambda: server.open_connections() != [])

    session.ws.send_close()
    code, _, _ = session.expect_close()

    assert code == 1000
    assert server.wait_for(lambda: server.open_connections() == [])
    session.ws.settimeout(2)
    assert session.ws.sock.recv(1) == b""  # the fake ended TCP from its side


def test_config_points_the_sdk_at_this_exchange(server):
    import upbit_sync as us
    from upbit_sync.testing import TEST_ACCESS_KEY

    config = server.config(keys=True, workers=2)
    assert (config.public_url, config.private_url, config.info_url, config.rest_url) == (
        server.public_url, server.private_url, server.info_url, server.rest_url)
    assert config.access_key == TEST_ACCESS_KEY and config.workers == 2
    assert server.config().has_keys is False and isinstance(config, us.Config)
