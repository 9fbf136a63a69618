"""Who wants what: subscriptions, the merged set per connection, and routing to the subscribers.

Upbit replaces a connection's whole subscription set on every request, so the wishes of every
component are merged into one set per connection (:class:`SubscriptionManager`). Orderbooks of one
code asked with different depth or level cannot share a connection (Upbit's messages carry the code
without the depth, and what it does with one code twice in a request is not documented), so such a
wish goes to the next connection of a small public pool: never a silent override.

Each connection's :class:`Router` queues every data message for the subscriptions that asked for it;
:class:`Clients` passes lifecycle events and errors to every client.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from .backfill import Backfill, Fetch
from .errors import DecodeError, SubscriptionError
from .formats import to_default
from .protocol import PUBLIC, SNAPSHOT_TYPES, STRICT_ERRORS, StreamSpec, to_message
from .types import DataLoss, Event, Message, StreamType, raw_of

if TYPE_CHECKING:
    from .dispatch import Dispatcher

log = logging.getLogger(__name__)

ALL_MARKETS = "*"  # routing code of a myOrder subscription without codes
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


_SNAPSHOT = StreamType.SNAPSHOT
_stamp = msgspec.structs.force_setattr
RouteKey = tuple[str, str, str | None]  # (connection, type, code)
DispatchKey = tuple[str, str | None]  # (type, code): what picks the worker
# type -> code -> (dispatch key, deliveries, the type's counters), per connection: nested, so a lookup
# makes no tuple. The counters, [messages, bytes, received_at of the last, sizes], outlive the
# tables; ``sizes`` holds the frame sizes routed since the last hand-off, which folds them in.
Table = dict[str, dict[str | None, tuple[DispatchKey, tuple[Delivery, ...], list[Any]]]]
# the router's own: the same, plus the worker's index and whether every delivery drops on overflow
# (then a batch is queued in one step: Dispatcher.submit_many)
RouteTable = dict[str, dict[str | None, tuple[DispatchKey, tuple[Delivery, ...], list[Any], int, bool]]]


class Listener(Protocol):
    """Something that sees every data message (DEFAULT keys) and every lifecycle event, on the
    thread they happen on (socket or watchdog): it must return quickly. For tests and tools."""

    def on_messages(self, connection: str, items: list[dict[str, Any]]) -> None: ...

    def on_event(self, event: Event) -> None: ...

    def on_error(self, error: BaseException) -> None: ...


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
        self._publish_sets(wishes)
        tables: dict[str, Table] = {}
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


def new_counters() -> list[Any]:
    """A type's counters on one connection: [messages, bytes, received_at of the last, sizes]."""
    return [0, 0, 0.0, []]


class Router:
    """Routes each data message of one connection to its subscriptions' workers (socket thread)."""

    __slots__ = ("_decode", "_dispatcher", "_fallback", "_listeners", "_pending", "_plain", "counts",
                 "metrics", "name", "snapshots_seen", "table")

    def __init__(self, name: str, dispatcher: Dispatcher, listeners: list[Listener],
                 metrics: bool = True) -> None:
        self.name = name
        self.metrics = metrics  # stamp received_at and count per type (Config.metrics)
        self.table: RouteTable = {}  # replaced whole by set_table
        self._dispatcher = dispatcher
        self._listeners = listeners
        # (type, code) that got a SNAPSHOT on the current socket: the snapshot grace check reads it
        self.snapshots_seen: set[tuple[str, str | None]] = set()
        # type -> [messages, bytes, received_at of the last one, sizes not yet added]: read by
        # metrics, written here only (on the socket thread)
        self.counts: dict[str, list[Any]] = {}  # given by the SubscriptionManager with each table
        self._decode: Callable[[bytes | str], Message] | None = None
        self._fallback: Callable[[bytes | str, float], None] | None = None
        # Entries routed during one socket read, per worker, queued by hand_off when the read's
        # frames are done: one lock and one wake-up decision per worker and read, not per message.
        self._pending: list[list[Any]] = [[] for _ in range(dispatcher.workers)]
        self._plain = [True] * dispatcher.workers  # no conflating or blocking delivery among them

    def set_table(self, table: Table, counts: dict[str, list[Any]]) -> None:
        """What to route where (from the SubscriptionManager), and the counters per type."""
        index = self._dispatcher.index_of
        self.table = {
            kind: {code: (key, targets, counters[3], index(key),
                          all(target.overflow in ("drop_oldest", "drop_newest") for target in targets))
                   for code, (key, targets, counters) in by_code.items()}
            for kind, by_code in table.items()
        }
        self.counts = counts

    def hand_off(self) -> None:
        """Queue what was routed since the last hand-off (the end of each socket read's frames), and
        add its frames to the counters per type: one clock read and one sum per type and read, not
        an update of three counters per message."""
        if self.metrics:
            now = 0.0
            for counters in self.counts.values():
                sizes = counters[3]
                if sizes:
                    counters[0] += len(sizes)
                    counters[1] += sum(sizes)
                    counters[2] = now = now or time.time()
                    sizes.clear()
        pending, plain = self._pending, self._plain
        submit_many = self._dispatcher.submit_many
        for i, entries in enumerate(pending):
            if entries:
                submit_many(i, entries, plain[i])
                pending[i] = []
                plain[i] = True

    def use(self, decode: Callable[[bytes | str], Message],
            fallback: Callable[[bytes | str, float], None]) -> None:
        """Decode frames for :meth:`feed` with ``decode`` (a protocol.typed_decoder); what it refuses
        goes to ``fallback`` (a FrameReader's feed, which sorts it and calls :meth:`route`)."""
        self._decode, self._fallback = decode, fallback

    def route(self, item: dict[str, Any], size: int, received_at: float = 0.0) -> bool:
        """Queue one message (DEFAULT or SIMPLE keys; ``size``: its frame's bytes; ``received_at``:
        when its socket read happened, stamped on the message) for its subscriptions; False if it has
        no usable type or code."""
        metrics = self.metrics
        if metrics:
            item["received_at"] = received_at
        if self._listeners:
            self._tell_listeners(item)
        if "ty" in item:
            kind, code, stream_type = item["ty"], item.get("cd"), "st"
        else:
            kind, code, stream_type = item["type"], item.get("code"), "stream_type"
        try:
            by_code = self.table.get(kind)
            if by_code is None:
                return type(kind) is str
            entry = by_code.get(code) or by_code.get(ALL_MARKETS)
        except TypeError:  # an unhashable type or code
            return False
        if entry is None:
            return code is None or type(code) is str
        key, targets, sizes, worker, plain = entry
        if metrics:
            sizes.append(size)  # counted at the hand-off
        snapshot = item.get(stream_type) == "SNAPSHOT"
        if snapshot:  # once per code and request
            self.snapshots_seen.add((kind, code))
        pending = self._pending[worker]
        for target in targets:
            if snapshot and not target.snapshot:
                continue
            pending.append((target, key, item, size))  # queued by hand_off at the read's end
        if not plain:
            self._plain[worker] = False
        return True

    def feed(self, frame: bytes | str, received_at: float = 0.0) -> None:
        """Decode one frame straight into its typed message and queue it for its subscriptions (the
        hot path: one Python call per frame here, one in the dispatcher); a frame the decoder refuses
        goes to the fallback. What is routed waits for :meth:`hand_off`."""
        try:
            message: Any = self._decode(frame)  # type: ignore[misc]
        except STRICT_ERRORS:
            self._fallback(frame, received_at)  # type: ignore[misc]
            return
        metrics = self.metrics
        if metrics:
            _stamp(message, "received_at", received_at)  # a field of a frozen struct, set in C
        if self._listeners:
            self._tell_listeners(message)
        kind, code = message.type, message.code
        by_code = self.table.get(kind)
        if by_code is None:
            return
        entry = by_code.get(code) or by_code.get(ALL_MARKETS)
        if entry is None:
            return
        key, targets, sizes, worker, plain = entry
        size = len(frame)
        if metrics:
            sizes.append(size)  # counted at the hand-off
        pending = self._pending[worker]
        if message.stream_type is _SNAPSHOT:  # once per code and request
            self.snapshots_seen.add((kind, code))
            for target in targets:
                if target.snapshot:
                    pending.append((target, key, message, size))
        else:
            for target in targets:
                pending.append((target, key, message, size))  # queued by hand_off at the read's end
        if not plain:
            self._plain[worker] = False

    def _tell_listeners(self, item: Message | dict[str, Any]) -> None:
        default = [to_default(item) if "ty" in item else item] if isinstance(item, dict) else [item.raw]
        for listener in list(self._listeners):
            try:
                listener.on_messages(self.name, default)
            except Exception:
                log.exception("listener failed on a message from %s", self.name)


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


__all__ = ["ALL_MARKETS", "Clients", "Delivery", "Listener", "Router", "Subscription",
           "SubscriptionManager", "hold"]
