"""What the REST calls around a stream return (``RestClient``): markets, accounts, orderbook
instruments, past trades, tickers. Frozen dataclasses; ``raw`` keeps every field the exchange sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .values import AskBidValue, ChangeValue, Money


@dataclass(frozen=True, slots=True)
class MarketInfo:
    """A market Upbit lists (``GET /v1/market/all``); ``warning`` and ``caution`` with details."""

    market: str
    korean_name: str
    english_name: str
    warning: bool = False
    caution: tuple[str, ...] = ()  # the caution flags that are set, e.g. ("PRICE_FLUCTUATIONS",)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def quote(self) -> str:
        return self.market.partition("-")[0]

    @property
    def base(self) -> str:
        return self.market.partition("-")[2]


@dataclass(frozen=True, slots=True)
class Account:
    """One currency of the account (``GET /v1/accounts``); Upbit sends the figures as decimal text,
    kept exact as ``Decimal`` with ``Config(decimal=True)``, else floats."""

    currency: str
    balance: Money
    locked: Money
    avg_buy_price: Money
    avg_buy_price_modified: bool
    unit_currency: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class OrderbookInstrument:
    """A market's tick size and the orderbook levels it supports (``GET /v1/orderbook/instruments``)."""

    market: str
    quote_currency: str
    tick_size: float
    supported_levels: tuple[float, ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class TradeTick:
    """One past trade (``GET /v1/trades/ticks``); ``sequential_id`` is unique but not ordered."""

    market: str
    trade_date_utc: str
    trade_time_utc: str
    timestamp: int
    trade_price: float
    trade_volume: float
    prev_closing_price: float
    change_price: float
    ask_bid: AskBidValue
    sequential_id: int
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class MarketTicker:
    """A market's current ticker over REST (``GET /v1/ticker``); ``raw`` holds every field sent."""

    market: str
    trade_price: float
    opening_price: float
    high_price: float
    low_price: float
    prev_closing_price: float
    change: ChangeValue
    signed_change_rate: float
    acc_trade_volume_24h: float
    acc_trade_price_24h: float
    timestamp: int
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
