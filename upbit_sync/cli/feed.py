"""What a command hears from the SDK, whose threads speak while the main thread runs the command: the
messages (:class:`Inbox`), the events and errors (:class:`Watch`), and how long the main loop waits
for them."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import AuthenticationError, ConnectError, RateLimitError, UpbitError
from ..types import Connected, DataLoss, Disconnected, Event, Reconnected
from .failure import Failure
from .text import describe

TICK = 0.1  # how often a command's main loop looks at its deadline, its errors and its output


class Watch:
    """The SDK's events and errors, as a command sees them (they arrive on the SDK's threads).

    Each becomes a line for the main thread to show; gaps (Reconnected, DataLoss) also go to
    ``on_gap``. Two errors end the command instead of being retried for ever: the exchange refusing
    the keys, and the first connection failing before any has succeeded (a wrong URL, no network).
    """

    def __init__(self, on_gap: Callable[[Reconnected | DataLoss], None] | None = None) -> None:
        self.connected = threading.Event()
        self.fatal: UpbitError | None = None
        self._lines: queue.Queue[str] = queue.Queue()
        self._on_gap = on_gap

    def on_event(self, event: Event) -> None:
        if isinstance(event, Connected):
            self.connected.set()  # the SDK logs it at INFO (-v)
            return
        if isinstance(event, Disconnected) and not self.connected.is_set():
            return  # no connection yet: the error that follows says why, in one line
        if self._on_gap is not None and isinstance(event, (Reconnected, DataLoss)):
            self._on_gap(event)
        self._lines.put(describe(event))

    def on_error(self, error: BaseException) -> None:
        if isinstance(error, AuthenticationError) or (
                isinstance(error, (ConnectError, RateLimitError)) and not self.connected.is_set()):
            if self.fatal is None:
                self.fatal = error
            self._lines.put("")  # wakes a main loop waiting for lines
            return
        self._lines.put(f"error: {error}")

    def check(self) -> None:
        """Raise the failure that ends the command, if one came."""
        if self.fatal is not None:
            if isinstance(self.fatal, AuthenticationError):
                raise Failure(f"the exchange refused the API keys: {self.fatal}")
            raise Failure(str(self.fatal))

    def lines(self, timeout: float = 0.0) -> list[str]:
        """The lines so far, waiting up to ``timeout`` for the first one."""
        out: list[str] = []
        try:
            out.append(self._lines.get(timeout=timeout) if timeout > 0 else self._lines.get_nowait())
            while True:
                out.append(self._lines.get_nowait())
        except queue.Empty:
            pass
        return [line for line in out if line]


class Inbox:
    """Messages handed from the SDK's workers to the main thread. Bounded: when the main thread falls
    behind (a slow pipe), the workers wait, the SDK's queues fill, and its overflow policy drops and
    says so in a DataLoss, rather than this process growing without end."""

    def __init__(self, size: int = 10_000) -> None:
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(size)
        self._closed = threading.Event()

    def put(self, message: dict[str, Any]) -> None:
        while not self._closed.is_set():
            try:
                self._queue.put(message, timeout=0.25)
                return
            except queue.Full:
                continue

    def take(self, timeout: float, limit: int = 1_000) -> list[dict[str, Any]]:
        """Up to ``limit`` messages, waiting up to ``timeout`` for the first."""
        try:
            out = [self._queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        while len(out) < limit:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return out

    def close(self) -> None:
        """Let go of any worker waiting to hand over a message: the main thread reads no more."""
        self._closed.set()


def deadline(seconds: float | None) -> float | None:
    """When ``--seconds`` run out (a monotonic time), or None for never."""
    return None if seconds is None else time.monotonic() + seconds


def left(deadline: float | None) -> float:
    """How long the main loop may wait now: a tick, or less when the deadline is nearer."""
    return TICK if deadline is None else max(0.0, min(TICK, deadline - time.monotonic()))


def running(deadline: float | None) -> bool:
    """Whether the deadline is still ahead."""
    return deadline is None or time.monotonic() < deadline
