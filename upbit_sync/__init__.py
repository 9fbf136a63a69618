"""upbit-sync: a thread-based, synchronous SDK for Upbit's real-time WebSocket API."""

import logging as _logging

from ._version import __version__
from .config import Config
from .errors import (
    AuthenticationError,
    ClosedError,
    ConfigError,
    DecodeError,
    RateLimitError,
    ServerErrorReply,
    SubscriptionError,
    UpbitError,
)
from .types import (
    AskBid,
    Asset,
    Candle,
    Change,
    Connected,
    DataLoss,
    Disconnected,
    ErrorMessage,
    Event,
    ListedSubscription,
    MarketState,
    MarketWarning,
    Message,
    MyAsset,
    MyOrder,
    Orderbook,
    OrderbookUnit,
    OrderState,
    OrderType,
    Reconnected,
    ServerError,
    SmpType,
    Status,
    StreamType,
    SubscriptionList,
    Ticker,
    TimeInForce,
    Trade,
)

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

__all__ = [
    "AskBid", "Asset", "AuthenticationError", "Candle", "Change", "ClosedError", "Config",
    "ConfigError", "Connected", "DataLoss", "DecodeError", "Disconnected", "ErrorMessage", "Event",
    "ListedSubscription", "MarketState", "MarketWarning", "Message", "MyAsset", "MyOrder",
    "OrderState", "OrderType", "Orderbook", "OrderbookUnit", "RateLimitError", "Reconnected",
    "ServerError", "ServerErrorReply", "SmpType", "Status", "StreamType", "SubscriptionError",
    "SubscriptionList", "Ticker", "TimeInForce", "Trade", "UpbitError", "__version__",
]
