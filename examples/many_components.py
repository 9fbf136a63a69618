"""Several independent components in one program, each with its own client, sharing one connection.

Each component asks only for what it needs and knows nothing of the others. Upbit replaces a
connection's whole subscription set on every request, so the SDK merges every client's wishes into
one request and routes each message to exactly the components that asked for it. Closing one
component removes only what nobody else still wants.

    python examples/many_components.py --fake --seconds 4
    python examples/many_components.py                           # against Upbit, until Ctrl-C
    python examples/many_components.py KRW-BTC KRW-DOGE KRW-ADA  # other markets, dealt as below

Ctrl-C or SIGTERM stops it cleanly (exit 130 or 143); a malformed market code exits 2.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from types import FrameType
from typing import Protocol

import upbit_sync as us

MARKETS = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL"]

_print_lock = threading.Lock()


class Interrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM, raised in the main thread: the with-block unwinds and stops the SDK."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum             # the shells' convention: 130 or 143


def interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def say(line: str) -> None:
    """Print one whole line. Callbacks run on several worker threads at once, so lines could mix."""
    with _print_lock:
        print(line, flush=True)


class Component(Protocol):
    """What every component here has: its own client, and a line saying how it is doing."""

    client: us.WebSocketClient

    def status(self) -> str: ...


class PriceBoard:
    """Keeps the last price of a few markets."""

    def __init__(self, manager: us.WebSocketManager, markets: list[str]) -> None:
        self._lock = threading.Lock()
        self.prices: dict[str, float] = {}
        self.client = us.WebSocketClient(manager)
        self.client.subscribe("ticker", markets, self.on_ticker)

    def on_ticker(self, ticker: us.Ticker) -> None:
        with self._lock:
            self.prices[ticker.code] = ticker.trade_price

    def status(self) -> str:
        with self._lock:
            return "  ".join(f"{code} {price:,.10g}" for code, price in sorted(self.prices.items()))


class MoveAlert:
    """Says when a market's price moved more than ``threshold`` since its last alert."""

    def __init__(self, manager: us.WebSocketManager, markets: list[str], threshold: float) -> None:
        self._lock = threading.Lock()
        self.threshold = threshold
        self.reference: dict[str, float] = {}
        self.alerts = 0
        self.client = us.WebSocketClient(manager)
        self.client.subscribe("ticker", markets, self.on_ticker)

    def on_ticker(self, ticker: us.Ticker) -> None:
        with self._lock:
            ref = self.reference.setdefault(ticker.code, ticker.trade_price)
            move = ticker.trade_price / ref - 1
            if abs(move) < self.threshold:
                return
            self.reference[ticker.code] = ticker.trade_price
            self.alerts += 1
        say(f"[move alert]  {ticker.code} moved {move:+.2%} to {ticker.trade_price:,.10g}")

    def status(self) -> str:
        with self._lock:
            return f"{self.alerts} alerts, watching {', '.join(sorted(self.reference))}"

    def close(self) -> None:
        self.client.close()


class TradeTape:
    """Counts trades and traded volume per market."""

    def __init__(self, manager: us.WebSocketManager, markets: list[str]) -> None:
        self._lock = threading.Lock()
        self.trades = 0
        self.volume: dict[str, float] = {}
        self.client = us.WebSocketClient(manager)
        self.client.subscribe("trade", markets, self.on_trade)

    def on_trade(self, trade: us.Trade) -> None:
        with self._lock:
            self.trades += 1
            self.volume[trade.code] = self.volume.get(trade.code, 0.0) + trade.trade_volume

    def status(self) -> str:
        with self._lock:
            volumes = "  ".join(f"{code} {vol:,.4f}" for code, vol in sorted(self.volume.items()))
            return f"{self.trades} trades  {volumes}"


class SpreadWatch:
    """Tracks the best bid/ask spread from a depth-1 order book."""

    def __init__(self, manager: us.WebSocketManager, markets: list[str]) -> None:
        self._lock = threading.Lock()
        self.spreads: dict[str, float] = {}
        self.client = us.WebSocketClient(manager)
        self.client.subscribe("orderbook", markets, self.on_book, depth=1)

    def on_book(self, book: us.Orderbook) -> None:
        best = book.units[0]
        with self._lock:
            self.spreads[book.code] = best.ask_price - best.bid_price

    def status(self) -> str:
        with self._lock:
            return "  ".join(f"{code} {s:,.10g}" for code, s in sorted(self.spreads.items()))


def pick(markets: list[str], *positions: int) -> list[str]:
    """The markets at ``positions``, wrapping round a shorter list, each once."""
    return list(dict.fromkeys(markets[i % len(markets)] for i in positions))


def print_merged(client: us.WebSocketClient) -> None:
    listing = client.list_subscriptions()
    lines = ["merged subscription (what the server says the shared connection carries):"]
    lines += [f"  {entry.type:<10} {', '.join(entry.codes)}" for entry in listing.result]
    say("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("markets", nargs="*", default=MARKETS,
                        help=f"the first is shared by every component (default: {' '.join(MARKETS)})")
    parser.add_argument("--fake", action="store_true", help="use an in-process fake Upbit exchange")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, interrupt)        # Ctrl-C, and SIGTERM (kill, docker stop): same clean stop
    signal.signal(signal.SIGTERM, interrupt)

    status = 0
    try:
        with contextlib.ExitStack() as stack:
            config = us.Config()                      # Upbit's real endpoints
            if args.fake:
                from upbit_sync.testing import FakeUpbitServer

                server = stack.enter_context(FakeUpbitServer())
                config = us.Config(public_url=server.public_url, private_url=server.private_url)
            manager = stack.enter_context(us.WebSocketManager(config))

            board_markets, alert_markets = pick(args.markets, 0, 1), pick(args.markets, 0, 3)
            board = PriceBoard(manager, board_markets)
            alert = MoveAlert(manager, alert_markets, threshold=0.001)   # overlaps on the first market
            tape = TradeTape(manager, pick(args.markets, 0, 2))
            spread = SpreadWatch(manager, board_markets)
            components: dict[str, Component] = {"price board": board, "move alert": alert,
                                                "trade tape": tape, "spread": spread}
            for component in components.values():
                stack.callback(component.client.close)     # before the manager stops

            started = time.monotonic()
            deadline = None if args.seconds is None else started + args.seconds
            half_time = started + (args.seconds / 2 if args.seconds is not None else 5.0)
            time.sleep(max(0.0, half_time - time.monotonic()))
            print_merged(board.client)
            gone = [code for code in alert_markets if code not in board_markets]
            kept = [code for code in alert_markets if code in board_markets]
            say(f"closing the move alert: {', '.join(gone) or 'no market'} leaves the ticker set, "
                f"{', '.join(kept)} {'stays' if len(kept) == 1 else 'stay'} for the board")
            alert.close()
            del components["move alert"]
            while deadline is None or time.monotonic() < deadline:
                time.sleep(1.0 if deadline is None else min(1.0, max(0.0, deadline - time.monotonic())))
                for name, component in components.items():
                    say(f"[{name}]  {component.status()}")
            print_merged(board.client)
    except us.SubscriptionError as error:             # e.g. a malformed code: raised before anything is sent
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        status = stop.exit_code
    return status


if __name__ == "__main__":
    raise SystemExit(main())
