"""``upbit-sync orders``, run as a user runs it: in an interpreter of its own, pointed through
``UPBIT_REST_URL`` and the keys at a fake exchange on 127.0.0.1 that holds orders this test placed on
it, judged by exit code and output."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest

import upbit_sync as us
from tests.examples.run import Run
from upbit_sync.cli import build_parser
from upbit_sync.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY, FakeUpbitServer

CLI = ["-m", "upbit_sync", "orders"]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Placed:
    """The fake exchange and the open orders placed on it, far from the market so none fills."""

    def __init__(self, server: FakeUpbitServer, orders: list[us.Order], closed: us.Order) -> None:
        self.server = server
        self.orders = orders
        self.closed = closed
        self.env = {"UPBIT_REST_URL": server.rest_url, "UPBIT_ACCESS_KEY": TEST_ACCESS_KEY,
                    "UPBIT_SECRET_KEY": TEST_SECRET_KEY}


@pytest.fixture(scope="module")
def placed() -> Iterator[Placed]:
    with FakeUpbitServer() as server, us.RestClient(server.config(keys=True)) as rest:
        orders = [
            rest.place_order("KRW-BTC", "bid", "limit", price=50_000_000, volume=0.001,
                             identifier="cli-orders-btc-bid"),
            rest.place_order("KRW-BTC", "ask", "limit", price=300_000_000, volume="0.0005"),
            rest.place_order("KRW-ETH", "bid", "limit", price=1_000_000, volume=0.01),
        ]
        closed = rest.place_order("KRW-ETH", "bid", "limit", price=1_100_000, volume=0.01)
        rest.cancel_order(uuid=closed.uuid)
        yield Placed(server, orders, closed)


@pytest.fixture(scope="module")
def runs(placed: Placed) -> Iterator[dict[str, Run]]:
    nowhere = _closed_port()
    started = {
        "ndjson": Run(CLI, env=placed.env),
        "market": Run([*CLI, "--market", "KRW-ETH"], env=placed.env),
        "table": Run([*CLI, "--table"], env=placed.env),
        "table none": Run([*CLI, "--table", "--market", "KRW-XRP"], env=placed.env),
        "no keys": Run(CLI, env={"UPBIT_REST_URL": placed.server.rest_url}),
        "bad market": Run([*CLI, "--market", "krw-btc"], env=placed.env),
        "wrong secret": Run(CLI, env={**placed.env, "UPBIT_SECRET_KEY": "not-the-secret"}),
        "unreachable": Run(CLI, env={**placed.env, "UPBIT_REST_URL": f"http://127.0.0.1:{nowhere}"}),
        "fake": Run([*CLI, "--fake", "--table"]),
    }
    yield started
    for run in started.values():
        run.kill()


def _lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def test_orders_prints_each_open_order_as_one_json_object_with_upbits_fields(runs: dict[str, Run],
                                                                           placed: Placed) -> None:
    rows = _lines(runs["ndjson"].clean_exit())
    assert sorted(row["uuid"] for row in rows) == sorted(o.uuid for o in placed.orders)
    assert placed.closed.uuid not in {row["uuid"] for row in rows}, "a cancelled order was listed"
    for row in rows:
        assert row["state"] == "wait"
        assert {"market", "side", "ord_type", "price", "volume", "remaining_volume", "executed_volume",
                "created_at", "locked", "paid_fee"} <= set(row), row
    by_identifier = {row.get("identifier"): row for row in rows}
    mine = by_identifier["cli-orders-btc-bid"]
    assert (mine["market"], mine["side"], mine["ord_type"]) == ("KRW-BTC", "bid", "limit")


def test_orders_gives_figures_as_upbits_decimal_text(runs: dict[str, Run]) -> None:
    rows = _lines(runs["ndjson"].clean_exit())
    for row in rows:
        for name in ("price", "volume", "remaining_volume", "executed_volume", "locked", "paid_fee"):
            assert isinstance(row[name], str) and re.fullmatch(r"\d+(\.\d+)?", row[name]), (name, row)
    ask = next(row for row in rows if row["side"] == "ask")
    assert float(ask["volume"]) == 0.0005 and "e" not in ask["volume"], ask


def test_orders_of_one_market_lists_that_market_only(runs: dict[str, Run], placed: Placed) -> None:
    rows = _lines(runs["market"].clean_exit())
    assert [row["uuid"] for row in rows] == [o.uuid for o in placed.orders if o.market == "KRW-ETH"]


def test_orders_as_a_table_shows_a_row_per_order_and_a_count(runs: dict[str, Run], placed: Placed) -> None:
    lines = runs["table"].clean_exit().splitlines()
    assert re.match(r"^market +side +type +state +price +volume +remaining +executed +created at", lines[0])
    for order in placed.orders:
        row = next(line for line in lines if line.rstrip().endswith(order.uuid))
        assert row.startswith(order.market) and f" {order.side} " in row and " wait " in row, row
    assert re.search(r"\b50,000,000\b", "\n".join(lines)), "the price has no thousands separators"
    assert lines[-1] == "3 open orders"


def test_orders_of_a_market_without_any_says_so(runs: dict[str, Run]) -> None:
    assert runs["table none"].clean_exit().splitlines()[-1] == "0 open orders in KRW-XRP"


def test_orders_against_the_embedded_fake_exchange_lists_none(runs: dict[str, Run]) -> None:
    assert runs["fake"].clean_exit().splitlines()[-1] == "0 open orders"


def test_orders_without_keys_exits_2_naming_the_variables(runs: dict[str, Run]) -> None:
    line = runs["no keys"].one_line_error(2)
    assert "UPBIT_ACCESS_KEY" in line and "UPBIT_SECRET_KEY" in line, line
    assert runs["no keys"].result()[1] == ""


def test_orders_with_a_malformed_market_exits_2_before_asking(runs: dict[str, Run]) -> None:
    line = runs["bad market"].one_line_error(2)
    assert line == "upbit-sync orders: error: market code 'krw-btc' must be uppercase: 'KRW-BTC'"


@pytest.mark.parametrize("name", ["wrong secret", "unreachable"])
def test_orders_refused_or_unreachable_fails_in_one_line_with_exit_1(runs: dict[str, Run], name: str) -> None:
    line = runs[name].one_line_error(1)
    assert line.startswith("upbit-sync orders: error: "), line
    assert "not-the-secret" not in line and TEST_SECRET_KEY not in line


def test_orders_help_shows_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["orders", "--help"])
    assert stopped.value.code == 0
    help_text = capsys.readouterr().out
    assert "\nexamples:\n" in help_text and "  upbit-sync orders --market KRW-BTC --table" in help_text


def test_an_order_without_its_json_is_spelled_with_upbits_names_and_decimal_text() -> None:
    from decimal import Decimal

    from upbit_sync.cli.orders import wire_fields

    order = us.Order(uuid="u-1", market="KRW-BTC", side="bid", ord_type="limit", state="wait",
                     price=1e-05, volume=Decimal("0.00100000"), remaining_volume=0.001, executed_volume=0.0,
                     trades_count=0, paid_fee=0.0, locked=Decimal("50025"),
                     created_at="2026-12-05T10:00:00+09:00", identifier="x")
    spelled = wire_fields(order)
    assert spelled["price"] == "0.00001" and spelled["volume"] == "0.00100000", spelled
    assert spelled["executed_volume"] == "0.0" and spelled["trades_count"] == 0, spelled
    assert "raw" not in spelled and "trades" not in spelled and "reserved_fee" not in spelled, spelled
