"""One-off snapshots: the current state of some markets without keeping a subscription.

``client.snapshot()`` opens a short-lived connection, asks Upbit for snapshots only, and returns
``{code: message}`` as soon as every code has answered; a code Upbit does not list is simply missing
once ``timeout`` has passed. Good for a price check at startup or in a cron job; for a running view,
subscribe instead.

    python examples/snapshot.py --fake
    python examples/snapshot.py KRW-BTC KRW-DOGE --seconds 10    # against Upbit, once a second for 10 s

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


def show(client: us.WebSocketClient, markets: list[str]) -> None:
    tickers = client.snapshot("ticker", markets, timeout=5.0)
    books = client.snapshot("orderbook", markets, timeout=5.0)
    print(f"{'market':<10} {'price':>16} {'change':>8} {'best bid':>16} {'best ask':>16} {'24h volume':>16}")
    for code in markets:
        if code not in tickers or code not in books:
            print(f"{code:<10} (no such market)")
            continue
        ticker, best = tickers[code], books[code].units[0]
        print(f"{code:<10} {ticker.trade_price:>16,.10g} {ticker.signed_change_rate:>+8.2%} "
              f"{best.bid_price:>16,.10g} {best.ask_price:>16,.10g} {ticker.acc_trade_volume_24h:>16,.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("markets", nargs="*", default=["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL"],
                        help="default: KRW-BTC KRW-ETH KRW-XRP KRW-SOL")
    parser.add_argument("--fake", action="store_true", help="use an in-process fake Upbit exchange")
    parser.add_argument("--seconds", type=float,
                        help="take a snapshot every second for this long (default: just one)")
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
            client = stack.enter_context(us.WebSocketClient(manager))

            deadline = time.monotonic() + (args.seconds or 0.0)
            while True:
                show(client, args.markets)
                if time.monotonic() + 1.0 > deadline:
                    break
                time.sleep(1.0)
                print()
    except us.SubscriptionError as error:             # e.g. a malformed code: raised before anything is sent
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        status = stop.exit_code
    return status


if __name__ == "__main__":
    raise SystemExit(main())
