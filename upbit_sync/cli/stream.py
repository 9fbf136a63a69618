"""``upbit-sync stream``: one type's messages for some markets, as NDJSON or a live table."""

from __future__ import annotations

import argparse
import contextlib

from ..client import WebSocketClient
from ..manager import WebSocketManager
from .exchange import check_keys, check_listed, check_subscription, exchange_config, market_codes, subscribe
from .feed import Inbox, Watch, deadline, left, running
from .live_table import TableOutput
from .output import Ndjson
from .parser import CommandLine, depth, positive

_HELP = """\
Subscribe one type for some markets and print every message: NDJSON on stdout by default (one message
per line, Upbit's DEFAULT keys plus the SDK's received_at, flushed per line), or a table redrawn in
place. Events (disconnects, data loss) go to stderr. TYPE is ticker, trade, orderbook, candle.1s ...
candle.240m, myOrder or myAsset (these two need UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY).

Without --fake it connects where Config.from_env() says: Upbit, unless UPBIT_WS_URL, UPBIT_REST_URL...
point elsewhere. Exit 0 after --seconds or when stdout is closed (| head), 1 when it cannot connect or
the keys are refused, 2 for a bad type, code or option, 130/143 on Ctrl-C/SIGTERM."""

_EXAMPLES = """\
examples:
  upbit-sync stream ticker KRW-BTC KRW-ETH --fake --seconds 5
  upbit-sync stream trade KRW-BTC | jq -c '{price: .trade_price, side: .ask_bid}'
  upbit-sync stream orderbook KRW-BTC,KRW-ETH --depth 5 --format table
  upbit-sync stream candle.1m KRW-BTC --fake | head -3"""


def register(cli: CommandLine) -> None:
    stream = cli.add("stream", "print one type's messages as NDJSON or a live table", _HELP, _EXAMPLES)
    stream.add_argument("type", metavar="TYPE",
                        help="ticker, trade, orderbook, candle.1m, ..., myOrder, myAsset")
    stream.add_argument("codes", metavar="CODE", nargs="*",
                        help="market codes, e.g. KRW-BTC (or KRW-BTC,KRW-ETH)")
    stream.add_argument("--depth", type=depth, help="orderbook units: 1, 5, 15 or 30")
    stream.add_argument("--format", choices=("ndjson", "table"), default="ndjson",
                        help="ndjson (default) or a table redrawn in place")
    stream.add_argument("--fake", action="store_true", help="against an embedded fake exchange")
    stream.add_argument("--seconds", type=positive, help="stop after this long (default: until Ctrl-C)")
    stream.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    wanted = market_codes(args.codes)
    options = {} if args.depth is None else {"depth": args.depth}
    check_subscription(args.type, wanted or None, **options)
    title = f"upbit-sync stream {args.type} {' '.join(wanted)}".rstrip()
    output = Ndjson("stream") if args.format == "ndjson" else TableOutput(args.type, title)
    with contextlib.ExitStack() as stack:
        stack.callback(output.close)  # last of all on the way out: the terminal as it was
        config = exchange_config(args, stack)
        check_keys(config, [args.type])
        watch = Watch()
        manager = stack.enter_context(WebSocketManager(config))
        client = stack.enter_context(WebSocketClient(manager, on_error=watch.on_error,
                                                     on_event=watch.on_event))
        check_listed(client.rest, wanted)
        inbox = Inbox()
        stack.callback(inbox.close)  # first of all on the way out: no worker waits on a reader gone
        subscribe(client, args.type, wanted or None, inbox.put, **options)
        ends = deadline(args.seconds)  # --seconds count from the subscription
        while running(ends):
            output.write(inbox.take(left(ends)))
            for line in watch.lines():
                output.note(line)
            watch.check()
        output.finish()
    return 0
