"""Callback throughput and latency against a bare websocket-client baseline, same server, same run.

- Throughput: the fake exchange's firehose writes N prepared trade frames (SIMPLE keys, binary frames,
  10 markets) as fast as the socket takes them; we time first to last delivery. The SDK delivers typed
  ``Trade`` objects to a callback on its worker pool; the baseline is a ``WebSocketApp`` whose
  ``on_message`` only runs ``json.loads`` (docs/architecture.md §6: target ratio >= 0.8).
  The SDK reads ahead (upbit_sync/readahead.py); a third variant turns that off
  (``Config(read_ahead=False)``), to show what it is worth.
- Latency at 5,000 msg/s (targets: p50 <= 0.3 ms, p99 <= 2 ms, docs/architecture.md §6, from frame receipt to
  callback start): a paced sender stamps each frame with the wall clock at send time. For each frame
  the SDK's receipt is the ``received_at`` it stamps on every message (the time of the socket read that
  brought it); the figure is receipt -> callback start. Send -> callback is also given, beside the
  baseline's send -> ``on_message``, which shows what the sender and the loopback add for both.

Run: ``python benchmarks/throughput.py [--messages 200000] [--no-orjson]`` (needs the ``testing``
extra; the SDK uses orjson when installed unless told not to, the baseline always uses json.loads).
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

import websocket

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from exchange_process import ExchangeProcess

import upbit_sync as us
from upbit_sync import formats
from upbit_sync.protocol import build_request, make_spec
from upbit_sync.testing import MarketSimulator

CODES = [f"KRW-T{i}" for i in range(10)]


def trade_frames(count: int) -> list[bytes]:
    market = MarketSimulator(seed=1)
    frames = []
    for i in range(count):
        message = market.make("trade", CODES[i % len(CODES)])
        message["timestamp"] = 0  # the paced run stamps the send time here
        frames.append(json.dumps(formats.to_simple(message), separators=(",", ":")).encode())
    return frames


class Counter:
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.done = threading.Event()
        self.latencies: list[float] = []  # send -> callback start
        self.after_receipt: list[float] = []  # receipt -> callback start

    def hit(self, stamp_ns: int | None = None, received_at: float | None = None) -> None:
        now = time.perf_counter()
        if stamp_ns is not None:
            now_ns = time.time_ns()
            self.latencies.append((now_ns - stamp_ns) / 1e9)
            if received_at:  # the SDK's own receipt time: the socket read that brought the frame
                self.after_receipt.append(now_ns / 1e9 - received_at)
        if self.count == 0:
            self.first = now
        self.count += 1
        if self.count >= self.expected:
            self.last = now
            self.done.set()

    def rate(self) -> float:
        return (self.count - 1) / (self.last - self.first)


def _wait_subscribed(exchange: ExchangeProcess) -> int:
    conn_id = exchange.call("wait_subscribed", 10.0)
    if conn_id is None:
        raise TimeoutError("no subscribed connection")
    time.sleep(0.3)  # let the snapshots pass before timing starts
    return int(conn_id)


def run_sdk(exchange: ExchangeProcess, n: int, frames: list[bytes], paced: bool,
            raw: bool = False, read_ahead: bool = True) -> Counter:
    counter = Counter(n)
    manager = us.WebSocketManager(us.Config(public_url=exchange.public_url, read_ahead=read_ahead))
    client = us.WebSocketClient(manager)

    def on_trade(msg: Any) -> None:
        if paced:
            counter.hit(msg.timestamp, msg.received_at)
        else:
            counter.hit()

    def on_raw(msg: dict[str, Any]) -> None:
        if paced:
            counter.hit(msg["timestamp"], msg["received_at"])
        else:
            counter.hit()

    with manager:
        for code in CODES:
            client.subscribe("trade", [code], on_raw if raw else on_trade, snapshot=False, raw=raw)
        feed(exchange, _wait_subscribed(exchange), n, frames, paced)
        counter.done.wait(120)
        client.close()
    return counter


def run_baseline(exchange: ExchangeProcess, n: int, frames: list[bytes], paced: bool) -> Counter:
    counter = Counter(n)
    request = build_request([make_spec("trade", CODES, is_only_realtime=True)], "SIMPLE")

    def on_message(ws: websocket.WebSocketApp, data: bytes) -> None:
        msg = json.loads(data)
        counter.hit(msg["tms"] if paced else None)

    app = websocket.WebSocketApp(exchange.public_url, on_open=lambda ws: ws.send(request),
                                 on_message=on_message)
    thread = threading.Thread(target=app.run_forever, kwargs={"skip_utf8_validation": True},
                              daemon=True)
    thread.start()
    feed(exchange, _wait_subscribed(exchange), n, frames, paced)
    counter.done.wait(120)
    app.close()
    thread.join(5)
    return counter


def feed(exchange: ExchangeProcess, conn_id: int, n: int, frames: list[bytes], paced: bool) -> None:
    if paced:
        stamped = [f.replace(b'"tms":0', b'"tms":{STAMP}') for f in frames]
        exchange.call("paced", conn_id, [stamped[i % len(stamped)] for i in range(n)], 5000.0)
    else:
        exchange.call("firehose", n, frames, conn_id)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds (0: none)")
    parser.add_argument("--latency-messages", type=int, default=10_000)
    parser.add_argument("--latency-runs", type=int, default=3, help="paced runs of each (0: none)")
    parser.add_argument("--no-orjson", action="store_true",
                        help="the SDK parses with json.loads too, as without the 'fast' extra")
    args = parser.parse_args()
    if args.no_orjson:
        us.protocol._loads = json.loads
    frames = trade_frames(2_000)
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
                   f"{platform.python_version()}, {platform.system()}",
        "json_backend": "orjson" if us.protocol._loads is not json.loads else "json",
    }
    if args.rounds > 0:
        report.update(throughput(args.rounds, args.messages, frames))
    if args.latency_runs > 0:
        report["latency_at_5000_per_s_ms"] = latency(args.latency_runs, args.latency_messages, frames)
    print(json.dumps(report, indent=2))


def throughput(rounds: int, n: int, frames: list[bytes]) -> dict[str, Any]:
    sdk, raw, plain, base = [], [], [], []  # msg/s per round
    for _ in range(rounds):  # alternate, so drift in the machine's load hits all alike
        with ExchangeProcess(message_rate=0) as exchange:
            base.append(run_baseline(exchange, n, frames, paced=False).rate())
        with ExchangeProcess(message_rate=0) as exchange:
            sdk.append(run_sdk(exchange, n, frames, paced=False).rate())
        with ExchangeProcess(message_rate=0) as exchange:
            raw.append(run_sdk(exchange, n, frames, paced=False, raw=True).rate())
        with ExchangeProcess(message_rate=0) as exchange:
            plain.append(run_sdk(exchange, n, frames, paced=False, read_ahead=False).rate())

    def ratio(rates: list[float]) -> float:
        # each round's SDK figure over the baseline of the same round: the machine's drift cancels
        return round(statistics.median(r / b for r, b in zip(rates, base, strict=True)), 2)

    return {
        "messages": n,
        "throughput_msgs_per_s": {
            "sdk_typed_callback": round(statistics.median(sdk)),
            "sdk_raw_dict_callback": round(statistics.median(raw)),
            "sdk_typed_without_read_ahead": round(statistics.median(plain)),
            "baseline_websocket_client_json_loads": round(statistics.median(base)),
            "rounds_sdk": [round(r) for r in sdk],
            "rounds_sdk_raw": [round(r) for r in raw],
            "rounds_sdk_without_read_ahead": [round(r) for r in plain],
            "rounds_baseline": [round(r) for r in base],
        },
        "ratio_sdk_typed_over_baseline": ratio(sdk),
        "ratio_sdk_raw_over_baseline": ratio(raw),
        "ratio_sdk_typed_without_read_ahead_over_baseline": ratio(plain),
    }


def latency(runs: int, n: int, frames: list[bytes]) -> dict[str, Any]:
    receipt, send, base = [], [], []  # (p50, p99) in ms per run
    for _ in range(runs):
        with ExchangeProcess(message_rate=0) as exchange:
            base.append(quantiles(run_baseline(exchange, n, frames, paced=True).latencies))
        with ExchangeProcess(message_rate=0) as exchange:
            run = run_sdk(exchange, n, frames, paced=True)
        receipt.append(quantiles(run.after_receipt))
        send.append(quantiles(run.latencies))

    def summary(per_run: list[tuple[float, float]]) -> dict[str, Any]:
        return {"p50": statistics.median(p50 for p50, _ in per_run),
                "p99": statistics.median(p99 for _, p99 in per_run),
                "runs_p50_p99": per_run}

    return {"sdk_receipt_to_callback": summary(receipt),
            "sdk_send_to_callback": summary(send),
            "baseline_send_to_on_message": summary(base)}


def quantiles(values: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    return round(percentile(values, 0.5) * 1000, 3), round(percentile(values, 0.99) * 1000, 3)


if __name__ == "__main__":
    main()
