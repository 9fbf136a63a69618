"""An RSI signal bot: Upbit's ``indicator_signal`` stream tells it when a market turns oversold or
overbought, and it keeps a paper position (buy on oversold, sell on overbought; no order is placed).

Upbit computes the indicator and checks the condition itself: a signal arrives once, when the
condition goes from not met to met at a candle close, and again only after it lapsed. Between signals
the connection can be quiet for hours; the SDK keeps it alive with its heartbeat. The indicator
channels need API keys (any key will do; no permission is asked): ``UPBIT_ACCESS_KEY`` and
``UPBIT_SECRET_KEY`` from the environment. With ``--fake`` the fake exchange runs its candle clock
fast (a 15-minute candle closes every 15 ms) and its prices in a saw tooth, falling then rising, so
both signals fire within a second.

    python examples/signal_bot.py --fake --seconds 3
    UPBIT_ACCESS_KEY=... UPBIT_SECRET_KEY=... python examples/signal_bot.py KRW-BTC KRW-SOL --timeframe 60m

Ctrl-C or SIGTERM stops it cleanly (exit 130 or 143); missing keys, a malformed market code or a
threshold Upbit does not offer exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING

import upbit_sync as us

if TYPE_CHECKING:
    from upbit_sync.testing import FakeUpbitServer

MARKETS = ["KRW-BTC", "KRW-ETH"]
TIMEFRAMES = ["5m", "15m", "60m", "240m", "1d"]
TIMEFRAME_SECONDS = {"5m": 300, "15m": 900, "60m": 3600, "240m": 14400, "1d": 86400}
FAKE_TIME_SCALE = 60_000.0   # the fake's candle clock: 60,000 times as fast as the wall clock

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


def on_event(event: us.Event) -> None:
    say(f"event: {event}")


def on_error(error: BaseException) -> None:
    say(f"error: {error!r}")


class PaperTrader:
    """Turns signals into paper trades: flat + oversold -> buy, long + overbought -> sell.

    Signals of different markets arrive on different worker threads at the same time, so the
    positions are kept under a lock (the messages of one market always come in order, on one thread).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.long: dict[str, bool] = {}
        self.signals: dict[str, int] = {}
        self.trades: dict[str, int] = {}

    def on_signal(self, message: us.IndicatorSignal) -> None:
        value = message.value
        shown = f"RSI {value.rsi:4.1f}" if isinstance(value, us.RsiValue) else str(value)
        with self._lock:
            self.signals[message.code] = self.signals.get(message.code, 0) + 1
            holding = self.long.get(message.code, False)
            if message.trigger == "oversold" and not holding:
                action = "buy"
            elif message.trigger == "overbought" and holding:
                action = "sell"
            else:
                action = "hold"                   # already long on oversold, or flat on overbought
            if action != "hold":
                self.long[message.code] = action == "buy"
                self.trades[message.code] = self.trades.get(message.code, 0) + 1
        say(f"signal {message.code} {message.timeframe} {message.trigger} {shown} "
            f"candle {message.candle_date_time_utc} -> {action}")

    def summary(self, markets: list[str]) -> list[str]:
        with self._lock:
            lines = [f"{code}: {self.signals.get(code, 0)} signals, {self.trades.get(code, 0)} paper trades, "
                     f"{'long' if self.long.get(code) else 'flat'}" for code in markets]
            lines.append(f"watched {len(markets)} markets: {sum(self.signals.values())} signals")
        return lines


class SawTooth:
    """Scripts the fake exchange's candles: ``steps`` closes falling 1 % each, then as many rising,
    one cycle after another, so that RSI sinks under 30 and climbs over 70 again and again."""

    def __init__(self, server: FakeUpbitServer, markets: list[str], timeframe: str, steps: int = 24) -> None:
        self.server = server
        self.markets = markets
        self.timeframe = timeframe
        self.steps = steps
        self.cycle_seconds = 2 * steps * TIMEFRAME_SECONDS[timeframe] / server.time_scale
        self.price: dict[str, float] = {}
        self.scripted_until = 0.0

    def wait_for_listener(self, timeout: float) -> bool:
        """Wait until the exchange has our signal subscription, so that no signal fires unseen."""
        return self.server.wait_for(
            lambda: any(c.is_info and c.subscriptions for c in self.server.open_connections()), timeout)

    def keep_ahead(self) -> None:
        """Queue the next cycle when less than half a cycle is left (the walk resumes only if the
        queue runs dry)."""
        now = time.monotonic()
        if now < self.scripted_until - self.cycle_seconds / 2:
            return
        for code in self.markets:
            if code not in self.price:
                candles = self.server.candles(code, self.timeframe)
                self.price[code] = candles[-1].close if candles else self.server.market.anchor(code)
            closes = []
            price = self.price[code]
            for step in range(2 * self.steps):
                price *= 0.99 if step < self.steps else 1.01
                closes.append(price)
            self.server.script_candles(code, self.timeframe, closes)
            self.price[code] = price
        self.scripted_until = max(now, self.scripted_until) + self.cycle_seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("markets", nargs="*", default=MARKETS, help="KRW markets (default: KRW-BTC KRW-ETH)")
    parser.add_argument("--timeframe", choices=TIMEFRAMES, default="15m", help="candle length (default 15m)")
    parser.add_argument("--oversold", type=int, default=30, help="RSI threshold: 30 (default) or 20")
    parser.add_argument("--overbought", type=int, default=70, help="RSI threshold: 70 (default) or 80")
    parser.add_argument("--fake", action="store_true", help="use an in-process fake Upbit exchange")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, interrupt)        # Ctrl-C, and SIGTERM (kill, docker stop): same clean stop
    signal.signal(signal.SIGTERM, interrupt)

    status = 0
    trader = PaperTrader()
    try:
        with contextlib.ExitStack() as stack:
            mover = None
            if args.fake:
                from upbit_sync.testing import FakeUpbitServer

                server = stack.enter_context(FakeUpbitServer(time_scale=FAKE_TIME_SCALE))
                config = server.config(keys=True)  # its URLs (info included) and the test keys it accepts
                mover = SawTooth(server, args.markets, args.timeframe)
            else:
                config = us.Config.from_env()
                if not config.has_keys:
                    print("indicator signals need API keys: set UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY "
                          "(or run with --fake)", file=sys.stderr)
                    return 2

            manager = stack.enter_context(us.WebSocketManager(config))
            client = stack.enter_context(us.WebSocketClient(manager, on_error=on_error, on_event=on_event))
            rsi = us.RSI(14)
            client.subscribe("indicator_signal", args.markets, trader.on_signal, timeframe=args.timeframe,
                             indicators=[rsi.oversold(args.oversold), rsi.overbought(args.overbought)])

            if mover is not None and not mover.wait_for_listener(10.0):
                print("the signal subscription did not reach the fake exchange in 10 s", file=sys.stderr)
                return 1
            deadline = None if args.seconds is None else time.monotonic() + args.seconds
            while deadline is None or time.monotonic() < deadline:
                if mover is not None:
                    mover.keep_ahead()
                time.sleep(0.1)
    except us.SubscriptionError as error:          # a bad code or threshold: raised before anything is sent
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        status = stop.exit_code
    for line in trader.summary(args.markets):      # the SDK is closed: no callback runs any more
        say(line)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
