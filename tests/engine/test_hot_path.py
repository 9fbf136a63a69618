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
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import upbit_sync as us
from upbit_sync import formats
from upbit_sync.testing import FakeUpbitServer, MarketSimulator

FRAMES = 10_000
CODES = [f"KRW-T{i}" for i in range(10)]
# Measured 2026-12-01 (msgspec 0.23), on CPython 3.10 to 3.13 alike: 3.6-3.7 calls of Python
# functions per message (ReadAhead.next_frame, Router.feed and Delivery._plain once each; the rest per
# socket read or per batch) and 13.4-13.7 calls in all, C functions included (the decode, len four
# times, two dict lookups, a list append, a deque pop; the lock is taken once per batch). Before
# frames were decoded straight into typed messages and handed over in batches it was 7.6 Python calls.
MAX_PYTHON_CALLS = 4.5
MAX_ALL_CALLS = 17.0
# Compressed frames (permessage-deflate, on by default since issue 21) add Inflater.inflate, its
# decompress and two len calls per message: measured 2026-12-05 on CPython 3.11, 4.31 Python calls and
# 17.75 in all (3.62 and 14.49 plain, as before).
BOUNDS = {False: (MAX_PYTHON_CALLS, MAX_ALL_CALLS), True: (5.0, 20.0)}


@pytest.fixture
def firehose_exchange() -> Iterator[FakeUpbitServer]:
    with FakeUpbitServer(message_rate=0, markets=None, seed=3) as server:
        yield server


def _profiled(monkeypatch: pytest.MonkeyPatch) -> list[cProfile.Profile]:
    """Profile the SDK's threads from now on. Before 3.12 a profiler is per thread: one for each SDK
    socket and worker thread started from now on. From 3.12 on, cProfile watches every thread through
    sys.monitoring and only one may run: one for all, and _calls keeps the SDK's own."""
    profiles: list[cProfile.Profile] = []
    if sys.version_info >= (3, 12):
        profiler = cProfile.Profile()
        profiles.append(profiler)
        profiler.enable()
        return profiles
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


def _ours(filename: str) -> bool:
    """Code of the SDK's hot path: the package (not its fake exchange) and websocket-client."""
    path = Path(filename).as_posix()
    return ("/upbit_sync/" in path and "/upbit_sync/testing/" not in path) or "/websocket/" in path


def _calls(profiles: list[cProfile.Profile]) -> tuple[int, int]:
    """(calls of the SDK's and websocket-client's Python functions, those plus the C functions they
    called); the test's own callback and whatever else runs in the process left out."""
    python = every = 0
    for profiler in profiles:
        stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        for (filename, _, _), (_, ncalls, _, _, callers) in stats.items():
            if filename == "~":  # a C function: counted by who called it
                every += sum(counts[1] for (caller, _, _), counts in callers.items() if _ours(caller))
            elif _ours(filename):
                python += ncalls
                every += ncalls
    return python, every


@pytest.mark.parametrize("compression", [False, True], ids=["plain", "compressed"])
def test_the_calls_per_delivered_message_stay_under_the_measured_bounds(firehose_exchange, monkeypatch,
                                                                       compression):
    market = MarketSimulator(seed=1)
    frames = [json.dumps(formats.to_simple(market.make("ticker", CODES[i % len(CODES)])),
                         separators=(",", ":")).encode() for i in range(200)]
    profiles = _profiled(monkeypatch)
    done = threading.Event()
    received: list[us.Ticker] = []

    def on_ticker(ticker: us.Ticker) -> None:  # C calls only, but for the last message
        received.append(ticker)
        if len(received) == FRAMES:
            done.set()

    config = us.Config(public_url=firehose_exchange.public_url, metrics=True, compression=compression)
    try:
        with us.WebSocketManager(config) as manager:
            client = us.WebSocketClient(manager)
            for code in CODES:
                client.subscribe("ticker", [code], on_ticker, snapshot=False)
            assert firehose_exchange.wait_for(
                lambda: any(c.subscriptions for c in firehose_exchange.open_connections()), timeout=10.0)
            conn = next(c for c in firehose_exchange.open_connections() if c.subscriptions)
            assert firehose_exchange.firehose(FRAMES, frames, conn.id) == FRAMES
            assert done.wait(30.0), f"only {len(received)} of {FRAMES} delivered"
    finally:  # from 3.12 on one profiler watches every thread: a failing test must not leave it on
        for profiler in profiles:
            profiler.disable()
    assert all(type(t) is us.Ticker for t in received)
    python, every = _calls(profiles)
    per_message_python, per_message = python / FRAMES, every / FRAMES
    print(f"compression={compression}: {per_message_python:.2f} Python calls, {per_message:.2f} in all")
    max_python, max_all = BOUNDS[compression]
    assert per_message_python <= max_python, (
        f"{per_message_python:.2f} Python calls per message (bound {max_python}): the hot path "
        "grew; benchmarks/profile_hot_path.py shows where")
    assert per_message <= max_all, f"{per_message:.2f} calls per message (bound {max_all})"
