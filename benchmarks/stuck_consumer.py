"""A stuck or slow consumer (docs/architecture.md §6): memory stays bounded, every drop is counted
and reported, and a conflating subscriber keeps getting fresh messages through a burst.

1. **Stuck callback.** The SDK with default settings subscribes 30-unit orderbooks (Upbit's default
   depth) for 20 codes, so every worker gets some, with a callback that blocks until the end. The
   fake exchange (its own process) then sends ``--frames`` orderbook frames as fast as the socket
   takes them. Peak RSS is sampled every 50 ms; when every frame is read the callback is released,
   and the drops ``health()`` counts must equal the sum of the ``DataLoss`` events the subscriber got.
   The same run with ``queue_bytes`` out of the way (the count bound alone, as before issue 8) is the
   baseline. Each case runs in a fresh interpreter.
2. **Conflate under a burst.** One conflating subscriber on one code's trades while the exchange
   sends ``--burst`` frames as fast as it can: the longest gap between two fresh messages reaching
   the callback while the burst lasts (target: under 50 ms).

Run: ``python benchmarks/stuck_consumer.py [--frames 300000] [--burst 300000]`` (Linux: RSS from /proc).
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from exchange_process import ExchangeProcess

CODES = [f"KRW-S{i:02d}" for i in range(20)]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def stuck(frames: int, queue_bytes: int | None) -> dict[str, Any]:
    import upbit_sync as us

    release = threading.Event()
    losses: list[int] = []
    peak = [rss_mb()]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.05):
            peak[0] = max(peak[0], rss_mb())

    def on_event(event: Any) -> None:
        if isinstance(event, us.DataLoss):
            losses.append(event.dropped)

    sampler = threading.Thread(target=sample, daemon=True)
    with ExchangeProcess(message_rate=0) as exchange:
        options = {} if queue_bytes is None else {"queue_bytes": queue_bytes}
        config = us.Config(public_url=exchange.public_url, **options)  # otherwise the defaults
        with us.WebSocketManager(config) as manager, us.WebSocketClient(manager, on_event=on_event) as client:
            client.subscribe("orderbook", CODES, lambda book: release.wait(600))
            conn_id = exchange.call("wait_subscribed", 10.0)
            before = rss_mb()
            sampler.start()
            frames_before = manager.health()["connections"]["public"]["messages"]
            exchange.call("market_firehose", frames, ["orderbook"], CODES, conn_id, 0.0)
            deadline = time.monotonic() + 120
            while (manager.health()["connections"]["public"]["messages"] < frames_before + frames
                   and time.monotonic() < deadline):
                time.sleep(0.05)
            held = manager.health()["dispatcher"]
            sampling.set()
            sampler.join()
            release.set()
            deadline = time.monotonic() + 60
            while sum(losses) < manager.health()["dispatcher"]["drops"] and time.monotonic() < deadline:
                time.sleep(0.05)
            health = manager.health()["dispatcher"]
    return {
        "rss_before_burst_mb": round(before, 1),
        "rss_peak_mb": round(peak[0], 1),
        "held_at_peak": {"messages": held["queue_depth"], "frame_bytes": held["queue_held_bytes"]},
        "drops_counted": health["drops"],
        "drops_reported_in_data_loss_events": sum(losses),
        "delivered": health["delivered"],
    }


def conflate(burst: int) -> dict[str, Any]:
    import upbit_sync as us

    times: list[float] = []
    over = threading.Event()

    def on_trade(trade: Any) -> None:
        if trade.stream_type == "REALTIME" and not over.is_set():
            times.append(time.perf_counter())

    with ExchangeProcess(message_rate=0) as exchange:
        config = us.Config(public_url=exchange.public_url)
        with us.WebSocketManager(config) as manager, us.WebSocketClient(manager) as client:
            client.subscribe("trade", [CODES[0]], on_trade, overflow="conflate")
            conn_id = exchange.call("wait_subscribed", 10.0)
            started = time.perf_counter()
            exchange.call("market_firehose", burst, ["trade"], [CODES[0]], conn_id, 0.0)
            over.set()
            lasted = time.perf_counter() - started
            drops = manager.health()["dispatcher"]["drops"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return {
        "burst_frames": burst,
        "burst_seconds": round(lasted, 2),
        "fresh_messages_during_burst": len(times),
        "longest_gap_ms": round(max(gaps) * 1000, 1) if gaps else None,
        "first_after_ms": round((times[0] - started) * 1000, 1) if times else None,
        "conflated_away": drops,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=300_000)
    parser.add_argument("--burst", type=int, default=300_000)
    parser.add_argument("--case", choices=["stuck", "stuck-count-only", "conflate"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:  # one measured case: a JSON line on stdout
        if args.case == "conflate":
            result = conflate(args.burst)
        else:
            # the count bound alone: queue_bytes at the most Config takes (1 TiB), never reached
            result = stuck(args.frames, None if args.case == "stuck" else 1 << 40)
        print(json.dumps(result))
        return
    results = {}
    for case in ("stuck", "stuck-count-only", "conflate"):
        command = [sys.executable, __file__, "--case", case, "--frames", str(args.frames),
                   "--burst", str(args.burst)]
        out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=900)
        results[case] = json.loads(out.stdout.strip().splitlines()[-1])
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
                   f"{platform.python_version()}, {platform.system()}",
        "stuck_callback_default_settings": results["stuck"],
        "stuck_callback_count_bound_only (baseline)": results["stuck-count-only"],
        "conflate_under_burst": results["conflate"],
        "targets": {"rss_peak_mb": 150, "longest_conflate_gap_ms": 50},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
