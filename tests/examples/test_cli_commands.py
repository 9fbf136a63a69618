"""The ``upbit-sync`` commands ``stream``, ``record``, ``replay``, ``markets`` and ``health``, run as a user
runs them: each in an interpreter of its own, against a fake exchange on 127.0.0.1 (``--fake``, or one
this process runs and points the command at through ``UPBIT_WS_URL``/``UPBIT_REST_URL``), judged by
exit code, output and the files it leaves. The short runs all start together, so the module takes
about as long as the recordings.
"""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import re
import select
import signal
import socket
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import upbit_sync as us
from tests.examples.run import Run
from tests.support import wait_until
from upbit_sync.cli import build_parser
from upbit_sync.recording import is_index, read_lines, recording_files
from upbit_sync.testing import DEFAULT_MARKETS, FakeUpbitServer

CLI = ["-m", "upbit_sync"]
SCRIPT = Path(sys.executable).with_name("upbit-sync")  # the console script the package installs
CODES = ["KRW-BTC", "KRW-ETH"]
NDJSON_LINE = r"^\{"
TABLE_TITLE = "upbit-sync stream orderbook KRW-BTC"  # the first line of each table of "stream table"
HOUR_FILE = re.compile(r"^\d{8}-\d{2}\.ndjson\.gz$")


def script(args: list[str], **options: Any) -> Run:
    """The installed ``upbit-sync`` console script, or ``python -m upbit_sync`` where it is missing."""
    if SCRIPT.exists():
        return Run(args, program=str(SCRIPT), **options)
    return Run([*CLI, *args], **options)


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (taken and let go at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def lines_of(directory: Path) -> dict[Path, list[dict[str, Any]]]:
    """Every line of every file of a recording, by file."""
    return {path: list(read_lines(path)) for path in recording_files([directory])}


def without_received_at(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k != "received_at"}


# ---- a health endpoint to ask ---------------------------------------------------------------------

HEALTH_ANSWERS: dict[str, tuple[int, bytes]] = {
    "/healthz": (200, b'{"healthy": true, "reasons": [], "connections": {}}'),
    "/sick": (503, b'{"healthy": false, "reasons": ["connection public is CLOSED", '
                   b'"worker 2 queue 97% full"]}'),
    "/unsure": (200, b'{"healthy": false, "reasons": ["stale for 61 s"]}'),
    "/garbage": (200, b"<html>not a health report</html>"),
}


class _HealthStub(BaseHTTPRequestHandler):
    """Answers GET with HEALTH_ANSWERS by path (404 otherwise) and notes each path asked, and each
    Authorization header sent."""

    asked: list[str] = []
    authorizations: list[str] = []

    def do_GET(self) -> None:
        self.asked.append(self.path)
        if "Authorization" in self.headers:
            self.authorizations.append(self.headers["Authorization"])
        status, body = HEALTH_ANSWERS.get(self.path, (404, b"{}"))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def health_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HealthStub)
    thread = threading.Thread(target=server.serve_forever, name="health-stub", daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


DRIP_INTERVAL = 1.0  # seconds between two bytes of the dripping server's answer


@dataclass
class Drip:
    url: str  # host:port
    served: list[float] = field(default_factory=list)  # how long each connection was kept, in seconds


@pytest.fixture
def dripping() -> Iterator[Drip]:
    """An HTTP server on 127.0.0.1 that answers a connection one byte a second, headers without end,
    and notes how long each client kept its connection (measured here, so the client's start-up,
    however slow on a busy machine, is not counted)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    done = threading.Event()
    drip_server = Drip(f"127.0.0.1:{listener.getsockname()[1]}")

    def serve(conn: socket.socket) -> None:
        answer = itertools.chain(b"HTTP/1.0 200 OK\r\n", itertools.cycle(b"X-Slow: yes\r\n"))
        for byte in answer:
            readable, _, _ = select.select([conn], [], [], DRIP_INTERVAL)
            if done.is_set():
                return
            try:
                if readable and not conn.recv(4096):  # the command hung up
                    return
                if not readable:
                    conn.sendall(bytes([byte]))
            except OSError:
                return

    def drip() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            accepted = time.monotonic()
            with conn:
                serve(conn)
            drip_server.served.append(time.monotonic() - accepted)

    thread = threading.Thread(target=drip, name="test-drip", daemon=True)
    thread.start()
    try:
        yield drip_server
    finally:
        done.set()
        thread.join(5)
        listener.close()


# ---- the short runs, all started together ---------------------------------------------------------


@pytest.fixture(scope="module")
def runs(health_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    nowhere = closed_port()
    unreachable = {"UPBIT_WS_URL": f"ws://127.0.0.1:{nowhere}/websocket/v1",
                   "UPBIT_REST_URL": f"http://127.0.0.1:{nowhere}"}
    a_file = tmp_path_factory.mktemp("not-a-dir") / "file"
    a_file.write_text("")
    started = {
        "stream ndjson": script(["stream", "ticker", *CODES, "--fake", "--seconds", "2"]),
        "stream table": Run([*CLI, "stream", "orderbook", "KRW-BTC", "--depth", "5", "--format", "table",
                             "--fake", "--seconds", "1.5"]),
        "stream bad code": Run([*CLI, "stream", "ticker", "krw-btc", "--fake"]),
        "stream bad type": Run([*CLI, "stream", "tickers", "KRW-BTC", "--fake"]),
        "stream bad depth": Run([*CLI, "stream", "orderbook", "KRW-BTC", "--depth", "7", "--fake"]),
        "stream unlisted": Run([*CLI, "stream", "ticker", "KRW-NOPE", "--fake"]),
        "stream no keys": Run([*CLI, "stream", "myOrder"], env=unreachable),
        "stream unreachable": Run([*CLI, "stream", "ticker", "KRW-BTC"], env=unreachable),
        "stream SIGINT": Run([*CLI, "stream", "trade", "KRW-BTC", "--fake"],
                             signal_on=(signal.SIGINT, NDJSON_LINE)),
        "stream SIGTERM": Run([*CLI, "stream", "trade", "KRW-BTC", "--fake"],
                              signal_on=(signal.SIGTERM, NDJSON_LINE)),
        "stream | head": Run(["-c", f"set -o pipefail; '{sys.executable}' -m upbit_sync stream ticker "
                                    "KRW-BTC --fake | head -3"], program="/bin/bash"),
        "demo | head": Run(["-c", f"set -o pipefail; '{sys.executable}' -m upbit_sync demo | head -2"],
                           program="/bin/bash"),
        "record all markets": Run([*CLI, "record", "ticker", "--all-markets", "BTC", "--fake", "--seconds",
                                   "1.5", "--out", str(tmp_path_factory.mktemp("all-markets"))]),
        "record bad rotate": Run([*CLI, "record", "trade", "KRW-BTC", "--out", "x", "--rotate", "7h"]),
        "record codes and all": Run([*CLI, "record", "trade", "KRW-BTC", "--all-markets", "KRW", "--out",
                                     "x"]),
        "record into a file": Run([*CLI, "record", "trade", "KRW-BTC", "--out", str(a_file), "--fake"]),
        "record unreachable": Run([*CLI, "record", "trade", "KRW-BTC", "--out",
                                   str(tmp_path_factory.mktemp("unreachable"))], env=unreachable),
        "replay missing": Run([*CLI, "replay", "no/such/recording.ndjson.gz", "--port", "0"]),
        "markets table": script(["markets", "--fake", "--quote", "KRW"]),
        "markets ndjson": Run([*CLI, "markets", "--fake", "--quote", "btc", "--format", "ndjson"]),
        "markets details": Run([*CLI, "markets", "--fake", "--details"]),
        "markets bad quote": Run([*CLI, "markets", "--fake", "--quote", "XYZ"]),
        "health ok": script(["health", health_url]),
        "health 503": Run([*CLI, "health", f"http://{health_url}/sick"]),
        "health 200 unhealthy": Run([*CLI, "health", f"{health_url}/unsure"]),
        "health not json": Run([*CLI, "health", f"{health_url}/garbage"]),
        "health refused": Run([*CLI, "health", f"127.0.0.1:{nowhere}"]),
        "health bad url": Run([*CLI, "health", "ftp://127.0.0.1/healthz"]),
        "health password ok": Run([*CLI, "health", f"http://bob:hunter2@{health_url}"]),
        "health password garbage": Run([*CLI, "health", f"http://bob:hunter2@{health_url}/garbage"]),
        "health password refused": Run([*CLI, "health", f"http://bob:hunter2@127.0.0.1:{nowhere}/"]),
        "health password bad port": Run([*CLI, "health", "http://bob:hunter2@127.0.0.1:99999/"]),
    }
    yield started
    for run in started.values():
        run.kill()


# ---- stream -----------------------------------------------------------------------------------------


def test_stream_prints_one_json_message_per_line_for_the_subscribed_codes(runs: dict[str, Run]) -> None:
    out = runs["stream ndjson"].clean_exit()
    messages = [json.loads(line) for line in out.splitlines()]
    assert messages and all(m["type"] == "ticker" for m in messages)
    assert {m["code"] for m in messages} == set(CODES)
    assert all("trade_price" in m and "stream_type" in m for m in messages)  # DEFAULT keys, not SIMPLE


def test_stream_as_a_table_into_a_pipe_prints_plain_tables_at_most_ten_times_a_second(
        runs: dict[str, Run]) -> None:
    out = runs["stream table"].clean_exit()
    assert "\x1b" not in out  # not a terminal: plain lines, no drawing codes
    frames = re.split(f"^{re.escape(TABLE_TITLE)} ", out, flags=re.M)[1:]
    assert frames and len(frames) <= 1.5 * 10 + 2, len(frames)  # 1.5 s; the first and the final draw
    rows = [line for line in frames[-1].splitlines() if "KRW-BTC" in line]
    assert rows and rows[0].split()[-1] == "5", frames[-1]  # depth 5: five units


@pytest.mark.parametrize(("name", "expected"), [
    ("stream bad code", "market code 'krw-btc' must be uppercase: 'KRW-BTC'"),
    ("stream bad type", "unknown subscription type 'tickers'; expected one of: ticker, trade"),
    ("stream bad depth", "orderbook depth must be one of (1, 5, 15, 30), not 7"),
    ("stream unlisted", "the exchange lists no market KRW-NOPE"),
    ("stream no keys", "myOrder need API keys: set UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY"),
])
def test_stream_refuses_what_cannot_work_in_one_line_with_exit_2(runs: dict[str, Run], name: str,
                                                                  expected: str) -> None:
    line = runs[name].one_line_error(2)
    assert line.startswith(f"upbit-sync stream: error: {expected}"), line


def test_stream_that_cannot_connect_fails_in_one_line_with_exit_1(runs: dict[str, Run]) -> None:
    line = runs["stream unreachable"].one_line_error(1)
    assert line.startswith("upbit-sync stream: error: cannot connect public to ws://127.0.0.1:"), line
    assert "Connection refused" in line, line


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_signal_stops_stream_with_128_plus_its_number(runs: dict[str, Run], signum: signal.Signals) -> None:
    out = runs[f"stream {signum.name}"].stopped_by(signum)
    assert all(json.loads(line)["type"] == "trade" for line in out.splitlines())


def test_a_closed_stdout_ends_stream_quietly_with_exit_0(runs: dict[str, Run]) -> None:
    out = runs["stream | head"].clean_exit()  # pipefail: the status is the stream's
    assert len(out.splitlines()) == 3
    assert runs["stream | head"].result()[2] == ""  # no traceback, no "Exception ignored"


def test_a_closed_stdout_ends_the_demo_quietly_with_exit_0(runs: dict[str, Run]) -> None:
    # events are told on the SDK's worker threads: the pipe may close under one of them
    out = runs["demo | head"].clean_exit()
    assert len(out.splitlines()) == 2
    assert runs["demo | head"].result()[2] == ""


# ---- record -----------------------------------------------------------------------------------------


@dataclass
class Recorded:
    directory: Path
    sent: int  # data frames the fake exchange sent to the recorder
    exit_code: int
    stderr: str
    tape: dict[str, list[dict[str, Any]]]  # the fake's trades per code, oldest first


def _start_recording(fake: FakeUpbitServer, directory: Path, types: str, **env: str) -> Run:
    environ = {"UPBIT_WS_URL": fake.public_url, "UPBIT_REST_URL": fake.rest_url, **env}
    return Run([*CLI, "record", types, *CODES, "--out", str(directory), "--progress", "0.2"], env=environ)


def _sent(fake: FakeUpbitServer) -> int:
    return sum(conn.sent_count for conn in fake.connections)


def _progress(run: Run) -> int | None:
    """The message count of the recorder's newest progress line."""
    counts = [m.group(1) for line in run.lines(stderr=True)
              if (m := re.match(r"record: ([\d,]+) messages ", line))]
    return int(counts[-1].replace(",", "")) if counts else None


def _resent(fake: FakeUpbitServer, frames: int) -> bool:
    """Whether the recorder has reconnected and been sent ``frames`` frames since."""
    connections = fake.connections
    return len(connections) >= 2 and connections[-1].sent_count >= frames


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """Ticker and orderbook recorded across an abrupt drop, stopped by Ctrl-C once the recorder has
    written all the fake exchange sent (the fake falls silent first, so the count is exact)."""
    directory = tmp_path_factory.mktemp("recording")
    with FakeUpbitServer(message_rate=25, seed=11) as fake:
        run = _start_recording(fake, directory, "ticker,orderbook")
        try:
            assert fake.wait_for(lambda: _sent(fake) >= 100, timeout=10), run.result()
            fake.drop_all()
            assert fake.wait_for(lambda: _resent(fake, 100), timeout=10)
            fake.silence()
            caught_up = wait_until(lambda: _progress(run) == _sent(fake), timeout=10)  # all written
            assert caught_up, (_progress(run), _sent(fake))
            sent = _sent(fake)
            run.process.send_signal(signal.SIGINT)
            code, _, err = run.result()
        finally:
            run.kill()
    return Recorded(directory, sent, code, err, {})


@pytest.fixture(scope="module")
def recorded_trades(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """Trades recorded across a drop whose first reconnect is refused (half a second of gap), stopped
    by SIGTERM."""
    directory = tmp_path_factory.mktemp("trades")
    with FakeUpbitServer(message_rate=25, seed=12) as fake:
        run = _start_recording(fake, directory, "trade", UPBIT_RECONNECT_DELAY="0.5")
        try:
            assert fake.wait_for(lambda: _sent(fake) >= 40, timeout=10), run.result()
            fake.refuse_next(1, 503)
            fake.drop_all()
            assert fake.wait_for(lambda: _resent(fake, 40), timeout=10)
            run.process.send_signal(signal.SIGTERM)
            code, _, err = run.result()
        finally:
            run.kill()
        tape = {code: list(reversed(fake.trades(code))) for code in CODES}
    return Recorded(directory, _sent(fake), code, err, tape)


def test_record_writes_every_message_the_exchange_sent_but_those_the_index_says_were_lost(
    recorded: Recorded,
) -> None:
    lines = [line for found in lines_of(recorded.directory).values() for line in found]
    messages = [line for line in lines if not is_index(line)]
    lost = sum(line["dropped"] for line in lines if line.get("_event") == "DataLoss")
    assert len(messages) == recorded.sent - lost


def test_record_marks_the_gap_of_a_reconnect_in_every_types_file(recorded: Recorded) -> None:
    for path, lines in lines_of(recorded.directory).items():
        marks = [line for line in lines if line.get("_event") == "Reconnected"]
        assert len(marks) == 1, path
        mark = marks[0]
        assert set(mark) == {"_event", "connection", "downtime_s", "trades_may_be_missing", "at"}
        assert mark["connection"] == "public" and mark["downtime_s"] >= 0
        assert 0 < lines.index(mark) < len(lines) - 1  # in the data, where the gap was
        before = [line["received_at"] for line in lines[:lines.index(mark)]]
        assert max(before) <= mark["at"]


def test_record_files_hold_one_type_each_named_by_its_utc_hour(recorded: Recorded) -> None:
    files = lines_of(recorded.directory)
    assert {path.parent.name for path in files} == {"ticker", "orderbook"}
    for path, lines in files.items():
        assert HOUR_FILE.match(path.name), path
        messages = [line for line in lines if not is_index(line)]
        assert {m["type"] for m in messages} == {path.parent.name}
        assert {m["code"] for m in messages} == set(CODES)
        first = min(m["received_at"] for m in messages)
        assert path.name.startswith(_utc_hour(first)), (path.name, first)


def _utc_hour(at: float) -> str:
    return time.strftime("%Y%m%d-%H", time.gmtime(at))


def test_record_stopped_by_ctrl_c_exits_130_with_every_file_finished(recorded: Recorded) -> None:
    assert recorded.exit_code == 130, recorded.stderr
    assert "Traceback" not in recorded.stderr
    for path in recording_files([recorded.directory]):
        gzip.decompress(path.read_bytes())  # the trailer is there: the file was closed, not cut off
    assert re.search(r"^record: [\d,]+ messages in 2 file\(s\) under .*; 1 reconnect\(s\), 0 message\(s\) "
                     r"lost$", recorded.stderr, re.M), recorded.stderr


def test_record_fills_a_reconnects_gap_in_the_trades_from_rest(recorded_trades: Recorded) -> None:
    assert recorded_trades.exit_code == 143, recorded_trades.stderr
    lines = [line for found in lines_of(recorded_trades.directory).values() for line in found]
    mark = next(line for line in lines if line.get("_event") == "Reconnected")
    assert mark["trades_may_be_missing"] is False
    for code in CODES:
        recorded = [line["sequential_id"] for line in lines if line.get("code") == code]
        tape = [trade["sequential_id"] for trade in recorded_trades.tape[code]]
        first, last = tape.index(recorded[0]), tape.index(recorded[-1])
        assert recorded == tape[first:last + 1]  # every trade between, once, in order: no gap
    assert any(line.get("stream_type") == "BACKFILL" for line in lines)


def test_record_all_markets_subscribes_every_market_of_the_quote(runs: dict[str, Run]) -> None:
    run = runs["record all markets"]
    run.clean_exit()
    directory = Path(run.args[run.args.index("--out") + 1])
    codes = {line["code"] for lines in lines_of(directory).values() for line in lines if not is_index(line)}
    assert codes == {m.market for m in DEFAULT_MARKETS if m.quote == "BTC"}


@pytest.mark.parametrize(("name", "status", "expected"), [
    ("record bad rotate", 2, "upbit-sync record: error: argument --rotate: the period must divide a day"),
    ("record codes and all", 2, "upbit-sync record: error: give market codes or --all-markets, not both"),
    ("record into a file", 1, "upbit-sync record: error: cannot record into "),
    ("record unreachable", 1, "upbit-sync record: error: cannot connect public to ws://127.0.0.1:"),
])
def test_record_refuses_what_cannot_work_in_one_line(runs: dict[str, Run], name: str, status: int,
                                                     expected: str) -> None:
    line = runs[name].one_line_error(status)
    assert line.startswith(expected), line


# ---- replay -----------------------------------------------------------------------------------------


def _recorded_streams(directory: Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    streams: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for lines in lines_of(directory).values():
        for line in lines:
            if not is_index(line):
                streams[line["type"], line["code"]].append(without_received_at(line))
    return streams


def test_a_replay_delivers_the_recorded_messages_in_the_recorded_order(recorded: Recorded) -> None:
    expected = _recorded_streams(recorded.directory)
    got: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    lock = threading.Lock()

    def on_message(message: dict[str, Any]) -> None:
        with lock:
            got[message["type"], message["code"]].append(without_received_at(message))

    def count() -> int:
        with lock:
            return sum(len(messages) for messages in got.values())

    with FakeUpbitServer().replay([recorded.directory], speed="max") as fake:
        config = us.Config(public_url=fake.public_url, rest_url=fake.rest_url)
        with us.WebSocketManager(config) as manager, us.WebSocketClient(manager) as client:
            client.subscribe("ticker", CODES, on_message, raw=True)
            client.subscribe("orderbook", CODES, on_message, raw=True)
            assert wait_until(lambda: count() >= recorded.sent, timeout=10), count()
    assert dict(got) == dict(expected)


def test_replay_serves_a_recording_to_a_client_until_ctrl_c(recorded: Recorded) -> None:
    run = Run([*CLI, "replay", str(recorded.directory), "--port", "0", "--speed", "max"])
    try:
        found = run.wait_for_line(r"^fake Upbit exchange on (ws://\S+) \(private: \S+; REST: (http://\S+)\)$")
        assert found, run.result()
        config = us.Config(public_url=found.group(1), rest_url=found.group(2))
        with us.WebSocketManager(config) as manager, us.WebSocketClient(manager) as client:
            stream = client.stream("ticker", ["KRW-BTC"], raw=True, timeout=5)
            first = without_received_at(next(iter(stream)))
            stream.close()
        assert first == _recorded_streams(recorded.directory)["ticker", "KRW-BTC"][0]
        run.process.send_signal(signal.SIGINT)
        code, out, err = run.result()
    finally:
        run.kill()
    assert code == 130 and "Traceback" not in err, err
    assert out.splitlines()[0].startswith(f"replaying {recorded.sent:,} recorded messages"), out
    assert out.splitlines()[-1] == "stopped", out


def test_replay_of_a_file_that_is_not_there_is_a_usage_error(runs: dict[str, Run]) -> None:
    line = runs["replay missing"].one_line_error(2)
    assert line == "upbit-sync replay: error: no such file or directory: no/such/recording.ndjson.gz", line


# ---- markets ----------------------------------------------------------------------------------------


def test_markets_lists_the_exchanges_markets_of_a_quote_as_a_table(runs: dict[str, Run]) -> None:
    lines = runs["markets table"].clean_exit().splitlines()
    krw = [m for m in DEFAULT_MARKETS if m.quote == "KRW"]
    assert lines[0].split() == ["market", "english", "name", "korean", "name"]
    assert [line.split()[0] for line in lines[1:-1]] == [m.market for m in krw]
    assert lines[-1] == f"{len(krw)} markets"


def test_markets_as_ndjson_gives_the_exchanges_own_fields(runs: dict[str, Run]) -> None:
    rows = [json.loads(line) for line in runs["markets ndjson"].clean_exit().splitlines()]
    assert [row["market"] for row in rows] == [m.market for m in DEFAULT_MARKETS if m.quote == "BTC"]
    assert all({"market", "korean_name", "english_name"} <= set(row) for row in rows)


def test_markets_with_details_shows_warnings(runs: dict[str, Run]) -> None:
    lines = runs["markets details"].clean_exit().splitlines()
    assert lines[0].split()[-2:] == ["warning", "caution"]
    assert len(lines) == len(DEFAULT_MARKETS) + 2


def test_markets_of_a_quote_nobody_uses_fails_naming_the_quotes(runs: dict[str, Run]) -> None:
    line = runs["markets bad quote"].one_line_error(1)
    assert line == ("upbit-sync markets: error: the exchange lists no market quoted in 'XYZ' "
                    "(quotes: BTC, KRW, USDT)"), line


# ---- health -----------------------------------------------------------------------------------------


def test_health_of_a_healthy_endpoint_prints_healthy_and_exits_0(runs: dict[str, Run]) -> None:
    assert runs["health ok"].clean_exit() == "healthy\n"
    assert "/healthz" in _HealthStub.asked  # no path given: /healthz


@pytest.mark.parametrize(("name", "expected"), [
    ("health 503", "unhealthy: connection public is CLOSED; worker 2 queue 97% full"),
    ("health 200 unhealthy", "unhealthy: stale for 61 s"),
    ("health not json", 'answered 200 without a health report (JSON with "healthy")'),
    ("health refused", "Connection refused"),
])
def test_health_of_an_unhealthy_or_silent_endpoint_says_why_and_exits_1(runs: dict[str, Run], name: str,
                                                                        expected: str) -> None:
    code, out, err = runs[name].result()
    assert code == 1 and err == "", (code, out, err)
    assert len(out.splitlines()) == 1 and out.startswith("unhealthy: ") and expected in out, out


def test_health_of_something_that_is_no_http_url_is_a_usage_error(runs: dict[str, Run]) -> None:
    line = runs["health bad url"].one_line_error(2)
    assert line.startswith("upbit-sync health: error: not an http:// or https:// URL"), line


@pytest.mark.timeout(40)
def test_health_timeout_bounds_the_whole_command_against_a_server_that_drips_a_byte_a_second(
        dripping: Drip) -> None:
    run = Run([*CLI, "health", dripping.url, "--timeout", "2"])
    try:
        code, out, err = run.result()
    finally:
        run.kill()
    assert code == 1 and err == "", (code, out, err)
    assert out == f"unhealthy: no answer from http://{dripping.url}/healthz within 2 s\n", out
    # the server saw the connection for about the 2 s deadline; a timeout per read (a byte comes every
    # second) would have kept it until the test's own timeout
    assert wait_until(lambda: dripping.served, 5), "the command never hung up"
    (served,) = dripping.served
    assert served < 4.0, f"the command kept its connection {served:.1f} s with --timeout 2"


@pytest.mark.parametrize(("name", "exit_code", "expected"), [
    ("health password garbage", 1, "unhealthy: http://bob:****@127.0.0.1:"),
    ("health password refused", 1, "unhealthy: cannot reach http://bob:****@127.0.0.1:"),
    ("health password bad port", 2, "upbit-sync health: error: not a URL: 'http://bob:****@127.0.0.1:99999/'"),
])
def test_health_masks_the_password_of_the_url_in_what_it_prints(runs: dict[str, Run], name: str,
                                                                 exit_code: int, expected: str) -> None:
    code, out, err = runs[name].result()
    assert "hunter2" not in out + err, (out, err)
    assert code == exit_code and (out + err).startswith(expected), (code, out, err)


def test_health_sends_the_user_and_password_of_the_url_as_basic_auth(runs: dict[str, Run]) -> None:
    assert runs["health password ok"].clean_exit() == "healthy\n"
    assert "Basic " + base64.b64encode(b"bob:hunter2").decode() in _HealthStub.authorizations


@pytest.mark.parametrize("timeout", ["1e10", "3601"])
def test_health_timeout_longer_than_an_hour_is_a_usage_error(timeout: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["health", "127.0.0.1:1", "--timeout", timeout])
    assert stopped.value.code == 2
    assert "--timeout: must be at most 3600" in capsys.readouterr().err


# ---- the parser -------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["stream", "record", "replay", "markets", "health"])
def test_every_command_shows_examples_in_its_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args([command, "--help"])
    assert stopped.value.code == 0
    help_text = capsys.readouterr().out
    assert "\nexamples:\n" in help_text and f"  upbit-sync {command} " in help_text, help_text


@pytest.mark.parametrize("argv", [
    ["-v", "stream", "ticker", "KRW-BTC"],
    ["stream", "ticker", "KRW-BTC", "-v"],
    ["record", "trade", "KRW-BTC", "--out", "d", "--verbose"],
    ["-v", "replay", "d"],
    ["markets", "-v"],
    ["health", "127.0.0.1:1", "-v"],
])
def test_verbose_is_accepted_before_and_after_the_new_commands(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).verbose is True
