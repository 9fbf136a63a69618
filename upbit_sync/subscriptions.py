"""SubscriptionManager: who wants what, the merged set per connection, and the routing index.

Upbit replaces a connection's whole subscription set on every request, so the wishes of every
component are merged into one set per connection. Orderbooks of one code asked with different depth or
level cannot share a connection (Upbit's messages carry the code without the depth, and what it does
with one code twice in a request is not documented), so such a wish goes to the next connection of a
small public pool: never a silent override.
"""

from __future__ import annotations

import itertools
import logging
import threading
import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from .errors import DecodeError, SubscriptionError
from .formats import to_default
from .protocol import StreamSpec, builders, is_private, to_message
from .types import DataLoss

log = logging.getLogger(__name__)

PUBLIC = "public"
PRIVATE = "private"
ALL_MARKETS = "*"  # routing code of a myOrder subscription without codes
MAX_PUBLIC_CONNECTIONS = 4


def _hold(fn: Callable[..., Any]) -> Callable[[], Callable[..., Any] | None]:
    """A reference to a callback: weak for a bound method, so a component that is only kept alive by
    its own subscription can still be garbage-collected; strong for anything else (a lambda passed
    inline has no other owner)."""
    if hasattr(fn, "__self__") and hasattr(fn, "__func__"):
        ref = weakref.WeakMethod(fn)
        return ref
    return lambda: fn


class Subscription:
    """One wish of one client: a type, codes, options and a callback. ``cancel()`` ends it."""

    _ids = itertools.count(1)

    def __init__(
        self,
        spec: StreamSpec,
        callback: Callable[[Any], Any],
        *,
        raw: bool,
        snapshot: bool,
        overflow: str,
        owner: Any,
    ) -> None:
        self.id = next(self._ids)
        self.spec = spec
        self.raw = raw
        self.snapshot = snapshot
        self.overflow = overflow
        self.connection = ""  # assigned by the SubscriptionManager
        self.active = True
        self.delivered = 0  # counted by the worker of each key: exact for one code, near for many
        self.dropped = 0
        self._loss_lock = threading.Lock()
        self._callback = _hold(callback)
        # the plain function itself when it is held strongly: one call less per message
        self._strong = callback if not isinstance(self._callback, weakref.WeakMethod) else None
        self._build_default, self._build_simple = builders(spec.type)
        self._owner = owner  # the client's core: cancel, errors and loss reports go there

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

    def cancel(self) -> None:
        """Stop receiving; the next request to the server leaves these codes out. Idempotent."""
        if self.active:
            self._owner.cancel(self)

    # ---- called by the dispatcher on a worker thread ----------------------------------------------

    def deliver(self, item: dict[str, Any]) -> None:
        if not self.active:
            return
        callback = self._strong
        if callback is None:
            callback = self._callback()
            if callback is None:  # the object whose method this was is gone: so is the subscription
                log.warning("%r ended: the object its callback method belonged to was "
                            "garbage-collected", self)
                self._owner.cancel(self)
                return
        if self.raw:
            callback(to_default(item) if "ty" in item else item)
        else:
            build = self._build_simple if "ty" in item else self._build_default
            message: Any
            try:
                message = build(item)
            except Exception:  # a malformed or unusual message: the careful path says why
                try:
                    message = to_message(item)
                except DecodeError as exc:  # the server's fault, not the callback's
                    self._owner.on_bad_message(self, exc, item)
                    return
            callback(message)
        self.delivered += 1

    def report_loss(self, key: Hashable, dropped: int) -> None:
        with self._loss_lock:  # several workers serve a subscription of several codes
            self.dropped += dropped
        kind, code = key if isinstance(key, tuple) else (self.type, None)
        self._owner.on_loss(self, DataLoss(self.connection, kind, code, dropped, self.overflow))

    def report_error(self, error: BaseException) -> None:
        self._owner.on_callback_error(self, error)


RouteKey = tuple[str, str, str | None]  # (connection, type, code)
DispatchKey = tuple[str, str | None]  # (type, code): what picks the worker
# connection -> type -> code -> (dispatch key, subscriptions): nested, so a lookup makes no tuple
Routes = dict[str, dict[str, dict[str | None, tuple[DispatchKey, tuple["Subscription", ...]]]]]


class SubscriptionManager:
    """Keeps every active Subscription, assigns each to a connection, and derives from them the set
    each connection must carry and the routing index. Thread-safe; the index is replaced whole on each
    change, so routing (on socket threads) reads it without a lock."""

    def __init__(self, on_change: Callable[[str, Sequence[StreamSpec]], None]) -> None:
        self._on_change = on_change
        self._lock = threading.RLock()
        self._subs: dict[int, Subscription] = {}
        self.routes: Routes = {}  # replaced whole on each change: socket threads read it lock-free
        self._sets: dict[str, tuple[StreamSpec, ...]] = {}

    def __len__(self) -> int:
        return len(self._subs)

    def add(self, sub: Subscription) -> None:
        """Register and assign a connection; raises (and registers nothing) if the set is invalid."""
        with self._lock:
            sub.connection = self._assign(sub)
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
                sub.active = False
                changed |= self._subs.pop(sub.id, None) is not None
            if changed:
                self._rebuild()

    def subscriptions(self) -> list[Subscription]:
        with self._lock:
            return list(self._subs.values())

    def route(self, connection: str, kind: str, code: str | None) -> tuple[Subscription, ...]:
        """The subscriptions a message of ``(kind, code)`` from ``connection`` goes to."""
        by_code = self.routes.get(connection, {}).get(kind)
        if by_code is None:
            return ()
        entry = by_code.get(code) or by_code.get(ALL_MARKETS)
        return entry[1] if entry else ()

    def merged(self, connection: str) -> tuple[StreamSpec, ...]:
        return self._sets.get(connection, ())

    # ---- internals --------------------------------------------------------------------------------

    def _assign(self, sub: Subscription) -> str:
        spec = sub.spec
        if is_private(spec.type):
            return PRIVATE
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
        index: dict[RouteKey, list[Subscription]] = {}
        # (connection, type, code) -> (depth, level, wants snapshot)
        wishes: dict[RouteKey, list[Any]] = {}
        for sub in self._subs.values():
            spec = sub.spec
            codes: Sequence[str | None] = spec.codes or (
                (ALL_MARKETS,) if spec.type == "myOrder" else (None,)
            )
            for code in codes:
                key = (sub.connection, spec.type, code)
                index.setdefault(key, []).append(sub)
                wish = wishes.setdefault(key, [spec.depth, spec.level, False])
                wish[2] = wish[2] or sub.snapshot
        sets: dict[str, list[StreamSpec]] = {}
        grouped: dict[tuple[Any, ...], list[str]] = {}
        for (connection, kind, code), (depth, level, snapshot) in wishes.items():
            group = (connection, kind, depth, level, not snapshot)
            grouped.setdefault(group, [])
            if code is not None:
                grouped[group].append(code)
        for (connection, kind, depth, level, realtime_only), codes in grouped.items():
            wire_codes = () if kind == "myOrder" and ALL_MARKETS in codes else tuple(codes)
            sets.setdefault(connection, []).append(
                StreamSpec(kind, wire_codes, depth, level, False, realtime_only)
            )
        new_sets = {name: tuple(specs) for name, specs in sets.items()}
        for name in set(self._sets) | set(new_sets):
            if self._sets.get(name, ()) != new_sets.get(name, ()):
                self._on_change(name, new_sets.get(name, ()))
        self._sets = new_sets
        routes: Routes = {}
        for (connection, kind, code), members in index.items():
            routes.setdefault(connection, {}).setdefault(kind, {})[code] = (
                (kind, code), tuple(members)
            )
        for by_kind in routes.values():  # myOrder for every market also gets each market's orders
            orders = by_kind.get("myOrder", {})
            every = orders.get(ALL_MARKETS)
            if every is not None:
                for market, (dispatch_key, targets) in list(orders.items()):
                    if market != ALL_MARKETS:
                        orders[market] = (dispatch_key, targets + every[1])
        self.routes = routes


__all__ = ["PRIVATE", "PUBLIC", "Subscription", "SubscriptionManager"]
