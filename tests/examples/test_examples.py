"""Every example and the ``upbit-sync demo`` run end to end against the fake exchange and exit cleanly.

Each program runs in its own interpreter, as a user would run it. All of them start together (each
has its own fake exchange on a free port), so the module takes about as long as the slowest one. The
examples also reject a malformed market code in one line, and stop cleanly on Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import itertools
import re
import signal
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
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
    "signal_bot": [str(EXAMPLES / "signal_bot.py"), "--fake", "--seconds", "3"],
    "announcement_watcher": [str(EXAMPLES / "announcement_watcher.py"), "--fake", "--seconds", "2"],
    "announcement_watcher --body": [str(EXAMPLES / "announcement_watcher.py"), "--fake", "--seconds", "1",
                                    "--body", "--categories", "all"],
    "private_orders_without_keys": [str(EXAMPLES / "private_orders.py"), "--seconds", "2"],
    "signal_bot_without_keys": [str(EXAMPLES / "signal_bot.py"), "--seconds", "2"],
    "announcement_watcher_without_keys": [str(EXAMPLES / "announcement_watcher.py"), "--seconds", "2"],
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
    "signal_bot": (["krw-btc"], "error: market code 'krw-btc' must be uppercase: 'KRW-BTC'"),
    "signal_bot BTC-ETH": (["BTC-ETH"], "error: indicator_signal serves KRW markets only, not BTC-ETH"),
    "signal_bot --oversold": (["--oversold", "25"],
                              "error: rsi oversold: threshold must be one of 20, 30, not 25"),
    "announcement_watcher": (["--categories", "trade,trades"],
                             "error: unknown announcement category 'trades'; expected some of: notice, "
                             "trade, wallet, maintenance, digital_asset, nft, service, event, note, "
                             "trading, airdrop, feature, disclosure"),
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
    "signal_bot": ([str(EXAMPLES / "signal_bot.py"), "--fake"], r"^signal KRW-",
                   r"watched 2 markets: [1-9]\d* signals"),
    "announcement_watcher": ([str(EXAMPLES / "announcement_watcher.py"), "--fake"], r"^notice \[",
                             r"[1-9]\d* notices received \(.*\)"),
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


@pytest.mark.parametrize("name", ["private_orders", "signal_bot", "announcement_watcher"])
def test_an_example_that_needs_keys_exits_2_with_one_line_naming_them(runs: dict[str, Run],
                                                                       name: str) -> None:
    line = runs[f"{name}_without_keys"].one_line_error(2)
    assert "UPBIT_ACCESS_KEY" in line and "UPBIT_SECRET_KEY" in line and "--fake" in line, line
    assert runs[f"{name}_without_keys"].result()[1] == "", "it printed something before giving up"


SIGNAL = re.compile(r"^signal (KRW-\S+) 15m (oversold|overbought) RSI +(\d+\.\d) "
                    r"candle (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) -> (buy|sell|hold)$", re.M)


def test_signal_bot_trades_on_both_signals_of_each_market_once_per_edge(runs: dict[str, Run]) -> None:
    out = runs["signal_bot"].clean_exit()
    assert re.search(r"^event: Connected\(connection='info'", out, re.M), out
    signals = SIGNAL.findall(out)
    for code in ("KRW-BTC", "KRW-ETH"):
        mine = [(trigger, float(rsi), when, action) for c, trigger, rsi, when, action in signals if c == code]
        assert {trigger for trigger, *_ in mine} == {"oversold", "overbought"}, out  # the fall, the rise
        for trigger, rsi, _, _ in mine:
            assert rsi <= 30.0 if trigger == "oversold" else rsi >= 70.0, out
        # once per not-met -> met edge: the same trigger again needs a candle between where its
        # condition lapsed, so its candles are at least two 15-minute candles apart
        for trigger in ("oversold", "overbought"):
            times = [datetime.fromisoformat(when) for t, _, when, _ in mine if t == trigger]
            assert all(b - a >= timedelta(minutes=30) for a, b in itertools.pairwise(times)), out
        assert [when for _, _, when, _ in mine] == sorted({when for _, _, when, _ in mine}), out
        assert mine[0][3] == "buy" or mine[0][0] == "overbought", out
        count = re.search(rf"^{code}: (\d+) signals, \d+ paper trades, (long|flat)$", out, re.M)
        assert count and int(count[1]) == len(mine), out
    assert out.splitlines()[-1] == f"watched 2 markets: {len(signals)} signals", out


NOTICE = re.compile(r"^notice \[(\w+)\] (CREATED|UPDATED) \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00 (.+) "
                    r"<(https://upbit\.com/\S+)>$", re.M)


def test_announcement_watcher_prints_the_notices_of_its_categories_only(runs: dict[str, Run]) -> None:
    out = runs["announcement_watcher"].clean_exit()
    assert re.search(r"^event: Connected\(connection='private'", out, re.M), out
    notices = NOTICE.findall(out)
    assert {category for category, *_ in notices} == {"trade", "maintenance", "notice"}, out
    assert re.search(r"^fake exchange posts \[wallet\] ", out, re.M), "no wallet notice was posted"
    updated = [(title, url) for category, kind, title, url in notices if kind == "UPDATED"]
    assert updated and all(title.endswith("(일정 변경)") for title, _ in updated), out
    created = {url for _, kind, _, url in notices if kind == "CREATED"}
    assert all(url in created for _, url in updated), "an update names a notice that was not posted"
    assert not re.search(r"^  ", out, re.M), "a body was shown without --body"
    by_category = ", ".join(f"{c} {n}" for c, n in sorted(Counter(c for c, *_ in notices).items()))
    assert out.splitlines()[-1] == f"{len(notices)} notices received ({by_category})", out


def test_announcement_watcher_with_body_and_every_category_shows_wallet_notices_and_their_text(
        runs: dict[str, Run]) -> None:
    out = runs["announcement_watcher --body"].clean_exit()
    assert re.search(r"^notice \[wallet\] CREATED ", out, re.M), out
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if NOTICE.match(line):
            assert re.fullmatch(r"  \S.* \(\d+ characters of Markdown\)", lines[i + 1]), out


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
