"""Dispatch: callbacks on workers, per-market order with parallel markets, bounded queues, no silent loss."""

from __future__ import annotations

import itertools
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

import upbit_sync as us
from tests.client.conftest import BULK, Sink, dispatcher_stats, public_conn, served, trade_frames
from tests.support import wait_until
from upbit_sync.testing import DEFAULT_MARKETS, ConnInfo

WORKER = re.compile(r"upbit-worker-\d+\Z")
CODE = "KRW-BTC"
QUEUE = 100


def test_callbacks_run_on_worker_threads_never_on_the_socket_thread(harness, exchange):
    manager = harness.manager(exchange, workers=3)
    sink = Sink()
    client = harness.client(manager)
    client.subscribe("ticker", ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL"], sink)
    assert sink.wait(lambda: len(sink.messages) >= 20)
    assert all(WORKER.match(name) for name in sink.threads), set(sink.threads)
    assert dispatcher_stats(manager)["workers"] == 3
    workers = {t.name for t in threading.enumerate() if WORKER.match(t.name)}
    assert len(workers) == 3 and set(sink.threads) <= workers


def test_per_code_order_holds_while_codes_run_in_parallel(harness, quiet_exchange):
    codes = [m.market for m in DEFAULT_MARKETS if m.quote == "KRW"][:50]
    per_code = 2_000
    frames, sent = trade_frames(codes, per_code)
    manager = harness.manager(quiet_exchange, queue_size=per_code * len(codes), **BULK)
    received: dict[str, list[int]] = {code: [] for code in codes}
    code_threads: dict[str, set[str]] = {code: set() for code in codes}
    worker_sequences: dict[str, list[str]] = {}
    snapshots: list[str] = []
    chance = random.Random(3).random

    def record(trade: Any) -> None:
        name = threading.current_thread().name
        if trade.stream_type == "SNAPSHOT":
            snapshots.append(trade.code)
            return
        received[trade.code].append(trade.sequential_id)
        code_threads[trade.code].add(name)
        worker_sequences.setdefault(name, []).append(trade.code)
        roll = chance()
        if roll < 0.01:
            time.sleep(0)  # give up the GIL: another worker runs in the middle of this one
        elif roll < 0.02:
            sum(range(200))  # a few microseconds of work

    harness.client(manager).subscribe("trade", codes, record)
    conn = public_conn(quiet_exchange)
    assert wait_until(lambda: served(quiet_exchange, "trade") == set(codes))
    assert wait_until(lambda: len(snapshots) == len(codes)), "the snapshots did not all arrive"

    assert quiet_exchange.firehose(len(frames), frames, conn_id=conn.id) == len(frames)

    assert wait_until(lambda: sum(map(len, received.values())) >= len(frames), timeout=40.0), (
        f"{sum(map(len, received.values()))} of {len(frames)} delivered"
    )
    for code in codes:
        assert received[code] == sent[code], f"{code} out of order or incomplete"
    assert all(len(threads) == 1 for threads in code_threads.values()), "one code, one worker"
    assert len(worker_sequences) > 1, "only one worker ran callbacks"
    interleaved = [
        name for name, sequence in worker_sequences.items()
        if sum(1 for a, b in itertools.pairwise(sequence) if a != b) > len(set(sequence))
    ]
    assert interleaved, "no worker interleaved its codes"
    assert dispatcher_stats(manager)["drops"] == 0


class _Gate:
    """A deliberately slow callback: it records each message, then waits until the test opens it."""

    def __init__(self) -> None:
        self.sink = Sink()
        self.opened = threading.Event()

    def __call__(self, message: Any) -> None:
        self.sink(message)
        self.opened.wait(20.0)

    def sids(self, code: str) -> list[int]:
        """The sequential ids of the firehose's trades this callback received for ``code``."""
        return [m.sequential_id for m in self.sink.messages
                if m.code == code and m.stream_type == "REALTIME"]


class _DepthWatch:
    """Reads the dispatcher's figures, remembering the deepest queue depth it saw."""

    def __init__(self, manager: us.WebSocketManager) -> None:
        self.manager = manager
        self.highest = 0

    def depth(self) -> int:
        depth = int(dispatcher_stats(self.manager)["queue_depth"])
        self.highest = max(self.highest, depth)
        return depth

    def drops(self) -> int:
        self.depth()
        return int(dispatcher_stats(self.manager)["drops"])

    def frames_in(self) -> int:
        """Frames the public connection has read so far."""
        self.depth()
        return int(self.manager.health()["connections"]["public"]["messages"])


@dataclass
class Stuck:
    """One subscriber whose callback is held by a gate, already blocked on its first snapshot."""

    manager: us.WebSocketManager
    sub: Any
    gate: _Gate
    events: Sink
    conn: ConnInfo
    watch: _DepthWatch
    sent: dict[str, list[int]] = field(default_factory=dict)
    total: int = 0


def _stuck_subscriber(harness, server, codes: list[str], *, policy: str | None = None,
                      **config: Any) -> Stuck:
    """A manager with small queues (``config``), and a subscriber asking for ``policy``, stuck."""
    manager = harness.manager(server, **{"queue_size": QUEUE, **BULK, **config})
    events = Sink()
    gate = _Gate()
    harness.defer(gate.opened.set)
    sub = harness.client(manager, events).subscribe("trade", codes, gate, overflow=policy)
    conn = public_conn(server)
    assert wait_until(lambda: served(server, "trade") == set(codes))
    assert wait_until(lambda: conn.sent_count == len(codes)), "snapshots not sent"
    assert gate.sink.wait(lambda: gate.sink.messages), "the callback was never called"
    return Stuck(manager, sub, gate, events, conn, _DepthWatch(manager))


def _overflow(harness, server, codes: list[str], per_code: int, *, policy: str | None = None,
              **config: Any) -> Stuck:
    """Firehose while the subscriber is stuck, release it, and wait until every frame sent was
    either delivered or counted as dropped."""
    run = _stuck_subscriber(harness, server, codes, policy=policy, **config)
    frames, run.sent = trade_frames(codes, per_code)
    run.total = len(codes) + len(frames)  # a snapshot per code, then the firehose
    before = run.watch.frames_in()
    server.firehose(len(frames), frames, conn_id=run.conn.id)
    assert wait_until(lambda: run.watch.frames_in() >= before + len(frames), timeout=10.0), (
        "the socket thread did not read every frame"
    )
    if len(codes) == 1:
        # One code, one worker, stuck on the snapshot: every frame is now delivered, queued or dropped.
        assert wait_until(
            lambda: len(run.gate.sink) + run.watch.drops() + run.watch.depth() >= run.total, timeout=5.0
        ), "the socket thread did not hand every frame to the dispatcher"
        # stuck and fed: the public connection's own figures are the dispatcher's
        report = run.manager.health()
        public, stats = report["connections"]["public"], report["dispatcher"]
        assert public["queue_depth"] == stats["queue_depth"] > 0
        assert public["drops"] == stats["drops"]
    run.gate.opened.set()
    assert wait_until(
        lambda: len(run.gate.sink) + run.sub.dropped == run.total and run.watch.depth() == 0, timeout=10.0
    ), f"sent {run.total}, delivered {len(run.gate.sink)}, dropped {run.sub.dropped}"
    public = run.manager.health()["connections"]["public"]
    assert (public["queue_depth"], public["drops"]) == (0, run.sub.dropped)
    return run


def _policy(harness, server, policy: str, per_code: int) -> Stuck:
    """An overflow run with ``policy`` asked for by the subscription."""
    if policy == "block":  # every frame past a full queue waits block_timeout: keep those few
        return _overflow(harness, server, [CODE], QUEUE + 30, policy=policy, block_timeout=0.02)
    return _overflow(harness, server, [CODE], per_code, policy=policy)


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest", "conflate", "block"])
def test_drops_equal_what_was_sent_minus_what_was_delivered(harness, quiet_exchange, policy):
    run = _policy(harness, quiet_exchange, policy, 1_000)
    assert run.sub.overflow == policy
    assert run.sub.dropped > 0
    assert run.sub.dropped == run.total - len(run.gate.sink)
    assert wait_until(lambda: run.sub.delivered == len(run.gate.sink))
    assert dispatcher_stats(run.manager)["drops"] == run.sub.dropped
    assert len(run.gate.sink) <= 1 + QUEUE, "more was held than one queue allows"
    assert run.watch.highest <= QUEUE


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest", "conflate", "block"])
def test_every_overflow_policy_reports_data_loss_to_the_subscriber(harness, quiet_exchange, policy):
    run = _policy(harness, quiet_exchange, policy, 300)
    assert run.events.wait(lambda: run.events.events_of(us.DataLoss))
    losses = run.events.events_of(us.DataLoss)
    assert all((e.type, e.code, e.policy) == ("trade", CODE, policy) for e in losses), losses
    assert all(e.dropped > 0 for e in losses)
    assert sum(e.dropped for e in losses) <= run.sub.dropped


def test_drop_oldest_from_the_config_keeps_the_newest_messages(harness, quiet_exchange):
    run = _overflow(harness, quiet_exchange, [CODE], 1_000, overflow="drop_oldest")
    kept = run.gate.sids(CODE)
    assert run.sub.overflow == "drop_oldest"
    assert kept and kept == run.sent[CODE][-len(kept):]


def test_drop_newest_keeps_the_oldest_messages_whatever_the_config_says(harness, quiet_exchange):
    run = _overflow(harness, quiet_exchange, [CODE], 1_000, policy="drop_newest", overflow="drop_oldest")
    kept = run.gate.sids(CODE)
    assert run.sub.overflow == "drop_newest"
    assert kept and kept == run.sent[CODE][:len(kept)]


def test_conflate_delivers_the_newest_message_of_every_code(harness, quiet_exchange):
    codes = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE", "KRW-ADA"]
    run = _overflow(harness, quiet_exchange, codes, 300, policy="conflate")
    for code in codes:
        kept = run.gate.sids(code)
        assert kept and kept[-1] == run.sent[code][-1], f"{code}: the last message sent was not delivered"
        assert kept == sorted(kept)
    assert run.sub.dropped > 0
    # one pending message per code, plus the one each stuck worker is delivering (queue depth counts
    # what a worker holds, taken messages included)
    workers = run.manager.config.workers
    assert run.watch.highest <= len(codes) + workers, "conflate holds at most one pending message per code"


def test_a_subscription_without_a_policy_takes_the_configured_one(harness, quiet_exchange):
    manager = harness.manager(quiet_exchange, queue_size=QUEUE, overflow="conflate", **BULK)
    client = harness.client(manager)
    assert client.subscribe("trade", [CODE], Sink()).overflow == "conflate"
    assert client.subscribe("trade", ["KRW-ETH"], Sink(), overflow="block").overflow == "block"


def test_block_waits_for_room_instead_of_dropping(harness, quiet_exchange):
    run = _stuck_subscriber(harness, quiet_exchange, [CODE], policy="block", block_timeout=5.0)
    frames, sent = trade_frames([CODE], QUEUE + 50)
    quiet_exchange.firehose(len(frames), frames, conn_id=run.conn.id)
    assert wait_until(lambda: run.watch.depth() >= QUEUE), "the queue never filled"
    run.gate.opened.set()
    assert wait_until(lambda: len(run.gate.sink) == 1 + len(frames), timeout=10.0), (
        f"{len(run.gate.sink)} of {1 + len(frames)} delivered"
    )
    assert run.gate.sids(CODE) == sent[CODE]
    assert run.sub.dropped == 0 and dispatcher_stats(run.manager)["drops"] == 0
    assert run.watch.highest <= QUEUE


def test_block_drops_the_oldest_after_block_timeout(harness, quiet_exchange):
    run = _overflow(harness, quiet_exchange, [CODE], QUEUE + 30, policy="block", block_timeout=0.02)
    kept = run.gate.sids(CODE)
    assert run.sub.dropped > 0
    assert kept and kept == run.sent[CODE][-len(kept):]


def test_a_failing_callback_is_reported_and_the_stream_goes_on(harness, quiet_exchange):
    manager = harness.manager(quiet_exchange, **BULK)
    raised: list[BaseException] = []

    def every_tenth_fails(message: Any) -> None:
        if len(sink.messages) % 10 == 0:
            error = ValueError(f"bad message #{len(sink.messages)}")
            raised.append(error)
            raise error

    sink = Sink(hook=every_tenth_fails)
    events = Sink()
    sub = harness.client(manager, events).subscribe("trade", [CODE], sink)
    conn = public_conn(quiet_exchange)
    assert sink.wait(lambda: sink.messages), "no snapshot"
    frames, sent = trade_frames([CODE], 999)
    quiet_exchange.firehose(len(frames), frames, conn_id=conn.id)

    assert sink.wait(lambda: len(sink.messages) == 1 + len(frames), timeout=10.0), (
        f"{len(sink)} of {1 + len(frames)} delivered"
    )
    assert [m.sequential_id for m in sink.messages[1:]] == sent[CODE]
    assert len(raised) == 100
    assert events.wait(lambda: len(events.errors) == len(raised))
    assert {id(e) for e in events.errors} == {id(e) for e in raised}
    assert wait_until(lambda: dispatcher_stats(manager)["callback_errors"] == len(raised))
    assert sub.active and sub.dropped == 0


# ---- what a worker holds (issue 8) ---------------------------------------------------------------


class _StuckAfterFirst:
    """Lets the snapshot through, then blocks on the first REALTIME message until opened: by then the
    worker has taken a batch from its queue, and the socket keeps queueing behind it."""

    def __init__(self) -> None:
        self.sink = Sink()
        self.opened = threading.Event()

    def __call__(self, message: Any) -> None:
        self.sink(message)
        if message.stream_type == "REALTIME":
            self.opened.wait(20.0)


def test_a_stuck_worker_holds_at_most_queue_size_messages_taken_ones_included(harness, quiet_exchange):
    manager = harness.manager(quiet_exchange, queue_size=QUEUE, **BULK)
    gate = _StuckAfterFirst()
    harness.defer(gate.opened.set)
    sub = harness.client(manager).subscribe("trade", [CODE], gate)
    conn = public_conn(quiet_exchange)
    assert gate.sink.wait(lambda: gate.sink.messages), "no snapshot"
    frames, sent = trade_frames([CODE], 5 * QUEUE)
    watch = _DepthWatch(manager)
    before = watch.frames_in()
    quiet_exchange.firehose(len(frames), frames, conn_id=conn.id)
    assert wait_until(lambda: watch.frames_in() >= before + len(frames), timeout=10.0)
    assert wait_until(lambda: watch.depth() + watch.drops() + len(gate.sink) >= 1 + len(frames))
    assert watch.highest <= QUEUE
    gate.opened.set()
    assert wait_until(lambda: watch.depth() == 0 and len(gate.sink) + sub.dropped == 1 + len(frames),
                      timeout=10.0)
    # the snapshot, then at most QUEUE messages: the one it was stuck on and what was held behind it
    assert len(gate.sink) - 1 <= QUEUE, f"{len(gate.sink) - 1} messages were held for a stuck callback"
    kept = [m.sequential_id for m in gate.sink.messages[2:]]
    assert kept == sent[CODE][-len(kept):], "drop_oldest did not keep the newest"


def test_held_messages_are_bounded_by_the_bytes_of_their_frames(harness, quiet_exchange):
    frames, _ = trade_frames([CODE], 400)
    size = len(frames[0]) + 2  # a frame's payload and its two-byte header
    limit = 10 * size
    manager = harness.manager(quiet_exchange, queue_size=10_000, queue_bytes=limit, **BULK)
    gate = _StuckAfterFirst()
    harness.defer(gate.opened.set)
    events = Sink()
    sub = harness.client(manager, events).subscribe("trade", [CODE], gate)
    conn = public_conn(quiet_exchange)
    assert gate.sink.wait(lambda: gate.sink.messages), "no snapshot"
    held_bytes: list[int] = []

    def figures() -> dict[str, Any]:
        stats = dispatcher_stats(manager)
        held_bytes.append(stats["queue_held_bytes"])
        return stats

    quiet_exchange.firehose(len(frames), frames, conn_id=conn.id)
    assert wait_until(lambda: figures()["drops"] + figures()["queue_depth"] + len(gate.sink)
                      >= 1 + len(frames), timeout=10.0)
    assert max(held_bytes) <= limit
    assert figures()["queue_depth"] <= 11
    gate.opened.set()
    assert wait_until(lambda: len(gate.sink) + sub.dropped == 1 + len(frames), timeout=10.0)
    assert sub.dropped >= len(frames) - 12
    assert events.wait(lambda: sum(e.dropped for e in events.events_of(us.DataLoss)) == sub.dropped)


def test_a_conflating_subscriber_gets_fresh_messages_during_a_continuous_burst(harness, quiet_exchange):
    """A replaced message used to skip the wake-up: through a whole burst the worker slept, and the
    subscriber saw nothing new until the socket went quiet."""
    # plain frames: compressed ones are a fifth of the bytes, and the socket buffers would take most
    # of the burst before the client had read a little of it
    manager = harness.manager(quiet_exchange, **BULK, compression=False)
    during: list[int] = []
    burst_over = threading.Event()

    def record(trade: Any) -> None:
        if trade.stream_type == "REALTIME" and not burst_over.is_set():
            during.append(trade.sequential_id)

    sink = Sink(hook=record)
    harness.client(manager).subscribe("trade", [CODE], sink, overflow="conflate")
    conn = public_conn(quiet_exchange)
    assert sink.wait(lambda: sink.messages), "no snapshot"
    frames, sent = trade_frames([CODE], 60_000)
    quiet_exchange.firehose(len(frames), frames, conn_id=conn.id)
    burst_over.set()
    assert len(during) >= 10, f"{len(during)} fresh messages during a burst of {len(frames)}"
    assert during == sorted(during)
    assert sink.wait(lambda: sink.messages[-1].sequential_id == sent[CODE][-1], timeout=10.0)
