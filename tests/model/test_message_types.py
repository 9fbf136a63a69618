"""Message values: frozen, slotted, compared by their fields (not ``raw``), with a short repr."""

from __future__ import annotations

import dataclasses
import json

import msgspec
import pytest

from upbit_sync import (
    Asset,
    Candle,
    ErrorMessage,
    ListedSubscription,
    MyAsset,
    MyOrder,
    Orderbook,
    OrderbookUnit,
    Status,
    SubscriptionList,
    Ticker,
    Trade,
)
from upbit_sync.protocol import decode

from . import payloads

DATA_PAYLOADS = {
    Ticker: payloads.TICKER_DEFAULT,
    Trade: payloads.TRADE_DEFAULT,
    Orderbook: payloads.ORDERBOOK_DEFAULT,
    Candle: payloads.CANDLE_DEFAULT,
    MyOrder: payloads.MY_ORDER_DEFAULT,
    MyAsset: payloads.MY_ASSET_DEFAULT,
}

ALL_PAYLOADS = {
    **{cls.__name__: text for cls, text in DATA_PAYLOADS.items()},
    "Status": payloads.STATUS,
    "ErrorMessage": payloads.ERROR_NO_TICKET,
    "SubscriptionList": payloads.LIST_SUBSCRIPTIONS_DEFAULT,
}

NESTED_VALUES = {
    "OrderbookUnit": OrderbookUnit(1.0, 2.0, 3.0, 4.0),
    "Asset": Asset("KRW", 1.0, 0.0),
    "ListedSubscription": ListedSubscription("ticker", ("KRW-BTC",)),
}


def decoded(text: str) -> object:
    return decode(text.encode("utf-8"))[0]


def field_names(value: object) -> list[str]:
    if isinstance(value, msgspec.Struct):
        return list(value.__struct_fields__)
    return [f.name for f in dataclasses.fields(value)]  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ALL_PAYLOADS)
def test_decoded_message_is_frozen(name: str) -> None:
    msg = decoded(ALL_PAYLOADS[name])
    with pytest.raises(AttributeError):  # FrozenInstanceError is one
        setattr(msg, field_names(msg)[0], "changed")


@pytest.mark.parametrize("name", ALL_PAYLOADS)
def test_decoded_message_takes_no_new_attributes(name: str) -> None:
    msg = decoded(ALL_PAYLOADS[name])
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
        msg.extra = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["Status", "ErrorMessage", "SubscriptionList"])
def test_decoded_reply_is_slotted(name: str) -> None:
    assert not hasattr(decoded(ALL_PAYLOADS[name]), "__dict__")


@pytest.mark.parametrize("name", NESTED_VALUES)
def test_nested_value_is_frozen_and_slotted(name: str) -> None:
    value = NESTED_VALUES[name]
    assert not hasattr(value, "__dict__")
    with pytest.raises(AttributeError):
        setattr(value, field_names(value)[0], "changed")


@pytest.mark.parametrize("cls", DATA_PAYLOADS, ids=lambda cls: cls.__name__)
def test_messages_with_equal_fields_are_equal_whatever_their_raw(cls: type) -> None:
    msg = decoded(DATA_PAYLOADS[cls])
    other = msgspec.structs.replace(msg)  # type: ignore[type-var]
    other.__dict__["_raw"] = {"something": "else"}
    assert other.raw != msg.raw
    assert other == msg
    assert hash(other) == hash(msg)


@pytest.mark.parametrize("cls", DATA_PAYLOADS, ids=lambda cls: cls.__name__)
def test_messages_with_a_different_field_are_not_equal(cls: type) -> None:
    msg = decoded(DATA_PAYLOADS[cls])
    assert msgspec.structs.replace(msg, timestamp=1) != msg  # type: ignore[type-var]


@pytest.mark.parametrize("cls", DATA_PAYLOADS, ids=lambda cls: cls.__name__)
def test_repr_leaves_out_raw(cls: type) -> None:
    data = payloads.as_dict(DATA_PAYLOADS[cls])
    data["only_in_raw"] = "sentinel-7f3a"
    text = repr(decode(json.dumps(data))[0])
    assert text.startswith(f"{cls.__name__}(")
    assert "raw=" not in text
    assert "sentinel-7f3a" not in text


def test_orderbook_units_is_orderbook_units() -> None:
    msg = decoded(payloads.ORDERBOOK_DEFAULT)
    assert isinstance(msg, Orderbook)
    assert msg.units is msg.orderbook_units


def test_orderbook_units_is_a_tuple_of_orderbook_units() -> None:
    msg = decoded(payloads.ORDERBOOK_DEFAULT)
    assert isinstance(msg, Orderbook)
    assert type(msg.orderbook_units) is tuple
    assert all(type(unit) is OrderbookUnit for unit in msg.orderbook_units)


def test_my_asset_assets_is_a_tuple_of_assets() -> None:
    msg = decoded(payloads.MY_ASSET_DEFAULT)
    assert isinstance(msg, MyAsset)
    assert type(msg.assets) is tuple
    assert all(type(asset) is Asset for asset in msg.assets)


def test_candle_unit_is_the_type_suffix() -> None:
    msg = decoded(payloads.CANDLE_DEFAULT)
    assert isinstance(msg, Candle)
    assert msg.unit == "1m"


def test_my_asset_code_is_none() -> None:
    msg = decoded(payloads.MY_ASSET_DEFAULT)
    assert isinstance(msg, MyAsset)
    assert msg.code is None


def test_subscription_list_result_is_a_tuple_of_listed_subscriptions() -> None:
    msg = decoded(payloads.LIST_SUBSCRIPTIONS_DEFAULT)
    assert isinstance(msg, SubscriptionList)
    assert type(msg.result) is tuple
    assert type(msg.result[0].codes) is tuple


@pytest.mark.parametrize("cls", DATA_PAYLOADS, ids=lambda cls: cls.__name__)
def test_message_kind_names_its_type(cls: type) -> None:
    msg = decoded(DATA_PAYLOADS[cls])
    assert msg.type.partition(".")[0] == cls.KIND.partition(".")[0]  # type: ignore[attr-defined]


def test_status_and_error_messages_are_plain_values() -> None:
    assert Status("UP") == Status("UP")
    assert ErrorMessage("NO_TICKET", "x") != ErrorMessage("NO_TICKET", "y")
