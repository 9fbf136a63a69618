"""Trades as a blocking iterator: ``for trade in client.stream(...)``, no callbacks at all.

``stream()`` yields typed ``Trade`` messages in arrival order; ``timeout`` bounds the wait for each
one (``TimeoutError`` if the market goes quiet that long). Leaving the loop, by ``break`` or by an
exception, cancels the subscription behind it.

    python examples/trade_iterator.py --fake --seconds 5
    python examples/trade_iterator.py KRW-BTC KRW-SOL           # against Upbit, until Ctrl-C

Ctrl-C or SIGTERM stops it cleanly (exit 130 or 143); a malformed market code exits 2.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
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


def say(text: str) -> None:
    """Print ``text`` and its newline in one write: Ctrl-C lands in this (the main) thread, and inside
    print() it could fall between the two and run the closing lines on into a cut one."""
    sys.stdout.write(f"{text}\n")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("markets", nargs="*", default=["KRW-BTC", "KRW-ETH"], help="default: KRW-BTC KRW-ETH")
    parser.add_argument("--fake", action="store_true", help="use an in-process fake Upbit exchange")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, interrupt)        # Ctrl-C, and SIGTERM (kill, docker stop): same clean stop
    signal.signal(signal.SIGTERM, interrupt)

    status = 0
    volume: dict[str, float] = {}
    try:
        with contextlib.ExitStack() as stack:
            config = us.Config()                      # Upbit's real endpoints
            if args.fake:
                from upbit_sync.testing import FakeUpbitServer

                server = stack.enter_context(FakeUpbitServer())
                config = us.Config(public_url=server.public_url, private_url=server.private_url)

            manager = stack.enter_context(us.WebSocketManager(config))
            client = stack.enter_context(us.WebSocketClient(manager))

            deadline = None if args.seconds is None else time.monotonic() + args.seconds
            for trade in client.stream("trade", args.markets, timeout=30.0):
                volume[trade.code] = volume.get(trade.code, 0.0) + trade.trade_volume
                side = "buy " if trade.ask_bid == "BID" else "sell"
                say(f"#{trade.sequential_id} {trade.code:<9} {side} {trade.trade_volume:>12.8f} "
                    f"@ {trade.trade_price:>14,.10g}   ({trade.stream_type})")
                if deadline is not None and time.monotonic() >= deadline:
                    break                             # also cancels the trade subscription
    except us.SubscriptionError as error:             # e.g. a malformed code: raised before anything is sent
        print(f"error: {error}", file=sys.stderr)
        return 2
    except TimeoutError:
        print("no trade for 30 s; is the market open?", file=sys.stderr)
        return 1
    except Interrupted as stop:
        status = stop.exit_code
    for code, total in sorted(volume.items()):
        say(f"traded volume {code}: {total:.8f}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
