"""The ``upbit-sync`` command: ``demo`` (against the embedded fake exchange) and ``fake-server``."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from . import __version__, protocol
from .config import Config
from .manager import ManagerListener, WebSocketManager
from .types import Event, Reconnected

DEMO_MARKETS = ("KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL")


def _need_testing_extra() -> None:
    print("the fake exchange needs the 'testing' extra: pip install 'upbit-sync[testing]'",
          file=sys.stderr)


def _fake_server(args: argparse.Namespace) -> int:
    try:
        from .testing import FakeUpbitServer
    except ImportError:
        _need_testing_extra()
        return 2
    with FakeUpbitServer(host="127.0.0.1", port=args.port) as server:
        print(f"fake Upbit exchange on {server.public_url} (private: {server.private_url})")
        print("Ctrl-C to stop")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping")
    return 0


class _DemoView(ManagerListener):
    """Keeps the latest ticker and orderbook per market and counts what arrives."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tickers: dict[str, dict[str, Any]] = {}
        self.books: dict[str, dict[str, Any]] = {}
        self.trades = 0
        self.events: list[Event] = []
        self.reconnected = threading.Event()

    def on_messages(self, connection: str, items: list[dict[str, Any]]) -> None:
        with self.lock:
            for item in items:
                kind = item.get("type")
                if kind == "ticker":
                    self.tickers[item["code"]] = item
                elif kind == "orderbook":
                    self.books[item["code"]] = item
                elif kind == "trade":
                    self.trades += 1

    def on_event(self, event: Event) -> None:
        with self.lock:
            self.events.append(event)
        print(f"  event: {event}")
        if isinstance(event, Reconnected):
            self.reconnected.set()

    def render(self) -> str:
        with self.lock:
            lines = [f"  {'market':<9} {'price':>14} {'change':>8} {'spread':>10}"]
            for code in DEMO_MARKETS:
                ticker, book = self.tickers.get(code), self.books.get(code)
                if ticker is None:
                    continue
                spread = "-"
                if book and book.get("orderbook_units"):
                    best = book["orderbook_units"][0]
                    spread = f"{best['ask_price'] - best['bid_price']:,.0f}"
                lines.append(
                    f"  {code:<9} {ticker['trade_price']:>14,.0f} "
                    f"{ticker['signed_change_rate'] * 100:>7.2f}% {spread:>10}"
                )
            lines.append(f"  trades seen: {self.trades}")
        return "\n".join(lines)


def _demo(args: argparse.Namespace) -> int:
    try:
        from .testing import FakeUpbitServer
    except ImportError:
        _need_testing_extra()
        return 2
    seconds = max(4.0, float(args.seconds))
    with FakeUpbitServer(message_rate=args.rate) as server:
        config = Config(public_url=server.public_url, private_url=server.private_url,
                        health_check_interval=2.0, stale_after=5.0)
        view = _DemoView()
        manager = WebSocketManager(config)
        manager.add_listener(view)
        print(f"upbit-sync {__version__} demo against the embedded fake exchange {server.public_url}")
        with manager:
            manager.set_wanted("public", [
                protocol.make_spec("ticker", DEMO_MARKETS),
                protocol.make_spec("trade", DEMO_MARKETS),
                protocol.make_spec("orderbook", DEMO_MARKETS, depth=5),
            ])
            started = time.monotonic()
            dropped = False
            while time.monotonic() - started < seconds:
                time.sleep(1.0)
                print(view.render())
                if not dropped and time.monotonic() - started >= seconds / 2:
                    dropped = True
                    print("  >>> the exchange drops every connection (abrupt TCP close)")
                    server.drop_all()
                    if view.reconnected.wait(5.0):
                        print("  <<< recovered: subscriptions restored, fresh snapshots arriving")
            health = manager.health()
        print("health summary:")
        for name, conn in health["connections"].items():
            print(f"  {name}: state={conn['state']} reconnects={conn['reconnects']} "
                  f"messages={conn['messages']} requests_sent={conn['requests_sent']} "
                  f"bad_frames={conn['bad_frames']}")
        print(f"  healthy while running: {health['healthy']}")
    return 0 if health["healthy"] else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="upbit-sync", description=__doc__)
    parser.add_argument("--version", action="version", version=f"upbit-sync {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="live view of the fake exchange, with a drop and recovery")
    demo.add_argument("--seconds", type=float, default=10.0, help="how long to run (default 10)")
    demo.add_argument("--rate", type=float, default=5.0, help="messages/s per stream (default 5)")
    demo.set_defaults(run=_demo)
    fake = commands.add_parser("fake-server", help="run the fake Upbit exchange until Ctrl-C")
    fake.add_argument("--port", type=int, default=8765)
    fake.set_defaults(run=_fake_server)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    result: int = args.run(args)
    return result
