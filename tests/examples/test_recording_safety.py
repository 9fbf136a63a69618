"""Recordings are safe to read and safe to write (upbit_sync.recording, ``upbit-sync record`` and ``replay``).

Reading: a bad line is skipped, counted and named (file:line) in one warning per file; a corrupt gzip
member ends its file with a clear message while the other files play; a line longer than
``MAX_LINE`` is refused without being read whole. Writing: no symbolic link is followed where a file or
a type's folder goes, myOrder and myAsset are private to their owner (0600 files in 0700 folders),
the counts after a failed write are what the files hold, and a writer that fails is never silent.

Every hostile file is built here, in tmp_path.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import stat
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.examples.run import ROOT, Run
from tests.support import wait_until
from upbit_sync import UpbitError, recording
from upbit_sync.recording import ReadReport, Recorder, RecordingError, period_name, read_lines
from upbit_sync.testing.replay import Recording

T0 = 1_796_140_800.0  # 2026-12-01 16:00:00 UTC
CLI = ["-m", "upbit_sync"]


def ticker(code: str, at: float) -> dict[str, Any]:
    return {"type": "ticker", "code": code, "trade_price": 1.0, "stream_type": "REALTIME",
            "timestamp": int(at * 1000), "received_at": at}


def line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


GOOD = [ticker("KRW-BTC", T0 + i) for i in range(3)]
DEEP = b"[" * 200_000 + b"\n"  # json.loads: RecursionError
# a gzip member whose deflate data starts with a block of the reserved type: zlib.error at once
CORRUPT_MEMBER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff" * 32


def long_line_gzip(path: Path, length: int, before: bytes = b"", after: bytes = b"") -> Path:
    """A small gzip file holding ``before``, one line of ``length`` zeros, then ``after``, written in
    chunks so the long line is never held whole here either."""
    chunk = b"0" * (1 << 20)
    with gzip.open(path, "wb") as out:
        out.write(before)
        left = length
        while left > 0:
            out.write(chunk[:left])
            left -= len(chunk)
        out.write(b"\n" + after)
    return path


def read(path: Path) -> tuple[list[dict[str, Any]], ReadReport]:
    report = ReadReport(path)
    return list(read_lines(path, report)), report


# ---- reading ----------------------------------------------------------------------------------------


def test_a_line_that_is_not_json_is_skipped_and_named_by_file_and_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "bad.ndjson"
    path.write_bytes(line(GOOD[0]) + b"not json\n" + line(GOOD[1]))
    with caplog.at_level(logging.WARNING, "upbit_sync.recording"):
        lines, report = read(path)
    assert lines == GOOD[:2]
    assert report.bad == 1 and report.ended is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"{path}:2 (not JSON)" in warnings[0], warnings


def test_a_line_nested_too_deep_is_a_bad_line_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "deep.ndjson"
    path.write_bytes(line(GOOD[0]) + DEEP + line(GOOD[1]))
    lines, report = read(path)
    assert lines == GOOD[:2]
    assert report.bad == 1 and f"{path}:2 (nested too deep)" in (report.problem or "")


def test_a_line_that_is_json_but_no_object_is_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "list.ndjson"
    path.write_bytes(b"[1, 2]\n" + line(GOOD[0]))
    lines, report = read(path)
    assert lines == GOOD[:1] and report.bad == 1
    assert f"{path}:1 (not a JSON object)" in (report.problem or "")


def test_the_bad_lines_of_a_file_are_told_in_one_warning_that_counts_them_all(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "many.ndjson"
    path.write_bytes(b"".join(b"x\n" for _ in range(50)) + line(GOOD[0]))
    with caplog.at_level(logging.WARNING, "upbit_sync.recording"):
        lines, report = read(path)
    assert lines == GOOD[:1] and report.bad == 50
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "skipped 50 bad lines" in warning and f"{path}:1 (not JSON)" in warning
    assert len(warning) < 1_000, warning  # the first few named, not all fifty


def test_a_corrupt_gzip_member_ends_its_file_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.ndjson.gz"
    path.write_bytes(gzip.compress(b"".join(map(line, GOOD))) + CORRUPT_MEMBER)
    lines, report = read(path)
    assert lines == GOOD  # the lines before the damage
    assert report.ended is not None and "corrupt gzip data after line 3" in report.ended, report.ended


def test_a_line_longer_than_the_bound_is_refused_without_being_read_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recording, "MAX_LINE", 64 * 1024)
    length = 32 * 1024 * 1024  # 500 times the bound
    path = long_line_gzip(tmp_path / "long.ndjson.gz", length, line(GOOD[0]), line(GOOD[1]))
    assert path.stat().st_size < 100_000  # a small file that inflates to one long line
    tracemalloc.start()
    try:
        lines, report = read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert lines == GOOD[:2]  # the line after it is read again
    assert report.bad == 1 and f"{path}:2 (longer than 64 KiB)" in (report.problem or "")
    assert peak < length / 8, peak  # never held whole


def test_the_default_line_bound_is_16_mib() -> None:
    assert recording.MAX_LINE == 16 * 1024 * 1024


def test_a_replay_plays_the_other_files_past_a_corrupt_one_and_lists_the_problems(tmp_path: Path) -> None:
    (tmp_path / "ticker").mkdir()
    (tmp_path / "ticker" / "20261201-15.ndjson.gz").write_bytes(gzip.compress(line(GOOD[0])) + CORRUPT_MEMBER)
    (tmp_path / "ticker" / "20261201-16.ndjson").write_bytes(DEEP + line(GOOD[1]) + line(GOOD[2]))
    loaded = Recording.load([tmp_path])
    assert [item.at for item in loaded.streams["ticker", "KRW-BTC", 0.0]] == [T0, T0 + 1, T0 + 2]
    assert len(loaded.problems) == 2
    assert "20261201-15.ndjson.gz" in loaded.problems[0] and "corrupt gzip" in loaded.problems[0]
    assert "20261201-16.ndjson:1 (nested too deep)" in loaded.problems[1]


def test_a_recording_with_nothing_readable_is_refused_as_an_upbit_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.ndjson"
    path.write_text("these are notes\nnot a recording\n")
    with pytest.raises(RecordingError, match=r"nothing readable in .*notes\.ndjson:1 \(not JSON\)") as caught:
        Recording.load([path])
    assert isinstance(caught.value, UpbitError)


# ---- replay on the command line ---------------------------------------------------------------------


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A recording whose files hold every kind of damage, around three good messages."""
    directory = tmp_path / "hostile" / "ticker"
    directory.mkdir(parents=True)
    (directory / "a-corrupt.ndjson.gz").write_bytes(gzip.compress(line(GOOD[0])) + CORRUPT_MEMBER)
    (directory / "b-deep.ndjson").write_bytes(line(GOOD[1]) + DEEP)
    # inflates to a line over the real bound (16 MiB) from a file of a few kB
    long_line_gzip(directory / "c-long.ndjson.gz", recording.MAX_LINE + 1024, after=line(GOOD[2]))
    return directory.parent


def test_replay_of_damaged_files_warns_on_stderr_and_plays_the_rest(hostile: Path) -> None:
    run = Run([*CLI, "replay", str(hostile), "--port", "0", "--speed", "max", "--seconds", "0.5"])
    code, out, err = run.result()
    assert code == 0 and "Traceback" not in err, err
    assert out.startswith("replaying 3 recorded messages"), out
    warnings = [w for w in err.splitlines() if w.startswith("upbit-sync replay: warning: ")]
    assert len(warnings) == 3, err
    assert "a-corrupt.ndjson.gz" in warnings[0] and "corrupt gzip data after line 1" in warnings[0]
    assert "b-deep.ndjson:2 (nested too deep)" in warnings[1]
    assert "c-long.ndjson.gz:1 (longer than 16 MiB)" in warnings[2]


def test_replay_of_files_with_nothing_readable_fails_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.ndjson"
    path.write_text("these are notes\n")
    line_ = Run([*CLI, "replay", str(path), "--port", "0"]).one_line_error(1)
    assert line_.startswith("upbit-sync replay: error: nothing readable in "), line_
    assert f"{path}:1 (not JSON)" in line_


# ---- writing ----------------------------------------------------------------------------------------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


class Failures:
    """The recorder's on_error callback: the failures it was told of, waited for with a deadline."""

    def __init__(self) -> None:
        self.errors: list[Exception] = []
        self.told = threading.Event()

    def __call__(self, error: Exception) -> None:
        self.errors.append(error)
        self.told.set()


def test_a_symlink_planted_where_a_file_goes_is_refused_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"precious\n")
    (tmp_path / "rec" / "trade").mkdir(parents=True)
    planted = tmp_path / "rec" / "trade" / "20261201-16.ndjson.gz"
    planted.symlink_to(target)
    failures = Failures()
    recorder = Recorder(tmp_path / "rec", ["trade"], clock=Clock(T0), on_error=failures).start()
    recorder.message("trade", {"type": "trade", "code": "KRW-BTC"})
    assert failures.told.wait(5)
    recorder.close()
    assert target.read_bytes() == b"precious\n"
    assert isinstance(recorder.failure, RecordingError) and failures.errors == [recorder.failure]
    assert str(planted) in str(recorder.failure) and "symbolic link" in str(recorder.failure)


def test_a_symlink_planted_as_a_types_folder_is_refused_before_anything_starts(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "myOrder").symlink_to(elsewhere)
    recorder = Recorder(tmp_path / "rec", ["myOrder"], clock=Clock(T0))
    with pytest.raises(RecordingError, match=re.escape(str(tmp_path / "rec" / "myOrder"))):
        recorder.start()
    assert not any(elsewhere.iterdir())
    assert not [t for t in threading.enumerate() if t.name == "upbit-record-writer" and t.is_alive()]


def test_a_fifo_planted_where_a_file_goes_is_refused_without_blocking(tmp_path: Path) -> None:
    (tmp_path / "trade").mkdir()
    os.mkfifo(tmp_path / "trade" / "20261201-16.ndjson")
    failures = Failures()
    recorder = Recorder(tmp_path, ["trade"], compress="none", clock=Clock(T0), on_error=failures).start()
    recorder.message("trade", {"type": "trade", "code": "KRW-BTC"})
    assert failures.told.wait(5)
    recorder.close()
    assert "not a regular file" in str(recorder.failure)


@pytest.mark.usefixtures("umask_022")
def test_account_types_are_written_0600_in_0700_folders_and_public_ones_by_the_umask(tmp_path: Path) -> None:
    out = tmp_path / "new" / "rec"
    recorder = Recorder(out, ["myOrder", "myAsset", "trade"], clock=Clock(T0)).start()
    for kind in ("myOrder", "myAsset", "trade"):
        recorder.message(kind, {"type": kind})
    recorder.close()
    assert recorder.failure is None
    assert mode(out) == 0o700  # made by the recorder, for private data
    for kind in ("myOrder", "myAsset"):
        assert mode(out / kind) == 0o700
        assert mode(out / kind / "20261201-16.ndjson.gz") == 0o600
    assert mode(out / "trade") == 0o755 and mode(out / "trade" / "20261201-16.ndjson.gz") == 0o644


@pytest.mark.usefixtures("umask_022")
def test_a_public_recording_keeps_the_umasks_folders(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "rec", ["ticker"], clock=Clock(T0)).start()
    recorder.close()
    assert mode(tmp_path / "rec") == 0o755 and mode(tmp_path / "rec" / "ticker") == 0o755


@pytest.mark.usefixtures("umask_022")
def test_an_account_types_file_left_readable_is_made_private_before_it_is_appended_to(
        tmp_path: Path) -> None:
    folder = tmp_path / "myAsset"
    folder.mkdir(mode=0o755)
    old = folder / "20261201-16.ndjson"
    old.write_bytes(line({"type": "myAsset"}))
    old.chmod(0o644)
    recorder = Recorder(tmp_path, ["myAsset"], compress="none", clock=Clock(T0)).start()
    recorder.message("myAsset", {"type": "myAsset"})
    recorder.close()
    assert recorder.failure is None
    assert mode(folder) == 0o700 and mode(old) == 0o600
    assert len(old.read_bytes().splitlines()) == 2


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
def test_a_file_owned_by_someone_else_is_not_appended_to(tmp_path: Path) -> None:
    (tmp_path / "trade").mkdir()
    theirs = tmp_path / "trade" / "20261201-16.ndjson"
    theirs.write_bytes(b"")
    os.chown(theirs, 12345, 12345)
    failures = Failures()
    recorder = Recorder(tmp_path, ["trade"], compress="none", clock=Clock(T0), on_error=failures).start()
    recorder.message("trade", {"type": "trade"})
    assert failures.told.wait(5)
    recorder.close()
    assert theirs.read_bytes() == b""
    assert "owned by another user" in str(recorder.failure) and str(theirs) in str(recorder.failure)


# A recorder in a process of its own whose files may not grow past LIMIT bytes (RLIMIT_FSIZE: the
# kernel answers EFBIG, as a full disk answers ENOSPC), writing lines that do not compress to nothing.
# The first 300 lines (well under the limit) are waited for, so some are on disk before it is hit.
_LIMITED = textwrap.dedent("""
    import json, random, sys, time
    from upbit_sync.recording import Recorder
    random.seed(7)
    recorder = Recorder(sys.argv[1], ["trade"], compress=sys.argv[2], clock=lambda: 1796140800.0).start()
    for i in range(20_000):
        recorder.message("trade", {"type": "trade", "code": "KRW-BTC", "sequential_id": i,
                                   "trade_price": random.random(), "trade_volume": random.random()})
        deadline = time.monotonic() + 10
        while i == 299 and recorder.stats.messages < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
    recorder.close()
    print(json.dumps({"messages": recorder.stats.messages, "failure": str(recorder.failure)}))
""")
LIMIT = 100_000


def _limit_file_size() -> None:
    import resource
    import signal
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
@pytest.mark.parametrize("compress", ["gzip", "none"])
def test_after_a_failed_write_the_count_is_what_the_files_hold(tmp_path: Path, compress: str) -> None:
    done = subprocess.run([sys.executable, "-c", _LIMITED, str(tmp_path), compress], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=30, preexec_fn=_limit_file_size)
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert "File too large" in said["failure"], said
    (path,) = (tmp_path / "trade").iterdir()
    held = [item for item in read_lines(path) if item.get("type") == "trade"]
    assert said["messages"] == len(held) > 0, (said, len(held))
    assert [item["sequential_id"] for item in held] == list(range(len(held)))


def test_a_writer_that_fails_on_anything_but_a_file_error_reports_it_and_stops_taking_lines(
        tmp_path: Path) -> None:
    failures = Failures()
    recorder = Recorder(tmp_path, ["trade"], clock=Clock(T0), on_error=failures).start()
    recorder.message("trade", {"type": "trade", "oops": object()})  # no JSON for it
    assert failures.told.wait(5)
    assert isinstance(recorder.failure, RecordingError) and "TypeError" in str(recorder.failure)
    started = time.monotonic()
    for _ in range(recording.QUEUE_LINES + 10):
        recorder.message("trade", {"type": "trade"})  # would block for ever on a dead writer's queue
    assert time.monotonic() - started < 5
    recorder.close()
    assert wait_until(lambda: "upbit-record-writer" not in {t.name for t in threading.enumerate()})


def test_a_writer_failure_without_a_callback_is_logged_as_an_error(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder(tmp_path, ["trade"], clock=Clock(T0)).start()
    recorder.message("trade", {"type": "trade", "oops": object()})
    assert wait_until(lambda: recorder.failure is not None, timeout=5)
    recorder.close()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "upbit_sync.recording"]
    assert len(errors) == 1 and "TypeError" in errors[0].getMessage()


# ---- record on the command line ---------------------------------------------------------------------


def test_record_refuses_a_symlink_planted_in_its_directory_in_one_line(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"precious\n")
    folder = tmp_path / "rec" / "ticker"
    folder.mkdir(parents=True)
    now = time.time()
    for at in (now, now + 3_600):  # this hour's file, and the next in case the hour turns
        (folder / f"{period_name(at, 3_600)}.ndjson.gz").symlink_to(target)
    run = Run([*CLI, "record", "ticker", "KRW-BTC", "--out", str(tmp_path / "rec"), "--fake",
               "--seconds", "20", "--progress", "0"])
    error = run.one_line_error(1)
    assert error.startswith(f"upbit-sync record: error: cannot write the recording: {folder}/"), error
    assert "symbolic link" in error
    assert target.read_bytes() == b"precious\n"


def test_records_help_example_writes_to_a_folder_of_the_users_own() -> None:
    out = Run([*CLI, "record", "--help"]).clean_exit()
    folders = re.findall(r"--out (\S+)", out.split("examples:", 1)[1])
    assert folders and not [f for f in folders if f.startswith(("/tmp", "/var/tmp"))], folders
