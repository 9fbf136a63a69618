"""What trading returns: orders and their fills, what a market allows (``/v1/orders/chance``), closed
candle bars, and the updates an order tracker reports. Frozen, slotted dataclasses with Upbit's REST
field names; ``raw`` keeps every field the exchange sent. Money is ``float``, or the exact ``Decimal``
of Upbit's decimal text with ``Config(decimal=True)``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from .records import Account
from .values import Money

OPEN_STATES = frozenset({"wait", "watch"})
FINAL_STATES = frozenset({"done", "cancel"})


@dataclass(frozen=True, slots=True)
class OrderTrade:
    """One fill of an order (``trades`` of ``GET /v1/order``)."""

    uuid: str
    market: str
    price: Money
    volume: Money
    funds: Money
    side: str
    trend: str | None
    created_at: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Order:
    """One of the account's orders, as Upbit last described it.

    ``state`` is ``wait`` or ``watch`` while open and ``done`` or ``cancel`` once over (a cancelled
    order may have filled in part: see ``executed_volume``). ``price`` and ``volume`` are None where the
    order type has none (a market buy has no volume). ``trades`` is filled only by :meth:`RestClient.order`;
    ``executed_funds`` only by the list calls and the stream. ``new_order_uuid`` and
    ``new_order_identifier`` are set on what ``cancel_and_new`` returns (the old order).
    """

    uuid: str
    market: str
    side: str
    ord_type: str
    state: str
    price: Money | None
    volume: Money | None
    remaining_volume: Money | None
    executed_volume: Money
    trades_count: int
    paid_fee: Money
    locked: Money
    created_at: str
    identifier: str | None = None
    reserved_fee: Money | None = None
    remaining_fee: Money | None = None
    executed_funds: Money | None = None
    time_in_force: str | None = None
    smp_type: str | None = None
    prevented_volume: Money | None = None
    prevented_locked: Money | None = None
    trades: tuple[OrderTrade, ...] = ()
    new_order_uuid: str | None = None
    new_order_identifier: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_open(self) -> bool:
        """Waiting (``wait``) or reserved (``watch``): it may still fill or be cancelled."""
        return self.state in OPEN_STATES

    @property
    def is_final(self) -> bool:
        """``done`` or ``cancel``: nothing about this order changes any more."""
        return self.state in FINAL_STATES


@dataclass(frozen=True, slots=True)
class ChanceMarket:
    """What one market allows (``market`` of ``GET /v1/orders/chance``)."""

    id: str
    name: str
    order_sides: tuple[str, ...]
    bid_types: tuple[str, ...]
    ask_types: tuple[str, ...]
    bid_currency: str
    bid_min_total: Money
    ask_currency: str
    ask_min_total: Money
    max_total: Money
    state: str


@dataclass(frozen=True, slots=True)
class OrderChance:
    """Fees, limits and the two balances that matter for one market (``GET /v1/orders/chance``);
    fee rates are fractions (``0.0005`` is 0.05 %)."""

    bid_fee: Money
    ask_fee: Money
    maker_bid_fee: Money
    maker_ask_fee: Money
    market: ChanceMarket
    bid_account: Account
    ask_account: Account
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class CandleBar:
    """One closed candle: REST's candle, or a WebSocket candle once its bucket is over.

    ``unit`` is the SDK's spelling (``"1m"``, ``"1d"``, ``"1s"``...); ``candle_date_time_utc`` is the
    bucket's start without a zone, as Upbit writes it, and :attr:`start` the same instant as an aware
    datetime. ``timestamp`` is the time of the bucket's last trade in ms, when known.
    """

    market: str
    unit: str
    candle_date_time_utc: str
    candle_date_time_kst: str
    opening_price: Money
    high_price: Money
    low_price: Money
    trade_price: Money
    candle_acc_trade_volume: Money
    candle_acc_trade_price: Money
    timestamp: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def start(self) -> datetime:
        """The bucket's start, UTC."""
        return datetime.fromisoformat(self.candle_date_time_utc).replace(tzinfo=timezone.utc)

    @property
    def close(self) -> Money:
        """The last price of the bucket (Upbit calls it ``trade_price``)."""
        return self.trade_price


UpdateSource = Literal["placed", "stream", "reconciled"]


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """A change to a tracked order: its latest state ``order``, where the change was learnt
    (``"placed"``: the placement's answer; ``"stream"``: a myOrder message; ``"reconciled"``: REST,
    after the stream missed it), and the state before it (None for an order first seen)."""

    order: Order
    source: UpdateSource
    previous: Order | None = None


@dataclass(frozen=True, slots=True)
class OrderRef:
    """An order named in a batch cancel's answer: its uuid, market and identifier."""

    uuid: str
    market: str
    identifier: str | None = None


@dataclass(frozen=True, slots=True)
class BatchCancelResult:
    """What a batch cancel did (``DELETE /v1/orders/uuids``, ``/v1/orders/open``): the orders whose
    cancel was accepted and those refused (already done, already cancelled, market suspended). A
    cancel accepted is not yet final: the order turns ``cancel`` a moment later. Chunked calls are
    summed into one result."""

    success: tuple[OrderRef, ...]
    failed: tuple[OrderRef, ...]

    @property
    def success_count(self) -> int:
        return len(self.success)

    @property
    def failed_count(self) -> int:
        return len(self.failed)


@dataclass(frozen=True, slots=True)
class OrderbookLevel:
    """One pair of levels of a REST orderbook, best first."""

    ask_price: Money
    bid_price: Money
    ask_size: Money
    bid_size: Money


@dataclass(frozen=True, slots=True)
class MarketOrderbook:
    """A market's orderbook over REST (``GET /v1/orderbook``); ``level`` is the price grouping
    (0: the plain tick)."""

    market: str
    timestamp: int
    total_ask_size: Money
    total_bid_size: Money
    orderbook_units: tuple[OrderbookLevel, ...]
    level: Money = 0.0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
