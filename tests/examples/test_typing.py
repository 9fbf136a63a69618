"""Types a user can trust: ``mypy --strict`` passes on the README's code and the examples, run from
outside the repository as a user's project would (so it must find the installed package, editable
install included), and the overloads give each callback and stream its message type."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.examples.test_readme import README, python_blocks

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

def mypy(paths: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--cache-dir",
         str(cwd / ".mypy_cache"), *map(str, paths)],
        cwd=cwd, capture_output=True, text=True, timeout=240,
    )


def test_mypy_strict_passes_on_the_readme_and_the_examples_from_outside_the_repository(tmp_path):
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 3
    files = []
    for i, block in enumerate(blocks):
        path = tmp_path / f"readme_block_{i}.py"
        path.write_text(block, encoding="utf-8")
        files.append(path)
    for example in EXAMPLES:
        files.append(tmp_path / example.name)
        shutil.copy(example, files[-1])
    done = mypy(files, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_overloads_give_each_type_its_message_and_refuse_a_misspelled_name(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(textwrap.dedent("""
        import upbit_sync as us

        client = us.WebSocketClient()

        def on_book(book: us.Orderbook) -> None: ...

        for trade in client.stream("trade", ["KRW-BTC"]):
            reveal_type(trade)
        for item in client.stream("ticker", ["KRW-BTC"], events=True):
            reveal_type(item)
        for raw in client.stream("candle.1m", ["KRW-BTC"], raw=True):
            reveal_type(raw)
        reveal_type(client.snapshot("orderbook", ["KRW-BTC"], depth=5))
        client.subscribe("orderbook", ["KRW-BTC"], on_book, depth=15)
        client.subscribe("ticker", ["KRW-BTC"], on_book)       # a ticker is not an Orderbook
        client.subscribe("tikcer", ["KRW-BTC"], print)         # no such type
        client.subscribe("trade", ["KRW-BTC"], print, overflow="drop_some")  # no such policy
    """), encoding="utf-8")
    out = mypy([probe], tmp_path).stdout
    revealed = [line.split("Revealed type is ", 1)[1].replace("builtins.", "")
                for line in out.splitlines() if "Revealed type" in line]
    assert revealed == [
        '"upbit_sync.types.market.Trade"',
        '"upbit_sync.types.market.Ticker | upbit_sync.types.events.Event"',
        '"dict[str, Any]"',
        '"upbit_sync.stream.Snapshot[upbit_sync.types.market.Orderbook]"',
    ], out
    errors = [int(line.split(":")[1]) for line in out.splitlines() if ": error:" in line]
    marked = [n for n, line in enumerate(probe.read_text().splitlines(), 1) if "# a ticker" in line
              or "# no such" in line]
    assert errors == marked and len(marked) == 3, out


def test_the_type_names_of_the_overloads_are_the_protocol_s():
    from typing import get_args

    from upbit_sync import client, protocol

    def names(literal: object) -> set[str]:
        out: set[str] = set()
        for arg in get_args(literal):
            out |= names(arg) if get_args(arg) else {arg}
        return out

    assert names(client.MessageType) == set(protocol.ALL_TYPES)
    assert names(client.PublicType) == set(protocol.PUBLIC_TYPES)


def test_the_new_channels_type_check_and_refuse_a_bad_timeframe_or_category(tmp_path):
    probe = tmp_path / "channels.py"
    probe.write_text(textwrap.dedent("""
        import upbit_sync as us

        client = us.WebSocketClient()

        def on_notice(notice: us.Announcement) -> None: ...
        def on_value(value: us.Indicator) -> None: ...

        for signal in client.stream("indicator_signal", ["KRW-BTC"], timeframe="15m",
                                    indicators=[us.RSI(14).oversold(30)]):
            reveal_type(signal)
        reveal_type(client.stream("announcement", None, categories=["trade"]))
        client.subscribe("announcement", None, on_notice, categories=["trade"], include_body=True)
        client.subscribe("indicator", ["KRW-BTC"], on_value, timeframe="60m",
                         indicators=[us.MACD(), {"type": "rsi", "params": {"period": 14}}])
        client.subscribe("indicator", ["KRW-BTC"], on_value, timeframe="7m", indicators=[us.RSI()])  # no such
        client.subscribe("announcement", None, on_notice, categories=["trades"])  # no such
        client.subscribe("indicator", ["KRW-BTC"], on_notice, timeframe="5m", indicators=[])  # a notice
    """), encoding="utf-8")
    out = mypy([probe], tmp_path).stdout
    revealed = [line.split("Revealed type is ", 1)[1]
                for line in out.splitlines() if "Revealed type" in line]
    assert revealed == [
        '"upbit_sync.types.channels.IndicatorSignal"',
        '"upbit_sync.stream.MessageStream[upbit_sync.types.channels.Announcement]"',
    ], out
    errors = sorted({int(line.split(":")[1]) for line in out.splitlines() if ": error:" in line})
    marked = [n for n, line in enumerate(probe.read_text().splitlines(), 1)
              if "# no such" in line or "# a notice" in line]
    assert errors == marked and len(marked) == 3, out
