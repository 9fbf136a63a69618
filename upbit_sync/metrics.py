"""Health: what ``WebSocketManager.health()`` reports, field by field, and its assembly.

The figures are read when asked for, from counters the connections and the dispatcher keep anyway:
the message path pays nothing for them. A leaf module: it imports nothing of the SDK at run time.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from .dispatch import Dispatcher
    from .link import Link


class ConnectionHealth(TypedDict):
    """One connection ("public", "public-2", "private")."""

    state: str
    """CONNECTING, OPEN, CLOSING, CLOSED, or FAILED (refused keys: retried every reconnect_max_delay)."""
    url: str
    healthy: bool
    """Open and not stale, or not needed at all (a private connection nothing asked for)."""
    connected_since: float | None
    """Wall-clock time the current socket opened, while it is open."""
    last_message_age_s: float | None
    """Seconds since the last frame of any kind arrived (None before the first socket)."""
    reconnects: int
    """Sockets opened after an end nobody asked for."""
    recycles: int
    """Sockets replaced only to empty their server-side set (Upbit has no unsubscribe): not faults."""
    connect_attempts: int
    refused_upgrades: int
    """Upgrades answered 429 or 418."""
    messages: int
    """Frames received, data or not."""
    queue_depth: int
    """Messages of this connection held by the workers: queued, taken or being delivered."""
    drops: int
    """Messages of this connection lost to an overflow policy (streams' own buffers included)."""
    bad_frames: int
    """Frames or messages that could not be understood, logged and skipped."""
    requests_sent: int
    subscriptions: int
    """(type, code) pairs it should carry."""
    in_sync: bool
    """The socket carries what it should (False while a changed set waits for the message limit)."""
    last_error: str
    """Why the last socket ended, or the last error frame's name."""


class DispatcherHealth(TypedDict):
    """The worker pool."""

    workers: int
    queue_size: int
    """Messages one worker may hold."""
    queue_bytes: int
    """Bytes of frames one worker may hold."""
    queue_depth: int
    """Messages held by all workers: queued, taken or being delivered."""
    queue_depths: list[int]
    queue_held_bytes: int
    queue_high_water: int
    """The most messages one worker held at once."""
    delivered: int
    drops: int
    callback_errors: int


class Health(TypedDict):
    """What :meth:`WebSocketManager.health` returns."""

    healthy: bool
    """Running, and every connection that is needed is open and not stale."""
    running: bool
    connections: dict[str, ConnectionHealth]
    dispatcher: DispatcherHealth
    subscriptions: int
    """Active subscriptions of all clients."""


def connection_health(link: Link, now: float, stale_after: float,
                      queued: Mapping[str, int]) -> ConnectionHealth:
    conn = link.conn
    age = None if conn.last_frame_at is None else round(now - conn.last_frame_at, 3)
    stale = age is not None and bool(link.wanted) and age > stale_after
    is_open = conn.state.value == "OPEN"
    return ConnectionHealth(
        state=conn.state.value,
        url=conn.url,
        healthy=not link.active or (is_open and not stale),
        connected_since=conn.connected_since if is_open else None,
        last_message_age_s=age,
        reconnects=link.reconnects,
        recycles=link.recycles,
        connect_attempts=link.attempts,
        refused_upgrades=link.refused,
        messages=conn.frames,
        queue_depth=queued.get("queue_depth", 0),
        drops=queued.get("drops", 0),
        bad_frames=link.bad_frames,
        requests_sent=link.requests_sent,
        subscriptions=sum(max(1, len(spec.codes)) for spec in link.wanted),
        in_sync=link.in_sync,
        last_error=link.last_error,
    )


def health_report(running: bool, links: Iterable[Link], dispatcher: Dispatcher, subscriptions: int,
                  stale_after: float) -> Health:
    """The whole report: every connection, the workers, and ``healthy`` over all of them."""
    queues = dispatcher.by_connection()
    now = time.monotonic()
    connections = {
        link.name: connection_health(link, now, stale_after, queues.get(link.name, {}))
        for link in links
    }
    return Health(
        healthy=running and all(c["healthy"] for c in connections.values()),
        running=running,
        connections=connections,
        dispatcher=dispatcher.stats(),
        subscriptions=subscriptions,
    )
