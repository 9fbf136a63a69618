"""A structural guard on the hot path: how many function calls the SDK makes per delivered message.

Not a timing: the calls are counted by cProfile on the SDK's own threads (the socket thread and the
workers) while 10,000 SIMPLE ticker frames go from the fake exchange to typed callbacks. A change that
adds a Python call per message moves the count by one, whatever the machine; the bounds sit a little
above what was measured, so that a later change cannot quietly double the work. benchmarks/results.md
has the profile behind them (benchmarks/profile_hot_path.py prints the calls it counts).
"""

from __future__ import annotations

import cProfile
import json
import pstats
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import upbit_sync as us
from upbit_sync import formats
from upbit_sync.testing import FakeUpbitServer, MarketSimulator

FRAMES = 10_000
CODES = [f"KRW-T{i}" for i in range(10)]
# Measured 2026-12-01 (CPython 3.11, msgspec 0.23), the same in three runs: 3.7 calls of Python
# functions per message (ReadAhead.next_frame, Router.feed and Delivery._plain once each; the rest per
# socket read or per batch) and 15.7 calls in all, C functions included (the decode, len 5 times, two
# dict lookups, two list appends, one of them the callback's, a deque pop; the lock is taken once per
# batch). Before frames were decoded straight into typed messages and handed over in batches it was
# 21.5 calls in all, 9 of them Python.
MAX_PYTHON_CALLS = 4.5
MAX_ALL_CALLS = 19.0
HERE = Path(__file__).name


@pytest.fixture
def firehose_exchange() -> Iterator[FakeUpbitServer]:
    with FakeUpbitServer(message_rate=0, markets=None, seed=3) as server:
        yield server


def _profiled_threads(monkeypatch: pytest.MonkeyPatch) -> list[cProfile.Profile]:
    """Profile every SDK socket and worker thread started from now on."""
    profiles: list[cProfile.Profile] = []
    original = threading.Thread.run

    def run(thread: threading.Thread) -> None:
        if not thread.name.startswith(("upbit-ws-public", "upbit-worker-")):
            original(thread)
            return
        profiler = cProfile.Profile()
        profiles.append(profiler)
        profiler.enable()
        try:
            original(thread)
        finally:
            profiler.disable()

    monkeypatch.setattr(threading.Thread, "run", run)
    return profiles


def _calls(profiles: list[cProfile.Profile]) -> tuple[int, int]:
    """(calls of Python functions of the SDK and its libraries, calls of anything), the test's
    own callback left out."""
    python = every = 0
    for profiler in profiles:
        for (filename, _, _), (_, ncalls, _, _, _) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
            if filename.endswith(HERE):
                continue
            every += ncalls
            if filename != "~":
                python += ncalls
    return python, every


def test_the_calls_per_delivered_message_stay_under_the_measured_bounds(firehose_exchange, monkeypatch):
    market = MarketSimulator(seed=1)
    frames = [json.dumps(formats.to_simple(market.make("ticker", CODES[i % len(CODES)])),
                         separators=(",", ":")).encode() for i in range(200)]
    profiles = _profiled_threads(monkeypatch)
    done = threading.Event()
    received: list[us.Ticker] = []

    def on_ticker(ticker: us.Ticker) -> None:  # C calls only, but for the last message
        received.append(ticker)
        if len(received) == FRAMES:
            done.set()

    config = us.Config(public_url=firehose_exchange.public_url, metrics=True)
    with us.WebSocketManager(config) as manager:
        client = us.WebSocketClient(manager)
        for code in CODES:
            client.subscribe("ticker", [code], on_ticker, snapshot=False)
        assert firehose_exchange.wait_for(
            lambda: any(c.subscriptions for c in firehose_exchange.open_connections()), timeout=10.0)
        conn = next(c for c in firehose_exchange.open_connections() if c.subscriptions)
        assert firehose_exchange.firehose(FRAMES, frames, conn.id) == FRAMES
        assert done.wait(30.0), f"only {len(received)} of {FRAMES} delivered"
    assert all(type(t) is us.Ticker for t in received)
    python, every = _calls(profiles)
    per_message_python, per_message = python / FRAMES, every / FRAMES
    assert per_message_python <= MAX_PYTHON_CALLS, (
        f"{per_message_python:.2f} Python calls per message (bound {MAX_PYTHON_CALLS}): the hot path "
        "grew; benchmarks/profile_hot_path.py shows where")
    assert per_message <= MAX_ALL_CALLS, f"{per_message:.2f} calls per message (bound {MAX_ALL_CALLS})"
