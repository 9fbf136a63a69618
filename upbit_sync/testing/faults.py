"""The faults a test makes the fake exchange play on its WebSocket connections: abrupt drops, close
frames with a code, silence, raw frames, and the firehose that floods a client for benchmarks.

Refusing upgrades and REST requests is the gateway's and the REST side's (``refuse_next``,
``refuse_rest_next``); ``FakeUpbitServer`` documents every control.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from websockets.protocol import State

from .connections import Connections, close_quietly
from .wire import server_frame

_FIREHOSE_CHUNK = 1 << 16


class Faults:
    """Fault controls over the live connections."""

    def __init__(self, connections: Connections) -> None:
        self._connections = connections

    def drop_all(self) -> int:
        connections = self._connections
        with connections.lock:
            conns = list(connections.live.values())
        for conn in conns:
            connections.drop(conn, "drop_all")
        return len(conns)

    def close_all(self, code: int, reason: str) -> int:
        """Close frames go out on threads of their own (``upbit-fake-close-<n>``); returns once they
        are out, without waiting for the clients' replies."""
        conns = self._connections.end_all(time.monotonic())
        for conn in conns:
            self._connections.start_thread(threading.Thread(
                target=close_quietly, args=(conn.ws, code, reason),
                name=f"upbit-fake-close-{conn.id}", daemon=True,
            ))
        deadline = time.monotonic() + 1.0
        for conn in conns:
            while conn.ws.protocol.state is State.OPEN and time.monotonic() < deadline:
                time.sleep(0.001)
        return len(conns)

    def silence(self, on: bool) -> None:
        connections = self._connections
        with connections.lock:
            connections.silenced = on
            connections.wake.notify_all()

    def send_raw(self, frame: bytes | str, conn_id: int | None) -> int:
        data = server_frame(frame)
        connections = self._connections
        return sum(connections.write_frames(conn, data, 0, None) for conn in connections.targets(conn_id))

    def firehose(self, n: int, frames: bytes | str | Sequence[bytes | str], conn_id: int | None) -> int:
        items = [frames] if isinstance(frames, (bytes, str)) else list(frames)
        if n <= 0 or not items:
            return 0
        encoded = [server_frame(item) for item in items]
        cycle = b"".join(encoded)
        reps = max(1, _FIREHOSE_CHUNK // len(cycle))
        block, block_frames = cycle * reps, len(encoded) * reps
        conns = {conn.id: conn for conn in self._connections.targets(conn_id)}
        remaining = dict.fromkeys(conns, n)
        total = 0
        while remaining:
            for cid in list(remaining):
                left = remaining[cid]
                if left >= block_frames:
                    data, count = block, block_frames
                else:
                    full, rest = divmod(left, len(encoded))
                    data, count = cycle * full + b"".join(encoded[:rest]), left
                if not self._connections.write_frames(conns[cid], data, count, None):
                    del remaining[cid]
                    continue
                total += count
                remaining[cid] = left - count
                if remaining[cid] == 0:
                    del remaining[cid]
        return total
