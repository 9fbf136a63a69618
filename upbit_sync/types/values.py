"""The values fields hold beyond plain numbers and text: Upbit's enums, and ``Money``.

Enum fields hold an enum member when the value is known and the plain string when it is not: Upbit adds
values over time, and a new one must never stop a stream. Every enum is a ``str`` enum, so comparing
with a plain string works either way (``msg.change == "RISE"``).
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from decimal import Decimal


class _StrEnum(str, Enum):
    def __str__(self) -> str:
        return str(self.value)


class Change(_StrEnum):
    RISE = "RISE"
    EVEN = "EVEN"
    FALL = "FALL"


class AskBid(_StrEnum):
    ASK = "ASK"
    BID = "BID"


class StreamType(_StrEnum):
    SNAPSHOT = "SNAPSHOT"
    REALTIME = "REALTIME"
    BACKFILL = "BACKFILL"  # not Upbit's: a trade missed during a reconnect, fetched over REST


class MarketState(_StrEnum):
    PREVIEW = "PREVIEW"
    ACTIVE = "ACTIVE"
    DELISTED = "DELISTED"


class MarketWarning(_StrEnum):
    NONE = "NONE"
    CAUTION = "CAUTION"


class OrderType(_StrEnum):
    LIMIT = "limit"
    PRICE = "price"
    MARKET = "market"
    BEST = "best"


class OrderState(_StrEnum):
    WAIT = "wait"
    WATCH = "watch"
    TRADE = "trade"
    DONE = "done"
    CANCEL = "cancel"
    PREVENTED = "prevented"


class TimeInForce(_StrEnum):
    IOC = "ioc"
    FOK = "fok"
    POST_ONLY = "post_only"


class SmpType(_StrEnum):
    REDUCE = "reduce"
    CANCEL_MAKER = "cancel_maker"
    CANCEL_TAKER = "cancel_taker"


class EventType(_StrEnum):
    """An announcement's: new, or edited."""

    CREATED = "CREATED"
    UPDATED = "UPDATED"


# A field typed with one of these holds the enum member, or the server's string if it is new to us.
# msgspec decodes the enum itself (a value it does not know sends that message down the careful path,
# protocol.to_message, which keeps the string); the type checker sees the union users must handle.
if TYPE_CHECKING:
    ChangeValue = Change | str
    AskBidValue = AskBid | str
    StreamTypeValue = StreamType | str
    MarketStateValue = MarketState | str
    MarketWarningValue = MarketWarning | str
    OrderTypeValue = OrderType | str
    OrderStateValue = OrderState | str
    TimeInForceValue = TimeInForce | str
    SmpTypeValue = SmpType | str
    EventTypeValue = EventType | str
else:
    ChangeValue, AskBidValue, StreamTypeValue = Change, AskBid, StreamType
    MarketStateValue, MarketWarningValue = MarketState, MarketWarning
    OrderTypeValue, OrderStateValue = OrderType, OrderState
    TimeInForceValue, SmpTypeValue = TimeInForce, SmpType
    EventTypeValue = EventType

# The money figures of the account's own messages (MyOrder's prices, volumes, fees and funds, an
# Asset's balance and locked, an Account's): a float, or with ``Config(decimal=True)`` the exact
# ``Decimal`` of the number as the exchange wrote it. Their classes hold floats; the private
# connection of a decimal config decodes into twins of them (protocol.EXACT_CLASSES, subclasses of
# the same names) whose money fields are Decimal. The type checker sees the union users must handle.
if TYPE_CHECKING:
    Money = float | Decimal
else:
    Money = float
