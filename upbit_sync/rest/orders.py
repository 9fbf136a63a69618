"""Orders: placed exactly once, found, listed and cancelled (docs/trading.md).

Every placement carries an identifier (the caller's, or ``us-`` and a random hex); a lost answer is
settled by exactly_once.py, never by a blind resend. Arguments are checked (checks.py) before anything
is sent. With ``Config(decimal=True)`` every figure is the exact ``Decimal`` of Upbit's text.
"""

from __future__ import annotations

import time
import uuid as uuidlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from ..config import Config
from ..errors import InvalidRequestError
from ..types import BatchCancelResult, MarketOrderbook, MarketTicker, Order, OrderChance
from . import checks, convert, exactly_once
from .transport import Transport

T = TypeVar("T")

UUIDS_PER_CALL = 100  # GET /v1/orders/uuids
CANCELS_PER_CALL = 20  # DELETE /v1/orders/uuids
OPEN_PAGE = 100  # GET /v1/orders/open, rows per page
CLOSED_LIMIT = 1000  # GET /v1/orders/closed, rows per window
WINDOW_MS = 7 * 24 * 3600 * 1000  # GET /v1/orders/closed, the longest window
BATCH_PAIRS = 20  # DELETE /v1/orders/open: pairs, excluded_pairs


def make_identifier() -> str:
    """An identifier for a placement the caller left unnamed: unique, within Upbit's rules."""
    return "us-" + uuidlib.uuid4().hex


def _chunks(items: tuple[str, ...], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


class OrderCalls:
    """RestClient's order calls (mixed into :class:`~upbit_sync.rest.RestClient`)."""

    _transport: Transport
    config: Config

    # ---- the wire -------------------------------------------------------------------------------

    def _exact(self) -> tuple[bool, convert.Num]:
        exact = self.config.decimal
        return exact, convert.exact_num if exact else convert.num

    def _order_call(self, method: str, path: str, params: dict[str, Any] | None,
                    body: dict[str, Any] | None = None) -> Order:
        exact, n = self._exact()
        data = self._transport.call(method, path, params, body, signed=True, exact=exact)
        return convert.one(lambda row: convert.order(row, n), data)

    def _order_list(self, path: str, params: dict[str, Any]) -> list[Order]:
        exact, n = self._exact()
        data = self._transport.call("GET", path, params, signed=True, exact=exact)
        return convert.typed(lambda row: convert.order(row, n), data)

    # ---- placing ---------------------------------------------------------------------------------

    def place_order(self, market: str, side: str, ord_type: str = "limit", price: Any = None,
                    volume: Any = None, *, identifier: str | None = None, time_in_force: str | None = None,
                    smp_type: str | None = None) -> Order:
        """Place an order (POST /v1/orders), exactly once: a lost answer (timeout, reset, 5xx) is
        settled by looking the identifier up, never by a blind resend (docs/trading.md).

        ``ord_type``: ``limit`` (price per unit and volume), ``price`` (a market buy: price is the
        total to spend), ``market`` (a market sell: volume), ``best`` (needs ``time_in_force`` ioc or
        fok; a buy takes price as the total, a sell volume). ``identifier`` is generated when None
        (``o.identifier``). Raises InvalidRequestError before sending, the ApiError subclass of a
        refusal, or OrderUncertainError when the outcome could not be learnt in time."""
        name = identifier if identifier is not None else make_identifier()
        body = checks.order_body(market, side, ord_type, price, volume, time_in_force, smp_type, name)
        return exactly_once.place(
            lambda: self._order_call("POST", "/v1/orders", None, body),
            lambda: self._order_call("GET", "/v1/order", {"identifier": name}),
            name, self.config.order_lookup_timeout)

    def test_order(self, market: str, side: str, ord_type: str = "limit", price: Any = None,
                   volume: Any = None, *, identifier: str | None = None, time_in_force: str | None = None,
                   smp_type: str | None = None) -> Order:
        """Check an order with Upbit without placing it (POST /v1/orders/test): the same checks and
        answer as :meth:`place_order`, nothing created (the answer's uuid cannot be looked up)."""
        body = checks.order_body(market, side, ord_type, price, volume, time_in_force, smp_type, identifier)
        return self._order_call("POST", "/v1/orders/test", None, body)

    # ---- finding ---------------------------------------------------------------------------------

    def order(self, uuid: str | None = None, identifier: str | None = None) -> Order:
        """One order with its fills (``trades``): by ``uuid`` or ``identifier`` (GET /v1/order)."""
        return self._order_call("GET", "/v1/order", self._one_order(uuid, identifier))

    def orders(self, uuids: Iterable[str] | None = None, identifiers: Iterable[str] | None = None,
               market: str | None = None) -> list[Order]:
        """Orders in any state by their uuids or identifiers (GET /v1/orders/uuids, 100 per call),
        newest first within each call."""
        checks.one_of("uuids", uuids, "identifiers", identifiers)
        key, ids = (("uuids", checks.many(uuids, "uuids", checks.uuid)) if uuids is not None else
                    ("identifiers", checks.many(identifiers, "identifiers", checks.identifier)))
        base = {"market": checks.market(market)} if market is not None else {}
        found: list[Order] = []
        for chunk in _chunks(ids, UUIDS_PER_CALL):
            found.extend(self._order_list("/v1/orders/uuids", {**base, key: chunk}))
        return found

    def open_orders(self, market: str | None = None, states: Iterable[str] | None = None) -> list[Order]:
        """Every open order, every page (GET /v1/orders/open): ``wait`` and ``watch`` unless
        ``states`` says otherwise (Upbit's own default is ``wait`` only)."""
        wanted = checks.choices(states if states is not None else checks.OPEN_STATES, "states",
                                checks.OPEN_STATES)
        params: dict[str, Any] = {"states": list(wanted), "limit": OPEN_PAGE}
        if market is not None:
            params["market"] = checks.market(market)
        found: dict[str, Order] = {}  # rows may shift between pages while orders close: by uuid
        page = 1
        while True:
            rows = self._order_list("/v1/orders/open", {**params, "page": page})
            before = len(found)
            found.update((o.uuid, o) for o in rows if o.uuid not in found)
            if len(rows) < OPEN_PAGE or len(found) == before:  # the last page, or one seen already
                return list(found.values())
            page += 1

    def closed_orders(self, market: str | None = None, states: Iterable[str] | None = None,
                      start_time: datetime | int | str | None = None,
                      end_time: datetime | int | str | None = None) -> list[Order]:
        """Orders done or cancelled, by creation time (GET /v1/orders/closed), oldest first.

        Times: an aware datetime, epoch milliseconds, or ISO-8601 text with a zone. Neither: the last
        7 days; only ``end_time``: the 7 days before it; only ``start_time``: from it until now. A
        span over 7 days, or a window holding Upbit's 1,000 rows, is split; each order once."""
        wanted = checks.choices(states if states is not None else checks.CLOSED_STATES, "states",
                                checks.CLOSED_STATES)
        now = int(time.time() * 1000)
        start = checks.epoch_ms(start_time, "start_time") if start_time is not None else None
        end = checks.epoch_ms(end_time, "end_time") if end_time is not None else None
        if start is None:
            start = (end if end is not None else now) - WINDOW_MS
        if end is None:
            end = max(now, start)
        if end < start:
            raise InvalidRequestError(f"end_time ({end_time!r}) is before start_time ({start_time!r})")
        params: dict[str, Any] = {"states": list(wanted), "limit": CLOSED_LIMIT, "order_by": "asc"}
        if market is not None:
            params["market"] = checks.market(market)
        found: dict[str, Order] = {}
        windows = [(s, min(s + WINDOW_MS, end)) for s in range(start, end, WINDOW_MS)] or [(start, end)]
        while windows:
            low, high = windows.pop(0)
            rows = self._order_list("/v1/orders/closed", {**params, "start_time": low, "end_time": high})
            found.update((o.uuid, o) for o in rows if o.uuid not in found)
            if len(rows) >= CLOSED_LIMIT and high - low > 1:  # full: Upbit left some out; halve it
                middle = (low + high) // 2
                windows[:0] = [(low, middle), (middle, high)]
        return sorted(found.values(), key=_created)

    # ---- cancelling ------------------------------------------------------------------------------

    def cancel_order(self, uuid: str | None = None, identifier: str | None = None) -> Order:
        """Cancel one order (DELETE /v1/order), by ``uuid`` or ``identifier``. Upbit answers the order as
        it was when the cancel was accepted (usually still ``wait``); it turns ``cancel`` a moment
        later. A lost answer is settled by looking the order up (docs/trading.md): over, it is
        returned as it is (``done`` if a fill won the race)."""
        params = self._one_order(uuid, identifier)
        return exactly_once.cancel(
            lambda: self._order_call("DELETE", "/v1/order", params),
            lambda: self._order_call("GET", "/v1/order", params),
            str(uuid if uuid is not None else identifier), self.config.order_lookup_timeout)

    def cancel_orders(self, uuids: Iterable[str] | None = None,
                      identifiers: Iterable[str] | None = None) -> BatchCancelResult:
        """Cancel orders by their uuids or identifiers (DELETE /v1/orders/uuids, 20 per call); also
        the way to cancel ``watch`` orders."""
        checks.one_of("uuids", uuids, "identifiers", identifiers)
        key, ids = (("uuids", checks.many(uuids, "uuids", checks.uuid)) if uuids is not None else
                    ("identifiers", checks.many(identifiers, "identifiers", checks.identifier)))
        results = [self._batch_cancel("/v1/orders/uuids", {key: chunk})
                   for chunk in _chunks(ids, CANCELS_PER_CALL)]
        return BatchCancelResult(tuple(r for res in results for r in res.success),
                                 tuple(r for res in results for r in res.failed))

    def cancel_open_orders(self, side: str = "all", pairs: Iterable[str] | None = None,
                           quote_currencies: Iterable[str] | None = None,
                           excluded_pairs: Iterable[str] | None = None,
                           count: int | None = None) -> BatchCancelResult:
        """Cancel ``wait`` orders by filter (DELETE /v1/orders/open; never ``watch`` ones): ``side``
        all/ask/bid, ``pairs`` (≤20) or ``quote_currencies`` (KRW, BTC, USDT), ``excluded_pairs``
        (≤20), ``count`` 1-300 (Upbit's default 20). Upbit allows one such call per 2 s."""
        params: dict[str, Any] = {"cancel_side": checks.choice(side, "side", ("all", "ask", "bid"))}
        if pairs is not None and quote_currencies is not None:
            raise InvalidRequestError("give pairs or quote_currencies, not both")
        if pairs is not None:
            params["pairs"] = ",".join(checks.markets(pairs, "pairs", BATCH_PAIRS))
        if quote_currencies is not None:
            params["quote_currencies"] = ",".join(checks.choices(quote_currencies, "quote_currencies",
                                                                 checks.QUOTES))
        if excluded_pairs is not None:
            params["excluded_pairs"] = ",".join(checks.markets(excluded_pairs, "excluded_pairs", BATCH_PAIRS))
        if count is not None:
            params["count"] = checks.count(count, "count", 1, 300)
        return self._batch_cancel("/v1/orders/open", params)

    def cancel_and_new(self, prev_uuid: str | None = None, prev_identifier: str | None = None, *,
                       new_ord_type: str, new_price: Any = None, new_volume: Any = None,
                       new_identifier: str | None = None, new_time_in_force: str | None = None,
                       new_smp_type: str | None = None) -> Order:
        """Cancel an order and place its replacement in one call (POST /v1/orders/cancel_and_new):
        the same market and side, a new type, price and volume (``new_volume="remain_only"``: what
        the old order had left). Returns the OLD order with ``new_order_uuid`` and
        ``new_order_identifier``; if the old order filled first, no new order is made. The new order
        always has an identifier (generated when None), and a lost answer is settled exactly once."""
        checks.one_of("prev_uuid", prev_uuid, "prev_identifier", prev_identifier)
        old = self._one_order(prev_uuid, prev_identifier, "prev_")
        name = checks.identifier(new_identifier if new_identifier is not None else make_identifier(),
                                 "new_identifier")
        if name == prev_identifier:
            raise InvalidRequestError("new_identifier must differ from prev_identifier")
        body: dict[str, Any] = {("prev_order_" + k): v for k, v in old.items()}
        body.update(checks.replace_body(new_ord_type, new_price, new_volume, new_time_in_force, new_smp_type))
        body["new_identifier"] = name
        return exactly_once.replace(
            lambda: self._order_call("POST", "/v1/orders/cancel_and_new", None, body),
            lambda: self._order_call("GET", "/v1/order", {"identifier": name}),
            lambda: self._order_call("GET", "/v1/order", old),
            name, self.config.order_lookup_timeout)

    # ---- what a market allows, books, tickers ----------------------------------------------------

    def order_chance(self, market: str) -> OrderChance:
        """Fees, order types, minimum and maximum totals, and both balances for ``market``."""
        exact, n = self._exact()
        data = self._transport.call("GET", "/v1/orders/chance", {"market": checks.market(market)},
                                    signed=True, exact=exact)
        return convert.one(lambda row: convert.chance(row, n), data)

    def orderbook(self, markets: str | Iterable[str], level: Any = None,
                  count: int | None = None) -> list[MarketOrderbook]:
        """The orderbooks of ``markets`` (GET /v1/orderbook): ``count`` 1-30 pairs of levels, best
        first; ``level`` groups KRW prices (0: the plain tick; a market without it answers nothing)."""
        params: dict[str, Any] = {"markets": ",".join(checks.markets(markets))}
        if level is not None:
            params["level"] = "0" if level in (0, "0") else checks.amount(level, "level")
        if count is not None:
            params["count"] = checks.count(count, "count", 1, 30)
        exact, n = self._exact()
        data = self._transport.call("GET", "/v1/orderbook", params, exact=exact)
        return convert.typed(lambda row: convert.orderbook(row, n), data)

    def tickers_by_quote(self, quotes: str | Iterable[str]) -> list[MarketTicker]:
        """The tickers of every market quoted in ``quotes`` (``"KRW"``, ``["BTC", "USDT"]``)."""
        wanted = checks.many(quotes, "quotes", checks.currency)
        data = self._transport.call("GET", "/v1/ticker/all", {"quote_currencies": ",".join(wanted)})
        return convert.typed(convert.ticker, data)

    # ---- helpers ---------------------------------------------------------------------------------

    def _one_order(self, uuid: str | None, identifier: str | None, prefix: str = "") -> dict[str, Any]:
        checks.one_of(prefix + "uuid", uuid, prefix + "identifier", identifier)
        if uuid is not None:
            return {"uuid": checks.uuid(uuid, prefix + "uuid")}
        return {"identifier": checks.identifier(identifier, prefix + "identifier")}

    def _batch_cancel(self, path: str, params: dict[str, Any]) -> BatchCancelResult:
        data = self._transport.call("DELETE", path, params, signed=True)
        return convert.one(convert.batch_cancel, data)


def _created(order: Order) -> tuple[float, str]:
    try:
        return datetime.fromisoformat(order.created_at.replace("Z", "+00:00")).timestamp(), order.uuid
    except ValueError:
        return 0.0, order.uuid
