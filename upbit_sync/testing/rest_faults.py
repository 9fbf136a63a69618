"""The faults a test makes the fake exchange play on order calls (``FakeUpbitServer.fail_next_order``):
the call is carried out and its answer dropped, replaced by a 500 or held back; or it is refused with
a 500 before anything happens; or the order it makes stays out of sight for a while."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

MODES = ("drop", "500", "delay", "500_before", "hide")
PATHS = ("/v1/orders", "/v1/orders/cancel_and_new", "/v1/order")


class AnswerDropped(Exception):
    """The call was carried out; the HTTP connection is to be closed without an answer."""


@dataclass(frozen=True)
class Fault:
    """One fault for the next call of ``path``."""

    mode: str
    seconds: float
    path: str
    burn: bool


class OrderFaults:
    """The faults waiting for their calls, per path, first set first used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, deque[Fault]] = {}
        self.stopping = threading.Event()  # set by the server's stop(): a held answer goes at once

    def fail_next(self, mode: str, *, seconds: float, count: int, path: str, burn: bool) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if path not in PATHS:
            raise ValueError(f"path must be one of {PATHS}")
        if mode == "hide" and path == "/v1/order":
            raise ValueError("'hide' applies to calls that create an order")
        if count < 1 or seconds < 0:
            raise ValueError("count must be at least 1 and seconds at least 0")
        fault = Fault(mode, seconds, path, burn)
        with self._lock:
            self._waiting.setdefault(path, deque()).extend([fault] * count)

    def take(self, path: str) -> Fault | None:
        """The fault for this call of ``path``, if one waits (it is used up)."""
        with self._lock:
            waiting = self._waiting.get(path)
            return waiting.popleft() if waiting else None

    def hold(self, seconds: float) -> None:
        """Hold an answer back for ``seconds`` (less if the server stops meanwhile)."""
        self.stopping.wait(seconds)
