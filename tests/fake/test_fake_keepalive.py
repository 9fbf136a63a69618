"""PING status frames and idle drops (docs/upbit.md §4)."""

from __future__ import annotations

import itertools
import time

import websocket


def test_a_text_ping_is_answered_with_status_up_at_once(make_server, connect):
    server = make_server(status_interval=10.0)
    session = connect(server.public_url)

    session.ws.send("PING")

    assert session.message(timeout=1.0) == {"status": "UP"}


def test_status_up_repeats_every_status_interval(make_server, connect):
    server = make_server(status_interval=0.2)
    session = connect(server.public_url)
    session.ws.send("PING")
    session.message()

    times = []
    for _ in range(3):
        assert session.message(timeout=1.0) == {"status": "UP"}
        times.append(time.monotonic())

    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(0.1 <= gap <= 0.4 for gap in gaps), gaps


def test_status_keeps_coming_on_a_subscribed_connection(make_server, connect):
    server = make_server(status_interval=0.2, message_rate=10.0)
    session = connect(server.public_url)
    session.ws.send("PING")
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})

    messages = session.collect(0.7)

    assert sum(1 for m in messages if m == {"status": "UP"}) >= 3
    assert any(m.get("type") == "ticker" for m in messages)


def test_no_status_is_sent_without_a_ping(make_server, connect):
    server = make_server(status_interval=0.1)
    session = connect(server.public_url)

    assert session.collect(0.35) == []


def test_a_ping_is_not_a_request(server, connect):
    session = connect(server.public_url)

    session.ws.send("PING")
    session.message()

    conn = server.connections[0]
    assert conn.requests == [] and conn.pings == 1


def test_an_idle_connection_is_dropped_without_a_close_frame(make_server, connect):
    server = make_server(idle_timeout=0.4)
    session = connect(server.public_url)
    opened = time.monotonic()

    session.expect_drop(timeout=3.0)

    assert time.monotonic() - opened >= 0.3
    assert server.wait_for(lambda: not server.open_connections())


def test_ping_frames_from_the_client_keep_a_connection_alive(make_server, connect):
    server = make_server(idle_timeout=0.4)
    session = connect(server.public_url)
    session.ws.settimeout(0.1)

    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        session.ws.ping()
        try:
            session.ws.recv_data(control_frame=True)  # the pong
        except websocket.WebSocketTimeoutException:
            pass

    assert server.connections[0].is_open


def test_data_sent_to_a_connection_keeps_it_alive(make_server, connect):
    server = make_server(idle_timeout=0.4, message_rate=10.0)
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})

    messages = session.collect(1.0)

    assert len(messages) >= 5
    assert server.connections[0].is_open
