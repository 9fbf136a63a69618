"""What the command line draws while it runs: on a terminal rich draws the live table, the demo's view and
the recorder's status line (checked on rich consoles that write into a string as a terminal would, and
once in a pseudo-terminal); into a pipe, or without rich, they are plain lines; the SDK never loads rich.
"""

from __future__ import annotations

import ast
import io
import os
import re
import select
import subprocess
import sys
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from tests.examples.run import ROOT
from upbit_sync.cli.demo import DemoView, plain_lines
from upbit_sync.cli.drawing import (
    Board,
    LiveScreen,
    PlainScreen,
    PlainStatus,
    RichStatus,
    board_lines,
    screen,
    status_line,
)
from upbit_sync.cli.live_table import LiveTable

CODES_SHOWN = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # a terminal's control sequences, as rich writes them
BTC = {"type": "ticker", "code": "KRW-BTC", "trade_price": 115_000_000.0, "signed_change_rate": 0.0125,
       "acc_trade_volume_24h": 12.5, "market_state": "ACTIVE"}
ETH = {**BTC, "code": "KRW-ETH", "trade_price": 5_200_000.0, "signed_change_rate": -0.004}


def stand_in(**fields: Any) -> Any:
    """A message with the fields the demo's view reads."""
    return SimpleNamespace(**fields)


BTC_TICKER = stand_in(type="ticker", code="KRW-BTC", trade_price=115_000_000.0, signed_change_rate=0.01)


def terminal(width: int = 100) -> tuple[Console, io.StringIO]:
    """A rich console that writes into a string as it would to a terminal ``width`` columns wide."""
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=width, color_system="standard"), out


def text_of(written: str) -> str:
    """What a terminal shows of ``written``, its control sequences left out."""
    return CODES_SHOWN.sub("", written)


def ticker_table() -> Board:
    table = LiveTable("ticker", "upbit-sync stream ticker KRW-BTC KRW-ETH")
    table.add(BTC)
    table.add(ETH)
    table.note("reconnected (public) after 12 ms; subscriptions restored")
    board = table.frame(force=True)
    assert board is not None
    return board


class Tty(io.StringIO):
    """A stdout or stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


# ---- on a terminal: rich ----------------------------------------------------------------------------


def test_the_live_table_is_drawn_by_rich_with_its_codes_prices_and_events() -> None:
    console, out = terminal()
    drawn = LiveScreen(console)
    drawn.show(ticker_table())
    drawn.close()
    shown = text_of(out.getvalue())
    for expected in ("upbit-sync stream ticker KRW-BTC KRW-ETH", "KRW-BTC", "115,000,000", "+1.25%",
                     "KRW-ETH", "5,200,000", "-0.40%", "reconnected (public) after 12 ms"):
        assert expected in shown, shown
    assert CODES_SHOWN.search(out.getvalue())  # drawn with a terminal's codes, by rich


def test_the_live_table_is_redrawn_in_place_not_printed_again_below() -> None:
    console, out = terminal()
    drawn = LiveScreen(console)
    table = LiveTable("ticker", "upbit-sync stream ticker KRW-BTC")
    table.add(BTC)
    first = table.frame(force=True)
    table.add({**BTC, "trade_price": 116_000_000.0})
    second = table.frame(force=True)
    assert first is not None and second is not None
    drawn.show(first)
    before = len(out.getvalue())
    drawn.show(second)
    drawn.close()
    redraw = out.getvalue()[before:]
    assert "\x1b[1A" in redraw and "\x1b[2K" in redraw  # up a line, erase it: the table drawn over itself
    assert "116,000,000" in text_of(redraw)


def test_a_line_said_under_a_live_table_is_printed_above_it_as_written() -> None:
    console, out = terminal()
    drawn = LiveScreen(console)
    drawn.show(ticker_table())
    drawn.say("  event: [안내] not rich markup :smile:")
    drawn.close()
    shown = text_of(out.getvalue())
    assert "  event: [안내] not rich markup :smile:" in shown
    assert shown.rindex("[안내]") < shown.rindex("KRW-ETH")  # the table is drawn again under it


def test_the_demos_view_is_drawn_by_rich_with_every_market() -> None:
    console, out = terminal()
    view = DemoView(["KRW-BTC", "KRW-ETH"], LiveScreen(console))
    unit = SimpleNamespace(ask_price=115_001_000.0, bid_price=115_000_000.0)
    view.on_ticker(BTC_TICKER)
    view.on_orderbook(stand_in(type="orderbook", code="KRW-BTC", units=[unit]))
    view.screen.show(view.board(1.0))
    view.screen.close()
    shown = text_of(out.getvalue())
    for expected in ("market", "trades/s", "KRW-BTC", "115,000,000", "+1.00%", "1,000", "KRW-ETH",
                     "waiting for data"):
        assert expected in shown, shown


def test_the_recorders_status_line_is_drawn_by_rich_progress_with_lines_above_it() -> None:
    console, out = terminal(width=140)
    status = RichStatus(console)
    status.show("record: 12 messages (4.0/s), 0 gap(s) (0 reconnect(s), 0 lost), writing trade/x.ndjson.gz")
    status.say("upbit-sync record: reconnected (public) after 9 ms")
    status.show("record: 20 messages (8.0/s), 1 gap(s) (1 reconnect(s), 0 lost), writing trade/x.ndjson.gz")
    status.close()
    shown = text_of(out.getvalue())
    assert "record: 20 messages (8.0/s), 1 gap(s)" in shown
    assert shown.index("upbit-sync record: reconnected") < shown.rindex("record: 20 messages")


def test_rich_draws_on_the_commands_thread_without_starting_one_of_its_own() -> None:
    before = set(threading.enumerate())
    console, _ = terminal()
    drawn, status = LiveScreen(console), RichStatus(console)
    drawn.show(ticker_table())
    status.show("record: 1 messages")
    started = set(threading.enumerate()) - before
    drawn.close()
    status.close()
    assert not started, started  # every thread of ours is an upbit-... daemon: rich adds none


# ---- into a pipe, or without rich: plain lines -------------------------------------------------------


def test_into_a_pipe_each_table_is_printed_as_plain_lines(capsys: pytest.CaptureFixture[str]) -> None:
    drawn = screen()  # stdout captured: no terminal
    assert isinstance(drawn, PlainScreen)
    board = ticker_table()
    drawn.show(board)
    out = capsys.readouterr().out
    assert out == "\n".join(board_lines(board)) + "\n"
    assert "\x1b" not in out
    lines = out.splitlines()
    assert lines[2].split() == ["code", "price", "change", "volume", "24h", "state"]
    assert lines[3].split() == ["KRW-BTC", "115,000,000", "+1.25%", "12.5", "ACTIVE"]


def test_into_a_pipe_the_demo_prints_its_table_in_fixed_columns() -> None:
    view = DemoView(["KRW-BTC", "KRW-ETH"], PlainScreen(plain_lines))
    view.on_ticker(BTC_TICKER)
    assert plain_lines(view.board(2.0)) == [
        "[ 2.0 s]  market             price   change     spread  trades/s",
        "         KRW-BTC      115,000,000   +1.00%          -       0.0",
        "         KRW-ETH   waiting for data",
    ]


def test_into_a_pipe_the_status_line_is_a_line_each_time() -> None:
    assert isinstance(status_line(), PlainStatus)  # stderr captured: no terminal


def test_without_rich_a_terminal_gets_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in sys.modules if name == "rich" or name.startswith("rich.")]:
        monkeypatch.setitem(sys.modules, name, None)  # as if rich were not installed
    monkeypatch.setattr(sys, "stdout", Tty())
    monkeypatch.setattr(sys, "stderr", Tty())
    assert isinstance(screen(), PlainScreen)
    assert isinstance(status_line(), PlainStatus)


# ---- who loads rich ---------------------------------------------------------------------------------


def test_the_command_line_loads_rich_only_to_draw_on_a_terminal() -> None:
    code = "import sys, upbit_sync, upbit_sync.cli, upbit_sync.testing; print('rich' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_no_module_outside_the_command_line_imports_rich() -> None:
    package = ROOT / "upbit_sync"
    for path in package.rglob("*.py"):
        if path.is_relative_to(package / "cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            rich = [name for name in names if name.split(".")[0] == "rich"]
            assert not rich, f"{path.relative_to(ROOT)} imports {rich}"


# ---- a real terminal --------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_stream_as_a_table_on_a_terminal_is_drawn_in_place_by_rich() -> None:
    import pty

    leader, follower = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("UPBIT_")}
    environ.update(PYTHONPATH=str(ROOT), TERM="xterm-256color", COLUMNS="100", LINES="30")
    process = subprocess.Popen(
        [sys.executable, "-m", "upbit_sync", "stream", "ticker", "KRW-BTC", "KRW-ETH", "--fake", "--format",
         "table", "--seconds", "1.5"], cwd=ROOT, env=environ, stdin=subprocess.DEVNULL, stdout=follower,
        stderr=subprocess.PIPE)
    os.close(follower)
    written = _read_until_closed(leader, deadline=time.monotonic() + 30)
    try:
        code = process.wait(timeout=10)
    finally:
        process.kill()
        os.close(leader)
    assert process.stderr is not None
    err = process.stderr.read().decode()
    process.stderr.close()
    assert code == 0, (written, err)
    shown = text_of(written)
    assert "upbit-sync stream ticker KRW-BTC KRW-ETH" in shown, written
    assert re.search(r"KRW-BTC +[\d,]+ +[+-]\d+\.\d\d%", shown) and "KRW-ETH" in shown, written
    assert "\x1b[2K" in written  # lines erased and drawn again: in place


def _read_until_closed(fd: int, deadline: float) -> str:
    """Everything written to a pseudo-terminal until its last writer closes it (or the deadline)."""
    chunks = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")

