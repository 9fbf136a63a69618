"""ExchangeState: what the fake exchange's WebSocket and REST sides share, in the one object both import.

The settings a test may change while the fake runs (limits, keys, the 418 rule, what ``/v1/accounts``
answers...), the markets listed, the market simulator whose tapes both sides serve, the JWT nonces
spent, the Origin window, and the accounts' balances and orders.
:class:`~upbit_sync.testing.server.FakeUpbitServer` keeps its settings here (its attributes read and
write them), so neither side reaches the other.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from .channels import ChannelRules
from .ledger import Ledger
from .market import MarketSimulator
from .markets import Market, market_list
from .orders import Orders
from .tokens import Nonces

# group -> (requests, per seconds) (docs/upbit.md §5)
REST_LIMITS: dict[str, tuple[int, float]] = {
    "market": (10, 1.0), "candle": (10, 1.0), "trade": (10, 1.0), "ticker": (10, 1.0),
    "orderbook": (10, 1.0),
    "default": (30, 1.0), "order": (12, 1.0), "order-test": (8, 1.0), "order-cancel-all": (1, 2.0),
}
TEAPOT_WINDOW = 10.0  # 429s of one group within this many seconds count towards a 418 block
ORIGIN_WINDOW = 10.0  # requests carrying an Origin header: 1 per 10 s (docs/upbit.md §5)

# What /v1/accounts answers unless the test sets ``server.accounts``.
DEFAULT_ACCOUNTS: tuple[dict[str, Any], ...] = (
    {"currency": "KRW", "balance": "10000000.0", "locked": "0.0", "avg_buy_price": "0",
     "avg_buy_price_modified": False, "unit_currency": "KRW"},
    {"currency": "BTC", "balance": "0.01", "locked": "0.0", "avg_buy_price": "114000000",
     "avg_buy_price_modified": False, "unit_currency": "KRW"},
    {"currency": "ETH", "balance": "0.5", "locked": "0.0", "avg_buy_price": "5100000",
     "avg_buy_price_modified": False, "unit_currency": "KRW"},
)


class ExchangeState:
    """The fake exchange's settings and shared records; see the module docstring.

    Settings are plain attributes, read when used, so a change applies from the next request on;
    what they mean is listed on :class:`~upbit_sync.testing.server.FakeUpbitServer`.
    """

    def __init__(
        self,
        *,
        keys: dict[str, str],
        auth_failure: str,
        idle_timeout: float,
        status_interval: float,
        connect_limit: int | None,
        message_limit: tuple[int, int] | None,
        message_rate: float,
        error_close_delay: float,
        resnapshot_on_replace: bool,
        honour_camel_case: bool,
        origin_limit: bool,
        markets: Iterable[str | Market] | None,
        seed: int | None,
        remaining_req_header: str,
        teapot_after: int | None,
        teapot_seconds: float,
        teapot_retry_after: bool,
        channel_rules: ChannelRules,
    ) -> None:
        # The WebSocket side's
        self.keys = keys
        self.auth_failure = auth_failure
        self.idle_timeout = idle_timeout
        self.status_interval = status_interval
        self.connect_limit = connect_limit
        self.message_limit = message_limit
        self.message_rate = message_rate
        self.error_close_delay = error_close_delay
        self.resnapshot_on_replace = resnapshot_on_replace
        self.honour_camel_case = honour_camel_case
        self.send_timeout = 1.0
        self.channel_rules = channel_rules
        # Both sides'
        self.origin_limit = origin_limit
        self.origin_window = ORIGIN_WINDOW
        self._listing: tuple[tuple[Market, ...] | None, frozenset[str] | None] = (None, None)
        self.markets = markets
        self.market = MarketSimulator(seed)
        # REST candles (candle_history.py): what ``count`` counts ("candles" or "slots"), and the
        # quiet periods of each code's synthetic past ({code: [(start, end) in seconds]})
        self.candle_count = "candles"
        self.quiet_periods: dict[str, list[tuple[float, float]]] = {}
        self.nonces = Nonces()  # a token's nonce spent on the private WebSocket is spent on REST too
        # The REST side's: per-group limits {group: (requests, per seconds)}, the header name
        # Remaining-Req is sent under, the 418 rule, what /v1/accounts answers, the orders placed.
        self.rest_limits: dict[str, tuple[int, float]] = dict(REST_LIMITS)
        self.remaining_req_header = remaining_req_header
        self.teapot_after = teapot_after
        self.teapot_seconds = teapot_seconds
        self.teapot_window = TEAPOT_WINDOW
        self.teapot_retry_after = teapot_retry_after
        # The accounts' balances and orders (one lock for both: the matcher's), and the wallet's
        # records: withdrawals made, addresses withdrawals may go to, deposits.
        self.trading_lock = threading.RLock()
        self.ledger = Ledger(DEFAULT_ACCOUNTS)
        self.orders = Orders()
        self.withdrawals: list[dict[str, Any]] = []
        self.withdraw_addresses: list[dict[str, Any]] = []
        self.deposits: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._origin_passed: float | None = None  # the last Origin-carrying request let through

    @property
    def accounts(self) -> list[dict[str, Any]]:
        """The rows every account starts from (copies); setting them resets every account."""
        with self.trading_lock:
            return [dict(row) for row in self.ledger.template]

    @accounts.setter
    def accounts(self, rows: list[dict[str, Any]]) -> None:
        with self.trading_lock:
            self.ledger.reset(rows)

    @property
    def markets(self) -> tuple[Market, ...] | None:
        """The markets served, or None for any well-formed code."""
        return self._listing[0]

    @markets.setter
    def markets(self, markets: Iterable[str | Market] | None) -> None:
        listed = None if markets is None else market_list(markets)
        # One assignment, so a request handled meanwhile never sees the records and codes disagree.
        self._listing = (listed, None if listed is None else frozenset(m.market for m in listed))

    def list_market(self, market: Market) -> None:
        """Add ``market`` to the markets served (a ValueError when it is listed already, or when
        every code is served: :attr:`markets` None)."""
        with self._lock:
            listed = self._listing[0]
            if listed is None:
                raise ValueError("every code is served (markets=None): set markets to list one")
            if any(m.market == market.market for m in listed):
                raise ValueError(f"{market.market} is listed already")
            self.markets = (*listed, market)

    def delist_market(self, code: str) -> Market:
        """Remove ``code`` from the markets served and return its record (a ValueError when it is
        not listed)."""
        with self._lock:
            listed = self._listing[0]
            found = [m for m in listed or () if m.market == code]
            if listed is None or not found:
                raise ValueError(f"{code!r} is not listed")
            self.markets = tuple(m for m in listed if m.market != code)
            return found[0]

    def is_listed(self, market: str) -> bool:
        """Whether this exchange serves ``market`` (every code when :attr:`markets` is None)."""
        codes = self._listing[1]
        return codes is None or market in codes

    def supported_levels(self, market: str) -> tuple[float, ...]:
        """The orderbook levels ``market`` supports at its current price, 0 (none) first."""
        return self.market.instrument(market)[1]

    def admit_origin(self, now: float) -> bool:
        """Upbit holds requests carrying ``Origin`` to one per ``origin_window`` across the server,
        WebSocket upgrades and REST alike (docs/upbit.md §5): may one pass now? Remembers it if so."""
        with self._lock:
            last = self._origin_passed
            if self.origin_limit and last is not None and now - last < self.origin_window:
                return False
            self._origin_passed = now
            return True
