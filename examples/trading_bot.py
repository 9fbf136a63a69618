"""An RSI trading bot that places real orders: Upbit's ``indicator_signal`` says when a market turns
oversold or overbought; on oversold it buys for a fixed amount of KRW at market (``ord_type="price"``),
waits until the order is over, and on the next overbought it sells what it bought at market
(``ord_type="market"``), then prints the round trip's profit and loss from the orders' executed funds
and fees, as the exchange reports them.

Every order goes through ``client.place_order``: placed exactly once (an identifier always sent; a lost
answer is looked up, never sent again blind, and ``OrderUncertainError`` is raised when the SDK cannot
tell), and known at once to the order tracker, which follows it over myOrder and REST across
reconnects. ``tracker.wait`` returns the order once it is ``done`` or ``cancel`` (a market buy may end
as ``cancel``: the remainder of its amount too small to buy more is given back; what it bought is in
``executed_volume``).

With ``--fake`` everything runs against the embedded fake exchange: its candle clock runs fast and its
candles in a saw tooth (a 15-minute candle closes every 15 ms), so signals come within a second, and
its market orders fill at once against its order book. Without ``--fake`` the bot trades on Upbit with
the keys in ``UPBIT_ACCESS_KEY`` and ``UPBIT_SECRET_KEY`` (they need the make_orders and view_orders
permissions), and only when ``--live`` says so; the amount is kept tiny (5,000 to 20,000 KRW).

    python examples/trading_bot.py --fake --rounds 2
    UPBIT_ACCESS_KEY=... UPBIT_SECRET_KEY=... python examples/trading_bot.py KRW-BTC --live --krw 5500

Ctrl-C or SIGTERM stops it cleanly (exit 130 or 143; an order being placed is seen through first, and
a position still held is named); a bad argument, missing keys or a missing ``--live`` exit 2 before
anything is sent; an order whose outcome cannot be learnt stops the bot with exit 1.
"""

from __future__ import annotations

import argparse
import contextlib
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from types import FrameType
from typing import TYPE_CHECKING

import upbit_sync as us

if TYPE_CHECKING:
    from upbit_sync.testing import FakeUpbitServer

TIMEFRAMES = ["5m", "15m", "60m", "240m", "1d"]
TIMEFRAME_SECONDS = {"5m": 300, "15m": 900, "60m": 3600, "240m": 14400, "1d": 86400}
FAKE_TIME_SCALE = 60_000.0   # the fake's candle clock: 60,000 times as fast as the wall clock
MIN_KRW, MAX_KRW = 5_000, 20_000   # Upbit's smallest KRW order, and the most this example will spend
ORDER_TIMEOUT = 10.0         # seconds a market order may take to be over

_print_lock = threading.Lock()


class Interrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM, raised in the main thread: the with-block unwinds and stops the SDK."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum             # the shells' convention: 130 or 143


class Stopper:
    """SIGINT and SIGTERM raise Interrupted in the main thread, except while an order is being placed
    and waited for: a placement cut in the middle would leave the bot not knowing what it holds, so
    the signal is kept until the order is over (at most ORDER_TIMEOUT and a REST call's timeout)."""

    def __init__(self) -> None:
        self.held = False
        self.pending: int | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.held:
            self.pending = signum
        else:
            raise Interrupted(signum)

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        self.held = True
        try:
            yield
        finally:
            self.held = False
        if self.pending is not None:
            raise Interrupted(self.pending)


def say(line: str) -> None:
    """Print one whole line: the tracker's updates come from other threads, and Ctrl-C can land in
    the main thread between print()'s text and its newline, so the line goes out in one write."""
    with _print_lock:
        sys.stdout.write(f"{line}\n")
        sys.stdout.flush()


def exact(value: float | Decimal | None) -> Decimal:
    """A figure as a Decimal (the SDK gives floats unless Config(decimal=True)); None as 0."""
    return Decimal(0) if value is None else Decimal(str(value))


def krw(value: Decimal) -> str:
    return f"{value:,.2f} KRW"


def on_update(update: us.OrderUpdate) -> None:
    """Every change of every order, once, in order for each: the placement's answer, a myOrder
    message, or what REST said after the stream missed it (a reconnect)."""
    order = update.order
    say(f"  order {order.side} {order.market} {order.ord_type}: {order.state}, executed "
        f"{exact(order.executed_volume):f} ({update.source})")


@dataclass(frozen=True)
class Fill:
    """What an order that is over bought or sold: its volume, its funds (KRW) and its fee (KRW)."""

    volume: Decimal
    funds: Decimal
    fee: Decimal


class Trader:
    """Buys on oversold when flat, sells on overbought when long: one position at a time."""

    def __init__(self, client: us.WebSocketClient, tracker: us.OrderTracker, market: str,
                 amount: int, stopper: Stopper) -> None:
        self.client = client
        self.stopper = stopper
        self.tracker = tracker
        self.market = market
        self.amount = amount
        self.bought: Fill | None = None
        self.rounds = 0
        self.total = Decimal(0)

    def act(self, trigger: str) -> None:
        if trigger == "oversold" and self.bought is None:
            self.buy()
        elif trigger == "overbought" and self.bought is not None:
            self.sell(self.bought)

    def buy(self) -> None:
        say(f"buy {self.market} for {self.amount:,} KRW at market")
        fill = self.place("bid", ord_type="price", price=self.amount)
        if fill is not None:
            self.bought = fill
            say(f"bought {fill.volume:f} {self.base} for {krw(fill.funds)}, fee {krw(fill.fee)}")

    def sell(self, bought: Fill) -> None:
        say(f"sell {bought.volume:f} {self.base} at market")
        fill = self.place("ask", ord_type="market", volume=bought.volume)
        if fill is None:
            return
        share = fill.volume / bought.volume       # 1, unless the book was too thin for all of it
        cost = (bought.funds + bought.fee) * share
        self.bought = None if share >= 1 else Fill(bought.volume - fill.volume, bought.funds * (1 - share),
                                                   bought.fee * (1 - share))
        self.rounds += 1
        pnl = fill.funds - fill.fee - cost
        self.total += pnl
        say(f"sold {fill.volume:f} {self.base} for {krw(fill.funds)}, fee {krw(fill.fee)}")
        say(f"profit and loss: {pnl:+,.2f} KRW ({pnl / cost:+.3%}) after fees, round {self.rounds}")

    @property
    def base(self) -> str:
        return self.market.split("-", 1)[1]

    def place(self, side: str, *, ord_type: str, price: int | None = None,
              volume: Decimal | None = None) -> Fill | None:
        """One market order, placed exactly once and waited for; None when the exchange refused it
        (the bot stays as it was). OrderUncertainError and StreamTimeout go up: the bot cannot tell
        what it holds, so it stops."""
        with self.stopper.holding():
            try:
                placed = self.client.place_order(self.market, side, ord_type, price=price, volume=volume)
            except us.ApiError as error:          # refused (funds, minimum, market closed): nothing placed
                say(f"order refused: {error}")
                return None
            over = self.tracker.wait(placed.uuid, timeout=ORDER_TIMEOUT)
            funds = over.executed_funds
            if funds is None:                     # not in every answer: the order's trades have it
                trades = self.client.rest.order(uuid=over.uuid).trades
                funds = sum((exact(t.funds) for t in trades), Decimal(0))
        if exact(over.executed_volume) == 0:
            say(f"order {over.identifier} ended {over.state} with nothing executed")
            return None
        return Fill(exact(over.executed_volume), exact(funds), exact(over.paid_fee))

    def summary(self) -> list[str]:
        trips = f"{self.rounds} round trip{'s' if self.rounds != 1 else ''}"
        lines = [f"{trips}, profit and loss {self.total:+,.2f} KRW after fees"]
        if self.bought is not None:
            lines.append(f"still holding {self.bought.volume:f} {self.base} bought for "
                         f"{krw(self.bought.funds + self.bought.fee)}")
        return lines


class SawTooth:
    """Scripts the fake exchange's candles: ``steps`` closes falling 1 % each, then as many rising,
    one cycle after another, so that RSI sinks under 30 and climbs over 70 again and again."""

    def __init__(self, server: FakeUpbitServer, market: str, timeframe: str, steps: int = 24) -> None:
        self.server = server
        self.market = market
        self.timeframe = timeframe
        self.steps = steps
        self.cycle_seconds = 2 * steps * TIMEFRAME_SECONDS[timeframe] / server.time_scale
        self.price: float | None = None
        self.scripted_until = 0.0

    def wait_for_listener(self, timeout: float) -> bool:
        """Wait until the exchange has our signal subscription, so that no signal fires unseen."""
        return self.server.wait_for(
            lambda: any(c.is_info and c.subscriptions for c in self.server.open_connections()), timeout)

    def keep_ahead(self) -> None:
        """Queue the next cycle when less than half a cycle is left."""
        now = time.monotonic()
        if now < self.scripted_until - self.cycle_seconds / 2:
            return
        if self.price is None:
            candles = self.server.candles(self.market, self.timeframe)
            self.price = candles[-1].close if candles else self.server.market.anchor(self.market)
        closes = []
        price = self.price
        for step in range(2 * self.steps):
            price *= 0.99 if step < self.steps else 1.01
            closes.append(price)
        self.server.script_candles(self.market, self.timeframe, closes)
        self.price = price
        self.scripted_until = max(now, self.scripted_until) + self.cycle_seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("market", nargs="?", default="KRW-BTC", help="a KRW market (default KRW-BTC)")
    parser.add_argument("--krw", type=int, default=6_000,
                        help=f"KRW to spend on each buy, {MIN_KRW:,} to {MAX_KRW:,} (default 6,000)")
    parser.add_argument("--timeframe", choices=TIMEFRAMES, default="15m", help="candle length (default 15m)")
    parser.add_argument("--rounds", type=int, help="stop after this many buy-and-sell round trips")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    parser.add_argument("--fake", action="store_true", help="trade on an in-process fake Upbit exchange")
    parser.add_argument("--live", action="store_true", help="trade on Upbit itself, with real money")
    args = parser.parse_args()
    if not MIN_KRW <= args.krw <= MAX_KRW:
        print(f"error: --krw must be {MIN_KRW:,} to {MAX_KRW:,}, not {args.krw:,}", file=sys.stderr)
        return 2
    if args.rounds is not None and args.rounds < 1:
        print(f"error: --rounds must be at least 1, not {args.rounds}", file=sys.stderr)
        return 2
    if not args.fake and not args.live:
        print("error: this bot places real orders: add --live to trade on Upbit (or run with --fake)",
              file=sys.stderr)
        return 2
    stopper = Stopper()
    signal.signal(signal.SIGINT, stopper)          # Ctrl-C, and SIGTERM (kill, docker stop): same clean stop
    signal.signal(signal.SIGTERM, stopper)

    status = 0
    trader: Trader | None = None
    signals: queue.Queue[str] = queue.Queue()     # triggers, from a worker thread to this one

    def on_signal(message: us.IndicatorSignal) -> None:
        value = message.value
        shown = f"RSI {value.rsi:4.1f}" if isinstance(value, us.RsiValue) else str(value)
        say(f"signal {message.code} {message.trigger} {shown} candle {message.candle_date_time_utc}")
        signals.put(message.trigger)

    try:
        with contextlib.ExitStack() as stack:
            mover = None
            if args.fake:
                from upbit_sync.testing import FakeUpbitServer

                server = stack.enter_context(FakeUpbitServer(time_scale=FAKE_TIME_SCALE))
                config = server.config(keys=True)  # its URLs and the test keys it accepts
                mover = SawTooth(server, args.market, args.timeframe)
            else:
                config = us.Config.from_env()
                if not config.has_keys:
                    print("trading needs API keys: set UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY "
                          "(or run with --fake)", file=sys.stderr)
                    return 2
                say(f"LIVE: real market orders of {args.krw:,} KRW on {args.market}")

            manager = stack.enter_context(us.WebSocketManager(config))
            client = stack.enter_context(us.WebSocketClient(manager))
            rsi = us.RSI(14)                       # a bad market code is refused here, before any order
            client.subscribe("indicator_signal", [args.market], on_signal, timeframe=args.timeframe,
                             indicators=[rsi.oversold(30), rsi.overbought(70)])
            tracker = client.track_orders(on_update=on_update)   # before the first order: it sees all
            trader = Trader(client, tracker, args.market, args.krw, stopper)

            if mover is not None and not mover.wait_for_listener(10.0):
                print("the signal subscription did not reach the fake exchange in 10 s", file=sys.stderr)
                return 1
            deadline = None if args.seconds is None else time.monotonic() + args.seconds
            while deadline is None or time.monotonic() < deadline:
                if args.rounds is not None and trader.rounds >= args.rounds:
                    break
                if mover is not None:
                    mover.keep_ahead()
                with contextlib.suppress(queue.Empty):
                    trigger = signals.get(timeout=0.1)
                    with contextlib.suppress(queue.Empty):
                        while True:                # signals that came while an order was placed
                            trigger = signals.get_nowait()   # are stale: act on the newest only
                    trader.act(trigger)
    except us.InvalidRequestError as error:      # a bad market code: raised before anything is sent
        print(f"error: {error}", file=sys.stderr)
        return 2
    except us.OrderUncertainError as error:       # nothing was sent twice; look it up before trading on
        print(f"error: {error}; stopping: look the order up by its identifier", file=sys.stderr)
        status = 1
    except us.StreamTimeout as error:
        print(f"error: {error}; stopping", file=sys.stderr)
        status = 1
    except Interrupted as stop:
        status = stop.exit_code
    # the SDK is closed: no callback runs any more
    summary = ["0 round trips, profit and loss +0.00 KRW after fees"] if trader is None else trader.summary()
    for line in summary:
        say(line)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
