"""The fake exchange's matching engine for its users' own orders.

Orders that take (``price``, ``market``, ``best``, and limit orders that cross) fill at once against
the simulator's book: the best ask is its current price plus a tick, the best bid its price minus a
tick, one level of ``book_depth`` base volume (None: as deep as needed). Limit orders that do not
cross rest (``wait``) and fill as makers, at their own price, when a trade of the tape crosses them:
a trade at or below a bid's price fills it, at or above an ask's price fills it, the trade's volume
shared out best price first, then oldest first. Every change moves the ledger and goes out on the
private connections of the order's access key: myOrder (``wait``, one ``trade`` per fill, ``done``
or ``cancel``) and myAsset (the balances it touched).

Trades reach the engine from the simulator's hook (:meth:`Matcher.on_trade`, called under the
simulator's lock): they are queued and matched by the thread ``upbit-fake-matcher``, or at once by
:meth:`Matcher.drain` (a test's scripted trade). One lock (``state.trading_lock``) covers the
ledger, the orders and every emission, so an order's events leave in the order they happened.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from decimal import ROUND_DOWN, Decimal
from typing import Any, Protocol

from .ledger import InsufficientFunds
from .market import TradeRecord, tick_size
from .order_rules import FEE, VOLUME_STEP, OrderRequest, check_price, check_total, parse_order
from .orders import ZERO, Fill, OrderRecord
from .rest_params import RestError
from .state import ExchangeState

log = logging.getLogger(__name__)

JOIN_TIMEOUT = 5.0


class PrivateOut(Protocol):
    """Where the engine's private events go: the private connections of one access key."""

    def send_my_order(self, key: str, message: dict[str, Any]) -> None: ...

    def send_my_asset(self, key: str, message: dict[str, Any]) -> None: ...


def not_found() -> RestError:
    return RestError(404, "order_not_found", "주문을 찾지 못했습니다.")


def duplicated(identifier: str) -> RestError:
    return RestError(400, "duplicated_identifier", f"identifier {identifier!r} was used before.")


class Matcher:
    """Places, fills and cancels orders on the state's ledger; see the module docstring."""

    def __init__(self, state: ExchangeState, out: PrivateOut) -> None:
        self._state = state
        self._out = out
        self._lock = state.trading_lock
        self.book_depth: Decimal | None = None
        self._inbox: deque[tuple[str, TradeRecord]] = deque()
        self._watched: set[str] = set()  # markets that ever had a resting order
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the thread ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="upbit-fake-matcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT)

    @property
    def stopping(self) -> threading.Event:
        return self._stopping

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(0.25)
            self._wake.clear()
            try:
                self.drain()
            except Exception:
                log.exception("fake Upbit matcher failed")

    def on_trade(self, code: str, record: TradeRecord) -> None:
        """The simulator made a trade (its lock held): queue it if it could fill an order."""
        if code in self._watched:
            self._inbox.append((code, record))
            self._wake.set()

    def drain(self) -> None:
        """Match every queued trade now; returns once none is left or being matched."""
        with self._lock:
            while self._inbox:
                code, record = self._inbox.popleft()
                self._match_trade(code, Decimal(repr(record.trade_price)), Decimal(repr(record.trade_volume)))

    # -- placing -------------------------------------------------------------------------------

    def burn(self, key: str, identifier: str | None) -> None:
        """Spend ``identifier`` for ``key``; ``duplicated_identifier`` when it was spent before."""
        if identifier is not None:
            with self._lock:
                if not self._state.orders.burn(key, identifier):
                    raise duplicated(identifier)

    def place(self, key: str, param: Callable[[str], str | None], *, test: bool = False,
              hide: float = 0.0) -> dict[str, Any]:
        """Place (or, ``test``, only check) the order ``param`` describes; its REST object as it
        stands once the fills it could take at once are done. The identifier is spent first, so a
        refused order spends it too; a test order spends none."""
        with self._lock:
            identifier = param("identifier")
            if test:
                if identifier is not None and identifier in self._state.orders.used(key):
                    raise duplicated(identifier)
            else:
                self.burn(key, identifier)
            request = parse_order(param, self._state.is_listed)
            order = self._check(key, request)
            if test:
                return order.rest()
            self._open(order, hide)
            return order.rest()

    def _check(self, key: str, request: OrderRequest) -> OrderRecord:
        """The order ``request`` makes, its funds checked (not yet locked)."""
        check_price(request)
        bid, ask = self._book(request.market)
        if request.by_amount:
            assert request.price is not None
            total = request.price
        elif request.ord_type == "limit":
            assert request.price is not None and request.volume is not None
            total = request.price * request.volume
        else:
            assert request.volume is not None
            total = request.volume * bid
        check_total(request, total)
        if request.side == "bid":
            fee = total * FEE
            locked, currency = total + fee, request.quote
        else:
            fee, locked, currency = ZERO, request.volume or ZERO, request.market.split("-", 1)[1]
        if locked > self._state.ledger.get(key, currency).balance:
            raise RestError(400, f"insufficient_funds_{request.side}",
                            "주문가능한 금액(" + currency + ")이 부족합니다.")
        if request.time_in_force == "post_only" and self._crosses(request, bid, ask):
            raise RestError(400, "invalid_post_only", "a post_only order would take liquidity.")
        return OrderRecord(key, request.market, request.side, request.ord_type, request.price,
                           request.volume, request.time_in_force, request.smp_type, request.identifier,
                           fee.normalize() if fee else ZERO, locked)

    def _open(self, order: OrderRecord, hide: float) -> None:
        state = self._state
        state.ledger.lock(order.key, order.quote if order.side == "bid" else order.base, order.locked)
        state.orders.add(order)
        if hide > 0:
            state.orders.hide(order, hide)
        self._watched.add(order.market)
        self._emit(order)
        self._take(order)

    def _book(self, market: str) -> tuple[Decimal, Decimal]:
        """``(best bid, best ask)``: the simulator's price minus and plus one tick."""
        price = self._state.market.price(market)
        tick = Decimal(repr(tick_size(market.split("-", 1)[0], price)))
        last = Decimal(repr(price))
        return max(tick, last - tick), last + tick

    @staticmethod
    def _crosses(order: OrderRequest | OrderRecord, bid: Decimal, ask: Decimal) -> bool:
        if order.ord_type != "limit":
            return True
        assert order.price is not None
        return order.price >= ask if order.side == "bid" else order.price <= bid

    def _take(self, order: OrderRecord) -> None:
        """The fills ``order`` takes at once, and the end of what may not rest."""
        bid, ask = self._book(order.market)
        depth = self.book_depth
        crosses = self._crosses(order, bid, ask)
        price = ask if order.side == "bid" else bid
        if order.side == "bid" and order.volume is None:  # spend an amount
            assert order.price is not None
            volume = (order.price / price).quantize(VOLUME_STEP, ROUND_DOWN)
        else:
            volume = order.remaining_volume or ZERO
        wanted = volume
        if depth is not None:
            volume = min(volume, depth)
        if crosses and volume > 0 and not (order.time_in_force == "fok" and volume < wanted):
            self._fill(order, price, volume, maker=False)
        if order.is_open and (order.ord_type != "limit" or order.time_in_force in ("ioc", "fok")):
            self._close(order, "done" if order.remaining_volume == 0 or (
                order.volume is None and order.executed_funds == order.price) else "cancel")

    # -- filling -------------------------------------------------------------------------------

    def _match_trade(self, market: str, price: Decimal, volume: Decimal) -> None:
        resting = self._state.orders.resting(market)
        bids = sorted((o for o in resting if o.side == "bid" and o.price is not None and o.price >= price),
                      key=lambda o: (-(o.price or ZERO), o.created))
        asks = sorted((o for o in resting if o.side == "ask" and o.price is not None and o.price <= price),
                      key=lambda o: (o.price or ZERO, o.created))
        for side in (bids, asks):
            left = volume
            for order in side:
                if left <= 0:
                    break
                taken = min(order.remaining_volume or ZERO, left)
                if taken > 0:
                    assert order.price is not None
                    self._fill(order, order.price, taken, maker=True)
                    left -= taken

    def _fill(self, order: OrderRecord, price: Decimal, volume: Decimal, *, maker: bool) -> None:
        """One trade of ``order``: the ledger moves, myOrder ``trade`` and myAsset go out; a limit
        or sell order with nothing left is ``done``."""
        ledger, key = self._state.ledger, order.key
        funds = price * volume
        fee = (funds * FEE).normalize()
        if order.side == "bid":
            spent = min(funds + fee, order.locked)
            ledger.spend_locked(key, order.quote, spent)
            order.locked -= spent
            ledger.credit(key, order.base, volume, price=price, unit=order.quote)
        else:
            ledger.spend_locked(key, order.base, volume)
            order.locked -= volume
            ledger.credit(key, order.quote, funds - fee)
        order.executed_volume += volume
        order.executed_funds += funds
        order.paid_fee += fee
        fill = Fill(str(uuid.uuid4()), price, volume, fee, maker, time.time())
        order.fills.append(fill)
        self._emit(order, "trade", fill)
        if order.remaining_volume == 0:
            self._close(order, "done")

    def _close(self, order: OrderRecord, state: str) -> None:
        """``order`` ends ``done`` or ``cancel``: what it still locks is freed."""
        currency = order.quote if order.side == "bid" else order.base
        self._state.ledger.unlock(order.key, currency, order.locked)
        order.locked = ZERO
        order.state = state
        self._emit(order)

    def _emit(self, order: OrderRecord, state: str | None = None, fill: Fill | None = None) -> None:
        self._out.send_my_order(order.key, order.my_order(state, fill))
        ledger = self._state.ledger
        assets = [ledger.get(order.key, c) for c in (order.quote, order.base)]
        now = int(time.time() * 1000)
        self._out.send_my_asset(order.key, {
            "type": "myAsset", "asset_uuid": str(uuid.uuid4()),
            "assets": [{"currency": a.currency, "balance": float(a.balance), "locked": float(a.locked)}
                       for a in assets],
            "asset_timestamp": now, "timestamp": now, "stream_type": "REALTIME",
        })

    # -- cancelling ----------------------------------------------------------------------------

    def cancel(self, key: str, wanted: str | None, identifier: str | None) -> dict[str, Any]:
        """Cancel one open order: its REST object as it was when the cancel was accepted (still
        ``wait``); it is ``cancel`` right after. 404 ``order_not_found`` for an unknown order and for
        one no longer open."""
        with self._lock:
            order = self._state.orders.find(key, wanted, identifier)
            if order is None:
                raise not_found()
            if not order.is_open:
                raise RestError(404, "order_not_found", "the order is already closed.")
            before = order.rest()
            self._close(order, "cancel")
            return before

    def cancel_many(self, key: str, keep: Callable[[OrderRecord], bool], *, newest_first: bool,
                    count: int) -> list[OrderRecord]:
        """Cancel the first ``count`` waiting orders of ``key`` that ``keep`` accepts."""
        with self._lock:
            chosen = self._state.orders.of(key, lambda o: o.state == "wait" and keep(o))
            if newest_first:
                chosen.reverse()
            for order in chosen[:count]:
                self._close(order, "cancel")
            return chosen[:count]

    def cancel_and_new(self, key: str, param: Callable[[str], str | None], *,
                       hide: float = 0.0) -> dict[str, Any]:
        """Cancel an order and place another on the same market and side (docs/trading.md):
        the old order as the cancel found it, plus ``new_order_uuid`` and ``new_order_identifier``
        (both None when the old order was no longer open: nothing new is placed)."""
        with self._lock:
            new_identifier = param("new_identifier")
            self.burn(key, new_identifier)
            prev, prev_identifier = param("prev_order_uuid"), param("prev_order_identifier")
            if prev is None and prev_identifier is None:
                raise RestError(400, "validation_error",
                                "prev_order_uuid or prev_order_identifier is required.")
            old = self._state.orders.find(key, prev, prev_identifier)
            if old is None:
                raise not_found()
            new_volume = param("new_volume")
            if new_volume == "remain_only":
                if old.ord_type == "price" or (old.ord_type == "best" and old.side == "bid"):
                    raise RestError(400, "validation_error", "remain_only needs an order with a volume.")
                new_volume = str(old.remaining_volume)
            fields: Mapping[str, str | None] = {
                "market": old.market, "side": old.side, "ord_type": param("new_ord_type"),
                "price": param("new_price"), "volume": new_volume,
                "time_in_force": param("new_time_in_force"), "smp_type": param("new_smp_type"),
                "identifier": new_identifier,
            }
            request = parse_order(fields.get, self._state.is_listed)
            before = old.rest()
            if not old.is_open:
                return dict(before, new_order_uuid=None, new_order_identifier=None)
            check_price(request)
            self._close(old, "cancel")
            new = self._check(key, request)
            self._open(new, hide)
            return dict(before, new_order_uuid=new.uuid, new_order_identifier=new.identifier)

    # -- reading -------------------------------------------------------------------------------

    def find(self, key: str, wanted: str | None, identifier: str | None) -> dict[str, Any]:
        with self._lock:
            order = self._state.orders.find(key, wanted, identifier)
            if order is None:
                raise not_found()
            return order.rest(trades=True)

    def listed(self, key: str, keep: Callable[[OrderRecord], bool]) -> list[dict[str, Any]]:
        """``key``'s visible orders that ``keep`` accepts, oldest first, as the list endpoints show
        them (with ``executed_funds``)."""
        with self._lock:
            return [o.rest(funds=True) for o in self._state.orders.of(key, keep)]

    def accounts(self, key: str) -> list[dict[str, Any]]:
        with self._lock:
            return self._state.ledger.rows(key)

    def all_orders(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**o.rest(), "identifier": o.identifier} for o in self._state.orders]

    def fund(self, key: str, currency: str, amount: Decimal) -> None:
        """Credit ``amount`` (a deposit); a myAsset goes out."""
        with self._lock:
            self._state.ledger.credit(key, currency, amount)
            self._asset(key, currency)

    def withdraw(self, key: str, currency: str, amount: Decimal) -> None:
        """Take ``amount`` out (a withdrawal); InsufficientFunds when it is not free."""
        with self._lock:
            self._state.ledger.debit(key, currency, amount)
            self._asset(key, currency)

    def _asset(self, key: str, currency: str) -> None:
        balance = self._state.ledger.get(key, currency)
        now = int(time.time() * 1000)
        self._out.send_my_asset(key, {
            "type": "myAsset", "asset_uuid": str(uuid.uuid4()),
            "assets": [{"currency": currency, "balance": float(balance.balance),
                        "locked": float(balance.locked)}],
            "asset_timestamp": now, "timestamp": now, "stream_type": "REALTIME"})


__all__ = ["InsufficientFunds", "Matcher", "PrivateOut", "duplicated", "not_found"]
