"""The faults a test makes the fake exchange play on its WebSocket connections: abrupt drops, close
frames with a code, silence, raw frames, and the firehose that floods a client for benchmarks.

Refusing upgrades and REST requests is the gateway's and the REST side's (``refuse_next``,
``refuse_rest_next``); ``FakeUpbitServer`` documents every control.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from websockets.protocol import State

from .compression import compressed_frames
from .connections import Connections, close_quietly
from .session import Session
from .wire import server_frame

_FIREHOSE_CHUNK = 1 << 16
_RSV1 = 0x40


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

    def send_raw(self, frame: bytes | str, conn_id: int | None, compressed: bool = False) -> int:
        """The frame goes as built, never compressed by the connection (a plain frame is valid on one
        that agreed to permessage-deflate). ``compressed``: the payload is taken as compressed
        already and the frame says so (RSV1), agreed or not; the connection's own compressor then
        starts a fresh window."""
        data = server_frame(frame)
        if compressed:
            data = bytes([data[0] | _RSV1]) + data[1:]
        connections = self._connections
        return sum(connections.write_frames(conn, data, 0, None, _reset_of(conn), as_is=True)
                   for conn in connections.targets(conn_id))

    def firehose(self, n: int, frames: bytes | str | Sequence[bytes | str], conn_id: int | None) -> int:
        items = [frames] if isinstance(frames, (bytes, str)) else list(frames)
        if n <= 0 or not items:
            return 0
        conns = {conn.id: conn for conn in self._connections.targets(conn_id)}
        # per kind of connection (plain, or compressed with its window): the frames, a block of
        # them repeated to ~64 KiB, and how many frames the block holds; compressed frames are made
        # here, once, so the client's inflating is measured and not the fake's zlib
        shapes: dict[tuple[int, bool] | None, tuple[list[bytes], bytes, int]] = {}
        for conn in conns.values():
            key = _shape(conn)
            if key not in shapes:
                encoded = ([server_frame(item) for item in items] if key is None
                           else compressed_frames(items, *key))
                cycle = b"".join(encoded)
                reps = max(1, _FIREHOSE_CHUNK // len(cycle))
                shapes[key] = (encoded, cycle * reps, len(encoded) * reps)
        remaining = dict.fromkeys(conns, n)
        total = 0
        while remaining:
            for cid in list(remaining):
                conn, left = conns[cid], remaining[cid]
                encoded, block, block_frames = shapes[_shape(conn)]
                if left >= block_frames:
                    data, count = block, block_frames
                else:
                    full, rest = divmod(left, len(encoded))
                    data, count = b"".join(encoded) * full + b"".join(encoded[:rest]), left
                if not self._connections.write_frames(conn, data, count, None, _reset_of(conn),
                                                      as_is=True):
                    del remaining[cid]
                    continue
                total += count
                remaining[cid] = left - count
                if remaining[cid] == 0:
                    del remaining[cid]
        return total


def _shape(conn: Session) -> tuple[int, bool] | None:
    deflater = conn.deflater
    return None if deflater is None else (deflater.window_bits, deflater.no_context_takeover)


def _reset_of(conn: Session) -> Callable[[], object] | None:
    """What must happen, under the write lock, as frames another compressor made are written to
    ``conn``: its own compressor starts a fresh window (its old one would point past them)."""
    deflater = conn.deflater
    return None if deflater is None else deflater.reset
