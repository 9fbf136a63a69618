"""FakeUpbitServer.replay: a recording of ``upbit-sync record`` played to each connection as if it were
the recorder's own: what it asks for, in recorded order and pace, in its format, gaps left out.

The recordings here are written by hand, so each test knows exactly what was recorded; the sessions
are raw websocket-client connections (conftest.Session), so a failure points at the fake.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from upbit_sync import formats
from upbit_sync.recording import RecordingError
from upbit_sync.testing import FakeUpbitServer
from upbit_sync.testing.replay import Recording, check_speed

from .conftest import FAST, Session, auth_header

T0 = 1_796_140_800.0  # 2026-12-01 16:00:00 UTC


def ticker(code: str, at: float, price: float, stream_type: str = "REALTIME") -> dict[str, Any]:
    return {"type": "ticker", "code": code, "trade_price": price, "signed_change_rate": 0.01,
            "timestamp": int(at * 1000), "stream_type": stream_type, "received_at": at}


def orderbook(code: str, at: float, units: int = 15, stream_type: str = "REALTIME") -> dict[str, Any]:
    levels = [{"ask_price": 100.0 + i, "bid_price": 99.0 - i, "ask_size": 1.0, "bid_size": 2.0}
              for i in range(units)]
    return {"type": "orderbook", "code": code, "timestamp": int(at * 1000), "total_ask_size": 15.0,
            "total_bid_size": 30.0, "orderbook_units": levels, "stream_type": stream_type, "level": 0,
            "received_at": at}


GAP = {"_event": "Reconnected", "connection": "public", "downtime_s": 0.2, "trades_may_be_missing": True,
       "at": T0 + 1.1}

# KRW-BTC every second from T0, KRW-ETH every second from T0 + 0.5, a gap marked after the second.
BTC = [ticker("KRW-BTC", T0, 100.0, "SNAPSHOT"), ticker("KRW-BTC", T0 + 1, 101.0),
       ticker("KRW-BTC", T0 + 2, 102.0)]
ETH = [ticker("KRW-ETH", T0 + 0.5, 50.0, "SNAPSHOT"), ticker("KRW-ETH", T0 + 1.5, 51.0)]
TICKERS = [BTC[0], ETH[0], BTC[1], GAP, ETH[1], BTC[2]]


def sent(message: dict[str, Any]) -> dict[str, Any]:
    """A recorded message as the fake sends it (DEFAULT format): without the SDK's received_at."""
    return {k: v for k, v in message.items() if k != "received_at"}


def write(path: Path, lines: list[dict[str, Any]], *, compress: bool = True) -> Path:
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    return write(tmp_path / "ticker" / "20261201-16.ndjson.gz", TICKERS)


@pytest.fixture
def replaying() -> Iterator[Callable[..., FakeUpbitServer]]:
    """Start fake exchanges replaying a recording (FAST settings); all stopped after the test."""
    servers: list[FakeUpbitServer] = []

    def start(paths: list[Path], speed: float | str = "max", **options: Any) -> FakeUpbitServer:
        server = FakeUpbitServer(**{**FAST, **options}).replay(paths, speed=speed).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def messages(session: Session, n: int, timeout: float = 3.0) -> list[Any]:
    return [session.message(timeout) for _ in range(n)]


def test_a_subscriber_gets_a_codes_recorded_messages_in_recorded_order_snapshot_first(
    replaying: Callable[..., FakeUpbitServer], recording: Path, connect: Callable[..., Session],
) -> None:
    server = replaying([recording])
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})
    assert messages(session, 3) == [sent(m) for m in BTC]


def test_streams_of_one_request_interleave_in_recorded_time_order_without_the_index_lines(
    replaying: Callable[..., FakeUpbitServer], recording: Path, connect: Callable[..., Session],
) -> None:
    server = replaying([recording])
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC", "KRW-ETH"]})
    assert messages(session, 5) == [sent(m) for m in TICKERS if m is not GAP]
    assert server.wait_for(server.replay_finished)
    assert server.replayed == 5
    assert session.collect(0.2) == []  # the gap's index line is no message


def test_messages_come_in_the_format_the_connection_asked_for(
    replaying: Callable[..., FakeUpbitServer], recording: Path, connect: Callable[..., Session],
) -> None:
    server = replaying([recording])
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]}, fmt="SIMPLE")
    assert messages(session, 3) == [formats.to_simple(sent(m)) for m in BTC]


def test_the_recorded_pace_is_divided_by_the_speed(
    replaying: Callable[..., FakeUpbitServer], recording: Path, connect: Callable[..., Session],
) -> None:
    server = replaying([recording], speed=10)  # recorded 1 s apart: 0.1 s apart
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})
    arrived = []
    for _ in BTC:
        session.message()
        arrived.append(time.monotonic())
    assert 0.15 <= arrived[-1] - arrived[0] < 1.0, arrived


def test_a_code_that_was_not_recorded_gets_nothing(
    replaying: Callable[..., FakeUpbitServer], recording: Path, connect: Callable[..., Session],
) -> None:
    server = replaying([recording])
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-XRP", "KRW-BTC"]}, {"type": "trade",
                                                                          "codes": ["KRW-BTC"]})
    assert [m["code"] for m in messages(session, 3)] == ["KRW-BTC"] * 3
    assert server.wait_for(server.replay_finished)
    assert session.collect(0.2) == []


def test_orderbooks_are_cut_to_the_depth_asked_for(
    replaying: Callable[..., FakeUpbitServer], tmp_path: Path, connect: Callable[..., Session],
) -> None:
    path = write(tmp_path / "orderbook.ndjson.gz", [orderbook("KRW-BTC", T0, 15, "SNAPSHOT")])
    server = replaying([path])
    session = connect(server.public_url)
    session.subscribe({"type": "orderbook", "codes": ["KRW-BTC.5"]})
    book = session.message()
    assert book["orderbook_units"] == orderbook("KRW-BTC", T0)["orderbook_units"][:5]


def test_a_stream_a_new_request_names_again_plays_on_where_it_was(
    replaying: Callable[..., FakeUpbitServer], recording: Path, connect: Callable[..., Session],
) -> None:
    server = replaying([recording], speed=5)  # 0.2 s apart
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})
    first = session.message()
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC", "KRW-ETH"]})  # replaces the set
    rest = messages(session, 4)
    btc = [m for m in [first, *rest] if m["code"] == "KRW-BTC"]
    assert btc == [sent(m) for m in BTC]  # no second SNAPSHOT, nothing played twice
    assert [m for m in rest if m["code"] == "KRW-ETH"] == [sent(m) for m in ETH]


def test_is_only_snapshot_plays_the_first_snapshot_only(
    replaying: Callable[..., FakeUpbitServer], recording: Path, connect: Callable[..., Session],
) -> None:
    server = replaying([recording])
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"], "is_only_snapshot": True})
    assert session.message() == sent(BTC[0])
    assert server.wait_for(server.replay_finished)
    assert session.collect(0.2) == []


def test_is_only_realtime_leaves_the_snapshots_out(
    replaying: Callable[..., FakeUpbitServer], recording: Path, connect: Callable[..., Session],
) -> None:
    server = replaying([recording])
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"], "is_only_realtime": True})
    assert messages(session, 2) == [sent(m) for m in BTC[1:]]


def test_every_new_connection_starts_the_recording_over(
    replaying: Callable[..., FakeUpbitServer], recording: Path, connect: Callable[..., Session],
) -> None:
    server = replaying([recording])
    for _ in range(2):
        session = connect(server.public_url)
        session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})
        assert messages(session, 3) == [sent(m) for m in BTC]
        session.close()


def test_recorded_codes_are_listed_even_where_the_fake_lists_no_such_market(
    replaying: Callable[..., FakeUpbitServer], tmp_path: Path, connect: Callable[..., Session],
    rest: Callable[[FakeUpbitServer], Any],
) -> None:
    path = write(tmp_path / "new.ndjson", [ticker("KRW-NEWCOIN", T0, 1.0, "SNAPSHOT")], compress=False)
    server = replaying([path])
    listed = {row["market"] for row in rest(server).get("/v1/market/all").json()}
    assert "KRW-NEWCOIN" in listed
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-NEWCOIN"]})
    assert session.message()["code"] == "KRW-NEWCOIN"


def test_private_types_replay_on_the_private_endpoint(
    replaying: Callable[..., FakeUpbitServer], tmp_path: Path, connect: Callable[..., Session],
) -> None:
    order = {"type": "myOrder", "code": "KRW-BTC", "uuid": "u-1", "ask_bid": "BID", "state": "wait",
             "timestamp": int(T0 * 1000), "stream_type": "REALTIME", "received_at": T0}
    asset = {"type": "myAsset", "assets": [{"currency": "KRW", "balance": 1.0, "locked": 0.0}],
             "timestamp": int(T0 * 1000), "stream_type": "REALTIME", "received_at": T0 + 0.1}
    server = replaying([write(tmp_path / "private.ndjson.gz", [order, asset])])
    session = connect(server.private_url, header=auth_header())
    session.subscribe({"type": "myOrder"}, {"type": "myAsset"})
    assert messages(session, 2) == [sent(order), sent(asset)]


def test_a_directory_stands_for_the_recordings_under_it(
    replaying: Callable[..., FakeUpbitServer], tmp_path: Path, connect: Callable[..., Session],
) -> None:
    write(tmp_path / "rec" / "ticker" / "20261201-16.ndjson.gz", BTC[:2])
    write(tmp_path / "rec" / "ticker" / "20261201-17.ndjson.gz", BTC[2:])
    (tmp_path / "rec" / "notes.txt").write_text("not a recording")
    server = replaying([tmp_path / "rec"])
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC"]})
    assert messages(session, 3) == [sent(m) for m in BTC]


def test_a_recording_that_is_not_there_or_not_a_recording_is_refused(tmp_path: Path) -> None:
    server = FakeUpbitServer()
    with pytest.raises(FileNotFoundError):
        server.replay([tmp_path / "missing.ndjson.gz"])
    bad = tmp_path / "bad.ndjson"
    bad.write_text('not json\n["nor an object"]\n')
    with pytest.raises(RecordingError, match=r"nothing readable .*bad\.ndjson:1 \(not JSON\)"):
        server.replay([bad])
    assert server.recording is None  # nothing changed


def test_a_recording_knows_its_streams_and_span(recording: Path) -> None:
    loaded = Recording.load([recording])
    assert len(loaded) == 5 and loaded.gaps == 1
    assert set(loaded.streams) == {("ticker", "KRW-BTC", 0.0), ("ticker", "KRW-ETH", 0.0)}
    assert loaded.span == pytest.approx(2.0)


@pytest.mark.parametrize(("speed", "factor"),
                         [(1, 1.0), (2.5, 2.5), ("max", float("inf")), (0, float("inf"))])
def test_the_speed_is_a_factor_or_max(speed: float | str, factor: float) -> None:
    assert check_speed(speed) == factor


@pytest.mark.parametrize("speed", [-1, "fast", float("nan"), True])
def test_a_speed_that_is_no_factor_is_refused(speed: Any) -> None:
    with pytest.raises(ValueError, match="speed must be"):
        check_speed(speed)
