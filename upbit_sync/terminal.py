"""What the ``upbit-sync`` command draws on a terminal: plain-text tables, the live view of ``stream
--format table`` and one-line descriptions of the SDK's events. Pure text: nothing here writes.

Korean market names are two columns wide on a terminal, so padding counts East Asian wide characters
twice; numbers are shown with thousands separators and up to ten significant digits.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .types import Connected, DataLoss, Disconnected, Event, Reconnected, ServerError

HOME = "\x1b[H"  # cursor to the top left
CLEAR_SCREEN = "\x1b[2J"
CLEAR_LINE = "\x1b[K"  # from the cursor to the end of the line
CLEAR_BELOW = "\x1b[J"  # from the cursor to the end of the screen


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal (wide and full-width characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pad(text: str, columns: int, *, right: bool = False) -> str:
    """``text`` padded with spaces to ``columns`` terminal columns (right-aligned for numbers)."""
    fill = " " * max(0, columns - width(text))
    return fill + text if right else text + fill


def number(value: Any) -> str:
    """A number as a table shows it (``115,000,000``, ``0.00045811``); anything else as text."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, (int, float)):
        return f"{value:,.10g}"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: Sequence[bool] = ()
          ) -> list[str]:
    """Rows of text under their headers, each column as wide as its widest cell; columns flagged in
    ``numeric`` are right-aligned."""
    body = [list(row) for row in rows]
    widths = [max([width(h), *(width(row[i]) for row in body if i < len(row))])
              for i, h in enumerate(headers)]
    right = [bool(numeric[i]) if i < len(numeric) else False for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(pad(cell, widths[i], right=right[i]) for i, cell in enumerate(cells)).rstrip()

    return [line(headers), *(line(row) for row in body)]


def describe(event: Event) -> str:
    """One line saying what an SDK event means for the data."""
    if isinstance(event, Connected):
        return f"connected ({event.connection}) to {event.url}"
    if isinstance(event, Disconnected):
        code = f", close code {event.code}" if event.code is not None else ""
        return f"disconnected ({event.connection}): {event.reason.rstrip('.')}{code}; reconnecting"
    if isinstance(event, Reconnected):
        trades = ("trades in the gap may be missing" if event.trades_may_be_missing
                  else "missed trades are fetched over REST")
        return (f"reconnected ({event.connection}) after {event.downtime_s * 1000:.0f} ms; "
                f"subscriptions restored, {trades}")
    if isinstance(event, DataLoss):
        code = f" of {event.code}" if event.code else ""
        reason = f": {event.reason}" if event.reason else ""
        return f"data lost: {event.dropped} {event.type} message(s){code} ({event.policy}){reason}"
    if isinstance(event, ServerError):
        return f"server error {event.name}: {event.message}"
    return str(event)


# ---- the live view of `stream --format table` ---------------------------------------------------------

# type -> (column headers, which of them are right-aligned numbers); _cells gives the rows
_Columns = tuple[tuple[str, ...], tuple[bool, ...]]
_COLUMNS: dict[str, _Columns] = {
    "ticker": (("code", "price", "change", "volume 24h", "state"), (False, True, True, True, False)),
    "trade": (("code", "price", "volume", "side", "trades", "time (UTC)"),
              (False, True, True, False, True, False)),
    "orderbook": (("code", "bid", "ask", "spread", "bid size", "ask size", "units"),
                  (False, True, True, True, True, True, True)),
    "candle": (("code", "start (UTC)", "open", "high", "low", "close", "volume"),
               (False, False, True, True, True, True, True)),
    "myOrder": (("code", "order", "side", "type", "state", "price", "volume", "remaining"),
                (False, False, False, False, False, True, True, True)),
    "myAsset": (("currency", "balance", "locked"), (False, True, True)),
}


def _columns_of(kind: str) -> _Columns:
    return _COLUMNS["candle" if kind.startswith("candle.") else kind]


def _cells(kind: str, message: Mapping[str, Any], count: int) -> list[list[str]]:
    """The rows one message gives (one, except myAsset: a row per currency)."""
    get = message.get
    code = str(get("code", "-"))
    if kind == "ticker":
        rate = get("signed_change_rate")
        change = f"{rate:+.2%}" if isinstance(rate, (int, float)) else "-"
        return [[code, number(get("trade_price")), change, number(get("acc_trade_volume_24h")),
                 str(get("market_state", "-"))]]
    if kind == "trade":
        side = {"BID": "buy", "ASK": "sell"}.get(str(get("ask_bid")), str(get("ask_bid", "-")))
        return [[code, number(get("trade_price")), number(get("trade_volume")), side, number(count),
                 str(get("trade_time", "-"))]]
    if kind == "orderbook":
        units = get("orderbook_units") or [{}]
        best = units[0] if isinstance(units[0], Mapping) else {}
        bid, ask = best.get("bid_price"), best.get("ask_price")
        spread = ask - bid if isinstance(bid, (int, float)) and isinstance(ask, (int, float)) else None
        return [[code, number(bid), number(ask), number(spread), number(best.get("bid_size")),
                 number(best.get("ask_size")), number(len(units))]]
    if kind.startswith("candle."):
        return [[code, str(get("candle_date_time_utc", "-")), number(get("opening_price")),
                 number(get("high_price")), number(get("low_price")), number(get("trade_price")),
                 number(get("candle_acc_trade_volume"))]]
    if kind == "myOrder":
        return [[code, str(get("uuid", "-"))[:8], str(get("ask_bid", "-")), str(get("order_type", "-")),
                 str(get("state", "-")), number(get("price")), number(get("volume")),
                 number(get("remaining_volume"))]]
    assets = get("assets") or []
    return [[str(a.get("currency", "-")), number(a.get("balance")), number(a.get("locked"))]
            for a in assets if isinstance(a, Mapping)]


class LiveView:
    """The newest message per code of one stream, drawn as a table that redraws in place.

    :meth:`add` takes messages (DEFAULT keys) as they come; :meth:`frame` returns the whole screen
    (cursor home, the lines, each cleared to its end, then the rest of the screen cleared), or None
    when nothing changed or the last frame is younger than ``interval`` seconds.
    """

    EVENTS_SHOWN = 3

    def __init__(self, kind: str, title: str, *, interval: float = 0.1) -> None:
        self.kind = kind
        self.title = title
        self.interval = interval
        self.messages = 0
        self._rows: dict[str, list[list[str]]] = {}
        self._counts: dict[str, int] = {}
        self._events: list[str] = []
        self._drawn_at: float | None = None
        self._changed = True
        self._started = time.monotonic()

    def add(self, message: Mapping[str, Any]) -> None:
        code = str(message.get("code", ""))
        self.messages += 1
        self._counts[code] = self._counts.get(code, 0) + 1
        self._rows[code] = _cells(self.kind, message, self._counts[code])
        self._changed = True

    def note(self, line: str) -> None:
        """An event or error line, shown under the table (the newest few)."""
        self._events = [*self._events, f"{time.strftime('%H:%M:%S')} {line}"][-self.EVENTS_SHOWN:]
        self._changed = True

    def frame(self, now: float | None = None, *, force: bool = False) -> str | None:
        now = time.monotonic() if now is None else now
        early = self._drawn_at is not None and now - self._drawn_at < self.interval
        if not force and (not self._changed or early):
            return None
        first = self._drawn_at is None
        self._drawn_at, self._changed = now, False
        headers, numeric = _columns_of(self.kind)
        rows = [row for code in sorted(self._rows) for row in self._rows[code]]
        elapsed = max(now - self._started, 1e-9)
        lines = [f"{self.title}  {self.messages:,} messages ({self.messages / elapsed:,.1f}/s)  "
                 f"{time.strftime('%H:%M:%S', time.gmtime())} UTC", ""]
        lines += table(headers, rows, numeric=numeric) if rows else ["waiting for data..."]
        if self._events:
            lines += ["", *self._events]
        body = "".join(f"{line}{CLEAR_LINE}\n" for line in lines)
        return (CLEAR_SCREEN if first else "") + HOME + body + CLEAR_BELOW
