"""Your own orders and balances: the private ``myOrder`` and ``myAsset`` streams.

Private streams need API keys. Against Upbit they come from the environment (``UPBIT_ACCESS_KEY``,
``UPBIT_SECRET_KEY``, read by ``Config.from_env()``); place or cancel an order in Upbit's app to see
events. With ``--fake`` the fake exchange's test keys are used and the script plays a small order
flow on the exchange itself (``emit_my_order``/``emit_my_asset``), since nobody trades there.

    python examples/private_orders.py --fake --seconds 3
    UPBIT_ACCESS_KEY=... UPBIT_SECRET_KEY=... python examples/private_orders.py

Ctrl-C or SIGTERM stops it cleanly (exit 130 or 143); missing keys exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
import uuid
from types import FrameType
from typing import TYPE_CHECKING

import upbit_sync as us

if TYPE_CHECKING:
    from upbit_sync.testing import FakeUpbitServer

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


def on_order(order: us.MyOrder) -> None:
    say(f"order {order.uuid[:8]} {order.code:<9} {order.ask_bid:<3} {order.state:<6} "
        f"price {order.price or 0:,.10g} volume {order.volume or 0:g} "
        f"executed {order.executed_volume or 0:g}")


def on_asset(message: us.MyAsset) -> None:
    balances = ", ".join(f"{a.currency} {a.balance:,.10g} (locked {a.locked:,.10g})" for a in message.assets)
    say(f"balances: {balances}")


def on_event(event: us.Event) -> None:
    say(f"event: {event}")


class PretendTrader:
    """Plays an order flow on the fake exchange: a limit buy placed, half filled, filled; again."""

    def __init__(self, server: FakeUpbitServer) -> None:
        self.server = server
        self.krw = 10_000_000.0
        self.btc = 0.0
        self.step = 0
        self.order_id = ""

    def wait_for_listener(self, timeout: float) -> bool:
        """Wait until the exchange has our private subscription, so no event is sent into the void."""
        return self.server.wait_for(
            lambda: any(c.is_private and c.subscriptions for c in self.server.open_connections()),
            timeout,
        )

    def next(self) -> None:
        state = ("wait", "trade", "done")[self.step % 3]
        if state == "wait":
            self.order_id = str(uuid.uuid4())
        executed = {"wait": 0.0, "trade": 0.005, "done": 0.01}[state]
        order = self.server.emit_my_order(
            uuid=self.order_id, code="KRW-BTC", ask_bid="BID", state=state, volume=0.01,
            executed_volume=executed, remaining_volume=round(0.01 - executed, 8),
        )
        if state == "done":
            self.krw -= order["price"] * 0.01
            self.btc += 0.01
            self.server.emit_my_asset(assets=[
                {"currency": "KRW", "balance": self.krw, "locked": 0.0},
                {"currency": "BTC", "balance": round(self.btc, 8), "locked": 0.0},
            ])
        self.step += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fake", action="store_true", help="use an in-process fake Upbit exchange")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, interrupt)        # Ctrl-C, and SIGTERM (kill, docker stop): same clean stop
    signal.signal(signal.SIGTERM, interrupt)

    status = 0
    try:
        with contextlib.ExitStack() as stack:
            trader = None
            if args.fake:
                from upbit_sync.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY, FakeUpbitServer

                server = stack.enter_context(FakeUpbitServer())
                config = us.Config(public_url=server.public_url, private_url=server.private_url,
                                   access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY)
                trader = PretendTrader(server)
            else:
                config = us.Config.from_env()
                if not config.has_keys:
                    print("private streams need API keys: set UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY "
                          "(or run with --fake)", file=sys.stderr)
                    return 2

            manager = stack.enter_context(us.WebSocketManager(config))
            client = stack.enter_context(us.WebSocketClient(manager, on_event=on_event))
            client.subscribe("myOrder", None, on_order)       # None: orders on every market
            client.subscribe("myAsset", None, on_asset)

            if trader is not None and not trader.wait_for_listener(10.0):
                print("the private subscription did not reach the fake exchange in 10 s", file=sys.stderr)
                return 1
            deadline = None if args.seconds is None else time.monotonic() + args.seconds
            while deadline is None or time.monotonic() < deadline:
                if trader is not None:
                    trader.next()
                time.sleep(0.5)
    except Interrupted as stop:
        status = stop.exit_code
    return status


if __name__ == "__main__":
    raise SystemExit(main())
