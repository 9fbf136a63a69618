"""The REST side's order endpoints (docs/trading.md), each signed, on the matcher's orders
and balances per access key: balances, placing, testing, finding, listing and cancelling orders,
cancel-and-new and the order chance. The faults a test set for an order call are played here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from .matching import Matcher
from .order_rules import FEE, MAX_TOTAL, MIN_TOTAL
from .orders import CLOSED_STATES, OPEN_STATES, OrderRecord
from .rest_faults import AnswerDropped, OrderFaults
from .rest_params import CODE, Call, Endpoint, Endpoints, RestError, decimal_text, integer, split
from .state import ExchangeState

_WINDOW = timedelta(days=7)
_BID_TYPES = ["limit", "price", "best_ioc", "best_fok", "limit_ioc", "limit_fok", "limit_post_only"]
_ASK_TYPES = ["limit", "market", "best_ioc", "best_fok", "limit_ioc", "limit_fok", "limit_post_only"]


class Exchange:
    """The order endpoints of one fake exchange."""

    def __init__(self, state: ExchangeState, matcher: Matcher, faults: OrderFaults) -> None:
        self._state = state
        self._matcher = matcher
        self._faults = faults

    def endpoints(self) -> Endpoints:
        return {
            ("GET", "/v1/accounts"): Endpoint("default", True, self._accounts),
            ("POST", "/v1/orders"): Endpoint("order", True, self._place_order),
            ("POST", "/v1/orders/test"): Endpoint("order-test", True, self._test_order),
            ("GET", "/v1/order"): Endpoint("default", True, self._get_order),
            ("GET", "/v1/orders/uuids"): Endpoint("default", True, self._orders_by_ids),
            ("GET", "/v1/orders/open"): Endpoint("default", True, self._open_orders),
            ("GET", "/v1/orders/closed"): Endpoint("default", True, self._closed_orders),
            ("DELETE", "/v1/order"): Endpoint("default", True, self._cancel_order),
            ("DELETE", "/v1/orders/uuids"): Endpoint("default", True, self._cancel_by_ids),
            ("DELETE", "/v1/orders/open"): Endpoint("order-cancel-all", True, self._cancel_all),
            ("POST", "/v1/orders/cancel_and_new"): Endpoint("order", True, self._cancel_and_new),
            ("GET", "/v1/orders/chance"): Endpoint("default", True, self._chance),
        }

    # -- faults --------------------------------------------------------------------------------

    def _faulted(self, call: Call, identifier: str | None,
                 run: Callable[[float], tuple[int, Any]]) -> tuple[int, Any]:
        """Run an order call (``run(hide seconds)``) through the fault waiting for its path."""
        fault = self._faults.take(call.path)
        if fault is None:
            return run(0.0)
        if fault.mode == "500_before":
            if fault.burn and identifier is not None:
                try:
                    self._matcher.burn(call.access_key or "", identifier)
                except RestError:
                    pass
            raise RestError(500, 500, "Internal Server Error")
        outcome: tuple[int, Any] | RestError
        try:
            outcome = run(fault.seconds if fault.mode == "hide" else 0.0)
        except RestError as error:
            outcome = error
        if fault.mode == "drop":
            raise AnswerDropped(call.path)
        if fault.mode == "500":
            raise RestError(500, 500, "Internal Server Error")
        if fault.mode == "delay":
            self._faults.hold(fault.seconds)
        if isinstance(outcome, RestError):
            raise outcome
        return outcome

    # -- balances and placing ------------------------------------------------------------------

    def _accounts(self, call: Call) -> tuple[int, Any]:
        return 200, self._matcher.accounts(call.access_key or "")

    def _place_order(self, call: Call) -> tuple[int, Any]:
        key = call.access_key or ""
        return self._faulted(call, call.param("identifier"),
                             lambda hide: (201, self._matcher.place(key, call.param, hide=hide)))

    def _test_order(self, call: Call) -> tuple[int, Any]:
        return 201, self._matcher.place(call.access_key or "", call.param, test=True)

    def _cancel_and_new(self, call: Call) -> tuple[int, Any]:
        key = call.access_key or ""
        return self._faulted(call, call.param("new_identifier"),
                             lambda hide: (201, self._matcher.cancel_and_new(key, call.param, hide=hide)))

    # -- finding and listing -------------------------------------------------------------------

    def _get_order(self, call: Call) -> tuple[int, Any]:
        wanted, identifier = _order_id(call)
        return 200, self._matcher.find(call.access_key or "", wanted, identifier)

    def _orders_by_ids(self, call: Call) -> tuple[int, Any]:
        named = _named(call, 100)
        market = call.param("market")
        found = self._matcher.listed(call.access_key or "", lambda o: named(o) and (
            market is None or o.market == market))
        return 200, _ordered(found, call)

    def _open_orders(self, call: Call) -> tuple[int, Any]:
        states = _states(call, OPEN_STATES, ["wait"])
        market = call.param("market")
        limit = integer(call.param("limit"), "limit", 100, 1, 100, "validation_error")
        page = integer(call.param("page"), "page", 1, 1, None, "validation_error")
        found = self._matcher.listed(call.access_key or "", lambda o: o.state in states and (
            market is None or o.market == market))
        return 200, _ordered(found, call)[(page - 1) * limit:page * limit]

    def _closed_orders(self, call: Call) -> tuple[int, Any]:
        states = _states(call, CLOSED_STATES, list(CLOSED_STATES))
        market = call.param("market")
        limit = integer(call.param("limit"), "limit", 100, 1, 1000, "validation_error")
        start, end = _window(_moment(call.param("start_time"), "start_time"),
                             _moment(call.param("end_time"), "end_time"))
        found = self._matcher.listed(call.access_key or "", lambda o: o.state in states and (
            market is None or o.market == market) and start <= o.created <= end)
        return 200, _ordered(found, call)[:limit]

    # -- cancelling ----------------------------------------------------------------------------

    def _cancel_order(self, call: Call) -> tuple[int, Any]:
        wanted, identifier = _order_id(call)
        key = call.access_key or ""
        return self._faulted(call, None, lambda _: (200, self._matcher.cancel(key, wanted, identifier)))

    def _cancel_by_ids(self, call: Call) -> tuple[int, Any]:
        key = call.access_key or ""
        uuids, identifiers = call.params("uuids"), call.params("identifiers")
        named = _named(call, 20)
        cancelled = self._matcher.cancel_many(key, named, newest_first=False, count=20)
        done = {o.uuid for o in cancelled}
        failed = []
        for wanted in uuids or identifiers:
            by_uuid = bool(uuids)
            try:
                order = self._matcher.find(key, wanted if by_uuid else None, None if by_uuid else wanted)
            except RestError:
                failed.append({"uuid": wanted if by_uuid else None, "market": None,
                               "identifier": None if by_uuid else wanted})
                continue
            if order["uuid"] not in done:
                failed.append({"uuid": order["uuid"], "market": order["market"],
                               "identifier": order["identifier"]})
        rows = [{"uuid": o.uuid, "market": o.market, "identifier": o.identifier} for o in cancelled]
        return 200, {"success": {"count": len(rows), "orders": rows},
                     "failed": {"count": len(failed), "orders": failed}}

    def _cancel_all(self, call: Call) -> tuple[int, Any]:
        side = call.param("cancel_side") or "all"
        if side not in ("all", "ask", "bid"):
            raise RestError(400, "validation_error", "cancel_side must be all, ask or bid.")
        pairs = set(split(p, "pairs")) if (p := call.param("pairs")) else None
        excluded = set(split(p, "excluded_pairs")) if (p := call.param("excluded_pairs")) else set()
        quotes = set(split(q, "quote_currencies")) if (q := call.param("quote_currencies")) else None
        count = integer(call.param("count"), "count", 20, 1, 300, "validation_error")
        cancelled = self._matcher.cancel_many(
            call.access_key or "",
            lambda o: ((side == "all" or o.side == side)
                       and (pairs is None or o.market in pairs) and o.market not in excluded
                       and (quotes is None or o.quote in quotes)),
            newest_first=(call.param("order_by") or "desc") == "desc", count=count)
        done = [{"uuid": o.uuid, "market": o.market} for o in cancelled]
        return 200, {"success": {"count": len(done), "orders": done},
                     "failed": {"count": 0, "orders": []}}

    # -- chance --------------------------------------------------------------------------------

    def _chance(self, call: Call) -> tuple[int, Any]:
        market = call.param("market")
        if not market or CODE.fullmatch(market) is None or not self._state.is_listed(market):
            raise RestError(400, "validation_error", "market is missing or not listed.")
        quote, base = market.split("-", 1)
        accounts = {row["currency"]: row for row in self._matcher.accounts(call.access_key or "")}

        def account(currency: str) -> dict[str, Any]:
            return accounts.get(currency, {"currency": currency, "balance": "0", "locked": "0",
                                           "avg_buy_price": "0", "avg_buy_price_modified": False,
                                           "unit_currency": quote})

        fee = decimal_text(FEE)
        low = decimal_text(MIN_TOTAL.get(quote, 0))
        return 200, {
            "bid_fee": fee, "ask_fee": fee, "maker_bid_fee": fee, "maker_ask_fee": fee,
            "market": {"id": market, "name": f"{base}/{quote}", "order_types": [],
                       "order_sides": ["ask", "bid"], "bid_types": list(_BID_TYPES),
                       "ask_types": list(_ASK_TYPES), "bid": {"currency": quote, "min_total": low},
                       "ask": {"currency": quote, "min_total": low},
                       "max_total": decimal_text(MAX_TOTAL.get(quote, 0)), "state": "active"},
            "bid_account": account(quote), "ask_account": account(base),
        }


def _order_id(call: Call) -> tuple[str | None, str | None]:
    """The uuid and identifier naming one order; 400 when neither is given."""
    wanted, identifier = call.param("uuid"), call.param("identifier")
    if wanted is None and identifier is None:
        raise RestError(400, "validation_error", "uuid or identifier is required.")
    return wanted, identifier


def _named(call: Call, most: int) -> Callable[[OrderRecord], bool]:
    """Which orders ``uuids[]`` or ``identifiers[]`` (one of them, at most ``most``) name."""
    uuids, identifiers = call.params("uuids"), call.params("identifiers")
    if bool(uuids) == bool(identifiers):
        raise RestError(400, "validation_error", "give either uuids or identifiers.")
    if len(uuids or identifiers) > most:
        raise RestError(400, "validation_error", f"at most {most} ids at a time.")
    wanted = set(uuids or identifiers)
    return (lambda o: o.uuid in wanted) if uuids else (lambda o: o.identifier in wanted)


def _ordered(orders: list[dict[str, Any]], call: Call) -> list[dict[str, Any]]:
    order_by = call.param("order_by") or "desc"
    if order_by not in ("asc", "desc"):
        raise RestError(400, "validation_error", "order_by must be asc or desc.")
    return list(reversed(orders)) if order_by == "desc" else orders


def _states(call: Call, allowed: tuple[str, ...], default: list[str]) -> list[str]:
    state, states = call.param("state"), call.params("states")
    if state is not None and states:
        raise RestError(400, "validation_error", "give state or states, not both.")
    chosen = states or ([state] if state is not None else default)
    if any(s not in allowed for s in chosen):
        raise RestError(400, "validation_error", f"states must be among {', '.join(allowed)}.")
    return chosen


def _moment(value: str | None, name: str) -> float | None:
    """``start_time``/``end_time``: ISO-8601 with a zone, or epoch milliseconds; as epoch seconds."""
    if value is None:
        return None
    if value.isdigit():
        return int(value) / 1000
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RestError(400, "validation_error", f"{name} must be ISO-8601 or epoch ms.") from None
    if moment.tzinfo is None:
        raise RestError(400, "validation_error", f"{name} needs a time zone.")
    return moment.timestamp()


def _window(start: float | None, end: float | None) -> tuple[float, float]:
    """The creation-time window: at most 7 days, from whichever end is given (the last 7 days when
    neither is)."""
    week = _WINDOW.total_seconds()
    if start is None and end is None:
        end = datetime.now(timezone.utc).timestamp()
    if start is None:
        assert end is not None
        return end - week, end
    if end is None:
        return start, start + week
    if end < start or end - start > week:
        raise RestError(400, "validation_error", "the window must run forward and span at most 7 days.")
    return start, end
