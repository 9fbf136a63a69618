"""The unsigned quotation calls: markets, tickers, orderbooks and their instruments, past trades."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from ..errors import InvalidRequestError
from ..protocol import market_codes
from ..types import MarketInfo, MarketTicker, OrderbookInstrument, TradeTick
from . import convert
from .transport import Transport, whole

INSTRUMENTS_TTL = 3600.0  # seconds a market's supported orderbook levels are kept


class QuotationCalls:
    """RestClient's quotation calls (mixed into :class:`~upbit_sync.rest.RestClient`)."""

    _transport: Transport
    _instruments: dict[str, tuple[float, OrderbookInstrument]]
    _lock: threading.Lock

    def markets(self, quote: str | None = None, details: bool = False) -> list[MarketInfo]:
        """Every market Upbit lists (``quote="KRW"``: only those quoted in KRW)."""
        rows = self._transport.call("GET", "/v1/market/all", {"is_details": "true" if details else "false"})
        found = convert.typed(convert.market, rows)
        return [m for m in found if quote is None or m.quote == quote.upper()]

    def tickers(self, markets: str | Iterable[str]) -> list[MarketTicker]:
        codes = market_codes(markets)
        return convert.typed(convert.ticker, self._transport.call("GET", "/v1/ticker",
                                                                  {"markets": ",".join(codes)}))

    def orderbook_instruments(self, markets: str | Iterable[str]) -> list[OrderbookInstrument]:
        """Each market's tick size and the orderbook levels it supports."""
        codes = market_codes(markets)
        rows = self._transport.call("GET", "/v1/orderbook/instruments", {"markets": ",".join(codes)})
        found = convert.typed(convert.instrument, rows)
        now = time.monotonic()
        with self._lock:
            self._instruments.update({i.market: (now, i) for i in found})
        return found

    def supported_levels(self, market: str) -> tuple[float, ...] | None:
        """The orderbook levels ``market`` supports, fetched once an hour; None if Upbit does not
        know the market."""
        with self._lock:
            cached = self._instruments.get(market)
        if cached is None or time.monotonic() - cached[0] > INSTRUMENTS_TTL:
            found = {i.market: i for i in self.orderbook_instruments([market])}
            return found[market].supported_levels if market in found else None
        return cached[1].supported_levels

    def trades(self, market: str, *, count: int | None = None, cursor: int | str | None = None,
               days_ago: int | None = None, to: str | None = None) -> list[TradeTick]:
        """Past trades of ``market``, newest first: ``count`` (1-500), those before ``cursor`` (a
        ``sequential_id``), ``days_ago`` (1-7 UTC days back), ``to`` (``HHmmss`` UTC)."""
        (code,) = market_codes([market])
        if count is not None and not (whole(count) and 1 <= count <= 500):
            raise InvalidRequestError(f"count must be a whole number 1-500, not {count!r}")
        if days_ago is not None and not (whole(days_ago) and 1 <= days_ago <= 7):
            raise InvalidRequestError(f"days_ago must be a whole number 1-7, not {days_ago!r}")
        if cursor is not None and not (whole(cursor) or isinstance(cursor, str)):
            raise InvalidRequestError(f"cursor must be a sequential_id (a whole number or its text), "
                                      f"not {cursor!r}")
        if to is not None and not isinstance(to, str):
            raise InvalidRequestError(f"to must be a time of day as text (HHmmss), not {to!r}")
        params: dict[str, Any] = {"market": code}
        for name, value in (("count", count), ("cursor", cursor), ("days_ago", days_ago), ("to", to)):
            if value is not None:
                params[name] = value
        return convert.typed(convert.trade_tick, self._transport.call("GET", "/v1/trades/ticks", params))
