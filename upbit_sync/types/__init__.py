"""Typed messages, events, replies and records, one module per area; every name is here too.

Messages are frozen ``msgspec`` structs with DEFAULT field names (decoded straight from the frame, types
checked, in C); events, replies and REST records are frozen dataclasses. Enum fields keep a value they
do not know as a plain string (``values``).

- ``values``: the enums and ``Money``;  ``message``: ``Message``, the base of every data message
- ``market``: ticker, trade, orderbook, candles;  ``private``: myOrder, myAsset
- ``channels``: announcements, indicator values and signals, and their records
- ``replies``: the server's status, error and LIST_SUBSCRIPTIONS frames
- ``events``: the lifecycle events;  ``records``: what the REST calls return
- ``trading``: orders, their fills, what a market allows, closed candle bars, order updates, batch
  cancels, REST orderbooks;  ``wallet``: deposits, withdrawals, addresses, wallet state, API keys
"""

from __future__ import annotations

from .channels import (
    INDICATOR_RECORDS,
    Announcement,
    BollingerBandsParams,
    BollingerBandsValue,
    EventParams,
    Indicator,
    IndicatorMessage,
    IndicatorParams,
    IndicatorSignal,
    IndicatorValue,
    MacdParams,
    MacdValue,
    MaCrossoverParams,
    MaCrossoverValue,
    MovingAverageParams,
    MovingAverageValue,
    RsiParams,
    RsiValue,
    VolumeParams,
    VolumeValue,
)
from .events import Connected, DataLoss, Disconnected, Event, Reconnected, ServerError
from .market import Candle, Orderbook, OrderbookUnit, Ticker, Trade
from .message import Message, raw_of
from .private import Asset, MyAsset, MyOrder
from .records import Account, MarketInfo, MarketTicker, OrderbookInstrument, TradeTick
from .replies import ErrorMessage, ListedSubscription, Status, SubscriptionList
from .trading import (
    BatchCancelResult,
    CandleBar,
    ChanceMarket,
    MarketOrderbook,
    Order,
    OrderbookLevel,
    OrderChance,
    OrderRef,
    OrderTrade,
    OrderUpdate,
)
from .values import (
    AskBid,
    AskBidValue,
    Change,
    ChangeValue,
    EventType,
    EventTypeValue,
    MarketState,
    MarketStateValue,
    MarketWarning,
    MarketWarningValue,
    Money,
    OrderState,
    OrderStateValue,
    OrderType,
    OrderTypeValue,
    SmpType,
    SmpTypeValue,
    StreamType,
    StreamTypeValue,
    TimeInForce,
    TimeInForceValue,
)
from .wallet import (
    AddressRequest,
    ApiKey,
    CoinAddress,
    Deposit,
    DepositChance,
    MemberLevel,
    TravelRuleVasp,
    WalletStatus,
    WithdrawAddress,
    Withdrawal,
    WithdrawChance,
    WithdrawCurrency,
    WithdrawLimit,
)

DataMessage = (Ticker | Trade | Orderbook | Candle | MyOrder | MyAsset | Announcement | Indicator
               | IndicatorSignal)
ServerMessage = DataMessage | Status | ErrorMessage | SubscriptionList

__all__ = [
    "INDICATOR_RECORDS",
    "Account",
    "AddressRequest",
    "Announcement",
    "ApiKey",
    "AskBid",
    "AskBidValue",
    "Asset",
    "BatchCancelResult",
    "BollingerBandsParams",
    "BollingerBandsValue",
    "Candle",
    "CandleBar",
    "ChanceMarket",
    "Change",
    "ChangeValue",
    "CoinAddress",
    "Connected",
    "DataLoss",
    "DataMessage",
    "Deposit",
    "DepositChance",
    "Disconnected",
    "ErrorMessage",
    "Event",
    "EventParams",
    "EventType",
    "EventTypeValue",
    "Indicator",
    "IndicatorMessage",
    "IndicatorParams",
    "IndicatorSignal",
    "IndicatorValue",
    "ListedSubscription",
    "MaCrossoverParams",
    "MaCrossoverValue",
    "MacdParams",
    "MacdValue",
    "MarketInfo",
    "MarketOrderbook",
    "MarketState",
    "MarketStateValue",
    "MarketTicker",
    "MarketWarning",
    "MarketWarningValue",
    "MemberLevel",
    "Message",
    "Money",
    "MovingAverageParams",
    "MovingAverageValue",
    "MyAsset",
    "MyOrder",
    "Order",
    "OrderChance",
    "OrderRef",
    "OrderState",
    "OrderStateValue",
    "OrderTrade",
    "OrderType",
    "OrderTypeValue",
    "OrderUpdate",
    "Orderbook",
    "OrderbookInstrument",
    "OrderbookLevel",
    "OrderbookUnit",
    "Reconnected",
    "RsiParams",
    "RsiValue",
    "ServerError",
    "ServerMessage",
    "SmpType",
    "SmpTypeValue",
    "Status",
    "StreamType",
    "StreamTypeValue",
    "SubscriptionList",
    "Ticker",
    "TimeInForce",
    "TimeInForceValue",
    "Trade",
    "TradeTick",
    "TravelRuleVasp",
    "VolumeParams",
    "VolumeValue",
    "WalletStatus",
    "WithdrawAddress",
    "WithdrawChance",
    "WithdrawCurrency",
    "WithdrawLimit",
    "Withdrawal",
    "raw_of",
]
