"""The README's code works as written: its five ten-line programs, run against ``upbit-sync
fake-server`` with ``UPBIT_WS_URL`` pointing there (and, for the indicator-signal bot, the
announcement watcher and the trading lines, ``UPBIT_WS_PRIVATE_URL``, ``UPBIT_INFO_URL``,
``UPBIT_REST_URL`` and the fake's test keys), print data."""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def python_blocks(markdown: str) -> list[str]:
    """The ```python blocks of a markdown text, in order."""
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def example(heading: str) -> str:
    """The first python block under a README heading."""
    section = README.read_text(encoding="utf-8").split(f"## {heading}\n", 1)[1]
    return python_blocks(section)[0]


# Prepended to code run in a subprocess: like tests/conftest.py's guard, nothing leaves loopback, not
# even a DNS query (were the environment not read, the five lines would try Upbit itself).
LOOPBACK_ONLY = """
import socket as _socket
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_connect, _getaddrinfo = _socket.socket.connect, _socket.getaddrinfo
def _guarded_connect(self, address):
    if isinstance(address, tuple) and address[0] not in _LOOPBACK:
        raise ConnectionRefusedError(f"the README test stays on loopback; refused {address!r}")
    return _connect(self, address)
def _guarded_getaddrinfo(host, *args, **kwargs):
    if host not in _LOOPBACK:
        raise _socket.gaierror(f"the README test stays on loopback; refused {host!r}")
    return _getaddrinfo(host, *args, **kwargs)
_socket.socket.connect, _socket.getaddrinfo = _guarded_connect, _guarded_getaddrinfo
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPBIT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _read_lines(process: subprocess.Popen[str], wanted: int | Callable[[list[str]], bool],
                timeout: float) -> list[str]:
    """Lines of ``process``'s stdout until ``wanted`` arrived (a number of lines, or a test of the
    lines so far) or ``timeout`` passed. Read from the pipe itself: a text file's buffer may hold
    lines that a selector cannot see, and a program may print several at once and then nothing."""
    assert process.stdout is not None
    done = wanted if callable(wanted) else (lambda lines: len(lines) >= wanted)
    pipe = process.stdout.fileno()
    lines: list[str] = []
    partial = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(pipe, selectors.EVENT_READ)
        while not done(lines) and time.monotonic() < deadline:
            if selector.select(max(0.0, deadline - time.monotonic())):
                chunk = os.read(pipe, 65536)
                if not chunk:
                    break
                *complete, partial = (partial + chunk).split(b"\n")
                lines.extend(line.decode("utf-8", "replace") + "\n" for line in complete)
    return lines


def _stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        return process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


@pytest.fixture(scope="module")
def fake_server() -> Iterator[int]:
    """``upbit-sync fake-server`` on a free port, as the README says to run it."""
    port = _free_port()
    command = [sys.executable, "-m", "upbit_sync", "fake-server", "--port", str(port)]
    server = subprocess.Popen(command, cwd=ROOT, env=_env(), text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        assert _read_lines(server, 1, 15.0), "the fake server did not start"
        yield port
    finally:
        _stop(server)


# the fake's candle clock for the signal bot: a 15-minute candle closes every 15 ms, so that RSI(14) of
# its random walk crosses 30 or 70 every second or so
TIME_SCALE = "60000"
ANNOUNCE_EVERY = "0.3"


@pytest.fixture(scope="module")
def fake_channels() -> Iterator[dict[str, str]]:
    """``upbit-sync fake-server`` with ``--time-scale`` and ``--announce-every``, as the README says to
    run it for the signal bot and the announcement watcher (a faster clock and more notices, so that
    the test is short); yields the environment that points a program there: the URLs its first two
    lines name (WebSocket and REST), and the test keys it accepts."""
    from upbit_sync.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY

    command = [sys.executable, "-m", "upbit_sync", "fake-server", "--port", str(_free_port()),
               "--time-scale", TIME_SCALE, "--announce-every", ANNOUNCE_EVERY]
    server = subprocess.Popen(command, cwd=ROOT, env=_env(), text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        banner = "".join(_read_lines(server, 2, 15.0))
        urls = re.findall(r"ws://127\.0\.0\.1:\d+/websocket/v1(?:/private|/info)?\b", banner)
        public = [url for url in urls if url.endswith("/v1")]
        private = [url for url in urls if url.endswith("/private")]
        info = [url for url in urls if url.endswith("/info")]
        rest = re.findall(r"REST: (http://127\.0\.0\.1:\d+)", banner)
        assert public and private and info and rest, f"the fake server's first lines name no URLs: {banner!r}"
        yield {"UPBIT_WS_URL": public[0], "UPBIT_WS_PRIVATE_URL": private[0], "UPBIT_INFO_URL": info[0],
               "UPBIT_REST_URL": rest[0], "UPBIT_ACCESS_KEY": TEST_ACCESS_KEY,
               "UPBIT_SECRET_KEY": TEST_SECRET_KEY}
    finally:
        _stop(server)


def _run(code: str, port: int | None, wanted: int | Callable[[list[str]], bool],
         environ: dict[str, str] | None = None) -> tuple[list[str], str]:
    env = _env()
    if port is not None:
        env["UPBIT_WS_URL"] = f"ws://127.0.0.1:{port}/websocket/v1"
    env.update(environ or {})
    script = subprocess.Popen([sys.executable, "-c", LOOPBACK_ONLY + code], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines = _read_lines(script, wanted, 20.0)
    finally:
        _, err = _stop(script)
    return lines, err


def test_the_callback_example_prints_prices_from_the_exchange_named_by_upbit_ws_url(fake_server):
    lines, err = _run(example("Ten lines: callbacks"), fake_server, 6)
    # BTC and ETH are on different workers, whose print() calls may interleave ("A B\n\n"): the
    # prices are counted in the whole output, not line by line
    prices = re.findall(r"KRW-(?:BTC|ETH) [\d,]+ [+-]\d+\.\d\d%", "".join(lines))
    assert len(prices) >= 3, f"stdout: {lines}\nstderr: {err}"
    assert any(line.startswith("Connected(") for line in lines), "on_event=print printed no event"


def test_the_loop_example_prints_trades_from_the_exchange_named_by_upbit_ws_url(fake_server):
    lines, err = _run(example("Ten lines: a loop"), fake_server, 4)
    trades = [line for line in lines if re.fullmatch(r"[\d.]+ [\d.e-]+ (ASK|BID)\n", line)]
    assert len(trades) >= 3, f"stdout: {lines}\nstderr: {err}"


def test_the_configuration_table_lists_every_field_with_its_default():
    import dataclasses

    import upbit_sync as us

    table = README.read_text(encoding="utf-8").split("## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:3] for line in table.splitlines() if line.startswith("| `")]
    listed: dict[str, str] = {}
    for names, defaults in rows:
        fields = re.findall(r"`(\w+)`", names)
        values = [v.strip().strip("`") for v in defaults.split(",")]
        listed.update(zip(fields, values if len(values) == len(fields) else values * len(fields),
                          strict=True))
    for field in dataclasses.fields(us.Config):
        assert field.name in listed, f"README's configuration table leaves out {field.name}"
        default = field.default
        shown = f'"{default}"' if isinstance(default, str) else repr(default)
        assert listed[field.name] in (shown, repr(default), str(default)), (
            f"{field.name}: README says {listed[field.name]}, the default is {shown}")


def configuration_ranges(section: str) -> dict[str, list[float]]:
    """Field name -> the backquoted numbers of its row's range cell (the third) in the configuration
    table of ``section``; a row naming several fields gives each its own part of the cell, parts split
    by ";" (one part: the same for all)."""
    ranges: dict[str, list[float]] = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = line.split("|")
            names, parts = re.findall(r"`(\w+)`", cells[1]), cells[3].split(";")
            for name, part in zip(names, parts if len(parts) == len(names) else parts * len(names),
                                  strict=True):
                ranges[name] = [float(n) for n in re.findall(r"`([\d_.]+)`", part)]
    return ranges


def test_the_configuration_table_gives_the_range_of_every_number():
    from upbit_sync.config import BOUNDS, OFF_AT_ZERO

    section = README.read_text(encoding="utf-8").split("## Configuration\n", 1)[1].split("\n## ", 1)[0]
    ranges = configuration_ranges(section)
    for name, (low, high) in BOUNDS.items():
        expected = [0.0, low, high] if name in OFF_AT_ZERO else [low, high]
        assert ranges.get(name) == expected, f"{name}: README's range is {ranges.get(name)}, not {expected}"
    assert not {name for name, numbers in ranges.items() if numbers} - set(BOUNDS)


SIGNAL_LINE = re.compile(r"(buy|sell) KRW-(?:BTC|ETH) RsiValue\(rsi=(\d+(?:\.\d+)?(?:e-?\d+)?)\) "
                         r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\n")


def test_the_signal_bot_example_prints_rsi_signals_from_the_info_connection(fake_channels):
    lines, err = _run(example("Ten lines: an indicator-signal bot"), None, 3, fake_channels)
    signals = [m for line in lines if (m := SIGNAL_LINE.fullmatch(line))]
    assert len(signals) == len(lines) >= 3, f"stdout: {lines}\nstderr: {err}"
    for signal_line in signals:
        action, rsi = signal_line[1], float(signal_line[2])
        assert rsi <= 30.0 if action == "buy" else rsi >= 70.0, signal_line[0]


NOTICE_LINE = re.compile(r"\[(\w+)\] (?:CREATED|UPDATED) \[안내\] 테스트 공지 (\d+) https://upbit\.com/\S+\n")


def test_the_announcement_example_prints_the_notices_of_its_categories_only(fake_channels):
    def six_notices(lines: list[str]) -> bool:
        return sum(1 for line in lines if NOTICE_LINE.fullmatch(line)) >= 6

    lines, err = _run(example("Ten lines: an announcement watcher"), None, six_notices, fake_channels)
    notices = [m for line in lines if (m := NOTICE_LINE.fullmatch(line))]
    assert len(notices) >= 6, f"stdout: {lines}\nstderr: {err}"
    assert any(line.startswith("Connected(connection='private'") for line in lines), lines
    assert {m[1] for m in notices} == {"trade", "maintenance", "notice"}, lines
    # the fake posts the four categories in turn (numbered notices); the wallet ones never arrive
    numbers = [int(m[2]) for m in notices]
    assert numbers == sorted(numbers) and set(range(numbers[0], numbers[-1] + 1)) - set(numbers), lines


UPDATE_LINE = re.compile(r"(placed|stream|reconciled) bid KRW-BTC (wait|done|cancel) (\d[\d.e-]*)\n")
OVER_LINE = re.compile(r"(\S+) (done|cancel) (\d[\d.e-]*) (\S+) (\d[\d.e-]*)\n")


def test_the_trading_example_places_a_market_buy_and_waits_until_the_tracker_sees_it_over(fake_channels):
    def over(lines: list[str]) -> bool:  # wait() returned, and on_update heard the end
        return (any(OVER_LINE.fullmatch(line) for line in lines)
                and any((m := UPDATE_LINE.fullmatch(line)) and m[2] != "wait" for line in lines))

    lines, err = _run(example("Ten lines: trading"), None, over, fake_channels)
    final = [m for line in lines if (m := OVER_LINE.fullmatch(line))]
    assert final, f"stdout: {lines}\nstderr: {err}"
    identifier, _, executed, _, fee = final[0].groups()
    assert float(executed) > 0 and float(fee) > 0, lines
    updates = [m.groups() for line in lines if (m := UPDATE_LINE.fullmatch(line))]
    assert updates and updates[-1][1] == final[0][2], lines     # on_update heard the end wait() returned
    last_update = max(i for i, line in enumerate(lines) if UPDATE_LINE.fullmatch(line))
    first_over = min(i for i, line in enumerate(lines) if OVER_LINE.fullmatch(line))
    assert last_update < first_over, f"wait() returned before on_update had handled the end: {lines}"
    changes = [(state, float(volume)) for _, state, volume in updates]
    assert len(set(changes)) == len(changes), f"a change was told twice: {lines}"
    assert identifier != "None", "the order carries no identifier"
