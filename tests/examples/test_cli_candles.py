"""``upbit-sync candles MARKET UNIT --count N``, run as a user runs it (an interpreter of its own)
against a fake exchange this process runs (``UPBIT_REST_URL``), or the embedded one (``--fake``):
NDJSON of Upbit's fields oldest first, or a table; a bad argument is a one-line usage error."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

import upbit_sync as us
from tests.examples.run import Run
from upbit_sync.testing import FakeUpbitServer

CLI = ["-m", "upbit_sync", "candles"]
PAST = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(days=1)
TO = PAST.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpbitServer]:
    with FakeUpbitServer(seed=5) as server:
        yield server


def against(fake: FakeUpbitServer, *args: str) -> Run:
    return Run([*CLI, *args], env={"UPBIT_REST_URL": fake.rest_url})


def test_450_candles_as_ndjson_oldest_first_are_the_exchange_s_own(fake):
    out = against(fake, "KRW-BTC", "1m", "--count", "450", "--to", TO).clean_exit()
    rows = [json.loads(line) for line in out.splitlines()]
    with us.RestClient(us.Config(rest_url=fake.rest_url)) as rest:
        expected = rest.candles("KRW-BTC", "1m", 450, to=TO)
    assert rows == [bar.raw for bar in expected]
    starts = [row["candle_date_time_utc"] for row in rows]
    assert len(set(starts)) == 450 and starts == sorted(starts) and starts[-1] < TO[:-1]


def test_a_table_on_request(fake):
    lines = against(fake, "KRW-ETH", "1d", "--count", "3", "--to", TO, "--table").clean_exit().splitlines()
    assert lines[0].split()[:3] == ["start", "(UTC)", "open"]
    assert len(lines) == 5 and lines[-1] == "3 candles of KRW-ETH"
    assert lines[1] < lines[3] and lines[3].startswith(PAST.strftime("%Y-%m-%d"))  # its day began before --to


def test_the_embedded_fake_exchange_serves_it_too():
    out = Run([*CLI, "KRW-BTC", "5m", "--count", "2", "--fake"]).clean_exit()
    assert [json.loads(line)["unit"] for line in out.splitlines()] == [5, 5]


@pytest.mark.parametrize(("args", "message"), [
    (["KRW-BTC", "2m"], "argument UNIT: invalid choice: '2m'"),
    (["KRW-BTC", "1m", "--count", "0"], "must be at least 1"),
    (["KRW-BTC", "1m", "--to", "yesterday"], "to must be an ISO date and time"),
    (["krw-btc", "1m"], "must be uppercase"),
])
def test_a_bad_argument_is_a_one_line_usage_error(fake, args, message):
    line = against(fake, *args).one_line_error(2)
    assert line.startswith("upbit-sync candles: error: ") and message in line, line


def test_an_exchange_out_of_reach_is_a_one_line_failure():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nowhere = probe.getsockname()[1]
    run = Run([*CLI, "KRW-BTC", "1m"], env={"UPBIT_REST_URL": f"http://127.0.0.1:{nowhere}"})
    assert run.one_line_error(1).startswith("upbit-sync candles: error: ")
