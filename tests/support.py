"""Shared test helpers: waiting on conditions with a deadline, and a recording manager listener."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from upbit_sync.types import Event


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.005) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes; return its last truth."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return bool(predicate())
        time.sleep(interval)


def upbit_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("upbit-") and t.is_alive()]


class EventLog:
    """Records lifecycle events and errors under a condition that a test can wait on."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.events: list[Event] = []
        self.errors: list[BaseException] = []

    def on_event(self, event: Event) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def on_error(self, error: BaseException) -> None:
        with self.cond:
            self.errors.append(error)
            self.cond.notify_all()

    def wait(self, predicate: Callable[[], Any], timeout: float = 5.0) -> bool:
        with self.cond:
            return bool(self.cond.wait_for(predicate, timeout))

    def events_of(self, kind: type) -> list[Any]:
        with self.cond:
            return [e for e in self.events if isinstance(e, kind)]


class Recorder(EventLog):
    """Records what a manager reports (a router.Listener), and lets a test wait for it."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[str, dict[str, Any]]] = []

    def on_messages(self, connection: str, items: list[dict[str, Any]]) -> None:
        with self.cond:
            self.items.extend((connection, item) for item in items)
            self.cond.notify_all()

    def count(self, **match: Any) -> int:
        with self.cond:
            return sum(1 for _, item in self.items if all(item.get(k) == v for k, v in match.items()))
