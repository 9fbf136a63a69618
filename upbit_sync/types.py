"""Typed messages, events and enums. Messages are frozen ``msgspec`` structs with DEFAULT field names
(decoded straight from the frame, types checked, in C); events and replies are frozen dataclasses.

Enum fields hold an enum member when the value is known and the plain string when it is not: Upbit adds
values over time, and a new one must never stop a stream. Every enum is a ``str`` enum, so comparing
with a plain string works either way (``msg.change == "RISE"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from . import formats

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
# ``Decimal`` of the number as the exchange wrote it. The classes here hold floats; the private
# connection of a decimal config decodes into twins of them (protocol.EXACT_CLASSES, subclasses of
# the same names) whose money fields are Decimal. The type checker sees the union users must handle.
if TYPE_CHECKING:
    Money = float | Decimal
else:
    Money = float


def _keys(key_map: formats.KeyMap) -> dict[str, str]:
    """A message class's field -> SIMPLE key map (its ``type`` is the tag, not a field)."""
    return {name: short for name, short in key_map.simple.items() if name != "type"}


class Message(msgspec.Struct, frozen=True, dict=True, eq=False, kw_only=True, tag_field="ty",
              forbid_unknown_fields=True):
    """Base of every data message: frozen ``msgspec`` structs with DEFAULT field names (that decode
    from Upbit's SIMPLE keys, the SDK's wire format).

    ``type`` is the message type (``"ticker"``, ``"candle.1m"``, ...), ``received_at`` the wall-clock
    time (``time.time()``) of the socket read that brought the message, and ``raw`` the message as a
    dict with DEFAULT keys (made on first use). Every key the server sent is in it: a frame with a key
    the class does not know is decoded the careful way, and ``raw`` keeps that key.
    Two messages are equal when they are of one class with equal fields, ``received_at`` aside.
    """

    KIND: ClassVar[str] = ""
    type: ClassVar[str] = ""
    # the last field of every message (keyword-only): set by the router without a dict per message
    received_at: float = 0.0

    @property
    def raw(self) -> dict[str, Any]:
        cached = self.__dict__.get("_raw")
        if cached is None:
            cached = self.__dict__["_raw"] = raw_of(self)
        return cached

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return msgspec.structs.astuple(self)[:-1] == msgspec.structs.astuple(other)[:-1]

    def __hash__(self) -> int:
        return hash(msgspec.structs.astuple(self)[:-1])


def raw_of(message: Message) -> dict[str, Any]:
    """``raw`` for a message, DEFAULT keys and the SDK's ``received_at`` once stamped: the dict it
    was made from (the careful path, protocol.to_message), else its fields. A frame the strict
    decoder took held no key its class does not know (``forbid_unknown_fields``), so its fields are
    all it said; an optional key it left out is None here."""
    wire = getattr(message, "_wire", None)  # without making the instance's __dict__
    if wire is not None:
        raw = formats.to_default(wire) if "ty" in wire else dict(wire)
    else:
        raw = msgspec.structs.asdict(message)  # in C: the usual case
        raw["type"] = message.type
        nested = _NESTED.get(message.KIND)
        if nested is not None:
            raw[nested] = [msgspec.structs.asdict(item) for item in raw[nested]]
        if not message.received_at:  # never stamped (Config.metrics off, or made by hand)
            del raw["received_at"]
    return raw


_NESTED = {"orderbook": "orderbook_units", "myAsset": "assets"}  # a list of records, as dicts in raw


class Ticker(Message, frozen=True, dict=True, eq=False, tag="ticker", rename=_keys(formats.TICKER)):
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


class Trade(Message, frozen=True, dict=True, eq=False, tag="trade", rename=_keys(formats.TRADE)):
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


class OrderbookUnit(msgspec.Struct, frozen=True, gc=False, rename=_keys(formats.ORDERBOOK_UNIT)):
    """One price level: the ask and the bid at the same depth index."""

    ask_price: float
    bid_price: float
    ask_size: float
    bid_size: float


class Orderbook(Message, frozen=True, dict=True, eq=False, tag="orderbook", rename=_keys(formats.ORDERBOOK)):
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


class Candle(Message, frozen=True, dict=True, eq=False, tag="candle", rename=_keys(formats.CANDLE)):
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


class MyOrder(Message, frozen=True, dict=True, eq=False, tag="myOrder", rename=_keys(formats.MY_ORDER)):
    """A change to one of the account's orders (private; type ``myOrder``)."""

    KIND: ClassVar[str] = "myOrder"
    type: ClassVar[str] = "myOrder"

    code: str
    uuid: str
    ask_bid: AskBidValue
    order_type: OrderTypeValue
    state: OrderStateValue
    timestamp: int
    stream_type: StreamTypeValue
    trade_uuid: str | None = None
    price: Money | None = None
    avg_price: Money | None = None
    volume: Money | None = None
    remaining_volume: Money | None = None
    executed_volume: Money | None = None
    trades_count: int | None = None
    reserved_fee: Money | None = None
    remaining_fee: Money | None = None
    paid_fee: Money | None = None
    locked: Money | None = None
    executed_funds: Money | None = None
    time_in_force: TimeInForceValue | None = None
    trade_fee: Money | None = None
    is_maker: bool | None = None
    identifier: str | None = None
    smp_type: SmpTypeValue | None = None
    prevented_volume: Money | None = None
    prevented_locked: Money | None = None
    trade_timestamp: int | None = None
    order_timestamp: int | None = None


class Asset(msgspec.Struct, frozen=True, gc=False, rename=_keys(formats.ASSET)):
    """One currency's balance in a ``myAsset`` message."""

    currency: str
    balance: Money
    locked: Money


class MyAsset(Message, frozen=True, dict=True, eq=False, tag="myAsset", rename=_keys(formats.MY_ASSET)):
    """The account's balances after a change (private; type ``myAsset``; has no ``code``)."""

    KIND: ClassVar[str] = "myAsset"
    type: ClassVar[str] = "myAsset"

    asset_uuid: str
    assets: tuple[Asset, ...]
    asset_timestamp: int
    timestamp: int
    stream_type: StreamTypeValue

    @property
    def code(self) -> None:
        """myAsset belongs to no market."""
        return None


class Announcement(Message, frozen=True, dict=True, eq=False, tag="announcement",
                   rename=_keys(formats.ANNOUNCEMENT)):
    """An Upbit notice, created or updated (private connection; type ``announcement``; no code).

    Every field may be missing from a frame (None then). ``body`` (Markdown) comes only to a
    subscription with ``include_body=True``, and is None when Upbit finds it too large to send.
    ``first_listed_at`` and ``listed_at`` are ISO 8601 text in KST, as sent."""

    KIND: ClassVar[str] = "announcement"
    type: ClassVar[str] = "announcement"

    uuid: str | None = None
    title: str | None = None
    category: str | None = None
    event_type: EventTypeValue | None = None
    url: str | None = None
    body: str | None = None
    first_listed_at: str | None = None
    listed_at: str | None = None
    timestamp: int | None = None
    stream_type: StreamTypeValue | None = None

    @property
    def code(self) -> None:
        """An announcement belongs to no market."""
        return None


# ---- indicator values and params: one small record per indicator (docs/channels.md §3) --------------


class _Record(msgspec.Struct, frozen=True, gc=False):
    pass


class VolumeParams(_Record, frozen=True, gc=False):
    period: int


class RsiParams(_Record, frozen=True, gc=False):
    period: int


class MovingAverageParams(_Record, frozen=True, gc=False):
    period: int
    type: str  # SMA or EMA


class MaCrossoverParams(_Record, frozen=True, gc=False):
    short_period: int
    long_period: int
    type: str


class BollingerBandsParams(_Record, frozen=True, gc=False):
    period: int
    multiplier: float


class MacdParams(_Record, frozen=True, gc=False):
    fast: int
    slow: int
    signal_period: int


class VolumeValue(_Record, frozen=True, gc=False):
    volume: float  # the candle's
    avg_volume: float  # over ``period`` candles
    ratio: float  # volume / avg_volume


class RsiValue(_Record, frozen=True, gc=False):
    rsi: float


class MovingAverageValue(_Record, frozen=True, gc=False):
    value: float


class MaCrossoverValue(_Record, frozen=True, gc=False):
    ma_short: float
    ma_long: float


class BollingerBandsValue(_Record, frozen=True, gc=False):
    bb_upper: float
    bb_middle: float
    bb_lower: float


class MacdValue(_Record, frozen=True, gc=False):
    macd: float
    macd_signal: float
    histogram: float  # macd - macd_signal


class EventParams(_Record, frozen=True, gc=False):
    """What a signal's trigger was asked with: a volume spike's ``multiplier``, an RSI ``threshold``."""

    multiplier: float | None = None
    threshold: float | None = None


IndicatorParams = (VolumeParams | RsiParams | MovingAverageParams | MaCrossoverParams
                   | BollingerBandsParams | MacdParams)
IndicatorValue = (VolumeValue | RsiValue | MovingAverageValue | MaCrossoverValue | BollingerBandsValue
                  | MacdValue)
# indicator type -> (its params record, its value record); an indicator not here keeps plain mappings
INDICATOR_RECORDS: dict[str, tuple[type[Any], type[Any]]] = {
    "volume": (VolumeParams, VolumeValue),
    "rsi": (RsiParams, RsiValue),
    "moving_average": (MovingAverageParams, MovingAverageValue),
    "ma_crossover": (MaCrossoverParams, MaCrossoverValue),
    "bollinger_bands": (BollingerBandsParams, BollingerBandsValue),
    "macd": (MacdParams, MacdValue),
}


class IndicatorMessage(Message, frozen=True, dict=True, eq=False, rename=_keys(formats.INDICATOR)):
    """What :class:`Indicator` and :class:`IndicatorSignal` share: one (code, indicator) at one candle
    close. ``params`` and ``value`` are the indicator's records (``RsiParams``, ``RsiValue``, ...);
    for an indicator this version does not know, they are plain dicts (DEFAULT keys where known).
    ``candle_date_time_utc`` is the candle's time as sent (UTC, no offset)."""

    code: str
    timeframe: str
    indicator: str
    params: IndicatorParams | dict[str, Any]
    value: IndicatorValue | dict[str, Any]
    candle_date_time_utc: str
    timestamp: int
    stream_type: StreamTypeValue


class Indicator(IndicatorMessage, frozen=True, dict=True, eq=False, tag="indicator"):
    """An indicator's value at a candle close (info connection; type ``indicator``)."""

    KIND: ClassVar[str] = "indicator"
    type: ClassVar[str] = "indicator"


class IndicatorSignal(IndicatorMessage, frozen=True, dict=True, eq=False, tag="indicator_signal"):
    """A signal's condition went from not met to met (info connection; type ``indicator_signal``):
    ``trigger`` is what fired, ``event_params`` what it was asked with (empty for most)."""

    KIND: ClassVar[str] = "indicator_signal"
    type: ClassVar[str] = "indicator_signal"

    trigger: str
    event_params: EventParams | dict[str, Any] = EventParams()


@dataclass(frozen=True, slots=True)
class Status:
    """The server's heartbeat, ``{"status": "UP"}``."""

    status: str


@dataclass(frozen=True, slots=True)
class ErrorMessage:
    """An error frame from the server, e.g. ``WRONG_FORMAT``; the server closes the socket after it."""

    name: str
    message: str


@dataclass(frozen=True, slots=True)
class ListedSubscription:
    """One entry of a LIST_SUBSCRIPTIONS reply."""

    type: str
    codes: tuple[str, ...]
    level: float | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionList:
    """The server's answer to LIST_SUBSCRIPTIONS: what this connection carries."""

    ticket: str | None
    result: tuple[ListedSubscription, ...]


# ---- REST results ---------------------------------------------------------------------------------


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


DataMessage = (Ticker | Trade | Orderbook | Candle | MyOrder | MyAsset | Announcement | Indicator
               | IndicatorSignal)
ServerMessage = DataMessage | Status | ErrorMessage | SubscriptionList


# ---- lifecycle events -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """Base of the lifecycle events delivered to ``on_event`` and to ``stream(events=True)``."""

    connection: str


@dataclass(frozen=True, slots=True)
class Connected(Event):
    """A connection is open (and its subscriptions were sent)."""

    url: str
    """Where, with any password in it masked."""


@dataclass(frozen=True, slots=True)
class Disconnected(Event):
    """A connection ended without being asked to; recovery has been scheduled."""

    code: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Reconnected(Event):
    """A connection is back with its subscriptions restored.

    Snapshots heal ticker and orderbook state; trades during ``downtime_s`` are gone.
    """

    downtime_s: float
    trades_may_be_missing: bool = True


@dataclass(frozen=True, slots=True)
class DataLoss(Event):
    """Messages were lost for one key: ``dropped`` since the last such event, to a full queue
    (``policy`` is the overflow policy), or trades a backfill could not recover (``policy``
    "backfill"; ``reason`` says why, and ``dropped`` counts those known, 0 when none could be)."""

    type: str
    code: str | None
    dropped: int
    policy: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ServerError(Event):
    """The server sent an error frame."""

    name: str
    message: str
