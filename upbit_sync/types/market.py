"""The market data messages of the public connection: ticker, trade, orderbook and candles."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from .. import formats
from .message import Message, simple_keys
from .values import AskBidValue, ChangeValue, MarketStateValue, MarketWarningValue, StreamTypeValue


class Ticker(Message, frozen=True, dict=True, eq=False, tag="ticker", rename=simple_keys(formats.TICKER)):
    """The current price of one market (type ``ticker``)."""

    KIND: ClassVar[str] = "ticker"
    type: ClassVar[str] = "ticker"

    code: str
    opening_price: float
    high_price: float
    low_price: float
    trade_price: float
    prev_closing_price: float
    change: ChangeValue
    change_price: float
    signed_change_price: float
    change_rate: float
    signed_change_rate: float
    trade_volume: float
    acc_trade_volume: float
    acc_trade_volume_24h: float
    acc_trade_price: float
    acc_trade_price_24h: float
    trade_date: str
    trade_time: str
    trade_timestamp: int
    ask_bid: AskBidValue
    acc_ask_volume: float
    acc_bid_volume: float
    highest_52_week_price: float
    highest_52_week_date: str
    lowest_52_week_price: float
    lowest_52_week_date: str
    market_state: MarketStateValue
    timestamp: int
    stream_type: StreamTypeValue
    is_trading_suspended: bool | None = None
    delisting_date: str | None = None
    market_warning: MarketWarningValue | None = None


class Trade(Message, frozen=True, dict=True, eq=False, tag="trade", rename=simple_keys(formats.TRADE)):
    """One fill on a market (type ``trade``)."""

    KIND: ClassVar[str] = "trade"
    type: ClassVar[str] = "trade"

    code: str
    trade_price: float
    trade_volume: float
    ask_bid: AskBidValue
    prev_closing_price: float
    change: ChangeValue
    change_price: float
    trade_date: str
    trade_time: str
    trade_timestamp: int
    timestamp: int
    sequential_id: int
    stream_type: StreamTypeValue
    best_ask_price: float | None = None
    best_ask_size: float | None = None
    best_bid_price: float | None = None
    best_bid_size: float | None = None


class OrderbookUnit(msgspec.Struct, frozen=True, gc=False, rename=simple_keys(formats.ORDERBOOK_UNIT)):
    """One price level: the ask and the bid at the same depth index."""

    ask_price: float
    bid_price: float
    ask_size: float
    bid_size: float


class Orderbook(Message, frozen=True, dict=True, eq=False, tag="orderbook",
                rename=simple_keys(formats.ORDERBOOK)):
    """A full order book (every frame is complete, not a delta)."""

    KIND: ClassVar[str] = "orderbook"
    type: ClassVar[str] = "orderbook"

    code: str
    total_ask_size: float
    total_bid_size: float
    orderbook_units: tuple[OrderbookUnit, ...]
    timestamp: int
    stream_type: StreamTypeValue
    level: float | None = None

    @property
    def units(self) -> tuple[OrderbookUnit, ...]:
        """The price levels, best first (same as ``orderbook_units``)."""
        return self.orderbook_units


class Candle(Message, frozen=True, dict=True, eq=False, tag="candle", rename=simple_keys(formats.CANDLE)):
    """A candle of one unit (type ``candle.1s`` ... ``candle.240m``); the last one for a time wins.

    Messages off the wire are of a subclass per unit (also named ``Candle``) whose ``type`` says it."""

    KIND: ClassVar[str] = "candle"
    type: ClassVar[str] = "candle"

    code: str
    candle_date_time_utc: str
    candle_date_time_kst: str
    opening_price: float
    high_price: float
    low_price: float
    trade_price: float
    candle_acc_trade_volume: float
    candle_acc_trade_price: float
    timestamp: int
    stream_type: StreamTypeValue

    @property
    def unit(self) -> str:
        """The candle unit, e.g. ``"1m"``."""
        return self.type.partition(".")[2]
