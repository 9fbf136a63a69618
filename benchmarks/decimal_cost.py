"""What ``Config(decimal=True)`` costs per private message: the decode of myOrder frames into their
typed message with the money figures as floats (off) or as exact Decimals (on).

Two paths, as the private connection runs them, on this one thread and without a socket:

- ``SIMPLE`` (the SDK's wire format): the strict decoder, ``protocol.typed_decoder("SIMPLE",
  decimal)``, one call per frame (``Router.feed``'s decode);
- ``DEFAULT``: the careful path, a ``FrameReader`` loading the frame (orjson, or ``load_exact`` with
  decimal on) and ``to_message(item, decimal)`` making the message (what a worker does).

Each round decodes the same frames with decimal off and on, alternating; the figures are the medians
of CPU time per message and of the rounds' on/off ratios. ``--callgrind`` instead counts instructions
under valgrind (the same count for the same code however busy the machine is). Public messages take
no part: they are decoded as before whatever the setting (tests/model/test_decimal.py).

Run: ``python benchmarks/decimal_cost.py [--messages 20000] [--rounds 9] [--callgrind]``
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from callgrind import instructions

from upbit_sync.protocol import FrameReader, to_message, typed_decoder
from upbit_sync.testing import MarketSimulator, encode

CODES = ("KRW-BTC", "KRW-ETH", "KRW-XRP", "BTC-ETH", "USDT-BTC")
STATES = ("wait", "trade", "done", "cancel")
FORMATS = ("SIMPLE", "DEFAULT")


def frames(count: int, wire_format: str) -> list[bytes]:
    """``count`` plausible myOrder frames (the fake exchange's), codes and states mixed."""
    market = MarketSimulator(seed=1)
    return [encode(market.my_order(code=CODES[i % len(CODES)], state=STATES[i % len(STATES)],
                                   ask_bid="BID" if i % 3 else "ASK"), wire_format)
            for i in range(count)]


def decoder(wire_format: str, decimal: bool) -> Callable[[bytes], Any]:
    """One frame to its typed message, the way the private connection does it."""
    if wire_format == "SIMPLE":
        strict = typed_decoder("SIMPLE", decimal=decimal)
        assert strict is not None
        return strict
    made: list[Any] = []

    def on_data(item: dict[str, Any], size: int, received_at: float) -> bool:
        made.append(to_message(item, decimal))
        return True

    def on_bad(error: Exception, frame: bytes | str) -> None:
        raise error

    feed = FrameReader(on_data, lambda message: None, on_bad, decimal=decimal).feed

    def careful(frame: bytes) -> Any:
        feed(frame)
        return made.pop()

    return careful


def run(wire_format: str, decimal: bool, wire: list[bytes], measure: bool = True) -> float:
    """CPU seconds per message to decode every frame of ``wire`` (``measure=False``: only the
    set-up, callgrind's baseline)."""
    decode = decoder(wire_format, decimal)
    kind = type(decode(wire[0]).price)
    assert kind is (Decimal if decimal else float), kind
    if not measure:
        return 0.0
    gc.collect()
    gc.disable()
    cpu = time.process_time()
    for frame in wire:
        decode(frame)
    spent = time.process_time() - cpu
    gc.enable()
    return spent / len(wire)


def callgrind(wire_format: str, decimal: bool, n: int) -> int:
    """Instructions to decode ``n`` messages under valgrind's callgrind: a run that makes the frames
    and the decoder and decodes them, less one that only makes them."""
    counts = [instructions(__file__, "--one", wire_format, "on" if decimal else "off", mode,
                           "--messages", str(n)) for mode in ("setup", "decode")]
    return counts[1] - counts[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--callgrind", action="store_true", help="count instructions under valgrind")
    parser.add_argument("--one", nargs=3, metavar=("FORMAT", "DECIMAL", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # one run under callgrind: the frames and the decoder are made in both modes alike
        wire_format, setting, mode = args.one
        run(wire_format, setting == "on", frames(args.messages, wire_format), measure=mode == "decode")
        return
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
                   f"{platform.python_version()}, {platform.system()}",
        "messages_per_round": args.messages,
    }
    for wire_format in FORMATS:
        if args.callgrind:
            on = callgrind(wire_format, True, args.messages)
            off = callgrind(wire_format, False, args.messages)
            report[wire_format] = {"instructions_per_message_on": round(on / args.messages),
                                   "instructions_per_message_off": round(off / args.messages),
                                   "cost_percent": round((on / off - 1) * 100, 1)}
            continue
        wire = frames(args.messages, wire_format)
        times_on, times_off = [], []
        for _ in range(args.rounds):
            times_off.append(run(wire_format, False, wire))
            times_on.append(run(wire_format, True, wire))
        ratios = [a / b for a, b in zip(times_on, times_off, strict=True)]
        report[wire_format] = {
            "cpu_us_per_message_on": round(statistics.median(times_on) * 1e6, 3),
            "cpu_us_per_message_off": round(statistics.median(times_off) * 1e6, 3),
            "rounds_on_over_off": [round(r, 3) for r in ratios],
            "cost_median_percent": round((statistics.median(ratios) - 1) * 100, 1),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
