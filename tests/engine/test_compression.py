"""Compressed frames (permessage-deflate, RFC 7692): deflate.py's pure part, the socket side
(readahead.py, connection.py) on the wire, and the whole client against the fake exchange, which
agrees to the extension as Upbit does, with a fresh window per message, or not at all."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

import upbit_sync as us
from tests.engine.conftest import fast_config
from tests.engine.test_readahead import BINARY, CONT, PING, TEXT, Collector, RawServer, frame, payloads
from tests.support import wait_until
from upbit_sync import deflate
from upbit_sync.deflate import MAX_MESSAGE, Agreement, CompressionError, Inflater, parse_answer
from upbit_sync.manager import port_of
from upbit_sync.readahead import PARSE, ReadAhead
from upbit_sync.testing import FakeUpbitServer
from upbit_sync.testing.compression import Deflater

RSV1 = 4  # test_readahead.frame's rsv argument: the RSV1 bit

# ---- deflate.py: the answer ----------------------------------------------------------------------


@pytest.mark.parametrize("answer, agreement", [
    (None, None),
    ("", None),
    ("permessage-deflate", Agreement(15, False)),
    ("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12", Agreement(12, False)),
    ("Permessage-Deflate;Server_No_Context_Takeover", Agreement(15, True)),
    ('permessage-deflate; server_max_window_bits="10"; client_no_context_takeover', Agreement(10, False)),
])
def test_an_answer_the_client_can_honour_gives_its_agreement(answer, agreement):
    assert parse_answer(answer) == agreement


@pytest.mark.parametrize("answer, named", [
    ("x-webkit-deflate-frame", "not offered"),
    ("permessage-deflate, permessage-deflate", "more than one"),
    ("permessage-deflate; server_max_window_bits=7", "8 to 15"),
    ("permessage-deflate; server_max_window_bits=16", "8 to 15"),
    ("permessage-deflate; server_max_window_bits", "8 to 15"),
    ("permessage-deflate; server_no_context_takeover=1", "a value"),
    ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", "repeats"),
    ("permessage-deflate; mystery=1", "unknown parameter"),
])
def test_an_answer_the_client_cannot_honour_is_refused_naming_why(answer, named):
    with pytest.raises(CompressionError, match=named):
        parse_answer(answer)


def test_the_offer_is_the_extension_with_client_max_window_bits():
    assert deflate.OFFER_HEADER == "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"


# ---- deflate.py: the inflater ----------------------------------------------------------------------


def messages(n: int) -> list[bytes]:
    return [b'{"ty":"ticker","cd":"KRW-BTC","tp":%d.0,"tv":0.0%d,"st":"REALTIME"}' % (95_000_000 + i, i)
            for i in range(n)]


def test_context_taken_over_inflates_every_message_of_a_long_run():
    sender, sent = Deflater(12), messages(2_000)
    inflater = Inflater(Agreement(12))
    wire = [sender.compress(m) for m in sent]
    assert [inflater.inflate(w) for w in wire] == sent
    assert inflater.inflated == sum(map(len, sent)) and inflater.wire == sum(map(len, wire))
    assert inflater.wire * 4 < inflater.inflated  # the window pays: later messages cost a few bytes


def test_no_context_takeover_starts_each_message_with_an_empty_window():
    sender = Deflater(15, no_context_takeover=True)
    wire = [sender.compress(m) for m in messages(50)]
    inflater = Inflater(Agreement(15, no_context_takeover=True))
    assert [inflater.inflate(w) for w in wire[25:]] == messages(50)[25:]  # any message stands alone


def test_a_message_that_ends_its_stream_is_followed_by_a_new_one():
    def whole(data: bytes) -> bytes:  # BFINAL set: one complete raw deflate stream
        encoder = zlib.compressobj(6, zlib.DEFLATED, -15)
        return encoder.compress(data) + encoder.flush()
    inflater = Inflater(Agreement())
    assert [inflater.inflate(whole(m)) for m in messages(3)] == messages(3)


def test_data_that_does_not_inflate_is_a_compression_error():
    with pytest.raises(CompressionError, match="does not inflate"):
        Inflater(Agreement()).inflate(b"\xff\xfe not deflate at all")


def test_a_message_inflating_past_the_bound_is_refused_without_inflating_it_all():
    bomb = Deflater().compress(bytes(MAX_MESSAGE * 4))
    assert len(bomb) < 20_000
    with pytest.raises(CompressionError, match="inflates past"):
        Inflater(Agreement()).inflate(bomb)
    exact = Deflater().compress(bytes(1000))
    assert Inflater(Agreement(), limit=1000).inflate(exact) == bytes(1000)


# ---- the socket side, on the wire (a hand-written server) ---------------------------------------


@pytest.fixture
def raw_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    servers: list[RawServer] = []

    def start(burst: bytes, extension: str | None = "permessage-deflate") -> RawServer:
        servers.append(RawServer(burst, extension=extension))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def offering(collector: Collector, url: str, read_ahead: bool, **options: Any) -> Any:
    conn = collector.connection(url, read_ahead)
    conn.compression = True
    for name, value in options.items():
        setattr(conn, name, value)
    return conn


@pytest.mark.parametrize("read_ahead", [True, False], ids=["read-ahead", "websocket-client alone"])
def test_a_burst_of_compressed_frames_with_a_fragmented_one_inside_arrives_whole_and_in_order(
        read_ahead, raw_server):
    sender = Deflater(15)
    first, last = payloads(40), payloads(40)
    long_one = b"L" * 70_000 + bytes(range(256)) * 40
    head = [frame(BINARY, sender.compress(p), rsv=RSV1) for p in first]  # compressed in order sent
    squeezed = sender.compress(long_one)
    thirds = len(squeezed) // 3
    burst = b"".join([
        *head,
        frame(BINARY, b"plain, between compressed ones"),
        frame(BINARY, squeezed[:thirds], fin=False, rsv=RSV1),
        frame(PING, b"between fragments"),
        frame(CONT, squeezed[thirds:2 * thirds], fin=False),
        frame(CONT, squeezed[2 * thirds:]),
        frame(TEXT, sender.compress(b"a text one"), rsv=RSV1),
        *(frame(BINARY, sender.compress(p), rsv=RSV1) for p in last),
    ])
    server = raw_server(burst)
    collector = Collector()
    conn = offering(collector, server.url, read_ahead)
    conn.open()
    try:
        expected = [*first, b"plain, between compressed ones", long_one, b"a text one", *last]
        assert wait_until(lambda: len(collector.frames) >= len(expected), timeout=5.0), (
            f"{len(collector.frames)} of {len(expected)} arrived; ends: {collector.ends}")
        assert collector.frames == expected
        assert conn.agreement == Agreement(15, False)
        assert conn.wire_bytes < conn.bytes == sum(map(len, expected))
        assert wait_until(lambda: (0xA, b"between fragments") in server.received)  # the pong
    finally:
        conn.close()


@pytest.mark.parametrize("extension", ["x-webkit-deflate-frame",
                                       "permessage-deflate; server_max_window_bits=7"])
def test_an_answer_the_client_cannot_honour_ends_the_attempt_before_it_opens(extension, raw_server):
    server = raw_server(frame(BINARY, b"never read"), extension=extension)
    collector = Collector()
    conn = offering(collector, server.url, True)
    conn.open()
    try:
        assert collector.ended.wait(5.0)
        end = collector.ends[0]
        assert (end.kind, end.was_open, collector.frames) == ("compression", False, [])
        assert "compression fault" in end.describe()
    finally:
        conn.close()


@pytest.mark.parametrize("bad", ["rsv1 undeclared", "rsv1 on a continuation", "a new message inside"])
@pytest.mark.parametrize("read_ahead", [True, False], ids=["read-ahead", "websocket-client alone"])
def test_a_compressed_frame_out_of_place_ends_the_socket_after_what_came_before(
        bad, read_ahead, raw_server):
    sender = Deflater(15)
    before = payloads(10)
    wrong = {
        "rsv1 undeclared": frame(BINARY, sender.compress(b"x"), rsv=RSV1),
        "rsv1 on a continuation": frame(BINARY, b"a", fin=False) + frame(CONT, b"b", rsv=RSV1),
        "a new message inside": (frame(BINARY, sender.compress(b"x"), fin=False, rsv=RSV1)
                                 + frame(BINARY, b"another")),
    }[bad]
    server = raw_server(b"".join([*(frame(BINARY, p) for p in before), wrong, frame(BINARY, b"after")]),
                        extension=None if bad == "rsv1 undeclared" else "permessage-deflate")
    collector = Collector()
    conn = offering(collector, server.url, read_ahead)
    conn.open()
    try:
        assert collector.ended.wait(5.0)
        assert collector.frames == before
        assert collector.ends[0].kind == "compression", collector.ends[0].describe()
    finally:
        conn.close()


@pytest.mark.parametrize("size", [10, 300, 70_000])
def test_the_read_ahead_cuts_and_inflates_a_compressed_frame_once_negotiated(size):
    sender, payload = Deflater(15), bytes(i % 7 for i in range(size))
    wire = frame(BINARY, sender.compress(payload), rsv=RSV1) + frame(BINARY, b"plain")
    ahead = ReadAhead(lambda n: wire)
    ahead(0)
    assert ahead.next_frame() is PARSE  # nothing negotiated: websocket-client's (refusing) parser
    ahead.inflate = Inflater(Agreement()).inflate
    assert ahead.next_frame() == payload  # a 64-bit length too, through the general path's reader
    assert ahead.next_frame() == b"plain"


# ---- the client against the fake exchange ----------------------------------------------------------


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[Any, FakeUpbitServer]]:
    """One fake per way of answering the offer, shared by the module's tests (each test has its own
    manager); no connect limit, as these tests reconnect on purpose."""
    made = {mode: FakeUpbitServer(message_rate=40.0, status_interval=0.5, seed=11, connect_limit=None,
                                  compression=mode).start()
            for mode in (True, False, "no_context_takeover")}
    yield made
    for server in made.values():
        server.stop()


class Client:
    """A manager and a client on one of the fakes, with what the client was told."""

    def __init__(self, server: FakeUpbitServer, **config: Any) -> None:
        self.server = server
        self.errors: list[BaseException] = []
        self.messages: list[Any] = []
        self.manager = us.WebSocketManager(fast_config(server, stale_after=5.0, **config))
        self.client = us.WebSocketClient(self.manager, on_error=self.errors.append)
        self.lock = threading.Lock()

    def subscribe(self, kind: str = "orderbook", codes: tuple[str, ...] = ("KRW-BTC", "KRW-ETH")) -> None:
        self.client.subscribe(kind, list(codes), self.messages.append)

    def health(self) -> Any:
        return self.manager.health()["connections"]["public"]

    @property
    def conn(self) -> Any:
        return port_of(self.manager).link("public").conn

    def close(self) -> None:
        self.client.close()
        self.manager.stop()


@pytest.fixture
def connect() -> Iterator[Any]:
    made: list[Client] = []

    def start(server: FakeUpbitServer, **config: Any) -> Client:
        made.append(Client(server, **config))
        return made[-1]

    yield start
    for client in made:
        client.close()


def test_agreed_compression_delivers_the_data_and_health_shows_the_ratio(servers, connect):
    client = connect(servers[True])
    client.subscribe()
    assert wait_until(lambda: len(client.messages) >= 20, timeout=5.0)
    health = client.health()
    assert health["compression"] is True
    assert 0 < health["wire_bytes"] < health["bytes"] / 2  # 30-level orderbooks: far smaller on the wire
    assert all(isinstance(m, us.Orderbook) and len(m.orderbook_units) > 0 for m in client.messages)
    offered = servers[True].connect_attempts[-1].header("Sec-WebSocket-Extensions")
    assert offered == deflate.OFFER
    assert servers[True].connections[-1].compressed
    assert client.errors == []


def test_a_server_that_declines_is_read_as_before_and_health_says_so(servers, connect):
    client = connect(servers[False])
    client.subscribe()
    assert wait_until(lambda: len(client.messages) >= 10, timeout=5.0)
    health = client.health()
    assert health["compression"] is False
    assert health["wire_bytes"] == health["bytes"] > 0
    assert not servers[False].connections[-1].compressed


def test_compression_off_sends_no_offer(servers, connect):
    client = connect(servers[True], compression=False)
    client.subscribe("ticker")
    assert wait_until(lambda: len(client.messages) >= 2, timeout=5.0)
    assert servers[True].connect_attempts[-1].header("Sec-WebSocket-Extensions") is None
    assert client.health()["compression"] is False
    assert not servers[True].connections[-1].compressed


def test_the_environment_can_turn_compression_off():
    assert us.Config.from_env({"UPBIT_COMPRESSION": "off"}).compression is False
    assert us.Config().compression is True


def test_no_context_takeover_is_honoured(servers, connect):
    client = connect(servers["no_context_takeover"])
    client.subscribe()
    assert wait_until(lambda: len(client.messages) >= 20, timeout=5.0)
    assert client.conn.agreement == Agreement(12, no_context_takeover=True)
    health = client.health()
    assert health["compression"] is True and health["wire_bytes"] < health["bytes"]


@pytest.mark.parametrize("mode", [True, "no_context_takeover", False])
def test_the_firehose_writes_frames_the_client_reads_whatever_was_agreed(mode, servers, connect):
    client = connect(servers[mode])
    client.subscribe("trade", ("KRW-BTC",))
    assert wait_until(lambda: client.messages, timeout=5.0)
    conn_id = servers[mode].connections[-1].id
    sample = client.messages[0].raw
    frames = [us.testing.encode({**sample, "sequential_id": i}, "SIMPLE") for i in range(7)]
    before = len(client.messages)
    servers[mode].firehose(3_000, frames, conn_id)
    assert wait_until(lambda: len(client.messages) >= before + 3_000, timeout=10.0)
    ids = [m.sequential_id for m in client.messages[before:before + 3_000]]
    assert ids == [i % 7 for i in range(3_000)]
    # what the feed writes after the firehose still inflates (the fake's window started afresh)
    count = len(client.messages)
    assert wait_until(lambda: len(client.messages) > count + 2, timeout=5.0)
    assert client.errors == [] and client.health()["ends"] == {}


@pytest.mark.parametrize("fault, mode, payload", [
    ("rsv1 when nothing was agreed", False, Deflater().compress(b'{"ty":"trade"}')),
    ("data that does not inflate", True, b"\xff\xfe\xfd not deflate"),
    ("a message past the bound", True, Deflater().compress(bytes(MAX_MESSAGE + 1))),
], ids=["rsv1 undeclared", "corrupt", "too big"])
def test_a_compression_fault_ends_the_socket_is_told_and_the_client_reconnects(
        fault, mode, payload, servers, connect):
    server = servers[mode]
    client = connect(server)
    client.subscribe("trade", ("KRW-BTC",))
    assert wait_until(lambda: client.messages, timeout=5.0)
    first = server.connections[-1]
    assert server.send_raw(payload, first.id, compressed=True) == 1
    assert wait_until(lambda: client.health()["ends"].get("compression") == 1, timeout=5.0), (
        client.health()["ends"])
    assert wait_until(lambda: client.health()["state"] == "OPEN" and server.connections[-1] is not first,
                      timeout=5.0)
    assert wait_until(lambda: client.errors, timeout=2.0)
    assert isinstance(client.errors[0], CompressionError) and isinstance(client.errors[0], us.UpbitError)
    assert "compression fault" in client.health()["last_error"]
    count = len(client.messages)
    assert wait_until(lambda: len(client.messages) > count, timeout=5.0)  # data flows again


def test_a_reconnect_after_a_drop_agrees_again_with_a_fresh_inflater(servers, connect):
    server = servers[True]
    client = connect(server)
    client.subscribe()
    assert wait_until(lambda: len(client.messages) >= 5, timeout=5.0)
    old = client.conn._inflater
    assert old is not None and old.inflated > 0
    first = server.connections[-1]
    server.drop_all()
    assert wait_until(lambda: server.connections[-1] is not first and client.health()["state"] == "OPEN",
                      timeout=5.0)
    count = len(client.messages)
    assert wait_until(lambda: len(client.messages) >= count + 5, timeout=5.0)
    new = client.conn._inflater
    assert new is not None and new is not old and new.inflated < client.health()["bytes"]
    assert server.connections[-1].compressed and client.health()["compression"]
    assert client.errors == []


def test_the_snapshot_connection_offers_compression_too(servers, connect):
    server = servers[True]
    client = connect(server)
    snapshot = client.client.snapshot("orderbook", ["KRW-BTC"], timeout=5.0)
    assert len(snapshot) == 1
    assert server.connect_attempts[-1].header("Sec-WebSocket-Extensions") == deflate.OFFER
    assert server.connections[-1].compressed


def test_a_websocket_client_the_reader_cannot_serve_offers_nothing_and_says_so_once(
        servers, monkeypatch, caplog):
    from upbit_sync import connection as connection_module

    monkeypatch.setattr(connection_module.readahead, "can_read_compressed", lambda: False)
    monkeypatch.setattr(connection_module, "_compression_warned", False)
    caplog.set_level("WARNING", logger="upbit_sync.connection")
    collector = Collector()
    conns = [offering(collector, servers[True].public_url, True) for _ in range(2)]
    try:
        for conn in conns:
            conn.open()
            assert wait_until(lambda conn=conn: conn.state.value == "OPEN", timeout=3.0)
            assert servers[True].connect_attempts[-1].header("Sec-WebSocket-Extensions") is None
            assert conn.agreement is None
    finally:
        for conn in conns:
            conn.close()
    warnings = [r for r in caplog.records if "permessage-deflate is not offered" in r.getMessage()]
    assert len(warnings) == 1
