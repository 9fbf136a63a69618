"""``upbit-sync record``: types and markets recorded into rotating NDJSON or Parquet files, gaps marked,
a status line on stderr."""

from __future__ import annotations

import argparse
import contextlib
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..client import WebSocketClient
from ..errors import ConfigError, InvalidRequestError, UpbitError
from ..listings import DEFAULT_INTERVAL, MarketFollow, check_interval
from ..manager import WebSocketManager
from ..protocol import PRIVATE_TYPES
from ..recording import COMPRESSIONS, FORMATS, Recorder, RecorderStats, RecordingError, parse_period
from ..rest import RestClient
from ..types import Event, MarketDelisted, MarketListed
from .drawing import status_line
from .exchange import (
    check_keys,
    check_listed,
    check_subscription,
    exchange_config,
    market_codes,
    quoted,
    subscribe,
)
from .failure import Failure, usage
from .feed import Watch, deadline, left, running
from .parser import CommandLine, amount, depth, positive
from .signals import held

_HELP = """\
Record one or more types (comma-separated) for some markets into DIR/<type>/<period>.ndjson.gz: one
message per line (DEFAULT keys plus received_at), UTC periods of --rotate (files named YYYYMMDD-HH, or
YYYYMMDD-HHMM for periods under an hour), closed with flush and fsync at each rotation and at the end.
Gaps are marked in the same files by index lines:
  {"_event": "Reconnected", "connection": ..., "downtime_s": ..., "trades_may_be_missing": ..., "at": ...}
  {"_event": "DataLoss", "connection": ..., "type": ..., "code": ..., "dropped": n, "policy": ...,
   "reason": ..., "at": ...}
With --all-markets QUOTE --follow the market list is read again every --follow-interval seconds:
markets listed meanwhile are recorded too, delisted ones dropped, each marked in the type's file:
  {"_event": "MarketListed", "connection": ..., "type": ..., "market": ..., "quote": ...,
   "korean_name": ..., "english_name": ..., "at": ...}   (and "MarketDelisted", the same fields)
Trades are subscribed with backfill: trades missed in a reconnect are fetched over REST and recorded
(stream_type BACKFILL). --format parquet writes DIR/<type>/<period>.parquet instead (needs pyarrow:
pip install 'upbit-sync[parquet]'): typed columns, orderbook units as a list column, zstd; the open
period's rows are spooled beside it (<period>.spool-<id>.arrows, flushed every second, so a kill loses
at most that second) and become the .parquet at each rotation and at the end; the next run finishes
the spools of one killed; gaps go to <period>.index.ndjson beside it. Read either format with
upbit_sync.read_recording(DIR). A progress line goes to stderr. Record into a folder of your own, not a shared
one such as /tmp: a symbolic link where a file or type folder goes is refused, and myOrder/myAsset
files are made readable by you alone (0600, in 0700 folders). Exit 0 after --seconds, 1 when it cannot
connect or write, 2 for a bad argument, 130/143 on Ctrl-C/SIGTERM (the files are finished first)."""

_EXAMPLES = """\
examples:
  upbit-sync record trade,orderbook KRW-BTC KRW-ETH --out data/
  upbit-sync record ticker --all-markets KRW --out data/ --rotate 15m
  upbit-sync record trade --all-markets KRW --follow --out data/   # new listings recorded too
  upbit-sync record trade,orderbook --all-markets KRW --out data/ --format parquet
  upbit-sync record trade KRW-BTC --out ~/upbit-recordings --fake --seconds 10
  upbit-sync replay data/ --speed max        # play it back to a bot"""


def register(cli: CommandLine) -> None:
    record = cli.add("record", "record types into rotating NDJSON or Parquet files, gaps marked", _HELP,
                     _EXAMPLES)
    record.add_argument("types", metavar="TYPE[,TYPE...]", help="e.g. trade or trade,orderbook,ticker")
    record.add_argument("codes", metavar="CODE", nargs="*", help="market codes (or --all-markets)")
    record.add_argument("--out", required=True, metavar="DIR", help="the recording's directory")
    record.add_argument("--rotate", type=_period, default=3_600, metavar="PERIOD",
                        help="a new file per type every PERIOD, e.g. 15m, 1h (default), 1d")
    record.add_argument("--format", choices=FORMATS, default="ndjson", dest="file_format",
                        help="ndjson (default) or parquet (needs pyarrow)")
    record.add_argument("--compress", choices=COMPRESSIONS, default="gzip",
                        help="NDJSON files: gzip (default) or none")
    record.add_argument("--all-markets", metavar="QUOTE", help="every market quoted in QUOTE, e.g. KRW")
    record.add_argument("--follow", action="store_true",
                        help="with --all-markets: record markets listed while it runs, drop delisted ones")
    record.add_argument("--follow-interval", type=positive, default=DEFAULT_INTERVAL, metavar="SECONDS",
                        help=f"seconds between reads of the market list with --follow "
                             f"(default {DEFAULT_INTERVAL:g})")
    record.add_argument("--depth", type=depth, help="orderbook units: 1, 5, 15 or 30")
    record.add_argument("--fake", action="store_true", help="against an embedded fake exchange")
    record.add_argument("--seconds", type=positive, help="stop after this long (default: until Ctrl-C)")
    record.add_argument("--progress", type=amount, default=1.0, metavar="SECONDS",
                        help="seconds between progress lines on stderr (default 1; 0: none)")
    record.set_defaults(run=run)


def _period(text: str) -> int:
    try:
        return parse_period(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _Progress:
    """``record``'s status line on stderr, at most once per ``interval`` seconds (0: none): redrawn in
    place on a terminal (rich), one line each time elsewhere (a log). Event lines go above it."""

    def __init__(self, recorder: Recorder, interval: float) -> None:
        self.recorder = recorder
        self.interval = interval
        self.status = status_line()
        self._last = (time.monotonic(), 0)  # when the last line was drawn, and the count then

    def tick(self) -> None:
        now = time.monotonic()
        if not self.interval:
            return
        if now - self._last[0] < self.interval:
            self.status.pulse()
            return
        stats = self.recorder.stats
        rate = (stats.messages - self._last[1]) / max(now - self._last[0], 1e-9)
        self._last = (now, stats.messages)
        current = self._relative(stats.current) if stats.current else "no file yet"
        self.status.show(f"record: {stats.messages:,} messages ({rate:,.1f}/s), {stats.gaps} gap(s) "
                         f"({stats.reconnects} reconnect(s), {stats.dropped:,} lost), writing {current}")

    def say(self, line: str) -> None:
        self.status.say(f"upbit-sync record: {line}")

    def finish(self, stats: RecorderStats) -> None:
        self.status.close()
        self.status.say(f"record: {stats.messages:,} messages in {len(stats.files)} file(s) under "
                        f"{self.recorder.directory}; {stats.reconnects} reconnect(s), {stats.dropped:,} "
                        "message(s) lost")

    def close(self) -> None:
        self.status.close()

    def _relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.recorder.directory))
        except ValueError:
            return str(path)


def _types(text: str) -> list[str]:
    kinds = list(dict.fromkeys(kind.strip() for kind in text.split(",") if kind.strip()))
    if not kinds:
        raise usage("name at least one type, e.g. trade or ticker,orderbook")
    return kinds


def _plan(args: argparse.Namespace) -> tuple[list[str], list[str], dict[str, dict[str, Any]]]:
    """The types, the codes and each type's subscription options, checked before anything starts."""
    kinds, wanted = _types(args.types), market_codes(args.codes)
    if args.all_markets and wanted:
        raise usage("give market codes or --all-markets, not both")
    if args.follow and not args.all_markets:
        raise usage("--follow follows the listing of --all-markets QUOTE: give --all-markets")
    if args.follow_interval != DEFAULT_INTERVAL and not args.follow:
        raise usage("--follow-interval applies with --follow")
    if args.follow:
        try:
            check_interval(args.follow_interval)
        except InvalidRequestError as exc:
            raise usage(f"--follow-interval: {exc}") from None
    if args.depth is not None and "orderbook" not in kinds:
        raise usage("--depth applies to orderbook, which is not among the types")
    plans: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        options: dict[str, Any] = {"overflow": "block"}  # the recorder waits rather than drop
        if kind == "trade":
            options["backfill"] = True  # trades missed in a reconnect are fetched over REST
        if kind == "orderbook" and args.depth is not None:
            options["depth"] = args.depth
        if args.all_markets and kind in PRIVATE_TYPES:
            raise usage(f"--all-markets applies to the public types, not to {kind}")
        own = None if kind == "myAsset" else (wanted or None)  # myAsset covers the whole account
        placeholder = ["KRW-BTC"] if args.all_markets else own
        check_subscription(kind, placeholder, **{k: v for k, v in options.items() if k == "depth"})
        plans[kind] = options
    return kinds, wanted, plans


def run(args: argparse.Namespace) -> int:
    kinds, wanted, plans = _plan(args)
    quote = args.all_markets.upper() if args.all_markets else None
    try:
        recorder = Recorder(args.out, kinds, period=args.rotate, compress=args.compress,
                            format=args.file_format, on_error=_left_to_main)
    except (ConfigError, RecordingError) as exc:  # --format parquet without pyarrow
        raise usage(str(exc)) from None
    progress = _Progress(recorder, args.progress)
    with contextlib.ExitStack() as stack:
        stack.callback(progress.close)  # the terminal as it was, whatever ends the command
        config = exchange_config(args, stack)
        check_keys(config, kinds)
        with RestClient(config) as rest:
            if quote is not None:
                wanted = quoted(rest, quote)
            else:
                check_listed(rest, wanted)
        try:
            recorder.start()
        except RecordingError as exc:  # "cannot record into DIR: why"
            raise Failure(str(exc)) from None
        # unwound after the client and the manager: no callback is left to hand a line over
        stack.push(functools.partial(_finish_recording, recorder, progress))
        watch = Watch(on_gap=recorder.event)
        manager = stack.enter_context(WebSocketManager(config))
        client = stack.enter_context(WebSocketClient(
            manager, on_error=watch.on_error,
            on_event=functools.partial(_on_event, recorder, watch) if args.follow else watch.on_event))
        for kind in kinds:
            own = None if kind == "myAsset" else (wanted or None)
            if args.follow:
                _follow(client, kind, quote, args.follow_interval, recorder, plans[kind])
            else:
                subscribe(client, kind, own, functools.partial(recorder.message, kind), **plans[kind])
        ends = deadline(args.seconds)  # --seconds count from the subscriptions
        while running(ends):
            for line in watch.lines(left(ends)):
                progress.say(line)
            watch.check()
            if recorder.failure is not None:
                raise Failure(f"cannot write the recording: {recorder.failure}")
            if watch.connected.is_set():  # while it connects there is nothing to count
                progress.tick()
    if recorder.failure is not None:
        raise Failure(f"cannot finish the recording: {recorder.failure}")
    return 0


def _follow(client: WebSocketClient, kind: str, quote: str | None, interval: float, recorder: Recorder,
            options: dict[str, Any]) -> MarketFollow:
    """Every market of ``quote`` for ``kind``, listings followed (closed with the client)."""
    assert quote is not None  # --follow needs --all-markets (_plan)
    follow: Callable[..., MarketFollow] = client.subscribe_markets  # kind: a public type (_plan)
    try:
        return follow(kind, quote=quote, callback=functools.partial(recorder.message, kind), follow=True,
                      interval=interval, raw=True, **options)
    except InvalidRequestError as exc:
        raise usage(str(exc)) from None
    except UpbitError as exc:  # the market list could not be read
        raise Failure(f"cannot follow the {quote} markets: {exc}") from None


def _on_event(recorder: Recorder, watch: Watch, event: Event) -> None:
    """The client's events with ``--follow``: a listing change into the index, and its line shown."""
    if isinstance(event, (MarketListed, MarketDelisted)):
        recorder.event(event)
    watch.on_event(event)


def _left_to_main(error: RecordingError) -> None:
    """The recorder's on_error: the main loop tells ``recorder.failure`` as the command's one-line
    error (a recorder without a callback would log it too: a second line)."""


def _finish_recording(recorder: Recorder, progress: _Progress, kind: type[BaseException] | None,
                      error: BaseException | None, traceback: object) -> bool:
    """Write what is queued and finish every file, whatever ended the command (an ExitStack exit
    callback); then the summary, unless a failure ended it before anything was recorded (its own line
    says all)."""
    with held():
        recorder.close()
        stats = recorder.stats
        if not isinstance(error, Failure) or stats.messages or stats.gaps:
            progress.finish(stats)
    return False
