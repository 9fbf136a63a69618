"""``upbit-sync demo``: the SDK against the embedded fake exchange, as a live view of four markets; every
connection dropped halfway, the recovery timed, and a health summary at the end."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .._version import __version__
from ..client import WebSocketClient
from ..config import Config
from ..health import Health
from ..manager import WebSocketManager
from ..types import (
    Connected,
    DataLoss,
    Disconnected,
    Event,
    Orderbook,
    Reconnected,
    ServerError,
    Ticker,
    Trade,
)
from .drawing import Board, Screen, screen
from .exchange import NEED_TESTING
from .output import say
from .parser import CommandLine, amount
from .signals import Interrupted

if TYPE_CHECKING:
    from ..testing import FakeUpbitServer

DEMO_MARKETS = ("KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL")
_RECOVERY_WAIT = 5.0  # seconds the demo waits for data after the drop before calling it a failure
_HEADERS = ("market", "price", "change", "spread", "trades/s")
_WAITING = "waiting for data"


def register(cli: CommandLine) -> None:
    demo = cli.add("demo", "live view of the fake exchange, with a drop and recovery")
    demo.add_argument("--seconds", type=amount, default=10.0,
                      help="how long to run (default 10, at least 4)")
    demo.add_argument("--rate", type=amount, default=5.0, help="messages/s per stream (default 5)")
    demo.set_defaults(run=run)


class DemoView:
    """What the demo's callbacks saw: the newest ticker and book per market, trades, events."""

    def __init__(self, markets: Sequence[str], screen: Screen) -> None:
        self.markets = tuple(markets)
        self.screen = screen
        self.lock = threading.Lock()
        self.tickers: dict[str, Ticker] = {}
        self.books: dict[str, Orderbook] = {}
        self.trades_since_render: Counter[str] = Counter()
        self.delivered: Counter[str] = Counter()
        self.last_render = time.monotonic()
        self.first_data_after_reconnect: float | None = None
        self.reconnected = threading.Event()

    # -- callbacks (on the SDK's worker threads) -------------------------------------------------

    def on_ticker(self, ticker: Ticker) -> None:
        with self.lock:
            self.tickers[ticker.code] = ticker
            self._count(ticker.type)

    def on_orderbook(self, book: Orderbook) -> None:
        with self.lock:
            self.books[book.code] = book
            self._count(book.type)

    def on_trade(self, trade: Trade) -> None:
        with self.lock:
            self.trades_since_render[trade.code] += 1
            self._count(trade.type)

    def _count(self, kind: str) -> None:
        self.delivered[kind] += 1
        if self.first_data_after_reconnect is None and self.reconnected.is_set():
            self.first_data_after_reconnect = time.monotonic()

    def on_event(self, event: Event) -> None:
        self.screen.say(f"  {_describe(event)}")
        if isinstance(event, Reconnected):
            self.reconnected.set()

    def on_error(self, error: BaseException) -> None:
        self.screen.say(f"  !! error: {error!r}")

    # -- the view (on the main thread) -----------------------------------------------------------

    def board(self, elapsed: float) -> Board:
        """The markets now: price, change, best spread, and trades per second since the last board
        (a market with no ticker yet has a row of two cells: its code and "waiting for data")."""
        now = time.monotonic()
        with self.lock:
            interval = max(1e-3, now - self.last_render)
            self.last_render = now
            trades, self.trades_since_render = self.trades_since_render, Counter()
            rows = []
            for code in self.markets:
                ticker, book = self.tickers.get(code), self.books.get(code)
                if ticker is None:
                    rows.append([code, _WAITING])
                    continue
                spread = "-"
                if book is not None and book.units:
                    spread = f"{book.units[0].ask_price - book.units[0].bid_price:,.10g}"
                rows.append([code, f"{ticker.trade_price:,.10g}", f"{ticker.signed_change_rate:+.2%}", spread,
                             f"{trades[code] / interval:.1f}"])
        return Board(f"[{elapsed:4.1f} s]", _HEADERS, (False, True, True, True, True), rows)


def plain_lines(board: Board) -> list[str]:
    """The demo's board as plain lines: the table printed once a second when stdout is no terminal."""
    lines = [f"{board.title}  {'market':<9} {'price':>14} {'change':>8} {'spread':>10} {'trades/s':>9}"]
    for row in board.rows:
        if len(row) == 2:  # code, "waiting for data"
            lines.append(f"{'':9}{row[0]:<9} {row[1]:>14}")
            continue
        code, price, change, spread, rate = row
        lines.append(f"{'':9}{code:<9} {price:>14} {change:>8} {spread:>10} {rate:>9}")
    return lines


def _describe(event: Event) -> str:
    if isinstance(event, Connected):
        return f"event: Connected({event.connection}) to {event.url}"
    if isinstance(event, Disconnected):
        return f"event: Disconnected({event.connection}): {event.reason} (close code {event.code})"
    if isinstance(event, Reconnected):
        return (f"event: Reconnected({event.connection}) after {event.downtime_s * 1000:.0f} ms of downtime: "
                "subscriptions restored, fresh snapshots follow, trades in the gap are gone")
    if isinstance(event, DataLoss):
        return f"event: DataLoss: {event.dropped} {event.type} messages for {event.code} ({event.policy})"
    if isinstance(event, ServerError):
        return f"event: ServerError {event.name}: {event.message}"
    return f"event: {event}"


def _print_health(health: Health, view: DemoView) -> None:
    print("health summary (manager.health()):")
    for name, conn in health["connections"].items():
        shown = {"state": conn["state"], "reconnects": conn["reconnects"], "messages": conn["messages"],
                 "queue_depth": conn["queue_depth"], "drops": conn["drops"],
                 "requests_sent": conn["requests_sent"], "subscriptions": conn["subscriptions"],
                 "in_sync": conn["in_sync"]}
        print(f"  connection {name}: " + " ".join(f"{k}={v}" for k, v in shown.items()))
    print("  dispatcher: " + " ".join(f"{k}={v}" for k, v in health["dispatcher"].items()))
    with view.lock:
        delivered = dict(view.delivered)
    print(f"  delivered to the demo's callbacks: {sum(delivered.values())} "
          f"({', '.join(f'{kind} {n}' for kind, n in sorted(delivered.items()))})")
    print(f"  healthy: {health['healthy']}")


def run(args: argparse.Namespace) -> int:
    try:
        from ..testing import FakeUpbitServer
    except ImportError:
        print(NEED_TESTING, file=sys.stderr)
        return 2
    seconds = max(4.0, float(args.seconds))
    markets = list(DEMO_MARKETS)
    view = DemoView(markets, screen(plain_lines))
    try:
        with FakeUpbitServer(message_rate=args.rate) as server:
            config = Config(public_url=server.public_url, private_url=server.private_url,
                            health_check_interval=2.0, stale_after=5.0)
            print(f"upbit-sync {__version__} demo: the SDK against the embedded fake exchange at "
                  f"{server.public_url}")
            print(f"subscribing ticker, trade and orderbook (depth 5) for {', '.join(markets)}")
            with WebSocketManager(config) as manager, \
                    WebSocketClient(manager, on_error=view.on_error, on_event=view.on_event) as client:
                client.subscribe("ticker", markets, view.on_ticker)
                client.subscribe("trade", markets, view.on_trade)
                client.subscribe("orderbook", markets, view.on_orderbook, depth=5)
                try:
                    recovered = _run_view(server, view, seconds)
                finally:
                    view.screen.close()
                health = manager.health()
    except Interrupted as stop:
        say(f"demo stopped by {stop}: the client, the manager and the fake exchange are closed")
        return stop.exit_code
    _print_health(health, view)
    ok = recovered and health["healthy"]
    print("demo finished: " + ("recovered from the drop and healthy" if ok else "NOT healthy"))
    return 0 if ok else 1


def _run_view(server: FakeUpbitServer, view: DemoView, seconds: float) -> bool:
    """Show the view once a second and drop every connection halfway; True if the data came back."""
    started = time.monotonic()
    recovered = None
    for tick in range(1, int(seconds) + 1):
        time.sleep(max(0.0, started + tick - time.monotonic()))
        view.screen.show(view.board(time.monotonic() - started))
        if recovered is None and tick >= seconds / 2:
            recovered = _drop_and_recover(server, view)
    return bool(recovered)


def _drop_and_recover(server: FakeUpbitServer, view: DemoView) -> bool:
    view.screen.say(">>> the exchange drops every connection now (abrupt TCP close, no close frame)")
    dropped_at = time.monotonic()
    server.drop_all()
    deadline = dropped_at + _RECOVERY_WAIT
    while view.first_data_after_reconnect is None and time.monotonic() < deadline:
        time.sleep(0.005)
    back_at = view.first_data_after_reconnect
    if back_at is None:
        view.screen.say(f"<<< no data within {_RECOVERY_WAIT:.0f} s of the drop")
        return False
    took = (back_at - dropped_at) * 1000
    view.screen.say(f"<<< recovered: data flowing again {took:.0f} ms after the drop")
    return True
