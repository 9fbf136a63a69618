"""Throughput and latency of upbit-sync beside the other ways to read Upbit from Python, same server,
same run (benchmarks/results.md keeps the figures).

- Throughput: the fake exchange (a process of its own) writes N prepared SIMPLE ticker frames (~550 B,
  10 markets) as fast as the socket takes them; each client is timed from its first to its last message.
  Rounds alternate every client, and each figure is also given as a ratio to the baseline of the same
  round, a websocket-client ``WebSocketApp`` whose ``on_message`` runs ``json.loads``, so the machine's
  drift cancels. The clients:
  - upbit-sync: typed ``Ticker`` callbacks on the worker pool; ``raw=True`` dict callbacks; a
    ``for m in client.stream(...)`` loop; typed callbacks with the read-ahead off; all of these with
    frames plain (``compression=False``), and typed callbacks with compressed frames (``_deflate``);
  - websocket-client counting frames without parsing them (the floor of that library);
  - the asyncio ``websockets`` client with ``orjson.loads`` per frame, plain and with permessage-deflate
    (``_deflate``), and picows (Cython) with orjson, each in a process of its own (picows when
    installed);
  - the official upbit-sdk's sync iterator (pydantic models), when installed.
  The exchange agrees to permessage-deflate whenever a client offers it (the firehose writes frames
  compressed beforehand, so the client's inflating is measured, not the exchange's zlib).
- Latency at 5,000 and 20,000 msg/s (targets: p99 <= 0.5 ms and <= 2 ms, docs/architecture.md §6,
  from frame receipt to callback start): a paced sender stamps each frame with the wall clock at send
  time. For each frame the SDK's receipt is the ``received_at`` it stamps on every message (the time of
  the socket read that brought it); the figure is receipt -> callback start, with frames plain and
  compressed. Send -> callback is also given, beside the baseline's send -> ``on_message``, which shows
  what the sender and the loopback add.
- Bytes on the wire per message, SIMPLE ticker, trade and 30-level orderbook (the fake's simulator, 10
  markets in turn), plain and compressed as a server keeping its window would (12 and 15 bits), or
  not keeping it.

Run: ``python benchmarks/throughput.py [--messages 100000] [--rounds 5] [--no-orjson]`` (needs the
``testing`` extra; the others are measured when installed: ``pip install upbit-sdk picows``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing as mp
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
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
REQUEST = build_request([make_spec("ticker", CODES, is_only_realtime=True)], "SIMPLE")


def ticker_frames(count: int) -> list[bytes]:
    market = MarketSimulator(seed=1)
    frames = []
    for i in range(count):
        message = market.make("ticker", CODES[i % len(CODES)])
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
        return (self.count - 1) / (self.last - self.first) if self.last > self.first else 0.0


def _wait_subscribed(exchange: ExchangeProcess) -> int:
    conn_id = exchange.call("wait_subscribed", 10.0)
    if conn_id is None:
        raise TimeoutError("no subscribed connection")
    time.sleep(0.3)  # let the subscription settle before timing starts
    return int(conn_id)


def feed(exchange: ExchangeProcess, conn_id: int, n: int, frames: list[bytes], rate: float) -> None:
    if rate:
        stamped = [f.replace(b'"tms":0', b'"tms":{STAMP}') for f in frames]
        exchange.call("paced", conn_id, [stamped[i % len(stamped)] for i in range(n)], rate)
    else:
        exchange.call("firehose", n, frames, conn_id)


# ---- upbit-sync --------------------------------------------------------------------------------------


def run_sdk(exchange: ExchangeProcess, n: int, frames: list[bytes], rate: float = 0.0,
            mode: str = "typed", read_ahead: bool = True, compression: bool = False) -> Counter:
    """``mode``: "typed" callbacks, "raw" dict callbacks, or a "stream" loop."""
    counter = Counter(n)
    manager = us.WebSocketManager(us.Config(public_url=exchange.public_url, read_ahead=read_ahead,
                                            compression=compression))
    client = us.WebSocketClient(manager)

    def on_ticker(msg: Any) -> None:
        if rate:
            counter.hit(msg.timestamp, msg.received_at)
        else:
            counter.hit()

    def on_raw(msg: dict[str, Any]) -> None:
        if rate:
            counter.hit(msg["timestamp"], msg["received_at"])
        else:
            counter.hit()

    with manager:
        if mode == "stream":
            stream = client.stream("ticker", CODES, snapshot=False)
            reader = threading.Thread(target=_read_stream, args=(stream, on_ticker, counter),
                                      name="bench-stream-reader", daemon=True)
            reader.start()
        else:
            for code in CODES:
                client.subscribe("ticker", [code], on_raw if mode == "raw" else on_ticker,
                                 snapshot=False, raw=mode == "raw")
        feed(exchange, _wait_subscribed(exchange), n, frames, rate)
        counter.done.wait(120)
        client.close()
        if mode == "stream":
            reader.join(5)
    return counter


def _read_stream(stream: Any, hit: Callable[[Any], None], counter: Counter) -> None:
    for msg in stream:
        hit(msg)
        if counter.done.is_set():
            break


# ---- websocket-client, in this process ----------------------------------------------------------------


def run_baseline(exchange: ExchangeProcess, n: int, frames: list[bytes], rate: float = 0.0,
                 parse: bool = True) -> Counter:
    """A bare ``WebSocketApp``: ``json.loads`` per frame (the baseline), or counting only."""
    counter = Counter(n)

    def on_message(ws: websocket.WebSocketApp, data: bytes) -> None:
        if parse:
            msg = json.loads(data)
            counter.hit(msg["tms"] if rate else None)
        else:
            counter.hit()

    app = websocket.WebSocketApp(exchange.public_url, on_open=lambda ws: ws.send(REQUEST),
                                 on_message=on_message)
    thread = threading.Thread(target=app.run_forever, kwargs={"skip_utf8_validation": True,
                                                              "suppress_origin": True}, daemon=True)
    thread.start()
    feed(exchange, _wait_subscribed(exchange), n, frames, rate)
    counter.done.wait(120)
    app.close()
    thread.join(5)
    return counter


# ---- the other clients, each in a process of its own -------------------------------------------------


class _Tally:
    """A child client's count: at the ``n``-th message it reports the rate from the first one."""

    def __init__(self, n: int, report: Any) -> None:
        self.n, self.report, self.count, self.first = n, report, 0, 0.0

    def hit(self) -> bool:
        """Count one message; True at the last."""
        self.count += 1
        if self.count == 1:
            self.first = time.perf_counter()
        if self.count < self.n:
            return False
        self.report.send((self.count - 1) / (time.perf_counter() - self.first))
        return True


def _asyncio_websockets(url: str, n: int, report: Any, compression: str | None = None) -> None:
    import asyncio

    import orjson
    from websockets.asyncio.client import connect

    async def main() -> None:
        async with connect(url, max_size=None, compression=compression, origin=None) as ws:
            await ws.send(REQUEST)
            report.send("subscribed")
            tally = _Tally(n, report)
            async for frame in ws:
                orjson.loads(frame)
                if tally.hit():
                    return

    asyncio.run(main())


def _picows(url: str, n: int, report: Any) -> None:
    import asyncio

    import orjson
    from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

    tally = _Tally(n, report)

    class Listener(WSListener):  # type: ignore[misc]
        def on_ws_connected(self, transport: WSTransport) -> None:
            transport.send(WSMsgType.TEXT, REQUEST.encode())
            report.send("subscribed")

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                return
            orjson.loads(frame.get_payload_as_memoryview())
            if tally.hit():
                transport.disconnect()

    async def main() -> None:
        transport, _ = await ws_connect(Listener, url)
        await transport.wait_disconnected()

    asyncio.run(main())


def _official_sdk(url: str, n: int, report: Any) -> None:
    from upbit import Upbit

    client = Upbit(websocket_base_url=url.rsplit("/websocket", 1)[0], access_key="unused",
                   secret_key="unused")
    tally = _Tally(n, report)
    with client.ws_stream.ticker(CODES, format="SIMPLE") as stream:
        report.send("subscribed")
        for _ in stream:
            if tally.hit():
                return


def _asyncio_websockets_deflate(url: str, n: int, report: Any) -> None:
    _asyncio_websockets(url, n, report, compression="deflate")


OTHERS: dict[str, tuple[Callable[[str, int, Any], None], str | None, str]] = {
    # name -> (runner, module it needs, how to install it)
    "asyncio_websockets_orjson": (_asyncio_websockets, "orjson", "pip install orjson"),
    "asyncio_websockets_orjson_deflate": (_asyncio_websockets_deflate, "orjson", "pip install orjson"),
    "picows_orjson": (_picows, "picows", "pip install picows orjson"),
    "official_upbit_sdk": (_official_sdk, "upbit", "pip install upbit-sdk"),
}


def run_other(name: str, exchange: ExchangeProcess, n: int, frames: list[bytes]) -> float:
    runner = OTHERS[name][0]
    parent, child = mp.get_context("spawn").Pipe()
    process = mp.get_context("spawn").Process(target=runner, args=(exchange.public_url, n, child),
                                               daemon=True)
    process.start()
    try:
        if not parent.poll(30) or parent.recv() != "subscribed":
            raise TimeoutError(f"{name} did not subscribe")
        feed(exchange, _wait_subscribed(exchange), n, frames, 0.0)
        if not parent.poll(300):
            raise TimeoutError(f"{name} did not get its {n} messages")
        return float(parent.recv())
    finally:
        process.join(10)
        if process.is_alive():
            process.kill()


def missing(name: str) -> str | None:
    """Why a client cannot run here (its module is not installed), or None."""
    _, module, install = OTHERS[name]
    if module is not None and importlib.util.find_spec(module) is None:
        return f"not installed: {install}"
    return None


# ---- the report -------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5, help="throughput rounds (0: none)")
    parser.add_argument("--latency-messages", type=int, default=10_000)
    parser.add_argument("--latency-runs", type=int, default=3, help="paced runs at each rate (0: none)")
    parser.add_argument("--only", default="", help="comma-separated client names (default: all)")
    parser.add_argument("--no-orjson", action="store_true",
                        help="the SDK's fallback paths and raw dicts use json.loads, as without the "
                             "'fast' extra")
    args = parser.parse_args()
    if args.no_orjson:
        us.protocol.frames._loads = json.loads
    frames = ticker_frames(2_000)
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
                   f"{platform.python_version()}, {platform.system()}",
        "frame_bytes": round(statistics.mean(len(f) for f in frames)),
    }
    if args.rounds > 0:
        only = set(filter(None, args.only.split(",")))
        report.update(throughput(args.rounds, args.messages, frames, only))
    report["wire_bytes_per_message"] = wire_bytes()
    if args.latency_runs > 0:
        report["latency_ms"] = {f"at_{rate}_per_s": latency(args.latency_runs, args.latency_messages,
                                                            frames, rate) for rate in (5000, 20000)}
    print(json.dumps(report, indent=2))


def clients(n: int, frames: list[bytes]) -> dict[str, Callable[[ExchangeProcess], float]]:
    """Every client measured: name -> run it once against a fresh exchange, giving msg/s."""
    runs: dict[str, Callable[[ExchangeProcess], float]] = {
        "baseline_websocket_client_json_loads": lambda ex: run_baseline(ex, n, frames).rate(),
        "websocket_client_count_only": lambda ex: run_baseline(ex, n, frames, parse=False).rate(),
        "sdk_typed_callback": lambda ex: run_sdk(ex, n, frames).rate(),
        "sdk_raw_dict_callback": lambda ex: run_sdk(ex, n, frames, mode="raw").rate(),
        "sdk_stream_loop": lambda ex: run_sdk(ex, n, frames, mode="stream").rate(),
        "sdk_typed_without_read_ahead": lambda ex: run_sdk(ex, n, frames, read_ahead=False).rate(),
        "sdk_typed_callback_deflate": lambda ex: run_sdk(ex, n, frames, compression=True).rate(),
    }
    for name in OTHERS:
        # the official SDK is ~10x slower: a tenth of the messages gives the same precision
        count = n // 10 if name == "official_upbit_sdk" else n
        runs[name] = lambda ex, name=name, count=count: run_other(name, ex, count, frames)  # type: ignore[misc]
    return runs


def throughput(rounds: int, n: int, frames: list[bytes], only: set[str]) -> dict[str, Any]:
    runs = clients(n, frames)
    skipped = {name: why for name in OTHERS if (why := missing(name))}
    names = [name for name in runs if name not in skipped and (not only or name in only
                                                                or name.startswith("baseline"))]
    rates: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):  # alternate, so drift in the machine's load hits all alike
        for name in names:
            with ExchangeProcess(message_rate=0) as exchange:
                rates[name].append(runs[name](exchange))
    base = rates["baseline_websocket_client_json_loads"]

    def ratio(values: list[float]) -> float:
        # each round's figure over the baseline of the same round: the machine's drift cancels
        return round(statistics.median(r / b for r, b in zip(values, base, strict=True)), 2)

    def versus(ours: str, theirs: str) -> float | None:
        if ours not in rates or theirs not in rates:
            return None
        return round(statistics.median(t / a for t, a in zip(rates[ours], rates[theirs], strict=True)), 2)

    return {
        "messages": n,
        "msgs_per_s": {name: round(statistics.median(values)) for name, values in rates.items()},
        "ratio_to_baseline": {name: ratio(values) for name, values in rates.items()},
        "ratio_typed_to_asyncio": versus("sdk_typed_callback", "asyncio_websockets_orjson"),
        "ratio_typed_deflate_to_asyncio_deflate": versus("sdk_typed_callback_deflate",
                                                         "asyncio_websockets_orjson_deflate"),
        "rounds": {name: [round(v) for v in values] for name, values in rates.items()},
        "skipped": skipped,
    }


def latency(runs: int, n: int, frames: list[bytes], rate: float) -> dict[str, Any]:
    receipt, send, base = [], [], []  # (p50, p99) in ms per run
    receipt_deflate, send_deflate = [], []
    # no status frames: the paced sender's compressed frames must be the only ones on the socket
    quiet = {"message_rate": 0, "status_interval": 3600.0}
    for _ in range(runs):
        with ExchangeProcess(**quiet) as exchange:
            base.append(quantiles(run_baseline(exchange, n, frames, rate).latencies))
        with ExchangeProcess(**quiet) as exchange:
            run = run_sdk(exchange, max(n, int(rate)), frames, rate)
        receipt.append(quantiles(run.after_receipt))
        send.append(quantiles(run.latencies))
        with ExchangeProcess(**quiet) as exchange:
            run = run_sdk(exchange, max(n, int(rate)), frames, rate, compression=True)
        receipt_deflate.append(quantiles(run.after_receipt))
        send_deflate.append(quantiles(run.latencies))

    def summary(per_run: list[tuple[float, float]]) -> dict[str, Any]:
        return {"p50": statistics.median(p50 for p50, _ in per_run),
                "p99": statistics.median(p99 for _, p99 in per_run),
                "runs_p50_p99": per_run}

    return {"sdk_receipt_to_callback": summary(receipt),
            "sdk_send_to_callback": summary(send),
            "sdk_deflate_receipt_to_callback": summary(receipt_deflate),
            "sdk_deflate_send_to_callback": summary(send_deflate),
            "baseline_send_to_on_message": summary(base)}


def wire_bytes(count: int = 2_000) -> dict[str, Any]:
    """Mean payload bytes per message on the wire (the frame header adds 2-4), per type: SIMPLE
    JSON plain, and
    compressed by a server keeping its LZ77 window (12 bits as websockets answers, 15 as zlib's
    widest) or starting each message afresh (no context takeover)."""
    from upbit_sync.testing.compression import Deflater

    market = MarketSimulator(seed=1)
    figures: dict[str, Any] = {}
    for kind in ("ticker", "trade", "orderbook"):
        payloads = [json.dumps(formats.to_simple(market.make(kind, CODES[i % len(CODES)])),
                               separators=(",", ":")).encode() for i in range(count)]
        plain = statistics.mean(map(len, payloads))
        row: dict[str, Any] = {"plain": round(plain)}
        for name, deflater in (("window_12", Deflater(12)), ("window_15", Deflater(15)),
                               ("no_context_takeover", Deflater(15, no_context_takeover=True))):
            size = statistics.mean(len(deflater.compress(p)) for p in payloads)
            row[name] = round(size)
            row[f"{name}_ratio"] = round(size / plain, 3)
        figures["orderbook_30" if kind == "orderbook" else kind] = row
    return figures


def quantiles(values: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    return round(percentile(values, 0.5) * 1000, 3), round(percentile(values, 0.99) * 1000, 3)


if __name__ == "__main__":
    main()
