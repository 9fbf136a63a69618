"""Dispatcher: bounded queues and a worker pool that keep per-key order (DESIGN.md §2).

A message's key, ``(type, code)``, picks its worker by hash, so one market's messages are handled in
arrival order while different markets run in parallel. Each worker owns one bounded queue; what
happens when it is full is the subscription's overflow policy, and every drop is counted and reported
to the subscriber as a ``DataLoss`` event, so loss is never silent.

The hot path uses plain locks (C-level) rather than ``threading.Condition`` (Python-level): a socket
thread pays for ``submit`` on every message. A sleeping worker is woken by releasing a lock it waits on.
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
# A deferred batch never grows beyond this (or a quarter of the queue) before the worker is woken:
# big batches mean few GIL hand-offs between the socket thread and the workers during a burst.
_UNSIGNALED_LIMIT = 1024

# A queued entry is a 3-tuple, the cheapest container to make: ``(target, key, payload)`` for a
# message; ``(None, function, argument)`` for a control entry (an event), which is never dropped and
# does not count against the bound. A conflated message's payload lives in ``_Worker.conflated`` (so
# a newer one can replace it in place) and its entry holds ``_CONFLATED``.
_CONFLATED = object()


class Target(Protocol):
    """What a queued message is for: a subscription, as the dispatcher sees it."""

    overflow: str

    def deliver(self, payload: Any) -> None: ...

    def report_loss(self, key: Hashable, dropped: int) -> None: ...

    def report_error(self, error: BaseException) -> None: ...


class _Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.lock = threading.Lock()
        self.wake = threading.Lock()  # held while nobody has woken the worker
        self.wake.acquire()
        self.sleeping = False
        self.unsignaled = 0  # entries queued while asleep without waking it (Dispatcher.flush)
        self.queue: deque[tuple[Any, Any, Any]] = deque()
        self.messages = 0  # entries in the queue that are messages (control entries are not)
        self.conflated: dict[tuple[int, Hashable], Any] = {}  # (id(target), key) -> newest payload
        self.losses: dict[tuple[Any, Hashable], int] = {}
        self.loss_reported_at: dict[tuple[Any, Hashable], float] = {}
        self.high_water = 0
        # counted per worker: += on a shared attribute from several threads can lose updates
        self.delivered = 0
        self.dropped = 0
        self.dropped_by: dict[str, int] = {}  # connection name -> drops (a target's ``connection``)
        self.errors = 0
        self.thread: threading.Thread | None = None

    def signal(self) -> None:
        """Wake the worker if it sleeps; call with ``lock`` held."""
        self.unsignaled = 0
        if self.sleeping:
            self.sleeping = False
            self.wake.release()


class Dispatcher:
    """N workers, each with a bounded queue; thread-safe ``submit``; ``stop`` drains or discards."""

    def __init__(self, workers: int = 4, queue_size: int = 10_000, block_timeout: float = 1.0,
                 name: str = "upbit-worker") -> None:
        self.queue_size = queue_size
        self.block_timeout = block_timeout
        self._wake_after = min(_UNSIGNALED_LIMIT, max(1, queue_size // 4))
        # True once submit(signal=False) left a sleeping worker asleep: a hint, read per frame,
        # that flush() has work to do (it is cleared by flush, which looks at every worker)
        self.deferred = False
        self.name = name
        self._workers = [_Worker(i) for i in range(workers)]
        self._stopping = False
        self._discard = False
        self._lock = threading.Lock()
        self._external_drops: dict[str, int] = {}  # connection -> losses after the queues (streams)

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
        self._wake_all()
        ended = True
        for w in self._workers:
            thread = w.thread
            if thread is None or thread is threading.current_thread():
                continue
            thread.join(max(0.0, deadline - time.monotonic()))
            ended = ended and not thread.is_alive()
        if not ended:  # out of time: whatever is left is discarded
            self._discard = True
            self._wake_all()
            for w in self._workers:
                if w.thread is not None and w.thread is not threading.current_thread():
                    w.thread.join(0.2)
            log.warning("dispatcher stopped before its queues drained")
        return ended

    def _wake_all(self) -> None:
        for w in self._workers:
            with w.lock:
                w.signal()

    # ---- submitting (socket threads) ----------------------------------------------------------------

    def submit(self, target: Target, key: Hashable, payload: Any, signal: bool = True) -> None:
        """Queue one message for ``target``; never blocks longer than ``block_timeout``.

        ``signal=False`` leaves a sleeping worker asleep until :meth:`flush`: a socket thread with
        more frames waiting queues a batch first, rather than hand the GIL to a worker for each one.
        """
        w = self._workers[hash(key) % len(self._workers)]
        policy = target.overflow
        with w.lock:
            if policy == "conflate":
                slot = (id(target), key)
                if slot in w.conflated:  # keep the newest: replace in place, order unchanged
                    w.conflated[slot] = payload
                    self._lost(w, target, key)
                    return
            if w.messages >= self.queue_size:
                if policy == "drop_newest":
                    self._lost(w, target, key)
                    return
                if policy == "block" and not self._stopping:
                    w.signal()  # the worker must run to make room
                    w.lock.release()
                    try:
                        self._wait_for_room(w)
                    finally:
                        w.lock.acquire()
                if w.messages >= self.queue_size:
                    self._drop_oldest(w)
            if policy == "conflate":
                w.conflated[(id(target), key)] = payload
                w.queue.append((target, key, _CONFLATED))
            else:
                w.queue.append((target, key, payload))
            w.messages += 1
            if w.messages > w.high_water:
                w.high_water = w.messages
            if w.sleeping:
                if signal or w.unsignaled >= self._wake_after:
                    w.signal()
                else:
                    w.unsignaled += 1
                    self.deferred = True

    def _wait_for_room(self, w: _Worker) -> None:
        deadline = time.monotonic() + self.block_timeout
        while w.messages >= self.queue_size and not self._stopping:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.0005)  # "block" is the rare policy: a short poll keeps the hot path lean

    def flush(self) -> None:
        """Wake every worker that has entries queued with ``signal=False``."""
        self.deferred = False
        for w in self._workers:
            if w.unsignaled:
                with w.lock:
                    w.signal()

    def call(self, key: Hashable, fn: Callable[[Any], None], payload: Any) -> None:
        """Run ``fn(payload)`` on the worker that owns ``key``, after what is queued there."""
        w = self._workers[hash(key) % len(self._workers)]
        with w.lock:
            w.queue.append((None, fn, payload))
            w.signal()

    def _drop_oldest(self, w: _Worker) -> None:
        for i, (target, key, payload) in enumerate(w.queue):
            if target is not None:  # never a control entry
                del w.queue[i]
                w.messages -= 1
                if payload is _CONFLATED:
                    w.conflated.pop((id(target), key), None)
                self._lost(w, target, key)
                return

    @staticmethod
    def _lost(w: _Worker, target: Target, key: Hashable) -> None:
        # called with w.lock held
        w.dropped += 1
        name = getattr(target, "connection", "")
        w.dropped_by[name] = w.dropped_by.get(name, 0) + 1
        loss_key = (target, key)
        w.losses[loss_key] = w.losses.get(loss_key, 0) + 1

    # ---- workers ------------------------------------------------------------------------------------

    def _run(self, w: _Worker) -> None:
        while True:
            with w.lock:
                if self._discard:
                    w.queue.clear()
                    w.conflated.clear()
                    w.messages = 0
                    return
                # Take the whole queue in O(1): the lock is held for a moment only, so the socket
                # thread's submit is never kept waiting (a contended lock costs it the GIL).
                batch, conflated = w.queue, w.conflated
                n = len(batch)
                if n:
                    w.queue = deque()
                    w.messages = 0
                    if conflated:
                        w.conflated = {}
                elif not self._stopping:
                    w.sleeping = True
                losses = self._due_losses(w, force=self._stopping and not n) if w.losses else []
                sleeping = w.sleeping
            for target, key, dropped in losses:
                self._safe(target.report_loss, key, dropped)
            if n:
                self._process(w, batch, conflated)
            elif sleeping:
                # woken by signal(); with losses still to report, look again a little later
                woken = w.wake.acquire(timeout=DATA_LOSS_INTERVAL / 4 if w.losses else -1)
                if not woken:
                    with w.lock:
                        if w.sleeping:
                            w.sleeping = False
                        else:  # signalled just after the timeout: take the release back
                            w.wake.acquire()
            else:  # stopping and nothing left
                return

    def _process(self, w: _Worker, batch: deque[tuple[Any, Any, Any]],
                 conflated: dict[tuple[int, Hashable], Any]) -> None:
        for target, key, payload in batch:
            if self._discard:
                return
            if target is None:  # a control entry: key is the function
                self._safe(key, payload)
                continue
            if payload is _CONFLATED:
                payload = conflated.pop((id(target), key))
            try:
                target.deliver(payload)
                w.delivered += 1
            except Exception as exc:
                w.errors += 1
                self._safe(target.report_error, exc)

    def _due_losses(self, w: _Worker, force: bool = False) -> list[tuple[Any, Hashable, int]]:
        now = time.monotonic()
        due = []
        for loss_key, count in list(w.losses.items()):
            if force or now - w.loss_reported_at.get(loss_key, 0.0) >= DATA_LOSS_INTERVAL:
                del w.losses[loss_key]
                w.loss_reported_at[loss_key] = now
                due.append((loss_key[0], loss_key[1], count))
        return due

    @staticmethod
    def _safe(fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("error while reporting to a subscriber")

    def count_drops(self, n: int, connection: str = "") -> None:
        """Count messages lost after delivery left the queues (e.g. a stream nobody reads)."""
        with self._lock:
            self._external_drops[connection] = self._external_drops.get(connection, 0) + n

    # ---- figures ------------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        depths = [w.messages for w in self._workers]
        return {
            "workers": len(self._workers),
            "queue_size": self.queue_size,
            "queue_depth": sum(depths),
            "queue_depths": depths,
            "queue_high_water": max(w.high_water for w in self._workers),
            "delivered": sum(w.delivered for w in self._workers),
            "drops": sum(w.dropped for w in self._workers) + sum(self._external_drops.values()),
            "callback_errors": sum(w.errors for w in self._workers),
        }

    def by_connection(self) -> dict[str, dict[str, int]]:
        """Queue depth and drops per connection (the ``connection`` of each message's target). The
        queues belong to workers, so depth is counted entry by entry: meant for health reports."""
        figures: dict[str, dict[str, int]] = {}

        def add(name: str, field: str, n: int) -> None:
            entry = figures.setdefault(name, {"queue_depth": 0, "drops": 0})
            entry[field] += n

        for w in self._workers:
            with w.lock:  # a copy, so the socket thread waits only for that
                targets = [target for target, _, _ in w.queue]
                dropped = list(w.dropped_by.items())
            for target in targets:
                if target is not None:  # not a control entry
                    add(getattr(target, "connection", ""), "queue_depth", 1)
            for name, n in dropped:
                add(name, "drops", n)
        with self._lock:
            external = list(self._external_drops.items())
        for name, n in external:
            add(name, "drops", n)
        return figures


__all__ = ["OVERFLOW_POLICIES", "Dispatcher", "Target"]
