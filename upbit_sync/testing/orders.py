"""The orders placed on the fake exchange, per access key, as Upbit acknowledged them.

One record, thread-safe, that hands out copies: the REST side places, finds and cancels orders
here (``rest_exchange.py``), and a test reads them through ``FakeUpbitServer.orders``. Nothing
fills: an order stays open until cancelled.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

OPEN_STATES = ("wait", "watch")

Order = dict[str, Any]


class Orders:
    """Every order placed, by access key and uuid, in the order they were placed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, dict[str, Order]] = {}  # access key -> uuid -> order

    def all(self) -> list[Order]:
        """Every order placed (copies, oldest first), of every access key."""
        with self._lock:
            return [dict(order) for orders in self._by_key.values() for order in orders.values()]

    def add(self, key: str, order: Order) -> Order:
        """Keep a new order of ``key``; returns a copy."""
        with self._lock:
            self._by_key.setdefault(key, {})[order["uuid"]] = order
            return dict(order)

    def find(self, key: str, wanted: str | None, identifier: str | None) -> Order | None:
        """A copy of ``key``'s order by uuid (or, without one, by identifier), or None."""
        with self._lock:
            order = self._find(key, wanted, identifier)
            return dict(order) if order is not None else None

    def cancel(self, key: str, wanted: str | None, identifier: str | None) -> tuple[Order | None, bool]:
        """Cancel one order as :meth:`find` finds it: ``(a copy, whether it was open)``; an order no
        longer open is left as it is, and ``(None, False)`` means there is no such order."""
        with self._lock:
            order = self._find(key, wanted, identifier)
            if order is None:
                return None, False
            if order["state"] not in OPEN_STATES:
                return dict(order), False
            order["state"] = "cancel"
            return dict(order), True

    def matching(self, key: str, keep: Callable[[Order], bool]) -> list[Order]:
        """Copies of ``key``'s orders that ``keep`` accepts, oldest first."""
        with self._lock:
            return [dict(o) for o in self._by_key.get(key, {}).values() if keep(o)]

    def cancel_matching(self, key: str, keep: Callable[[Order], bool], newest_first: bool,
                        count: int) -> list[Order]:
        """Cancel the first ``count`` waiting orders of ``key`` that ``keep`` accepts, oldest or
        newest first; returns copies of those cancelled, in that order."""
        with self._lock:
            chosen = [o for o in self._by_key.get(key, {}).values() if o["state"] == "wait" and keep(o)]
            if newest_first:
                chosen.reverse()
            cancelled = chosen[:count]
            for order in cancelled:
                order["state"] = "cancel"
            return [dict(order) for order in cancelled]

    def _find(self, key: str, wanted: str | None, identifier: str | None) -> Order | None:
        for order in self._by_key.get(key, {}).values():
            if (wanted is not None and order["uuid"] == wanted) or (
                    wanted is None and order.get("identifier") == identifier):
                return order
        return None
