"""What ``WebSocketManager.health()`` reports, as TypedDicts documented field by field.

The shapes only: the parts that keep the figures (the dispatcher, a shared rate-limit backend) say
theirs in these words, and ``metrics`` assembles the whole report from them when asked.
"""

from __future__ import annotations

from typing import TypedDict


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
    bytes: int
    """Their payload bytes (inflated, when they came compressed)."""
    compression: bool
    """permessage-deflate was agreed on the current socket (the last one, while closed)."""
    wire_bytes: int
    """The same payloads' bytes as they came over the wire: ``bytes`` less what compression spared
    (``wire_bytes / bytes`` is the compression ratio; equal when nothing was compressed)."""
    ends: dict[str, int]
    """How its sockets ended unasked, by kind (``dropped``, ``stale``, ``closed_1000``, ``http_429``...):
    the reasons of its reconnects."""
    queue_depth: int
    """Messages of this connection held by the workers: queued, taken or being delivered."""
    queue_bytes: int
    """The bytes of the frames those messages came in."""
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


class Latency(TypedDict):
    """Seconds, over the last measurements (a sliding window per worker and type)."""

    p50: float | None
    p99: float | None
    max: float | None
    samples: int


class TypeHealth(TypedDict):
    """One message type ("ticker", "trade", "orderbook", "candle.1m", "myOrder", ...)."""

    messages: int
    """Messages routed to subscribers."""
    bytes: int
    drops: int
    callback_errors: int
    last_message_age_s: float | None
    """Seconds since the last one was received (wall clock)."""
    receipt_to_callback: Latency
    """From the socket read that brought a message to its callback's start."""
    exchange_to_receipt: Latency
    """From the exchange's ``timestamp`` on a message to its receipt (includes the clocks' offset)."""


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


class BackendHealth(TypedDict):
    """The shared rate-limit backend as this process sees it (``health()["rate_limit_backend"]``)."""

    url: str
    """Where it is, with any password masked."""
    state: str
    """"up", or "down": limits are counted in this process until it answers again."""
    down_since: float | None
    """Epoch seconds the current outage began; None while up."""
    outages: int
    """Outages since this process first used it."""
    last_error: str
    """What the last failure was ("" if none)."""


class FeedHealth(TypedDict):
    """A Redis Streams feed read in place of Upbit's sockets (``health()["feed"]``)."""

    url: str
    prefix: str
    group: str | None
    consumer: str | None
    connected: bool
    streams: list[str]
    """The type streams read."""
    last_id: dict[str, str]
    """The id of the last entry read, per type."""
    lag_s: float | None
    """From the publisher's receipt of the last message read to its reading here."""
    messages: int
    pending: int
    """Entries read and not yet acknowledged (a group): at most these are delivered again after a kill."""
    acked: int
    redelivered: int
    """Entries read again after a restart (read before it, never acknowledged)."""
    lost: int
    """Entries trimmed away (MAXLEN) or lost with Redis before they were read, as told by DataLoss."""
    outages: int
    last_error: str


class Health(TypedDict):
    """What :meth:`WebSocketManager.health` returns."""

    healthy: bool
    """Running, and every connection that is needed is open and not stale."""
    running: bool
    connections: dict[str, ConnectionHealth]
    types: dict[str, TypeHealth]
    dispatcher: DispatcherHealth
    subscriptions: int
    """Active subscriptions of all clients."""
    rate_limit_backend: BackendHealth | None
    """The shared rate-limit backend (``Config.rate_limit_backend``), None when limits are kept in
    memory. While it is down the limits are counted in this process alone; ``healthy`` does not
    change for it (the connections work on), but the report says so."""
    internal_errors: dict[str, int]
    """Unexpected errors (bugs) each SDK thread's loop met and survived, by thread name; each also
    went to ``on_error`` as an InternalError and to the log with its traceback."""
    feed: FeedHealth | None
    """The feed a manager made with ``feed=`` reads (then ``connections`` holds it alone, as "feed")."""


__all__ = ["BackendHealth", "ConnectionHealth", "DispatcherHealth", "FeedHealth", "Health", "Latency",
           "TypeHealth"]
