"""Gap-free trades: what a reconnect missed, fetched from ``/v1/trades/ticks`` and delivered in order.

A trade subscription asked with ``backfill=True`` remembers the last trade it delivered per code. A
SNAPSHOT for a code it already had means the socket subscribed again (a reconnect, or a request that
replaced the set); the trades between that last one and the snapshot are paged from REST (newest
first, by ``cursor``), those not delivered yet kept (``sequential_id`` is unique but not ordered, so
the order is the trade time, then the id), and delivered before the snapshot. All of it runs on the
code's worker, inside the delivery, so the trades queued behind wait their turn: per code, every trade
once, in time order. What could not be recovered (Upbit keeps 7 days; REST refused) is a DataLoss.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from .errors import UpbitError
from .types import Trade, TradeTick

log = logging.getLogger(__name__)

PAGE = 500  # trades per REST call (Upbit's most)
MAX_PAGES = 40  # 20,000 trades: a gap wider than that is reported, not fetched
REMEMBERED = 4096  # delivered sequential ids kept per code, to tell a new trade from a repeat
KEPT_DAYS = 7  # Upbit's /v1/trades/ticks reaches this far back

Fetch = Callable[..., list[TradeTick]]  # RestClient.trades(market, count=, cursor=)
Key = tuple[int, int]  # (trade time in ms, sequential_id): the order trades are delivered in


class _Code:
    """What was delivered for one code."""

    __slots__ = ("last", "order", "seen")

    def __init__(self) -> None:
        self.last: Key | None = None
        self.seen: set[int] = set()
        self.order: deque[int] = deque()

    def add(self, key: Key) -> None:
        if self.last is None or key > self.last:
            self.last = key
        self.seen.add(key[1])
        self.order.append(key[1])
        if len(self.order) > REMEMBERED:
            self.seen.discard(self.order.popleft())


class Backfill:
    """The gap-filling state of one trade subscription (thread-safe: its codes run on several workers)."""

    def __init__(self, fetch: Fetch, on_loss: Callable[[str, int, str], None], *,
                 first_snapshot: bool = True) -> None:
        self._fetch = fetch
        self._on_loss = on_loss  # (code, trades known lost, why)
        # whether a code's first SNAPSHOT is delivered (the subscriber's ``snapshot=``); later ones
        # always are when new, as they are trades like any other
        self._first_snapshot = first_snapshot
        self._codes: dict[str, _Code] = {}
        self._lock = threading.Lock()
        self.recovered = 0  # trades delivered from REST

    def admit(self, item: Trade | dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        """For one trade (typed, or a dict in wire keys): the missed trades to deliver first (DEFAULT
        keys, in order), and whether the trade itself is new (False: already delivered)."""
        if isinstance(item, dict):
            simple = "ty" in item
            code = item.get("cd" if simple else "code")
            sid = item.get("sid" if simple else "sequential_id")
            stamp = item.get("ttms" if simple else "trade_timestamp")
            snapshot = item.get("st" if simple else "stream_type") == "SNAPSHOT"
        else:  # a typed Trade, the usual case
            code, sid, stamp = item.code, item.sequential_id, item.trade_timestamp
            snapshot = item.stream_type == "SNAPSHOT"
        if type(code) is not str or type(sid) is not int or type(stamp) is not int:
            return [], True  # malformed: the usual path says why
        key = (stamp, sid)
        with self._lock:
            state = self._codes.setdefault(code, _Code())
            if sid in state.seen:
                return [], False
            last = state.last
        missed: list[dict[str, Any]] = []
        if snapshot and last is not None and key > last:
            missed = self._gap(code, state, last, key)
        with self._lock:
            for trade in missed:
                state.add((trade["trade_timestamp"], trade["sequential_id"]))
            state.add(key)
            self.recovered += len(missed)
        return missed, not (snapshot and last is None and not self._first_snapshot)

    def _gap(self, code: str, state: _Code, last: Key, upto: Key) -> list[dict[str, Any]]:
        """The trades after ``last`` and before ``upto`` not delivered yet, oldest first."""
        found: dict[int, TradeTick] = {}
        cursor: int | None = None
        if upto[0] - last[0] > KEPT_DAYS * 86_400_000:
            self._on_loss(code, 0, f"the gap began more than {KEPT_DAYS} days ago: Upbit keeps no "
                               "older trades")
            return []
        for _ in range(MAX_PAGES):
            try:
                page = self._fetch(code, count=PAGE, cursor=cursor)
            except UpbitError as exc:
                self._on_loss(code, len(found), f"REST refused the backfill: {exc}")
                break
            with self._lock:
                seen = set(state.seen)
            for tick in page:
                key = (tick.timestamp, tick.sequential_id)
                if last[0] <= key[0] and key < upto and tick.sequential_id not in seen:
                    found[tick.sequential_id] = tick
            if not page or min(t.timestamp for t in page) < last[0]:
                break
            cursor = page[-1].sequential_id  # newest first: the page's oldest
        else:
            self._on_loss(code, len(found), f"more than {MAX_PAGES * PAGE} trades in the gap")
        ticks = sorted(found.values(), key=lambda t: (t.timestamp, t.sequential_id))
        if ticks:
            log.info("backfill: %d trade(s) of %s recovered after a reconnect", len(ticks), code)
        return [as_trade(t) for t in ticks]


def as_trade(tick: TradeTick) -> dict[str, Any]:
    """A REST trade as a WebSocket trade message (DEFAULT keys, ``stream_type`` BACKFILL)."""
    change = "RISE" if tick.change_price > 0 else "FALL" if tick.change_price < 0 else "EVEN"
    return {
        "type": "trade", "code": tick.market, "trade_price": tick.trade_price,
        "trade_volume": tick.trade_volume, "ask_bid": tick.ask_bid,
        "prev_closing_price": tick.prev_closing_price, "change": change,
        "change_price": abs(tick.change_price), "trade_date": tick.trade_date_utc,
        "trade_time": tick.trade_time_utc, "trade_timestamp": tick.timestamp,
        "sequential_id": tick.sequential_id, "timestamp": tick.timestamp, "stream_type": "BACKFILL",
    }

