"""Every example and the ``upbit-sync demo`` run end to end against the fake exchange and exit cleanly.

Each program runs in its own interpreter, as a user would run it. All of them start together (each
has its own fake exchange on a free port), so the module takes about as long as the slowest one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
RUN_TIMEOUT = 30.0

# name -> command line (after the interpreter)
PROGRAMS: dict[str, list[str]] = {
    "ticker_callbacks": [str(EXAMPLES / "ticker_callbacks.py"), "--fake", "--seconds", "2"],
    "trade_iterator": [str(EXAMPLES / "trade_iterator.py"), "--fake", "--seconds", "2"],
    "orderbook_depth": [str(EXAMPLES / "orderbook_depth.py"), "--fake", "--seconds", "2"],
    "many_components": [str(EXAMPLES / "many_components.py"), "--fake", "--seconds", "2"],
    "private_orders": [str(EXAMPLES / "private_orders.py"), "--fake", "--seconds", "2"],
    "snapshot": [str(EXAMPLES / "snapshot.py"), "--fake", "--seconds", "2"],
    "private_orders_without_keys": [str(EXAMPLES / "private_orders.py"), "--seconds", "2"],
    "demo": ["-m", "upbit_sync", "demo", "--seconds", "4"],
}


class Run:
    """One program started in a subprocess; ``result()`` waits for it (once) and returns its output."""

    def __init__(self, args: list[str]) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("UPBIT_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        self.args = args
        self.process = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self._output: tuple[int, str, str] | None = None

    def result(self) -> tuple[int, str, str]:
        if self._output is None:
            try:
                out, err = self.process.communicate(timeout=RUN_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                out, err = self.process.communicate()
                pytest.fail(f"{self.args} still running after {RUN_TIMEOUT} s\n{out}\n{err}")
            self._output = (self.process.returncode, out, err)
        return self._output

    def clean_exit(self) -> str:
        """Assert exit 0 and a quiet stderr; return stdout."""
        code, out, err = self.result()
        assert code == 0, f"exit {code}\n--- stdout\n{out}\n--- stderr\n{err}"
        assert "Traceback" not in err and "Exception in thread" not in err, err
        return out


@pytest.fixture(scope="module")
def runs() -> dict[str, Run]:
    started = {name: Run(args) for name, args in PROGRAMS.items()}
    yield started
    for run in started.values():
        if run.process.poll() is None:
            run.process.kill()
            run.process.communicate()


PRICE = r"[\d,]+(\.\d+)?"


def test_ticker_callbacks_prints_prices_of_each_market(runs: dict[str, Run]) -> None:
    out = runs["ticker_callbacks"].clean_exit()
    for code in ("KRW-BTC", "KRW-ETH", "KRW-XRP"):
        assert re.search(rf"^{code}\s+{PRICE} KRW\s+[+-]\d+\.\d\d%\s+(RISE|EVEN|FALL)$", out, re.M), out
    assert "event: Connected(" in out
    assert out.rstrip().endswith("closed")


def test_trade_iterator_prints_trades_and_volume_totals(runs: dict[str, Run]) -> None:
    out = runs["trade_iterator"].clean_exit()
    for code in ("KRW-BTC", "KRW-ETH"):
        assert re.search(rf"^#\d+ {code}\s+(buy |sell) +\d+\.\d{{8}} @ +{PRICE}", out, re.M), out
        assert re.search(rf"^traded volume {code}: \d+\.\d{{8}}$", out, re.M), out


def test_orderbook_depth_draws_five_levels_and_the_spread(runs: dict[str, Run]) -> None:
    out = runs["orderbook_depth"].clean_exit()
    assert "KRW-BTC, 5 levels" in out, out
    book = out[out.index("KRW-BTC, 5 levels"):]
    assert len(re.findall(rf"^  ask +{PRICE} +\d+\.\d{{6}}$", book.split("spread")[0], re.M)) == 5, out
    assert len(re.findall(rf"^  bid +{PRICE} +\d+\.\d{{6}}$", book.split("spread")[0], re.M)) == 5, out
    assert re.search(rf"^spread {PRICE}; bids hold \d+% of the book's size$", out, re.M), out
    assert re.search(r"^[1-9]\d* order book frames received$", out, re.M), out


def test_many_components_share_one_merged_subscription(runs: dict[str, Run]) -> None:
    out = runs["many_components"].clean_exit()
    listings = out.split("merged subscription")[1:]
    assert len(listings) == 2, out
    before, after = (_listed(text) for text in listings)
    assert before["ticker"] == {"KRW-BTC", "KRW-ETH", "KRW-SOL"}, out
    assert before["trade"] == {"KRW-BTC", "KRW-XRP"}, out
    assert "orderbook" in before, out
    assert after["ticker"] == {"KRW-BTC", "KRW-ETH"}, out      # the closed component's KRW-SOL is gone
    assert after["trade"] == before["trade"], out
    assert re.search(rf"^\[price board\]  KRW-BTC {PRICE}  KRW-ETH {PRICE}$", out, re.M), out
    assert re.search(r"^\[trade tape\]  [1-9]\d* trades", out, re.M), out
    assert re.search(rf"^\[spread\]  KRW-BTC {PRICE}  KRW-ETH {PRICE}$", out, re.M), out


def _listed(text: str) -> dict[str, set[str]]:
    """The ``  type  code, code`` lines that follow one "merged subscription" heading."""
    listed: dict[str, set[str]] = {}
    for line in text.splitlines()[1:]:
        match = re.match(r"^  (\S+) +(.*)$", line)
        if not match:
            break
        listed[match[1]] = set(match[2].split(", "))
    return listed


def test_private_orders_shows_order_states_and_balances(runs: dict[str, Run]) -> None:
    out = runs["private_orders"].clean_exit()
    assert re.search(r"^event: Connected\(connection='private'", out, re.M), out
    assert re.search(r"^order \w{8} KRW-BTC\s+BID (wait|trade|done)", out, re.M), out
    assert re.search(r"^order \w{8} KRW-BTC\s+BID done ", out, re.M), out
    assert re.search(rf"^balances: KRW {PRICE} \(locked 0\), BTC 0\.01 \(locked 0\)$", out, re.M), out


def test_private_orders_without_keys_exits_with_a_clear_message(runs: dict[str, Run]) -> None:
    code, out, err = runs["private_orders_without_keys"].result()
    assert code == 2, (out, err)
    assert "UPBIT_ACCESS_KEY" in err and "UPBIT_SECRET_KEY" in err, err
    assert "Traceback" not in err


def test_snapshot_prints_a_table_of_every_market(runs: dict[str, Run]) -> None:
    out = runs["snapshot"].clean_exit()
    tables = len(re.findall(r"^market +price +change +best bid +best ask +24h volume$", out, re.M))
    assert tables >= 1, out                             # one a second while --seconds lasts
    for code in ("KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL"):
        row = rf"^{code} +{PRICE} +[+-]\d+\.\d\d% +{PRICE} +{PRICE} +{PRICE}$"
        assert len(re.findall(row, out, re.M)) == tables, out


def test_demo_shows_the_live_view_the_drop_the_recovery_and_health(runs: dict[str, Run]) -> None:
    out = runs["demo"].clean_exit()
    for code in ("KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL"):
        row = rf"^ +{code} +{PRICE} +[+-]\d+\.\d\d% +({PRICE}|-) +\d+\.\d$"
        assert len(re.findall(row, out, re.M)) >= 3, out
    lines = out.splitlines()
    drop = _index(lines, ">>> the exchange drops every connection")
    disconnected = _index(lines, "event: Disconnected(public)")
    reconnected = _index(lines, "event: Reconnected(public) after ")
    recovered = _index(lines, "<<< recovered: data flowing again ")
    assert drop < disconnected < reconnected < recovered, out
    assert re.search(r"after \d+ ms of downtime", lines[reconnected]), out
    health = "\n".join(lines[_index(lines, "health summary"):])
    assert re.search(r"connection public: state=open reconnects=1 messages=[1-9]", health, re.I), out
    assert "dispatcher:" in health, out
    assert "healthy: True" in health, out
    assert lines[-1] == "demo finished: recovered from the drop and healthy", out


def _index(lines: list[str], start: str) -> int:
    found = [i for i, line in enumerate(lines) if line.strip().startswith(start)]
    assert found, f"no line starting with {start!r} in:\n" + "\n".join(lines)
    return found[0]
