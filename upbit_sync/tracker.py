"""OrderTracker: the account's orders and balances, kept true across every private reconnect.

Upbit's ``myOrder`` has no snapshot: a fill while the private connection is down is never sent. So the
tracker merges three sources into one view per order (docs/trading.md, "Tracking orders"):

- ``"placed"``: the answer to a placement made through the client;
- ``"stream"``: ``myOrder`` messages (and ``myAsset`` for balances);
- ``"reconciled"``: REST, asked at start and after every (re)connect of the private connection: what
  became of every order the tracker believed open (``GET /v1/orders/uuids``, which answers in any
  state), which orders are open now (``/v1/orders/open``), and, after an outage, which orders were
  created and closed during it (``/v1/orders/closed`` from the outage's start: it filters on creation
  time, so it alone would miss an older order that closed meanwhile). Balances come from ``accounts()``.

An order's view only moves forward: its executed volume never goes down and a final state (``done``,
``cancel``) is never left, so a late stream frame cannot repeat or undo a change already reported.
``on_update`` hears each change of (state, executed volume) once, in order for each order, on one
thread at a time.

The REST work runs on one daemon thread, ``upbit-orders-<n>``, joined by :meth:`OrderTracker.close`.
A failed reconcile is told to ``on_error`` (or logged) and tried again with a growing delay.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .errors import ClosedError, InternalError, InvalidRequestError, StreamTimeout, UpbitError
from .types import Account, Connected, Disconnected, Event, MyAsset, MyOrder, Order, OrderUpdate, Reconnected
from .types.trading import FINAL_STATES, UpdateSource

if TYPE_CHECKING:
    from .rest import RestClient
    from .subscriptions import Subscription

log = logging.getLogger(__name__)

PRIVATE = "private"
SYNC_WAIT = 5.0  # seconds a reconcile waits for the private connection to carry its subscriptions
SETTLE = 0.2  # and then, so Upbit has taken the request before REST is read
OUTAGE_MARGIN = 60.0  # seconds before an outage's start from which closed orders are listed
RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
_numbers = itertools.count(1)


def _key(order: Order) -> tuple[str, Any]:
    return order.state, order.executed_volume


def _newer(new: Order, old: Order | None) -> bool:
    """Whether ``new`` is a later view of the order than ``old`` (the view only moves forward)."""
    if old is None:
        return True
    if old.state in FINAL_STATES:
        return False
    if new.executed_volume != old.executed_volume:
        return bool(new.executed_volume > old.executed_volume)
    return new.state != old.state or new.trades_count > old.trades_count


def order_of(message: MyOrder, known: Order | None) -> Order:
    """A myOrder message as the order's state: a ``trade`` or ``prevented`` event leaves the order
    open, and its ``price``/``volume`` are the fill's, so the order's own come from what was known."""
    state = message.state if message.state in ("wait", "watch", "done", "cancel") else "wait"
    executed = message.executed_volume if message.executed_volume is not None else 0
    remaining = message.remaining_volume
    filling = message.state in ("trade", "prevented")
    if known is not None:
        price, volume = known.price, known.volume
    elif filling:
        price = message.avg_price or message.price
        volume = executed + remaining if remaining is not None else None  # type: ignore[operator]
    else:
        price, volume = message.price, message.volume
    created = known.created_at if known is not None else _iso(message.order_timestamp or message.timestamp)
    return Order(
        uuid=message.uuid, market=message.code, side=str(message.ask_bid).lower(),
        ord_type=str(message.order_type), state=state, price=price, volume=volume,
        remaining_volume=remaining, executed_volume=executed, trades_count=message.trades_count or 0,
        paid_fee=message.paid_fee or 0, locked=message.locked or 0, created_at=created,
        identifier=message.identifier if message.identifier is not None else (
            known.identifier if known is not None else None),
        reserved_fee=message.reserved_fee, remaining_fee=message.remaining_fee,
        executed_funds=message.executed_funds,
        time_in_force=str(message.time_in_force) if message.time_in_force is not None else None,
        smp_type=str(message.smp_type) if message.smp_type is not None else None,
        prevented_volume=message.prevented_volume, prevented_locked=message.prevented_locked,
        raw=message.raw)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone(timedelta(hours=9))).isoformat(timespec="seconds")


class OrderTracker:
    """The account's orders and balances as they are now; made by :meth:`WebSocketClient.track_orders`.

    :meth:`get` finds an order by uuid or identifier, :meth:`open` lists the open ones, :meth:`wait`
    blocks until one is over, :meth:`balances` gives the balances. ``on_update(update)`` hears every
    change (:class:`~upbit_sync.OrderUpdate`). ``reconciles`` counts the REST reconciles done.
    """

    def __init__(self, rest: RestClient, on_update: Callable[[OrderUpdate], object] | None,
                 tell: Callable[[BaseException], bool], health: Callable[[], Any],
                 on_close: Callable[[OrderTracker], None] | None = None) -> None:
        if on_update is not None and not callable(on_update):
            raise InvalidRequestError(f"on_update must be callable, not {on_update!r}")
        self._rest = rest
        self._on_update = on_update
        self._tell = tell
        self._health = health
        self._on_close = on_close
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._orders: dict[str, Order] = {}
        self._by_identifier: dict[str, str] = {}
        self._pending: set[str] = set()  # identifiers of placements whose outcome is not known yet
        self._balances: dict[str, Account] = {}
        self._asset_time = 0  # ms: the newest balances applied (a myAsset's, or a REST read's start)
        self._outbox: deque[OrderUpdate] = deque()
        self._delivering = False
        self._deliverer: threading.Thread | None = None  # the thread handing updates out, while one does
        self._told: dict[str, tuple[str, Any]] = {}  # uuid -> the last change on_update has returned from
        self._subscriptions: list[Subscription] = []
        self._wanted = True  # a reconcile is due (at start)
        self._down_since: float | None = None  # wall clock: the private connection's last end
        self._closed = False
        self.reconciles = 0
        self._thread = threading.Thread(target=self._run, name=f"upbit-orders-{next(_numbers)}", daemon=True)

    def start(self, subscriptions: Iterable[Subscription]) -> None:
        self._subscriptions = list(subscriptions)
        self._thread.start()

    def __repr__(self) -> str:
        with self._lock:
            n_open = sum(1 for o in self._orders.values() if o.is_open)
            return f"<OrderTracker {len(self._orders)} orders, {n_open} open>"

    # ---- what the application asks --------------------------------------------------------------------

    def get(self, key: str) -> Order | None:
        """The latest state of the order with this uuid or identifier, or None if unknown."""
        with self._lock:
            return self._orders.get(self._by_identifier.get(key, key))

    def open(self) -> list[Order]:
        """Every order known to be open (``wait`` or ``watch``), oldest first."""
        with self._lock:
            return sorted((o for o in self._orders.values() if o.is_open), key=lambda o: o.created_at)

    def orders(self) -> list[Order]:
        """Every order the tracker knows, in any state."""
        with self._lock:
            return list(self._orders.values())

    def balances(self) -> list[Account]:
        """The balances as the last of ``accounts()`` and the ``myAsset`` messages since left them."""
        with self._lock:
            return list(self._balances.values())

    def wait(self, key: str, timeout: float = 10.0) -> Order:
        """Block until the order with this uuid or identifier is ``done`` or ``cancel``, and
        ``on_update`` has returned from that change (what it did is done when this returns); returns
        the order. Raises StreamTimeout (a TimeoutError) if it is still open after ``timeout`` seconds."""
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
            raise InvalidRequestError(f"timeout must be a number of seconds >= 0, not {timeout!r}")
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                order = self._orders.get(self._by_identifier.get(key, key))
                if order is not None and order.is_final and (
                        self._told.get(order.uuid) == _key(order)
                        or self._deliverer is threading.current_thread()):  # asked from on_update
                    return order
                if self._closed:
                    raise ClosedError("this order tracker is closed")
                left = deadline - time.monotonic()
                if left <= 0:
                    state = order.state if order is not None else "unknown to the tracker"
                    raise StreamTimeout(f"order {key!r} is not over after {timeout}s (state: {state})")
                self._changed.wait(left)

    def reconcile(self) -> None:
        """Ask REST now (on the tracker's thread) what the stream may have missed."""
        with self._lock:
            self._wanted = True
            self._changed.notify_all()

    def close(self) -> None:
        """Stop tracking: the subscriptions cancelled, the thread joined. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._changed.notify_all()
        for sub in self._subscriptions:
            sub.cancel()
        if self._on_close is not None:
            self._on_close(self)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    # ---- what the client tells it ---------------------------------------------------------------------

    def expect(self, identifier: str) -> None:
        """A placement with this identifier is on its way."""
        with self._lock:
            self._pending.add(identifier)

    def placed(self, identifier: str, order: Order | None) -> None:
        """A placement's outcome: its order, or None when it was refused (the identifier is dropped).
        While the outcome is unknown (OrderUncertainError) the identifier stays pending, and each
        reconcile looks it up."""
        with self._lock:
            self._pending.discard(identifier)
        if order is not None:
            self._merge([order], "placed")

    def on_event(self, event: Event) -> None:
        if event.connection != PRIVATE:
            return
        if isinstance(event, Disconnected):
            with self._lock:
                if self._down_since is None:
                    self._down_since = time.time()
        elif isinstance(event, (Connected, Reconnected)):
            self.reconcile()

    def on_my_order(self, message: MyOrder) -> None:
        with self._lock:
            known = self._orders.get(message.uuid)
        self._merge([order_of(message, known)], "stream")

    def on_my_asset(self, message: MyAsset) -> None:
        with self._lock:
            if message.asset_timestamp < self._asset_time:
                return  # older than the balances already applied
            self._asset_time = message.asset_timestamp
            for asset in message.assets:
                old = self._balances.get(asset.currency)
                self._balances[asset.currency] = Account(
                    asset.currency, asset.balance, asset.locked,
                    old.avg_buy_price if old is not None else 0, bool(old and old.avg_buy_price_modified),
                    old.unit_currency if old is not None else "", old.raw if old is not None else {})

    # ---- merging and telling ----------------------------------------------------------------------------

    def _merge(self, orders: Iterable[Order], source: UpdateSource) -> None:
        with self._lock:
            for order in orders:
                old = self._orders.get(order.uuid)
                if not _newer(order, old):
                    continue
                if old is not None and order.identifier is None and old.identifier is not None:
                    order = _with_identifier(order, old.identifier)
                self._orders[order.uuid] = order
                if order.identifier:
                    self._by_identifier[order.identifier] = order.uuid
                    self._pending.discard(order.identifier)
                if old is None or _key(order) != _key(old):
                    self._outbox.append(OrderUpdate(order, source, old))
            self._changed.notify_all()
            if self._delivering or not self._outbox:
                return
            self._delivering, self._deliverer = True, threading.current_thread()
        self._deliver()

    def _deliver(self) -> None:
        """Hand the queued updates to on_update one by one; one thread at a time does this, so each
        order's updates arrive in the order they were merged."""
        while True:
            with self._lock:
                if not self._outbox:
                    self._delivering, self._deliverer = False, None
                    return
                update = self._outbox.popleft()
            if self._on_update is not None:
                try:
                    self._on_update(update)
                except Exception as exc:
                    if not self._tell(exc):
                        log.exception("on_update of the order tracker raised")
                except BaseException:  # (KeyboardInterrupt...) the next merge must still deliver
                    with self._lock:
                        self._delivering, self._deliverer = False, None
                    raise
            with self._changed:
                self._told[update.order.uuid] = _key(update.order)
                self._changed.notify_all()

    # ---- the REST side ----------------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while True:
            with self._changed:
                while not self._wanted and not self._closed:
                    self._changed.wait()
                if self._closed:
                    return
                self._wanted = False
            try:
                self._settle()
                self._reconcile_once()
                failures = 0
            except Exception as exc:
                failures += 1
                delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS)) - 1]
                error = exc if isinstance(exc, UpbitError) else _internal(exc)
                log.warning("order tracker: reconcile failed (%s); trying again in %.1fs", error, delay)
                self._tell(error)
                with self._changed:
                    self._wanted = True
                    self._changed.wait_for(lambda: self._closed, delay)

    def _settle(self) -> None:
        """Wait (bounded) until the private connection carries its subscriptions, then a moment more,
        so nothing that happens after the REST read can be missed by the stream."""
        deadline = time.monotonic() + SYNC_WAIT
        while time.monotonic() < deadline and not self._closed:
            conn = self._health().get("connections", {}).get(PRIVATE)
            if conn is not None and conn.get("state") == "OPEN" and conn.get("in_sync"):
                break
            with self._changed:
                self._changed.wait_for(lambda: self._closed, 0.05)
        with self._changed:
            self._changed.wait_for(lambda: self._closed, SETTLE)

    def _reconcile_once(self) -> None:
        started_ms = int(time.time() * 1000)
        with self._lock:
            known_open = [o.uuid for o in self._orders.values() if o.is_open]
            pending = sorted(self._pending)
            down_since = self._down_since
        found: list[Order] = []
        if known_open:
            found += self._rest.orders(uuids=known_open)  # any state: what became of each
        if pending:
            found += self._rest.orders(identifiers=pending)
        found += self._rest.open_orders()
        if down_since is not None:  # orders made and closed during the outage
            start = datetime.fromtimestamp(down_since - OUTAGE_MARGIN, timezone.utc)
            found += self._rest.closed_orders(start_time=start)
        accounts = self._rest.accounts()
        with self._lock:
            if self._down_since == down_since:
                self._down_since = None
            if started_ms >= self._asset_time:
                self._asset_time = started_ms
                self._balances = {a.currency: a for a in accounts}
            self.reconciles += 1
        self._merge(sorted(found, key=lambda o: o.created_at), "reconciled")


def _with_identifier(order: Order, identifier: str) -> Order:
    return dataclasses.replace(order, identifier=identifier)


def _internal(exc: BaseException) -> UpbitError:
    return InternalError("upbit-orders", exc)
