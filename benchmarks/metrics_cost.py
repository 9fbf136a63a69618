"""What the metrics cost per message (target: at most 3 %), measured on the SDK's own message path
without a socket and without thread switches, so that neither the network nor the scheduler hides a
few percent.

The same SIMPLE trade frames go through what a socket thread and a worker run:
``Router.feed`` (decode into the typed ``Trade``, stamp ``received_at``, count per type) ->
``Router.hand_off`` every 100 frames, as after a socket read -> ``Dispatcher.submit_many`` -> the
worker's ``_process`` (latency sampled) -> a callback; first every frame is fed, then each worker's
queue is run, all on this one thread. Each
round runs with ``Config.metrics`` on and off, alternating; the cost is the median of the rounds'
on/off ratios of CPU time. ``--callgrind`` instead counts instructions under valgrind (the same count
for the same code however busy the machine is): the steadiest figure. String hashing moves it by
about half a percent, so it runs once per hash seed in SEEDS and reports the median run.

Run: ``python benchmarks/metrics_cost.py [--messages 200000] [--rounds 9] [--callgrind]``
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from callgrind import instructions

from upbit_sync import formats
from upbit_sync.dispatch import Dispatcher
from upbit_sync.protocol import FrameReader, make_spec, typed_decoder
from upbit_sync.subscriptions import Subscription, SubscriptionManager
from upbit_sync.testing import MarketSimulator

CODES = [f"KRW-C{i}" for i in range(10)]
READ = 100  # frames per socket read: a hand-off after each


class Counter:
    def __init__(self, n: int) -> None:
        self.n, self.count, self.done = n, 0, threading.Event()
        self.lock = threading.Lock()

    def __call__(self, message: Any) -> None:
        with self.lock:
            self.count += 1
            if self.count >= self.n:
                self.done.set()


class Owner:
    """A subscription's owner that ignores everything (nothing fails here)."""

    def cancel(self, sub: Any) -> None: ...
    def on_loss(self, sub: Any, event: Any) -> None: ...
    def on_callback_error(self, sub: Any, error: BaseException) -> None: ...
    def on_bad_message(self, sub: Any, error: Any, item: Any) -> None: ...


def frames(count: int) -> list[bytes]:
    market = MarketSimulator(seed=1)
    return [json.dumps(formats.to_simple(market.make("trade", CODES[i % len(CODES)])),
                       separators=(",", ":")).encode() for i in range(count)]


def run(metrics: bool, wire: list[bytes], n: int) -> float:
    """CPU seconds per message for ``n`` messages, fed and then delivered on this thread."""
    dispatcher = Dispatcher(4, queue_size=n + 10, queue_bytes=1 << 40, measure=metrics)
    subs = SubscriptionManager(on_change=lambda name, specs: None)
    router = subs.router("public", dispatcher, metrics)
    counter = Counter(n)
    subs.add(Subscription(make_spec("trade", CODES), counter, raw=False, snapshot=True,
                          overflow="drop_oldest", owner=Owner()))
    router.use(typed_decoder("SIMPLE"),
               FrameReader(router.route, lambda message: None, lambda error, frame: None).feed)
    feed, hand_off = router.feed, router.hand_off
    workers = dispatcher._workers  # the harness runs them itself: no thread, no switch
    gc.collect()
    gc.disable()  # 100,000 queued messages make the collector's passes the largest noise of all
    cpu = time.process_time()
    now = time.time()
    batch = len(wire)
    for i in range(n):
        feed(wire[i % batch], now)
        if i % READ == READ - 1:
            hand_off()
    hand_off()
    for w in workers:
        w.batch, w.queue = w.queue, deque()
        dispatcher._process(w)
    spent = time.process_time() - cpu
    gc.enable()
    assert counter.count == n, f"{counter.count} of {n} delivered"
    return spent / n


SEEDS = (0, 1, 2)  # string hashing changes dict layouts and so the counts by ~0.5 %: one run per seed


def callgrind(metrics: bool, n: int, seed: int) -> int:
    """Instructions for ``n`` messages under valgrind's callgrind (setup subtracted: a run of 0),
    with string hashing seeded by ``seed``."""
    counts = [instructions(__file__, "--one", "on" if metrics else "off", "--messages", str(messages),
                           seed=seed) for messages in (0, n)]
    return counts[1] - counts[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--callgrind", action="store_true", help="count instructions under valgrind")
    parser.add_argument("--one", choices=["on", "off"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    wire = frames(2_000)
    if args.one:  # one measured run, under callgrind
        if args.messages:
            run(args.one == "on", wire, args.messages)
        return
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
                   f"{platform.python_version()}, {platform.system()}",
        "messages_per_round": args.messages,
        "target_percent": 3.0,
    }
    if args.callgrind:
        runs = {seed: (callgrind(True, args.messages, seed), callgrind(False, args.messages, seed))
                for seed in SEEDS}
        costs = {seed: round((on / off - 1) * 100, 2) for seed, (on, off) in runs.items()}
        middle = sorted(SEEDS, key=lambda seed: costs[seed])[len(SEEDS) // 2]
        on, off = runs[middle]
        report.update(instructions_per_message_on=round(on / args.messages),
                      instructions_per_message_off=round(off / args.messages),
                      cost_percent=costs[middle],
                      cost_percent_by_hash_seed={str(seed): cost for seed, cost in costs.items()})
    else:
        times_on, times_off = [], []
        for _ in range(args.rounds):
            times_off.append(run(False, wire, args.messages))
            times_on.append(run(True, wire, args.messages))
        ratios = [a / b for a, b in zip(times_on, times_off, strict=True)]
        report.update(cpu_us_per_message_metrics_on=round(statistics.median(times_on) * 1e6, 3),
                      cpu_us_per_message_metrics_off=round(statistics.median(times_off) * 1e6, 3),
                      rounds_on_over_off=[round(r, 3) for r in ratios],
                      cost_median_percent=round((statistics.median(ratios) - 1) * 100, 1))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
