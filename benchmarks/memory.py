"""Memory against docs/architecture.md §6: RSS with 250 codes x 3 types subscribed (target <= 40 MB), and its
growth over 1,000,000 messages (target < 2 MB).

Each client runs in a fresh interpreter of its own, so neither is charged for the other, and the fake
exchange runs in a third process (it makes the frames too: the measured client never imports the
testing package). The SDK client subscribes ticker, trade and orderbook (Upbit's default 30 units)
for 250 codes with one typed callback per type; the baseline in the same run is a bare websocket-client
``WebSocketApp`` sending the same request and only ``json.loads``-ing each frame. Each one then takes a
warm-up of 100,000 frames cycling through all 750 streams, and then 1,000,000 more, sent at
``--rate`` frames per second (10,000 by default: far above what Upbit sends for 750 streams, and below
what either client can take, so what is measured is the client's own keep, not a backlog). RSS is read
from /proc (Linux) after each stage, after a full garbage collection. Beside RSS: the growth in live
objects (a leak of Python objects shows there, whatever the heap does) and the SDK's deepest queue
(a burst that queued more messages than before leaves the heap that much larger: Python keeps the
memory for reuse, so RSS follows the deepest backlog, not the message count).

Run: ``python benchmarks/memory.py [--messages 1000000] [--rate 10000]`` (needs the ``testing`` extra;
``--rate 0`` sends as fast as the socket takes them, and then queued backlog is what shows).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from exchange_process import ExchangeProcess

CODES = [f"KRW-M{i:03d}" for i in range(250)]
TYPES = ["ticker", "trade", "orderbook"]
WARM_UP = 100_000


def rss_mb() -> float:
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmRSS in /proc/self/status")


class Count:
    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()

    def hit(self, _msg: Any) -> None:
        with self.lock:  # callbacks of different codes run on different workers
            self.n += 1

    def wait(self, target: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.n < target and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.n >= target


def measure(role: str, messages: int, rate: float) -> dict[str, Any]:
    figures = {"start": rss_mb()}
    count = Count()
    with ExchangeProcess(message_rate=0) as exchange:
        if role == "sdk":
            import upbit_sync as us

            figures["imported"] = rss_mb()
            manager = us.WebSocketManager(us.Config(public_url=exchange.public_url))
            client = us.WebSocketClient(manager)
            manager.start()
            for kind in TYPES:
                client.subscribe(kind, CODES, count.hit)
            delivered = _stages(exchange, count, messages, rate, figures,
                                lambda: int(manager.health()["dispatcher"]["queue_high_water"]))
            figures["drops"] = manager.health()["dispatcher"]["drops"]
            client.close()
            manager.stop()
        else:
            import websocket

            figures["imported"] = rss_mb()
            request = json.dumps([{"ticket": "memory-baseline"},
                                  *({"type": kind, "codes": CODES} for kind in TYPES),
                                  {"format": "SIMPLE"}])
            app = websocket.WebSocketApp(exchange.public_url, on_open=lambda ws: ws.send(request),
                                         on_message=lambda ws, data: count.hit(json.loads(data)))
            thread = threading.Thread(target=app.run_forever,
                                      kwargs={"skip_utf8_validation": True}, daemon=True)
            thread.start()
            delivered = _stages(exchange, count, messages, rate, figures)
            app.close()
            thread.join(5)
    figures["messages_counted"] = delivered
    return figures


def _stages(exchange: ExchangeProcess, count: Count, messages: int, rate: float,
            figures: dict[str, Any], high_water: Callable[[], int] | None = None) -> int:
    conn_id = exchange.call("wait_subscribed", 10.0)
    if conn_id is None:
        raise TimeoutError("no subscribed connection")
    count.wait(len(CODES) * len(TYPES), 10.0)  # the snapshots
    figures["subscribed"] = rss_mb()
    base = count.n
    exchange.call("market_firehose", WARM_UP, TYPES, CODES, conn_id, rate)
    count.wait(base + WARM_UP, 300.0)
    figures["after_warm_up"] = rss_mb()
    objects = len(gc.get_objects())
    if high_water is not None:
        figures["queue_high_water_after_warm_up"] = high_water()
    base = count.n
    started = time.monotonic()
    exchange.call("market_firehose", messages, TYPES, CODES, conn_id, rate)
    count.wait(base + messages, 600.0)
    figures["seconds_for_messages"] = round(time.monotonic() - started, 1)
    figures["after_messages"] = rss_mb()
    figures["growth_over_messages"] = round(figures["after_messages"] - figures["after_warm_up"], 1)
    # live objects the collector knows of: a leak of Python objects shows here, however the heap
    # itself is laid out
    figures["objects_growth_over_messages"] = len(gc.get_objects()) - objects
    if high_water is not None:
        figures["queue_high_water_at_end"] = high_water()
    return count.n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=10_000.0)
    parser.add_argument("--role", choices=["sdk", "baseline"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:  # a measured client: one JSON line on stdout
        print(json.dumps(measure(args.role, args.messages, args.rate)))
        return
    results = {}
    for role in ("baseline", "sdk"):
        command = [sys.executable, __file__, "--role", role, "--messages", str(args.messages),
                   "--rate", str(args.rate)]
        out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=1800)
        results[role] = json.loads(out.stdout.strip().splitlines()[-1])
    sdk, base = results["sdk"], results["baseline"]
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
                   f"{platform.python_version()}, {platform.system()}",
        "streams": f"{len(CODES)} codes x {len(TYPES)} types",
        "rate_per_s": args.rate or "as fast as the socket takes them",
        "rss_mb": results,
        "sdk_rss_subscribed_mb": sdk["subscribed"],
        "sdk_growth_over_messages_mb": sdk["growth_over_messages"],
        "baseline_growth_over_messages_mb": base["growth_over_messages"],
        "sdk_over_baseline_rss_subscribed": round(sdk["subscribed"] / base["subscribed"], 2),
        "targets": {"rss_subscribed_mb": 40, "growth_mb": 2},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
