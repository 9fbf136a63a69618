"""Dispatcher: bounded queues and a worker pool that keep per-key order (docs/architecture.md §2).

A message's key, ``(type, code)``, picks its worker by hash, so one market's messages are handled in
arrival order while different markets run in parallel. Each worker owns one bounded queue; what
happens when it is full is the subscription's overflow policy, and every drop is counted and reported
to the subscriber as a ``DataLoss`` event, so loss is never silent.

The hot path uses plain locks (C-level) rather than ``threading.Condition`` (Python-level): a socket
thread pays for ``submit_many`` on every socket read. A sleeping worker is woken by releasing a lock
it waits on.
"""

from __future__ import annotations

import logging
import math
import operator
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any, Protocol

from .health import DispatcherHealth
from .latency import Latencies

log = logging.getLogger(__name__)

DATA_LOSS_INTERVAL = 1.0  # at most one DataLoss event per subscriber and key per this many seconds
# A deferred batch never grows beyond this (or a quarter of the queue) before the worker is woken:
# big batches mean few GIL hand-offs between the socket thread and the workers during a burst.
_UNSIGNALED_LIMIT = 1024

# A queued entry is a 4-tuple, the cheapest container to make: ``(target, key, payload, size)`` for a
# message, ``size`` being the bytes of the frame it came in; ``(None, function, argument, 0)`` for a
# control entry (an event), which is never dropped and does not count against the bounds. A
# conflated message's payload and size live in ``_Worker.conflated`` (so a newer one can replace it
# in place) and its entry holds ``_CONFLATED``.
_CONFLATED = object()
_SIZE = operator.itemgetter(3)  # an entry's bytes
# Latency is measured on every message of a short batch and on every SAMPLE_EVERY-th of a long one
# (over the last latency.WINDOW measurements per worker and type).
SAMPLE_EVERY = 64
# While a burst keeps input pending, deferred wake-ups are made anyway after this long: a sleeping
# worker's messages (a conflating subscriber's above all) never wait longer than this for it.
MAX_DEFER = 0.01


class LossTally:
    """Messages lost for one subscriber (and key) and not reported yet. Reported at most once per
    ``DATA_LOSS_INTERVAL``, so a flood of drops becomes a few DataLoss events, each with its count.
    Not thread-safe: its owner holds a lock around it."""

    __slots__ = ("pending", "reported_at")

    def __init__(self) -> None:
        self.pending = 0
        self.reported_at = -math.inf

    def add(self, n: int = 1) -> None:
        self.pending += n

    def take(self, now: float, force: bool = False) -> int:
        """The count to report now (and reset), or 0: nothing lost, or reported too lately."""
        if not self.pending or (not force and now - self.reported_at < DATA_LOSS_INTERVAL):
            return 0
        lost, self.pending, self.reported_at = self.pending, 0, now
        return lost

    def settled(self, now: float) -> bool:
        """Nothing pending, and the interval since the last report is over: it may be forgotten."""
        return not self.pending and now - self.reported_at >= DATA_LOSS_INTERVAL


class Target(Protocol):
    """What a queued message is for: a subscription, as the dispatcher sees it."""

    overflow: str

    def deliver(self, payload: Any) -> None: ...

    def report_loss(self, key: Hashable, dropped: int) -> None: ...

    def report_error(self, error: BaseException) -> None: ...


class _Worker:
    """One worker thread's state. The bound counts what the worker *holds*: entries queued, taken
    into its batch, or being delivered. ``in_*`` are written by submitters under ``lock``, ``out_*``
    by the worker alone (one writer each, so no update is lost); held = in - out."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.lock = threading.Lock()
        self.wake = threading.Lock()  # held while nobody has woken the worker
        self.wake.acquire()
        self.sleeping = False
        self.unsignaled = 0  # entries queued while asleep without waking it (Dispatcher.flush)
        self.queue: deque[tuple[Any, Any, Any, int]] = deque()  # not yet taken
        self.batch: deque[tuple[Any, Any, Any, int]] = deque()  # taken, popped one by one
        # (id(target), key) -> [payload, size] of the conflated entries in the queue, and in the
        # batch (changed under ``lock`` only, the worker's pops included)
        self.conflated: dict[tuple[int, Hashable], list[Any]] = {}
        self.batch_conflated: dict[tuple[int, Hashable], list[Any]] = {}
        self.in_count = self.in_bytes = 0
        self.out_count = self.out_bytes = 0
        self.losses: dict[tuple[Any, Hashable], LossTally] = {}  # (target, key) -> its tally
        self.high_water = 0
        # counted per worker: += on a shared attribute from several threads can lose updates
        self.delivered = 0
        self.dropped = 0
        self.dropped_by: dict[str, int] = {}  # connection name -> drops (a target's ``connection``)
        self.errors = 0
        self.errors_by: dict[str, int] = {}  # message type -> callback errors
        self.dropped_types: dict[str, int] = {}  # message type -> drops
        self.latency = Latencies()
        self.current: Any = None  # the target of the message being delivered (health reports)
        self.thread: threading.Thread | None = None

    @property
    def held(self) -> int:
        return self.in_count - self.out_count

    def signal(self) -> None:
        """Wake the worker if it sleeps; call with ``lock`` held."""
        self.unsignaled = 0
        if self.sleeping:
            self.sleeping = False
            self.wake.release()


class Dispatcher:
    """N workers, each holding at most ``queue_size`` messages and ``queue_bytes`` bytes of frames;
    thread-safe ``submit_many``; ``stop`` drains or discards."""

    def __init__(self, workers: int = 4, queue_size: int = 10_000, block_timeout: float = 1.0,
                 name: str = "upbit-worker", queue_bytes: int = 1 << 62, measure: bool = True,
                 on_fault: Callable[[str, BaseException], None] | None = None) -> None:
        self.queue_size = queue_size
        self.queue_bytes = queue_bytes
        self.measure = measure  # take latencies (Config.metrics)
        self.block_timeout = block_timeout
        self._wake_after = min(_UNSIGNALED_LIMIT, max(1, queue_size // 4))
        # True once submit_many left a sleeping worker asleep: a hint, read per read of a
        # socket, that flush() has work to do (cleared by flush, which looks at every worker);
        # ``deferred_since`` says since when (MAX_DEFER)
        self.deferred = False
        self.deferred_since = 0.0
        self.name = name
        self._on_fault = on_fault  # (thread name, error): a worker loop's unexpected error
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

    @property
    def workers(self) -> int:
        return len(self._workers)

    def index_of(self, key: Hashable) -> int:
        """The worker that owns ``key``: one key's messages are always handled by the same one."""
        return hash(key) % len(self._workers)

    def submit_many(self, index: int, entries: list[tuple[Target, Hashable, Any, int]],
                    plain: bool = False) -> None:
        """Queue a batch of ``(target, key, payload, size)`` (``size``: the bytes of the frame each came
        in) whose keys all belong to worker ``index`` (:meth:`index_of`), in order, under one lock;
        never blocks longer than ``block_timeout``. ``plain``: no entry's target conflates or blocks,
        so a batch that fits is queued in one step. A sleeping worker is not woken for it until
        :meth:`flush` (or a quarter of its queue is waiting): a socket thread with more frames to read
        queues them first, rather than hand the GIL to a worker for each read."""
        w = self._workers[index]
        count = len(entries)
        size = sum(map(_SIZE, entries))
        with w.lock:
            held = w.in_count - w.out_count
            if plain and held + count <= self.queue_size and (
                    w.in_bytes - w.out_bytes + size <= self.queue_bytes or (not held and count == 1)):
                w.queue.extend(entries)
                w.in_count += count
                w.in_bytes += size
                held += count
                if held > w.high_water:
                    w.high_water = held
            else:  # one by one, each by its own policy
                put = self._put
                for target, key, payload, nbytes in entries:
                    put(w, target, key, payload, nbytes)
            self._nudge(w, count)

    def _put(self, w: _Worker, target: Target, key: Hashable, payload: Any, size: int) -> None:
        # called with w.lock held: queue one entry by its target's overflow policy
        policy = target.overflow
        if policy == "conflate":
            slot = (id(target), key)
            pending = w.conflated.get(slot) or w.batch_conflated.get(slot)
            if pending is not None:  # keep the newest: replace in place, order unchanged
                w.in_bytes += size - pending[1]
                pending[0], pending[1] = payload, size
                self._lost(w, target, key)
                return
        held = w.in_count - w.out_count
        full = held >= self.queue_size or (held and w.in_bytes - w.out_bytes + size > self.queue_bytes)
        if full and not self._make_room(w, target, key, size, policy):
            return
        if policy == "conflate":
            w.conflated[(id(target), key)] = [payload, size]
            w.queue.append((target, key, _CONFLATED, 0))
        else:
            w.queue.append((target, key, payload, size))
        w.in_count += 1
        w.in_bytes += size
        held = w.in_count - w.out_count
        if held > w.high_water:
            w.high_water = held

    def _nudge(self, w: _Worker, count: int) -> None:
        # called with w.lock held, after ``count`` entries were queued or replaced
        if w.sleeping:
            if w.unsignaled >= self._wake_after:
                w.signal()
            else:
                w.unsignaled += count
                if not self.deferred:
                    self.deferred_since = time.monotonic()
                    self.deferred = True

    def _full(self, w: _Worker, size: int) -> bool:
        held = w.in_count - w.out_count
        return held >= self.queue_size or (held > 0 and w.in_bytes - w.out_bytes + size > self.queue_bytes)

    def _make_room(self, w: _Worker, target: Target, key: Hashable, size: int, policy: str) -> bool:
        """Called with w.lock held and the worker full: free room by the policy; False when the new
        message is the one dropped."""
        if policy == "drop_newest":
            self._lost(w, target, key)
            return False
        if policy == "block" and not self._stopping:
            w.signal()  # the worker must run to make room
            w.lock.release()
            try:
                self._wait_for_room(w, size)
            finally:
                w.lock.acquire()
        if size > self.queue_bytes:
            # Bigger than the whole budget: no eviction can make room for it, so none is made. It is
            # taken only by a worker that holds nothing else (delivered alone), else dropped and
            # reported like any loss; either way it never costs a neighbour.
            if w.in_count - w.out_count:
                self._lost(w, target, key)
                return False
            return True
        while self._full(w, size):
            if not self._drop_oldest(w):  # what is held is out of reach: the new one goes
                self._lost(w, target, key)
                return False
        return True

    def _wait_for_room(self, w: _Worker, size: int) -> None:
        deadline = time.monotonic() + self.block_timeout
        while self._full(w, size) and not self._stopping:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.0005)  # "block" is the rare policy: a short poll keeps the hot path lean

    def flush(self) -> None:
        """Wake every worker that has entries queued without waking it (submit_many)."""
        self.deferred = False
        for w in self._workers:
            if w.unsignaled:
                with w.lock:
                    w.signal()

    def call(self, key: Hashable, fn: Callable[[Any], None], payload: Any) -> None:
        """Run ``fn(payload)`` on the worker that owns ``key``, after what is queued there."""
        w = self._workers[hash(key) % len(self._workers)]
        with w.lock:
            w.queue.append((None, fn, payload, 0))
            w.signal()

    def _drop_oldest(self, w: _Worker) -> bool:
        """Drop the oldest message the worker holds and has not started to deliver: from its batch
        first, else from its queue. Called with w.lock held; False if there is none to drop."""
        try:
            entry = w.batch.popleft()  # the worker pops from the other end of the same deque
        except IndexError:
            entry = None
        if entry is not None and entry[0] is None:  # a control entry: never dropped
            w.batch.appendleft(entry)
            entry = None
        conflated = w.batch_conflated
        if entry is None:
            conflated = w.conflated
            for i, queued in enumerate(w.queue):
                if queued[0] is not None:
                    entry = queued
                    del w.queue[i]
                    break
        if entry is None:
            return False
        target, key, payload, size = entry
        if payload is _CONFLATED:
            held = conflated.pop((id(target), key), None)
            size = held[1] if held is not None else 0
        w.in_count -= 1
        w.in_bytes -= size
        self._lost(w, target, key)
        return True

    @staticmethod
    def _lost(w: _Worker, target: Target, key: Hashable) -> None:
        # called with w.lock held
        w.dropped += 1
        name = getattr(target, "connection", "")
        w.dropped_by[name] = w.dropped_by.get(name, 0) + 1
        kind = key[0] if type(key) is tuple else ""
        w.dropped_types[kind] = w.dropped_types.get(kind, 0) + 1
        tally = w.losses.get((target, key))
        if tally is None:
            tally = w.losses[(target, key)] = LossTally()
        tally.add()

    # ---- workers ------------------------------------------------------------------------------------

    def _run(self, w: _Worker) -> None:
        while True:
            try:
                if not self._step(w):
                    return
            except Exception as exc:  # a bug: told, and the worker carries on with what it holds
                name = threading.current_thread().name
                if self._on_fault is not None:
                    self._safe(self._on_fault, name, exc)
                else:
                    log.error("%s: unexpected error, carrying on", name, exc_info=exc)
                time.sleep(0.01)  # a failure that repeats does not spin

    def _step(self, w: _Worker) -> bool:
        """One round of a worker: deliver what it took, or sleep until woken; False when it ends."""
        if w.batch:  # left by a round that failed: delivered before anything newer
            self._process(w)
            return True
        with w.lock:
            if self._discard:
                w.queue.clear()
                w.batch.clear()
                w.conflated.clear()
                w.batch_conflated.clear()
                w.out_count, w.out_bytes = w.in_count, w.in_bytes
                return False
            # Take the whole queue in O(1): the lock is held for a moment only, so the socket
            # thread's submit_many is never kept waiting (a contended lock costs it the GIL).
            n = len(w.queue)
            if n:
                w.batch, w.queue = w.queue, deque()
                if w.conflated:
                    w.batch_conflated, w.conflated = w.conflated, {}
            elif not self._stopping:
                w.sleeping = True
            losses = self._due_losses(w, force=self._stopping and not n) if w.losses else []
            sleeping = w.sleeping
        for target, key, dropped in losses:
            self._safe(target.report_loss, key, dropped)
        if n:
            self._process(w)
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
            return False
        return True

    def _process(self, w: _Worker) -> None:
        """Deliver the batch, one entry at a time; a submitter may drop its oldest entries meanwhile.

        The latency of a message (receipt -> callback start, exchange -> receipt) is taken for every
        message of a short batch and every ``SAMPLE_EVERY``-th of a long one (a clock read each)."""
        pop, conflated = w.batch.popleft, w.batch_conflated
        stride = 1 if len(w.batch) <= 16 else SAMPLE_EVERY
        countdown = 1 if self.measure else -1  # below zero: never reaches 0
        while not self._discard:
            try:
                target, key, payload, size = pop()
            except IndexError:
                return
            if target is None:  # a control entry: key is the function
                self._safe(key, payload)
                continue
            if payload is _CONFLATED:  # submitters replace it under the lock until it is taken
                with w.lock:
                    payload, size = conflated.pop((id(target), key))
            w.current = target
            countdown -= 1
            if not countdown:
                countdown = stride
                w.latency.note(key, payload)
            try:
                target.deliver(payload)
                w.delivered += 1
            except Exception as exc:
                w.errors += 1
                kind = key[0] if type(key) is tuple else ""
                w.errors_by[kind] = w.errors_by.get(kind, 0) + 1
                self._safe(target.report_error, exc)
            w.out_count += 1
            w.out_bytes += size

    @staticmethod
    def _due_losses(w: _Worker, force: bool = False) -> list[tuple[Any, Hashable, int]]:
        # called with w.lock held
        now = time.monotonic()
        due = []
        for (target, key), tally in list(w.losses.items()):
            lost = tally.take(now, force)
            if lost:
                due.append((target, key, lost))
            if tally.settled(now):
                del w.losses[(target, key)]
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

    def stats(self) -> DispatcherHealth:
        depths = [w.held for w in self._workers]
        with self._lock:
            external = sum(self._external_drops.values())
        return DispatcherHealth(
            workers=len(self._workers),
            queue_size=self.queue_size,
            queue_bytes=self.queue_bytes,
            queue_depth=sum(depths),
            queue_depths=depths,
            queue_held_bytes=sum(w.in_bytes - w.out_bytes for w in self._workers),
            queue_high_water=max(w.high_water for w in self._workers),
            delivered=sum(w.delivered for w in self._workers),
            drops=sum(w.dropped for w in self._workers) + external,
            callback_errors=sum(w.errors for w in self._workers),
        )

    def by_connection(self) -> dict[str, dict[str, int]]:
        """Queue depth and drops per connection (the ``connection`` of each message's target). The
        queues belong to workers, so depth is counted entry by entry (the message being delivered
        included): meant for health reports."""
        figures: dict[str, dict[str, int]] = {}

        def add(name: str, field: str, n: int) -> None:
            entry = figures.setdefault(name, {"queue_depth": 0, "queue_bytes": 0, "drops": 0})
            entry[field] += n

        for w in self._workers:
            with w.lock:  # copies (C-level, atomic), so the socket thread waits only for those
                entries = w.batch.copy()
                entries.extend(w.queue)
                held, current = w.held, w.current
                dropped = list(w.dropped_by.items())
            counted = 0
            for target, _, _, size in entries:
                if target is not None:  # not a control entry
                    name = getattr(target, "connection", "")
                    add(name, "queue_depth", 1)
                    add(name, "queue_bytes", size)
                    counted += 1
            if held > counted and current is not None:  # the one being delivered
                add(getattr(current, "connection", ""), "queue_depth", held - counted)
            for name, n in dropped:
                add(name, "drops", n)
        with self._lock:
            external = list(self._external_drops.items())
        for name, n in external:
            add(name, "drops", n)
        return figures

    def by_type(self) -> dict[str, dict[str, Any]]:
        """Per message type: drops, callback errors, and the latency windows of every worker
        (``receipt_to_callback`` and ``exchange_to_receipt``, seconds, unsorted)."""
        figures: dict[str, dict[str, Any]] = {}

        def entry(kind: str) -> dict[str, Any]:
            return figures.setdefault(kind, {"drops": 0, "callback_errors": 0, "receipt_to_callback": [],
                                             "exchange_to_receipt": []})

        for w in self._workers:
            with w.lock:
                drops, errors = list(w.dropped_types.items()), list(w.errors_by.items())
            for kind, n in drops:
                entry(kind)["drops"] += n
            for kind, n in errors:
                entry(kind)["callback_errors"] += n
            for kind, (receipt, exchange) in list(w.latency.by_type.items()):
                entry(kind)["receipt_to_callback"].extend(receipt.window())
                entry(kind)["exchange_to_receipt"].extend(exchange.window())
        return figures


__all__ = ["DATA_LOSS_INTERVAL", "Dispatcher", "LossTally", "Target"]
