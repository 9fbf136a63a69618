"""The account's money: balances, deposits, withdrawals and wallet state. Calls that move money out
are refused unless ``Config(allow_withdrawals=True)``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ..config import Config
from ..errors import InvalidRequestError, WithdrawalsDisabledError
from ..types import (
    Account,
    AddressRequest,
    ApiKey,
    CoinAddress,
    Deposit,
    DepositChance,
    TravelRuleVasp,
    WalletStatus,
    WithdrawAddress,
    Withdrawal,
    WithdrawChance,
)
from . import checks, convert
from .transport import Transport

T = TypeVar("T")

DEPOSIT_STATES = ("PROCESSING", "ACCEPTED", "CANCELLED", "REJECTED", "TRAVEL_RULE_SUSPECTED", "REFUNDING",
                  "REFUNDED")
WITHDRAW_STATES = ("WAITING", "PROCESSING", "DONE", "FAILED", "CANCELLED", "REJECTED")
TWO_FACTOR = ("kakao", "naver", "hana")
TRANSACTION_TYPES = ("default", "internal")
IDS_PER_CALL = 100


class WalletCalls:
    """RestClient's wallet calls (mixed into :class:`~upbit_sync.rest.RestClient`)."""

    _transport: Transport
    config: Config

    def _answer(self, method: str, path: str, params: dict[str, Any] | None,
                body: dict[str, Any] | None = None) -> tuple[Any, convert.Num]:
        exact = self.config.decimal
        data = self._transport.call(method, path, params, body, signed=True, exact=exact)
        return data, convert.exact_num if exact else convert.num

    def _record(self, method: str, path: str, params: dict[str, Any] | None,
                convert_one: Callable[[dict[str, Any], convert.Num], T],
                body: dict[str, Any] | None = None) -> T:
        data, n = self._answer(method, path, params, body)
        return convert.one(lambda row: convert_one(row, n), data)

    def _records(self, path: str, params: dict[str, Any] | None,
                 convert_one: Callable[[dict[str, Any], convert.Num], T]) -> list[T]:
        data, n = self._answer("GET", path, params)
        return convert.typed(lambda row: convert_one(row, n), data)

    def _plain(self, path: str, convert_one: Callable[[dict[str, Any]], T]) -> list[T]:
        return convert.typed(convert_one, self._transport.call("GET", path, None, signed=True))

    def accounts(self) -> list[Account]:
        """The account's balances (needs keys); with ``Config(decimal=True)`` the figures are the exact
        ``Decimal`` of what Upbit sent (decimal text; a JSON number is read from its text too)."""
        return self._records("/v1/accounts", None, convert.account)

    # ---- deposits --------------------------------------------------------------------------------

    def deposits(self, currency: str | None = None, state: str | None = None,
                 uuids: Iterable[str] | None = None, txids: Iterable[str] | None = None,
                 limit: int | None = None, page: int | None = None,
                 order_by: str | None = None) -> list[Deposit]:
        """Deposits, newest first unless ``order_by="asc"`` (GET /v1/deposits; ``limit`` ≤100)."""
        params = _history(currency, state, DEPOSIT_STATES, uuids, txids, limit, page, order_by)
        return self._records("/v1/deposits", params, convert.deposit)

    def deposit(self, uuid: str | None = None, txid: str | None = None,
                currency: str | None = None) -> Deposit:
        """One deposit by ``uuid`` or ``txid`` (GET /v1/deposit)."""
        params = _one(uuid, txid, currency)
        return self._record("GET", "/v1/deposit", params, convert.deposit)

    def coin_addresses(self) -> list[CoinAddress]:
        """Every deposit address of the account (GET /v1/deposits/coin_addresses)."""
        return self._plain("/v1/deposits/coin_addresses", convert.coin_address)

    def coin_address(self, currency: str, net_type: str) -> CoinAddress:
        """The deposit address of ``currency`` on ``net_type`` (GET /v1/deposits/coin_address)."""
        params = {"currency": checks.currency(currency), "net_type": checks.text(net_type, "net_type")}
        data = self._transport.call("GET", "/v1/deposits/coin_address", params, signed=True)
        return convert.one(convert.coin_address, data)

    def generate_coin_address(self, currency: str, net_type: str) -> AddressRequest:
        """Ask for a deposit address (POST /v1/deposits/generate_coin_address): Upbit makes it later
        (``success``, ``message``); once made, ``address`` is it."""
        body = {"currency": checks.currency(currency), "net_type": checks.text(net_type, "net_type")}
        data = self._transport.call("POST", "/v1/deposits/generate_coin_address", None, body, signed=True)
        return convert.one(convert.address_request, data)

    def deposit_chance(self, currency: str, net_type: str) -> DepositChance:
        """Whether ``currency`` can be deposited on ``net_type`` now (GET /v1/deposits/chance/coin)."""
        params = {"currency": checks.currency(currency), "net_type": checks.text(net_type, "net_type")}
        return self._record("GET", "/v1/deposits/chance/coin", params, convert.deposit_chance)

    def deposit_krw(self, amount: Any, two_factor_type: str) -> Deposit:
        """Bring KRW in from the linked bank account (POST /v1/deposits/krw); it completes after the
        account holder's two-factor confirmation (``kakao``, ``naver`` or ``hana``)."""
        body = {"amount": checks.amount(amount, "amount"),
                "two_factor_type": checks.choice(two_factor_type, "two_factor_type", TWO_FACTOR)}
        return self._record("POST", "/v1/deposits/krw", None, convert.deposit, body=body)

    # ---- withdrawals -----------------------------------------------------------------------------

    def withdrawals(self, currency: str | None = None, state: str | None = None,
                    uuids: Iterable[str] | None = None, txids: Iterable[str] | None = None,
                    limit: int | None = None, page: int | None = None,
                    order_by: str | None = None) -> list[Withdrawal]:
        """Withdrawals, newest first unless ``order_by="asc"`` (GET /v1/withdraws; ``limit`` ≤100)."""
        params = _history(currency, state, WITHDRAW_STATES, uuids, txids, limit, page, order_by)
        return self._records("/v1/withdraws", params, convert.withdrawal)

    def withdrawal(self, uuid: str | None = None, txid: str | None = None,
                   currency: str | None = None) -> Withdrawal:
        """One withdrawal by ``uuid`` or ``txid`` (GET /v1/withdraw)."""
        return self._record("GET", "/v1/withdraw", _one(uuid, txid, currency), convert.withdrawal)

    def withdraw_chance(self, currency: str, net_type: str | None = None) -> WithdrawChance:
        """Limits, fee and wallet state for withdrawing ``currency`` (GET /v1/withdraws/chance;
        ``net_type`` is needed for a coin)."""
        params = {"currency": checks.currency(currency)}
        if net_type is not None:
            params["net_type"] = checks.text(net_type, "net_type")
        return self._record("GET", "/v1/withdraws/chance", params, convert.withdraw_chance)

    def withdraw_addresses(self) -> list[WithdrawAddress]:
        """The allow-listed withdrawal addresses (GET /v1/withdraws/coin_addresses)."""
        return self._plain("/v1/withdraws/coin_addresses", convert.withdraw_address)

    def withdraw_coin(self, currency: str, net_type: str, amount: Any, address: str,
                      secondary_address: str | None = None, transaction_type: str = "default") -> Withdrawal:
        """Send coins out to an allow-listed address (POST /v1/withdraws/coin). MOVES MONEY OUT:
        refused (WithdrawalsDisabledError, nothing sent) unless ``Config(allow_withdrawals=True)``.
        Sent once: a lost answer is raised as it is (look at :meth:`withdrawals` before trying again)."""
        self._withdrawals_allowed("withdraw_coin")
        body = {"currency": checks.currency(currency), "net_type": checks.text(net_type, "net_type"),
                "amount": checks.amount(amount, "amount"), "address": checks.text(address, "address"),
                "transaction_type": checks.choice(transaction_type, "transaction_type", TRANSACTION_TYPES)}
        if secondary_address is not None:
            body["secondary_address"] = checks.text(secondary_address, "secondary_address")
        return self._record("POST", "/v1/withdraws/coin", None, convert.withdrawal, body=body)

    def cancel_withdrawal(self, uuid: str) -> Withdrawal:
        """Cancel a withdrawal that can still be cancelled (DELETE /v1/withdraws/coin)."""
        params = {"uuid": checks.uuid(uuid)}
        return self._record("DELETE", "/v1/withdraws/coin", params, convert.withdrawal)

    def withdraw_krw(self, amount: Any, two_factor_type: str) -> Withdrawal:
        """Send KRW out to the linked bank account (POST /v1/withdraws/krw) after two-factor
        confirmation. MOVES MONEY OUT: refused unless ``Config(allow_withdrawals=True)``."""
        self._withdrawals_allowed("withdraw_krw")
        body = {"amount": checks.amount(amount, "amount"),
                "two_factor_type": checks.choice(two_factor_type, "two_factor_type", TWO_FACTOR)}
        return self._record("POST", "/v1/withdraws/krw", None, convert.withdrawal, body=body)

    def _withdrawals_allowed(self, call: str) -> None:
        if not self.config.allow_withdrawals:
            raise WithdrawalsDisabledError(f"{call} moves money out of the account and is refused unless "
                                           "Config(allow_withdrawals=True); nothing was sent")

    # ---- state of the wallets, keys, travel rule -------------------------------------------------

    def wallet_status(self) -> list[WalletStatus]:
        """Each network's deposit and withdrawal state (GET /v1/status/wallet; may lag minutes)."""
        return self._plain("/v1/status/wallet", convert.wallet_status)

    def api_keys(self) -> list[ApiKey]:
        """The account's API keys and when each expires (GET /v1/api_keys)."""
        return self._plain("/v1/api_keys", convert.api_key)

    def travel_rule_vasps(self) -> list[TravelRuleVasp]:
        """The exchanges the travel rule knows, and what each allows (GET /v1/travel_rule/vasps)."""
        return self._plain("/v1/travel_rule/vasps", convert.vasp)


def _one(uuid: str | None, txid: str | None, currency: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if uuid is not None:
        params["uuid"] = checks.uuid(uuid)
    if txid is not None:
        params["txid"] = checks.text(txid, "txid")
    if not params:
        raise InvalidRequestError("give uuid or txid")
    if currency is not None:
        params["currency"] = checks.currency(currency)
    return params


def _history(currency: str | None, state: str | None, states: tuple[str, ...], uuids: Iterable[str] | None,
             txids: Iterable[str] | None, limit: int | None, page: int | None,
             order_by: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if currency is not None:
        params["currency"] = checks.currency(currency)
    if state is not None:
        params["state"] = checks.choice(state.upper() if isinstance(state, str) else state, "state", states)
    if uuids is not None and txids is not None:
        raise InvalidRequestError("give uuids or txids, not both")
    if uuids is not None:
        params["uuids"] = list(checks.many(uuids, "uuids", checks.uuid))
    if txids is not None:
        params["txids"] = list(checks.many(txids, "txids", checks.text))
    for key in ("uuids", "txids"):
        if len(params.get(key, ())) > IDS_PER_CALL:
            raise InvalidRequestError(f"{key}: at most {IDS_PER_CALL}, not {len(params[key])}")
    if limit is not None:
        params["limit"] = checks.count(limit, "limit", 1, 100)
    if page is not None:
        params["page"] = checks.count(page, "page", 1, 1_000_000)
    if order_by is not None:
        params["order_by"] = checks.choice(order_by, "order_by", ("asc", "desc"))
    return params
