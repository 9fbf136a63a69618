"""Upbit's JSON answers as the SDK's typed records: one converter per record, and :func:`typed` to
run one over a list with a DecodeError naming what was missing or malformed.

Figures come as decimal text (exchange calls) or JSON numbers (quotation calls). A converter takes a
``num`` function: :func:`num` gives floats, :func:`exact_num` the exact ``Decimal`` of the text
(``Config(decimal=True)``; a JSON number is read from its text, see ``Transport.call(exact=True)``).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from ..errors import DecodeError
from ..types import Account, MarketInfo, MarketTicker, Money, OrderbookInstrument, TradeTick

T = TypeVar("T")
Num = Callable[[Any], Money]


def typed(convert: Callable[[dict[str, Any]], T], data: Any) -> list[T]:
    """Each object of a JSON list as a typed result; DecodeError naming what was missing."""
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise DecodeError(f"expected a list of objects, got {type(data).__name__}")
    try:
        return [convert(row) for row in data]
    except KeyError as exc:
        raise DecodeError(f"an answer without {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise DecodeError(f"a malformed answer: {type(exc).__name__}: {exc}") from None


def num(value: Any) -> float:
    return float(value) if value is not None else 0.0


def exact_num(value: Any) -> Decimal:
    """A figure Upbit sent (decimal text, or a number read as Decimal) as its exact Decimal."""
    if value is None:
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise TypeError(f"not a decimal figure: {value!r}")
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a decimal figure: {value!r}") from None


def market(row: dict[str, Any]) -> MarketInfo:
    event = row.get("market_event") or {}
    caution = event.get("caution") or {}
    return MarketInfo(row["market"], row.get("korean_name", ""), row.get("english_name", ""),
                      bool(event.get("warning", row.get("market_warning") == "CAUTION")),
                      tuple(sorted(k for k, v in caution.items() if v)), row)


def account(row: dict[str, Any], n: Num = num) -> Account:
    """One balance row (``/v1/accounts``, and the accounts inside ``/v1/orders/chance``)."""
    return Account(row["currency"], n(row.get("balance")), n(row.get("locked")),
                   n(row.get("avg_buy_price")), bool(row.get("avg_buy_price_modified")),
                   row.get("unit_currency", ""), row)


def instrument(row: dict[str, Any]) -> OrderbookInstrument:
    levels = tuple(sorted(float(level) for level in row.get("supported_levels") or ()))
    return OrderbookInstrument(row["market"], row.get("quote_currency", row["market"].partition("-")[0]),
                               num(row.get("tick_size")), levels, row)


def trade_tick(row: dict[str, Any]) -> TradeTick:
    return TradeTick(row["market"], row["trade_date_utc"], row["trade_time_utc"], int(row["timestamp"]),
                     num(row["trade_price"]), num(row["trade_volume"]),
                     num(row.get("prev_closing_price")), num(row.get("change_price")),
                     row.get("ask_bid", ""), int(row["sequential_id"]), row)


def ticker(row: dict[str, Any]) -> MarketTicker:
    return MarketTicker(row["market"], num(row["trade_price"]), num(row.get("opening_price")),
                        num(row.get("high_price")), num(row.get("low_price")),
                        num(row.get("prev_closing_price")), row.get("change", ""),
                        num(row.get("signed_change_rate")), num(row.get("acc_trade_volume_24h")),
                        num(row.get("acc_trade_price_24h")), int(row.get("timestamp") or 0), row)

