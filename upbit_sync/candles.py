"""``client.candles()``: one market's closed candle bars, from history to live, each once, in order.

The history comes from REST (:meth:`RestClient.candles`); then each bar from the WebSocket
``candle.<unit>`` type once its bucket has closed (docs/trading.md): when a message for a later
bucket of the market arrives, or once the clock passes the bucket's end plus ``Config.candle_grace``
(the bar is then REST's, which has the exact one; a bucket REST has nothing for had no trade and
gives no bar). What the WebSocket cannot vouch for comes from REST: the buckets between the last bar
and the next (a bucket without trades, or messages lost), and every bucket that began before the
connection last came back (a ``Reconnected`` event, or a snapshot in mid-series): its last trades may
have happened while the connection was down.

One thread per series, ``upbit-candles-<market>-<unit>`` (a daemon, joined by :meth:`close` and by
the client's ``close()``), decides and delivers; the WebSocket callback and the client's events only
note what came and wake it. It keeps a frontier: every bucket that starts before it was delivered or
known to have no bar. The frontier only moves forward and a bar is delivered only at or past it, so
none comes twice or out of order. A REST failure goes to the iterator (raised by ``next()``) or to the
client's ``on_error`` (the log when it has none), and is retried after 1, 2, 4... up to 30 seconds.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ConfigError, InvalidRequestError, StreamTimeout
from .protocol import market_codes
from .rest.candles import UNITS, check_unit
from .types import Candle, CandleBar, Event, Reconnected

if TYPE_CHECKING:
    from .rest import RestClient
    from .subscriptions import Subscription

log = logging.getLogger(__name__)

# the units the WebSocket sends candles of (candle.1s ... candle.240m)
LIVE_UNITS = ("1s", "1m", "3m", "5m", "10m", "15m", "30m", "60m", "240m")
RETRY_FIRST, RETRY_MOST = 1.0, 30.0  # seconds before a failed REST call is tried again
JOIN_TIMEOUT = 5.0
_END = object()


class SeriesCore(Protocol):
    """What a series needs of its client's core: the streams told of events, and ``on_error``."""

    @property
    def streams(self) -> weakref.WeakSet[Any]: ...

    def tell(self, error: BaseException) -> bool: ...


def _start_of(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp())


def _moment(second: int) -> datetime:
    return datetime.fromtimestamp(second, tz=timezone.utc)


class CandleSeries:
    """Closed bars of one market and unit; see the module docstring. Made by
    :meth:`WebSocketClient.candles`: with a callback, a handle (``cancel()``/``close()``); without, a
    blocking iterator of :class:`CandleBar` (``for bar in series``), which ``close()`` ends."""

    def __init__(self, core: SeriesCore, subscribe: Callable[..., Subscription], rest: RestClient,
                 market: str, unit: str, *, history: int, callback: Callable[[CandleBar], object] | None,
                 timeout: float | None, grace: float, decimal: bool) -> None:
        (self.market,) = market_codes([market])
        if check_unit(unit) not in LIVE_UNITS:
            raise InvalidRequestError(f"unit {unit!r} has no WebSocket candle (live units: "
                                      f"{', '.join(LIVE_UNITS)}); RestClient.candles has its history")
        if isinstance(history, bool) or not isinstance(history, int) or history < 0:
            raise InvalidRequestError(f"history must be a whole number >= 0, not {history!r}")
        if callback is not None and not callable(callback):
            raise InvalidRequestError(f"callback must be callable or None, not {callback!r}")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                    or not math.isfinite(timeout) or timeout < 0):
            raise ConfigError(f"timeout must be a finite number of seconds >= 0, not {timeout!r}")
        self.unit, self.history, self.timeout = unit, history, timeout
        self._seconds = UNITS[unit][1] or 1
        self._grace, self._decimal, self._rest, self._core = grace, decimal, rest, core
        self._callback = callback
        self._cond = threading.Condition()
        self._closed = False
        self._frontier: int | None = None  # every bucket before it is delivered or has no bar
        self._live: dict[int, CandleBar] = {}  # the latest WebSocket bar of each open bucket
        self._newest: int | None = None  # the latest bucket a WebSocket message was for
        self._trusted_from = -math.inf  # buckets that began before this (a reconnect) need REST
        self._snapshots = 0
        self._retry_at = 0.0
        self._backoff = RETRY_FIRST
        self._out: deque[Any] = deque()  # the iterator's bars (and errors)
        self._failures = 0
        self.subscription = subscribe(f"candle.{unit}", self.market, self._on_candle)
        core.streams.add(self)
        self._thread = threading.Thread(target=self._run, name=f"upbit-candles-{self.market}-{unit}",
                                        daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"<CandleSeries {self.market} {self.unit}{' closed' if self._closed else ''}>"

    def __enter__(self) -> CandleSeries:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop: the subscription cancelled, the thread joined, an iterating thread's loop ended.
        Idempotent, from any thread (a callback's included)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._out.append(_END)
            self._cond.notify_all()
        self.subscription.cancel()
        self._core.streams.discard(self)
        if threading.current_thread() is not self._thread:
            self._thread.join(JOIN_TIMEOUT)

    cancel = close

    # ---- the news: WebSocket candles (a worker thread) and the client's events ----------------------

    def _on_candle(self, message: Candle) -> None:
        start = _start_of(message.candle_date_time_utc)
        with self._cond:
            if message.stream_type == "SNAPSHOT":
                self._snapshots += 1
                if self._snapshots > 1:  # subscribed again: the connection was down, maybe
                    self._trusted_from = time.time()
            if self._frontier is not None and start < self._frontier:
                return  # a bucket already settled
            self._live[start] = self._bar(message)
            if self._newest is None or start > self._newest:
                self._newest = start
                self._cond.notify_all()

    def _event(self, event: Event) -> None:
        if isinstance(event, Reconnected) and event.connection == self.subscription.connection:
            with self._cond:
                self._trusted_from = time.time()
                self._cond.notify_all()

    def _error(self, error: BaseException) -> None:
        """The client's connection errors: its on_error hears of them; a series waits them out."""

    def _bar(self, message: Candle) -> CandleBar:
        def n(value: float) -> Any:
            return Decimal(repr(value)) if self._decimal else value

        # timestamp 0: the message's is its own time, not the last trade's (docs/trading.md)
        return CandleBar(message.code, self.unit, message.candle_date_time_utc,
                         message.candle_date_time_kst, n(message.opening_price), n(message.high_price),
                         n(message.low_price), n(message.trade_price),
                         n(message.candle_acc_trade_volume), n(message.candle_acc_trade_price), 0,
                         dict(message.raw))

    # ---- the series thread -------------------------------------------------------------------------

    def _horizon(self, now: float) -> int:
        """Every bucket starting before this has closed: by a later message, or by the clock."""
        clock = math.floor((now - self._grace) / self._seconds) * self._seconds
        return clock if self._newest is None else max(clock, self._newest)

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    now = time.time()
                    frontier = self._frontier
                    if now < self._retry_at:
                        wake = self._retry_at
                    elif frontier is None or self._horizon(now) > frontier:
                        break
                    else:  # when the frontier's bucket closes by the clock, if nothing comes first
                        wake = frontier + self._seconds + self._grace
                    self._cond.wait(min(max(wake - now, 0.01), 1.0))
                horizon, newest = self._horizon(now), self._newest
                live = {s: bar for s, bar in self._live.items() if s >= self._trusted_from
                        and (frontier is None or s >= frontier) and newest is not None and s < newest}
            try:
                bars = self._settle(frontier, horizon, live)
            except Exception as exc:  # a REST failure (or a bug): told, and tried again later
                self._failed(exc)
                continue
            with self._cond:
                if self._closed:
                    return
                self._frontier = horizon
                for start in [s for s in self._live if s < horizon]:
                    del self._live[start]
                self._backoff = RETRY_FIRST
            for bar in bars:
                self._deliver(bar)

    def _settle(self, frontier: int | None, horizon: int, live: dict[int, CandleBar]) -> list[CandleBar]:
        """The bars of the buckets from ``frontier`` to ``horizon`` (the history when ``frontier`` is
        None): the WebSocket's where it vouches for them, REST's otherwise."""
        unit: Any = self.unit  # one of LIVE_UNITS
        if frontier is None:
            if not self.history:
                return []
            return self._rest.candles(self.market, unit, self.history, to=_moment(horizon))
        slots = (horizon - frontier) // self._seconds
        found: dict[int, CandleBar] = {}
        if len(live) < slots:
            fetched = self._rest.candles(self.market, unit, slots, to=_moment(horizon))
            found = {_start_of(bar.candle_date_time_utc): bar for bar in fetched}
        found.update(live)
        return [found[start] for start in sorted(found) if frontier <= start < horizon]

    def _failed(self, error: Exception) -> None:
        with self._cond:
            self._retry_at = time.time() + self._backoff
            self._backoff = min(self._backoff * 2, RETRY_MOST)
            if self._callback is None:
                self._out.append(error)
                self._cond.notify_all()
                return
        if not self._core.tell(error):
            self._failures += 1
            if self._failures == 1 or self._failures % 100 == 0:
                log.error("candles of %s %s: %s (%d failure(s); trying again)", self.market, self.unit,
                          error, self._failures, exc_info=self._failures == 1)

    def _deliver(self, bar: CandleBar) -> None:
        if self._closed:  # closed while these bars were being settled: nothing more goes out
            return
        if self._callback is None:
            with self._cond:
                self._out.append(bar)
                self._cond.notify_all()
            return
        try:
            self._callback(bar)
        except Exception as exc:
            self._failed_callback(exc)

    def _failed_callback(self, error: Exception) -> None:
        if not self._core.tell(error):
            self._failures += 1
            if self._failures == 1 or self._failures % 100 == 0:
                log.error("the candle callback of %s %s raised %s: %s (%d failure(s))", self.market,
                          self.unit, type(error).__name__, error, self._failures,
                          exc_info=self._failures == 1)

    # ---- the iterator ------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[CandleBar]:
        if self._callback is not None:
            raise InvalidRequestError("a series made with a callback delivers to it: it is not iterable")
        try:
            while True:
                try:
                    yield self._next()
                except StopIteration:
                    return
        finally:
            self.close()

    def __next__(self) -> CandleBar:
        return self._next()

    def _next(self) -> CandleBar:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        with self._cond:
            while not self._out:
                if self._closed:
                    raise StopIteration
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise StreamTimeout(f"no closed {self.unit} bar of {self.market} within {self.timeout}s")
                self._cond.wait(remaining)
            item = self._out[0]
            if item is _END:
                raise StopIteration
            self._out.popleft()
        if isinstance(item, BaseException):
            raise item
        return item  # type: ignore[no-any-return]


__all__ = ["LIVE_UNITS", "CandleSeries"]
