"""The server's frames that are not data: its heartbeat, an error, a LIST_SUBSCRIPTIONS reply."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Status:
    """The server's heartbeat, ``{"status": "UP"}``."""

    status: str


@dataclass(frozen=True, slots=True)
class ErrorMessage:
    """An error frame from the server, e.g. ``WRONG_FORMAT``; the server closes the socket after it."""

    name: str
    message: str


@dataclass(frozen=True, slots=True)
class ListedSubscription:
    """One entry of a LIST_SUBSCRIPTIONS reply."""

    type: str
    codes: tuple[str, ...]
    level: float | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionList:
    """The server's answer to LIST_SUBSCRIPTIONS: what this connection carries."""

    ticket: str | None
    result: tuple[ListedSubscription, ...]
