"""Rate limits for connects, request messages and REST groups (docs/upbit.md §5).

Each limit is a pyrate-limiter sliding-window log bucket used directly, without a ``Limiter``: a Limiter
starts a "Leaker" thread that outlives ``close()`` by up to 10 s, and nothing here needs it. Callers ask
how long to wait and do the waiting themselves, on an event they can interrupt.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from pyrate_limiter import Decision, InMemoryBucket, Rate, RateItem

# Our clock and the server's are not the same, and a frame spends time in flight: windows are
# stretched by this factor so a burst we allow is never seen by the server as one too many.
WINDOW_MARGIN = 1.1


class RateGate:
    """One named limit, e.g. 5 per second and 100 per minute; thread-safe."""

    def __init__(self, name: str, limits: Sequence[tuple[int, float]]) -> None:
        """``limits``: ``(count, seconds)`` pairs, all of which must hold."""
        self.name = name
        self.limits = tuple(limits)
        rates = [Rate(count, int(seconds * 1000 * WINDOW_MARGIN)) for count, seconds in limits]
        self._bucket = InMemoryBucket(rates)
        self._lock = threading.Lock()
        self.waits = 0  # times a caller was told to wait

    def __repr__(self) -> str:
        limits = ", ".join(f"{n}/{s:g}s" for n, s in self.limits)
        return f"RateGate({self.name!r}, {limits})"

    def try_acquire(self) -> float:
        """Take a permit and return 0.0, or take nothing and return the seconds to wait."""
        with self._lock:
            now_ms = int(time.monotonic() * 1000)
            self._bucket.leak(now_ms)  # no Leaker thread: trim the log here
            decision = self._bucket.put_decision(RateItem(self.name, now_ms))
            assert isinstance(decision, Decision)  # an in-memory bucket decides synchronously
            if decision.allowed:
                return 0.0
            self.waits += 1
            retry_ms = decision.retry_after_ms
            return max(retry_ms if retry_ms is not None else 50, 1) / 1000

    def acquire(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Wait up to ``timeout`` seconds for a permit; False on timeout or when ``stop`` is set."""
        deadline = time.monotonic() + timeout
        while True:
            wait = self.try_acquire()
            if wait == 0.0:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if stop is not None:
                if stop.wait(min(wait, remaining)):
                    return False
            else:
                time.sleep(min(wait, remaining))


def connect_gate(per_second: int = 5) -> RateGate:
    """Upbit's websocket-connect limit: shared by every connection of one manager."""
    return RateGate("websocket-connect", [(per_second, 1.0)])


def message_gate(per_second: int = 5, per_minute: int = 100) -> RateGate:
    """Upbit's websocket-message limit: one per connection; LIST_SUBSCRIPTIONS counts too."""
    return RateGate("websocket-message", [(per_second, 1.0), (per_minute, 60.0)])
