"""What each WebSocket connection asks for: every message it sends, answered as Upbit would.

A text ``PING`` gets a status frame; a request past ``message_limit`` or one Upbit would refuse gets
its error frame and the close; LIST_SUBSCRIPTIONS gets the set being served; a subscription request
replaces the whole set (Upbit has no incremental subscribe), with the streams it makes scheduled on
the feed: snapshots first, then REALTIME, trades on their market's tape, or the recording's messages
while one is replayed.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from typing import Any

from .connections import Connections
from .feed import Feed
from .indicators import IndicatorFeed, InfoStream
from .private import merge_announcements, subscribe_private
from .replay import Wanted
from .session import INFO_PATH, PRIVATE_PATH, Request, Session, Stream
from .state import ExchangeState
from .validation import (
    ANNOUNCEMENT,
    INFO_TYPES,
    PRIVATE_TYPES,
    PUBLIC_TYPES,
    TOO_MANY_REQUESTS,
    AnnouncementRequest,
    IndicatorRequest,
    ParsedRequest,
    RequestError,
    market_of,
    parse_request,
)
from .wire import encode


class Subscriptions:
    """Handles each message a connection's thread reads; see the module docstring."""

    def __init__(self, state: ExchangeState, connections: Connections, feed: Feed,
                 info: IndicatorFeed[Session]) -> None:
        self._state = state
        self._connections = connections
        self._feed = feed
        self._info = info

    def on_message(self, conn: Session, message: str | bytes) -> None:
        now = time.monotonic()
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        if text == "PING":
            self._feed.ping(conn, now)
            return
        try:
            payload = json.loads(text)
        except ValueError:
            payload = None
        with self._connections.lock:
            conn.requests.append(Request(now, text, payload))
            over = self._over_message_limit(conn, now)
        if over:
            self._connections.fail(conn, TOO_MANY_REQUESTS)
            return
        try:
            request = parse_request(
                text, allowed=self._types_on(conn.path),
                honour_camel_case=self._state.honour_camel_case, rules=self._state.channel_rules,
            )
        except RequestError as exc:
            self._connections.fail(conn, exc.name, exc.message)
            return
        if request.method is not None:
            self._list_subscriptions(conn, request)
        else:
            self._subscribe(conn, request, now)

    def _types_on(self, path: str) -> frozenset[str]:
        """The types a path serves (docs/channels.md §0, §7.3)."""
        if path == INFO_PATH:
            return INFO_TYPES
        if path == PRIVATE_PATH:
            extra = INFO_TYPES if self._state.channel_rules.indicators_on_private else frozenset()
            return PRIVATE_TYPES | {ANNOUNCEMENT} | extra
        return PUBLIC_TYPES

    def _over_message_limit(self, conn: Session, now: float) -> bool:
        times = conn.message_times
        while times and times[0] <= now - 60.0:
            times.popleft()
        limit = self._state.message_limit
        if limit is not None:
            per_second, per_minute = limit
            last_second = sum(1 for t in times if t > now - 1.0)
            if last_second >= per_second or len(times) >= per_minute:
                return True
        times.append(now)
        return False

    def _list_subscriptions(self, conn: Session, request: ParsedRequest) -> None:
        with self._connections.lock:
            if request.format is not None:  # a format object switches the whole connection
                conn.format = request.format
            fmt = conn.format
            result = [dict(entry, codes=list(entry["codes"])) if "codes" in entry else dict(entry)
                      for entry in conn.served]
        reply = {"method": "LIST_SUBSCRIPTIONS", "result": result, "ticket": request.ticket}
        self._connections.send(conn, encode(reply, fmt), data=False)

    def _subscribe(self, conn: Session, request: ParsedRequest, now: float) -> None:
        """Replace the connection's whole subscription set (Upbit has no incremental subscribe)."""
        state, feed = self._state, self._feed
        with self._connections.lock:
            old = {(s.type, s.key, s.level) for s in conn.streams}
            conn.generation += 1
            conn.format = request.format or "DEFAULT"
            conn.subscriptions = [t.as_dict() for t in request.types]
            conn.my_order_on = conn.my_asset_on = False
            conn.my_order = None
            conn.announcement = None
            streams: list[Stream] = []
            served: list[dict[str, Any]] = []
            seen: set[tuple[str, str, float]] = set()
            info: list[InfoStream] = []
            for item in request.types:
                if isinstance(item, AnnouncementRequest):
                    conn.announcement = merge_announcements(conn.announcement, item)
                    served.append(item.as_dict())
                    continue
                if isinstance(item, IndicatorRequest):
                    listed = [code for code in dict.fromkeys(item.codes) if state.is_listed(code)]
                    info.extend(InfoStream(code, item.timeframe, wanted)
                                for code in listed for wanted in item.items)
                    served.append(item.as_dict(listed))
                    continue
                if item.type in PRIVATE_TYPES:
                    served.append(subscribe_private(conn, item.type, item.codes, state))
                    continue
                codes: list[str] = []
                for code in item.codes:
                    found = market_of(code, item.type)
                    if found is None or code in codes or not state.is_listed(found[0]):
                        continue  # Upbit ignores unknown and lowercase codes silently
                    codes.append(code)
                    key = (item.type, code, item.level)
                    if key in seen:
                        continue
                    seen.add(key)
                    market, depth = found
                    if (item.type == "orderbook" and feed.replayer is None
                            and not self._supports(market, item.level)):
                        continue  # an unsupported level: no data and no error (docs/upbit.md §2)
                    snapshot = not item.is_only_realtime
                    if key in old and not state.resnapshot_on_replace:
                        snapshot = False
                    streams.append(Stream(
                        item.type, code, market, depth, item.level, snapshot,
                        realtime=not item.is_only_snapshot, awaiting_snapshot=snapshot,
                    ))
                entry: dict[str, Any] = {"type": item.type, "codes": codes}
                if item.type == "orderbook":
                    entry["level"] = item.level
                served.append(entry)
            conn.streams = streams
            conn.served = served
            self._info.assign(conn, info, now)
            if feed.replayer is not None:  # the recording plays instead of the simulated market
                conn.trades, conn.pending = {}, deque()
                feed.replayer.assign(conn, _wanted(conn, streams), now)
                self._connections.wake.notify_all()
                return
            conn.trades = {s.market: s for s in streams if s.type == "trade"}
            conn.pending = deque(s for s in streams if s.snapshot)
            rate = state.message_rate
            interval = 1.0 / rate if rate > 0 else 0.1
            for stream in streams:
                due = now + interval if stream.snapshot else now
                if stream.type == "trade":  # the market's tape serves it
                    feed.start_tape(stream.market, due)
                elif stream.realtime:
                    feed.schedule(conn, stream, due)
            self._connections.wake.notify_all()

    def _supports(self, market: str, level: float) -> bool:
        return level == 0 or any(math.isclose(level, supported, rel_tol=1e-9)
                                 for supported in self._state.supported_levels(market))


def _wanted(conn: Session, streams: list[Stream]) -> list[Wanted]:
    """What a request asks a replay for: its public streams and its private types."""
    wanted = [Wanted(s.type, s.market, s.level, s.depth, s.snapshot, s.realtime) for s in streams]
    if conn.my_order_on:
        codes = sorted(conn.my_order) if conn.my_order is not None else [None]
        wanted.extend(Wanted("myOrder", code) for code in codes)
    if conn.my_asset_on:
        wanted.append(Wanted("myAsset", None))
    return wanted
