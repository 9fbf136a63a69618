"""``upbit-sync candles``: a market's candle history (RestClient.candles), oldest first, as NDJSON
(Upbit's own fields, one candle a line) or a plain table."""

from __future__ import annotations

import argparse
import contextlib
import sys

from ..errors import InvalidRequestError, UpbitError
from ..recording import json_line
from ..rest import RestClient
from ..rest.candles import UNITS
from ..types import CandleBar
from .exchange import exchange_config
from .failure import Failure, usage
from .parser import CommandLine
from .text import number, table

_HELP = """\
Print the last COUNT candles of MARKET before --to (default: up to now, the candle in progress
included), oldest first, each once: NDJSON lines with Upbit's fields (default) or a table. Past 200
the history is paged backwards. Exit 1 when the exchange cannot be reached, 2 on a bad argument."""

_EXAMPLES = f"""\
units: {", ".join(UNITS)}
examples:
  upbit-sync candles KRW-BTC 1m --count 450 > btc-1m.ndjson
  upbit-sync candles KRW-ETH 1d --count 30 --table
  upbit-sync candles KRW-BTC 5m --to 2025-06-24T00:00:00Z --fake"""


def _count(text: str) -> int:
    try:
        found = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if found < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {found}")
    return found


def register(cli: CommandLine) -> None:
    candles = cli.add("candles", "print a market's candle history", _HELP, _EXAMPLES)
    candles.add_argument("market", metavar="MARKET", help="a market code, e.g. KRW-BTC")
    candles.add_argument("unit", metavar="UNIT", choices=tuple(UNITS),
                         help="1s, 1m, 3m, 5m, 10m, 15m, 30m, 60m, 240m, 1d, 1w, 1M or 1y")
    candles.add_argument("--count", type=_count, default=200, metavar="N", help="how many (default 200)")
    candles.add_argument("--to", metavar="TIME",
                         help="only candles before this ISO time (exclusive; no zone: UTC)")
    candles.add_argument("--format", choices=("ndjson", "table"), default="ndjson",
                         help="ndjson (default) or table")
    candles.add_argument("--table", dest="format", action="store_const", const="table",
                         help="the same as --format table")
    candles.add_argument("--fake", action="store_true", help="the embedded fake exchange's candles")
    candles.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        config = exchange_config(args, stack)
        rest = stack.enter_context(RestClient(config))
        try:
            bars = rest.candles(args.market, args.unit, args.count, to=args.to)
        except InvalidRequestError as exc:
            raise usage(str(exc)) from None
        except UpbitError as exc:
            raise Failure(str(exc)) from None
    if args.format == "ndjson":
        sys.stdout.write("".join(json_line(bar.raw) + "\n" for bar in bars))
    else:
        sys.stdout.write("\n".join(_table(bars, args.market)) + "\n")
    sys.stdout.flush()
    return 0


def _table(bars: list[CandleBar], market: str) -> list[str]:
    headers = ["start (UTC)", "open", "high", "low", "close", "volume", "value"]
    rows = [[bar.candle_date_time_utc.replace("T", " "), *(number(value) for value in (
        bar.opening_price, bar.high_price, bar.low_price, bar.trade_price, bar.candle_acc_trade_volume,
        bar.candle_acc_trade_price))] for bar in bars]
    lines = table(headers, rows, numeric=[False] + [True] * 6)
    lines.append(f"{len(bars)} candle{'s' if len(bars) != 1 else ''} of {market}")
    return lines
