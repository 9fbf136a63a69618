"""Lifecycle events, delivered to ``on_event`` and to ``stream(events=True)``: frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    """Base of the lifecycle events delivered to ``on_event`` and to ``stream(events=True)``."""

    connection: str


@dataclass(frozen=True, slots=True)
class Connected(Event):
    """A connection is open (and its subscriptions were sent)."""

    url: str
    """Where, with any password in it masked."""


@dataclass(frozen=True, slots=True)
class Disconnected(Event):
    """A connection ended without being asked to; recovery has been scheduled."""

    code: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Reconnected(Event):
    """A connection is back with its subscriptions restored.

    Snapshots heal ticker and orderbook state; trades during ``downtime_s`` are gone.
    """

    downtime_s: float
    trades_may_be_missing: bool = True


@dataclass(frozen=True, slots=True)
class DataLoss(Event):
    """Messages were lost for one key: ``dropped`` since the last such event, to a full queue
    (``policy`` is the overflow policy), or trades a backfill could not recover (``policy``
    "backfill"; ``reason`` says why, and ``dropped`` counts those known, 0 when none could be)."""

    type: str
    code: str | None
    dropped: int
    policy: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ServerError(Event):
    """The server sent an error frame."""

    name: str
    message: str


@dataclass(frozen=True, slots=True)
class MarketChange(Event):
    """A change of ``quote``'s listing found by ``subscribe_markets(follow=True)`` for ``type`` (one
    event per follow); ``at`` is when the re-read found it (epoch seconds)."""

    type: str
    market: str
    quote: str
    korean_name: str | None
    english_name: str | None
    at: float


@dataclass(frozen=True, slots=True)
class MarketListed(MarketChange):
    """``market`` newly listed in ``quote``, and subscribed for ``type``. ``connection`` carries it."""


@dataclass(frozen=True, slots=True)
class MarketDelisted(MarketChange):
    """``market`` gone from ``quote``'s listing, and dropped from ``type``'s subscription; the names
    are those it was last listed under."""
