"""An order book of a chosen depth, drawn once a second from the newest frame.

Every Upbit orderbook frame is the whole book, so the callback only keeps the newest one; the main
thread draws it. ``depth`` picks how many levels Upbit sends (1, 5, 15 or 30); ``level`` groups
prices (KRW markets only; 0 = no grouping).

    python examples/orderbook_depth.py --fake --seconds 3
    python examples/orderbook_depth.py KRW-ETH --depth 15        # against Upbit, until Ctrl-C

Ctrl-C or SIGTERM stops it cleanly (exit 130 or 143); a malformed market code, a depth Upbit does
not offer or a bad level exits 2 (the SDK checks them all before anything is sent).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from types import FrameType

import upbit_sync as us


class Interrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM, raised in the main thread: the with-block unwinds and stops the SDK."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum             # the shells' convention: 130 or 143


def interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


class LatestBook:
    """Holds the newest order book; written by a worker thread, read by the main thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._book: us.Orderbook | None = None
        self.frames = 0

    def on_book(self, book: us.Orderbook) -> None:
        with self._lock:
            self._book = book
            self.frames += 1

    def get(self) -> us.Orderbook | None:
        with self._lock:
            return self._book


def draw(book: us.Orderbook) -> str:
    units = book.units
    lines = [f"{book.code}, {len(units)} levels", f"      {'price':>16} {'size':>14}"]
    for unit in reversed(units):                      # asks, highest first
        lines.append(f"  ask {unit.ask_price:>16,.10g} {unit.ask_size:>14.6f}")
    for unit in units:                                # then bids, best first
        lines.append(f"  bid {unit.bid_price:>16,.10g} {unit.bid_size:>14.6f}")
    spread = units[0].ask_price - units[0].bid_price
    bid_share = book.total_bid_size / ((book.total_bid_size + book.total_ask_size) or 1.0)
    lines.append(f"spread {spread:,.10g}; bids hold {bid_share:.0%} of the book's size")
    return "\n".join(lines)


def say(text: str) -> None:
    """Print ``text`` and its newline in one write: Ctrl-C lands in this (the main) thread, and inside
    print() it could fall between the two and run the closing lines on into a cut one."""
    sys.stdout.write(f"{text}\n")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("market", nargs="?", default="KRW-BTC", help="default: KRW-BTC")
    parser.add_argument("--depth", type=int, default=5, help="levels: 1, 5, 15 or 30 (default 5)")
    parser.add_argument("--level", type=float, help="price grouping unit (KRW markets only)")
    parser.add_argument("--fake", action="store_true", help="use an in-process fake Upbit exchange")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, interrupt)        # Ctrl-C, and SIGTERM (kill, docker stop): same clean stop
    signal.signal(signal.SIGTERM, interrupt)

    status = 0
    latest = LatestBook()
    try:
        with contextlib.ExitStack() as stack:
            config = us.Config()                      # Upbit's real endpoints
            if args.fake:
                from upbit_sync.testing import FakeUpbitServer

                server = stack.enter_context(FakeUpbitServer())
                config = us.Config(public_url=server.public_url, private_url=server.private_url)

            manager = stack.enter_context(us.WebSocketManager(config))
            client = stack.enter_context(us.WebSocketClient(manager))
            client.subscribe("orderbook", [args.market], latest.on_book, depth=args.depth, level=args.level)

            deadline = None if args.seconds is None else time.monotonic() + args.seconds
            while deadline is None or time.monotonic() < deadline:
                time.sleep(1.0)
                book = latest.get()
                say(f"{draw(book) if book else 'waiting for the first order book ...'}\n")
    except us.SubscriptionError as error:             # e.g. depth 7: raised before anything is sent
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        status = stop.exit_code
    say(f"{latest.frames} order book frames received")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
