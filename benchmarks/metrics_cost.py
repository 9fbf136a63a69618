"""What the metrics cost per message (target: at most 3 %), measured on the SDK's own message path
without a socket, so that the machine's network noise does not hide a few percent.

The same SIMPLE trade frames go through the path a socket thread and the workers run:
``FrameReader.feed`` (load, sort) -> ``Router.route`` (stamp ``received_at``, count per type) ->
``Dispatcher.submit`` -> a worker (latency sampled) -> the typed ``Trade`` -> a callback. Each round
runs once with ``Config.metrics`` on and once off, alternating; the figure is CPU time per message
(``time.process_time``, all threads), and the cost is the median of the rounds' on/off ratios.

Run: ``python benchmarks/metrics_cost.py [--messages 200000] [--rounds 9]``
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from upbit_sync import formats
from upbit_sync.dispatch import Dispatcher
from upbit_sync.protocol import FrameReader, make_spec
from upbit_sync.subscriptions import Subscription, SubscriptionManager
from upbit_sync.testing import MarketSimulator

CODES = [f"KRW-C{i}" for i in range(10)]


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
    """CPU seconds per message for ``n`` messages."""
    dispatcher = Dispatcher(4, queue_size=n + 10, queue_bytes=1 << 40, measure=metrics)
    subs = SubscriptionManager(on_change=lambda name, specs: None)
    router = subs.router("public", dispatcher, metrics)
    counter = Counter(n)
    subs.add(Subscription(make_spec("trade", CODES), counter, raw=False, snapshot=True,
                          overflow="drop_oldest", owner=Owner()))
    reader = FrameReader(router.route, lambda message: None, lambda error, frame: None)
    dispatcher.start()
    feed = reader.feed
    cpu = time.process_time()
    now = time.time()
    batch = len(wire)
    for i in range(n):
        feed(wire[i % batch], now)
        if i % 256 == 255:  # as at the end of a socket read
            dispatcher.flush()
    dispatcher.flush()
    counter.done.wait(300)
    spent = time.process_time() - cpu
    dispatcher.stop(5.0)
    return spent / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    wire = frames(2_000)
    on, off = [], []
    for _ in range(args.rounds):
        off.append(run(False, wire, args.messages))
        on.append(run(True, wire, args.messages))
    ratios = [a / b for a, b in zip(on, off, strict=True)]
    print(json.dumps({
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
                   f"{platform.python_version()}, {platform.system()}",
        "messages_per_round": args.messages,
        "cpu_us_per_message_metrics_on": round(statistics.median(on) * 1e6, 3),
        "cpu_us_per_message_metrics_off": round(statistics.median(off) * 1e6, 3),
        "rounds_on_over_off": [round(r, 3) for r in ratios],
        "cost_median_percent": round((statistics.median(ratios) - 1) * 100, 1),
        "target_percent": 3.0,
    }, indent=2))


if __name__ == "__main__":
    main()
