"""The REST side's quotation endpoints (markets, tickers, trades, orderbooks, orderbook instruments,
candles), served from the same market simulator as the WebSocket side: the trades ``/v1/trades/ticks``
lists are the ones its tapes sent, and the candles are made of them (``candle_history.py``).

Candles: ``count`` 1-200 (default 1; above 200, OPEN on Upbit: 400 ``validation_error``); ``to`` is
exclusive, in any form of docs/trading.md (no zone: UTC); an epoch in ms (OPEN) is refused,
400 ``validation_error``. Newest first; a bucket without a trade is left out.
"""

from __future__ import annotations

import bisect
import math
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from .candle_history import PERIODS, CandleHistory, page, row
from .markets import DEFAULT_MARKETS
from .rest_params import (
    CODE,
    Call,
    Endpoint,
    Endpoints,
    RestError,
    decimal_text,
    flag,
    integer,
    number,
    optional_integer,
    split,
    time_of_day,
)
from .state import ExchangeState

MAX_TICKS = 500  # /v1/trades/ticks: the most trades one call returns
MAX_CANDLES = 200  # /v1/candles/*: the most candles one call returns
CANDLE_PATHS: dict[str, str] = {  # path -> unit
    "/v1/candles/seconds": "1s",
    **{f"/v1/candles/minutes/{n}": f"{n}m" for n in (1, 3, 5, 10, 15, 30, 60, 240)},
    "/v1/candles/days": "1d", "/v1/candles/weeks": "1w", "/v1/candles/months": "1M",
    "/v1/candles/years": "1y",
}
_TO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")
_KST = timezone(timedelta(hours=9))

_CAUTIONS = ("PRICE_FLUCTUATIONS", "TRADING_VOLUME_SOARING", "DEPOSIT_AMOUNT_SOARING",
             "GLOBAL_PRICE_DIFFERENCES", "CONCENTRATION_OF_SMALL_ACCOUNTS")
_TICKER_FIELDS = (
    "opening_price", "high_price", "low_price", "trade_price", "prev_closing_price", "change",
    "change_price", "change_rate", "signed_change_price", "signed_change_rate", "trade_volume",
    "acc_trade_price", "acc_trade_price_24h", "acc_trade_volume", "acc_trade_volume_24h",
    "highest_52_week_price", "highest_52_week_date", "lowest_52_week_price", "lowest_52_week_date",
)


class Quotation:
    """The quotation endpoints of one exchange, each counted in its group, none signed."""

    def __init__(self, state: ExchangeState) -> None:
        self._state = state

    def endpoints(self) -> Endpoints:
        return {
            ("GET", "/v1/market/all"): Endpoint("market", False, self._market_all),
            ("GET", "/v1/ticker"): Endpoint("ticker", False, self._ticker),
            ("GET", "/v1/ticker/all"): Endpoint("ticker", False, self._ticker_all),
            ("GET", "/v1/trades/ticks"): Endpoint("trade", False, self._ticks),
            ("GET", "/v1/orderbook"): Endpoint("orderbook", False, self._orderbook),
            ("GET", "/v1/orderbook/instruments"): Endpoint("orderbook", False, self._instruments),
            **{("GET", path): Endpoint("candle", False, self._candles) for path in CANDLE_PATHS},
        }

    def _market_all(self, call: Call) -> tuple[int, Any]:
        details = flag(call.param("is_details"), "is_details")
        listed = self._state.markets or DEFAULT_MARKETS
        rows: list[dict[str, Any]] = []
        for market in listed:
            row: dict[str, Any] = {"market": market.market, "korean_name": market.korean_name,
                                   "english_name": market.english_name}
            if details:
                row["market_event"] = {"warning": market.warning,
                                       "caution": dict.fromkeys(_CAUTIONS, False)}
            rows.append(row)
        return 200, rows

    def _ticker(self, call: Call) -> tuple[int, Any]:
        return 200, [self._rest_ticker(code) for code in self._codes(call.param("markets"))]

    def _ticker_all(self, call: Call) -> tuple[int, Any]:
        quotes = split(call.param("quote_currencies"), "quote_currencies")
        listed = self._state.markets or DEFAULT_MARKETS
        return 200, [self._rest_ticker(m.market) for m in listed if m.quote in quotes]

    def _rest_ticker(self, code: str) -> dict[str, Any]:
        """The REST ticker: the WebSocket ticker's state, with REST's field names."""
        ws = self._state.market.make("ticker", code, "SNAPSHOT")
        kst = datetime.fromtimestamp(ws["trade_timestamp"] / 1000, tz=_KST)
        ticker: dict[str, Any] = {
            "market": code, "trade_date": ws["trade_date"], "trade_time": ws["trade_time"],
            "trade_date_kst": kst.strftime("%Y%m%d"), "trade_time_kst": kst.strftime("%H%M%S"),
            "trade_timestamp": ws["trade_timestamp"],
        }
        ticker.update((name, ws[name]) for name in _TICKER_FIELDS)
        ticker["timestamp"] = ws["timestamp"]
        return ticker

    def _ticks(self, call: Call) -> tuple[int, Any]:
        code = self._code(call.param("market"))
        count = integer(call.param("count"), "count", 1, 1, MAX_TICKS)
        cursor = optional_integer(call.param("cursor"), "cursor", 0, None)
        days_ago = optional_integer(call.param("days_ago"), "days_ago", 1, 7)
        until = time_of_day(call.param("to"))
        simulator = self._state.market
        records = simulator.history(code)
        if not records:
            simulator.make("trade", code)  # Upbit's markets have always traded: one on the spot
            records = simulator.history(code)
        if days_ago is not None:
            day = datetime.now(timezone.utc).date() - timedelta(days=days_ago)
        else:
            day = datetime.fromtimestamp(records[-1].timestamp / 1000, tz=timezone.utc).date()
        start = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)
        end = start + 86_400_000 if until is None else start + until * 1000 + 1000
        first = bisect.bisect_left(records, start, key=lambda r: r.timestamp)
        last = bisect.bisect_left(records, end, key=lambda r: r.timestamp)
        if cursor is not None:
            last = min(last, bisect.bisect_left(records, cursor, key=lambda r: r.sequential_id))
        chosen = records[max(first, last - count):last]
        return 200, [record.as_tick(code) for record in reversed(chosen)]

    def _orderbook(self, call: Call) -> tuple[int, Any]:
        codes = self._codes(call.param("markets"))
        level = number(call.param("level"), "level", 0.0)
        count = integer(call.param("count"), "count", 30, 1, 30)
        books = []
        for code in codes:
            if not any(math.isclose(level, lv, rel_tol=1e-9, abs_tol=1e-12)
                       for lv in self._state.supported_levels(code)):
                continue  # an unsupported level: nothing for that market
            book = self._state.market.make("orderbook", code, "SNAPSHOT", count, level)
            books.append({"market": code, "timestamp": book["timestamp"],
                          "total_ask_size": book["total_ask_size"],
                          "total_bid_size": book["total_bid_size"],
                          "orderbook_units": book["orderbook_units"], "level": book["level"]})
        return 200, books

    def _instruments(self, call: Call) -> tuple[int, Any]:
        rows = []
        for code in self._codes(call.param("markets")):
            tick, levels = self._state.market.instrument(code)
            rows.append({"market": code, "quote_currency": code.split("-", 1)[0],
                         "tick_size": decimal_text(tick),
                         "supported_levels": [decimal_text(level) for level in levels]})
        return 200, rows

    def _candles(self, call: Call) -> tuple[int, Any]:
        code = self._code(call.param("market"))
        period = PERIODS[CANDLE_PATHS[call.path]]
        count = integer(call.param("count"), "count", 1, 1, MAX_CANDLES, "validation_error")
        now = time.time()
        before = _candle_to(call.param("to"), now)
        converting = call.param("converting_price_unit")
        if converting is not None and (period.name != "1d" or converting != "KRW"):
            raise RestError(400, "validation_error", "converting_price_unit must be KRW (days only).")
        state = self._state
        history = CandleHistory(state.market, code, period, state.quiet_periods.get(code, ()), now)
        bars = page(history, before, count, state.candle_count == "slots")
        older = next(history.newest(bars[-1].start), None) if bars and period.name == "1d" else None
        rows = [row(code, period, bar, bars[i + 1] if i + 1 < len(bars) else older)
                for i, bar in enumerate(bars)]
        if converting is not None:
            self._convert(code, rows)
        return 200, rows

    def _convert(self, code: str, rows: list[dict[str, Any]]) -> None:
        """``converted_trade_price``: the close in KRW (a KRW market's own; others' at the KRW price of
        their quote currency now)."""
        quote = code.split("-", 1)[0]
        rate = 1.0 if quote == "KRW" else self._state.market.price(f"KRW-{quote}")
        for found in rows:
            found["converted_trade_price"] = round(found["trade_price"] * rate, 8)

    def _codes(self, codes: str | None) -> list[str]:
        return [self._code(code) for code in split(codes, "markets")]

    def _code(self, code: str | None) -> str:
        """A market code this exchange lists; 404 ``Code not found`` otherwise (docs/upbit.md §7)."""
        if not code:
            raise RestError(400, 400, "market is required.")
        if CODE.fullmatch(code) is None or not self._state.is_listed(code):
            raise RestError(404, 404, "Code not found")
        return code


def _candle_to(value: str | None, now: float) -> int:
    """``to`` as the second candles must start before (exclusive); ``now`` (the latest) when absent."""
    if value is None:
        return math.floor(now) + 1
    if _TO.fullmatch(value) is None:
        raise RestError(400, "validation_error", "to must be yyyy-MM-ddTHH:mm:ss, with Z or an offset "
                                                 "or none (UTC).")
    text = value.replace(" ", "T").replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RestError(400, "validation_error", "to is not a date and time.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return math.ceil(moment.timestamp())

