"""The live table of ``stream --format table``: the newest message per code of one stream, drawn at most
ten times a second (rich on a terminal, plain frames elsewhere); events shown under it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from .drawing import Board, screen
from .text import number

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


class LiveTable:
    """The newest message per code of one stream, and the newest few events.

    :meth:`add` takes messages (DEFAULT keys) as they come; :meth:`frame` returns the board to draw,
    or None when nothing changed or the last one is younger than ``interval`` seconds.
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

    def frame(self, now: float | None = None, *, force: bool = False) -> Board | None:
        now = time.monotonic() if now is None else now
        early = self._drawn_at is not None and now - self._drawn_at < self.interval
        if not force and (not self._changed or early):
            return None
        self._drawn_at, self._changed = now, False
        headers, numeric = _columns_of(self.kind)
        elapsed = max(now - self._started, 1e-9)
        title = (f"{self.title}  {self.messages:,} messages ({self.messages / elapsed:,.1f}/s)  "
                 f"{time.strftime('%H:%M:%S', time.gmtime())} UTC")
        rows = [row for code in sorted(self._rows) for row in self._rows[code]]
        return Board(title, headers, numeric, rows, list(self._events))


class TableOutput:
    """``stream --format table``: the live table on stdout, events under it."""

    def __init__(self, kind: str, title: str) -> None:
        self.view = LiveTable(kind, title, interval=0.1)
        self.screen = screen()

    def write(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self.view.add(message)
        self._draw()

    def note(self, line: str) -> None:
        self.view.note(line)

    def _draw(self, force: bool = False) -> None:
        board = self.view.frame(force=force)
        if board is not None:
            self.screen.show(board)

    def finish(self) -> None:
        self._draw(force=True)

    def close(self) -> None:
        """Leave the terminal as it was, the last drawing on it (on any way out)."""
        self.screen.close()
