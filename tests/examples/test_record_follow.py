"""``upbit-sync record --all-markets QUOTE --follow``: markets listed while it records are recorded
too and delisted ones dropped, each marked by an index line the reader gives back as its event; run
as a user runs it, in an interpreter of its own, against a fake exchange this process runs."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

import upbit_sync as us
from tests.examples.run import Run
from upbit_sync.cli import main
from upbit_sync.recording import index_event, is_index, read_lines, recording_files
from upbit_sync.testing import FakeUpbitServer

LISTED = ("KRW-BTC", "KRW-ETH", "KRW-XRP")


def _codes_asked(fake: FakeUpbitServer) -> set[str]:
    """The ticker codes of the newest subscription request of the open public connection."""
    for conn in reversed(fake.open_connections()):
        if not conn.is_private and conn.subscriptions:
            return {code for entry in conn.subscriptions if entry["type"] == "ticker"
                    for code in entry["codes"]}
    return set()


def test_record_follow_records_a_new_listing_drops_a_delisted_market_and_indexes_both(tmp_path: Path):
    with FakeUpbitServer(markets=LISTED, message_rate=20.0, seed=5) as fake:
        environ = {"UPBIT_WS_URL": fake.public_url, "UPBIT_REST_URL": fake.rest_url}
        run = Run(["-m", "upbit_sync", "record", "ticker", "--all-markets", "KRW", "--follow",
                   "--follow-interval", "0.2", "--out", str(tmp_path), "--progress", "0"], env=environ)
        try:
            assert fake.wait_for(lambda: _codes_asked(fake) == set(LISTED), timeout=10), run.result()
            fake.list_market("KRW-NEWC", english_name="New Coin")
            fake.delist_market("KRW-XRP")
            expected = {"KRW-BTC", "KRW-ETH", "KRW-NEWC"}
            assert fake.wait_for(lambda: _codes_asked(fake) == expected, timeout=10), run.result()
            news = fake.open_connections()[-1].sent_count
            assert fake.wait_for(lambda: fake.open_connections()[-1].sent_count > news + 3, timeout=10)
            run.process.send_signal(signal.SIGINT)
            code, _, err = run.result()
        finally:
            run.kill()
    assert code == 130, err
    assert "KRW-NEWC (New Coin) listed: subscribed for ticker" in err
    assert "KRW-XRP (XRP) delisted: dropped for ticker" in err
    lines = [line for path in recording_files([tmp_path]) for line in read_lines(path)]
    marks = [index_event(line) for line in lines if is_index(line)]
    assert [(type(e).__name__, e.market) for e in marks if isinstance(e, (us.MarketListed, us.MarketDelisted))
            ] == [("MarketListed", "KRW-NEWC"), ("MarketDelisted", "KRW-XRP")]
    listed = next(e for e in marks if isinstance(e, us.MarketListed))
    assert (listed.type, listed.quote, listed.english_name, listed.connection) == (
        "ticker", "KRW", "New Coin", "public")
    assert any(line.get("code") == "KRW-NEWC" for line in lines if not is_index(line))


@pytest.mark.parametrize(("args", "says"), [
    (["record", "ticker", "KRW-BTC", "--follow"], "--all-markets"),
    (["record", "ticker", "--all-markets", "KRW", "--follow-interval", "5"], "--follow"),
    (["record", "ticker", "--all-markets", "KRW", "--follow", "--follow-interval", "0.01"], "interval"),
])
def test_record_follow_refuses_bad_arguments_before_anything_starts(args: list[str], says: str,
                                                                      tmp_path: Path, capsys):
    assert main([*args, "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "never").exists()
