"""Every example and the ``upbit-sync demo`` run end to end against the fake exchange and exit cleanly.

Each program runs in its own interpreter, as a user would run it. All of them start together (each
has its own fake exchange on a free port), so the module takes about as long as the slowest one. The
examples also reject a malformed market code in one line, and stop cleanly on Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.examples.run import EXAMPLES, Run

# name -> command line (after the interpreter)
PROGRAMS: dict[str, list[str]] = {
    "ticker_callbacks": [str(EXAMPLES / "ticker_callbacks.py"), "--fake", "--seconds", "2"],
    "trade_iterator": [str(EXAMPLES / "trade_iterator.py"), "--fake", "--seconds", "2"],
    "orderbook_depth": [str(EXAMPLES / "orderbook_depth.py"), "--fake", "--seconds", "2"],
    "many_components": [str(EXAMPLES / "many_components.py"), "--fake", "--seconds", "2"],
    "private_orders": [str(EXAMPLES / "private_orders.py"), "--fake", "--seconds", "2"],
    "snapshot": [str(EXAMPLES / "snapshot.py"), "--fake", "--seconds", "2"],
    "rest_markets": [str(EXAMPLES / "rest_markets.py"), "--fake", "--seconds", "1"],
    "private_orders_without_keys": [str(EXAMPLES / "private_orders.py"), "--seconds", "2"],
    "demo": ["-m", "upbit_sync", "demo", "--seconds", "4"],
}

# example -> (bad arguments, the one line it must print on stderr); each exits 2 before sending anything
BAD_ARGUMENTS: dict[str, tuple[list[str], str]] = {
    "ticker_callbacks": (["krw-btc"], "error: market code 'krw-btc' must be uppercase: 'KRW-BTC'"),
    "trade_iterator": (["KRW-BTC", "KRW_ETH"],
                       "error: malformed market code 'KRW_ETH'; expected QUOTE-BASE such as 'KRW-BTC'"),
    "orderbook_depth": (["krw-eth"], "error: market code 'krw-eth' must be uppercase: 'KRW-ETH'"),
    "orderbook_depth --depth": (["--depth", "7"],
                                "error: orderbook depth must be one of (1, 5, 15, 30), not 7"),
    "many_components": (["KRW-BTC", "KRW-ETH.5"], "error: market code 'KRW-ETH.5': give the orderbook "
                                                  "depth with depth=, not as a suffix"),
    "snapshot": (["KRW_BTC"],
                 "error: malformed market code 'KRW_BTC'; expected QUOTE-BASE such as 'KRW-BTC'"),
}

# example -> (command line until stopped, its first data line, its closing line or None). The data line
# is the last line of what one print() wrote, so the signal cannot cut that print short.
STOPPABLE: dict[str, tuple[list[str], str, str | None]] = {
    "ticker_callbacks": ([str(EXAMPLES / "ticker_callbacks.py"), "--fake"], r"^KRW-\S+ +[\d,]", r"closed"),
    "trade_iterator": ([str(EXAMPLES / "trade_iterator.py"), "--fake"], r"^#\d+ KRW-",
                       r"traded volume KRW-\S+: \d+\.\d{8}"),
    "orderbook_depth": ([str(EXAMPLES / "orderbook_depth.py"), "--fake"], r"^spread ",
                        r"[1-9]\d* order book frames received"),
    # its first regular output comes at half time (5 s when unbounded); a move alert usually comes sooner
    "many_components": ([str(EXAMPLES / "many_components.py"), "--fake"],
                        r"^(\[move alert\]|merged subscription)", None),
    "private_orders": ([str(EXAMPLES / "private_orders.py"), "--fake"], r"^order ", None),
    "snapshot": ([str(EXAMPLES / "snapshot.py"), "--fake", "--seconds", "30"], r"^KRW-BTC +[\d,]", None),
    "rest_markets": ([str(EXAMPLES / "rest_markets.py"), "--fake", "--seconds", "30"],
                     r"^  account ETH", None),
}
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, Run]]:
    started = {name: Run(args) for name, args in PROGRAMS.items()}
    for name, (args, _) in BAD_ARGUMENTS.items():
        script = str(EXAMPLES / f"{name.split()[0]}.py")
        started[f"{name} bad"] = Run([script, "--fake", "--seconds", "2", *args])
    for name, (args, first_line, _) in STOPPABLE.items():
        for signum in STOP_SIGNALS:
            started[f"{name} {signum.name}"] = Run(args, signal_on=(signum, first_line))
    yield started
    for run in started.values():
        run.kill()


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


@pytest.mark.parametrize("name", BAD_ARGUMENTS)
def test_a_bad_market_code_or_depth_exits_2_with_one_line(runs: dict[str, Run], name: str) -> None:
    assert runs[f"{name} bad"].one_line_error(2) == BAD_ARGUMENTS[name][1]


@pytest.mark.parametrize("name", STOPPABLE)
def test_ctrl_c_stops_the_sdk_and_exits_130(runs: dict[str, Run], name: str) -> None:
    _assert_stopped(runs[f"{name} SIGINT"], signal.SIGINT, STOPPABLE[name][2])


@pytest.mark.parametrize("name", STOPPABLE)
def test_sigterm_stops_the_sdk_and_exits_143(runs: dict[str, Run], name: str) -> None:
    _assert_stopped(runs[f"{name} SIGTERM"], signal.SIGTERM, STOPPABLE[name][2])


def _assert_stopped(run: Run, signum: int, closing_line: str | None) -> None:
    out = run.stopped_by(signum)
    if closing_line is not None:         # printed after the with-blocks closed the SDK
        assert re.fullmatch(closing_line, out.splitlines()[-1]), out


def test_rest_markets_surveys_a_quote_currency_and_watches_it_in_one_request(runs: dict[str, Run]) -> None:
    out = runs["rest_markets"].clean_exit()
    assert re.search(r"^\d+ markets quoted in KRW; the first five:$", out, re.M)
    assert re.search(r"^  KRW-BTC +Bitcoin .* levels 0, ", out, re.M), out
    assert re.search(r"^the last [1-5] trades? of KRW-\S+:$", out, re.M), out
    assert re.search(r"^  account KRW +balance ", out, re.M), "the account was not shown"
    assert re.search(r"^watched \d+ tickers in one request: [1-9]\d* sent data$", out, re.M), out


@pytest.mark.parametrize("backend", ["redis", "sqlite"])
def test_shared_limits_keeps_two_processes_within_one_budget(backend: str, request: pytest.FixtureRequest,
                                                              tmp_path: Path) -> None:
    url = (request.getfixturevalue("redis_url") if backend == "redis"
           else f"sqlite://{tmp_path / 'limits.db'}")
    run = Run([str(EXAMPLES / "shared_limits.py"), "--fake", "--backend", url, "--seconds", "2"])
    out = run.clean_exit()
    counts = re.search(r"process 1: (\d+) calls, process 2: (\d+) calls", out)
    busiest = re.search(r"the busiest second had (\d+) calls", out)
    assert counts and busiest, out
    assert int(counts[1]) > 0 and int(counts[2]) > 0
    assert int(busiest[1]) <= 10, out
