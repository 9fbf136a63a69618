"""Fault controls: drop, close, silence, raw frames and the firehose."""

from __future__ import annotations

import json

import websocket

from upbit_sync.testing import DEFAULT_MARKETS, encode


def subscribed(server, connect, fmt=None):
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]}, fmt=fmt)
    session.message()
    return session


def test_drop_all_ends_every_connection_without_a_close_frame(server, connect):
    sessions = [subscribed(server, connect) for _ in range(2)]

    assert server.drop_all() == 2

    for session in sessions:
        session.expect_drop()
    assert server.open_connections() == []


def test_close_all_sends_a_close_frame_with_the_code_and_reason(server, connect):
    session = subscribed(server, connect)

    server.close_all(4000, "maintenance")
    code, reason, _ = session.expect_close()

    assert (code, reason) == (4000, "maintenance")
    assert server.open_connections() == []


def test_close_all_defaults_to_1000(server, connect):
    session = subscribed(server, connect)

    server.close_all()

    assert session.expect_close()[0] == 1000


def test_silence_stops_data_but_keeps_the_connection_and_its_pongs(server, connect):
    session = subscribed(server, connect)
    session.ws.send("PING")

    server.silence()
    session.collect(0.1)  # what was already in flight
    session.ws.ping(b"are you there")
    opcode, frame = session.ws.recv_data_frame(control_frame=True)
    quiet = session.collect(0.4)

    assert opcode == websocket.ABNF.OPCODE_PONG and frame.data == b"are you there"
    assert quiet == []
    assert server.connections[0].is_open


def test_silence_off_resumes_the_data(server, connect):
    session = subscribed(server, connect)
    server.silence()
    session.collect(0.1)

    server.silence(False)

    assert session.message(timeout=1.0)["type"] == "ticker"


def test_silence_still_reads_requests(server, connect):
    session = subscribed(server, connect)
    server.silence()

    session.subscribe({"type": "trade", "codes": ["KRW-ETH"]})
    assert server.wait_for(lambda: server.connections[0].subscriptions[0]["type"] == "trade")
    server.silence(False)

    messages = session.until(lambda m: m["type"] == "trade")
    assert messages[-1]["stream_type"] == "SNAPSHOT"


def test_send_raw_bytes_arrive_as_a_binary_frame(server, connect):
    session = connect(server.public_url)
    assert server.wait_for(lambda: server.open_connections() != [])

    server.send_raw(b'{"hello":1}')

    assert session.frame() == (websocket.ABNF.OPCODE_BINARY, b'{"hello":1}')


def test_send_raw_text_arrives_as_a_text_frame(server, connect):
    session = connect(server.public_url)
    assert server.wait_for(lambda: server.open_connections() != [])

    server.send_raw('{"hello":1}')

    assert session.frame() == (websocket.ABNF.OPCODE_TEXT, b'{"hello":1}')


def test_send_raw_to_one_connection_reaches_only_it(server, connect):
    first, second = connect(server.public_url), connect(server.public_url)
    assert server.wait_for(lambda: len(server.open_connections()) == 2)

    assert server.send_raw(b"x", conn_id=server.connections[1].id) == 1

    assert second.frame() == (websocket.ABNF.OPCODE_BINARY, b"x")
    assert first.collect(0.1) == []


def test_firehose_delivers_n_frames_cycling_through_the_list(server, connect):
    session = connect(server.public_url)
    assert server.wait_for(lambda: server.open_connections() != [])
    frames = [encode({"type": "ticker", "code": f"KRW-C{i}"}, "SIMPLE") for i in range(3)]

    sent = server.firehose(10_000, frames)
    codes = [json.loads(session.frame()[1])["cd"] for _ in range(10_000)]

    assert sent == 10_000
    assert codes[:4] == ["KRW-C0", "KRW-C1", "KRW-C2", "KRW-C0"]
    assert codes[-1] == f"KRW-C{(10_000 - 1) % 3}"
    assert server.connections[0].sent_count == 10_000
    assert session.collect(0.05) == []


def test_firehose_encodes_every_frame_length(server, connect):
    session = connect(server.public_url)
    assert server.wait_for(lambda: server.open_connections() != [])
    frames = [b"a" * 10, b"b" * 300, b"c" * 70_000, "text frame"]

    server.firehose(4, frames)

    assert [session.frame() for _ in range(4)] == [
        (websocket.ABNF.OPCODE_BINARY, frames[0]),
        (websocket.ABNF.OPCODE_BINARY, frames[1]),
        (websocket.ABNF.OPCODE_BINARY, frames[2]),
        (websocket.ABNF.OPCODE_TEXT, b"text frame"),
    ]


def test_firehose_feeds_every_open_connection_by_default(server, connect):
    sessions = [connect(server.public_url) for _ in range(2)]
    assert server.wait_for(lambda: len(server.open_connections()) == 2)

    sent = server.firehose(500, b"{}")

    assert sent == 1000
    for session in sessions:
        assert [session.frame()[1] for _ in range(500)] == [b"{}"] * 500


def test_a_client_that_stops_reading_is_dropped_and_the_others_keep_their_data(make_server,
                                                                               connect):
    server = make_server(message_rate=1000.0)
    server.send_timeout = 0.2
    stalled = connect(server.public_url)
    books = [m.market for m in DEFAULT_MARKETS if m.quote == "KRW"][:10]
    stalled.subscribe({"type": "orderbook", "codes": books})
    reader = connect(server.public_url)
    reader.subscribe({"type": "trade", "codes": ["KRW-BTC"]})

    assert server.wait_for(lambda: not server.connections[0].is_open, timeout=15)
    reader.collect(0.05)

    assert reader.message(timeout=1.0)["type"] == "trade"
    assert server.connections[1].is_open
    stalled.expect_drop(timeout=15)
