"""Where the time of one message goes: the firehose under a profiler, cost per message by stage.

The fake exchange (a process of its own) sends ``--messages`` SIMPLE ticker frames as fast as the
socket takes them to one SDK subscription with a typed callback. Each of the SDK's threads (the
socket thread, the workers) runs under ``cProfile``; every function's own time is put in a stage:

- **read** — websocket-client's read loop and frame parser, the socket, the read-ahead's ``recv``
- **frame cut** — the read-ahead cutting complete frames out of its buffer, the connection's drain
- **decode** — the frame into its typed message (msgspec; before 0.3: orjson to a dict), and
  ``FrameReader`` for the frames that decoder refuses
- **route** — ``Router.feed``/``route``: stamp, count, look up the subscribers
- **hand-off** — ``Router.hand_off``, ``Dispatcher.submit_many``/``flush`` and the locks
  the socket thread takes
- **worker wake-up** — a worker's loop, waiting and being woken
- **worker loop** — taking entries off the batch, sampling latency
- **build** — making the typed message where the worker does it (the careful path), ``Delivery``
- **callback** — the subscriber's own function

Each thread is timed by its own CPU clock (``time.thread_time``), so waiting costs nothing. cProfile
adds its own cost to every call (and a clock read costs a system call), so the absolute figures are
inflated; the shares and the calls per message are what to compare between builds. With
``--py-spy`` (when py-spy is installed) the same run is sampled instead, which barely slows it down,
and the leaf frame of each sample is put in its stage. benchmarks/results.md keeps the tables.

Run: ``python benchmarks/profile_hot_path.py [--messages 200000] [--py-spy] [--raw]``
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import itertools
import json
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from exchange_process import ExchangeProcess

import upbit_sync as us
from upbit_sync import formats
from upbit_sync.testing import MarketSimulator

CODES = [f"KRW-T{i}" for i in range(10)]
STAGES = ("read", "frame cut", "decode", "route", "hand-off", "worker wake-up", "worker loop", "build",
          "callback", "other")

# (file name ending, function name or "*") -> stage; the first match wins
RULES: list[tuple[str, str, str]] = [
    ("readahead.py", "__call__", "read"),
    ("readahead.py", "*", "frame cut"),
    ("connection.py", "_drain", "frame cut"),
    ("connection.py", "_handle_message", "frame cut"),
    ("connection.py", "_finish_batch", "frame cut"),
    ("connection.py", "input_pending", "frame cut"),
    ("connection.py", "_handle_control", "frame cut"),
    ("link.py", "_on_batch_end", "frame cut"),
    ("link.py", "_log_traffic", "frame cut"),
    ("/protocol/", "*", "decode"),
    ("~", "<orjson.loads>", "decode"),
    ("router.py", "route", "route"),
    ("router.py", "feed", "route"),  # Router.feed: decode (its own stage) and route
    ("router.py", "hand_off", "hand-off"),
    ("dispatch.py", "submit_many", "hand-off"),
    ("dispatch.py", "_put", "hand-off"),
    ("~", "<method 'decode' of 'msgspec.json.Decoder' objects>", "decode"),
    ("~", "<built-in method builtins.len>", "route"),
    ("router.py", "_tell_listeners", "route"),
    ("dispatch.py", "flush", "hand-off"),
    ("dispatch.py", "signal", "hand-off"),
    ("dispatch.py", "_nudge", "hand-off"),
    ("dispatch.py", "_run", "worker wake-up"),
    ("dispatch.py", "_due_losses", "worker wake-up"),
    ("dispatch.py", "_process", "worker loop"),
    ("latency.py", "*", "worker loop"),
    ("dispatch.py", "add", "worker loop"),
    ("<string>", "build", "build"),
    ("subscriptions.py", "_plain", "build"),
    ("subscriptions.py", "_backfilled", "build"),
    ("/types/", "*", "build"),
    ("/protocol/", "_typed", "build"),
    ("profile_hot_path.py", "on_message", "callback"),
    ("websocket", "*", "read"),
    ("socket.py", "*", "read"),
    ("ssl.py", "*", "read"),
    ("selectors.py", "*", "read"),
]


def stage_of(filename: str, function: str, thread: str) -> str:
    for ending, name, stage in RULES:
        if (ending in filename) and (name == "*" or name == function):
            return stage
    if "lock" in function or "acquire" in function or "release" in function or "__exit__" in function \
            or "__enter__" in function:  # a lock's own time belongs to whoever takes it
        return "hand-off" if thread.startswith("upbit-ws-") else "worker wake-up"
    if "select" in function or "poll" in function or "recv" in function:
        return "read"
    return "other"


def ticker_frames(count: int) -> list[bytes]:
    market = MarketSimulator(seed=1)
    return [json.dumps(formats.to_simple(market.make("ticker", CODES[i % len(CODES)])),
                       separators=(",", ":")).encode() for i in range(count)]


class Count:
    def __init__(self, n: int) -> None:
        self.n, self.done = n, threading.Event()
        self._next = itertools.count(1).__next__  # C-level: atomic under the GIL, no lock to pay

    def on_message(self, message: Any) -> None:
        if self._next() >= self.n:
            self.done.set()


def firehose(n: int, raw: bool, profile: bool) -> tuple[float, list[tuple[str, cProfile.Profile]]]:
    """Run the SDK through ``n`` frames; the seconds it took and each profiled thread's profile."""
    if profile and sys.version_info >= (3, 12):
        # cProfile watches every thread through sys.monitoring there, and only one may run
        raise SystemExit("profile_hot_path.py profiles each thread on its own: run it on CPython 3.10 or "
                         "3.11 (tests/engine/test_hot_path.py counts calls on every version)")
    profiles: list[tuple[str, cProfile.Profile]] = []
    original = threading.Thread.run

    def run(thread: threading.Thread) -> None:
        if profile and thread.name.startswith(("upbit-ws-public", "upbit-worker-")):
            # CPU time of the thread, not the wall clock: a thread waiting for work (the socket's
            # select, a worker's lock) costs nothing, as it costs the process nothing
            profiler = cProfile.Profile(time.thread_time)
            profiles.append((thread.name, profiler))
            profiler.enable()
            try:
                original(thread)
            finally:
                profiler.disable()
        else:
            original(thread)

    threading.Thread.run = run  # type: ignore[method-assign]
    counter = Count(n)
    try:
        with ExchangeProcess(message_rate=0) as exchange, \
                us.WebSocketManager(us.Config(public_url=exchange.public_url)) as manager:
            client = us.WebSocketClient(manager)
            for code in CODES:
                client.subscribe("ticker", [code], counter.on_message, snapshot=False, raw=raw)
            conn_id = exchange.call("wait_subscribed", 10.0)
            time.sleep(0.3)  # the subscription settles (snapshots are off)
            started = time.perf_counter()
            exchange.call("firehose", n, ticker_frames(2_000), conn_id)
            counter.done.wait(300)
            took = time.perf_counter() - started
            client.close()
    finally:
        threading.Thread.run = original  # type: ignore[method-assign]
    return took, profiles


def by_stage(profiles: list[tuple[str, cProfile.Profile]], n: int) -> dict[str, Any]:
    """Each function's own time in its stage; a C function's (``len``, a dict lookup, a lock, the
    decoder itself unless a rule names it) in the stage of the Python function that called it."""
    seconds: collections.Counter[str] = collections.Counter()
    calls = 0
    for thread, profiler in profiles:
        stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        for (filename, _, function), (_, ncalls, tottime, _, callers) in stats.items():
            calls += ncalls
            stage = stage_of(filename, function, thread)
            if filename != "~" or stage != "other" or not callers:
                seconds[stage] += tottime
                continue
            for (caller_file, _, caller), (_, _, caller_tottime, _) in callers.items():
                seconds[stage_of(caller_file, caller, thread)] += caller_tottime
    total = sum(seconds.values())
    return {
        "calls_per_message": round(calls / n, 1),
        "most_called": most_called(profiles, n),
        "us_per_message": {s: round(seconds[s] / n * 1e6, 3) for s in STAGES},
        "share_percent": {s: round(seconds[s] / total * 100, 1) for s in STAGES},
        "profiled_us_per_message": round(total / n * 1e6, 2),
    }


def most_called(profiles: list[tuple[str, cProfile.Profile]], n: int, top: int = 25) -> list[str]:
    """The functions called most per message: "calls/message  own µs/message  thread  file:function"."""
    calls: collections.Counter[tuple[str, str]] = collections.Counter()
    own: collections.Counter[tuple[str, str]] = collections.Counter()
    for thread, profiler in profiles:
        stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        for (filename, _, function), (_, ncalls, tottime, _, _) in stats.items():
            key = ("socket" if thread.startswith("upbit-ws-") else "worker",
                   f"{Path(filename).name}:{function}")
            calls[key] += ncalls
            own[key] += tottime
    return [f"{count / n:6.2f} {own[key] / n * 1e6:7.2f} {key[0]:6} {key[1]}"
            for key, count in calls.most_common(top)]


def py_spy(n: int, raw: bool) -> dict[str, Any] | None:
    """The same run sampled by py-spy (leaf frame of each sample -> stage); None without py-spy."""
    binary = shutil.which("py-spy")
    if binary is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "samples.txt"
        command = [binary, "record", "--format", "raw", "--threads", "--rate", "500", "--output",
                   str(out), "--", sys.executable, __file__, "--messages", str(n), "--no-profile"]
        if raw:
            command.append("--raw")
        subprocess.run(command, check=True, capture_output=True, timeout=900)
        samples: collections.Counter[str] = collections.Counter()
        for line in out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames = stack.split(";")
            thread = frames[0] if frames else ""
            if "upbit-ws-public" not in thread and "upbit-worker" not in thread:
                continue
            leaf = frames[-1]  # "function (file:line)"
            function, _, where = leaf.partition(" (")
            samples[stage_of(where, function.strip(), thread)] += int(count)
    total = sum(samples.values()) or 1
    return {"samples": total, "share_percent": {s: round(samples[s] / total * 100, 1) for s in STAGES}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--raw", action="store_true", help="raw=True dicts instead of typed messages")
    parser.add_argument("--py-spy", action="store_true", help="also sample the run with py-spy")
    parser.add_argument("--no-profile", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.no_profile:  # the run py-spy samples
        took, _ = firehose(args.messages, args.raw, profile=False)
        print(json.dumps({"msgs_per_s": round(args.messages / took)}))
        return
    plain, _ = firehose(args.messages, args.raw, profile=False)
    took, profiles = firehose(args.messages, args.raw, profile=True)
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
                   f"{platform.python_version()}, {platform.system()}",
        "messages": args.messages,
        "delivery": "raw dicts" if args.raw else "typed Ticker",
        "msgs_per_s_unprofiled": round(args.messages / plain),
        "msgs_per_s_under_cprofile": round(args.messages / took),
        "cprofile": by_stage(profiles, args.messages),
    }
    if args.py_spy:
        report["py_spy"] = py_spy(args.messages, args.raw) or "py-spy is not installed: pip install py-spy"
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
