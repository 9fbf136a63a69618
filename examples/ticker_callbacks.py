"""Ticker prices through a callback: the smallest useful upbit-sync program.

Subscribes to the ticker of a few KRW markets and prints each update as it arrives. The callback
runs on one of the SDK's worker threads, never on the socket thread, so a slow callback cannot stall
the connection; connection events (drops, reconnects) arrive at ``on_event``.

    python examples/ticker_callbacks.py --fake --seconds 5     # against the embedded fake exchange
    python examples/ticker_callbacks.py KRW-BTC KRW-DOGE        # against Upbit, until Ctrl-C

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

import upbit_sync as us

MARKETS = ["KRW-BTC", "KRW-ETH", "KRW-XRP"]

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


def on_ticker(ticker: us.Ticker) -> None:
    say(f"{ticker.code:<9} {ticker.trade_price:>16,.10g} KRW  "
        f"{ticker.signed_change_rate:+7.2%}  {ticker.change}")


def on_event(event: us.Event) -> None:
    say(f"event: {event}")


def on_error(error: BaseException) -> None:
    say(f"error: {error!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("markets", nargs="*", default=MARKETS, help=f"default: {' '.join(MARKETS)}")
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
            client = stack.enter_context(us.WebSocketClient(manager, on_error=on_error, on_event=on_event))
            client.subscribe("ticker", args.markets, on_ticker)

            deadline = None if args.seconds is None else time.monotonic() + args.seconds
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.1)
    except us.SubscriptionError as error:             # e.g. a malformed code: raised before anything is sent
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        status = stop.exit_code
    # Leaving the block closed the client, stopped the manager and the fake exchange, in that order.
    print("closed")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
