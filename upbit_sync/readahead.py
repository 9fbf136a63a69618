"""Read-ahead for websocket-client's frame reader: fewer system calls, fewer hand-offs of the GIL.

websocket-client reads each frame with a ``select`` and three ``recv`` calls (header, length,
payload), asking the socket for exactly the bytes it needs. Every one of those calls releases the GIL,
so with our worker threads running, each frame invites a thread switch. :class:`ReadAhead` replaces the
reader's ``recv`` with one that takes up to 64 KiB per system call and serves the parser from that
buffer.

A buffer the selector cannot see brings one duty: a complete frame must never be left in it while
websocket-client waits in ``select`` for the socket, or that frame would wait for the next one to
arrive. So after each frame the connection takes every complete frame the buffer holds
(:meth:`ReadAhead.next_frame`): plain data frames are cut out here directly, anything else goes through
websocket-client's own parser, and a close frame is left to websocket-client's read loop, woken by
shutting the socket's reading side (the frame is already here; nothing more is read).

It relies on one attribute of websocket-client's ``WebSocket``: ``frame_buffer.recv``, the function
the frame parser reads with (present since 0.4x and in 1.9). Without it the connection simply reads
the way websocket-client does.

Compressed frames (permessage-deflate, deflate.py): once negotiated, :meth:`ReadAhead.next_frame`
cuts a final compressed data frame as directly as a plain one and inflates it in the same step.
websocket-client's own parser refuses any frame with RSV1 set, so a connection that offers the
extension reads its frames with :class:`MessageReader` instead (``WebSocket.recv_frame``): it inflates
compressed messages, fragmented ones included, and hands everything else on unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from websocket import ABNF, WebSocket, WebSocketProtocolException

from .deflate import CompressionError

_now = time.time

CHUNK = 65536  # bytes asked of the socket at once; a burst of ~300-byte frames is read ~200 at a time

OPCODE_TEXT = 0x1
OPCODE_BINARY = 0x2
OPCODE_CLOSE = 0x8
OPCODE_CONT = 0x0
_FIN, _RSV1 = 0x80, 0x40
# the first byte of a plain data frame: final, no extension bits, text or binary
_PLAIN = frozenset((_FIN | OPCODE_TEXT, _FIN | OPCODE_BINARY))
# ...and of a whole compressed message: final, RSV1 (permessage-deflate), text or binary
_DEFLATED = frozenset((_FIN | _RSV1 | OPCODE_TEXT, _FIN | _RSV1 | OPCODE_BINARY))


class Pending:
    """What :meth:`ReadAhead.next_frame` returns for a complete frame it does not cut out itself."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


PARSE = Pending("PARSE")  # complete, but not a plain data frame: websocket-client's parser reads it
CLOSE = Pending("CLOSE")  # complete close frame: websocket-client's read loop must handle it


class ReadAhead:
    """A buffered ``recv(bufsize)`` for websocket-client's frame parser.

    ``recv`` is websocket-client's own function (``WebSocket._recv``), so timeouts, errors and the end
    of the connection are reported exactly as before. Used by one thread only: the socket's.
    """

    __slots__ = ("_buf", "_pos", "_recv", "inflate", "read_at")

    def __init__(self, recv: Callable[[int], bytes]) -> None:
        self._recv = recv
        self._buf = b""
        self._pos = 0
        self.read_at = 0.0  # wall-clock time of the last socket read: the receipt time of its frames
        # the socket's Inflater.inflate once permessage-deflate is negotiated: compressed frames are
        # cut and inflated here; None leaves them to the MessageReader (which refuses them)
        self.inflate: Callable[[bytes], bytes] | None = None

    def __call__(self, bufsize: int) -> bytes:
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            buf = self._recv(CHUNK)
            self.read_at = _now()  # one clock read per socket read, not per frame
            pos = 0
            self._buf = buf
        end = pos + bufsize
        self._pos = end if end < len(buf) else len(buf)
        return buf[pos:end]

    @property
    def buffered(self) -> int:
        """Bytes read from the socket that the parser has not taken yet."""
        return len(self._buf) - self._pos

    def next_frame(self) -> bytes | Pending | None:
        """The payload of the next frame when it is complete in the buffer and plain (final, not
        masked, no extension bits, text or binary), or compressed the same way and inflated (once
        negotiated); consumed. ``PARSE`` or ``CLOSE`` for another complete frame, left in place.
        None when the next frame is not complete yet. Raises CompressionError for a compressed
        frame that does not inflate."""
        buf, pos = self._buf, self._pos
        size = len(buf)
        if size - pos < 2:
            return None
        b0, b1 = buf[pos], buf[pos + 1]
        if b1 < 127 and b0 in _PLAIN:  # the usual frame (unmasked, under 64 KiB): _bounds, inline
            if b1 == 126:
                start = pos + 4
                if start > size:
                    return None
                end = start + (buf[pos + 2] << 8 | buf[pos + 3])
            else:
                start = pos + 2
                end = start + b1
            if end > size:
                return None
            self._pos = end
            return buf[start:end]
        inflate = self.inflate
        if b1 < 127 and b0 in _DEFLATED and inflate is not None:  # the same, compressed
            if b1 == 126:
                start = pos + 4
                if start > size:
                    return None
                end = start + (buf[pos + 2] << 8 | buf[pos + 3])
            else:
                start = pos + 2
                end = start + b1
            if end > size:
                return None
            self._pos = end
            return inflate(buf[start:end])
        bounds = _bounds(buf, pos)
        if bounds is None:
            return None
        start, end = bounds
        opcode = b0 & 0x0F
        if b0 in _PLAIN and not b1 & 0x80:
            self._pos = end
            return buf[start:end]
        return CLOSE if opcode == OPCODE_CLOSE else PARSE

    def has_frame(self) -> bool:
        """True when a complete frame of any kind waits in the buffer."""
        return _bounds(self._buf, self._pos) is not None


class MessageReader:
    """Stands in for ``WebSocket.recv_frame`` on a connection that offered permessage-deflate:
    reads one frame with ``recv`` (the read-ahead, or websocket-client's own socket read) and
    returns it as websocket-client's ``ABNF``, a compressed message whole and inflated.

    A compressed message may come in fragments (RSV1 on the first only; pings may come between):
    they are gathered here and inflated once the last arrives. Plain frames, fragments included, go
    on unchanged to websocket-client, which handles them as always. A compressed frame with nothing
    negotiated (``inflate`` None), RSV1 where it may not be, or a message past ``limit`` raises
    CompressionError; RSV2/RSV3 and masked frames raise websocket-client's protocol error.
    """

    __slots__ = ("_opcode", "_parts", "_recv", "_size", "inflate", "limit")

    def __init__(self, recv: Callable[[int], bytes], inflate: Callable[[bytes], bytes] | None,
                 limit: int) -> None:
        self._recv = recv
        self.inflate = inflate
        self.limit = limit
        self._parts: list[bytes] | None = None  # the fragments of a compressed message so far
        self._opcode = OPCODE_BINARY
        self._size = 0

    def _read(self, n: int) -> bytes:
        """Exactly ``n`` bytes (``recv`` may return fewer, and raises at the connection's end)."""
        data = self._recv(n)
        if len(data) < n:
            parts = [data]
            got = len(data)
            while got < n:
                more = self._recv(n - got)
                parts.append(more)
                got += len(more)
            data = b"".join(parts)
        return data

    def recv_frame(self) -> ABNF:
        while True:
            head = self._read(2)
            b0, b1 = head[0], head[1]
            length = b1 & 0x7F
            if length == 126:
                length = int.from_bytes(self._read(2), "big")
            elif length == 127:
                length = int.from_bytes(self._read(8), "big")
            if b1 & 0x80:
                raise WebSocketProtocolException("the server sent a masked frame")
            if b0 & 0x30:
                raise WebSocketProtocolException("RSV2 or RSV3 set on a frame: no such extension")
            opcode, fin, compressed = b0 & 0x0F, b0 >> 7, b0 & _RSV1
            parts = self._parts
            if compressed and (opcode == OPCODE_CONT or opcode >= OPCODE_CLOSE):
                raise CompressionError(f"RSV1 set on a frame of opcode {opcode}, where it may not be")
            if compressed or (parts is not None and opcode == OPCODE_CONT):
                if compressed and self.inflate is None:
                    raise CompressionError("a compressed frame (RSV1) arrived, but the server did "
                                           "not agree to permessage-deflate on the upgrade")
                if compressed and parts is not None:
                    raise CompressionError("a new message began before the compressed one ended")
                size = (0 if compressed else self._size) + length
                if size > self.limit:
                    raise CompressionError(f"a compressed message exceeds {self.limit} bytes")
                payload = self._read(length)
                if fin:
                    if parts is not None:
                        parts.append(payload)
                        payload, self._parts = b"".join(parts), None
                    inflate = self.inflate
                    assert inflate is not None
                    return ABNF(1, 0, 0, 0, opcode if compressed else self._opcode, 0,
                                inflate(payload))
                if compressed:
                    self._parts, self._opcode = [payload], opcode
                else:
                    assert parts is not None
                    parts.append(payload)
                self._size = size
                continue
            if parts is not None and opcode in (OPCODE_TEXT, OPCODE_BINARY):
                raise CompressionError("a new message began before the compressed one ended")
            frame = ABNF(fin, 0, 0, 0, opcode, 0, self._read(length) if length else b"")
            frame.validate(True)
            return frame


_reads_compressed: bool | None = None


def can_read_compressed() -> bool:
    """True when this websocket-client is built the way :class:`MessageReader` needs (a WebSocket
    whose ``frame_buffer.recv`` it can read with and whose ``recv_frame`` it can stand in for);
    found out once per process. Without it a connection must not offer compression at all."""
    global _reads_compressed
    if _reads_compressed is None:
        ws = WebSocket()
        parser = getattr(ws, "frame_buffer", None)
        _reads_compressed = callable(getattr(parser, "recv", None)) and callable(
            getattr(ws, "recv_frame", None))
    return _reads_compressed


def _bounds(buf: bytes, pos: int) -> tuple[int, int] | None:
    """Where the payload of the frame at ``pos`` starts and ends; None if it is not all in ``buf``."""
    size = len(buf)
    if size - pos < 2:
        return None
    b1 = buf[pos + 1]
    length = b1 & 0x7F
    start = pos + 2
    if length == 126:
        start += 2
        if start > size:
            return None
        length = int.from_bytes(buf[pos + 2:start], "big")
    elif length == 127:
        start += 8
        if start > size:
            return None
        length = int.from_bytes(buf[pos + 2:start], "big")
    if b1 & 0x80:  # masked: a server must not; websocket-client's parser deals with it
        start += 4
    end = start + length
    return None if end > size else (start, end)


def install(ws: Any) -> ReadAhead | None:
    """Put a :class:`ReadAhead` under ``ws``'s frame parser (a websocket-client ``WebSocket``, just
    connected); None, and nothing changed, if this websocket-client is not built that way."""
    parser = getattr(ws, "frame_buffer", None)
    recv = getattr(parser, "recv", None)
    if parser is None or not callable(recv) or getattr(parser, "recv_buffer", None):
        return None
    ahead = ReadAhead(recv)
    parser.recv = ahead
    return ahead
