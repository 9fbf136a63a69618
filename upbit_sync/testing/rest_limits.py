"""The REST side's admission: Upbit's per-group rate limits with ``Remaining-Req``, the 429 and the
growing 418 block (docs/upbit.md §5), the Origin rule shared with the WebSocket side, and the answers
``refuse_rest_next`` queues. The rules the fake chose are listed on ``FakeRest``."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus

from .state import ExchangeState

QUOTATION_GROUPS = frozenset({"market", "candle", "trade", "ticker", "orderbook"})
UNLIMITED_SEC = 999  # Remaining-Req's sec for a group missing from rest_limits
_PREFIX_GROUPS = (("/v1/market", "market"), ("/v1/candles", "candle"), ("/v1/trades", "trade"),
                  ("/v1/ticker", "ticker"), ("/v1/orderbook", "orderbook"))


def group_of(method: str, path: str) -> str:
    """The group of a path no endpoint serves: by its prefix, else ``default``."""
    return next((group for prefix, group in _PREFIX_GROUPS if path.startswith(prefix)), "default")


@dataclass
class _Bucket:
    """One group's count for one client (an IP, or an access key for exchange groups)."""

    times: deque[float] = field(default_factory=deque)  # admitted requests in the window
    strikes: deque[float] = field(default_factory=deque)  # 429s in the teapot window
    blocked_until: float = 0.0
    blocks: int = 0


@dataclass(frozen=True)
class Refusal:
    """A request refused before its endpoint ran: the status, Upbit's error, and Retry-After."""

    status: int
    name: str | int
    message: str
    retry_after: float | None = None


class RestLimits:
    """Counts and refuses REST requests by group and client; thread-safe."""

    def __init__(self, state: ExchangeState) -> None:
        self._state = state
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._refusals: list[tuple[int, str | None]] = []

    def refuse_next(self, n: int, status: int = 429, group: str | None = None) -> None:
        with self._lock:
            self._refusals.extend([(status, group)] * n)

    def clear_refusals(self) -> int:
        with self._lock:
            left = len(self._refusals)
            self._refusals.clear()
            return left

    def admit(self, group: str, scope: str, now: float, origin: bool) -> tuple[Refusal | None, int, int]:
        """``(refusal or None, sec, min)`` for Remaining-Req; counts the request when admitted."""
        state = self._state
        limit = state.rest_limits.get(group)
        per_minute = round(limit[0] * 60 / limit[1]) if limit else UNLIMITED_SEC * 60
        with self._lock:
            bucket = self._buckets.setdefault((group, scope), _Bucket())
            if limit is not None:
                while bucket.times and bucket.times[0] <= now - limit[1]:
                    bucket.times.popleft()
            left = limit[0] - len(bucket.times) if limit else UNLIMITED_SEC
            for i, (status, only) in enumerate(self._refusals):
                if only is None or only == group:
                    del self._refusals[i]
                    return self._refusal(status, group, state.teapot_seconds), max(0, left), per_minute
            if now < bucket.blocked_until:
                return self._teapot(bucket.blocked_until - now), 0, per_minute
            if origin and not state.admit_origin(now):
                return Refusal(429, "too_many_requests", "Too many API requests."), max(0, left), per_minute
            if limit is not None and left <= 0:
                self._strike(bucket, now)
                return Refusal(429, "too_many_requests", "Too many API requests."), 0, per_minute
            bucket.times.append(now)
            return None, max(0, left - 1), per_minute

    def _strike(self, bucket: _Bucket, now: float) -> None:
        """Count a 429; the ``teapot_after``-th within ``teapot_window`` starts a block."""
        state = self._state
        strikes = bucket.strikes
        strikes.append(now)
        while strikes and strikes[0] <= now - state.teapot_window:
            strikes.popleft()
        after = state.teapot_after
        if after and len(strikes) >= after:
            strikes.clear()
            bucket.blocks += 1
            bucket.blocked_until = now + state.teapot_seconds * 2 ** (bucket.blocks - 1)

    def _teapot(self, seconds: float) -> Refusal:
        shown = f"{max(seconds, 0.1):.1f}".rstrip("0").rstrip(".")
        return Refusal(418, "too_many_requests",
                       f"Too many API requests: blocked for {shown} seconds.",
                       seconds if self._state.teapot_retry_after else None)

    def _refusal(self, status: int, group: str, teapot_seconds: float) -> Refusal:
        """The answer ``refuse_rest_next`` gives: ``status`` with the body Upbit would send."""
        if status == 429:
            return Refusal(429, "too_many_requests", "Too many API requests.")
        if status == 418:
            return self._teapot(teapot_seconds)
        if status == 401:
            return Refusal(401, "jwt_verification", "refused by refuse_rest_next")
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        name: str | int = status if group in QUOTATION_GROUPS else phrase.lower().replace(" ", "_")
        return Refusal(status, name, phrase)
