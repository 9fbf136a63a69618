"""The balances of the fake exchange's accounts: per access key, per currency, free and locked.

Every account starts from the same rows (``server.accounts``, what ``/v1/accounts`` answered before
orders moved money); setting them resets every account. Amounts are exact ``Decimal``s and are
written back as Upbit's decimal strings. The ledger has no lock of its own: the matcher changes it
under its lock, and a reader takes a copy (:meth:`Ledger.rows`) under the same lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .rest_params import decimal_text


class InsufficientFunds(Exception):
    """A lock or a withdrawal asked for more than the free balance."""


@dataclass
class Balance:
    """One currency of one account."""

    currency: str
    balance: Decimal = Decimal(0)
    locked: Decimal = Decimal(0)
    avg_buy_price: Decimal = Decimal(0)
    avg_buy_price_modified: bool = False
    unit_currency: str = "KRW"

    def row(self) -> dict[str, Any]:
        """As ``/v1/accounts`` lists it."""
        return {"currency": self.currency, "balance": decimal_text(self.balance),
                "locked": decimal_text(self.locked), "avg_buy_price": decimal_text(self.avg_buy_price),
                "avg_buy_price_modified": self.avg_buy_price_modified, "unit_currency": self.unit_currency}


def _balance(row: Mapping[str, Any]) -> Balance:
    return Balance(str(row["currency"]), Decimal(str(row.get("balance", "0"))),
                   Decimal(str(row.get("locked", "0"))), Decimal(str(row.get("avg_buy_price", "0"))),
                   bool(row.get("avg_buy_price_modified", False)), str(row.get("unit_currency", "KRW")))


class Ledger:
    """Balances by access key; an account is made from :attr:`template` the first time it is used."""

    def __init__(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self.template: list[dict[str, Any]] = [dict(row) for row in rows]
        self._accounts: dict[str, dict[str, Balance]] = {}

    def reset(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Every account starts again from ``rows``."""
        self.template = [dict(row) for row in rows]
        self._accounts.clear()

    def account(self, key: str) -> dict[str, Balance]:
        found = self._accounts.get(key)
        if found is None:
            found = self._accounts[key] = {b.currency: b for b in map(_balance, self.template)}
        return found

    def rows(self, key: str) -> list[dict[str, Any]]:
        """``key``'s balances as ``/v1/accounts`` lists them: the template's rows when untouched
        (as they were set), then every currency held or locked, in the order first seen."""
        if key not in self._accounts:
            return [dict(row) for row in self.template]
        return [b.row() for b in self._accounts[key].values()
                if b.balance or b.locked or b.currency in {r["currency"] for r in self.template}]

    def get(self, key: str, currency: str) -> Balance:
        account = self.account(key)
        found = account.get(currency)
        if found is None:
            found = account[currency] = Balance(currency)
        return found

    def lock(self, key: str, currency: str, amount: Decimal) -> None:
        """Move ``amount`` from free to locked; InsufficientFunds when it is not free."""
        balance = self.get(key, currency)
        if amount > balance.balance:
            raise InsufficientFunds(currency)
        balance.balance -= amount
        balance.locked += amount

    def unlock(self, key: str, currency: str, amount: Decimal) -> None:
        balance = self.get(key, currency)
        amount = min(amount, balance.locked)
        balance.locked -= amount
        balance.balance += amount

    def spend_locked(self, key: str, currency: str, amount: Decimal) -> None:
        """Take ``amount`` out of the locked part (a fill paid with it, a withdrawal sent)."""
        balance = self.get(key, currency)
        balance.locked = max(Decimal(0), balance.locked - amount)

    def credit(self, key: str, currency: str, amount: Decimal, *, price: Decimal | None = None,
               unit: str = "KRW") -> None:
        """Add ``amount``; ``price``: bought at this price, which moves the average buy price."""
        balance = self.get(key, currency)
        if price is not None:
            held = balance.balance + balance.locked
            total = held + amount
            if total > 0:
                balance.avg_buy_price = ((held * balance.avg_buy_price + amount * price) / total
                                         ).quantize(Decimal("0.00000001")).normalize()
            balance.unit_currency = unit
        balance.balance += amount

    def debit(self, key: str, currency: str, amount: Decimal) -> None:
        """Take ``amount`` out of the free balance; InsufficientFunds when it is not there."""
        balance = self.get(key, currency)
        if amount > balance.balance:
            raise InsufficientFunds(currency)
        balance.balance -= amount
