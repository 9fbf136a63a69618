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
from ..types import (
    Account,
    AddressRequest,
    ApiKey,
    BatchCancelResult,
    ChanceMarket,
    CoinAddress,
    Deposit,
    DepositChance,
    MarketInfo,
    MarketOrderbook,
    MarketTicker,
    MemberLevel,
    Money,
    Order,
    OrderbookInstrument,
    OrderbookLevel,
    OrderChance,
    OrderRef,
    OrderTrade,
    TradeTick,
    TravelRuleVasp,
    WalletStatus,
    WithdrawAddress,
    Withdrawal,
    WithdrawChance,
    WithdrawCurrency,
    WithdrawLimit,
)

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
    except (TypeError, ValueError, AttributeError) as exc:
        raise DecodeError(f"a malformed answer: {type(exc).__name__}: {exc}") from None


def one(convert: Callable[[dict[str, Any]], T], data: Any) -> T:
    """One JSON object as a typed result; DecodeError naming what was missing."""
    if not isinstance(data, dict):
        raise DecodeError(f"expected an object, got {type(data).__name__}")
    return typed(convert, [data])[0]


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



def _opt(value: Any, n: Num) -> Money | None:
    return None if value is None else n(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def order_trade(row: dict[str, Any], n: Num = num) -> OrderTrade:
    return OrderTrade(row["uuid"], row["market"], n(row["price"]), n(row["volume"]), n(row.get("funds")),
                      row.get("side", ""), row.get("trend"), row.get("created_at", ""), row)


def order(row: dict[str, Any], n: Num = num) -> Order:
    """An order object of any order call (placement, lookup, lists, cancel, cancel_and_new)."""
    return Order(
        row["uuid"], row["market"], row["side"], row["ord_type"], row["state"],
        _opt(row.get("price"), n), _opt(row.get("volume"), n), _opt(row.get("remaining_volume"), n),
        n(row.get("executed_volume")), int(row.get("trades_count") or 0), n(row.get("paid_fee")),
        n(row.get("locked")), row.get("created_at", ""), row.get("identifier"),
        _opt(row.get("reserved_fee"), n), _opt(row.get("remaining_fee"), n),
        _opt(row.get("executed_funds"), n), row.get("time_in_force"), row.get("smp_type"),
        _opt(row.get("prevented_volume"), n), _opt(row.get("prevented_locked"), n),
        tuple(order_trade(t, n) for t in row.get("trades") or ()),
        row.get("new_order_uuid"), row.get("new_order_identifier"), row)


def chance(row: dict[str, Any], n: Num = num) -> OrderChance:
    m = row["market"]
    bid, ask = m.get("bid") or {}, m.get("ask") or {}
    market_ = ChanceMarket(m["id"], m.get("name", ""), tuple(m.get("order_sides") or ()),
                           tuple(m.get("bid_types") or ()), tuple(m.get("ask_types") or ()),
                           bid.get("currency", ""), n(bid.get("min_total")), ask.get("currency", ""),
                           n(ask.get("min_total")), n(m.get("max_total")), m.get("state", ""))
    return OrderChance(n(row.get("bid_fee")), n(row.get("ask_fee")), n(row.get("maker_bid_fee")),
                       n(row.get("maker_ask_fee")), market_, account(row["bid_account"], n),
                       account(row["ask_account"], n), row)


def _refs(part: Any) -> tuple[OrderRef, ...]:
    rows = (part or {}).get("orders") or ()
    return tuple(OrderRef(r["uuid"], r.get("market", ""), r.get("identifier")) for r in rows)


def batch_cancel(row: dict[str, Any]) -> BatchCancelResult:
    return BatchCancelResult(_refs(row.get("success")), _refs(row.get("failed")))


def orderbook(row: dict[str, Any], n: Num = num) -> MarketOrderbook:
    units = tuple(OrderbookLevel(n(u["ask_price"]), n(u["bid_price"]), n(u["ask_size"]), n(u["bid_size"]))
                  for u in row.get("orderbook_units") or ())
    return MarketOrderbook(row["market"], int(row.get("timestamp") or 0), n(row.get("total_ask_size")),
                           n(row.get("total_bid_size")), units, n(row.get("level") or 0), row)


# ---- wallet ----------------------------------------------------------------------------------------


def deposit(row: dict[str, Any], n: Num = num) -> Deposit:
    return Deposit(row.get("type", "deposit"), row["uuid"], row["currency"], row.get("net_type"),
                   row.get("txid"), row["state"], row.get("created_at", ""), row.get("done_at"),
                   n(row.get("amount")), n(row.get("fee")), row.get("transaction_type"), row)


def withdrawal(row: dict[str, Any], n: Num = num) -> Withdrawal:
    return Withdrawal(row.get("type", "withdraw"), row["uuid"], row["currency"], row.get("net_type"),
                      row.get("txid"), row["state"], row.get("created_at", ""), row.get("done_at"),
                      n(row.get("amount")), n(row.get("fee")), row.get("transaction_type"),
                      bool(row.get("is_cancelable")), row)


def coin_address(row: dict[str, Any]) -> CoinAddress:
    return CoinAddress(row["currency"], row.get("net_type"), row.get("deposit_address"),
                       row.get("secondary_address"), row)


def address_request(row: dict[str, Any]) -> AddressRequest:
    """The first answer (``success``, ``message``) or, once made, the address itself."""
    if "currency" in row:
        return AddressRequest(True, "", coin_address(row), row)
    return AddressRequest(bool(row.get("success")), str(row.get("message", "")), None, row)


def deposit_chance(row: dict[str, Any], n: Num = num) -> DepositChance:
    return DepositChance(row.get("currency", ""), row.get("net_type"), bool(row["is_deposit_possible"]),
                         row.get("deposit_impossible_reason"), n(row.get("minimum_deposit_amount")),
                         int(row.get("minimum_deposit_confirmations") or 0),
                         int(row.get("decimal_precision") or 0), row)


def withdraw_chance(row: dict[str, Any], n: Num = num) -> WithdrawChance:
    lv, cur, lim = row.get("member_level") or {}, row["currency"], row.get("withdraw_limit") or {}
    level = MemberLevel(_int(lv.get("security_level")), _int(lv.get("fee_level")),
                        bool(lv.get("email_verified")), bool(lv.get("identity_auth_verified")),
                        bool(lv.get("bank_account_verified")), bool(lv.get("two_factor_auth_verified")),
                        bool(lv.get("locked")), bool(lv.get("wallet_locked")))
    currency = WithdrawCurrency(cur["code"], n(cur.get("withdraw_fee")), bool(cur.get("is_coin")),
                                cur.get("wallet_state", ""), tuple(cur.get("wallet_support") or ()))
    limit = WithdrawLimit(lim.get("currency", cur["code"]), n(lim.get("minimum")), _int(lim.get("fixed")),
                          n(lim.get("remaining_daily_fiat")), lim.get("fiat_currency"),
                          bool(lim.get("can_withdraw")), n(lim.get("withdraw_delayed_fiat")))
    return WithdrawChance(level, currency, account(row["account"], n), limit, row)


def withdraw_address(row: dict[str, Any]) -> WithdrawAddress:
    return WithdrawAddress(row["currency"], row.get("net_type"), row.get("network_name"),
                           row["withdraw_address"], row.get("secondary_address"), row.get("exchange_name"),
                           row.get("wallet_type"), row)


def wallet_status(row: dict[str, Any]) -> WalletStatus:
    return WalletStatus(row["currency"], row.get("net_type"), row.get("network_name"), row["wallet_state"],
                        row.get("block_state"), _int(row.get("block_height")), row.get("block_updated_at"),
                        _int(row.get("block_elapsed_minutes")), row)


def api_key(row: dict[str, Any]) -> ApiKey:
    return ApiKey(row["access_key"], row["expire_at"], row)


def vasp(row: dict[str, Any]) -> TravelRuleVasp:
    return TravelRuleVasp(row["vasp_name"], row["vasp_uuid"], bool(row.get("depositable")),
                          bool(row.get("withdrawable")), row)
