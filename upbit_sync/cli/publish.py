"""``upbit-sync publish``: public types written into Redis Streams for many consumers
(``WebSocketClient(feed=...)``), until Ctrl-C, SIGTERM or --seconds."""

from __future__ import annotations

import argparse
import contextlib
import sys

from ..errors import ConfigError, UpbitError
from ..feed_entries import DEFAULT_PREFIX
from ..manager import WebSocketManager
from ..protocol import PUBLIC, make_spec
from ..publisher import Publisher
from ..rest import RestClient
from .exchange import check_listed, check_subscription, exchange_config, market_codes, quoted
from .failure import Failure, usage
from .feed import Watch, deadline, left, running
from .parser import CommandLine, positive

_HELP = """\
Subscribe public types (comma-separated) for some markets and write every message into Redis Streams:
one stream per type, <prefix>:<type>, capped by MAXLEN ~ --maxlen, and the lifecycle events
(Reconnected, DataLoss...) into <prefix>:events, all under one increasing id sequence. Consumers read
it with the same API as a socket: WebSocketClient(feed="redis://host/0"), with group= to resume after
a restart. A Redis outage is told on stderr and the messages it cost are published as a DataLoss once
Redis answers again. Exit 0 after --seconds, 1 when it cannot connect, 2 for a bad argument, 130/143 on
Ctrl-C/SIGTERM (what is queued is written first)."""

_EXAMPLES = """\
examples:
  upbit-sync publish --to redis://127.0.0.1:6379/0 trade,orderbook KRW-BTC KRW-ETH
  upbit-sync publish --to redis://cache:6379/0 ticker --all-markets KRW --maxlen 1000000
  upbit-sync publish --to redis://127.0.0.1:6379/0 trade KRW-BTC --fake --seconds 10"""


def register(cli: CommandLine) -> None:
    publish = cli.add("publish", "write public types into Redis Streams for many consumers", _HELP,
                      _EXAMPLES)
    publish.add_argument("types", metavar="TYPE[,TYPE...]", help="e.g. trade or trade,orderbook,ticker")
    publish.add_argument("codes", metavar="CODE", nargs="*", help="market codes (or --all-markets)")
    publish.add_argument("--to", required=True, metavar="URL", help="the Redis server, redis://host:port/db")
    publish.add_argument("--all-markets", metavar="QUOTE", help="every market quoted in QUOTE, e.g. KRW")
    publish.add_argument("--maxlen", type=int, default=100_000, help="entries kept per stream (about)")
    publish.add_argument("--prefix", default=DEFAULT_PREFIX, help=f"stream names' prefix ({DEFAULT_PREFIX})")
    publish.add_argument("--fake", action="store_true", help="against an embedded fake exchange")
    publish.add_argument("--seconds", type=positive, help="stop after this long (default: until Ctrl-C)")
    publish.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    kinds = list(dict.fromkeys(k.strip() for k in args.types.split(",") if k.strip()))
    wanted = market_codes(args.codes)
    if not kinds:
        raise usage("name at least one type, e.g. trade or ticker,orderbook")
    if args.all_markets and wanted:
        raise usage("give market codes or --all-markets, not both")
    if not args.all_markets and not wanted:
        raise usage("give market codes or --all-markets QUOTE")
    for kind in kinds:
        check_subscription(kind, wanted or ["KRW-BTC"])
        if make_spec(kind, wanted or ["KRW-BTC"]).endpoint != PUBLIC:
            raise usage(f"a feed publishes the public types only, not {kind}")
    with contextlib.ExitStack() as stack:
        config = exchange_config(args, stack)
        with RestClient(config) as rest:
            if args.all_markets:
                wanted = quoted(rest, args.all_markets.upper())
            else:
                check_listed(rest, wanted)
        watch = Watch()
        manager = stack.enter_context(WebSocketManager(config))
        try:
            publisher = Publisher(args.to, kinds, wanted, maxlen=args.maxlen, prefix=args.prefix,
                                  manager=manager, on_error=watch.on_error, on_event=watch.on_event)
        except ConfigError as exc:
            raise usage(str(exc)) from None
        except UpbitError as exc:
            raise Failure(str(exc)) from None
        stack.callback(publisher.close)
        publisher.start()
        ends = deadline(args.seconds)
        while running(ends):
            for line in watch.lines(left(ends)):
                print(f"upbit-sync publish: {line}", file=sys.stderr, flush=True)
            watch.check()
    return 0
