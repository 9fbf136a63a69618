"""``client.subscribe_markets(..., follow=True)``: every market of a quote currency, for as long as
it runs (docs/architecture.md §1, §2).

A :class:`MarketFollow` subscribes each market of its quote as a subscription of its own (so a
delisted market is dropped by cancelling its own, and no other market's queued messages are
touched), all made in one batch: one request to the exchange. Its thread,
``upbit-markets-<quote>-<n>`` (a daemon, joined by :meth:`MarketFollow.cancel` and by the client's
``close()``), re-reads ``GET /v1/market/all`` every ``interval`` seconds (through the client's
``RestClient``, so within Upbit's quotation limits), and at once when asked (:meth:`refresh`) or, with
API keys, when a ``trade``-category announcement arrives (where Upbit announces new listings).
Markets newly listed are subscribed and markets gone are dropped, in one batch per re-read, and
each is told once as a :class:`MarketListed` or :class:`MarketDelisted` event, the way the client's
other events reach its ``on_event`` and its streams. A failed re-read keeps the last known set; it
is told to ``on_error`` (or logged) once per outage, and the recovery is logged.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from .errors import InvalidRequestError, SubscriptionError, UpbitError
from .types import Announcement, Event, MarketDelisted, MarketInfo, MarketListed

if TYPE_CHECKING:
    from .client_core import ClientCore
    from .rest import RestClient
    from .subscriptions import Subscription

log = logging.getLogger(__name__)

MIN_INTERVAL, MAX_INTERVAL = 0.1, 86_400.0  # seconds between re-reads of the market list
DEFAULT_INTERVAL = 60.0
LISTING_CATEGORY = "trade"  # the announcement category of Upbit's listing notices (docs/channels.md)
JOIN_TIMEOUT = 5.0
_numbers = itertools.count(1)


class FollowHooks(Protocol):
    """What a follow needs of its client: one batch for many subscriptions (one request), its
    events told the way the client's others are, ``on_error``, and being let go when it ends."""

    def batch(self) -> AbstractContextManager[None]: ...

    def tell_event(self, event: Event) -> None: ...

    def tell(self, error: BaseException) -> bool: ...

    def detach(self, follow: MarketFollow) -> None: ...


class CoreHooks:
    """A client core as a follow's :class:`FollowHooks`: events go through the client's event
    worker (after its queued events, as the manager's own go), and ``close()`` of the client closes
    the follow (it is one of the core's helpers)."""

    def __init__(self, core: ClientCore) -> None:
        self._core = core

    def batch(self) -> AbstractContextManager[None]:
        return self._core.port.batch()

    def tell_event(self, event: Event) -> None:
        core = self._core
        core.port.dispatcher.call(("event", id(core)), core.handle_event, event)

    def tell(self, error: BaseException) -> bool:
        return self._core.tell(error)

    def attach(self, follow: MarketFollow) -> None:
        with self._core.lock:
            self._core.helpers.append(follow)

    def detach(self, follow: MarketFollow) -> None:
        with self._core.lock:
            if follow in self._core.helpers:
                self._core.helpers.remove(follow)


def check_interval(interval: object) -> float:
    """``interval`` as seconds between re-reads, or InvalidRequestError naming it."""
    if (isinstance(interval, bool) or not isinstance(interval, (int, float)) or not math.isfinite(interval)
            or not MIN_INTERVAL <= interval <= MAX_INTERVAL):
        raise InvalidRequestError(f"interval must be a number of seconds from {MIN_INTERVAL:g} to "
                                  f"{MAX_INTERVAL:g}, not {interval!r}")
    return float(interval)


class MarketFollow:
    """Every market Upbit lists in ``quote``, followed; see the module docstring. Made by
    :meth:`WebSocketClient.subscribe_markets` with ``follow=True``; also a context manager."""

    def __init__(self, hooks: FollowHooks, subscribe: Callable[..., Subscription], rest: RestClient,
                 type: str, quote: str, callback: Callable[[Any], object], options: dict[str, Any], *,
                 interval: float, announcements: bool) -> None:
        self.type, self.quote, self.interval = type, quote, interval
        self._hooks, self._subscribe, self._rest = hooks, subscribe, rest
        self._callback, self._options = callback, options
        self._cond = threading.Condition()
        self._change = threading.RLock()  # one change at a time (thread, cancel: on_error may cancel)
        self._closed = False
        self._asked = False
        self._reads = 0
        self._outage: BaseException | None = None  # the error of the failing re-reads, while they fail
        self._listing: dict[str, MarketInfo] = {}
        self._subs: dict[str, Subscription] = {}
        self._notice: Subscription | None = None
        listing = self._read()
        if not listing:
            raise SubscriptionError(f"Upbit lists no market quoted in {quote!r}")
        try:
            with self._change:
                self._apply(listing, tell=False)
            if announcements:  # a listing notice: the list is read again at once
                self._notice = subscribe("announcement", None, self._on_announcement,
                                         categories=[LISTING_CATEGORY])
        except BaseException:
            self._drop_all()
            raise
        self._thread = threading.Thread(target=self._run, name=f"upbit-markets-{quote}-{next(_numbers)}",
                                        daemon=True)

    def start(self) -> MarketFollow:
        """Start the thread (once its client holds it, so closing the client joins it)."""
        self._thread.start()
        return self

    def __repr__(self) -> str:
        state = "cancelled" if self._closed else f"{len(self._subs)} markets"
        return f"<MarketFollow {self.type} {self.quote} {state}>"

    def __enter__(self) -> MarketFollow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()

    @property
    def markets(self) -> tuple[str, ...]:
        """The codes subscribed now, in Upbit's order."""
        with self._change:
            return tuple(self._subs)

    @property
    def listing(self) -> dict[str, MarketInfo]:
        """The markets of ``quote`` as last read, by code (a copy)."""
        with self._change:
            return dict(self._listing)

    @property
    def subscriptions(self) -> dict[str, Subscription]:
        """Each subscribed market's own subscription, by code (a copy)."""
        with self._change:
            return dict(self._subs)

    @property
    def reads(self) -> int:
        """Re-reads of the market list done so far, failed ones included."""
        return self._reads

    @property
    def closed(self) -> bool:
        return self._closed

    def refresh(self) -> None:
        """Read the market list again now rather than at the next interval (it returns at once)."""
        with self._cond:
            self._asked = True
            self._cond.notify_all()

    def cancel(self) -> None:
        """Stop following: the thread joined, every subscription of it cancelled in one request.
        Idempotent, from any thread (a callback's included)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread and self._thread.ident is not None:
            self._thread.join(JOIN_TIMEOUT)
            if self._thread.is_alive():
                log.warning("%s: its thread is still in a REST call; it ends when the call does", self)
        self._drop_all()
        self._hooks.detach(self)

    close = cancel

    # ---- the follow thread ------------------------------------------------------------------------

    def _on_announcement(self, message: Announcement) -> None:
        if message.category == LISTING_CATEGORY:
            self.refresh()

    def _run(self) -> None:
        due = time.monotonic() + self.interval
        while True:
            with self._cond:
                while not self._closed and not self._asked and time.monotonic() < due:
                    self._cond.wait(min(due - time.monotonic(), 1.0))
                if self._closed:
                    return
                self._asked = False
            try:
                listing = self._read()
                if not listing:
                    raise UpbitError(f"the exchange answered an empty market list for {self.quote}")
            except Exception as exc:  # the last known set stays; told once per outage
                self._failed(exc)
            else:
                self._recovered()
                with self._change:
                    if not self._closed:
                        self._apply(listing, tell=True)
            self._reads += 1
            due = time.monotonic() + self.interval

    def _read(self) -> dict[str, MarketInfo]:
        return {market.market: market for market in self._rest.markets(quote=self.quote)}

    def _apply(self, listing: dict[str, MarketInfo], *, tell: bool) -> None:
        """Subscribe what ``listing`` adds, cancel what it lacks, in one batch; then tell each change.
        Called with ``_change`` held."""
        listed = [info for code, info in listing.items() if code not in self._listing]
        delisted = [info for code, info in self._listing.items() if code not in listing]
        if not listed and not delisted:
            self._listing = listing
            return
        now = time.time()
        events: list[Event] = []
        with self._hooks.batch():
            for info in listed:
                try:
                    sub = self._subscribe(self.type, info.market, self._callback, **self._options)
                except UpbitError as exc:
                    if not tell:
                        raise
                    if not self._hooks.tell(exc):
                        log.error("could not subscribe %s %s: %s", self.type, info.market, exc)
                    continue
                self._subs[info.market] = sub
                events.append(MarketListed(sub.connection, self.type, info.market, self.quote,
                                           info.korean_name, info.english_name, now))
            for info in delisted:
                gone = self._subs.pop(info.market, None)
                if gone is not None:
                    gone.cancel()
                events.append(MarketDelisted(gone.connection if gone is not None else "", self.type,
                                             info.market, self.quote, info.korean_name,
                                             info.english_name, now))
        self._listing = listing
        if not tell:
            return
        for event in events:
            log.info("%s %s: %s %s", self.type, self.quote, "listed" if isinstance(event, MarketListed)
                     else "delisted", event.market)  # type: ignore[attr-defined]
            self._hooks.tell_event(event)

    def _drop_all(self) -> None:
        with self._change:
            subs = list(self._subs.values())
            self._subs.clear()
            with self._hooks.batch():
                for sub in subs:
                    sub.cancel()
            if self._notice is not None:
                self._notice.cancel()

    def _failed(self, error: Exception) -> None:
        first = self._outage is None
        self._outage = error
        if not first:
            return
        log.warning("%s %s: the market list could not be read (%s); following the last known %d "
                    "market(s) until it can", self.type, self.quote, error, len(self._subs))
        if not self._hooks.tell(error):
            log.error("reading the %s market list failed: %s", self.quote, error,
                      exc_info=not isinstance(error, UpbitError))

    def _recovered(self) -> None:
        if self._outage is not None:
            self._outage = None
            log.info("%s %s: the market list can be read again", self.type, self.quote)


__all__ = [
    "DEFAULT_INTERVAL",
    "LISTING_CATEGORY",
    "MAX_INTERVAL",
    "MIN_INTERVAL",
    "CoreHooks",
    "FollowHooks",
    "MarketFollow",
    "check_interval",
]
