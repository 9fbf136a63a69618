"""The fake exchange in a process of its own, for benchmarks: a real exchange is not in the client's
process, and one in the same process would compete with the client for the GIL."""

from __future__ import annotations

import multiprocessing as mp
import time
from multiprocessing.connection import Connection
from typing import Any


def _serve(pipe: Connection, options: dict[str, Any]) -> None:
    from upbit_sync.testing import FakeUpbitServer

    with FakeUpbitServer(**options) as server:
        pipe.send(server.public_url)
        while True:
            command, args = pipe.recv()
            if command == "stop":
                pipe.send(None)
                return
            if command == "wait_subscribed":
                deadline = time.monotonic() + args[0]
                found = None
                while found is None and time.monotonic() < deadline:
                    found = next((c.id for c in server.open_connections() if c.subscriptions), None)
                    time.sleep(0.01)
                pipe.send(found)
            elif command == "firehose":
                pipe.send(server.firehose(*args))
            elif command == "paced":
                pipe.send(_paced(server, *args))
            elif command == "market_firehose":
                pipe.send(_market_firehose(server, *args))
            else:
                pipe.send(getattr(server, command)(*args))


def _market_firehose(server: Any, n: int, types: list[str], codes: list[str], conn_id: int,
                     rate: float = 0.0) -> int:
    """``n`` realistic SIMPLE frames, one per type and code, cycled; at ``rate`` per second in 10 ms
    batches, or as fast as the socket takes them (0). The frames are made here, so that the client
    being measured never imports the testing package."""
    import json

    from upbit_sync import formats
    from upbit_sync.testing import MarketSimulator

    market = MarketSimulator(seed=1)
    frames = [json.dumps(formats.to_simple(market.make(kind, code)), separators=(",", ":")).encode()
              for code in codes for kind in types]
    if rate <= 0:
        return int(server.firehose(n, frames, conn_id))
    batch = max(1, int(rate / 100))
    sent, start = 0, time.perf_counter()
    while sent < n:
        count = min(batch, n - sent)
        first = sent % len(frames)
        chunk = (frames[first:] + frames[:first]) * (count // len(frames) + 1)
        written = int(server.firehose(count, chunk[:count], conn_id))
        if not written:  # the connection is gone
            break
        sent += written
        delay = start + sent / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    return sent


def _paced(server: Any, conn_id: int, frames: list[bytes], rate: float) -> int:
    """Send the frames at ``rate`` per second; a frame's ``{STAMP}`` becomes the wall-clock send
    time in ns (both processes share the clock). Compressed (one window kept across the frames)
    when the connection agreed to permessage-deflate, as the exchange would send them: nothing else
    may be written to that connection meanwhile (run the exchange with a long ``status_interval``)."""
    from upbit_sync.testing.compression import Deflater

    info = next(c for c in server.connections if c.id == conn_id)
    deflater = Deflater(12) if info.compressed else None
    interval = 1 / rate
    start = time.perf_counter()
    for i, frame in enumerate(frames):
        target = start + i * interval
        # Spin, not sleep. Measured here, a sender that sleeps between frames raised the client's
        # receipt -> callback p99 from 0.4-0.6 ms to 0.9-2.4 ms, most likely because the client's
        # threads are then woken on a virtual CPU that had gone idle (README, Measured).
        while time.perf_counter() < target:
            pass
        payload = frame.replace(b"{STAMP}", str(time.time_ns()).encode())
        if deflater is None:
            server.send_raw(payload, conn_id)
        else:
            server.send_raw(deflater.compress(payload), conn_id, compressed=True)
    return len(frames)


class ExchangeProcess:
    """Start with ``with ExchangeProcess(message_rate=0) as ex:``; ``ex.call("firehose", n, frames)``."""

    def __init__(self, **options: Any) -> None:
        # The benchmarks subscribe to synthetic codes (KRW-M000, KRW-T0, ...): serve any well-formed one.
        options = {"markets": None, **options}
        self._options = options
        ctx = mp.get_context("spawn")
        self._pipe, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, options), daemon=True)

    def __enter__(self) -> ExchangeProcess:
        self._process.start()
        self.public_url: str = self._pipe.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call("stop")
        finally:
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()

    def call(self, command: str, *args: Any) -> Any:
        self._pipe.send((command, args))
        return self._pipe.recv()
