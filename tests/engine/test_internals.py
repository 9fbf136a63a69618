"""Canaries for the websocket-client internals connection.py and readahead.py rely on.

connection.py's docstring lists them; setup.py pins websocket-client to the releases these tests
passed on. A new release that moves one of them fails here, by name, instead of somewhere deep in a
reconnect test.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

import pytest
import websocket

from tests.engine.test_readahead import BINARY, PING, PONG, Collector, RawServer, frame, payloads
from tests.support import wait_until
from upbit_sync import connection as connection_module
from upbit_sync.connection import Connection, ConnectionEnd
from upbit_sync.testing import FakeUpbitServer


def test_the_frame_parser_reads_through_frame_buffer_recv():
    ws = websocket.WebSocket()
    assert callable(ws.frame_buffer.recv)
    assert not getattr(ws.frame_buffer, "recv_buffer", None)


def test_a_connected_websocket_exposes_its_plain_socket_as_sock(exchange):
    ws = websocket.create_connection(exchange.public_url, suppress_origin=True, timeout=2)
    try:
        assert isinstance(ws.sock, socket.socket)
    finally:
        ws.close()


def test_clearing_keep_running_ends_run_forever(exchange):
    app = websocket.WebSocketApp(exchange.public_url,
                                 on_open=lambda a: setattr(a, "keep_running", False))
    ended = threading.Event()
    thread = threading.Thread(target=lambda: (app.run_forever(suppress_origin=True), ended.set()),
                              name="upbit-test-app", daemon=True)
    thread.start()
    assert ended.wait(5.0), "run_forever kept running after keep_running was cleared"
    thread.join(2.0)


def test_a_refused_upgrade_carries_its_http_status_as_status_code(exchange):
    exchange.refuse_next(1, status=429)
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        websocket.create_connection(exchange.public_url, suppress_origin=True, timeout=2)
    assert caught.value.status_code == 429


def test_a_server_close_reaches_on_error_with_its_code(exchange):
    """connection.py takes the close code from what on_error is given: the raw close frame (ABNF,
    up to 1.9.0) or an exception carrying ``status_code`` (1.9.1 and later)."""
    seen: list[Any] = []

    def on_open(app: websocket.WebSocketApp) -> None:
        threading.Thread(target=exchange.close_all, args=(4001, "bye"), name="upbit-test-closer",
                         daemon=True).start()

    app = websocket.WebSocketApp(exchange.public_url, on_open=on_open,
                                 on_error=lambda a, error: seen.append(error))
    app.run_forever(suppress_origin=True)
    codes = [connection_module._close_frame_args(e)[0] if isinstance(e, websocket.ABNF)
             else getattr(e, "status_code", None) for e in seen]
    assert 4001 in codes, seen


class PongServer(RawServer):
    """Answers every client ping with a data frame and then the pong, in one write: the pong lands in
    the read-ahead behind the data and is taken out of the buffer by Connection._drain."""

    def answer(self, conn: socket.socket, opcode: int, data: bytes) -> None:
        if opcode == PING:
            conn.sendall(frame(BINARY, payloads(1)[0]) + frame(PONG, data))


def test_a_pong_taken_out_of_a_burst_keeps_the_ping_watchdog_fed():
    """websocket-client ends a connection whose last pong is older than ping_timeout; a pong the
    read-ahead drains must set its clock (``last_pong_tm``) as its own read loop would."""
    server = PongServer(b"")
    collector = Collector()
    conn = Connection("public", server.url, on_open=lambda c: None,
                      on_frame=lambda data, at: collector.frames.append(bytes(data)),
                      on_end=collector._end, connect_timeout=2.0, ping_interval=0.3,
                      ping_timeout=0.2)
    conn.open()
    try:
        # six ping rounds: every one answered only by a pong that sits behind a data frame
        assert wait_until(lambda: len(collector.frames) >= 6, timeout=5.0), collector.frames
        assert conn._ahead is not None, "the read-ahead was not installed"
        assert not collector.ends, f"the connection ended: {collector.ends[0].describe()}"
    finally:
        conn.close()
        server.close()


def test_a_ping_taken_out_of_a_burst_is_answered():
    """``recv_data_frame(True)`` answers a ping it reads: the drain relies on it."""
    server = RawServer(b"".join([*(frame(BINARY, p) for p in payloads(5)), frame(PING, b"hello"),
                                 *(frame(BINARY, p) for p in payloads(5))]))
    collector = Collector()
    conn = collector.connection(server.url)
    conn.open()
    try:
        assert wait_until(lambda: len(collector.frames) == 10, timeout=3.0)
        assert wait_until(lambda: (PONG, b"hello") in server.received, timeout=3.0)
    finally:
        conn.close()
        server.close()


def test_a_websocket_client_without_the_parser_hook_is_read_plainly_and_said_once(
    exchange: FakeUpbitServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(connection_module.readahead, "install", lambda ws: None)
    monkeypatch.setattr(connection_module, "_read_ahead_warned", False)
    ends: list[ConnectionEnd] = []
    opened = threading.Event()
    conns = [Connection(f"public-{i}", exchange.public_url, on_open=lambda c: opened.set(),
                        on_frame=lambda d, at: None, on_end=lambda c, e: ends.append(e))
             for i in range(2)]
    caplog.set_level(logging.WARNING, logger="upbit_sync.connection")
    try:
        for conn in conns:
            opened.clear()
            conn.open()
            assert opened.wait(3.0)
            assert conn._ahead is None
    finally:
        for conn in conns:
            conn.close()
    warnings = [r for r in caplog.records if "read-ahead" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING


def test_recv_data_frame_reads_each_frame_through_the_instances_recv_frame():
    """A connection that offers permessage-deflate puts a MessageReader's recv_frame on its
    WebSocket: websocket-client's data-frame loop must read through it."""
    ws = websocket.WebSocket()
    handed = websocket.ABNF(1, 0, 0, 0, websocket.ABNF.OPCODE_BINARY, 0, b"inflated")
    ws.recv_frame = lambda: handed  # type: ignore[method-assign]
    opcode, got = ws.recv_data_frame(True)
    assert (opcode, got.data) == (websocket.ABNF.OPCODE_BINARY, b"inflated")


def test_websocket_clients_own_parser_still_refuses_rsv1():
    """Why the MessageReader exists: the day websocket-client takes RSV1 frames itself, this fails
    and the reader may be reconsidered."""
    with pytest.raises(websocket.WebSocketProtocolException):
        websocket.ABNF(1, 1, 0, 0, websocket.ABNF.OPCODE_BINARY, 0, b"x").validate(True)


def test_the_upgrade_answers_headers_come_with_lower_case_names(exchange):
    ws = websocket.create_connection(exchange.public_url, suppress_origin=True, timeout=2,
                                     header=["Sec-WebSocket-Extensions: permessage-deflate"])
    try:
        headers = ws.getheaders()
        assert headers is not None and "permessage-deflate" in headers["sec-websocket-extensions"]
    finally:
        ws.close()
