"""The part of a WebSocketClient that the manager, its subscriptions and its streams hold.

:class:`ClientCore` does not keep the client alive: a client nobody references is collected, and
:func:`release` (its finalizer) cancels what it subscribed. It fans lifecycle events and errors out to
the client's streams, its ``on_event``/``on_error`` and the listeners the client's helpers (an order
tracker, a candle series) add.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .errors import DecodeError
from .manager import ClientPort
from .subscriptions import Subscription, hold
from .types import DataLoss, Event, Reconnected

if TYPE_CHECKING:
    from .rest import RestClient

log = logging.getLogger("upbit_sync.client")

class Helper(Protocol):
    """Something a client made that lives and ends with it (an order tracker, a candle series)."""

    def close(self) -> None: ...


# A callback that keeps raising is logged once with its traceback, then at most once per this long.
ERROR_LOG_INTERVAL = 10.0


class ErrorLog:
    """Logs a repeating failure at ERROR: the first with its traceback, then at most once per
    ``ERROR_LOG_INTERVAL`` with the count since (thousands of failures must not be thousands of lines)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.lock = threading.Lock()
        self.count = 0
        self.suppressed = 0
        self.logged_at = 0.0

    def __call__(self, error: BaseException) -> None:
        now = time.monotonic()
        with self.lock:
            self.count += 1
            first = self.count == 1
            if not first and now - self.logged_at < ERROR_LOG_INTERVAL:
                self.suppressed += 1
                return
            more, self.suppressed, self.logged_at = self.suppressed, 0, now
        if first:
            log.error("%s raised %s: %s", self.what, type(error).__name__, error, exc_info=error)
        else:
            log.error("%s raised %s: %s (%d more failure(s) since the last report, %d in all)",
                      self.what, type(error).__name__, error, more, self.count)


class ClientCore:
    """The part of a client the manager, its subscriptions and its streams hold (subscriptions.ClientHooks
    and Owner, stream.StreamCore); it does not keep the client alive, so a client nobody references is
    collected and its finalizer unsubscribes."""

    def __init__(self, port: ClientPort, on_error: Callable[[BaseException], Any] | None,
                 on_event: Callable[[Event], Any] | None) -> None:
        self.port = port
        self.lock = threading.Lock()
        self.subs: dict[int, Subscription] = {}
        self.streams: weakref.WeakSet[Any] = weakref.WeakSet()  # MessageStream, CandleSeries
        self.on_error = hold(on_error) if on_error else None
        self.on_event = hold(on_event) if on_event else None
        self.closed = False
        self.closing = False  # close() was called: not a garbage-collected client
        self._on_error_failures = ErrorLog("on_error")
        self._callback_failures: dict[int, ErrorLog] = {}  # subscription id -> its log
        self.rest: RestClient | None = None
        # what the client's helpers (order trackers, candle series) hear and how they are closed
        self.listeners: list[Callable[[Event], None]] = []
        self.helpers: list[Helper] = []

    def cancel(self, sub: Subscription) -> None:
        with self.lock:
            self.subs.pop(sub.id, None)
        self.port.remove_subscriptions([sub])

    def cancel_all(self) -> None:
        with self.lock:
            subs = list(self.subs.values())
            self.subs.clear()
        if subs:
            self.port.remove_subscriptions(subs)

    def handle_event(self, event: Event) -> None:
        if isinstance(event, Reconnected):  # this client's own view: are any of its trades gone?
            with self.lock:
                trades = [s for s in self.subs.values() if s.type == "trade"
                          and s.connection == event.connection]
            event = dataclasses.replace(event, trades_may_be_missing=any(not s.backfill for s in trades))
        for stream in list(self.streams):
            stream._event(event)
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception as exc:  # a helper's bug must not stop the others from hearing
                if not self.tell(exc):
                    log.exception("a listener of %r failed", event)
        callback = self.on_event() if self.on_event else None
        if callback is not None:
            callback(event)

    def manager_stopped(self) -> None:
        for stream in list(self.streams):
            stream.close()

    def handle_error(self, error: BaseException) -> None:
        for stream in list(self.streams):
            stream._error(error)
        self.tell(error)

    def tell(self, error: BaseException) -> bool:
        """Pass ``error`` to the application's ``on_error``; False if it has none."""
        callback = self.on_error() if self.on_error else None
        if callback is None:
            return False
        try:
            callback(error)
        except Exception as exc:
            self._on_error_failures(exc)
        return True

    # Subscription reports (worker thread)

    def on_loss(self, sub: Subscription, event: DataLoss) -> None:
        log.warning("data lost on %r: %d message(s) of %s %s dropped (%s)",
                    sub, event.dropped, event.type, event.code, event.policy)
        self.handle_event(event)

    def on_callback_error(self, sub: Subscription, error: BaseException) -> None:
        if self.tell(error):
            log.debug("callback of %r raised %r (given to on_error)", sub, error)
        else:  # nobody else will hear of it
            failures = self._callback_failures.get(sub.id)
            if failures is None:
                failures = self._callback_failures.setdefault(sub.id, ErrorLog(f"callback of {sub!r}"))
            failures(error)

    def on_bad_message(self, sub: Subscription, error: DecodeError, item: dict[str, Any]) -> None:
        self.port.bad_message(sub.connection, error, item)


def release(core: ClientCore) -> None:
    if not core.closing:
        active = [sub for sub in core.subs.values() if sub.active]
        if active:
            log.warning(
                "a WebSocketClient was garbage-collected with %d active subscription(s), now "
                "cancelled: %s; keep a reference to the client (or use it in a with block) for as "
                "long as you want its data", len(active), ", ".join(repr(s) for s in active),
            )
    core.closed = True
    for helper in list(core.helpers):
        helper.close()
    core.cancel_all()
    for stream in list(core.streams):
        stream.close()
    if core.rest is not None:
        core.rest.close()
    core.port.unregister(core)


