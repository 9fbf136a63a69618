"""The ``upbit-sync`` command: ``demo`` (against the embedded fake exchange) and ``fake-server``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from . import __version__
from .client import WebSocketClient
from .config import Config
from .manager import WebSocketManager
from .metrics import Health
from .types import (
    Connected,
    DataLoss,
    Disconnected,
    Event,
    Orderbook,
    Reconnected,
    ServerError,
    Ticker,
    Trade,
)

if TYPE_CHECKING:
    from .testing import FakeUpbitServer

DEMO_MARKETS = ("KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL")
_RECOVERY_WAIT = 5.0  # seconds the demo waits for data after the drop before calling it a failure


_print_lock = threading.Lock()


class _Interrupted(Exception):
    """SIGINT (Ctrl-C) or SIGTERM, raised in the main thread: the command's with-blocks unwind, which
    stops the SDK and the fake exchange, and the command exits 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum  # the shells' convention: 130 for SIGINT, 143 for SIGTERM


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise _Interrupted(signum)


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """While the command runs, SIGINT and SIGTERM raise _Interrupted (both stop by the same path).

    SIGINT is handled explicitly too: a process started with SIGINT ignored (a background job) would
    otherwise never see a KeyboardInterrupt. Handlers can be set from the main thread only.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)


def _say(text: str) -> None:
    """Print whole lines: events arrive on SDK threads while the main thread draws the view."""
    with _print_lock:
        print(text, flush=True)


def _need_testing_extra() -> None:
    print("the fake exchange needs the 'testing' extra: pip install 'upbit-sync[testing]'",
          file=sys.stderr)


def _fake_server(args: argparse.Namespace) -> int:
    try:
        from .testing import FakeUpbitServer
    except ImportError:
        _need_testing_extra()
        return 2
    status = 0
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(FakeUpbitServer(host="127.0.0.1", port=args.port,
                                                         rest_port=args.rest_port))
        except OSError as error:  # the port is taken, or not ours to listen on
            reason = os.strerror(error.errno) if error.errno else str(error)
            print(f"upbit-sync fake-server: error: cannot listen on 127.0.0.1:{args.port}: {reason}",
                  file=sys.stderr)
            return 1
        try:
            print(f"fake Upbit exchange on {server.public_url} (private: {server.private_url}; "
                  f"REST: {server.rest_url})", flush=True)
            print("Ctrl-C to stop", flush=True)
            threading.Event().wait()  # nothing sets it: only a signal ends the wait
        except _Interrupted as stop:
            status = stop.exit_code
    print("stopped", flush=True)
    return status


class _DemoView:
    """What the demo's callbacks saw: the newest ticker and book per market, trades, events."""

    def __init__(self, markets: Sequence[str]) -> None:
        self.markets = tuple(markets)
        self.lock = threading.Lock()
        self.tickers: dict[str, Ticker] = {}
        self.books: dict[str, Orderbook] = {}
        self.trades_since_render: Counter[str] = Counter()
        self.delivered: Counter[str] = Counter()
        self.last_render = time.monotonic()
        self.first_data_after_reconnect: float | None = None
        self.reconnected = threading.Event()

    # -- callbacks (on the SDK's worker threads) -------------------------------------------------

    def on_ticker(self, ticker: Ticker) -> None:
        with self.lock:
            self.tickers[ticker.code] = ticker
            self._count(ticker.type)

    def on_orderbook(self, book: Orderbook) -> None:
        with self.lock:
            self.books[book.code] = book
            self._count(book.type)

    def on_trade(self, trade: Trade) -> None:
        with self.lock:
            self.trades_since_render[trade.code] += 1
            self._count(trade.type)

    def _count(self, kind: str) -> None:
        self.delivered[kind] += 1
        if self.first_data_after_reconnect is None and self.reconnected.is_set():
            self.first_data_after_reconnect = time.monotonic()

    def on_event(self, event: Event) -> None:
        _say(f"  {_describe(event)}")
        if isinstance(event, Reconnected):
            self.reconnected.set()

    def on_error(self, error: BaseException) -> None:
        _say(f"  !! error: {error!r}")

    # -- the view (on the main thread) -----------------------------------------------------------

    def render(self, elapsed: float) -> str:
        now = time.monotonic()
        with self.lock:
            interval = max(1e-3, now - self.last_render)
            self.last_render = now
            trades, self.trades_since_render = self.trades_since_render, Counter()
            lines = [f"[{elapsed:4.1f} s]  {'market':<9} {'price':>14} {'change':>8} "
                     f"{'spread':>10} {'trades/s':>9}"]
            for code in self.markets:
                ticker, book = self.tickers.get(code), self.books.get(code)
                if ticker is None:
                    lines.append(f"{'':9}{code:<9} {'waiting for data':>14}")
                    continue
                spread = "-"
                if book is not None and book.units:
                    spread = f"{book.units[0].ask_price - book.units[0].bid_price:,.10g}"
                lines.append(
                    f"{'':9}{code:<9} {ticker.trade_price:>14,.10g} {ticker.signed_change_rate:>+8.2%} "
                    f"{spread:>10} {trades[code] / interval:>9.1f}"
                )
        return "\n".join(lines)


def _describe(event: Event) -> str:
    if isinstance(event, Connected):
        return f"event: Connected({event.connection}) to {event.url}"
    if isinstance(event, Disconnected):
        return f"event: Disconnected({event.connection}): {event.reason} (close code {event.code})"
    if isinstance(event, Reconnected):
        return (f"event: Reconnected({event.connection}) after {event.downtime_s * 1000:.0f} ms of downtime: "
                "subscriptions restored, fresh snapshots follow, trades in the gap are gone")
    if isinstance(event, DataLoss):
        return f"event: DataLoss: {event.dropped} {event.type} messages for {event.code} ({event.policy})"
    if isinstance(event, ServerError):
        return f"event: ServerError {event.name}: {event.message}"
    return f"event: {event}"


def _print_health(health: Health, view: _DemoView) -> None:
    print("health summary (manager.health()):")
    for name, conn in health["connections"].items():
        shown = {"state": conn["state"], "reconnects": conn["reconnects"], "messages": conn["messages"],
                 "queue_depth": conn["queue_depth"], "drops": conn["drops"],
                 "requests_sent": conn["requests_sent"], "subscriptions": conn["subscriptions"],
                 "in_sync": conn["in_sync"]}
        print(f"  connection {name}: " + " ".join(f"{k}={v}" for k, v in shown.items()))
    print("  dispatcher: " + " ".join(f"{k}={v}" for k, v in health["dispatcher"].items()))
    with view.lock:
        delivered = dict(view.delivered)
    print(f"  delivered to the demo's callbacks: {sum(delivered.values())} "
          f"({', '.join(f'{kind} {n}' for kind, n in sorted(delivered.items()))})")
    print(f"  healthy: {health['healthy']}")


def _demo(args: argparse.Namespace) -> int:
    try:
        from .testing import FakeUpbitServer
    except ImportError:
        _need_testing_extra()
        return 2
    seconds = max(4.0, float(args.seconds))
    markets = list(DEMO_MARKETS)
    view = _DemoView(markets)
    try:
        with FakeUpbitServer(message_rate=args.rate) as server:
            config = Config(public_url=server.public_url, private_url=server.private_url,
                            health_check_interval=2.0, stale_after=5.0)
            print(f"upbit-sync {__version__} demo: the SDK against the embedded fake exchange at "
                  f"{server.public_url}")
            print(f"subscribing ticker, trade and orderbook (depth 5) for {', '.join(markets)}")
            with WebSocketManager(config) as manager, \
                    WebSocketClient(manager, on_error=view.on_error, on_event=view.on_event) as client:
                client.subscribe("ticker", markets, view.on_ticker)
                client.subscribe("trade", markets, view.on_trade)
                client.subscribe("orderbook", markets, view.on_orderbook, depth=5)
                recovered = _run_view(server, view, seconds)
                health = manager.health()
    except _Interrupted as stop:
        _say(f"demo stopped by {stop}: the client, the manager and the fake exchange are closed")
        return stop.exit_code
    _print_health(health, view)
    ok = recovered and health["healthy"]
    print("demo finished: " + ("recovered from the drop and healthy" if ok else "NOT healthy"))
    return 0 if ok else 1


def _run_view(server: FakeUpbitServer, view: _DemoView, seconds: float) -> bool:
    """Print the view once a second and drop every connection halfway; True if the data came back."""
    started = time.monotonic()
    recovered = None
    for tick in range(1, int(seconds) + 1):
        time.sleep(max(0.0, started + tick - time.monotonic()))
        _say(view.render(time.monotonic() - started))
        if recovered is None and tick >= seconds / 2:
            recovered = _drop_and_recover(server, view)
    return bool(recovered)


def _drop_and_recover(server: FakeUpbitServer, view: _DemoView) -> bool:
    _say(">>> the exchange drops every connection now (abrupt TCP close, no close frame)")
    dropped_at = time.monotonic()
    server.drop_all()
    deadline = dropped_at + _RECOVERY_WAIT
    while view.first_data_after_reconnect is None and time.monotonic() < deadline:
        time.sleep(0.005)
    back_at = view.first_data_after_reconnect
    if back_at is None:
        _say(f"<<< no data within {_RECOVERY_WAIT:.0f} s of the drop")
        return False
    _say(f"<<< recovered: data flowing again {(back_at - dropped_at) * 1000:.0f} ms after the drop")
    return True


class _Parser(argparse.ArgumentParser):
    """Reports a usage error as one line on stderr (``prog: error: ...``) and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _port(text: str) -> int:
    """A TCP port for ``--port``: 1-65535, or 0 for any free one."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, not {port}")
    return port


def _amount(text: str) -> float:
    """A finite number >= 0 for ``--seconds`` and ``--rate`` (``inf`` would never end the demo)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="upbit-sync", description=__doc__)
    parser.add_argument("--version", action="version", version=f"upbit-sync {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    # The same flag after the command: SUPPRESS leaves the value of `-v demo` alone when `demo` has none.
    common = _Parser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log at INFO level")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", parents=[common],
                               help="live view of the fake exchange, with a drop and recovery")
    demo.add_argument("--seconds", type=_amount, default=10.0,
                      help="how long to run (default 10, at least 4)")
    demo.add_argument("--rate", type=_amount, default=5.0, help="messages/s per stream (default 5)")
    demo.set_defaults(run=_demo)
    fake = commands.add_parser("fake-server", parents=[common],
                               help="run the fake Upbit exchange on 127.0.0.1 until Ctrl-C")
    fake.add_argument("--port", type=_port, default=8765, help="0 for any free port (default 8765)")
    fake.add_argument("--rest-port", type=_port, default=0,
                      help="the REST side's port (default 0: any free one)")
    fake.set_defaults(run=_fake_server)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; exit status 0 ok, 1 failed, 2 usage error, 130/143 stopped by SIGINT/SIGTERM."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    with _signals_interrupt():
        try:
            result: int = args.run(args)
        except _Interrupted as stop:  # arrived while a command was starting or already closing
            return stop.exit_code
    return result
