"""Trades as a blocking iterator: ``for trade in client.stream(...)``, no callbacks at all.

``stream()`` yields typed ``Trade`` messages in arrival order; ``timeout`` bounds the wait for each
one (``TimeoutError`` if the market goes quiet that long). Leaving the loop, by ``break`` or by an
exception, cancels the subscription behind it.

    python examples/trade_iterator.py --fake --seconds 5
    python examples/trade_iterator.py KRW-BTC KRW-SOL           # against Upbit, until Ctrl-C
"""

from __future__ import annotations

import argparse
import contextlib
import time

import upbit_sync as us


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("markets", nargs="*", default=["KRW-BTC", "KRW-ETH"])
    parser.add_argument("--fake", action="store_true", help="use an in-process fake Upbit exchange")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        config = us.Config()                      # Upbit's real endpoints
        if args.fake:
            from upbit_sync.testing import FakeUpbitServer

            server = stack.enter_context(FakeUpbitServer())
            config = us.Config(public_url=server.public_url, private_url=server.private_url)

        manager = stack.enter_context(us.WebSocketManager(config))
        client = stack.enter_context(us.WebSocketClient(manager))

        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        volume: dict[str, float] = {}
        try:
            for trade in client.stream("trade", args.markets, timeout=30.0):
                volume[trade.code] = volume.get(trade.code, 0.0) + trade.trade_volume
                side = "buy " if trade.ask_bid == "BID" else "sell"
                print(f"#{trade.sequential_id} {trade.code:<9} {side} {trade.trade_volume:>12.8f} "
                      f"@ {trade.trade_price:>14,.10g}   ({trade.stream_type})")
                if deadline is not None and time.monotonic() >= deadline:
                    break                         # also cancels the trade subscription
        except TimeoutError:
            print("no trade for 30 s; is the market open?")
            return 1
        except KeyboardInterrupt:
            pass
        for code, total in sorted(volume.items()):
            print(f"traded volume {code}: {total:.8f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
