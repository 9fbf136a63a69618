"""Recovery benchmark against the fake exchange (loopback).

1. Drop-to-data: 20 abrupt drops; for each, the time from the drop to the first fresh SNAPSHOT after the
   subscription was re-sent. Baseline in the same run: a bare websocket-client ``WebSocketApp`` that
   reconnects at once from its own loop and re-subscribes in ``on_open`` (no backoff, no limits) —
   the floor of what any client can do here.
2. Silent server: the exchange stops sending but keeps TCP open; time until the SDK has reconnected,
   against the bound ``stale_after + health_check_interval``.
3. Drop storm: drops as fast as the SDK comes back; the most connects the exchange saw in any second.

Run: ``python benchmarks/reconnect.py`` (needs the ``testing`` extra).
"""

from __future__ import annotations

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

from upbit_sync import Config
from upbit_sync.manager import WebSocketManager, port_of
from upbit_sync.protocol import build_request, make_spec
from upbit_sync.testing import FakeUpbitServer

CYCLES = 20
SPECS = [make_spec("ticker", ["KRW-BTC", "KRW-ETH"]), make_spec("trade", ["KRW-BTC"])]


class FirstSnapshot:
    """Notes when each SNAPSHOT arrives (a router.Listener)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.snapshots: list[float] = []
        self.count = 0

    def on_messages(self, connection: str, items: list[dict[str, Any]]) -> None:
        now = time.perf_counter()
        with self.cond:
            self.count += len(items)
            if any(i.get("stream_type", i.get("st")) == "SNAPSHOT" for i in items):
                self.snapshots.append(now)
            self.cond.notify_all()

    def on_event(self, event: Any) -> None:
        pass

    def on_error(self, error: BaseException) -> None:
        pass

    def snapshot_after(self, t0: float, timeout: float = 10.0) -> float:
        with self.cond:
            ok = self.cond.wait_for(lambda: any(t > t0 for t in self.snapshots), timeout)
            if not ok:
                raise TimeoutError("no snapshot after the drop")
            return min(t for t in self.snapshots if t > t0) - t0


def _settle(exchange: FakeUpbitServer, opened: int, seconds: float) -> None:
    deadline = time.monotonic() + 10
    while exchange.connections_opened < opened and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(seconds)  # benchmark pacing: let the connection live past reconnect_delay


def sdk_drop_to_data(exchange: FakeUpbitServer) -> list[float]:
    listener = FirstSnapshot()
    manager = WebSocketManager(Config(public_url=exchange.public_url))
    port_of(manager).add_listener(listener)
    results = []
    with manager:
        port_of(manager).set_wanted("public", SPECS)
        listener.snapshot_after(0.0)
        for _cycle in range(CYCLES):
            _settle(exchange, exchange.connections_opened, 1.1)
            t0 = time.perf_counter()
            exchange.drop_all()
            results.append(listener.snapshot_after(t0))
    return results


def baseline_drop_to_data(exchange: FakeUpbitServer) -> list[float]:
    request = build_request(SPECS, "SIMPLE")
    listener = FirstSnapshot()
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            app = websocket.WebSocketApp(
                exchange.public_url,
                on_open=lambda ws: ws.send(request),
                on_message=lambda ws, data: listener.on_messages("", [json.loads(data)]),
            )
            holder.append(app)
            app.run_forever(skip_utf8_validation=True)

    holder: list[websocket.WebSocketApp] = []
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    results = []
    try:
        listener.snapshot_after(0.0)
        for _ in range(CYCLES):
            _settle(exchange, exchange.connections_opened, 1.1)
            t0 = time.perf_counter()
            exchange.drop_all()
            results.append(listener.snapshot_after(t0))
    finally:
        stop.set()
        holder[-1].close()
        thread.join(5)
    return results


def silent_detection(exchange: FakeUpbitServer) -> tuple[float, float]:
    config = Config(public_url=exchange.public_url, stale_after=2.0, health_check_interval=1.0)
    manager = WebSocketManager(config)
    with manager:
        port_of(manager).set_wanted("public", SPECS)
        _settle(exchange, exchange.connections_opened + 1, 0.5)
        opened = exchange.connections_opened
        t0 = time.perf_counter()
        exchange.silence(True)
        while exchange.connections_opened == opened:
            time.sleep(0.005)
        took = time.perf_counter() - t0
        exchange.silence(False)
    return took, config.stale_after + config.health_check_interval


def drop_storm(exchange: FakeUpbitServer, drops: int = 10) -> int:
    manager = WebSocketManager(Config(public_url=exchange.public_url))
    with manager:
        port_of(manager).set_wanted("public", SPECS)
        _settle(exchange, exchange.connections_opened + 1, 1.1)
        first = len(exchange.connect_attempts)
        deadline = time.monotonic() + 20
        for _ in range(drops):
            opened = exchange.connections_opened
            exchange.drop_all()
            while exchange.connections_opened == opened and time.monotonic() < deadline:
                time.sleep(0.0005)
        times = sorted(a.time for a in exchange.connect_attempts[first:])
    best = 0
    for i, t in enumerate(times):
        best = max(best, sum(1 for u in times[i:] if u - t < 1.0))
    return best


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_s": round(statistics.median(values), 4), "max_s": round(max(values), 4),
            "mean_s": round(statistics.fmean(values), 4)}


def main() -> None:
    with FakeUpbitServer(message_rate=20.0) as exchange:
        sdk = summary(sdk_drop_to_data(exchange))
    # The bare WebSocketApp sends websocket-client's Origin header, which Upbit holds to 1 upgrade per
    # 10 s: the floor of reconnecting is measured without that rule.
    with FakeUpbitServer(message_rate=20.0, origin_limit=False) as exchange:
        base = summary(baseline_drop_to_data(exchange))
    with FakeUpbitServer(message_rate=20.0) as exchange:
        silent, bound = silent_detection(exchange)
    with FakeUpbitServer(message_rate=20.0) as exchange:
        storm = drop_storm(exchange)
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
                   f"{platform.python_version()}, {platform.system()}",
        "drop_to_data_sdk": sdk,
        "drop_to_data_baseline_bare_websocket_client": base,
        "ratio_sdk_over_baseline_p50": round(sdk["p50_s"] / base["p50_s"], 2),
        "silent_server_recovered_s": round(silent, 3),
        "silent_server_bound_s": bound,
        "drop_storm_max_connects_in_any_second": storm,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
