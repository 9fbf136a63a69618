"""WebSocketClient: what an application holds (docs/architecture.md §4).

Each component of a program can have its own client; the manager merges every client's wishes into
one request per connection and routes each message only to the clients that asked for it. A client
that is closed, or garbage-collected, takes its subscriptions with it.

The methods are overloaded on the type name, so a type checker knows what each callback gets and
each stream yields (``stream("trade", ...)`` is a ``MessageStream[Trade]``), and a misspelled type
name is a type error.
"""

from __future__ import annotations

import logging
import math
import weakref
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Literal, overload

from .candles import CandleSeries
from .client_core import ClientCore, release
from .config import Overflow, check_overflow
from .errors import (
    AuthenticationError,
    ClosedError,
    ConfigError,
    InvalidRequestError,
    OrderUncertainError,
    SubscriptionError,
    UpbitError,
)
from .feed_manager import FeedManager, FeedPort
from .indicators import IndicatorSpec
from .listings import DEFAULT_INTERVAL, CoreHooks, MarketFollow, check_interval
from .manager import WebSocketManager, port_of
from .protocol import PUBLIC, PUBLIC_TYPES, make_spec, to_message
from .rest import RestClient
from .rest.candles import CandleUnit
from .rest.orders import make_identifier
from .stream import MessageStream, Snapshot
from .subscriptions import Subscription
from .tracker import OrderTracker
from .types import (
    Announcement,
    Candle,
    CandleBar,
    Event,
    Indicator,
    IndicatorSignal,
    MyAsset,
    MyOrder,
    Order,
    Orderbook,
    OrderUpdate,
    SubscriptionList,
    Ticker,
    Trade,
)

log = logging.getLogger(__name__)

Codes = str | Iterable[str]
CandleType = Literal["candle.1s", "candle.1m", "candle.3m", "candle.5m", "candle.10m", "candle.15m",
                     "candle.30m", "candle.60m", "candle.240m"]
PublicType = Literal["ticker", "trade", "orderbook", CandleType]
InfoType = Literal["indicator", "indicator_signal"]
MessageType = Literal[PublicType, "myOrder", "myAsset", "announcement", InfoType]
Raw = dict[str, Any]
Number = int | float | Decimal | str
Timeframe = Literal["5m", "15m", "60m", "240m", "1d"]
# an IndicatorSpec (upbit_sync.RSI(14), ...) or a dict in Upbit's own request form
IndicatorItem = IndicatorSpec | Mapping[str, Any]
Category = Literal["notice", "trade", "wallet", "maintenance", "digital_asset", "nft", "service", "event",
                   "note", "trading", "airdrop", "feature", "disclosure"]

def _check_timeout(timeout: float | None, *, optional: bool) -> None:
    if timeout is None and optional:
        return
    if (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout) or timeout < 0):
        raise ConfigError(f"timeout must be a finite number of seconds >= 0, not {timeout!r}")


class WebSocketClient:
    """Subscribe to Upbit streams with callbacks or iterators; safe to use from any thread."""

    def __init__(
        self,
        manager: WebSocketManager | None = None,
        on_error: Callable[[BaseException], Any] | None = None,
        on_event: Callable[[Event], Any] | None = None,
        *,
        feed: str | None = None,
        group: str | None = None,
        consumer: str | None = None,
    ) -> None:
        """``feed="redis://host/0"``: a ``Publisher``'s messages from Redis Streams, same API (the
        public types; no snapshot(), list_subscriptions() or backfill); ``group``, ``consumer``: a
        consumer group, resumed after a restart (docs/architecture.md §11)."""
        if feed is not None and manager is not None:
            raise ConfigError("give a manager or a feed, not both (or a FeedManager as the manager)")
        if feed is None and (group is not None or consumer is not None):
            raise ConfigError("group and consumer apply to a feed: give feed='redis://...' too")
        if feed is not None:
            manager = FeedManager.for_feed(feed, group, consumer)
        self.manager = manager if manager is not None else WebSocketManager.get_instance()
        self._port = port_of(self.manager)
        self._core = ClientCore(self._port, on_error, on_event)
        self._port.register(self._core)
        self._finalizer = weakref.finalize(self, release, self._core)

    def __repr__(self) -> str:
        state = "closed" if self._core.closed else f"{len(self._core.subs)} subscriptions"
        return f"<WebSocketClient {state}>"

    def __enter__(self) -> WebSocketClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Cancel every subscription and end every stream of this client. Idempotent."""
        self._core.closing = True
        if isinstance(self._port, FeedPort) and not self._core.closed:
            self._port.client_closing(self._core)
        self._finalizer()

    def _check_open(self) -> None:
        if self._core.closed:
            raise ClosedError("this client is closed")

    @property
    def closed(self) -> bool:
        return self._core.closed

    @property
    def subscriptions(self) -> list[Subscription]:
        with self._core.lock:
            return list(self._core.subs.values())

    # ---- subscribe: callbacks -----------------------------------------------------------------------

    @overload
    def subscribe(self, type: Literal["ticker"], codes: Codes, callback: Callable[[Ticker], object], *,
                  raw: Literal[False] = False, snapshot: bool = True,
                  overflow: Overflow | None = None) -> Subscription: ...
    @overload
    def subscribe(self, type: Literal["trade"], codes: Codes, callback: Callable[[Trade], object], *,
                  raw: Literal[False] = False, snapshot: bool = True, overflow: Overflow | None = None,
                  backfill: bool = False) -> Subscription: ...
    @overload
    def subscribe(self, type: Literal["orderbook"], codes: Codes, callback: Callable[[Orderbook], object],
                  *, depth: int | None = None, level: float | None = None, raw: Literal[False] = False,
                  snapshot: bool = True, overflow: Overflow | None = None) -> Subscription: ...
    @overload
    def subscribe(self, type: CandleType, codes: Codes, callback: Callable[[Candle], object], *,
                  raw: Literal[False] = False, snapshot: bool = True,
                  overflow: Overflow | None = None) -> Subscription: ...
    @overload
    def subscribe(self, type: Literal["myOrder"], codes: Codes | None, callback: Callable[[MyOrder], object],
                  *, raw: Literal[False] = False, overflow: Overflow | None = None) -> Subscription: ...
    @overload
    def subscribe(self, type: Literal["myAsset"], codes: None, callback: Callable[[MyAsset], object], *,
                  raw: Literal[False] = False, overflow: Overflow | None = None) -> Subscription: ...
    @overload
    def subscribe(self, type: Literal["announcement"], codes: None,
                  callback: Callable[[Announcement], object], *,
                  categories: Iterable[Category] | None = None, include_body: bool = False,
                  raw: Literal[False] = False, overflow: Overflow | None = None) -> Subscription: ...
    @overload
    def subscribe(self, type: Literal["indicator"], codes: Codes, callback: Callable[[Indicator], object], *,
                  timeframe: Timeframe, indicators: Iterable[IndicatorItem], raw: Literal[False] = False,
                  overflow: Overflow | None = None) -> Subscription: ...
    @overload
    def subscribe(self, type: Literal["indicator_signal"], codes: Codes,
                  callback: Callable[[IndicatorSignal], object], *, timeframe: Timeframe,
                  indicators: Iterable[IndicatorItem], raw: Literal[False] = False,
                  overflow: Overflow | None = None) -> Subscription: ...
    @overload
    def subscribe(self, type: MessageType, codes: Codes | None, callback: Callable[[Raw], object], *,
                  depth: int | None = None, level: float | None = None, raw: Literal[True],
                  snapshot: bool = True, overflow: Overflow | None = None,
                  backfill: bool = False, timeframe: Timeframe | None = None,
                  indicators: Iterable[IndicatorItem] | None = None,
                  categories: Iterable[Category] | None = None,
                  include_body: bool | None = None) -> Subscription: ...

    def subscribe(
        self,
        type: str,
        codes: Codes | None,
        callback: Callable[[Any], object],
        *,
        depth: int | None = None,
        level: float | None = None,
        raw: bool = False,
        snapshot: bool = True,
        overflow: str | None = None,
        backfill: bool = False,
        timeframe: str | None = None,
        indicators: Any = None,
        categories: Any = None,
        include_body: bool | None = None,
    ) -> Subscription:
        """Call ``callback(message)`` on a worker thread for every message of ``type`` for ``codes``.

        ``raw=True`` delivers plain dicts (DEFAULT keys); ``snapshot=False`` skips SNAPSHOT frames;
        ``overflow`` overrides ``Config.overflow`` for this subscription. ``backfill=True`` (trades):
        after a reconnect the trades missed are fetched from REST and delivered, in order and each
        once, before the live ones (``stream_type`` BACKFILL). An orderbook ``level`` is checked
        against the market's supported levels (``Config.validate_levels``).

        ``indicator`` and ``indicator_signal`` (KRW markets) take a ``timeframe`` ("5m" to "1d") and
        ``indicators``: ``[upbit_sync.RSI(14), upbit_sync.MACD()]``, signals with their trigger,
        ``[upbit_sync.RSI(14).oversold(30)]``, or dicts in Upbit's request form. ``announcement``
        (no codes) takes ``categories`` (None: all) and ``include_body``. Raises SubscriptionError on
        a bad type, code or option and AuthenticationError for a private or indicator type without
        keys, before anything is sent.
        """
        self._check_open()
        if not callable(callback):
            raise SubscriptionError(f"callback must be callable, not {callback!r}")
        policy = check_overflow(self._port.config.overflow if overflow is None else overflow,
                                SubscriptionError)
        for name, flag in (("raw", raw), ("snapshot", snapshot), ("backfill", backfill)):
            if not isinstance(flag, bool):
                raise SubscriptionError(f"{name} must be True or False, not {flag!r}")
        spec = make_spec(type, codes, depth=depth, level=level, timeframe=timeframe,
                         indicators=indicators, categories=categories, include_body=include_body)
        if backfill and spec.type != "trade":
            raise SubscriptionError(f"backfill applies to trade only, not to {spec.type!r}")
        if isinstance(self._port, FeedPort):
            self._port.check_subscription(spec, backfill)
        self._port.check_keys(spec.type)  # before anything starts or is asked of REST
        if level and self._port.config.validate_levels:
            self._check_level(spec.codes, level)
        sub = Subscription(spec, callback, raw=raw, snapshot=snapshot, overflow=policy,
                           owner=self._core, backfill=self.rest.trades if backfill else None,
                           decimal=self._port.config.decimal)
        self._port.ensure_started()
        self._port.add_subscription(sub)
        with self._core.lock:
            self._core.subs[sub.id] = sub
        return sub

    @overload
    def subscribe_markets(self, type: PublicType, *, quote: str, callback: Callable[[Any], object],
                          follow: Literal[False] = False, interval: float = DEFAULT_INTERVAL,
                          **options: Any) -> Subscription: ...
    @overload
    def subscribe_markets(self, type: PublicType, *, quote: str, callback: Callable[[Any], object],
                          follow: Literal[True], interval: float = DEFAULT_INTERVAL,
                          **options: Any) -> MarketFollow: ...

    def subscribe_markets(self, type: PublicType, *, quote: str, callback: Callable[[Any], object],
                          follow: bool = False, interval: float = DEFAULT_INTERVAL,
                          **options: Any) -> Subscription | MarketFollow:
        """Subscribe ``type`` for every market Upbit lists in ``quote`` ("KRW", "BTC", "USDT"), in one
        merged request; ``options`` as for :meth:`subscribe`.

        ``follow=True`` keeps following the listing (see :mod:`upbit_sync.listings`): the market list
        is read again every ``interval`` seconds (0.1 to 86400), and at once on a ``trade``
        announcement when keys are set; new markets are subscribed and delisted ones dropped, each
        told once to ``on_event`` and to ``stream(events=True)`` as :class:`MarketListed` or
        :class:`MarketDelisted`. It returns a :class:`MarketFollow` (``markets``, ``refresh()``,
        ``cancel()``), closed with this client."""
        self._check_open()
        if type not in PUBLIC_TYPES:
            raise SubscriptionError(f"subscribe_markets takes a public type ({', '.join(PUBLIC_TYPES)}), "
                                    f"not {type!r}")
        if not isinstance(follow, bool):
            raise InvalidRequestError(f"follow must be True or False, not {follow!r}")
        if not isinstance(quote, str) or not quote.strip():
            raise InvalidRequestError(f"quote must be a currency code such as 'KRW', not {quote!r}")
        if not callable(callback):
            raise InvalidRequestError(f"callback must be callable, not {callback!r}")
        quote = quote.strip().upper()
        subscribe: Callable[..., Subscription] = self.subscribe
        if follow:
            seconds = check_interval(interval)
            hooks = CoreHooks(self._core)
            tracked = MarketFollow(hooks, subscribe, self.rest, type, quote, callback, options,
                                   interval=seconds, announcements=self._port.config.has_keys)
            hooks.attach(tracked)
            return tracked.start()
        codes = [market.market for market in self.rest.markets(quote=quote)]
        if not codes:
            raise SubscriptionError(f"Upbit lists no market quoted in {quote!r}")
        return subscribe(type, codes, callback, **options)

    @property
    def rest(self) -> RestClient:
        """A REST client on this client's Config and keys (made on first use, closed with it)."""
        self._check_open()
        with self._core.lock:
            if self._core.rest is None:
                self._core.rest = RestClient(self._port.config)
            return self._core.rest

    # ---- trading --------------------------------------------------------------------------------------

    def track_orders(self, on_update: Callable[[OrderUpdate], object] | None = None) -> OrderTracker:
        """Follow the account's orders and balances (myOrder, myAsset, and REST after every private
        reconnect): see :class:`~upbit_sync.tracker.OrderTracker`. Closed with this client."""
        self._check_open()
        rest, core = self.rest, self._core
        if not rest.config.has_keys:
            raise AuthenticationError("track_orders needs access_key and secret_key in Config")

        def detach(tracker: OrderTracker) -> None:
            with core.lock:
                core.helpers.remove(tracker)
                core.listeners.remove(tracker.on_event)

        tracker = OrderTracker(rest, on_update, core.tell, self.manager.health, detach)
        with core.lock:
            core.helpers.append(tracker)
            core.listeners.append(tracker.on_event)
        tracker.start([self.subscribe("myOrder", None, tracker.on_my_order),
                       self.subscribe("myAsset", None, tracker.on_my_asset)])
        return tracker

    def place_order(self, market: str, side: str, ord_type: str = "limit", price: Number | None = None,
                    volume: Number | None = None, *, identifier: str | None = None,
                    time_in_force: str | None = None, smp_type: str | None = None) -> Order:
        """:meth:`RestClient.place_order` (exactly once), with every tracker of this client told at
        once: of the identifier before the order is sent, and of the order when it is answered."""
        rest = self.rest
        identifier = identifier if identifier is not None else make_identifier()
        with self._core.lock:
            trackers = [h for h in self._core.helpers if isinstance(h, OrderTracker)]
        for tracker in trackers:
            tracker.expect(identifier)
        try:
            order = rest.place_order(market, side, ord_type, price, volume, identifier=identifier,
                                     time_in_force=time_in_force, smp_type=smp_type)
        except OrderUncertainError:
            raise  # still pending: each tracker looks the identifier up when it reconciles
        except BaseException:
            for tracker in trackers:
                tracker.placed(identifier, None)
            raise
        for tracker in trackers:
            tracker.placed(identifier, order)
        return order

    def _check_level(self, codes: tuple[str, ...], level: float) -> None:
        """An orderbook level each market supports, when Upbit's list can be had."""
        for code in codes:
            try:
                levels = self.rest.supported_levels(code)
            except UpbitError as exc:  # not known now: Upbit itself will just send nothing
                log.warning("orderbook level %g of %s not checked: %s", level, code, exc)
                return
            if levels is not None and not any(math.isclose(level, ok, rel_tol=1e-9) for ok in levels):
                allowed = ", ".join(f"{ok:g}" for ok in levels)
                raise SubscriptionError(f"orderbook level {level:g} is not supported by {code}; "
                                        f"its levels are {allowed}")

    def unsubscribe(self, type: MessageType, codes: Codes | None = None) -> None:
        """Stop receiving ``type`` for ``codes`` (all of this client's codes of that type if None)."""
        self._check_open()
        drop = None if codes is None else set(make_spec("myOrder", codes).codes)
        with self._core.lock:
            affected = [s for s in self._core.subs.values() if s.type == type]
        for sub in affected:
            keep = () if drop is None else tuple(c for c in sub.codes if c not in drop)
            if keep == sub.codes:
                continue
            callback = sub.callback()  # None when its owner is gone: then nothing is kept
            sub.cancel()
            if keep and callback is not None:
                self._resubscribe(sub, keep, callback)

    def _resubscribe(self, sub: Subscription, codes: tuple[str, ...], callback: Callable[[Any], object]
                     ) -> None:
        untyped: Callable[..., Subscription] = self.subscribe
        untyped(sub.type, codes, callback, depth=sub.depth, level=sub.level, raw=sub.raw,
                snapshot=sub.snapshot, overflow=sub.overflow, backfill=sub.backfill, **sub.spec.asked())

    # ---- stream: a blocking iterator ----------------------------------------------------------------

    @overload
    def stream(self, type: Literal["ticker"], codes: Codes, *, timeout: float | None = None,
               events: Literal[False] = False, raw: Literal[False] = False,
               snapshot: bool = True) -> MessageStream[Ticker]: ...
    @overload
    def stream(self, type: Literal["trade"], codes: Codes, *, timeout: float | None = None,
               events: Literal[False] = False, raw: Literal[False] = False,
               snapshot: bool = True) -> MessageStream[Trade]: ...
    @overload
    def stream(self, type: Literal["orderbook"], codes: Codes, *, timeout: float | None = None,
               events: Literal[False] = False, raw: Literal[False] = False, depth: int | None = None,
               level: float | None = None, snapshot: bool = True) -> MessageStream[Orderbook]: ...
    @overload
    def stream(self, type: CandleType, codes: Codes, *, timeout: float | None = None,
               events: Literal[False] = False, raw: Literal[False] = False,
               snapshot: bool = True) -> MessageStream[Candle]: ...
    @overload
    def stream(self, type: Literal["myOrder"], codes: Codes | None, *, timeout: float | None = None,
               events: Literal[False] = False, raw: Literal[False] = False) -> MessageStream[MyOrder]: ...
    @overload
    def stream(self, type: Literal["myAsset"], codes: None, *, timeout: float | None = None,
               events: Literal[False] = False, raw: Literal[False] = False) -> MessageStream[MyAsset]: ...
    @overload
    def stream(self, type: Literal["announcement"], codes: None, *, timeout: float | None = None,
               events: Literal[False] = False, raw: Literal[False] = False,
               categories: Iterable[Category] | None = None,
               include_body: bool = False) -> MessageStream[Announcement]: ...
    @overload
    def stream(self, type: Literal["indicator"], codes: Codes, *, timeout: float | None = None,
               events: Literal[False] = False, raw: Literal[False] = False, timeframe: Timeframe,
               indicators: Iterable[IndicatorItem]) -> MessageStream[Indicator]: ...
    @overload
    def stream(self, type: Literal["indicator_signal"], codes: Codes, *, timeout: float | None = None,
               events: Literal[False] = False, raw: Literal[False] = False, timeframe: Timeframe,
               indicators: Iterable[IndicatorItem]) -> MessageStream[IndicatorSignal]: ...
    @overload
    def stream(self, type: MessageType, codes: Codes | None, *, timeout: float | None = None,
               events: Literal[False] = False, raw: Literal[True], depth: int | None = None,
               level: float | None = None, snapshot: bool = True,
               timeframe: Timeframe | None = None,
               indicators: Iterable[IndicatorItem] | None = None,
               categories: Iterable[Category] | None = None,
               include_body: bool | None = None) -> MessageStream[Raw]: ...
    @overload
    def stream(self, type: Literal["ticker"], codes: Codes, *, timeout: float | None = None,
               events: Literal[True], raw: Literal[False] = False,
               snapshot: bool = True) -> MessageStream[Ticker | Event]: ...
    @overload
    def stream(self, type: Literal["trade"], codes: Codes, *, timeout: float | None = None,
               events: Literal[True], raw: Literal[False] = False,
               snapshot: bool = True) -> MessageStream[Trade | Event]: ...
    @overload
    def stream(self, type: Literal["orderbook"], codes: Codes, *, timeout: float | None = None,
               events: Literal[True], raw: Literal[False] = False, depth: int | None = None,
               level: float | None = None, snapshot: bool = True) -> MessageStream[Orderbook | Event]: ...
    @overload
    def stream(self, type: CandleType, codes: Codes, *, timeout: float | None = None,
               events: Literal[True], raw: Literal[False] = False,
               snapshot: bool = True) -> MessageStream[Candle | Event]: ...
    @overload
    def stream(self, type: Literal["myOrder"], codes: Codes | None, *, timeout: float | None = None,
               events: Literal[True], raw: Literal[False] = False) -> MessageStream[MyOrder | Event]: ...
    @overload
    def stream(self, type: Literal["myAsset"], codes: None, *, timeout: float | None = None,
               events: Literal[True], raw: Literal[False] = False) -> MessageStream[MyAsset | Event]: ...
    @overload
    def stream(self, type: Literal["announcement"], codes: None, *, timeout: float | None = None,
               events: Literal[True], raw: Literal[False] = False,
               categories: Iterable[Category] | None = None,
               include_body: bool = False) -> MessageStream[Announcement | Event]: ...
    @overload
    def stream(self, type: Literal["indicator"], codes: Codes, *, timeout: float | None = None,
               events: Literal[True], raw: Literal[False] = False, timeframe: Timeframe,
               indicators: Iterable[IndicatorItem]) -> MessageStream[Indicator | Event]: ...
    @overload
    def stream(self, type: Literal["indicator_signal"], codes: Codes, *, timeout: float | None = None,
               events: Literal[True], raw: Literal[False] = False, timeframe: Timeframe,
               indicators: Iterable[IndicatorItem]) -> MessageStream[IndicatorSignal | Event]: ...
    @overload
    def stream(self, type: MessageType, codes: Codes | None, *, timeout: float | None = None,
               events: Literal[True], raw: Literal[True], depth: int | None = None,
               level: float | None = None, snapshot: bool = True,
               timeframe: Timeframe | None = None,
               indicators: Iterable[IndicatorItem] | None = None,
               categories: Iterable[Category] | None = None,
               include_body: bool | None = None) -> MessageStream[Raw | Event]: ...

    def stream(
        self,
        type: str,
        codes: Codes | None,
        *,
        timeout: float | None = None,
        events: bool = False,
        raw: bool = False,
        depth: int | None = None,
        level: float | None = None,
        snapshot: bool = True,
        timeframe: str | None = None,
        indicators: Any = None,
        categories: Any = None,
        include_body: bool | None = None,
    ) -> MessageStream[Any]:
        """A blocking iterator over the messages of ``type`` for ``codes`` (and the lifecycle events,
        with ``events=True``).

        ``timeout`` bounds the wait for each message: past it the stream raises
        :class:`StreamTimeout` (a ``TimeoutError``), or the error that keeps its connection down
        (:class:`ConnectError`, :class:`RateLimitError`). Refused keys end a private stream with
        :class:`AuthenticationError` at once. Leaving the loop — break, an exception, ``close()`` on
        the stream or the client — cancels the subscription.
        """
        self._check_open()
        _check_timeout(timeout, optional=True)
        return MessageStream(self._core, self.subscribe, type, codes, timeout=timeout, events=events,
                             raw=raw, depth=depth, level=level, snapshot=snapshot, timeframe=timeframe,
                             indicators=indicators, categories=categories, include_body=include_body)

    def candles(self, market: str, unit: CandleUnit, history: int = 200,
                callback: Callable[[CandleBar], object] | None = None, *,
                timeout: float | None = None) -> CandleSeries:
        """The closed bars of ``market``: the last ``history`` from REST, then each live one once its
        bucket has closed, never twice nor out of order, bars missed while the connection was down
        fetched from REST (see :mod:`upbit_sync.candles`). ``unit`` "1s" to "240m" (the WebSocket's).
        With ``callback``: called with each bar on the series' thread, and the handle has ``close()``.
        Without: iterate it (``timeout`` bounds the wait for each bar, as in :meth:`stream`)."""
        self._check_open()
        return CandleSeries(self._core, self.subscribe, self.rest, market, unit, history=history,
                            callback=callback, timeout=timeout, grace=self._port.config.candle_grace,
                            decimal=self._port.config.decimal)

    # ---- snapshot and listing -----------------------------------------------------------------------

    @overload
    def snapshot(self, type: Literal["ticker"], codes: Codes, timeout: float = 5.0, *,
                 raw: Literal[False] = False) -> Snapshot[Ticker]: ...
    @overload
    def snapshot(self, type: Literal["trade"], codes: Codes, timeout: float = 5.0, *,
                 raw: Literal[False] = False) -> Snapshot[Trade]: ...
    @overload
    def snapshot(self, type: Literal["orderbook"], codes: Codes, timeout: float = 5.0, *,
                 depth: int | None = None, level: float | None = None,
                 raw: Literal[False] = False) -> Snapshot[Orderbook]: ...
    @overload
    def snapshot(self, type: CandleType, codes: Codes, timeout: float = 5.0, *,
                 raw: Literal[False] = False) -> Snapshot[Candle]: ...
    @overload
    def snapshot(self, type: PublicType, codes: Codes, timeout: float = 5.0, *,
                 depth: int | None = None, level: float | None = None,
                 raw: Literal[True]) -> Snapshot[Raw]: ...

    def snapshot(
        self,
        type: str,
        codes: Codes,
        timeout: float = 5.0,
        *,
        depth: int | None = None,
        level: float | None = None,
        raw: bool = False,
    ) -> Snapshot[Any]:
        """The current state of each code, ``{code: message}``, from a short-lived snapshot-only
        request. Codes the exchange sent nothing for (Upbit ignores unknown codes) are absent from
        the result, named in its ``missing`` and in a WARNING."""
        self._check_open()
        _check_timeout(timeout, optional=False)
        if isinstance(self._port, FeedPort):
            self._port.refuse("snapshot()", "it has no snapshot request; subscribe, and the "
                              "publisher's snapshots come first")
        spec = make_spec(type, codes, depth=depth, level=level, is_only_snapshot=True)
        if spec.is_private:
            raise SubscriptionError(f"snapshot() serves the public types, not {type!r}")
        self._port.ensure_usable()
        items = self._port.snapshot(spec, timeout)
        result: Snapshot[Any] = Snapshot({item["code"]: item if raw else to_message(item) for item in items})
        result.missing = tuple(code for code in spec.codes if code not in result)
        if result.missing:
            log.warning("snapshot of %s: no data for %s within %gs (unknown market codes get "
                        "nothing from Upbit)", type, ", ".join(result.missing), timeout)
        return result

    def list_subscriptions(self, timeout: float = 5.0) -> SubscriptionList:
        """What the server says the public connection carries (LIST_SUBSCRIPTIONS)."""
        self._check_open()
        _check_timeout(timeout, optional=False)
        if isinstance(self._port, FeedPort):
            self._port.refuse("list_subscriptions()", "no Upbit connection is open here")
        self._port.ensure_started()
        return self._port.list_subscriptions(PUBLIC, timeout)
