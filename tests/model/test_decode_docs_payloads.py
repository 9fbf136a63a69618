"""The payloads of docs/upbit.md §9 (and hand-built ones) decode to the right typed messages."""

from __future__ import annotations

import json

import pytest

from upbit_sync import (
    AskBid,
    Asset,
    Candle,
    Change,
    ErrorMessage,
    ListedSubscription,
    MarketState,
    MarketWarning,
    MyAsset,
    MyOrder,
    Orderbook,
    OrderbookUnit,
    OrderState,
    OrderType,
    SmpType,
    Status,
    StreamType,
    SubscriptionList,
    Ticker,
    TimeInForce,
    Trade,
)
from upbit_sync.formats import CANDLE_TYPES
from upbit_sync.protocol import decode

from . import payloads


def decode_one(text: str) -> object:
    """The single message in a binary frame holding ``text``."""
    messages = decode(text.encode("utf-8"))
    assert len(messages) == 1
    return messages[0]


# ---- ticker (DEFAULT, docs) ----------------------------------------------------------------------


def test_docs_ticker_decodes_to_a_ticker() -> None:
    assert type(decode_one(payloads.TICKER_DEFAULT)) is Ticker


def test_docs_ticker_carries_its_prices_and_volumes() -> None:
    msg = decode_one(payloads.TICKER_DEFAULT)
    assert isinstance(msg, Ticker)
    assert msg.type == "ticker"
    assert msg.code == "KRW-BTC"
    assert msg.opening_price == 31883000
    assert msg.trade_price == 32287000
    assert msg.prev_closing_price == 31883000.0
    assert msg.change_rate == 0.0126713295
    assert msg.trade_volume == 0.03103806
    assert msg.acc_trade_price_24h == 228827082483.70729
    assert msg.acc_trade_volume_24h == 7158.8028356
    assert msg.highest_52_week_price == 57678000.0
    assert msg.lowest_52_week_date == "2022-12-30"


def test_docs_ticker_carries_its_dates_and_timestamps() -> None:
    msg = decode_one(payloads.TICKER_DEFAULT)
    assert isinstance(msg, Ticker)
    assert msg.trade_date == "20230221"
    assert msg.trade_time == "074102"
    assert msg.trade_timestamp == 1676965262139
    assert msg.timestamp == 1676965262177


def test_docs_ticker_enums_are_enum_members() -> None:
    msg = decode_one(payloads.TICKER_DEFAULT)
    assert isinstance(msg, Ticker)
    assert msg.change is Change.RISE
    assert msg.ask_bid is AskBid.ASK
    assert msg.market_state is MarketState.ACTIVE
    assert msg.market_warning is MarketWarning.NONE
    assert msg.stream_type is StreamType.REALTIME


def test_docs_ticker_optional_fields_keep_false_and_null() -> None:
    msg = decode_one(payloads.TICKER_DEFAULT)
    assert isinstance(msg, Ticker)
    assert msg.is_trading_suspended is False
    assert msg.delisting_date is None


def test_docs_ticker_raw_is_the_decoded_default_dict() -> None:
    msg = decode_one(payloads.TICKER_DEFAULT)
    assert isinstance(msg, Ticker)
    assert msg.raw == payloads.as_dict(payloads.TICKER_DEFAULT)


# ---- orderbook (SIMPLE, live) --------------------------------------------------------------------


def test_live_simple_orderbook_decodes_to_an_orderbook() -> None:
    assert type(decode_one(payloads.ORDERBOOK_SIMPLE)) is Orderbook


def test_live_simple_orderbook_carries_its_totals_and_code() -> None:
    msg = decode_one(payloads.ORDERBOOK_SIMPLE)
    assert isinstance(msg, Orderbook)
    assert msg.type == "orderbook"
    assert msg.code == "KRW-BTC"
    assert msg.timestamp == 1790134773006
    assert msg.total_ask_size == 0.48514983
    assert msg.total_bid_size == 2.2403413
    assert msg.level == 0
    assert msg.stream_type is StreamType.SNAPSHOT


def test_live_simple_orderbook_units_expand_with_exponent_numbers() -> None:
    msg = decode_one(payloads.ORDERBOOK_SIMPLE)
    assert isinstance(msg, Orderbook)
    assert msg.units == (
        OrderbookUnit(ask_price=116606000, bid_price=116534000, ask_size=0.06288509,
                      bid_size=0.00079276),
        OrderbookUnit(ask_price=116609000, bid_price=116521000, ask_size=0.0005,
                      bid_size=0.01624318),
    )


def test_live_simple_orderbook_raw_has_default_keys_only() -> None:
    msg = decode_one(payloads.ORDERBOOK_SIMPLE)
    assert isinstance(msg, Orderbook)
    assert msg.raw == payloads.as_dict(payloads.ORDERBOOK_DEFAULT)


def test_default_orderbook_decodes_like_the_simple_one() -> None:
    assert decode_one(payloads.ORDERBOOK_DEFAULT) == decode_one(payloads.ORDERBOOK_SIMPLE)


# ---- trade (DEFAULT, docs) -----------------------------------------------------------------------


def test_docs_trade_decodes_to_a_trade() -> None:
    assert type(decode_one(payloads.TRADE_DEFAULT)) is Trade


def test_docs_trade_carries_its_values() -> None:
    msg = decode_one(payloads.TRADE_DEFAULT)
    assert isinstance(msg, Trade)
    assert msg.code == "KRW-BTC"
    assert msg.trade_price == 109847000.0
    assert msg.trade_volume == 0.00509799
    assert msg.prev_closing_price == 109165000.0
    assert msg.change_price == 682000.0
    assert msg.trade_date == "2026-08-26"
    assert msg.trade_time == "07:15:54"
    assert msg.trade_timestamp == 1787728554797
    assert msg.timestamp == 1787728554853
    assert msg.best_ask_price == 109867000
    assert msg.best_ask_size == 0.0099545
    assert msg.best_bid_price == 109847000
    assert msg.best_bid_size == 0.1583673


def test_docs_trade_sequential_id_stays_an_exact_integer() -> None:
    msg = decode_one(payloads.TRADE_DEFAULT)
    assert isinstance(msg, Trade)
    assert msg.sequential_id == 17877285547970000
    assert isinstance(msg.sequential_id, int)


def test_docs_trade_enums_are_enum_members() -> None:
    msg = decode_one(payloads.TRADE_DEFAULT)
    assert isinstance(msg, Trade)
    assert msg.change is Change.RISE
    assert msg.ask_bid is AskBid.ASK
    assert msg.stream_type is StreamType.SNAPSHOT


# ---- candle (DEFAULT, docs) ----------------------------------------------------------------------


def test_docs_candle_decodes_to_a_one_minute_candle() -> None:
    msg = decode_one(payloads.CANDLE_DEFAULT)
    assert isinstance(msg, Candle)  # of the subclass for its unit, also named Candle
    assert msg.type == "candle.1m"
    assert msg.unit == "1m"


def test_docs_candle_carries_its_values() -> None:
    msg = decode_one(payloads.CANDLE_DEFAULT)
    assert isinstance(msg, Candle)
    assert msg.code == "KRW-BTC"
    assert msg.candle_date_time_utc == "2026-08-26T08:08:00"
    assert msg.candle_date_time_kst == "2026-08-26T17:08:00"
    assert msg.opening_price == 109715000.0
    assert msg.high_price == 109756000.0
    assert msg.low_price == 109714000.0
    assert msg.trade_price == 109756000.0
    assert msg.candle_acc_trade_volume == 0.71326612
    assert msg.candle_acc_trade_price == 78269528.64757
    assert msg.timestamp == 1787731717049
    assert msg.stream_type is StreamType.SNAPSHOT


@pytest.mark.parametrize("candle_type", CANDLE_TYPES)
def test_every_candle_unit_decodes_to_a_candle_of_that_unit(candle_type: str) -> None:
    msg = decode_one(payloads.candle_default(candle_type))
    assert isinstance(msg, Candle)  # of the subclass for its unit, also named Candle
    assert msg.type == candle_type
    assert msg.unit == candle_type.removeprefix("candle.")


# ---- myAsset (DEFAULT, docs) ---------------------------------------------------------------------


def test_docs_my_asset_decodes_to_a_my_asset() -> None:
    assert type(decode_one(payloads.MY_ASSET_DEFAULT)) is MyAsset


def test_docs_my_asset_carries_its_balances_as_assets() -> None:
    msg = decode_one(payloads.MY_ASSET_DEFAULT)
    assert isinstance(msg, MyAsset)
    assert msg.assets == (
        Asset(currency="KRW", balance=float("1386929.37231066771348207123"),
              locked=float("10329.670127489597585685")),
    )


def test_docs_my_asset_carries_its_ids_and_timestamps() -> None:
    msg = decode_one(payloads.MY_ASSET_DEFAULT)
    assert isinstance(msg, MyAsset)
    assert msg.asset_uuid == "e635f223-1609-4969-8fb6-4376937baad6"
    assert msg.asset_timestamp == 1710146517259
    assert msg.timestamp == 1710146517267
    assert msg.stream_type is StreamType.REALTIME


def test_docs_my_asset_has_no_code() -> None:
    msg = decode_one(payloads.MY_ASSET_DEFAULT)
    assert isinstance(msg, MyAsset)
    assert msg.code is None


# ---- myOrder (built from §8) ---------------------------------------------------------------------


def test_my_order_decodes_to_a_my_order() -> None:
    assert type(decode_one(payloads.MY_ORDER_DEFAULT)) is MyOrder


def test_my_order_carries_every_field() -> None:
    msg = decode_one(payloads.MY_ORDER_DEFAULT)
    assert isinstance(msg, MyOrder)
    assert (msg.code, msg.uuid, msg.trade_uuid, msg.identifier) == (
        "KRW-BTC", "ac2dc2a7-fce4-4a0b-b9d1-5bba5ed6e6fd",
        "68315169-fba4-4175-ade3-aff14a616657", "client-order-42",
    )
    assert (msg.price, msg.avg_price, msg.volume) == (109847000.0, 109846500.5, 0.002)
    assert (msg.remaining_volume, msg.executed_volume) == (0.0015, 0.0005)
    assert (msg.trades_count, msg.is_maker) == (1, False)
    assert (msg.reserved_fee, msg.remaining_fee, msg.paid_fee) == (109.847, 82.38525, 27.46162513)
    assert (msg.locked, msg.executed_funds, msg.trade_fee) == (164770.5, 54923.25025, 27.46162513)
    assert (msg.prevented_volume, msg.prevented_locked) == (0, 0)
    assert (msg.trade_timestamp, msg.order_timestamp, msg.timestamp) == (
        1787728554797, 1787728554001, 1787728554853,
    )


def test_my_order_enums_are_enum_members() -> None:
    msg = decode_one(payloads.MY_ORDER_DEFAULT)
    assert isinstance(msg, MyOrder)
    assert msg.ask_bid is AskBid.BID
    assert msg.order_type is OrderType.LIMIT
    assert msg.state is OrderState.TRADE
    assert msg.time_in_force is TimeInForce.IOC
    assert msg.smp_type is SmpType.CANCEL_MAKER
    assert msg.stream_type is StreamType.REALTIME


def test_simple_my_order_decodes_like_the_default_one() -> None:
    simple = decode_one(payloads.MY_ORDER_SIMPLE)
    assert isinstance(simple, MyOrder)
    assert simple == decode_one(payloads.MY_ORDER_DEFAULT)
    assert simple.raw == payloads.as_dict(payloads.MY_ORDER_DEFAULT)


def test_my_order_without_optional_fields_decodes_them_as_none() -> None:
    data = payloads.as_dict(payloads.MY_ORDER_DEFAULT)
    required = ("type", "code", "uuid", "ask_bid", "order_type", "state", "timestamp",
                "stream_type")
    minimal = {key: data[key] for key in required}
    msg = decode(json.dumps(minimal))[0]
    assert isinstance(msg, MyOrder)
    assert (msg.price, msg.trade_uuid, msg.smp_type, msg.is_maker) == (None, None, None, None)


# ---- error, status and LIST_SUBSCRIPTIONS frames -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        (payloads.ERROR_NO_TICKET, "NO_TICKET", "티켓이 존재하지 않거나, 유효하지 않습니다."),
        (payloads.ERROR_INVALID_PARAM, "INVALID_PARAM", "nope 은 지원하지 않는 타입입니다."),
        (payloads.ERROR_WRONG_FORMAT, "WRONG_FORMAT", "Format 이 맞지 않습니다."),
    ],
    ids=["NO_TICKET", "INVALID_PARAM-message-first", "WRONG_FORMAT-message-first"],
)
def test_live_error_frame_decodes_to_an_error_message(text: str, name: str, message: str) -> None:
    assert decode_one(text) == ErrorMessage(name=name, message=message)


def test_status_frame_decodes_to_status_up() -> None:
    assert decode_one(payloads.STATUS) == Status(status="UP")


EXPECTED_SUBSCRIPTION_LIST = SubscriptionList(
    ticket="t",
    result=(
        ListedSubscription(type="ticker", codes=("KRW-BTC",), level=None),
        ListedSubscription(type="orderbook", codes=("KRW-BTC",), level=0),
    ),
)


def test_default_list_subscriptions_reply_decodes_to_a_subscription_list() -> None:
    assert decode_one(payloads.LIST_SUBSCRIPTIONS_DEFAULT) == EXPECTED_SUBSCRIPTION_LIST


def test_simple_list_subscriptions_reply_decodes_to_a_subscription_list() -> None:
    assert decode_one(payloads.LIST_SUBSCRIPTIONS_SIMPLE) == EXPECTED_SUBSCRIPTION_LIST
