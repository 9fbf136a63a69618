"""Dispatcher: bounded queues and a worker pool that keep per-key order (DESIGN.md §2).

A message's key, ``(type, code)``, picks its worker by hash, so one market's messages are handled in
arrival order while different markets run in parallel. Each worker owns one bounded queue; what
happens when it is full is the subscription's overflow policy, and every drop is counted and reported
to the subscriber as a ``DataLoss`` event, so loss is never silent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any, Protocol

from .config import OVERFLOW_POLICIES

log = logging.getLogger(__name__)

DATA_LOSS_INTERVAL = 1.0  # at most one DataLoss event per subscriber and key per this many seconds
_BATCH = 64  # entries a worker takes per lock acquisition


class Target(Protocol):
    """What a queued message is for: a subscription, as the dispatcher sees it."""

    overflow: str

    def deliver(self, payload: Any) -> None: ...

    def report_loss(self, key: Hashable, dropped: int) -> None: ...

    def report_error(self, error: BaseException) -> None: ...


class _Entry:
    __slots__ = ("key", "payload", "run", "target")

    def __init__(self, target: Target | None, key: Hashable, payload: Any,
                 run: Callable[[Any], None] | None = None) -> None:
        self.target = target
        self.key = key
        self.payload = payload
        self.run = run  # set for control entries (events); None for messages


class _Worker:
    def __init__(self, index: int, dispatcher: Dispatcher) -> None:
        self.index = index
        self.dispatcher = dispatcher
        self.queue: deque[_Entry] = deque()
        self.cond = threading.Condition(threading.Lock())
        self.conflated: dict[tuple[int, Hashable], _Entry] = {}
        self.losses: dict[tuple[Target, Hashable], int] = {}
        self.loss_reported_at: dict[tuple[Target, Hashable], float] = {}
        self.blocked = 0  # socket threads waiting for room (policy "block")
        self.high_water = 0
        # counted per worker: += on a shared attribute from several threads can lose updates
        self.delivered = 0
        self.dropped = 0
        self.errors = 0
        self.thread: threading.Thread | None = None


class Dispatcher:
    """N workers, each with a bounded queue; thread-safe ``submit``; ``stop`` drains or discards."""

    def __init__(self, workers: int = 4, queue_size: int = 10_000, block_timeout: float = 1.0,
                 name: str = "upbit-worker") -> None:
        self.queue_size = queue_size
        self.block_timeout = block_timeout
        self.name = name
        self._workers = [_Worker(i, self) for i in range(workers)]
        self._stopping = False
        self._discard = False
        self._lock = threading.Lock()

    # ---- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if any(w.thread is not None and w.thread.is_alive() for w in self._workers):
                return
            self._stopping = self._discard = False
            for w in self._workers:
                w.thread = threading.Thread(target=self._run, args=(w,),
                                            name=f"{self.name}-{w.index}", daemon=True)
                w.thread.start()

    def stop(self, timeout: float = 2.0, drain: bool = True) -> bool:
        """Stop the workers: deliver what is queued first (``drain``) or discard it; join them all
        within ``timeout``. True if every worker ended."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._stopping = True
            self._discard = not drain
        for w in self._workers:
            with w.cond:
                w.cond.notify_all()
        ended = True
        for w in self._workers:
            thread = w.thread
            if thread is None or thread is threading.current_thread():
                continue
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                ended = False
        if not ended:  # out of time: whatever is left is discarded
            self._discard = True
            for w in self._workers:
                with w.cond:
                    w.cond.notify_all()
            for w in self._workers:
                if w.thread is not None and w.thread is not threading.current_thread():
                    w.thread.join(0.2)
            log.warning("dispatcher stopped before its queues drained")
        return ended

    # ---- submitting (socket threads) ----------------------------------------------------------------

    def worker_for(self, key: Hashable) -> int:
        return hash(key) % len(self._workers)

    def submit(self, target: Target, key: Hashable, payload: Any) -> None:
        """Queue one message for ``target``; never blocks longer than ``block_timeout``."""
        w = self._workers[hash(key) % len(self._workers)]
        policy = target.overflow
        with w.cond:
            if policy == "conflate":
                pending = w.conflated.get((id(target), key))
                if pending is not None:  # keep the newest: replace in place, order unchanged
                    pending.payload = payload
                    self._lost(w, target, key)
                    return
            if len(w.queue) >= self.queue_size:
                if policy == "drop_newest":
                    self._lost(w, target, key)
                    return
                if policy == "block" and not self._stopping:
                    w.blocked += 1
                    try:
                        w.cond.wait_for(lambda: len(w.queue) < self.queue_size, self.block_timeout)
                    finally:
                        w.blocked -= 1
                if len(w.queue) >= self.queue_size:
                    self._drop_oldest(w)
            entry = _Entry(target, key, payload)
            w.queue.append(entry)
            if policy == "conflate":
                w.conflated[(id(target), key)] = entry
            if len(w.queue) > w.high_water:
                w.high_water = len(w.queue)
            w.cond.notify()

    def call(self, key: Hashable, fn: Callable[[Any], None], payload: Any) -> None:
        """Run ``fn(payload)`` on the worker that owns ``key``, after what is queued there; control
        entries (events) are never dropped or counted against the queue's bound."""
        w = self._workers[hash(key) % len(self._workers)]
        with w.cond:
            w.queue.append(_Entry(None, key, payload, fn))
            w.cond.notify()

    def _drop_oldest(self, w: _Worker) -> None:
        for i, old in enumerate(w.queue):
            if old.run is None:  # never drop a control entry
                del w.queue[i]
                if old.target is not None:
                    if old.target.overflow == "conflate":
                        w.conflated.pop((id(old.target), old.key), None)
                    self._lost(w, old.target, old.key)
                return

    def _lost(self, w: _Worker, target: Target, key: Hashable) -> None:
        # called with w.cond held
        w.dropped += 1
        loss_key = (target, key)
        w.losses[loss_key] = w.losses.get(loss_key, 0) + 1

    # ---- workers ------------------------------------------------------------------------------------

    def _run(self, w: _Worker) -> None:
        batch: list[_Entry] = []
        while True:
            with w.cond:
                while not w.queue and not self._stopping:
                    if w.losses:
                        w.cond.wait(DATA_LOSS_INTERVAL / 4)
                        break
                    w.cond.wait()
                if self._discard:
                    w.queue.clear()
                    w.conflated.clear()
                    return
                if not w.queue and self._stopping:
                    losses = self._due_losses(w, force=True)
                else:
                    n = min(_BATCH, len(w.queue))
                    popleft = w.queue.popleft
                    batch = [popleft() for _ in range(n)]
                    if w.conflated:
                        for e in batch:
                            if e.target is not None and e.target.overflow == "conflate":
                                w.conflated.pop((id(e.target), e.key), None)
                    if w.blocked:
                        w.cond.notify_all()
                    losses = self._due_losses(w) if w.losses else []
            for target, key, dropped in losses:
                self._safe(target.report_loss, key, dropped)
            if not batch:
                if self._stopping and not w.queue:
                    return
                continue
            for e in batch:
                if e.run is not None:
                    self._safe_run(e.run, e.payload)
                else:
                    self._deliver(w, e)
            batch = []

    def _due_losses(self, w: _Worker, force: bool = False) -> list[tuple[Target, Hashable, int]]:
        now = time.monotonic()
        due = []
        for loss_key, count in list(w.losses.items()):
            if force or now - w.loss_reported_at.get(loss_key, 0.0) >= DATA_LOSS_INTERVAL:
                del w.losses[loss_key]
                w.loss_reported_at[loss_key] = now
                due.append((loss_key[0], loss_key[1], count))
        return due

    def _deliver(self, w: _Worker, e: _Entry) -> None:
        target = e.target
        assert target is not None
        try:
            target.deliver(e.payload)
            w.delivered += 1
        except Exception as exc:
            w.errors += 1
            self._safe(target.report_error, exc)

    @staticmethod
    def _safe(fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("error while reporting to a subscriber")

    def _safe_run(self, fn: Callable[[Any], None], payload: Any) -> None:
        try:
            fn(payload)
        except Exception:
            log.exception("error in an event handler")

    # ---- figures ------------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        depths = [len(w.queue) for w in self._workers]
        return {
            "workers": len(self._workers),
            "queue_size": self.queue_size,
            "queue_depth": sum(depths),
            "queue_depths": depths,
            "queue_high_water": max(w.high_water for w in self._workers),
            "delivered": sum(w.delivered for w in self._workers),
            "drops": sum(w.dropped for w in self._workers),
            "callback_errors": sum(w.errors for w in self._workers),
        }


__all__ = ["OVERFLOW_POLICIES", "Dispatcher", "Target"]
