"""``upbit-sync orders``: the account's open orders (``wait`` and ``watch``), as NDJSON or a table."""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import fields
from decimal import Decimal
from typing import Any

from ..errors import InvalidRequestError, UpbitError
from ..protocol import market_codes
from ..record_format import json_line
from ..rest import RestClient
from ..types import Order
from .exchange import exchange_config
from .failure import Failure, usage
from .output import say
from .parser import CommandLine
from .text import number, table

_HELP = """\
List the account's open orders (GET /v1/orders/open, waiting and reserved, every page): one JSON object
per order with Upbit's field names and its figures as Upbit's own text, or a table with --table.
Needs API keys with the view_orders permission: UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY.
Exit 1 when the exchange cannot be reached or refuses the keys; 2 when no keys are set."""

_EXAMPLES = """\
examples:
  upbit-sync orders
  upbit-sync orders --market KRW-BTC --table
  upbit-sync orders | jq -r 'select(.side == "bid") | [.market, .price, .remaining_volume] | @tsv'
  UPBIT_REST_URL=http://127.0.0.1:8766 upbit-sync orders    # a fake exchange (upbit-sync fake-server)"""

# what the table shows, in order: (heading, Order field, right-aligned)
_COLUMNS = (
    ("market", "market", False),
    ("side", "side", False),
    ("type", "ord_type", False),
    ("state", "state", False),
    ("price", "price", True),
    ("volume", "volume", True),
    ("remaining", "remaining_volume", True),
    ("executed", "executed_volume", True),
    ("created at", "created_at", False),
    ("identifier", "identifier", False),
    ("uuid", "uuid", False),
)


def register(cli: CommandLine) -> None:
    orders = cli.add("orders", "list the account's open orders", _HELP, _EXAMPLES)
    orders.add_argument("--market", metavar="MARKET", help="only this market's orders, e.g. KRW-BTC")
    orders.add_argument("--table", action="store_true", help="a table instead of NDJSON")
    orders.add_argument("--fake", action="store_true",
                        help="the embedded fake exchange's open orders (with its test keys)")
    orders.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    market = None
    if args.market is not None:
        try:
            (market,) = market_codes([args.market])
        except InvalidRequestError as exc:
            raise usage(str(exc)) from None
    with contextlib.ExitStack() as stack:
        config = exchange_config(args, stack)
        if not config.has_keys:
            raise usage("listing orders needs API keys: set UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY "
                        "(or use --fake)")
        rest = stack.enter_context(RestClient(config))
        try:
            found = rest.open_orders(market=market)
        except InvalidRequestError as exc:
            raise usage(str(exc)) from None
        except UpbitError as exc:
            raise Failure(str(exc)) from None
    if args.table:
        cells = [[_cell(getattr(order, name)) for _, name, _ in _COLUMNS] for order in found]
        lines = table([heading for heading, _, _ in _COLUMNS], cells,
                      numeric=[right for _, _, right in _COLUMNS])
        where = f" in {market}" if market else ""
        lines.append(f"{len(found)} open order{'s' if len(found) != 1 else ''}{where}")
        say("\n".join(lines))
        return 0
    for order in found:
        say(json_line(wire_fields(order)))
    return 0


def wire_fields(order: Order) -> dict[str, Any]:
    """The order as Upbit wrote it (its own field names, figures as its decimal text); an order that
    came without its JSON (none should) is spelled from its fields the same way."""
    if order.raw:
        return order.raw
    spelled: dict[str, Any] = {}
    for field in fields(order):
        value = getattr(order, field.name)
        if field.name in ("raw", "trades") or value is None:
            continue
        spelled[field.name] = _text(value) if isinstance(value, (float, Decimal)) else value
    return spelled


def _text(value: float | Decimal) -> str:
    """A figure as Upbit's decimal text: never an exponent (``1e-05`` is ``0.00001``)."""
    return format(Decimal(repr(value)) if isinstance(value, float) else value, "f")


def _cell(value: Any) -> str:
    """A table cell: figures with thousands separators, a missing value as ``-``."""
    return number(float(value) if isinstance(value, Decimal) else value)
