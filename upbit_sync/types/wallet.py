"""What the wallet calls return: deposits, withdrawals, addresses, what a currency allows, the state of
each network's wallet, the API keys and the travel-rule counterparts. Frozen, slotted dataclasses with
Upbit's field names; ``raw`` keeps every field the exchange sent. Money is ``float``, or the exact
``Decimal`` of Upbit's decimal text with ``Config(decimal=True)``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .records import Account
from .values import Money


@dataclass(frozen=True, slots=True)
class Deposit:
    """One deposit (``GET /v1/deposits``, ``/v1/deposit``, ``POST /v1/deposits/krw``). ``state`` is
    Upbit's upper-case word (``PROCESSING``, ``ACCEPTED``, ``CANCELLED``, ``REJECTED``,
    ``TRAVEL_RULE_SUSPECTED``, ``REFUNDING``, ``REFUNDED``); ``net_type`` is None for KRW."""

    type: str
    uuid: str
    currency: str
    net_type: str | None
    txid: str | None
    state: str
    created_at: str
    done_at: str | None
    amount: Money
    fee: Money
    transaction_type: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """One withdrawal (``GET /v1/withdraws``, ``/v1/withdraw``, ``POST /v1/withdraws/coin``, ...).
    ``state``: ``WAITING``, ``PROCESSING``, ``DONE``, ``FAILED``, ``CANCELLED``, ``REJECTED`` (Upbit's
    KRW replies may write it in lower case: compare with :attr:`state_upper`)."""

    type: str
    uuid: str
    currency: str
    net_type: str | None
    txid: str | None
    state: str
    created_at: str
    done_at: str | None
    amount: Money
    fee: Money
    transaction_type: str | None = None
    is_cancelable: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def state_upper(self) -> str:
        return self.state.upper()


@dataclass(frozen=True, slots=True)
class CoinAddress:
    """A deposit address of the account (``GET /v1/deposits/coin_address(es)``);
    ``deposit_address`` is None while Upbit is still making it."""

    currency: str
    net_type: str | None
    deposit_address: str | None
    secondary_address: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class AddressRequest:
    """The answer to ``POST /v1/deposits/generate_coin_address``: the first call is accepted and
    answered ``success``/``message`` (the address is made later); once ready, ``address`` is it."""

    success: bool
    message: str
    address: CoinAddress | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class DepositChance:
    """Whether a coin can be deposited on a network now (``GET /v1/deposits/chance/coin``)."""

    currency: str
    net_type: str | None
    is_deposit_possible: bool
    deposit_impossible_reason: str | None
    minimum_deposit_amount: Money
    minimum_deposit_confirmations: int
    decimal_precision: int
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class MemberLevel:
    """The account's verification and lock flags (``member_level`` of the withdrawal chance)."""

    security_level: int | None
    fee_level: int | None
    email_verified: bool
    identity_auth_verified: bool
    bank_account_verified: bool
    two_factor_auth_verified: bool
    locked: bool
    wallet_locked: bool


@dataclass(frozen=True, slots=True)
class WithdrawCurrency:
    """A currency as withdrawals see it (``currency`` of the withdrawal chance)."""

    code: str
    withdraw_fee: Money
    is_coin: bool
    wallet_state: str
    wallet_support: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WithdrawLimit:
    """How much may leave (``withdraw_limit`` of the withdrawal chance); ``fixed`` is the number of
    decimals an amount may have."""

    currency: str
    minimum: Money
    fixed: int | None
    remaining_daily_fiat: Money
    fiat_currency: str | None
    can_withdraw: bool
    withdraw_delayed_fiat: Money


@dataclass(frozen=True, slots=True)
class WithdrawChance:
    """What a withdrawal of one currency may be now (``GET /v1/withdraws/chance``)."""

    member_level: MemberLevel
    currency: WithdrawCurrency
    account: Account
    withdraw_limit: WithdrawLimit
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class WithdrawAddress:
    """An allow-listed withdrawal address (``GET /v1/withdraws/coin_addresses``): coins go out only
    to these."""

    currency: str
    net_type: str | None
    network_name: str | None
    withdraw_address: str
    secondary_address: str | None = None
    exchange_name: str | None = None
    wallet_type: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class WalletStatus:
    """One network's deposit and withdrawal state (``GET /v1/status/wallet``; may lag minutes).
    ``wallet_state``: ``working``, ``withdraw_only``, ``deposit_only``, ``paused``, ``unsupported``."""

    currency: str
    net_type: str | None
    network_name: str | None
    wallet_state: str
    block_state: str | None
    block_height: int | None
    block_updated_at: str | None
    block_elapsed_minutes: int | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One of the account's API keys and when it expires (``GET /v1/api_keys``). The access key is
    Upbit's public half; no secret is ever in this record."""

    access_key: str
    expire_at: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class TravelRuleVasp:
    """An exchange the travel rule knows (``GET /v1/travel_rule/vasps``)."""

    vasp_name: str
    vasp_uuid: str
    depositable: bool
    withdrawable: bool
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
