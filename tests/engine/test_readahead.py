"""The read-ahead under websocket-client's frame parser (upbit_sync/readahead.py).

Unit tests take the frame cutter apart byte by byte; the wire tests use a hand-written websocket
server that writes a whole burst, control frames included, in one ``sendall``, so every frame lands in
the read-ahead together. Their point is the one duty the read-ahead has: no complete frame may wait in
its buffer while websocket-client waits on the socket.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

import upbit_sync as us
from tests.engine.conftest import fast_config
from tests.support import wait_until
from upbit_sync import formats, readahead
from upbit_sync.connection import Connection, ConnectionEnd
from upbit_sync.manager import port_of
from upbit_sync.readahead import CHUNK, CLOSE, PARSE, ReadAhead
from upbit_sync.testing import MarketSimulator

PING, PONG, CONT, TEXT, BINARY, CLOSE_OP = 0x9, 0xA, 0x0, 0x1, 0x2, 0x8
# A self-signed certificate for 127.0.0.1 only, made for these tests (valid until 2126).
CERT = Path(__file__).parent / "data" / "loopback-cert.pem"
KEY = Path(__file__).parent / "data" / "loopback-key.pem"


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0,
          mask: bytes | None = None) -> bytes:
    """One websocket frame as RFC 6455 lays it out."""
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    size = len(payload)
    mask_bit = 0x80 if mask is not None else 0
    if size < 126:
        head += bytes([mask_bit | size])
    elif size < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", size)
    if mask is not None:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


def close_frame(code: int, reason: str) -> bytes:
    return frame(CLOSE_OP, struct.pack("!H", code) + reason.encode())


class Chunks:
    """A ``recv`` that hands out prepared chunks and records what it was asked for."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)
        self.asked: list[int] = []

    def __call__(self, bufsize: int) -> bytes:
        self.asked.append(bufsize)
        if not self.chunks:
            raise websocket.WebSocketConnectionClosedException("no more data")
        return self.chunks.pop(0)


# ---- the cutter, byte by byte -----------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 125, 126, 300, 65535, 65536, 70_000])
def test_plain_frame_of_each_length_encoding_is_cut_out_whole(size):
    payload = bytes(i % 251 for i in range(size))
    ahead = ReadAhead(Chunks(frame(BINARY, payload) + frame(TEXT, b"next")))
    ahead(0)  # the first read fills the buffer
    assert ahead.next_frame() == payload
    assert ahead.next_frame() == b"next"
    assert ahead.next_frame() is None
    assert ahead.buffered == 0


def test_incomplete_frame_is_left_until_every_byte_is_there():
    wire = frame(BINARY, b"x" * 300) + frame(BINARY, b"y" * 70_000)
    for cut in [*range(1, 8), *range(8, len(wire), 97)]:  # inside headers, lengths and payloads
        ahead = ReadAhead(Chunks(wire[:cut]))
        ahead(0)
        assert ahead.has_frame() is (cut >= 304)
        got = ahead.next_frame()
        if cut < 304:
            assert got is None, cut
            assert ahead.buffered == cut  # nothing consumed
        else:
            assert got == b"x" * 300
            assert ahead.next_frame() is None


@pytest.mark.parametrize("wire, expected", [
    (frame(PING, b"p"), PARSE),
    (frame(PONG, b"p"), PARSE),
    (frame(BINARY, b"part", fin=False), PARSE),
    (frame(CONT, b"rest"), PARSE),
    (frame(BINARY, b"compressed", rsv=4), PARSE),
    (frame(BINARY, b"masked", mask=b"abcd"), PARSE),
    (close_frame(1000, "bye"), CLOSE),
])
def test_complete_frame_that_is_not_plain_data_is_left_for_websocket_client(wire, expected):
    ahead = ReadAhead(Chunks(wire + frame(BINARY, b"after")))
    ahead(0)
    before = ahead.buffered
    assert ahead.next_frame() is expected
    assert ahead.buffered == before  # left in place for the parser


def test_recv_serves_the_parser_from_one_large_read():
    source = Chunks(b"abcdefgh", b"ij")
    ahead = ReadAhead(source)
    assert [ahead(3), ahead(3), ahead(3), ahead(5)] == [b"abc", b"def", b"gh", b"ij"]
    assert source.asked == [CHUNK, CHUNK]  # the socket is asked again only once the buffer is empty


def test_recv_errors_reach_the_parser_unchanged():
    ahead = ReadAhead(Chunks())
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        ahead(2)


def test_install_replaces_the_parsers_recv_and_declines_an_unknown_build():
    ws = websocket.WebSocket()
    ahead = readahead.install(ws)
    assert isinstance(ahead, ReadAhead) and ws.frame_buffer.recv is ahead
    assert readahead.install(object()) is None


# ---- on the wire: a hand-written server writes each burst in one piece ------------------------------


class RawServer:
    """Accepts one websocket client, writes ``burst`` in one ``sendall`` and keeps the socket open,
    recording the frames the client sends back. With ``tls``, it speaks wss as Upbit does; with
    ``extension``, its upgrade answer names that ``Sec-WebSocket-Extensions``."""

    def __init__(self, burst: bytes, tls: bool = False, extension: str | None = None) -> None:
        self.burst = burst
        self.extension = extension
        self.request = b""
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.tls: ssl.SSLContext | None = None
        if tls:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(CERT, KEY)
        scheme = "wss" if tls else "ws"
        self.url = f"{scheme}://127.0.0.1:{self.listener.getsockname()[1]}/websocket/v1"
        self.received: list[tuple[int, bytes]] = []
        self.conn: socket.socket | None = None
        self.done = threading.Event()
        self.client_hung_up = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="upbit-test-raw-server", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(10)
        try:
            conn, _ = self.listener.accept()
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
        except OSError:
            return
        self.conn = conn
        with conn:
            conn.settimeout(10)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:  # the client gave up before its handshake was complete
                    return
                request += chunk
            self.request = request
            key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                       if line.lower().startswith(b"sec-websocket-key:"))
            accept = base64.b64encode(
                hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            extension = (b"" if self.extension is None
                         else b"Sec-WebSocket-Extensions: " + self.extension.encode() + b"\r\n")
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n"
                         + extension + b"\r\n")
            conn.sendall(self.burst)
            try:
                self._read_client(conn)
            except OSError:
                pass
            self.done.set()

    def _read_client(self, conn: socket.socket) -> None:
        buf = b""
        while not self.done.is_set():
            chunk = conn.recv(65536)
            if not chunk:
                self.client_hung_up.set()
                return
            buf += chunk
            while len(buf) >= 6:
                opcode, size, head = buf[0] & 0x0F, buf[1] & 0x7F, 2
                if size == 126:
                    size, head = struct.unpack("!H", buf[2:4])[0], 4
                elif size == 127:
                    size, head = struct.unpack("!Q", buf[2:10])[0], 10
                if len(buf) < head + 4 + size:
                    break
                mask = buf[head:head + 4]
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(buf[head + 4:head + 4 + size]))
                self.received.append((opcode, data))
                buf = buf[head + 4 + size:]
                self.answer(conn, opcode, data)

    def answer(self, conn: socket.socket, opcode: int, data: bytes) -> None:
        """What the server does with each frame the client sent: nothing but record it, here."""

    def close(self) -> None:
        self.done.set()
        self.listener.close()
        if self.conn is not None:  # wakes a reader waiting for the client
            try:
                self.conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(5)


class Collector:
    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.ends: list[ConnectionEnd] = []
        self.ended = threading.Event()

    def connection(self, url: str, read_ahead: bool = True) -> Connection:
        return Connection("public", url, on_open=lambda c: None,
                          on_frame=lambda data, at: self.frames.append(bytes(data)),
                          on_end=self._end, connect_timeout=2.0, ping_interval=0,
                          read_ahead=read_ahead)

    def _end(self, conn: Connection, end: ConnectionEnd) -> None:
        self.ends.append(end)
        self.ended.set()


@pytest.fixture(params=["read-ahead", "websocket-client alone"])
def reading(request: Any) -> bool:
    """Every wire test runs with the read-ahead and without it (``Config.read_ahead=False``, or a
    websocket-client it does not recognise): both must deliver the same."""
    return bool(request.param == "read-ahead")


@pytest.fixture(params=["ws", "wss"])
def serve(request: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Starts a RawServer, plain or over TLS (the reader websocket-client picks differs: with TLS
    it also asks the SSL layer for bytes it holds before waiting on the socket)."""
    tls = request.param == "wss"
    if tls:  # websocket-client's own setting for the certificates it trusts
        monkeypatch.setenv("WEBSOCKET_CLIENT_CA_BUNDLE", str(CERT))
    servers: list[RawServer] = []

    def start(burst: bytes) -> RawServer:
        servers.append(RawServer(burst, tls=tls))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def payloads(n: int, size: int = 300) -> list[bytes]:
    return [(b'{"ty":"trade","cd":"KRW-T%d","n":%d,' % (i % 10, i)).ljust(size, b" ") + b"}"
            for i in range(n)]


def test_burst_then_silence_is_delivered_in_full(reading, serve):
    """The server writes 2,000 frames at once and then says nothing: none may wait for more."""
    sent = payloads(2_000)
    server = serve(b"".join(frame(BINARY, p) for p in sent))
    collector = Collector()
    conn = collector.connection(server.url, reading)
    conn.open()
    try:
        assert wait_until(lambda: len(collector.frames) >= len(sent), timeout=5.0), (
            f"{len(collector.frames)} of {len(sent)} frames arrived")
        assert collector.frames == sent
        assert conn.frames == len(sent)
    finally:
        conn.close()


def test_control_frames_inside_a_burst_are_answered_and_data_keeps_its_order(reading, serve):
    first, last = payloads(50), payloads(50)
    big = b"B" * 70_000  # a 64-bit length
    burst = b"".join([
        *(frame(BINARY, p) for p in first),
        frame(TEXT, b"a text frame"),
        frame(PING, b"are you there"),
        frame(BINARY, big),
        frame(BINARY, b"frag-1 ", fin=False), frame(CONT, b"frag-2 ", fin=False),
        frame(PONG, b"unasked"),  # a control frame may come between fragments
        frame(CONT, b"frag-3"),
        *(frame(BINARY, p) for p in last),
        close_frame(4001, "bye"),
    ])
    server = serve(burst)
    collector = Collector()
    conn = collector.connection(server.url, reading)
    started = time.monotonic()
    conn.open()
    try:
        # The server keeps its socket open after the close frame: the client must act on a close it
        # already holds, not wait for the server to hang up.
        assert collector.ended.wait(5.0), "the buffered close frame was never acted on"
        assert time.monotonic() - started < 3.0
        assert collector.frames == [*first, b"a text frame", big, b"frag-1 frag-2 frag-3", *last]
        end = collector.ends[0]
        assert (end.code, end.reason, end.requested) == (4001, "bye", False)
        assert wait_until(lambda: any(op == CLOSE_OP for op, _ in server.received))  # the reply
        assert (PONG, b"are you there") in server.received
        assert server.client_hung_up.wait(3.0), "the client kept its socket open after the close"
    finally:
        conn.close()


def test_frame_websocket_client_refuses_ends_the_connection_after_what_came_before(reading, serve):
    before = payloads(20)
    server = serve(b"".join([*(frame(BINARY, p) for p in before),
                             frame(BINARY, b"extension bits nobody agreed on", rsv=4),
                             *(frame(BINARY, p) for p in payloads(5))]))
    collector = Collector()
    conn = collector.connection(server.url, reading)
    conn.open()
    try:
        assert collector.ended.wait(5.0)
        assert collector.frames == before
        end = collector.ends[0]
        assert not end.requested and "rsv" in end.describe()
    finally:
        conn.close()


def test_messages_before_half_a_frame_reach_their_callback_while_the_rest_is_missing(serve):
    """A segment can end inside a frame. The messages before it must not wait in a sleeping worker's
    queue for the rest of that frame: only input that is ready counts as a burst under way."""
    market = MarketSimulator(seed=3)
    wire = [json.dumps(formats.to_simple(market.make("trade", "KRW-BTC"))).encode() for _ in range(5)]
    half = frame(BINARY, wire[0])[:40]
    server = serve(b"".join(frame(BINARY, w) for w in wire) + half)
    got: list[Any] = []
    manager = us.WebSocketManager(fast_config(public_url=server.url, stale_after=30.0,
                                              health_check_interval=1.0))
    client = us.WebSocketClient(manager)
    try:
        client.subscribe("trade", ["KRW-BTC"], got.append, snapshot=True)
        assert wait_until(lambda: len(got) == 5, timeout=3.0), f"{len(got)} of 5 delivered"
        assert [m.sequential_id for m in got] == [json.loads(w)["sid"] for w in wire]
    finally:
        client.close()
        manager.stop()


@pytest.mark.parametrize("on", [True, False])
def test_the_manager_reads_ahead_as_configured(on, serve):
    server = serve(b"".join(frame(BINARY, p) for p in payloads(3)))
    manager = us.WebSocketManager(fast_config(public_url=server.url, read_ahead=on))
    client = us.WebSocketClient(manager)
    try:
        client.subscribe("trade", ["KRW-BTC"], lambda m: None)
        conn = port_of(manager).link("public").conn
        assert wait_until(lambda: conn.frames == 3)
        assert isinstance(conn._ahead, ReadAhead) is on
    finally:
        client.close()
        manager.stop()


@pytest.mark.parametrize("control", [frame(PONG, b"late pong"), frame(PING, b"ping first")],
                         ids=["pong", "ping"])
def test_data_behind_a_control_frame_that_opens_a_read_is_not_left_waiting(reading, serve, control):
    """websocket-client hands a ping or pong that starts a read to on_ping/on_pong, not to
    on_message: the frames read with it must still be handled before the socket is waited on."""
    sent = payloads(30)
    server = serve(control + b"".join(frame(BINARY, p) for p in sent))
    collector = Collector()
    conn = collector.connection(server.url, reading)
    conn.open()
    try:
        assert wait_until(lambda: len(collector.frames) == len(sent), timeout=3.0), (
            f"{len(collector.frames)} of {len(sent)} frames arrived")
        assert collector.frames == sent
    finally:
        conn.close()
