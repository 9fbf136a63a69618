"""What one message costs on the whole client path, socket to callback, in instructions: the steady
twin of throughput.py, for showing that a change leaves the path's cost where it was.

A client process, run under valgrind's callgrind, subscribes to ten ticker codes on the fake exchange
(in a process of its own, not counted) and takes N frames sent as fast as the socket takes them. Its
cost per message is (instructions with N frames - instructions with N/10) / (0.9 N): start-up,
connecting and subscribing cancel out. Two clients run so: the SDK (typed callbacks on its worker pool,
socket thread, read-ahead, decoding, routing, queues, metrics) and the baseline of throughput.py (a bare
websocket-client ``WebSocketApp`` with ``json.loads``); the figure to compare between builds is the
SDK's cost as a ratio of the baseline's, both measured in the same run. Under valgrind the threads run
one at a time, so the count includes the hand-offs between them but not the waiting. The SDK runs
with ``compression=False`` (plain frames, the figure comparable across builds); ``--deflate`` also
counts it with compressed frames (``sdk_deflate``: the exchange agrees to permessage-deflate).

Run: ``python benchmarks/path_cost.py [--messages 20000] [--deflate]``; ``PYTHONPATH=/other/tree``
measures the ``upbit_sync`` found there (the script itself may be newer than that tree; a tree older
than ``Config.compression`` is measured plain as it is).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from callgrind import instructions  # noqa: E402
from exchange_process import ExchangeProcess  # noqa: E402

CODES = [f"KRW-T{i}" for i in range(10)]


def _frames() -> list[bytes]:
    from upbit_sync import formats
    from upbit_sync.testing import MarketSimulator

    market = MarketSimulator(seed=1)
    return [json.dumps(formats.to_simple(market.make("ticker", CODES[i % len(CODES)])),
                       separators=(",", ":")).encode() for i in range(2_000)]


# ---- the client, in the process callgrind counts ---------------------------------------------------


def client(kind: str, url: str, n: int) -> None:
    """Take ``n`` ticker frames from the exchange at ``url``, then exit; prints "subscribed" once the
    request is sent, so the parent knows when to send."""
    done, count, lock = threading.Event(), [0], threading.Lock()

    def hit() -> None:
        with lock:
            count[0] += 1
            if count[0] >= n:
                done.set()

    if kind in ("sdk", "sdk_deflate"):
        import upbit_sync as us

        fields = {f.name for f in dataclasses.fields(us.Config)}
        options = {"compression": kind == "sdk_deflate"} if "compression" in fields else {}
        manager = us.WebSocketManager(us.Config(public_url=url, **options))
        sdk = us.WebSocketClient(manager)
        with manager:
            for code in CODES:
                sdk.subscribe("ticker", [code], lambda message: hit(), snapshot=False)
            print("subscribed", flush=True)
            done.wait(600)
            sdk.close()
        return
    import websocket

    from upbit_sync.protocol import build_request, make_spec

    request = build_request([make_spec("ticker", CODES, is_only_realtime=True)], "SIMPLE")

    def on_message(ws: Any, data: bytes) -> None:
        json.loads(data)
        hit()

    app = websocket.WebSocketApp(url, on_open=lambda ws: ws.send(request), on_message=on_message)
    thread = threading.Thread(target=app.run_forever, daemon=True,
                              kwargs={"skip_utf8_validation": True, "suppress_origin": True})
    thread.start()
    print("subscribed", flush=True)
    done.wait(600)
    app.close()
    thread.join(5)


# ---- the parent -------------------------------------------------------------------------------------


def counted(kind: str, n: int, frames: list[bytes]) -> int:
    """Instructions of one client run that takes ``n`` frames."""
    result: dict[str, int] = {}
    with ExchangeProcess(message_rate=0) as exchange:
        def feed() -> None:
            conn_id = None
            deadline = time.monotonic() + 300
            while conn_id is None and time.monotonic() < deadline:
                conn_id = exchange.call("wait_subscribed", 5.0)
            if conn_id is not None:
                time.sleep(1.0)  # under valgrind the subscription set takes a moment to settle
                exchange.call("firehose", n, frames, conn_id)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        result["count"] = instructions(__file__, "--client", kind, exchange.public_url, str(n), seed=0)
        feeder.join(60)
    return result["count"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--deflate", action="store_true", help="also the SDK with compressed frames")
    parser.add_argument("--client", nargs=3, metavar=("KIND", "URL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        kind, url, n = args.client
        client(kind, url, int(n))
        return
    frames = _frames()
    n, small = args.messages, args.messages // 10
    per_message = {}
    for kind in ("baseline", "sdk", *(("sdk_deflate",) if args.deflate else ())):
        big, little = counted(kind, n, frames), counted(kind, small, frames)
        per_message[kind] = (big - little) / (n - small)
    import upbit_sync

    print(json.dumps({
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "upbit_sync": str(Path(upbit_sync.__file__).parent),
        "messages": n,
        "instructions_per_message": {k: round(v) for k, v in per_message.items()},
        "sdk_to_baseline": round(per_message["sdk"] / per_message["baseline"], 3),
        **({"sdk_deflate_to_baseline": round(per_message["sdk_deflate"] / per_message["baseline"], 3)}
           if "sdk_deflate" in per_message else {}),
    }, indent=2))


if __name__ == "__main__":
    main()
