"""The REST side's wallet endpoints (docs/trading.md), each signed, per access key: deposits and
their addresses, withdrawals (which move the balance out, and only to an allow-listed address), the
wallets' status, the API keys and the travel rule's exchanges. Every money figure is a decimal
string; every withdrawal made is kept in ``state.withdrawals`` (with the ``access_key`` that made
it) so a test can assert that none was."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from .ledger import InsufficientFunds
from .matching import Matcher
from .orders import KST
from .rest_params import Call, Endpoint, Endpoints, RestError, amount, decimal_text, integer
from .state import ExchangeState

WITHDRAW_FEES = {"KRW": Decimal(1000), "BTC": Decimal("0.0005"), "ETH": Decimal("0.01"),
                 "XRP": Decimal(1), "USDT": Decimal(1)}
NETWORKS = {"BTC": "BTC", "ETH": "ETH", "XRP": "XRP", "USDT": "TRX", "SOL": "SOL"}
VASPS = [{"vasp_name": "Fake Exchange A", "vasp_uuid": "00000000-0000-4000-8000-00000000000a",
          "depositable": True, "withdrawable": True},
         {"vasp_name": "Fake Exchange B", "vasp_uuid": "00000000-0000-4000-8000-00000000000b",
          "depositable": True, "withdrawable": False}]
_TWO_FACTOR = ("kakao", "naver", "hana")


def _now() -> str:
    return datetime.now(KST).isoformat(timespec="seconds")


def _required(call: Call, name: str) -> str:
    value = call.param(name)
    if not value:
        raise RestError(400, "validation_error", f"{name} is missing")
    return value


def _amount(call: Call) -> Decimal:
    found = amount(_required(call, "amount"), "amount")
    assert found is not None
    return found


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "access_key"}


class Wallet:
    """The wallet endpoints of one fake exchange."""

    def __init__(self, state: ExchangeState, matcher: Matcher) -> None:
        self._state = state
        self._matcher = matcher
        self._addresses: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}  # key -> deposit addresses

    def endpoints(self) -> Endpoints:
        return {
            ("GET", "/v1/deposits"): Endpoint("default", True, self._deposits),
            ("GET", "/v1/deposit"): Endpoint("default", True, self._deposit),
            ("POST", "/v1/deposits/generate_coin_address"): Endpoint("default", True, self._generate),
            ("GET", "/v1/deposits/coin_addresses"): Endpoint("default", True, self._coin_addresses),
            ("GET", "/v1/deposits/coin_address"): Endpoint("default", True, self._coin_address),
            ("GET", "/v1/deposits/chance/coin"): Endpoint("default", True, self._deposit_chance),
            ("POST", "/v1/deposits/krw"): Endpoint("default", True, self._deposit_krw),
            ("GET", "/v1/withdraws"): Endpoint("default", True, self._withdraws),
            ("GET", "/v1/withdraw"): Endpoint("default", True, self._withdraw),
            ("GET", "/v1/withdraws/chance"): Endpoint("default", True, self._withdraw_chance),
            ("GET", "/v1/withdraws/coin_addresses"): Endpoint("default", True, self._allowed),
            ("POST", "/v1/withdraws/coin"): Endpoint("default", True, self._withdraw_coin),
            ("DELETE", "/v1/withdraws/coin"): Endpoint("default", True, self._cancel_withdraw),
            ("POST", "/v1/withdraws/krw"): Endpoint("default", True, self._withdraw_krw),
            ("GET", "/v1/status/wallet"): Endpoint("default", True, self._wallet_status),
            ("GET", "/v1/api_keys"): Endpoint("default", True, self._api_keys),
            ("GET", "/v1/travel_rule/vasps"): Endpoint("default", True, self._vasps),
        }

    # -- deposits ------------------------------------------------------------------------------

    def _records(self, records: list[dict[str, Any]], call: Call) -> list[dict[str, Any]]:
        """``call``'s key's records, filtered and paged as the list endpoints are."""
        with self._state.trading_lock:
            mine = [_public(r) for r in records if r["access_key"] == call.access_key]
        currency, state = call.param("currency"), call.param("state")
        uuids, txids = set(call.params("uuids")), set(call.params("txids"))
        if uuids and txids:
            raise RestError(400, "validation_error", "give uuids or txids, not both.")
        found = [r for r in mine if (currency is None or r["currency"] == currency)
                 and (state is None or r["state"].lower() == state.lower())
                 and (not uuids or r["uuid"] in uuids) and (not txids or r["txid"] in txids)]
        limit = integer(call.param("limit"), "limit", 100, 1, 100, "validation_error")
        page = integer(call.param("page"), "page", 1, 1, None, "validation_error")
        if (call.param("order_by") or "desc") == "desc":
            found.reverse()
        return found[(page - 1) * limit:page * limit]

    def _one(self, records: list[dict[str, Any]], call: Call, missing: str) -> dict[str, Any]:
        wanted, txid, currency = call.param("uuid"), call.param("txid"), call.param("currency")
        with self._state.trading_lock:
            mine = [_public(r) for r in records if r["access_key"] == call.access_key
                    and (currency is None or r["currency"] == currency)]
        found = [r for r in mine if (wanted is None or r["uuid"] == wanted)
                 and (txid is None or r["txid"] == txid)]
        if not found:
            raise RestError(404, missing, f"{missing.split('_')[0]} not found.")
        return found[-1]

    def _deposits(self, call: Call) -> tuple[int, Any]:
        return 200, self._records(self._state.deposits, call)

    def _deposit(self, call: Call) -> tuple[int, Any]:
        return 200, self._one(self._state.deposits, call, "deposit_not_found")

    def _address(self, currency: str, net_type: str, key: str) -> str:
        return f"fake-{net_type.lower()}-{uuid.uuid5(uuid.NAMESPACE_OID, key + currency).hex[:24]}"

    def _generate(self, call: Call) -> tuple[int, Any]:
        currency, net_type = _required(call, "currency"), _required(call, "net_type")
        mine = self._addresses.setdefault(call.access_key or "", {})
        row = mine.get((currency, net_type))
        if row is None:  # asked for the first time: accepted, made by the next call
            mine[(currency, net_type)] = {"currency": currency, "net_type": net_type,
                                          "deposit_address": None, "secondary_address": None}
            return 201, {"success": True, "message": "creating the deposit address"}
        if row["deposit_address"] is None:
            row["deposit_address"] = self._address(currency, net_type, call.access_key or "")
        return 200, dict(row)

    def _coin_addresses(self, call: Call) -> tuple[int, Any]:
        return 200, [dict(row) for row in self._addresses.get(call.access_key or "", {}).values()]

    def _coin_address(self, call: Call) -> tuple[int, Any]:
        currency, net_type = _required(call, "currency"), _required(call, "net_type")
        row = self._addresses.get(call.access_key or "", {}).get((currency, net_type))
        if row is None:
            raise RestError(404, "coin_address_not_found", "no deposit address was requested.")
        return 200, dict(row)

    def _deposit_chance(self, call: Call) -> tuple[int, Any]:
        currency, net_type = _required(call, "currency"), _required(call, "net_type")
        return 200, {"currency": currency, "net_type": net_type, "is_deposit_possible": True,
                     "deposit_impossible_reason": None, "minimum_deposit_amount": "0.0001",
                     "minimum_deposit_confirmations": 2, "decimal_precision": 8}

    def _deposit_krw(self, call: Call) -> tuple[int, Any]:
        value = _amount(call)
        if call.param("two_factor_type") not in _TWO_FACTOR:
            raise RestError(400, "validation_error", "two_factor_type must be kakao, naver or hana.")
        record = {"type": "deposit", "uuid": str(uuid.uuid4()), "currency": "KRW", "net_type": None,
                  "txid": f"krw-{uuid.uuid4().hex[:16]}", "state": "ACCEPTED", "created_at": _now(),
                  "done_at": _now(), "amount": decimal_text(value), "fee": "0",
                  "transaction_type": "default", "access_key": call.access_key}
        with self._state.trading_lock:
            self._state.deposits.append(record)
            self._matcher.fund(call.access_key or "", "KRW", value)
        return 201, _public(record)

    # -- withdrawals ---------------------------------------------------------------------------

    def _withdraws(self, call: Call) -> tuple[int, Any]:
        return 200, self._records(self._state.withdrawals, call)

    def _withdraw(self, call: Call) -> tuple[int, Any]:
        return 200, self._one(self._state.withdrawals, call, "withdraw_not_found")

    def _withdraw_chance(self, call: Call) -> tuple[int, Any]:
        currency = _required(call, "currency")
        if currency != "KRW":
            _required(call, "net_type")
        balance = {row["currency"]: row for row in self._matcher.accounts(call.access_key or "")}
        fee = decimal_text(WITHDRAW_FEES.get(currency, Decimal(0)))
        return 200, {
            "member_level": {"security_level": 4, "fee_level": 0, "email_verified": True,
                             "identity_auth_verified": True, "bank_account_verified": True,
                             "two_factor_auth_verified": True, "locked": False, "wallet_locked": False},
            "currency": {"code": currency, "withdraw_fee": fee, "is_coin": currency != "KRW",
                         "wallet_state": "working", "wallet_support": ["deposit", "withdraw"]},
            "account": balance.get(currency, {"currency": currency, "balance": "0", "locked": "0",
                                              "avg_buy_price": "0", "avg_buy_price_modified": False,
                                              "unit_currency": "KRW"}),
            "withdraw_limit": {"currency": currency, "minimum": fee, "fixed": 8,
                               "remaining_daily_fiat": "1000000000", "fiat_currency": "KRW",
                               "can_withdraw": True, "withdraw_delayed_fiat": "0"},
        }

    def _allowed(self, call: Call) -> tuple[int, Any]:
        with self._state.trading_lock:
            return 200, [dict(row) for row in self._state.withdraw_addresses]

    def _withdraw_coin(self, call: Call) -> tuple[int, Any]:
        currency, net_type = _required(call, "currency"), _required(call, "net_type")
        address, secondary = _required(call, "address"), call.param("secondary_address")
        value = _amount(call)
        with self._state.trading_lock:
            allowed = next((row for row in self._state.withdraw_addresses
                            if row.get("currency") == currency and row.get("net_type") == net_type
                            and row.get("withdraw_address") == address), None)
            if allowed is None:
                raise RestError(400, "withdraw_address_not_registered",
                                "the address is not registered for withdrawals.")
            if allowed.get("secondary_address") and allowed["secondary_address"] != secondary:
                raise RestError(400, "validation_error", "secondary_address is missing or wrong.")
            return 201, self._send_out(call, currency, net_type, value)

    def _withdraw_krw(self, call: Call) -> tuple[int, Any]:
        value = _amount(call)
        if call.param("two_factor_type") not in _TWO_FACTOR:
            raise RestError(400, "validation_error", "two_factor_type must be kakao, naver or hana.")
        with self._state.trading_lock:
            return 201, self._send_out(call, "KRW", None, value)

    def _send_out(self, call: Call, currency: str, net_type: str | None, value: Decimal) -> dict[str, Any]:
        """A withdrawal made (under the lock): the amount and its fee leave the free balance."""
        fee = WITHDRAW_FEES.get(currency, Decimal(0))
        try:
            self._matcher.withdraw(call.access_key or "", currency, value + fee)
        except InsufficientFunds:
            raise RestError(400, "insufficient_funds_withdraw",
                            f"not enough {currency} for the amount and its fee.") from None
        record = {"type": "withdraw", "uuid": str(uuid.uuid4()), "currency": currency,
                  "net_type": net_type, "txid": None, "state": "WAITING", "created_at": _now(),
                  "done_at": None, "amount": decimal_text(value), "fee": decimal_text(fee),
                  "transaction_type": call.param("transaction_type") or "default",
                  "is_cancelable": True, "access_key": call.access_key}
        self._state.withdrawals.append(record)
        return _public(record)

    def _cancel_withdraw(self, call: Call) -> tuple[int, Any]:
        wanted = _required(call, "uuid")
        with self._state.trading_lock:
            record = next((r for r in self._state.withdrawals
                           if r["access_key"] == call.access_key and r["uuid"] == wanted), None)
            if record is None:
                raise RestError(404, "withdraw_not_found", "withdraw not found.")
            if not record["is_cancelable"]:
                raise RestError(400, "validation_error", "the withdrawal can no longer be cancelled.")
            record.update(state="CANCELLED", is_cancelable=False, done_at=_now())
            self._matcher.fund(call.access_key or "", record["currency"],
                               Decimal(record["amount"]) + Decimal(record["fee"]))
            return 200, _public(record)

    # -- status, keys, travel rule -------------------------------------------------------------

    def _wallet_status(self, call: Call) -> tuple[int, Any]:
        now = datetime.now(KST)
        return 200, [{"currency": currency, "net_type": net, "network_name": net,
                      "wallet_state": "working", "block_state": "normal", "block_height": 900_000,
                      "block_updated_at": (now - timedelta(minutes=1)).isoformat(timespec="seconds"),
                      "block_elapsed_minutes": 1} for currency, net in NETWORKS.items()]

    def _api_keys(self, call: Call) -> tuple[int, Any]:
        expire = (datetime.now(KST) + timedelta(days=365)).isoformat(timespec="seconds")
        return 200, [{"access_key": call.access_key, "expire_at": expire}]

    def _vasps(self, call: Call) -> tuple[int, Any]:
        return 200, [dict(row) for row in VASPS]
