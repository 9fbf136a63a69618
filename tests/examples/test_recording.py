"""The files of ``upbit-sync record`` (upbit_sync.recording): one folder per type, one file per UTC period,
finished when the period ends, gaps as index lines, and readers that survive a recorder killed midway.

The recorder runs here in-process on a clock the test moves, so rotation needs no waiting for the hour.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import wait_until
from upbit_sync.recording import (
    Recorder,
    is_index,
    parse_period,
    period_name,
    read_lines,
    recording_files,
)
from upbit_sync.types import DataLoss, Reconnected

T0 = 1_796_140_800.0  # 2026-12-01 16:00:00 UTC


class Clock:
    """A wall clock the test sets."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def trade(code: str, at: float) -> dict[str, Any]:
    return {"type": "trade", "code": code, "trade_price": 1.0, "stream_type": "REALTIME", "received_at": at}


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + 30)


@pytest.fixture
def recorder(tmp_path: Path, clock: Clock) -> Iterator[Recorder]:
    recorder = Recorder(tmp_path, ["trade", "ticker"], period=60, clock=clock).start()
    yield recorder
    recorder.close()


def written(recorder: Recorder, messages: int) -> bool:
    return wait_until(lambda: recorder.stats.messages >= messages, timeout=5)


def complete(path: Path) -> bool:
    """Whether a gzip file is finished: its trailer is there."""
    data = path.read_bytes()
    if not data:  # nothing flushed yet
        return False
    try:
        gzip.decompress(data)
    except (EOFError, gzip.BadGzipFile):
        return False
    return True


@pytest.mark.parametrize(("text", "seconds"), [("1m", 60), ("15m", 900), ("1h", 3600), ("6h", 21600),
                                               ("1d", 86400), (" 2H ", 7200)])
def test_a_rotation_period_is_whole_minutes_that_divide_a_day(text: str, seconds: int) -> None:
    assert parse_period(text) == seconds


@pytest.mark.parametrize("text", ["7h", "0m", "2d", "90s", "1.5h", "hour", ""])
def test_a_period_that_does_not_divide_a_day_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_period(text)


def test_files_are_named_by_their_periods_utc_start() -> None:
    assert period_name(T0 + 3599, 3600) == "20261201-16"
    assert period_name(T0 + 3599, 900) == "20261201-1645"
    assert period_name(T0 + 3599, 86400) == "20261201-00"


def test_each_type_has_its_own_folder_and_a_file_per_period(recorder: Recorder, tmp_path: Path,
                                                            clock: Clock) -> None:
    recorder.message("trade", trade("KRW-BTC", clock.now))
    assert written(recorder, 1)
    clock.now = T0 + 61
    recorder.message("trade", trade("KRW-BTC", clock.now))
    recorder.message("ticker", {"type": "ticker", "code": "KRW-BTC", "received_at": clock.now})
    assert written(recorder, 3)
    recorder.close()
    assert sorted(p.relative_to(tmp_path).as_posix() for p in recording_files([tmp_path])) == [
        "ticker/20261201-1601.ndjson.gz", "trade/20261201-1600.ndjson.gz", "trade/20261201-1601.ndjson.gz",
    ]


def test_a_file_is_finished_when_its_period_ends_even_without_new_lines(recorder: Recorder, tmp_path: Path,
                                                                        clock: Clock) -> None:
    recorder.message("trade", trade("KRW-BTC", clock.now))
    assert written(recorder, 1)
    path = tmp_path / "trade" / "20261201-1600.ndjson.gz"
    assert not complete(path)  # open: flushed so far, no trailer yet
    clock.now = T0 + 60
    assert wait_until(lambda: complete(path), timeout=5)
    assert [line["code"] for line in read_lines(path)] == ["KRW-BTC"]


def test_a_reconnect_is_marked_in_every_types_file_and_a_loss_in_its_types(recorder: Recorder,
                                                                          tmp_path: Path) -> None:
    recorder.event(Reconnected("public", 0.25, trades_may_be_missing=False))
    recorder.event(DataLoss("public", "ticker", "KRW-ETH", 7, "drop_oldest"))
    assert wait_until(lambda: recorder.stats.gaps == 2, timeout=5)
    recorder.close()
    trade_lines = list(read_lines(tmp_path / "trade" / "20261201-1600.ndjson.gz"))
    ticker_lines = list(read_lines(tmp_path / "ticker" / "20261201-1600.ndjson.gz"))
    reconnected = {"_event": "Reconnected", "connection": "public", "downtime_s": 0.25,
                   "trades_may_be_missing": False, "at": T0 + 30}
    assert trade_lines == [reconnected]
    assert ticker_lines == [reconnected, {"_event": "DataLoss", "connection": "public", "type": "ticker",
                                          "code": "KRW-ETH", "dropped": 7, "policy": "drop_oldest",
                                          "reason": "", "at": T0 + 30}]
    assert all(is_index(line) for line in ticker_lines)
    assert recorder.stats.dropped == 7 and recorder.stats.reconnects == 1


def test_a_message_without_received_at_is_stamped_when_the_recorder_gets_it(recorder: Recorder,
                                                                           tmp_path: Path) -> None:
    backfilled = {"type": "trade", "code": "KRW-BTC", "stream_type": "BACKFILL"}
    recorder.message("trade", backfilled)
    recorder.close()
    (line,) = read_lines(tmp_path / "trade" / "20261201-1600.ndjson.gz")
    assert line == {**backfilled, "received_at": T0 + 30}


def test_without_compression_the_files_are_plain_ndjson(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, ["trade"], compress="none", clock=Clock(T0)).start()
    recorder.message("trade", trade("KRW-BTC", T0))
    recorder.close()
    path = tmp_path / "trade" / "20261201-16.ndjson"
    assert json.loads(path.read_text()) == trade("KRW-BTC", T0)


def test_a_recorder_started_again_in_the_same_period_appends(tmp_path: Path) -> None:
    for code in ("KRW-BTC", "KRW-ETH"):
        recorder = Recorder(tmp_path, ["trade"], clock=Clock(T0)).start()
        recorder.message("trade", trade(code, T0))
        recorder.close()
    path = tmp_path / "trade" / "20261201-16.ndjson.gz"
    assert [line["code"] for line in read_lines(path)] == ["KRW-BTC", "KRW-ETH"]  # two gzip members


def test_a_file_cut_short_by_a_crash_is_read_up_to_the_damage(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    whole = gzip.compress(b"".join(json.dumps(trade("KRW-BTC", T0 + i)).encode() + b"\n" for i in range(50)))
    cut = tmp_path / "cut.ndjson.gz"
    cut.write_bytes(whole[:-12])  # no trailer, and the end of the stream gone
    plain = tmp_path / "cut.ndjson"
    plain.write_text(json.dumps(trade("KRW-BTC", T0)) + '\n{"type": "tra')
    assert 0 < len(list(read_lines(cut))) <= 50
    assert len(list(read_lines(plain))) == 1
    assert "read up to" in caplog.text
