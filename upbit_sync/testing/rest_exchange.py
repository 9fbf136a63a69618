"""The REST side's exchange endpoints (accounts, open orders, placing, finding and cancelling orders),
each signed, on the orders the shared state keeps per access key. An order is acknowledged as Upbit
does (``wait``, nothing executed, funds locked) and stays open until cancelled."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from .orders import OPEN_STATES, Order
from .rest_params import CODE, Call, Endpoint, Endpoints, RestError, amount, decimal_text, integer, split
from .state import ExchangeState

_ORDER_TYPES = ("limit", "price", "market", "best")
_FEE = Decimal("0.0005")
_KST = timezone(timedelta(hours=9))


class Exchange:
    """The exchange endpoints of one fake exchange."""

    def __init__(self, state: ExchangeState) -> None:
        self._state = state

    def endpoints(self) -> Endpoints:
        return {
            ("GET", "/v1/accounts"): Endpoint("default", True, self._accounts),
            ("GET", "/v1/orders/open"): Endpoint("default", True, self._open_orders),
            ("GET", "/v1/order"): Endpoint("default", True, self._get_order),
            ("DELETE", "/v1/order"): Endpoint("default", True, self._cancel_order),
            ("POST", "/v1/orders"): Endpoint("order", True, self._place_order),
            ("POST", "/v1/orders/test"): Endpoint("order-test", True, self._test_order),
            ("DELETE", "/v1/orders/open"): Endpoint("order-cancel-all", True, self._cancel_all),
        }

    def _accounts(self, call: Call) -> tuple[int, Any]:
        return 200, [dict(account) for account in self._state.accounts]

    def _open_orders(self, call: Call) -> tuple[int, Any]:
        market = call.param("market")
        states = call.params("states") or ([state] if (state := call.param("state")) else
                                           list(OPEN_STATES))
        if any(state not in OPEN_STATES for state in states):
            raise RestError(400, "validation_error", "states must be wait or watch.")
        limit = integer(call.param("limit"), "limit", 100, 1, 100, "validation_error")
        page = integer(call.param("page"), "page", 1, 1, None, "validation_error")
        order_by = call.param("order_by") or "desc"
        orders = self._state.orders.matching(
            call.access_key or "",
            lambda o: o["state"] in states and (market is None or o["market"] == market))
        if order_by == "desc":
            orders.reverse()
        return 200, orders[(page - 1) * limit:page * limit]

    def _get_order(self, call: Call) -> tuple[int, Any]:
        wanted, identifier = _order_id(call)
        order = self._state.orders.find(call.access_key or "", wanted, identifier)
        if order is None:
            raise _not_found()
        return 200, order

    def _cancel_order(self, call: Call) -> tuple[int, Any]:
        wanted, identifier = _order_id(call)
        order, was_open = self._state.orders.cancel(call.access_key or "", wanted, identifier)
        if order is None:
            raise _not_found()
        if not was_open:
            raise RestError(404, "order_not_found", "The order is not open.")
        return 200, order

    def _place_order(self, call: Call) -> tuple[int, Any]:
        return 201, self._state.orders.add(call.access_key or "", self._new_order(call))

    def _test_order(self, call: Call) -> tuple[int, Any]:
        return 201, self._new_order(call)

    def _new_order(self, call: Call) -> Order:
        """An order as Upbit acknowledges it: ``wait``, nothing executed, funds locked."""
        market = call.param("market")
        side = call.param("side")
        ord_type = call.param("ord_type")
        if not market or CODE.fullmatch(market) is None or not self._state.is_listed(market):
            raise RestError(400, "validation_error", "market is missing or not listed.")
        if side not in ("bid", "ask"):
            raise RestError(400, "validation_error", "side must be bid or ask.")
        if ord_type not in _ORDER_TYPES:
            raise RestError(400, "validation_error", f"ord_type must be one of {', '.join(_ORDER_TYPES)}.")
        volume = amount(call.param("volume"), "volume")
        price = amount(call.param("price"), "price")
        needs_volume = ord_type == "limit" or (ord_type in ("market", "best") and side == "ask")
        needs_price = ord_type == "limit" or (ord_type in ("price", "best") and side == "bid")
        if (needs_volume and volume is None) or (needs_price and price is None):
            raise RestError(400, "validation_error", f"a {ord_type} {side} order needs "
                            + " and ".join(n for n, need in (("volume", needs_volume),
                                                             ("price", needs_price)) if need) + ".")
        if side == "bid":
            funds = (price or Decimal(0)) * (volume if volume is not None else Decimal(1))
            fee, locked = funds * _FEE, funds * (1 + _FEE)
        else:
            fee, locked = Decimal(0), volume or Decimal(0)
        order: Order = {
            "uuid": str(uuid.uuid4()), "side": side, "ord_type": ord_type,
            "price": decimal_text(price) if price is not None else None, "state": "wait",
            "market": market, "created_at": datetime.now(_KST).isoformat(timespec="seconds"),
            "volume": decimal_text(volume) if volume is not None else None,
            "remaining_volume": decimal_text(volume) if volume is not None else None,
            "reserved_fee": decimal_text(fee), "remaining_fee": decimal_text(fee), "paid_fee": "0",
            "locked": decimal_text(locked), "executed_volume": "0", "trades_count": 0,
        }
        given = call.body if isinstance(call.body, dict) else {n: v[0] for n, v in call.query.items()}
        for name, value in given.items():
            order.setdefault(name, value)
        return order

    def _cancel_all(self, call: Call) -> tuple[int, Any]:
        side = call.param("cancel_side") or "all"
        if side not in ("all", "ask", "bid"):
            raise RestError(400, "validation_error", "cancel_side must be all, ask or bid.")
        pairs = set(split(p, "pairs")) if (p := call.param("pairs")) else None
        excluded = set(split(p, "excluded_pairs")) if (p := call.param("excluded_pairs")) else set()
        quotes = set(split(q, "quote_currencies")) if (q := call.param("quote_currencies")) else None
        count = integer(call.param("count"), "count", 20, 1, 300, "validation_error")
        cancelled = self._state.orders.cancel_matching(
            call.access_key or "",
            lambda o: ((side == "all" or o["side"] == side)
                       and (pairs is None or o["market"] in pairs) and o["market"] not in excluded
                       and (quotes is None or o["market"].split("-", 1)[0] in quotes)),
            newest_first=(call.param("order_by") or "desc") == "desc", count=count)
        done = [{"uuid": o["uuid"], "market": o["market"]} for o in cancelled]
        return 200, {"success": {"count": len(done), "orders": done},
                     "failed": {"count": 0, "orders": []}}


def _order_id(call: Call) -> tuple[str | None, str | None]:
    """The uuid and identifier naming one order; 400 when neither is given."""
    wanted, identifier = call.param("uuid"), call.param("identifier")
    if wanted is None and identifier is None:
        raise RestError(400, "validation_error", "uuid or identifier is required.")
    return wanted, identifier


def _not_found() -> RestError:
    return RestError(404, "order_not_found", "주문을 찾지 못했습니다.")
