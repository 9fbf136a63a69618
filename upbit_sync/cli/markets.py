"""``upbit-sync markets``: the markets the exchange lists, as a plain table or NDJSON."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

from ..errors import UpbitError
from ..rest import RestClient
from .exchange import exchange_config
from .failure import Failure
from .parser import CommandLine
from .text import table

_HELP = """\
List the markets the exchange lists (GET /v1/market/all) as a table or NDJSON (Upbit's own fields).
Exit 1 when the exchange cannot be reached or lists nothing in --quote."""

_EXAMPLES = """\
examples:
  upbit-sync markets --quote KRW
  upbit-sync markets --details --format ndjson | jq -r 'select(.market_event.warning) | .market'
  upbit-sync markets --fake --quote BTC"""


def register(cli: CommandLine) -> None:
    markets = cli.add("markets", "list the exchange's markets", _HELP, _EXAMPLES)
    markets.add_argument("--quote", metavar="QUOTE", help="only markets quoted in QUOTE, e.g. KRW")
    markets.add_argument("--details", action="store_true", help="with investment warnings and cautions")
    markets.add_argument("--fake", action="store_true", help="the embedded fake exchange's markets")
    markets.add_argument("--format", choices=("table", "ndjson"), default="table",
                         help="table (default) or ndjson")
    markets.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    quote = args.quote.upper() if args.quote else None
    with contextlib.ExitStack() as stack:
        config = exchange_config(args, stack)
        rest = stack.enter_context(RestClient(config))
        try:
            every = rest.markets(details=args.details)
        except UpbitError as exc:
            raise Failure(str(exc)) from None
    found = [market for market in every if quote is None or market.quote == quote]
    if not found:
        quotes = ", ".join(sorted({market.quote for market in every})) or "none"
        raise Failure(f"the exchange lists no market quoted in {args.quote!r} (quotes: {quotes})")
    if args.format == "ndjson":
        sys.stdout.write("".join(json.dumps(m.raw, ensure_ascii=False, separators=(",", ":")) + "\n"
                                 for m in found))
        sys.stdout.flush()
        return 0
    headers = ["market", "english name", "korean name"]
    rows = [[m.market, m.english_name, m.korean_name] for m in found]
    if args.details:
        headers += ["warning", "caution"]
        for row, market in zip(rows, found, strict=True):
            row += ["yes" if market.warning else "-", ", ".join(market.caution) or "-"]
    lines = table(headers, rows)
    lines.append(f"{len(found)} market{'s' if len(found) != 1 else ''}")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    return 0
