"""The account's money: balances, deposits, withdrawals and wallet state. Calls that move money out
are refused unless ``Config(allow_withdrawals=True)``."""

from __future__ import annotations

from ..config import Config
from ..types import Account
from . import convert
from .transport import Transport


class WalletCalls:
    """RestClient's wallet calls (mixed into :class:`~upbit_sync.rest.RestClient`)."""

    _transport: Transport
    config: Config

    def accounts(self) -> list[Account]:
        """The account's balances (needs keys); with ``Config(decimal=True)`` the figures are the exact
        ``Decimal`` of what Upbit sent (decimal text; a JSON number is read from its text too)."""
        exact = self.config.decimal
        rows = self._transport.call("GET", "/v1/accounts", None, signed=True, exact=exact)
        n = convert.exact_num if exact else convert.num
        return convert.typed(lambda row: convert.account(row, n), rows)
