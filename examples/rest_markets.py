"""REST around a stream: list the markets of a quote currency, their prices and orderbook levels,
the last trades of one, and (with keys) the account; then watch every listed market's ticker.

``us.RestClient`` calls Upbit's REST API within its rate limits (each group's figure; it slows down
by itself when Upbit answers 429, and refuses to hammer it while a 418 block lasts).
``client.subscribe_markets()`` subscribes one type for every market of a quote currency in one
merged request.

    python examples/rest_markets.py --fake                # against the embedded fake exchange
    python examples/rest_markets.py --quote BTC --seconds 5
    UPBIT_ACCESS_KEY=... UPBIT_SECRET_KEY=... python examples/rest_markets.py   # also the account

Ctrl-C or SIGTERM stops it cleanly (exit 130 or 143); a bad argument exits 2, an Upbit error 1.
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
    """Ctrl-C (SIGINT) or SIGTERM, raised in the main thread: the with-blocks unwind and stop the SDK."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum             # the shells' convention: 130 or 143


def interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def survey(rest: us.RestClient, quote: str) -> list[str]:
    markets = rest.markets(quote=quote)
    print(f"{len(markets)} markets quoted in {quote}; the first five:")
    codes = [m.market for m in markets[:5]]
    tickers = {t.market: t for t in rest.tickers(codes)}
    levels = {i.market: i for i in rest.orderbook_instruments(codes)}
    for m in markets[:5]:
        ticker, instrument = tickers[m.market], levels[m.market]
        print(f"  {m.market:<10} {m.english_name:<18} {ticker.trade_price:>16,.10g} "
              f"{ticker.signed_change_rate:>+8.2%}  tick {instrument.tick_size:g}, "
              f"levels {', '.join(f'{level:g}' for level in instrument.supported_levels)}")
    trades = rest.trades(codes[0], count=5)
    print(f"the last {len(trades)} trade{'s' if len(trades) != 1 else ''} of {codes[0]}:")
    for trade in trades:
        print(f"  {trade.trade_time_utc} UTC  {trade.ask_bid:<3} {trade.trade_volume:>12.8f} "
              f"at {trade.trade_price:,.10g}")
    if rest.config.has_keys:
        for account in rest.accounts():
            print(f"  account {account.currency:<6} balance {account.balance:,.8g} "
                  f"(locked {account.locked:g})")
    return [m.market for m in markets]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quote", default="KRW", help="KRW (default), BTC or USDT")
    parser.add_argument("--fake", action="store_true", help="use an in-process fake Upbit exchange")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to watch the tickers")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)

    status = 0
    try:
        with contextlib.ExitStack() as stack:
            config = us.Config.from_env()             # Upbit's real endpoints, keys from the environment
            if args.fake:
                from upbit_sync.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY, FakeUpbitServer

                server = stack.enter_context(FakeUpbitServer())
                config = us.Config(public_url=server.public_url, private_url=server.private_url,
                                   rest_url=server.rest_url, access_key=TEST_ACCESS_KEY,
                                   secret_key=TEST_SECRET_KEY)
            manager = stack.enter_context(us.WebSocketManager(config))
            client = stack.enter_context(us.WebSocketClient(manager))
            survey(client.rest, args.quote.upper())

            seen: set[str] = set()
            lock = threading.Lock()

            def on_ticker(ticker: us.Ticker) -> None:
                with lock:
                    seen.add(ticker.code)

            sub = client.subscribe_markets("ticker", quote=args.quote.upper(), callback=on_ticker)
            time.sleep(args.seconds)
            with lock:
                print(f"watched {len(sub.codes)} tickers in one request: {len(seen)} sent data")
    except us.InvalidRequestError as error:            # e.g. a malformed code: raised before anything is sent
        print(f"error: {error}", file=sys.stderr)
        return 2
    except us.UpbitError as error:                      # refused keys, rate limits, the network
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Interrupted as stop:
        status = stop.exit_code
    return status


if __name__ == "__main__":
    raise SystemExit(main())
