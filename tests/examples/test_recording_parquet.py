"""Recordings in Parquet (``upbit-sync record --format parquet``, ``Recorder(format="parquet")``) and
``read_recording``: one file per type and period with typed columns, the same table as NDJSON gives,
the gap index beside it, private files closed to others, a crash that loses at most the last flush,
and replay through the fake exchange.

One pair of recordings (the same lines written as NDJSON and as Parquet, over two periods) is made
once for the module; each test reads it, or copies what it damages.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import upbit_sync
from tests.examples.run import Run
from tests.support import wait_until
from upbit_sync import ConfigError, InvalidRequestError, WebSocketClient, WebSocketManager, read_recording
from upbit_sync.cli import main
from upbit_sync.recording import Recorder, RecordingError, RecordingNotFound, read_lines, recording_files
from upbit_sync.testing import FakeUpbitServer
from upbit_sync.testing.market import MarketSimulator
from upbit_sync.types import DataLoss, Reconnected

T0 = 1_796_140_800.0  # 2026-12-01 16:00:00 UTC
TYPES = ["ticker", "trade", "orderbook", "candle.1m", "myOrder", "myAsset"]
CODES = ["KRW-BTC", "KRW-ETH"]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def lines_of(kind: str, count: int, start: float) -> list[dict[str, Any]]:
    market = MarketSimulator(seed=5)
    return [{**market.make(kind, CODES[i % 2], "SNAPSHOT" if i < 2 else "REALTIME"),
             "received_at": start + i * 0.25} for i in range(count)]


LINES = {kind: lines_of(kind, 8, T0 + 10) for kind in TYPES}
LATER = {kind: lines_of(kind, 3, T0 + 70) for kind in TYPES}  # the next 60 s period


def record(directory: Path, file_format: str) -> Recorder:
    """Every type's lines, two periods, a reconnect and a loss in the first, written and closed."""
    clock = Clock(T0 + 10)
    recorder = Recorder(directory, TYPES, period=60, format=file_format, clock=clock,
                        flush_interval=0.05).start()
    for kind in TYPES:
        for line in LINES[kind]:
            recorder.message(kind, line)
    recorder.event(Reconnected("public", 0.5, trades_may_be_missing=True))
    recorder.event(DataLoss("public", "trade", "KRW-BTC", 2, "drop_oldest"))
    expected = 8 * len(TYPES)
    assert wait_until(lambda: recorder.stats.messages == expected and recorder.stats.gaps == 2, timeout=10)
    clock.now = T0 + 70
    for kind in TYPES:
        for line in LATER[kind]:
            recorder.message(kind, line)
    recorder.close()
    assert recorder.failure is None
    return recorder


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("recordings")
    record(root / "ndjson", "ndjson")
    record(root / "parquet", "parquet")
    return root / "ndjson", root / "parquet"


def names(directory: Path) -> list[str]:
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())


# ---- the same data, typed -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TYPES)
def test_each_type_reads_back_the_same_table_from_ndjson_and_parquet(recordings: tuple[Path, Path],
                                                                     kind: str) -> None:
    ndjson, parquet = (read_recording(path, types=kind) for path in recordings)
    assert parquet.num_rows == 11
    assert parquet.equals(ndjson)
    assert parquet.column("received_at").type == pa.timestamp("us", tz="UTC")
    assert parquet.column("timestamp").type == pa.timestamp("ms", tz="UTC")
    assert parquet.column("code" if kind != "myAsset" else "asset_uuid").type == pa.string()
    assert parquet.column("stream_type").to_pylist()[:3] == ["SNAPSHOT", "SNAPSHOT", "REALTIME"]


def test_columns_are_typed_from_the_message_classes(recordings: tuple[Path, Path]) -> None:
    trade = read_recording(recordings[1], types="trade")
    assert trade.schema.field("trade_price").type == pa.float64()
    assert trade.schema.field("sequential_id").type == pa.int64()
    assert trade.schema.field("ask_bid").type == pa.string()
    ticker = read_recording(recordings[1], types="ticker")
    assert ticker.schema.field("is_trading_suspended").type == pa.bool_()
    first = LINES["trade"][0]
    row = trade.slice(0, 1).to_pylist()[0]
    assert row["timestamp"].timestamp() == first["timestamp"] / 1000
    assert row["trade_price"] == first["trade_price"] and row["_extra"] is None


def test_orderbook_units_are_a_list_column(recordings: tuple[Path, Path]) -> None:
    table = read_recording(recordings[1], types="orderbook")
    assert table.schema.field("orderbook_units").type == pa.list_(pa.struct(
        [("ask_price", pa.float64()), ("bid_price", pa.float64()), ("ask_size", pa.float64()),
         ("bid_size", pa.float64())]))
    assert table.column("orderbook_units").to_pylist()[0] == LINES["orderbook"][0]["orderbook_units"]
    assets = read_recording(recordings[1], types="myAsset").column("assets").to_pylist()
    assert assets[0] == LINES["myAsset"][0]["assets"]


def test_a_value_that_fits_no_column_and_a_new_key_are_kept_in_extra(tmp_path: Path) -> None:
    odd = {**LINES["trade"][0], "trade_price": "not a number", "new_field": {"x": 1}}
    recorder = Recorder(tmp_path, ["trade"], format="parquet", clock=Clock(T0)).start()
    recorder.message("trade", odd)
    recorder.close()
    table = read_recording(tmp_path, types="trade")
    assert table.column("trade_price").to_pylist() == [None]
    assert json.loads(table.column("_extra")[0].as_py()) == {"trade_price": "not a number",
                                                             "new_field": {"x": 1}}
    (path,) = recording_files([tmp_path])
    (line,) = read_lines(path)  # what replay plays: the line as NDJSON holds it
    assert line == {k: v for k, v in odd.items() if v is not None}


# ---- files ---------------------------------------------------------------------------------------


def test_one_parquet_file_per_type_and_period_with_its_index_beside_it(
        recordings: tuple[Path, Path]) -> None:
    files = names(recordings[1])
    for kind in TYPES:
        assert f"{kind}/20261201-1600.parquet" in files and f"{kind}/20261201-1601.parquet" in files
        assert f"{kind}/20261201-1600.index.ndjson" in files
    assert not [name for name in files if "spool" in name or name.endswith(".tmp")]
    assert len([name for name in files if name.endswith(".parquet")]) == 2 * len(TYPES)


def test_the_gap_index_lines_are_those_ndjson_holds(recordings: tuple[Path, Path]) -> None:
    ndjson, parquet = recordings
    indexed = [line for line in read_lines(ndjson / "trade" / "20261201-1600.ndjson.gz") if "_event" in line]
    assert [line["_event"] for line in indexed] == ["Reconnected", "DataLoss"]
    assert list(read_lines(parquet / "trade" / "20261201-1600.index.ndjson")) == indexed
    ticker = list(read_lines(parquet / "ticker" / "20261201-1600.index.ndjson"))
    assert [line["_event"] for line in ticker] == ["Reconnected"]


def test_the_account_types_files_are_0600_in_0700_folders(recordings: tuple[Path, Path]) -> None:
    for kind in ("myOrder", "myAsset"):
        folder = recordings[1] / kind
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for path in folder.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# ---- a recorder that stops abruptly -------------------------------------------------------------


def spooled(tmp_path: Path, rows: int) -> tuple[Recorder, Path]:
    """A running recorder whose spool holds ``rows`` trades, a batch each; the spool's path."""
    recorder = Recorder(tmp_path / "live", ["trade"], format="parquet", clock=Clock(T0 + 10),
                        flush_interval=0.02).start()
    for number, line in enumerate(LINES["trade"][:rows], 1):
        recorder.message("trade", line)
        assert wait_until(lambda n=number: recorder.stats.messages == n, timeout=5)
    (spool,) = (tmp_path / "live" / "trade").glob("*.arrows")
    return recorder, spool


def test_an_open_periods_spool_is_read_while_the_recorder_runs_and_up_to_a_cut(tmp_path: Path) -> None:
    recorder, spool = spooled(tmp_path, 5)
    try:
        assert read_recording(tmp_path / "live", types="trade").num_rows == 5
        cut = tmp_path / "cut" / "trade"
        cut.mkdir(parents=True)
        (cut / spool.name).write_bytes(spool.read_bytes()[:-40])  # the last batch cut short
        assert 0 < read_recording(cut.parent, types="trade").num_rows < 5
    finally:
        recorder.close()


def test_a_spool_left_behind_is_finished_by_the_next_start_and_never_read_twice(tmp_path: Path) -> None:
    recorder, spool = spooled(tmp_path, 6)
    crashed = tmp_path / "crashed" / "trade"
    crashed.mkdir(parents=True)
    left = crashed / spool.name
    shutil.copyfile(spool, left)  # what a kill -9 leaves
    recorder.close()
    Recorder(tmp_path / "crashed", ["trade"], format="parquet").start().close()
    assert names(crashed.parent) == ["trade/20261201-16.parquet"]
    assert read_recording(crashed.parent, types="trade").num_rows == 6


def test_a_spool_that_outlived_its_merge_is_not_counted_again(tmp_path: Path) -> None:
    recorder, spool = spooled(tmp_path, 4)
    kept = spool.read_bytes()
    recorder.close()  # merged into the period's Parquet file, the spool removed
    spool.write_bytes(kept)  # as if the crash came between the rename and the removal
    assert read_recording(tmp_path / "live", types="trade").num_rows == 4
    Recorder(tmp_path / "live", ["trade"], format="parquet").start().close()
    assert not spool.exists()
    assert read_recording(tmp_path / "live", types="trade").num_rows == 4


def test_a_restart_in_the_same_period_adds_to_its_parquet_file(tmp_path: Path) -> None:
    for part in (LINES["trade"][:3], LINES["trade"][3:]):
        recorder = Recorder(tmp_path, ["trade"], format="parquet", clock=Clock(T0 + 10)).start()
        for line in part:
            recorder.message("trade", line)
        recorder.close()
    table = read_recording(tmp_path, types="trade")
    assert table.column("sequential_id").to_pylist() == [line["sequential_id"] for line in LINES["trade"]]


@pytest.mark.timeout(120)  # a process of its own that imports pyarrow: slow to start on a loaded machine
def test_a_killed_recording_process_loses_at_most_its_last_flush(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    with FakeUpbitServer(message_rate=0, seed=3) as fake:
        run = Run(["-m", "upbit_sync", "record", "trade", "KRW-BTC", "--out", str(out), "--format",
                   "parquet", "--progress", "0"],
                  env={"UPBIT_WS_URL": fake.public_url, "UPBIT_REST_URL": fake.rest_url})
        try:
            assert fake.wait_for(lambda: any(c.subscriptions for c in fake.open_connections()), timeout=20)

            def recorded() -> list[int]:
                try:
                    table = read_recording(out, types="trade")
                except RecordingError:
                    return []
                return [i for i, kind in zip(table.column("sequential_id").to_pylist(),
                                             table.column("stream_type").to_pylist(), strict=True)
                        if kind == "REALTIME"]

            first = [fake.trade("KRW-BTC", 100.0 + i, 0.1)["sequential_id"] for i in range(30)]
            # flushed while it runs (under tox -p 2 beside another suite's forty example processes,
            # 20 s was once not enough; the message says what the process and the files were at)
            assert wait_until(lambda: recorded() == first, timeout=45), (
                recorded(), first, run.process.poll(), run.lines(stderr=True)[-20:],
                {p.name: p.stat().st_size for p in out.rglob("*")},
                [(c.subscriptions, c.sent_count) for c in fake.open_connections()])
            second = [fake.trade("KRW-BTC", 200.0 + i, 0.1)["sequential_id"] for i in range(30)]
            run.process.send_signal(signal.SIGKILL)
            run.process.wait(timeout=10)
        finally:
            if run.process.poll() is None:
                run.process.kill()
            run.result()
    got = recorded()
    assert got[:30] == first and got[30:] == second[:len(got) - 30]  # the last flush at most is lost
    assert list((out / "trade").glob("*.arrows"))
    Recorder(out, ["trade"], format="parquet").start().close()  # the next run finishes the spool
    assert not list((out / "trade").glob("*.arrows"))
    assert recorded() == got


# ---- pyarrow missing, bad inputs ----------------------------------------------------------------


@pytest.fixture
def no_pyarrow(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """pyarrow not installed: its import fails, and record_parquet is imported again."""
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.delitem(sys.modules, "upbit_sync.record_parquet")
    monkeypatch.delattr(upbit_sync, "record_parquet")
    yield


@pytest.mark.usefixtures("no_pyarrow")
def test_without_pyarrow_parquet_is_a_clear_error_before_anything_starts(
        tmp_path: Path, recordings: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match=r"pip install 'upbit-sync\[parquet\]'"):
        Recorder(tmp_path / "out", ["trade"], format="parquet")
    with pytest.raises(ConfigError, match="read_recording needs pyarrow"):
        read_recording(recordings[0])
    assert main(["record", "trade", "KRW-BTC", "--out", str(tmp_path / "cli"), "--format", "parquet",
                 "--fake"]) == 2
    assert "pip install 'upbit-sync[parquet]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "cli").exists()
    Recorder(tmp_path / "ndjson", ["trade"]).start().close()  # NDJSON needs no pyarrow


def test_bad_arguments_and_paths_are_named(recordings: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="output"):
        read_recording(recordings[1], output="csv")  # type: ignore[call-overload]
    with pytest.raises(InvalidRequestError, match="'trades'"):
        read_recording(recordings[1], types="trades")
    with pytest.raises(RecordingNotFound, match="nowhere"):
        read_recording(tmp_path / "nowhere")
    with pytest.raises(RecordingError, match="format"):
        Recorder(tmp_path, ["trade"], format="csv")


def test_damaged_files_are_skipped_and_named(recordings: tuple[Path, Path], tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    shutil.copytree(recordings[1] / "trade", tmp_path / "trade")
    broken = tmp_path / "trade" / "20261201-1601.parquet"
    broken.write_bytes(broken.read_bytes()[:100])
    bad_line = tmp_path / "trade" / "20261201-1602.ndjson"
    bad_line.write_text(json.dumps(LINES["trade"][0]) + "\n{not json\n")
    table = read_recording(tmp_path, types="trade")
    assert table.num_rows == 8 + 1
    assert f"{broken}: not a readable Parquet file" in caplog.text
    assert f"{bad_line}:2 (not JSON)" in caplog.text
    broken.write_bytes(b"")
    for path in (tmp_path / "trade").iterdir():
        if path != broken:
            path.unlink()
    with pytest.raises(RecordingError, match="nothing readable"):
        read_recording(tmp_path)


# ---- reading both, playing both -----------------------------------------------------------------


def test_read_recording_takes_mixed_directories_into_one_table_per_type(
        recordings: tuple[Path, Path]) -> None:
    tables = read_recording(list(recordings), types=["trade", "orderbook"])
    assert sorted(tables) == ["orderbook", "trade"]
    assert tables["trade"].num_rows == 22
    assert sorted(read_recording(recordings[1])) == sorted(TYPES)
    frames = read_recording(recordings, output="pandas")
    frame = frames["trade"]
    assert len(frame) == 22 and str(frame["timestamp"].dtype).startswith("datetime64")
    assert frame["code"].tolist()[:2] == CODES


def test_a_parquet_recording_replays_through_the_fake_exchange_as_ndjson_does(
        recordings: tuple[Path, Path]) -> None:
    played: dict[str, list[tuple[str, float, int]]] = {}
    for name, path in zip(("ndjson", "parquet"), recordings, strict=True):
        with FakeUpbitServer().replay([path], speed="max") as fake, \
                WebSocketManager(fake.config(workers=1)) as manager:
            client = WebSocketClient(manager)
            stream = client.stream("trade", CODES, timeout=10)
            got = [(m.code, m.trade_price, m.sequential_id) for m in itertools.islice(stream, 11)]
            stream.close()
            played[name] = got
    assert played["parquet"] == played["ndjson"]
    assert sorted(p[2] for p in played["parquet"]) == sorted(
        line["sequential_id"] for line in LINES["trade"] + LATER["trade"])


def test_the_spool_of_an_open_period_is_not_left_world_readable_for_account_types(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, ["myOrder"], format="parquet", clock=Clock(T0), flush_interval=0.02).start()
    try:
        recorder.message("myOrder", LINES["myOrder"][0])
        assert wait_until(lambda: recorder.stats.messages == 1, timeout=5)
        (spool,) = (tmp_path / "myOrder").glob("*.arrows")
        assert stat.S_IMODE(os.lstat(spool).st_mode) == 0o600
    finally:
        recorder.close()


# ---- the documented queries -------------------------------------------------------------------------


def _block(text: str, language: str) -> str:
    start = text.index(f"```{language}\n") + len(language) + 4
    return text[start:text.index("```", start)]


def test_the_duckdb_query_of_the_docs_runs_and_agrees_with_the_pandas_version(
        recordings: tuple[Path, Path]) -> None:
    # docs/recording.md's two ways to the per-minute VWAP, run on a Parquet recording: the SQL as it
    # is written (only the path replaced) and the Python as it is written; they must agree.
    import duckdb  # the dev extra has it
    docs = (Path(__file__).resolve().parents[2] / "docs" / "recording.md").read_text(encoding="utf-8")
    trades = recordings[1] / "trade"
    sql = _block(docs, "sql")
    assert "read_parquet('data/trade/20261205-*.parquet')" in sql
    relation = duckdb.sql(sql.replace("data/trade/20261205-*.parquet", f"{trades}/*.parquet"))
    assert relation is not None
    rows = relation.fetchall()
    assert rows and {code for code, *_ in rows} == set(CODES)

    namespace: dict[str, Any] = {}
    exec(_block(docs, "python").replace('"data/trade"', repr(str(trades))), namespace)
    per_minute = namespace["per_minute"]
    assert len(per_minute) == len(rows)
    for code, minute, vwap, volume, count in rows:
        expected = per_minute.loc[(code, minute)]
        assert (expected.vwap, expected.volume, expected.trades) == (
            pytest.approx(vwap), pytest.approx(volume), count)
