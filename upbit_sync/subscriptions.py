"""Who wants what: subscriptions, the merged set and the routing table of each connection, and
who is told of lifecycle events.

Upbit replaces a connection's whole subscription set on every request, so the wishes of every
component are merged into one set per connection (:class:`SubscriptionManager`). Orderbooks of one
code asked with different depth or level cannot share a connection (Upbit's messages carry the code
without the depth, and what it does with one code twice in a request is not documented), so such a
wish goes to the next connection of a small public pool: never a silent override.

Each connection's :class:`~upbit_sync.router.Router` queues every data message for the subscriptions
that asked for it, by the table made here; :class:`Clients` passes lifecycle events and errors to
every client.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import weakref
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .backfill import Backfill, Fetch
from .errors import DecodeError, SubscriptionError
from .formats import to_default
from .protocol import PUBLIC, SNAPSHOT_TYPES, StreamSpec, to_message
from .router import ALL_MARKETS, DispatchKey, Listener, Router, new_counters
from .types import DataLoss, Event, Message, raw_of

if TYPE_CHECKING:
    from .dispatch import Dispatcher

log = logging.getLogger(__name__)

MAX_PUBLIC_CONNECTIONS = 4


def hold(fn: Callable[..., Any]) -> Callable[[], Callable[..., Any] | None]:
    """A reference to a callback: weak for a bound method, so a component that is only kept alive by
    its own subscription can still be garbage-collected; strong for anything else (a lambda passed
    inline has no other owner)."""
    if hasattr(fn, "__self__") and hasattr(fn, "__func__"):
        return weakref.WeakMethod(fn)
    return lambda: fn


class Owner(Protocol):
    """What a subscription reports to (its client); called on worker threads."""

    def cancel(self, sub: Subscription) -> None: ...

    def on_loss(self, sub: Subscription, event: DataLoss) -> None: ...

    def on_callback_error(self, sub: Subscription, error: BaseException) -> None: ...

    def on_bad_message(self, sub: Subscription, error: DecodeError, item: dict[str, Any]) -> None: ...


class Subscription:
    """One wish of one client: a type, codes, options and a callback. ``cancel()`` ends it."""

    _ids = itertools.count(1)

    def __init__(self, spec: StreamSpec, callback: Callable[[Any], Any], *, raw: bool, snapshot: bool,
                 overflow: str, owner: Owner, backfill: Fetch | None = None, decimal: bool = False) -> None:
        self.id = next(self._ids)
        self.spec = spec
        self._delivery = Delivery(self, callback, raw=raw, snapshot=snapshot, overflow=overflow,
                                  owner=owner, backfill=backfill, decimal=decimal)

    def __repr__(self) -> str:
        codes = ",".join(self.spec.codes) or "all"
        state = "active" if self.active else "cancelled"
        return f"<Subscription #{self.id} {self.spec.type} {codes} on {self.connection or '-'} {state}>"

    @property
    def type(self) -> str:
        return self.spec.type

    @property
    def codes(self) -> tuple[str, ...]:
        return self.spec.codes

    @property
    def depth(self) -> int | None:
        return self.spec.depth

    @property
    def level(self) -> float | None:
        return self.spec.level

    @property
    def raw(self) -> bool:
        return self._delivery.raw

    @property
    def snapshot(self) -> bool:
        return self._delivery.snapshot

    @property
    def overflow(self) -> str:
        return self._delivery.overflow

    @property
    def connection(self) -> str:
        """The connection that carries it (assigned when it is added)."""
        return self._delivery.connection

    @property
    def active(self) -> bool:
        return self._delivery.active

    @property
    def backfill(self) -> bool:
        """Whether trades a reconnect missed are fetched from REST and delivered in order."""
        return self._delivery.backfill is not None

    @property
    def recovered(self) -> int:
        """Trades delivered from REST after reconnects (``backfill=True``)."""
        return self._delivery.backfill.recovered if self._delivery.backfill is not None else 0

    @property
    def delivered(self) -> int:
        """Messages handed to the callback: exact for one code, near for many (workers count)."""
        return self._delivery.delivered

    @property
    def dropped(self) -> int:
        """Messages lost to the overflow policy, as reported."""
        return self._delivery.dropped

    def callback(self) -> Callable[[Any], Any] | None:
        """The callback; None once the object whose method it was has been garbage-collected."""
        return self._delivery.callback()

    def cancel(self) -> None:
        """Stop receiving; the next request to the server leaves these codes out. Idempotent."""
        if self.active:
            self._delivery.owner.cancel(self)


class Delivery:
    """The working part of a Subscription: what the router queues and a worker runs (the
    dispatcher's ``Target``). Its methods run on worker threads."""

    __slots__ = ("_func", "_loss_lock", "_obj", "_spec", "_strong", "active", "backfill", "callback",
                 "connection", "decimal", "deliver", "delivered", "dropped", "overflow", "owner", "raw",
                 "snapshot", "subscription")

    deliver: Callable[[Any], None]  # run one message (typed, or a dict): _plain, or _backfilled

    def __init__(self, subscription: Subscription, callback: Callable[[Any], Any], *, raw: bool,
                 snapshot: bool, overflow: str, owner: Owner, backfill: Fetch | None = None,
                 decimal: bool = False) -> None:
        self.subscription = subscription
        self.raw = raw
        self.decimal = decimal  # Config.decimal: what the careful path makes of a private message
        # a backfilling subscription needs every SNAPSHOT: it tells of a new subscription of a code
        self.snapshot = snapshot or backfill is not None
        self.backfill = (Backfill(backfill, self._backfill_lost, first_snapshot=snapshot)
                         if backfill is not None else None)
        self.deliver = self._plain if self.backfill is None else self._backfilled
        self._spec = subscription.spec
        if self._spec.type not in SNAPSHOT_TYPES:  # its connection carries others' asks too
            self.deliver = self._filtered
        self.overflow = overflow
        self.owner = owner  # the client's core: cancel, errors and loss reports go there
        self.connection = ""  # assigned by the SubscriptionManager
        self.active = True
        self.delivered = 0  # counted by the worker of each key: exact for one code, near for many
        self.dropped = 0
        self._loss_lock = threading.Lock()
        self.callback = hold(callback)
        # The plain function when it is held strongly; for a bound method held weakly, its function
        # and a weak reference to its object (dereferenced in C, where WeakMethod runs Python code).
        weak = isinstance(self.callback, weakref.WeakMethod)
        self._strong = None if weak else callback
        self._func = callback.__func__ if weak else None  # type: ignore[attr-defined]
        self._obj = weakref.ref(callback.__self__) if weak else None  # type: ignore[attr-defined]

    def _plain(self, item: Message | dict[str, Any]) -> None:
        if not self.active:
            return
        message: Any
        if type(item) is not dict:  # typed already, the usual case (Router.feed)
            message = raw_of(item) if self.raw else item  # type: ignore[arg-type]
        elif self.raw:
            message = to_default(item) if "ty" in item else item
        else:  # a frame the strict decoder refused: the careful path says why, or keeps new values
            try:
                message = to_message(item, self.decimal)
            except DecodeError as exc:  # the server's fault, not the callback's
                self.owner.on_bad_message(self.subscription, exc, item)
                return
        strong = self._strong
        if strong is not None:
            strong(message)
        else:
            obj = self._obj()  # type: ignore[misc]
            if obj is None:  # the object whose method this was is gone: so is the subscription
                log.warning("%r ended: the object its callback method belonged to was "
                            "garbage-collected", self.subscription)
                self.owner.cancel(self.subscription)
                return
            self._func(obj, message)  # type: ignore[misc]
        self.delivered += 1

    def _filtered(self, item: Message | dict[str, Any]) -> None:
        """An indicator or announcement: delivered if it is of this subscription's timeframe and
        indicators, or categories (one request carries every subscription's)."""
        if type(item) is not dict:
            item_default = raw_of(item)  # type: ignore[arg-type]
        elif "ty" in item:
            item_default = to_default(item)
        else:
            item_default = item
        if self._spec.accepts(item_default):
            self._plain(item)

    def _backfilled(self, item: Message | dict[str, Any]) -> None:
        """A trade of a backfilling subscription: first what a reconnect missed, then the trade
        itself unless it was delivered already."""
        if not self.active:
            return
        assert self.backfill is not None
        missed, new = self.backfill.admit(item)  # type: ignore[arg-type]
        for trade in missed:
            try:
                self._plain(trade)
            except Exception as exc:  # as the dispatcher would: told, and the next one goes on
                self.report_error(exc)
        if new:
            self._plain(item)

    def _backfill_lost(self, code: str, count: int, reason: str) -> None:
        log.warning("backfill of trade %s on %s incomplete: %s", code, self.connection, reason)
        self.owner.on_loss(self.subscription, DataLoss(self.connection, "trade", code, count, "backfill",
                                                       reason))

    def report_loss(self, key: Hashable, dropped: int) -> None:
        with self._loss_lock:  # several workers serve a subscription of several codes
            self.dropped += dropped
        sub = self.subscription
        kind, code = key if isinstance(key, tuple) else (sub.type, None)
        self.owner.on_loss(sub, DataLoss(self.connection, kind, code, dropped, self.overflow))

    def report_error(self, error: BaseException) -> None:
        self.owner.on_callback_error(self.subscription, error)


RouteKey = tuple[str, str, str | None]  # (connection, type, code)
# a connection's routing table as made here (a router.Table): type -> code -> (dispatch key,
# deliveries, the type's counters)
DeliveryTable = dict[str, dict[str | None, tuple[DispatchKey, tuple[Delivery, ...], list[Any]]]]


class SubscriptionManager:
    """Keeps every active Subscription, assigns each to a connection, and derives from them the set
    each connection must carry and each connection's routing table. Thread-safe; a table is replaced
    whole on each change, so routing (on socket threads) reads it without a lock."""

    def __init__(self, on_change: Callable[[str, Sequence[StreamSpec]], None]) -> None:
        self._on_change = on_change
        self._lock = threading.RLock()
        self._subs: dict[int, Subscription] = {}
        self._sets: dict[str, tuple[StreamSpec, ...]] = {}
        self._routers: dict[str, Router] = {}
        self._counts: dict[str, dict[str, list[Any]]] = {}  # connection -> type -> its counters
        self.listeners: list[Listener] = []  # changed in place: routers share it
        self._held = 0  # batches open: the sets wait for the last to end
        self._held_change = False

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """The adds and removals made inside (by any thread) reach each connection as one change of
        its set: one request, not one per subscription. Routing follows each change at once."""
        with self._lock:
            self._held += 1
        try:
            yield
        finally:
            with self._lock:
                self._held -= 1
                if not self._held and self._held_change:
                    self._held_change = False
                    self._rebuild()

    def __len__(self) -> int:
        return len(self._subs)

    def router(self, connection: str, dispatcher: Dispatcher, metrics: bool = True) -> Router:
        """The router of ``connection``'s messages (made once per connection)."""
        with self._lock:
            router = self._routers.get(connection)
            if router is None:
                router = self._routers[connection] = Router(connection, dispatcher, self.listeners,
                                                            metrics)
                self._rebuild()
            return router

    def add(self, sub: Subscription) -> None:
        """Register and assign a connection; raises (and registers nothing) if the set is invalid."""
        with self._lock:
            sub._delivery.connection = self._assign(sub)
            self._subs[sub.id] = sub
            try:
                self._rebuild()
            except Exception:
                del self._subs[sub.id]
                self._rebuild()
                raise

    def remove_many(self, subs: Sequence[Subscription]) -> None:
        with self._lock:
            changed = False
            for sub in subs:
                sub._delivery.active = False
                changed |= self._subs.pop(sub.id, None) is not None
            if changed:
                self._rebuild()

    def subscriptions(self) -> list[Subscription]:
        with self._lock:
            return list(self._subs.values())

    def routers(self) -> list[Router]:
        with self._lock:
            return list(self._routers.values())

    # ---- internals --------------------------------------------------------------------------------

    def _assign(self, sub: Subscription) -> str:
        spec = sub.spec
        if spec.endpoint != PUBLIC:
            return spec.endpoint  # one private and one info connection: Upbit refuses many
        if spec.type != "orderbook":
            return PUBLIC
        wanted = (spec.depth or 30, spec.level or 0)
        for n in range(1, MAX_PUBLIC_CONNECTIONS + 1):
            name = PUBLIC if n == 1 else f"{PUBLIC}-{n}"
            taken = {
                code: (other.spec.depth or 30, other.spec.level or 0)
                for other in self._subs.values()
                if other.connection == name and other.type == "orderbook"
                for code in other.codes
            }
            if all(taken.get(code, wanted) == wanted for code in spec.codes):
                return name
        raise SubscriptionError(
            f"orderbook {', '.join(spec.codes)}: already asked with {MAX_PUBLIC_CONNECTIONS} "
            "different depth/level options; no connection is left for another"
        )

    def _rebuild(self) -> None:
        index: dict[RouteKey, list[Delivery]] = {}
        # (connection, type, code, options) -> (depth, level, wants snapshot)
        wishes: dict[tuple[Any, ...], list[Any]] = {}
        for sub in self._subs.values():
            spec = sub.spec
            codes: Sequence[str | None] = spec.codes or (
                (ALL_MARKETS,) if spec.type == "myOrder" else (None,)
            )
            for code in codes:
                key = (sub.connection, spec.type, code)
                index.setdefault(key, []).append(sub._delivery)
                wish = wishes.setdefault((*key, spec.options), [spec.depth, spec.level, False])
                wish[2] = wish[2] or sub.snapshot
        if self._held:
            self._held_change = True
        else:
            self._publish_sets(wishes)
        tables: dict[str, DeliveryTable] = {}
        for (connection, kind, code), members in index.items():
            counts = self._counts.setdefault(connection, {}).setdefault(kind, new_counters())
            tables.setdefault(connection, {}).setdefault(kind, {})[code] = (
                (kind, code), tuple(members), counts)
        for table in tables.values():  # myOrder for every market also gets each market's orders
            orders = table.get("myOrder", {})
            every = orders.get(ALL_MARKETS)
            if every is not None:
                for market, (dispatch_key, targets, counts) in list(orders.items()):
                    if market != ALL_MARKETS:
                        orders[market] = (dispatch_key, targets + every[1], counts)
        for name, router in self._routers.items():
            router.set_table(tables.get(name, {}), self._counts.setdefault(name, {}))

    def _publish_sets(self, wishes: dict[tuple[Any, ...], list[Any]]) -> None:
        """Tell the owner each connection's new set where it changed."""
        grouped: dict[tuple[Any, ...], list[str]] = {}
        for (connection, kind, code, options), (depth, level, snapshot) in wishes.items():
            realtime_only = not snapshot or kind not in SNAPSHOT_TYPES
            group = grouped.setdefault((connection, kind, depth, level, realtime_only, options), [])
            if code is not None:
                group.append(code)
        sets: dict[str, list[StreamSpec]] = {}
        for (connection, kind, depth, level, realtime_only, options), codes in grouped.items():
            wire_codes = () if kind == "myOrder" and ALL_MARKETS in codes else tuple(codes)
            sets.setdefault(connection, []).append(
                StreamSpec(kind, wire_codes, depth, level, False, realtime_only, *options)
            )
        new_sets = {name: tuple(specs) for name, specs in sets.items()}
        for name in set(self._sets) | set(new_sets):
            if self._sets.get(name, ()) != new_sets.get(name, ()):
                self._on_change(name, new_sets.get(name, ()))
        self._sets = new_sets


class ClientHooks(Protocol):
    """What every client is told; called on a worker thread."""

    def handle_event(self, event: Event) -> None: ...

    def handle_error(self, error: BaseException) -> None: ...

    def manager_stopped(self) -> None:
        """The manager was stopped: blocking iterators must end rather than wait forever."""


class Clients:
    """Every client of a manager (held weakly) and the listeners: who hears of lifecycle events and
    errors. A client's news runs on one worker, in order, after the messages queued there."""

    def __init__(self, dispatcher: Dispatcher, listeners: list[Listener]) -> None:
        self._dispatcher = dispatcher
        self._listeners = listeners
        self._clients: weakref.WeakSet[ClientHooks] = weakref.WeakSet()

    def add(self, client: ClientHooks) -> None:
        self._clients.add(client)

    def discard(self, client: ClientHooks) -> None:
        self._clients.discard(client)

    def event(self, event: Event) -> None:
        for client in list(self._clients):
            self._dispatcher.call(("event", id(client)), client.handle_event, event)
        for listener in list(self._listeners):
            try:
                listener.on_event(event)
            except Exception:
                log.exception("listener failed on %r", event)

    def error(self, error: BaseException) -> None:
        for client in list(self._clients):
            self._dispatcher.call(("event", id(client)), client.handle_error, error)
        for listener in list(self._listeners):
            try:
                listener.on_error(error)
            except Exception:
                log.exception("listener failed on error %r", error)

    def manager_stopped(self) -> None:
        for client in list(self._clients):
            try:
                client.manager_stopped()
            except Exception:
                log.exception("client failed to stop")


__all__ = ["ClientHooks", "Clients", "Delivery", "Owner", "Subscription", "SubscriptionManager", "hold"]
