"""The orders of the fake exchange's accounts, as records the matcher changes and renders.

:class:`OrderRecord` is one order (exact ``Decimal`` figures), rendered as Upbit's REST order object
(:meth:`OrderRecord.rest`) or as a myOrder event (:meth:`OrderRecord.my_order`). :class:`Orders`
keeps them per access key in the order they were placed, with the identifiers each account has
used (burnt forever, docs/trading.md) and the orders a fault keeps out of sight for a while.
It has no lock of its own: the matcher uses it under its lock.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from .rest_params import decimal_text

OPEN_STATES = ("wait", "watch")
CLOSED_STATES = ("done", "cancel")
KST = timezone(timedelta(hours=9))
ZERO = Decimal(0)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


@dataclass
class Fill:
    """One trade of an order."""

    uuid: str
    price: Decimal
    volume: Decimal
    fee: Decimal
    is_maker: bool
    at: float  # time.time()

    @property
    def funds(self) -> Decimal:
        return self.price * self.volume


@dataclass
class OrderRecord:
    """One order. ``price`` is the unit price of a limit order and the amount to spend of a
    ``price`` or ``best`` buy; ``volume`` is None for those buys. ``locked`` is what the order still
    holds in the ledger: quote (fees included) for a buy, base for a sell."""

    key: str
    market: str
    side: str
    ord_type: str
    price: Decimal | None
    volume: Decimal | None
    time_in_force: str | None
    smp_type: str
    identifier: str | None
    reserved_fee: Decimal
    locked: Decimal
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    state: str = "wait"
    created: float = field(default_factory=time.time)
    executed_volume: Decimal = ZERO
    executed_funds: Decimal = ZERO
    paid_fee: Decimal = ZERO
    fills: list[Fill] = field(default_factory=list)

    @property
    def quote(self) -> str:
        return self.market.split("-", 1)[0]

    @property
    def base(self) -> str:
        return self.market.split("-", 1)[1]

    @property
    def remaining_volume(self) -> Decimal | None:
        return None if self.volume is None else self.volume - self.executed_volume

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def created_at(self) -> str:
        return datetime.fromtimestamp(self.created, KST).isoformat(timespec="seconds")

    def rest(self, *, trades: bool = False, funds: bool = False) -> dict[str, Any]:
        """The REST order object; ``trades`` for ``GET /v1/order``, ``funds`` (``executed_funds``)
        for the list endpoints (docs/trading.md)."""
        order: dict[str, Any] = {
            "uuid": self.uuid, "side": self.side, "ord_type": self.ord_type, "price": _text(self.price),
            "state": self.state, "market": self.market, "created_at": self.created_at(),
            "volume": _text(self.volume), "remaining_volume": _text(self.remaining_volume),
            "reserved_fee": decimal_text(self.reserved_fee),
            "remaining_fee": decimal_text(max(ZERO, self.reserved_fee - self.paid_fee)),
            "paid_fee": decimal_text(self.paid_fee), "locked": decimal_text(self.locked),
            "executed_volume": decimal_text(self.executed_volume), "prevented_volume": "0",
            "prevented_locked": "0", "trades_count": len(self.fills),
            "time_in_force": self.time_in_force, "smp_type": self.smp_type,
        }
        if self.identifier is not None:  # an order placed without one shows none
            order["identifier"] = self.identifier
        if funds:
            order["executed_funds"] = decimal_text(self.executed_funds)
        if trades:
            order["trades"] = [{
                "market": self.market, "uuid": fill.uuid, "price": decimal_text(fill.price),
                "volume": decimal_text(fill.volume), "funds": decimal_text(fill.funds),
                "trend": "up" if self.side == "bid" else "down", "side": self.side,
                "created_at": datetime.fromtimestamp(fill.at, KST).isoformat(timespec="microseconds"),
            } for fill in self.fills]
        return order

    def my_order(self, state: str | None = None, fill: Fill | None = None) -> dict[str, Any]:
        """The myOrder event (DEFAULT keys) of this order now: ``state`` as it is unless given
        (``trade`` with the ``fill`` it reports, whose price and volume it carries)."""
        now = int(time.time() * 1000)
        executed = self.executed_volume
        return {
            "type": "myOrder", "code": self.market, "uuid": self.uuid, "ask_bid": self.side.upper(),
            "order_type": self.ord_type, "state": state or self.state,
            "trade_uuid": fill.uuid if fill is not None else None,
            "price": _number(fill.price if fill is not None else self.price),
            "avg_price": float(self.executed_funds / executed) if executed else 0.0,
            "volume": _number(fill.volume if fill is not None else self.volume),
            "remaining_volume": _number(self.remaining_volume),
            "executed_volume": float(executed), "trades_count": len(self.fills),
            "reserved_fee": float(self.reserved_fee),
            "remaining_fee": float(max(ZERO, self.reserved_fee - self.paid_fee)),
            "paid_fee": float(self.paid_fee), "locked": float(self.locked),
            "executed_funds": float(self.executed_funds), "time_in_force": self.time_in_force,
            "trade_fee": _number(fill.fee) if fill is not None else None,
            "is_maker": fill.is_maker if fill is not None else None,
            "identifier": self.identifier, "smp_type": self.smp_type,
            "prevented_volume": 0.0, "prevented_locked": 0.0,
            "trade_timestamp": int(fill.at * 1000) if fill is not None else None,
            "order_timestamp": int(self.created * 1000), "timestamp": now, "stream_type": "REALTIME",
        }


class Orders:
    """Every order placed, by access key, oldest first; the identifiers burnt; hidden orders."""

    def __init__(self) -> None:
        self._by_key: dict[str, dict[str, OrderRecord]] = {}  # access key -> uuid -> order
        self._identifiers: dict[str, set[str]] = {}  # access key -> identifiers ever sent
        self._hidden: dict[str, float] = {}  # uuid -> time.monotonic() it becomes visible

    def __iter__(self) -> Iterator[OrderRecord]:
        """Every order of every key, oldest first within a key."""
        for orders in list(self._by_key.values()):
            yield from list(orders.values())

    def burn(self, key: str, identifier: str) -> bool:
        """Note ``identifier`` as used by ``key``; False when it was used before."""
        used = self._identifiers.setdefault(key, set())
        if identifier in used:
            return False
        used.add(identifier)
        return True

    def used(self, key: str) -> frozenset[str]:
        """The identifiers ``key`` has used."""
        return frozenset(self._identifiers.get(key, ()))

    def add(self, order: OrderRecord) -> None:
        self._by_key.setdefault(order.key, {})[order.uuid] = order

    def hide(self, order: OrderRecord, seconds: float) -> None:
        """Keep ``order`` out of every lookup for ``seconds`` (a visibility delay)."""
        self._hidden[order.uuid] = time.monotonic() + seconds

    def visible(self, order: OrderRecord) -> bool:
        until = self._hidden.get(order.uuid)
        if until is None:
            return True
        if time.monotonic() >= until:
            del self._hidden[order.uuid]
            return True
        return False

    def find(self, key: str, wanted: str | None, identifier: str | None) -> OrderRecord | None:
        """``key``'s visible order by uuid (which wins) or identifier, or None."""
        orders = self._by_key.get(key, {})
        if wanted is not None:
            found = orders.get(wanted)
        else:
            found = next((o for o in orders.values() if identifier is not None
                          and o.identifier == identifier), None)
        return found if found is not None and self.visible(found) else None

    def of(self, key: str, keep: Callable[[OrderRecord], bool]) -> list[OrderRecord]:
        """``key``'s visible orders that ``keep`` accepts, oldest first."""
        return [o for o in self._by_key.get(key, {}).values() if keep(o) and self.visible(o)]

    def resting(self, market: str) -> list[OrderRecord]:
        """Every open limit order of ``market``, of every key, oldest first."""
        return [o for orders in self._by_key.values() for o in orders.values()
                if o.market == market and o.state == "wait"]
