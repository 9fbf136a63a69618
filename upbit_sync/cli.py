"""The ``upbit-sync`` command: ``stream``, ``record``, ``replay``, ``markets``, ``health``, and ``demo`` and
``fake-server`` (against the embedded fake exchange).

Every command exits 0 when it did its job, 1 when it failed at run time (a refused connection or keys,
an unwritable directory, an unhealthy answer), 2 on a usage error (a bad argument, type or market code,
missing keys), 130 on Ctrl-C and 143 on SIGTERM, each failure told in one line on stderr. A closed
stdout (``upbit-sync stream ... | head``) ends a command quietly with 0: the reader had what it wanted.
The recording format is in ``recording.py``, what is drawn in ``terminal.py``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import http.client
import io
import ipaddress
import itertools
import json
import logging
import math
import os
import queue
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import unquote, urlsplit, urlunsplit

from . import __version__
from .client import WebSocketClient
from .config import Config
from .errors import (
    AuthenticationError,
    ConfigError,
    ConnectError,
    InvalidRequestError,
    RateLimitError,
    UpbitError,
)
from .manager import WebSocketManager
from .metrics import Health
from .protocol import PRIVATE_TYPES, make_spec
from .recording import COMPRESSIONS, Recorder, RecorderStats, RecordingError, json_line, parse_period
from .redact import redact, redact_url
from .rest import RestClient
from .subscriptions import Subscription
from .terminal import LiveView, describe, table
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

log = logging.getLogger(__name__)

DEMO_MARKETS = ("KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL")
_RECOVERY_WAIT = 5.0  # seconds the demo waits for data after the drop before calling it a failure
_TICK = 0.1  # how often a command's main loop looks at its deadline, its errors and its output


_print_lock = threading.Lock()


class _Interrupted(Exception):
    """SIGINT (Ctrl-C) or SIGTERM, raised in the main thread: the command's with-blocks unwind, which
    stops the SDK and the fake exchange, and the command exits 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum  # the shells' convention: 130 for SIGINT, 143 for SIGTERM


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise _Interrupted(signum)


def _signals_interrupt() -> contextlib.AbstractContextManager[None]:
    """While the command runs, SIGINT and SIGTERM raise _Interrupted (both stop by the same path).

    SIGINT is handled explicitly too: a process started with SIGINT ignored (a background job) would
    otherwise never see a KeyboardInterrupt. Handlers can be set from the main thread only.
    """
    return _signals_handled_by(_raise_interrupted)


def _signals_held() -> contextlib.AbstractContextManager[None]:
    """SIGINT and SIGTERM ignored for a moment: a second Ctrl-C while the recorder finishes its files
    must not leave a gzip file without its end. The command is stopping anyway."""
    return _signals_handled_by(signal.SIG_IGN)


@contextlib.contextmanager
def _signals_handled_by(handler: Any) -> Iterator[None]:
    """SIGINT and SIGTERM go to ``handler`` inside the block, as before it after (main thread only:
    elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            if old is not None:
                signal.signal(sig, old)


def _say(text: str) -> None:
    """Print whole lines: events arrive on SDK threads while the main thread draws the view."""
    with _print_lock:
        print(text, flush=True)


def _need_testing_extra() -> None:
    print("the fake exchange needs the 'testing' extra: pip install 'upbit-sync[testing]'",
          file=sys.stderr)


class _Failure(Exception):
    """A command that cannot go on: ``main`` prints ``upbit-sync COMMAND: error: <message>`` on stderr
    and exits ``code``: 2 for a usage error (an argument, type or code that cannot work, missing keys),
    1 for a failure at run time."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _usage(message: str) -> _Failure:
    return _Failure(message, 2)


def _reason(error: OSError) -> str:
    """An OSError as a few words ("Connection refused"), without the errno and the repeated path."""
    return os.strerror(error.errno) if error.errno else str(error)


def _stdout_to_devnull() -> None:
    """After a BrokenPipeError: point stdout at /dev/null, so the interpreter's flush of what is still
    buffered at exit does not fail again with an "Exception ignored" message (the documented idiom)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout (captured): nothing is left to flush either
        pass


_FAKE_CATEGORIES = ("notice", "trade", "maintenance", "wallet")  # what fake-server --announce-every posts


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
                                                         rest_port=args.rest_port,
                                                         time_scale=args.time_scale))
        except OSError as error:  # the port is taken, or not ours to listen on
            reason = os.strerror(error.errno) if error.errno else str(error)
            print(f"upbit-sync fake-server: error: cannot listen on 127.0.0.1:{args.port}: {reason}",
                  file=sys.stderr)
            return 1
        try:
            print(f"fake Upbit exchange on {server.public_url} (private: {server.private_url}; "
                  f"REST: {server.rest_url})", flush=True)
            print(f"indicators: {server.info_url} (keys: upbit_sync.testing.TEST_ACCESS_KEY and "
                  "TEST_SECRET_KEY)", flush=True)
            print("Ctrl-C to stop", flush=True)
            never = threading.Event()  # nothing sets it: only a signal ends the wait
            notices = itertools.count(1)
            while not never.wait(args.announce_every):
                number = next(notices)
                server.emit_announcement(category=_FAKE_CATEGORIES[number % len(_FAKE_CATEGORIES)],
                                         title=f"[안내] 테스트 공지 {number}")
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


# ---- where the commands connect, and what they hear from the SDK -----------------------------------


def _fake_exchange() -> type[FakeUpbitServer]:
    """The fake exchange's class, or a usage failure when the 'testing' extra is not installed."""
    try:
        from .testing import FakeUpbitServer
    except ImportError:
        raise _usage("the fake exchange needs the 'testing' extra: pip install 'upbit-sync[testing]'"
                     ) from None
    return FakeUpbitServer


def _exchange_config(args: argparse.Namespace, stack: contextlib.ExitStack) -> Config:
    """``--fake``: a fake exchange started on ``stack`` (with the keys it accepts, so myOrder/myAsset
    work too); otherwise Config.from_env(): Upbit unless UPBIT_WS_URL, UPBIT_REST_URL... say otherwise."""
    if not args.fake:
        try:
            return Config.from_env()
        except ConfigError as exc:
            raise _usage(f"the UPBIT_* environment: {exc}") from None
    server = stack.enter_context(_fake_exchange()())
    from .testing import TEST_ACCESS_KEY, TEST_SECRET_KEY

    return Config(public_url=server.public_url, private_url=server.private_url, rest_url=server.rest_url,
                  access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY)


class _Watch:
    """The SDK's events and errors, as a command sees them (they arrive on the SDK's threads).

    Each becomes a line for the main thread to show; gaps (Reconnected, DataLoss) also go to
    ``on_gap``. Two errors end the command instead of being retried for ever: the exchange refusing
    the keys, and the first connection failing before any has succeeded (a wrong URL, no network).
    """

    def __init__(self, on_gap: Callable[[Reconnected | DataLoss], None] | None = None) -> None:
        self.connected = threading.Event()
        self.fatal: UpbitError | None = None
        self._lines: queue.Queue[str] = queue.Queue()
        self._on_gap = on_gap

    def on_event(self, event: Event) -> None:
        if isinstance(event, Connected):
            self.connected.set()  # the SDK logs it at INFO (-v)
            return
        if isinstance(event, Disconnected) and not self.connected.is_set():
            return  # no connection yet: the error that follows says why, in one line
        if self._on_gap is not None and isinstance(event, (Reconnected, DataLoss)):
            self._on_gap(event)
        self._lines.put(describe(event))

    def on_error(self, error: BaseException) -> None:
        if isinstance(error, AuthenticationError) or (
                isinstance(error, (ConnectError, RateLimitError)) and not self.connected.is_set()):
            if self.fatal is None:
                self.fatal = error
            self._lines.put("")  # wakes a main loop waiting for lines
            return
        self._lines.put(f"error: {error}")

    def check(self) -> None:
        """Raise the failure that ends the command, if one came."""
        if self.fatal is not None:
            if isinstance(self.fatal, AuthenticationError):
                raise _Failure(f"the exchange refused the API keys: {self.fatal}")
            raise _Failure(str(self.fatal))

    def lines(self, timeout: float = 0.0) -> list[str]:
        """The lines so far, waiting up to ``timeout`` for the first one."""
        out: list[str] = []
        try:
            out.append(self._lines.get(timeout=timeout) if timeout > 0 else self._lines.get_nowait())
            while True:
                out.append(self._lines.get_nowait())
        except queue.Empty:
            pass
        return [line for line in out if line]


class _Inbox:
    """Messages handed from the SDK's workers to the main thread. Bounded: when the main thread falls
    behind (a slow pipe), the workers wait, the SDK's queues fill, and its overflow policy drops and
    says so in a DataLoss, rather than this process growing without end."""

    def __init__(self, size: int = 10_000) -> None:
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(size)
        self._closed = threading.Event()

    def put(self, message: dict[str, Any]) -> None:
        while not self._closed.is_set():
            try:
                self._queue.put(message, timeout=0.25)
                return
            except queue.Full:
                continue

    def take(self, timeout: float, limit: int = 1_000) -> list[dict[str, Any]]:
        """Up to ``limit`` messages, waiting up to ``timeout`` for the first."""
        try:
            out = [self._queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        while len(out) < limit:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return out

    def close(self) -> None:
        """Let go of any worker waiting to hand over a message: the main thread reads no more."""
        self._closed.set()


def _codes(words: Sequence[str]) -> list[str]:
    """Market codes from the command line: separate words, or comma-separated, repeats dropped."""
    return list(dict.fromkeys(code for word in words for code in word.split(",") if code))


def _check_subscription(kind: str, codes: Sequence[str] | None, **options: Any) -> None:
    """The SDK's own checks of a type, codes and options, before anything is started."""
    try:
        make_spec(kind, codes, **options)
    except InvalidRequestError as exc:
        raise _usage(str(exc)) from None


def _check_listed(rest: RestClient, codes: Sequence[str]) -> None:
    """Upbit ignores a well-formed code it does not list, without a word: say so now. When the list
    cannot be had, the codes go unchecked (the connection will tell what is wrong)."""
    if not codes:
        return
    try:
        listed = {market.market for market in rest.markets()}
    except UpbitError as exc:
        log.info("market codes not checked against the exchange's list: %s", exc)
        return
    unknown = [code for code in codes if code not in listed]
    if unknown:
        raise _usage(f"the exchange lists no market {', '.join(unknown)} (see 'upbit-sync markets')")


def _check_keys(config: Config, kinds: Sequence[str]) -> None:
    """myOrder and myAsset need API keys: say so before connecting anywhere."""
    private = [kind for kind in kinds if kind in PRIVATE_TYPES]
    if private and not config.has_keys:
        raise _usage(f"{' and '.join(private)} need API keys: set UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY "
                     "(or use --fake)")


def _quoted(rest: RestClient, quote: str) -> list[str]:
    """Every market the exchange lists in ``quote`` (``--all-markets``), asked once for all types."""
    try:
        codes = [market.market for market in rest.markets(quote=quote)]
    except UpbitError as exc:
        raise _Failure(f"cannot list the markets: {exc}") from None
    if not codes:
        raise _usage(f"the exchange lists no market quoted in {quote!r}")
    return codes


def _subscribe(client: WebSocketClient, kind: str, codes: Sequence[str] | None,
               callback: Callable[[dict[str, Any]], None], **options: Any) -> Subscription:
    """``client.subscribe`` of DEFAULT-keyed dicts, its refusals turned into failures of the command."""
    try:
        subscribe: Callable[..., Subscription] = client.subscribe
        return subscribe(kind, codes, callback, raw=True, **options)
    except InvalidRequestError as exc:
        raise _usage(str(exc)) from None
    except AuthenticationError as exc:
        raise _usage(f"{exc} (set UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY, or use --fake)") from None
    except UpbitError as exc:  # a REST call behind the subscription (a level check)
        raise _Failure(str(exc)) from None


def _deadline(seconds: float | None) -> float | None:
    return None if seconds is None else time.monotonic() + seconds


def _left(deadline: float | None) -> float:
    """How long the main loop may wait now: a tick, or less when the deadline is nearer."""
    return _TICK if deadline is None else max(0.0, min(_TICK, deadline - time.monotonic()))


def _running(deadline: float | None) -> bool:
    return deadline is None or time.monotonic() < deadline


# ---- stream ------------------------------------------------------------------------------------------


class _Ndjson:
    """``stream``'s default output: one message per line, flushed as soon as the inbox is empty, so a
    pipe into ``jq`` sees each line at once. Events go to stderr, so stdout stays pure data."""

    def __init__(self, command: str) -> None:
        self.command = command

    def write(self, messages: list[dict[str, Any]]) -> None:
        if messages:
            sys.stdout.write("".join(json_line(m) + "\n" for m in messages))
            sys.stdout.flush()

    def note(self, line: str) -> None:
        print(f"upbit-sync {self.command}: {line}", file=sys.stderr, flush=True)

    def finish(self) -> None:
        pass


class _Table:
    """``stream --format table``: the newest message per code, redrawn in place at most 10 times a
    second; events are shown under the table."""

    def __init__(self, kind: str, title: str) -> None:
        self.view = LiveView(kind, title, interval=0.1)

    def write(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self.view.add(message)
        self._draw()

    def note(self, line: str) -> None:
        self.view.note(line)

    def _draw(self, force: bool = False) -> None:
        frame = self.view.frame(force=force)
        if frame is not None:
            sys.stdout.write(frame)
            sys.stdout.flush()

    def finish(self) -> None:
        self._draw(force=True)


def _stream(args: argparse.Namespace) -> int:
    codes = _codes(args.codes)
    options = {} if args.depth is None else {"depth": args.depth}
    _check_subscription(args.type, codes or None, **options)
    title = f"upbit-sync stream {args.type} {' '.join(codes)}".rstrip()
    output = _Ndjson("stream") if args.format == "ndjson" else _Table(args.type, title)
    with contextlib.ExitStack() as stack:
        config = _exchange_config(args, stack)
        _check_keys(config, [args.type])
        watch = _Watch()
        manager = stack.enter_context(WebSocketManager(config))
        client = stack.enter_context(WebSocketClient(manager, on_error=watch.on_error,
                                                     on_event=watch.on_event))
        _check_listed(client.rest, codes)
        inbox = _Inbox()
        stack.callback(inbox.close)  # first of all on the way out: no worker waits on a reader gone
        _subscribe(client, args.type, codes or None, inbox.put, **options)
        deadline = _deadline(args.seconds)  # --seconds count from the subscription
        while _running(deadline):
            output.write(inbox.take(_left(deadline)))
            for line in watch.lines():
                output.note(line)
            watch.check()
        output.finish()
    return 0


# ---- record ------------------------------------------------------------------------------------------


class _Progress:
    """``record``'s status line on stderr, at most once per ``interval`` seconds (0: none): redrawn in
    place on a terminal, one line each time elsewhere (a log). Event lines go above it."""

    def __init__(self, recorder: Recorder, interval: float) -> None:
        self.recorder = recorder
        self.interval = interval
        self.tty = sys.stderr.isatty()
        self._shown = False  # a status line is on the terminal, without its newline
        self._last = (time.monotonic(), 0)  # when the last line was drawn, and the count then

    def tick(self) -> None:
        now = time.monotonic()
        if not self.interval or now - self._last[0] < self.interval:
            return
        stats = self.recorder.stats
        rate = (stats.messages - self._last[1]) / max(now - self._last[0], 1e-9)
        self._last = (now, stats.messages)
        current = self._relative(stats.current) if stats.current else "no file yet"
        line = (f"record: {stats.messages:,} messages ({rate:,.1f}/s), {stats.gaps} gap(s) "
                f"({stats.reconnects} reconnect(s), {stats.dropped:,} lost), writing {current}")
        if self.tty:
            sys.stderr.write(f"\r{line}\x1b[K")
            sys.stderr.flush()
            self._shown = True
        else:
            print(line, file=sys.stderr, flush=True)

    def say(self, line: str) -> None:
        self._end_line()
        print(f"upbit-sync record: {line}", file=sys.stderr, flush=True)

    def finish(self, stats: RecorderStats) -> None:
        self._end_line()
        print(f"record: {stats.messages:,} messages in {len(stats.files)} file(s) under "
              f"{self.recorder.directory}; {stats.reconnects} reconnect(s), {stats.dropped:,} message(s) "
              "lost", file=sys.stderr, flush=True)

    def _end_line(self) -> None:
        if self._shown:
            sys.stderr.write("\n")
            self._shown = False

    def _relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.recorder.directory))
        except ValueError:
            return str(path)


def _record_types(text: str) -> list[str]:
    kinds = list(dict.fromkeys(kind.strip() for kind in text.split(",") if kind.strip()))
    if not kinds:
        raise _usage("name at least one type, e.g. trade or ticker,orderbook")
    return kinds


def _record_plan(args: argparse.Namespace) -> tuple[list[str], list[str], dict[str, dict[str, Any]]]:
    """The types, the codes and each type's subscription options, checked before anything starts."""
    kinds, codes = _record_types(args.types), _codes(args.codes)
    if args.all_markets and codes:
        raise _usage("give market codes or --all-markets, not both")
    if args.depth is not None and "orderbook" not in kinds:
        raise _usage("--depth applies to orderbook, which is not among the types")
    plans: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        options: dict[str, Any] = {"overflow": "block"}  # the recorder waits rather than drop
        if kind == "trade":
            options["backfill"] = True  # trades missed in a reconnect are fetched over REST
        if kind == "orderbook" and args.depth is not None:
            options["depth"] = args.depth
        if args.all_markets and kind in PRIVATE_TYPES:
            raise _usage(f"--all-markets applies to the public types, not to {kind}")
        own = None if kind == "myAsset" else (codes or None)  # myAsset covers the whole account
        placeholder = ["KRW-BTC"] if args.all_markets else own
        _check_subscription(kind, placeholder, **{k: v for k, v in options.items() if k == "depth"})
        plans[kind] = options
    return kinds, codes, plans


def _record(args: argparse.Namespace) -> int:
    kinds, codes, plans = _record_plan(args)
    quote = args.all_markets.upper() if args.all_markets else None
    recorder = Recorder(args.out, kinds, period=args.rotate, compress=args.compress, on_error=_left_to_main)
    progress = _Progress(recorder, args.progress)
    with contextlib.ExitStack() as stack:
        config = _exchange_config(args, stack)
        _check_keys(config, kinds)
        with RestClient(config) as rest:
            if quote is not None:
                codes = _quoted(rest, quote)
            else:
                _check_listed(rest, codes)
        try:
            recorder.start()
        except RecordingError as exc:  # "cannot record into DIR: why"
            raise _Failure(str(exc)) from None
        # unwound after the client and the manager: no callback is left to hand a line over
        stack.push(functools.partial(_finish_recording, recorder, progress))
        watch = _Watch(on_gap=recorder.event)
        manager = stack.enter_context(WebSocketManager(config))
        client = stack.enter_context(WebSocketClient(manager, on_error=watch.on_error,
                                                     on_event=watch.on_event))
        for kind in kinds:
            own = None if kind == "myAsset" else (codes or None)
            _subscribe(client, kind, own, functools.partial(recorder.message, kind), **plans[kind])
        deadline = _deadline(args.seconds)  # --seconds count from the subscriptions
        while _running(deadline):
            for line in watch.lines(_left(deadline)):
                progress.say(line)
            watch.check()
            if recorder.failure is not None:
                raise _Failure(f"cannot write the recording: {recorder.failure}")
            if watch.connected.is_set():  # while it connects there is nothing to count
                progress.tick()
    if recorder.failure is not None:
        raise _Failure(f"cannot finish the recording: {recorder.failure}")
    return 0


def _left_to_main(error: RecordingError) -> None:
    """The recorder's on_error: the main loop tells ``recorder.failure`` as the command's one-line
    error (a recorder without a callback would log it too: a second line)."""


def _finish_recording(recorder: Recorder, progress: _Progress, kind: type[BaseException] | None,
                      error: BaseException | None, traceback: object) -> bool:
    """Write what is queued and finish every file, whatever ended the command (an ExitStack exit
    callback); then the summary, unless a failure ended it before anything was recorded (its own line
    says all)."""
    with _signals_held():
        recorder.close()
        stats = recorder.stats
        if not isinstance(error, _Failure) or stats.messages or stats.gaps:
            progress.finish(stats)
    return False


# ---- replay ------------------------------------------------------------------------------------------


def _replay(args: argparse.Namespace) -> int:
    server = _fake_exchange()(host="127.0.0.1", port=args.port, rest_port=args.rest_port)
    try:
        server.replay(args.files, speed=args.speed)
    except FileNotFoundError as exc:
        raise _usage(str(exc)) from None
    except (RecordingError, OSError) as exc:
        raise _Failure(str(exc)) from None
    recording = server.recording
    assert recording is not None
    for problem in recording.problems:  # the log says it too, but the CLI shows only errors unless -v
        print(f"upbit-sync replay: warning: {problem}", file=sys.stderr, flush=True)
    try:
        server.start()
    except OSError as exc:
        raise _Failure(f"cannot listen on 127.0.0.1:{args.port}: {_reason(exc)}") from None
    status = 0
    try:
        try:
            kinds = Counter(kind for kind, _, _ in recording.streams)
            streams = ", ".join(f"{kind} ({n} code{'s' if n > 1 else ''})"
                                for kind, n in sorted(kinds.items()))
            pace = ("as fast as clients take it" if args.speed == "max"
                    else f"at {args.speed:g}x the recorded pace")
            print(f"replaying {len(recording):,} recorded messages ({recording.span:,.1f} s of "
                  f"{streams or 'nothing'}), {pace}", flush=True)
            print(f"fake Upbit exchange on {server.public_url} (private: {server.private_url}; "
                  f"REST: {server.rest_url})", flush=True)
            print("Ctrl-C to stop", flush=True)
            deadline = _deadline(args.seconds)
            told = False
            while _running(deadline):
                threading.Event().wait(_left(deadline))
                if not told and server.replay_finished():
                    told = True
                    print(f"every client so far has been played all it asked for ({server.replayed:,} "
                          "messages sent); serving on until Ctrl-C", flush=True)
        except _Interrupted as stop:
            status = stop.exit_code
    finally:
        server.stop()
    print("stopped", flush=True)
    return status


# ---- markets -----------------------------------------------------------------------------------------


def _markets(args: argparse.Namespace) -> int:
    quote = args.quote.upper() if args.quote else None
    with contextlib.ExitStack() as stack:
        config = _exchange_config(args, stack)
        rest = stack.enter_context(RestClient(config))
        try:
            every = rest.markets(details=args.details)
        except UpbitError as exc:
            raise _Failure(str(exc)) from None
    found = [market for market in every if quote is None or market.quote == quote]
    if not found:
        quotes = ", ".join(sorted({market.quote for market in every})) or "none"
        raise _Failure(f"the exchange lists no market quoted in {args.quote!r} (quotes: {quotes})")
    if args.format == "ndjson":
        sys.stdout.write("".join(json.dumps(m.raw, ensure_ascii=False, separators=(",", ":")) + "\n"
                                 for m in found))
        sys.stdout.flush()
        return 0
    headers = ["market", "english name", "korean name"]
    rows = [[m.market, m.english_name, m.korean_name] for m in found]
    if args.details:
        headers += ["warning", "caution"]
        for row, market in zip(rows, found, strict=True):
            row += ["yes" if market.warning else "-", ", ".join(market.caution) or "-"]
    lines = table(headers, rows)
    lines.append(f"{len(found)} market{'s' if len(found) != 1 else ''}")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    return 0


# ---- health ------------------------------------------------------------------------------------------

HEALTH_PATH = "/healthz"


def _health_url(text: str) -> str:
    """The URL to ask: ``http://`` when no scheme is given, ``/healthz`` when no path is."""
    url = text if "://" in text else f"http://{text}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError as exc:
        raise _usage(f"not a URL: {redact_url(text)!r} ({redact(str(exc))})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _usage(f"not an http:// or https:// URL with a host: {redact_url(text)!r}")
    path = parts.path if parts.path not in ("", "/") else HEALTH_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _time_left(deadline: float) -> float:
    """Seconds until ``deadline``; TimeoutError once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the deadline passed")
    return left


class _ReadUntil(io.RawIOBase):
    """A socket's reads for http.client, each given only the time left before ``deadline``: a server
    that answers a byte at a time cannot stretch a read past it (a socket timeout bounds one read)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._io = sock.makefile("rb", buffering=0)  # keeps the socket open while the answer is read
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(_time_left(self._deadline))
        return self._io.readinto(buffer)

    def close(self) -> None:
        self._io.close()
        super().close()


class _SocketUntil:
    """A connected socket whose answer (``makefile``, as http.client reads it) ends by ``deadline``;
    everything else is the socket's own."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_ReadUntil(self._sock, self._deadline))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _HTTPUntil(http.client.HTTPConnection):
    """An HTTP connection whose connect, and every read of its answer, end by one deadline."""

    def __init__(self, host: str, *, deadline: float, **options: Any) -> None:
        super().__init__(host, **options)
        self._deadline = deadline

    def connect(self) -> None:
        self.timeout = _time_left(self._deadline)
        super().connect()
        self.sock = _SocketUntil(self.sock, self._deadline)


class _HTTPSUntil(_HTTPUntil, http.client.HTTPSConnection):
    """The same over TLS (the handshake bounded by the socket's timeout, set to the time left)."""


class _HTTPHandlerUntil(urllib.request.HTTPHandler):
    """urllib's http:// handler, on connections that end by ``deadline``."""

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self._deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        # typeshed's connection protocol knows no ``deadline``; do_open passes it on as it is
        return self.do_open(_HTTPUntil, req, deadline=self._deadline)  # type: ignore[arg-type]


class _HTTPSHandlerUntil(urllib.request.HTTPSHandler):
    """urllib's https:// handler, on connections that end by ``deadline``."""

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self._deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPSUntil, req, deadline=self._deadline)  # type: ignore[arg-type]


def _ask_health(url: str, timeout: float) -> tuple[int, bytes]:
    """GET ``url``, within ``timeout`` in all, not per read: the status and body, error statuses
    included. A user and password in the URL go as basic auth; a proxy is never used for a loopback
    address (a health check of this machine must not leave it)."""
    deadline = time.monotonic() + timeout
    parts = urlsplit(url)
    auth = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        auth = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        url = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    handlers: list[urllib.request.BaseHandler] = [_HTTPHandlerUntil(deadline), _HTTPSHandlerUntil(deadline)]
    if _is_loopback(parts.hostname or ""):
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if auth is not None:  # to this host only: a redirect elsewhere does not carry it
        request.add_unredirected_header("Authorization", auth)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:  # 503 and friends: the body says why
        with exc:
            return exc.code, exc.read()


def _health(args: argparse.Namespace) -> int:
    url = _health_url(args.url)
    shown = redact_url(url)
    try:
        status, body = _ask_health(url, args.timeout)
    except urllib.error.URLError as exc:
        cause = exc.reason
        reason = _reason(cause) if isinstance(cause, OSError) else str(cause)
        if isinstance(cause, TimeoutError):
            reason = f"no answer within {args.timeout:g} s"
        print(f"unhealthy: cannot reach {shown}: {redact(reason)}", flush=True)
        return 1
    except TimeoutError:
        print(f"unhealthy: no answer from {shown} within {args.timeout:g} s", flush=True)
        return 1
    except (OSError, http.client.HTTPException) as exc:
        print(f"unhealthy: {shown}: {redact(str(exc)) or type(exc).__name__}", flush=True)
        return 1
    try:
        report = json.loads(body)
    except ValueError:
        report = None
    if not isinstance(report, dict) or not isinstance(report.get("healthy"), bool):
        print(f"unhealthy: {shown} answered {status} without a health report (JSON with \"healthy\")",
              flush=True)
        return 1
    if status == 200 and report["healthy"]:
        print("healthy", flush=True)
        return 0
    reasons = [redact(str(r)) for r in report.get("reasons") or []]
    print(f"unhealthy: {'; '.join(reasons) or f'{shown} answered {status}'}", flush=True)
    return 1


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


def _positive(text: str) -> float:
    """A finite number > 0: ``--seconds`` of the long-running commands, ``--timeout``."""
    value = _amount(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


HEALTH_TIMEOUT_MAX = 3600.0  # a probe that waits longer has no use, and a socket timeout must fit a time_t


def _health_timeout(text: str) -> float:
    """``health --timeout``: more than 0 and at most HEALTH_TIMEOUT_MAX seconds."""
    value = _positive(text)
    if value > HEALTH_TIMEOUT_MAX:
        raise argparse.ArgumentTypeError(f"must be at most {HEALTH_TIMEOUT_MAX:g} seconds, not {text}")
    return value


def _depth(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _period(text: str) -> int:
    try:
        return parse_period(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _speed(text: str) -> float | str:
    """``--speed``: a factor > 0 of the recorded pace, or ``max`` (also 0): as fast as possible."""
    if text.strip().lower() == "max":
        return "max"
    value = _amount(text)
    return "max" if value == 0 else value


_MAIN_HELP = """\
The upbit-sync SDK's command line: stream, record and replay Upbit's market data, list its markets,
check a bot's health endpoint, or watch the SDK recover from a drop against its fake exchange.

Exit status: 0 done, 1 failed at run time, 2 usage error, 130 Ctrl-C, 143 SIGTERM; a closed stdout
(| head) ends a command quietly with 0. 'upbit-sync COMMAND --help' shows each command's examples."""

_MAIN_EXAMPLES = """\
examples:
  upbit-sync demo
  upbit-sync stream trade KRW-BTC --fake | head -5
  upbit-sync record trade KRW-BTC --out data/ --seconds 60 && upbit-sync replay data/"""

_STREAM_HELP = """\
Subscribe one type for some markets and print every message: NDJSON on stdout by default (one message
per line, Upbit's DEFAULT keys plus the SDK's received_at, flushed per line), or a table redrawn in
place. Events (disconnects, data loss) go to stderr. TYPE is ticker, trade, orderbook, candle.1s ...
candle.240m, myOrder or myAsset (these two need UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY).

Without --fake it connects where Config.from_env() says: Upbit, unless UPBIT_WS_URL, UPBIT_REST_URL...
point elsewhere. Exit 0 after --seconds or when stdout is closed (| head), 1 when it cannot connect or
the keys are refused, 2 for a bad type, code or option, 130/143 on Ctrl-C/SIGTERM."""

_STREAM_EXAMPLES = """\
examples:
  upbit-sync stream ticker KRW-BTC KRW-ETH --fake --seconds 5
  upbit-sync stream trade KRW-BTC | jq -c '{price: .trade_price, side: .ask_bid}'
  upbit-sync stream orderbook KRW-BTC,KRW-ETH --depth 5 --format table
  upbit-sync stream candle.1m KRW-BTC --fake | head -3"""

_RECORD_HELP = """\
Record one or more types (comma-separated) for some markets into DIR/<type>/<period>.ndjson.gz: one
message per line (DEFAULT keys plus received_at), UTC periods of --rotate (files named YYYYMMDD-HH, or
YYYYMMDD-HHMM for periods under an hour), closed with flush and fsync at each rotation and at the end.
Gaps are marked in the same files by index lines:
  {"_event": "Reconnected", "connection": ..., "downtime_s": ..., "trades_may_be_missing": ..., "at": ...}
  {"_event": "DataLoss", "connection": ..., "type": ..., "code": ..., "dropped": n, "policy": ...,
   "reason": ..., "at": ...}
Trades are subscribed with backfill: trades missed in a reconnect are fetched over REST and recorded
(stream_type BACKFILL). A progress line goes to stderr. Record into a folder of your own, not a shared
one such as /tmp: a symbolic link where a file or type folder goes is refused, and myOrder/myAsset
files are made readable by you alone (0600, in 0700 folders). Exit 0 after --seconds, 1 when it cannot
connect or write, 2 for a bad argument, 130/143 on Ctrl-C/SIGTERM (the files are finished first)."""

_RECORD_EXAMPLES = """\
examples:
  upbit-sync record trade,orderbook KRW-BTC KRW-ETH --out data/
  upbit-sync record ticker --all-markets KRW --out data/ --rotate 15m
  upbit-sync record trade KRW-BTC --out ~/upbit-recordings --fake --seconds 10
  upbit-sync replay data/ --speed max        # play it back to a bot"""

_REPLAY_HELP = """\
Start the fake exchange with a recording loaded: each client is played the recorded messages of what
it subscribes to, in recorded order and pace (divided by --speed), in the format it asks for. FILE may
be a directory of a recording. Point a bot at the printed URL (UPBIT_WS_URL=... UPBIT_REST_URL=...).
Serves until Ctrl-C (130) or SIGTERM (143), or --seconds (0); a missing file exits 2, files with
nothing readable 1. A bad line (or one over 16 MiB) is skipped and a corrupt gzip file read up to the
damage, each damaged file named in one warning on stderr; the rest plays."""

_REPLAY_EXAMPLES = """\
examples:
  upbit-sync replay data/ --port 8765
  upbit-sync replay data/trade/20261201-15.ndjson.gz --speed 10
  upbit-sync replay data/ --speed max --port 0"""

_MARKETS_HELP = """\
List the markets the exchange lists (GET /v1/market/all) as a table or NDJSON (Upbit's own fields).
Exit 1 when the exchange cannot be reached or lists nothing in --quote."""

_MARKETS_EXAMPLES = """\
examples:
  upbit-sync markets --quote KRW
  upbit-sync markets --details --format ndjson | jq -r 'select(.market_event.warning) | .market'
  upbit-sync markets --fake --quote BTC"""

_HEALTH_HELP = """\
Ask a health endpoint (the SDK's manager.serve_health(), GET /healthz by default) and print one line:
'healthy', or 'unhealthy: <reasons>'. Exit 0 when it answers 200 with {"healthy": true}, 1 otherwise
(503, no answer within --timeout, not a health report), 2 for a URL that is not one. A user and
password in the URL are sent as basic auth and shown masked."""

_HEALTH_EXAMPLES = """\
examples:
  upbit-sync health 127.0.0.1:8080
  upbit-sync health http://bot.internal:9000/healthz --timeout 2"""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="upbit-sync", description=_MAIN_HELP, epilog=_MAIN_EXAMPLES,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"upbit-sync {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    # The same flag after the command: SUPPRESS leaves the value of `-v demo` alone when `demo` has none.
    common = _Parser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log at INFO level")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, summary: str, description: str, examples: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[common], help=summary, description=description,
                                   epilog=examples, formatter_class=argparse.RawDescriptionHelpFormatter)

    stream = command("stream", "print one type's messages as NDJSON or a live table",
                     _STREAM_HELP, _STREAM_EXAMPLES)
    stream.add_argument("type", metavar="TYPE",
                        help="ticker, trade, orderbook, candle.1m, ..., myOrder, myAsset")
    stream.add_argument("codes", metavar="CODE", nargs="*",
                        help="market codes, e.g. KRW-BTC (or KRW-BTC,KRW-ETH)")
    stream.add_argument("--depth", type=_depth, help="orderbook units: 1, 5, 15 or 30")
    stream.add_argument("--format", choices=("ndjson", "table"), default="ndjson",
                        help="ndjson (default) or a table redrawn in place")
    stream.add_argument("--fake", action="store_true", help="against an embedded fake exchange")
    stream.add_argument("--seconds", type=_positive, help="stop after this long (default: until Ctrl-C)")
    stream.set_defaults(run=_stream)

    record = command("record", "record types into rotating NDJSON files, gaps marked",
                     _RECORD_HELP, _RECORD_EXAMPLES)
    record.add_argument("types", metavar="TYPE[,TYPE...]", help="e.g. trade or trade,orderbook,ticker")
    record.add_argument("codes", metavar="CODE", nargs="*", help="market codes (or --all-markets)")
    record.add_argument("--out", required=True, metavar="DIR", help="the recording's directory")
    record.add_argument("--rotate", type=_period, default=3_600, metavar="PERIOD",
                        help="a new file per type every PERIOD, e.g. 15m, 1h (default), 1d")
    record.add_argument("--compress", choices=COMPRESSIONS, default="gzip", help="gzip (default) or none")
    record.add_argument("--all-markets", metavar="QUOTE", help="every market quoted in QUOTE, e.g. KRW")
    record.add_argument("--depth", type=_depth, help="orderbook units: 1, 5, 15 or 30")
    record.add_argument("--fake", action="store_true", help="against an embedded fake exchange")
    record.add_argument("--seconds", type=_positive, help="stop after this long (default: until Ctrl-C)")
    record.add_argument("--progress", type=_amount, default=1.0, metavar="SECONDS",
                        help="seconds between progress lines on stderr (default 1; 0: none)")
    record.set_defaults(run=_record)

    replay = command("replay", "serve a recording through the fake exchange", _REPLAY_HELP,
                     _REPLAY_EXAMPLES)
    replay.add_argument("files", metavar="FILE", nargs="+", help="recording files or directories")
    replay.add_argument("--speed", type=_speed, default=1.0,
                        help="a factor of the recorded pace (default 1), or max: as fast as possible")
    replay.add_argument("--port", type=_port, default=8765, help="0 for any free port (default 8765)")
    replay.add_argument("--rest-port", type=_port, default=0,
                        help="the REST side's port (default 0: any free one)")
    replay.add_argument("--seconds", type=_positive, help="stop after this long (default: until Ctrl-C)")
    replay.set_defaults(run=_replay)

    markets = command("markets", "list the exchange's markets", _MARKETS_HELP, _MARKETS_EXAMPLES)
    markets.add_argument("--quote", metavar="QUOTE", help="only markets quoted in QUOTE, e.g. KRW")
    markets.add_argument("--details", action="store_true", help="with investment warnings and cautions")
    markets.add_argument("--fake", action="store_true", help="the embedded fake exchange's markets")
    markets.add_argument("--format", choices=("table", "ndjson"), default="table",
                         help="table (default) or ndjson")
    markets.set_defaults(run=_markets)

    health = command("health", "check a health endpoint: exit 0 when healthy", _HEALTH_HELP,
                     _HEALTH_EXAMPLES)
    health.add_argument("url", metavar="URL", help="e.g. 127.0.0.1:8080 (/healthz is added when no path)")
    health.add_argument("--timeout", type=_health_timeout, default=5.0,
                        help="seconds the whole check may take (default 5, at most 3600)")
    health.set_defaults(run=_health)

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
    fake.add_argument("--time-scale", type=_positive, default=1.0,
                      help="run the indicator candles' clock this many times as fast (default 1; "
                           "3000: a 5-minute candle closes every 0.1 s)")
    fake.add_argument("--announce-every", type=_positive, default=None, metavar="SECONDS",
                      help="push an announcement to its subscribers this often (default: never)")
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
        except _Failure as failure:
            print(f"upbit-sync {args.command}: error: {failure}", file=sys.stderr, flush=True)
            return failure.code
        except BrokenPipeError:  # stdout closed by its reader (| head): it had what it wanted
            _stdout_to_devnull()
            return 0
    return result
