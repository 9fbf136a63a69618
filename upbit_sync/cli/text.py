"""Text the commands show, pure (nothing here writes): plain tables, numbers, and one line per SDK event.

Korean market names are two columns wide on a terminal, so padding counts East Asian wide characters
twice; numbers are shown with thousands separators and up to ten significant digits.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from ..types import (
    Connected,
    DataLoss,
    Disconnected,
    Event,
    MarketDelisted,
    MarketListed,
    Reconnected,
    ServerError,
)


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
    if isinstance(event, (MarketListed, MarketDelisted)):
        name = f" ({event.english_name})" if event.english_name else ""
        done = "listed: subscribed" if isinstance(event, MarketListed) else "delisted: dropped"
        return f"{event.market}{name} {done} for {event.type}"
    return str(event)
