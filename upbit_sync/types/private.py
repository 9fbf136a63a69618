"""The account's own messages (private connection): ``myOrder`` and ``myAsset``."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from .. import formats
from .message import Message, simple_keys
from .values import (
    AskBidValue,
    Money,
    OrderStateValue,
    OrderTypeValue,
    SmpTypeValue,
    StreamTypeValue,
    TimeInForceValue,
)


class MyOrder(Message, frozen=True, dict=True, eq=False, tag="myOrder", rename=simple_keys(formats.MY_ORDER)):
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


class Asset(msgspec.Struct, frozen=True, gc=False, rename=simple_keys(formats.ASSET)):
    """One currency's balance in a ``myAsset`` message."""

    currency: str
    balance: Money
    locked: Money


class MyAsset(Message, frozen=True, dict=True, eq=False, tag="myAsset", rename=simple_keys(formats.MY_ASSET)):
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
