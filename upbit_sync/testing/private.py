"""The private and info paths' own parts: what a myOrder, myAsset or announcement request subscribes
to, the events a test pushes to those subscribers, and the info channel's candle clock and series.

The indicator messages themselves are made in ``indicators.py`` and sent by the feed at each close.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from . import announcements, indicators
from .connections import Connections
from .indicators import Candle, IndicatorFeed
from .session import PRIVATE_PATH, Session
from .state import ExchangeState
from .validation import AnnouncementRequest, market_of
from .wire import encode


def subscribe_private(conn: Session, type_name: str, codes: tuple[str, ...], state: ExchangeState
                      ) -> dict[str, Any]:
    """Note a myOrder or myAsset type object on ``conn`` (under the lock); returns what
    LIST_SUBSCRIPTIONS shows of it: myOrder's listed codes as sent, or none for every market."""
    if type_name == "myAsset":
        conn.my_asset_on = True
        return {"type": "myAsset"}
    conn.my_order_on = True
    valid = [code for code in dict.fromkeys(codes)
             if market_of(code, type_name) is not None and state.is_listed(code)]
    conn.my_order = frozenset(valid) if codes else None
    return {"type": "myOrder", "codes": valid}


def merge_announcements(old: AnnouncementRequest | None, new: AnnouncementRequest
                        ) -> AnnouncementRequest:
    """Two announcement objects in one request: the union of their categories, bodies if either
    asks (the fake's choice; docs/channels.md §7.5 leaves repeats OPEN)."""
    if old is None:
        return new
    categories = (None if old.categories is None or new.categories is None
                  else tuple(dict.fromkeys((*old.categories, *new.categories))))
    return AnnouncementRequest(categories, old.include_body or new.include_body)


class PrivatePaths:
    """The test's controls of the private and info paths (``FakeUpbitServer`` documents each)."""

    def __init__(self, state: ExchangeState, connections: Connections,
                 info: IndicatorFeed[Session]) -> None:
        self._state = state
        self._connections = connections
        self._info = info

    # -- private events ------------------------------------------------------------------------

    def emit_my_order(self, **fields: Any) -> dict[str, Any]:
        message = self._state.market.my_order(**fields)
        code = message.get("code")
        if not isinstance(code, str) or not self._state.is_listed(code):
            raise ValueError(f"{code!r} is not a market this fake exchange lists")
        with self._connections.lock:
            targets = [
                conn for conn in self._connections.live.values()
                if conn.my_order_on and not conn.closing
                and (conn.my_order is None or code in conn.my_order)
            ]
        self._send_each(targets, message)
        return message

    def emit_my_asset(self, **fields: Any) -> dict[str, Any]:
        message = self._state.market.my_asset(**fields)
        with self._connections.lock:
            targets = [c for c in self._connections.live.values() if c.my_asset_on and not c.closing]
        self._send_each(targets, message)
        return message

    def send_my_order(self, key: str, message: dict[str, Any]) -> None:
        """An order's myOrder event to the private connections of its access key that subscribed
        to myOrder for its code (or for every code); nobody else hears of it."""
        code = message["code"]
        with self._connections.lock:
            targets = [conn for conn in self._connections.live.values()
                       if conn.access_key == key and conn.path == PRIVATE_PATH and conn.my_order_on
                       and not conn.closing and (conn.my_order is None or code in conn.my_order)]
        self._send_each(targets, message)

    def send_my_asset(self, key: str, message: dict[str, Any]) -> None:
        """A myAsset event to the private connections of ``key`` that subscribed to myAsset."""
        with self._connections.lock:
            targets = [conn for conn in self._connections.live.values()
                       if conn.access_key == key and conn.path == PRIVATE_PATH and conn.my_asset_on
                       and not conn.closing]
        self._send_each(targets, message)

    def cut_private(self) -> int:
        """Drop every private connection at the TCP level; returns how many."""
        with self._connections.lock:
            targets = [conn for conn in self._connections.live.values() if conn.path == PRIVATE_PATH]
        for conn in targets:
            self._connections.drop(conn, "cut_private")
        return len(targets)

    def emit_announcement(self, **fields: Any) -> dict[str, Any]:
        message = announcements.make_announcement(**fields)
        category = message["category"]
        with self._connections.lock:
            targets = [
                (conn, wanted) for conn in self._connections.live.values()
                if (wanted := conn.announcement) is not None and not conn.closing
                and (wanted.categories is None or category in wanted.categories)
            ]
        for conn, wanted in targets:
            sent = announcements.as_sent(message, wanted.include_body)
            frame = encode(sent, conn.format)
            if len(frame) > announcements.MAX_FRAME and "body" in sent:
                frame = encode(announcements.without_body(sent), conn.format)
            self._connections.send(conn, frame, data=True,
                                   deadline=time.monotonic() + self._state.send_timeout)
        return message

    def _send_each(self, targets: list[Session], message: dict[str, Any]) -> None:
        for conn in targets:
            self._connections.send(conn, encode(message, conn.format), data=True,
                                   deadline=time.monotonic() + self._state.send_timeout)

    # -- the info channel ----------------------------------------------------------------------

    @property
    def time_scale(self) -> float:
        return self._info.clock.scale

    @time_scale.setter
    def time_scale(self, scale: float) -> None:
        self._info.clock.scale = scale
        with self._connections.lock:
            self._connections.wake.notify_all()

    def candles(self, code: str, timeframe: str) -> list[Candle]:
        _check_timeframe(timeframe)
        return self._info.candles(code, timeframe)

    def script_candles(self, code: str, timeframe: str, closes: Sequence[float],
                       volumes: Sequence[float] | None = None) -> None:
        _check_timeframe(timeframe)
        self._info.script(code, timeframe, closes, volumes, time.monotonic())


def _check_timeframe(timeframe: str) -> None:
    if timeframe not in indicators.TIMEFRAMES:
        raise ValueError(f"timeframe must be one of {tuple(indicators.TIMEFRAMES)}")
