"""The latency windows a dispatcher worker keeps per message type (``health()["types"]``).

Receipt -> callback start, and exchange -> receipt: a worker notes a sampled message as it starts
its callback (dispatch.SAMPLE_EVERY), and ``metrics`` reads the windows when a report is asked for.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Hashable
from typing import Any

WINDOW = 2048  # the measurements kept per worker and type


class Ring:
    """The last ``size`` values of a measurement (a sliding window by count), for percentiles."""

    __slots__ = ("_i", "count", "values")

    def __init__(self, size: int = WINDOW) -> None:
        self.values = array("d", bytes(8 * size))  # not a list: nothing for the garbage collector to walk
        self._i = 0
        self.count = 0  # values ever added

    def add(self, value: float) -> None:
        self.values[self._i] = value
        self._i = (self._i + 1) % len(self.values)
        self.count += 1

    def window(self) -> list[float]:
        return self.values[:self.count].tolist() if self.count < len(self.values) else self.values.tolist()


class Latencies:
    """One worker's latency windows per message type: receipt -> callback start, and exchange ->
    receipt (from the message's own ``timestamp``). Written by the worker alone."""

    __slots__ = ("by_type",)

    def __init__(self) -> None:
        self.by_type: dict[str, tuple[Ring, Ring]] = {}

    def note(self, key: Hashable, payload: Any) -> None:
        if type(payload) is dict:
            received = payload.get("received_at")
            sent = payload.get("tms") or payload.get("timestamp")
        else:  # a typed message
            received = payload.received_at
            sent = getattr(payload, "timestamp", None)
        if not received:
            return
        now = time.time()
        kind = key[0] if type(key) is tuple else ""
        rings = self.by_type.get(kind)
        if rings is None:
            rings = self.by_type[kind] = (Ring(), Ring())
        rings[0].add(now - received)
        if type(sent) is int:
            rings[1].add(received - sent / 1000)


__all__ = ["WINDOW", "Latencies", "Ring"]
