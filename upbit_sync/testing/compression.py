"""The fake exchange's side of permessage-deflate (RFC 7692): what it agrees to, and how it
compresses the frames it writes.

websockets negotiates the extension on the upgrade (``serve(extensions=...)``), but the fake writes
its frames to the socket itself, pre-encoded (``Connections.write_frames``), so websockets never
compresses them: each connection that agreed gets a :class:`Deflater` that does, with its own zlib
context, in the order the frames hit the socket. The fake reads its own answer to build it, with a
parser of its own: a test of the client's parser against the fake's would otherwise prove nothing.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from typing import Any

from websockets.extensions.base import ServerExtensionFactory
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

# FakeUpbitServer(compression=...): agree as websockets does by default (as Upbit does), agree with
# a fresh context for every message, or decline (no extension in the answer)
MODES: tuple[Any, ...] = (True, False, "no_context_takeover")

_FIN, _RSV1 = 0x80, 0x40
_TAIL = b"\x00\x00\xff\xff"
_LEVEL = 6  # zlib's default, as a Java or Go server uses it


def extensions(mode: Any) -> list[ServerExtensionFactory] | None:
    """The extension factories for websockets' ``serve``; None: decline every offer."""
    if mode not in MODES:
        raise ValueError(f"compression must be one of {MODES}, not {mode!r}")
    if mode is False:
        return None
    # websockets' own defaults (window 12 bits, memLevel 5), and per-message contexts if asked
    return [ServerPerMessageDeflateFactory(
        server_no_context_takeover=mode == "no_context_takeover", server_max_window_bits=12,
        client_max_window_bits=12, compress_settings={"memLevel": 5},
    )]


class Deflater:
    """Compresses one connection's messages in order: its own LZ77 window, kept across messages
    unless ``no_context_takeover``. Used under the connection's write lock only."""

    def __init__(self, window_bits: int = 15, no_context_takeover: bool = False) -> None:
        self.window_bits = window_bits
        self.no_context_takeover = no_context_takeover
        self._encoder = self._new()

    def _new(self) -> Any:
        return zlib.compressobj(_LEVEL, zlib.DEFLATED, -self.window_bits)

    def reset(self) -> None:
        """Start a fresh window: after frames another compressor made reached the client (its
        window holds them now, this one's would point past them)."""
        self._encoder = self._new()

    def compress(self, payload: bytes) -> bytes:
        """One message's compressed payload, its flush's ``00 00 ff ff`` tail stripped."""
        if self.no_context_takeover:
            self.reset()
        encoder = self._encoder
        data: bytes = encoder.compress(payload) + encoder.flush(zlib.Z_SYNC_FLUSH)
        return data[:-4] if data.endswith(_TAIL) else data

    def frame(self, payload: bytes, opcode: int = 0x2) -> bytes:
        """A whole compressed server frame (FIN, RSV1) of ``payload``."""
        return _header(_FIN | _RSV1 | opcode, self.compress(payload))

    def reframe(self, data: bytes) -> bytes:
        """Plain server frames, back to back (``wire.server_frame``'s), with each whole data
        frame's payload compressed; control frames and fragments go as they are."""
        out: list[bytes] = []
        pos, size = 0, len(data)
        while pos < size:
            b0, b1 = data[pos], data[pos + 1]
            length, start = b1 & 0x7F, pos + 2
            if length == 126:
                length, start = struct.unpack_from("!H", data, pos + 2)[0], pos + 4
            elif length == 127:
                length, start = struct.unpack_from("!Q", data, pos + 2)[0], pos + 10
            end = start + length
            if b0 in (_FIN | 0x1, _FIN | 0x2):
                out.append(self.frame(data[start:end], b0 & 0x0F))
            else:
                out.append(data[pos:end])
            pos = end
        return b"".join(out)


def answered(value: str | None) -> Deflater | None:
    """The Deflater for the answer the fake sent (``Sec-WebSocket-Extensions``), None if it declined."""
    if not value:
        return None
    params = [part.strip().lower() for part in value.split(";")]
    if params[0] != "permessage-deflate":
        return None
    bits, fresh = 15, False
    for param in params[1:]:
        key, _, raw = param.partition("=")
        if key.strip() == "server_max_window_bits":
            bits = int(raw.strip().strip('"'))
        elif key.strip() == "server_no_context_takeover":
            fresh = True
    return Deflater(bits, fresh)


def compressed_frames(payloads: Sequence[bytes | str], window_bits: int,
                      no_context_takeover: bool) -> list[bytes]:
    """The firehose's frames, compressed in order by one fresh Deflater: a run of them inflates the
    same wherever it starts in a client's window, so a block of them can be written again and again
    (the writer resets the connection's own Deflater with each block)."""
    deflater = Deflater(window_bits, no_context_takeover)
    frames = []
    for item in payloads:
        opcode, data = (0x1, item.encode("utf-8")) if isinstance(item, str) else (0x2, bytes(item))
        frames.append(deflater.frame(data, opcode))
    return frames


def _header(b0: int, data: bytes) -> bytes:
    size = len(data)
    if size < 126:
        return struct.pack("!BB", b0, size) + data
    if size < 1 << 16:
        return struct.pack("!BBH", b0, 126, size) + data
    return struct.pack("!BBQ", b0, 127, size) + data
