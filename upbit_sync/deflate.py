"""permessage-deflate (RFC 7692), the pure part: the offer, the server's answer, and the inflater.

Upbit compresses its frames when the upgrade offers the extension. The client offers
:data:`OFFER` (``Sec-WebSocket-Extensions``), reads the answer with :func:`parse_answer` (None: the
server declined, frames stay plain), and inflates each compressed message with an :class:`Inflater`.
Client-to-server frames stay uncompressed, which the extension allows. The socket side (which frames
are compressed, fragments) is in readahead.py and connection.py.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from .errors import DecodeError

EXTENSION = "permessage-deflate"
HEADER = "Sec-WebSocket-Extensions"
# client_max_window_bits without a value: the server may name any window for the client's side,
# which costs nothing, as the client never compresses
OFFER = f"{EXTENSION}; client_max_window_bits"
OFFER_HEADER = f"{HEADER}: {OFFER}"

# The most bytes one message may inflate to: far above anything Upbit sends (a 30-level orderbook is
# ~2 kB, a LIST_SUBSCRIPTIONS reply a few kB), low enough that a "zip bomb" frame (a few kB that
# inflate to gigabytes) ends the socket instead of the process's memory.
MAX_MESSAGE = 4 * 1024 * 1024

# what the sender's flush leaves at the end of every message, and RFC 7692 §7.2.2 strips: put back
# before inflating
_TAIL = b"\x00\x00\xff\xff"
_WINDOWS = range(8, 16)


class CompressionError(DecodeError):
    """A compressed stream the client cannot take: an answer it cannot honour, a compressed frame
    when nothing was negotiated, data that does not inflate, or a message past the size bound. The
    connection that met it is ended and opened again, as after any fault."""


@dataclass(frozen=True)
class Agreement:
    """What the server's answer settled for the frames it sends: its LZ77 window, and whether each
    message starts with an empty one (``server_no_context_takeover``)."""

    window_bits: int = 15
    no_context_takeover: bool = False


def parse_answer(value: str | None) -> Agreement | None:
    """The server's ``Sec-WebSocket-Extensions`` answer to :data:`OFFER`: None when it names no
    extension (declined), else the :class:`Agreement`. Raises CompressionError for an answer the
    client must refuse (RFC 7692 §5, §7.1): another extension, two of them, a parameter unknown,
    repeated or out of range."""
    if value is None or not value.strip():
        return None
    elements = [element.strip() for element in value.split(",")]
    if len(elements) != 1:
        raise CompressionError(f"the server answered more than one extension: {value!r}")
    name, *params = (part.strip() for part in elements[0].split(";"))
    if name.lower() != EXTENSION:
        raise CompressionError(f"the server answered an extension that was not offered: {name!r}")
    window_bits, no_takeover = 15, False
    seen: set[str] = set()
    for param in params:
        key, has_value, raw = (part.strip() for part in param.partition("="))
        key = key.lower()
        raw = raw.strip('"')
        if key in seen:
            raise CompressionError(f"permessage-deflate answer repeats {key}: {value!r}")
        seen.add(key)
        if key in ("server_no_context_takeover", "client_no_context_takeover"):
            if has_value:
                raise CompressionError(f"permessage-deflate answer gives {key} a value: {value!r}")
            no_takeover = no_takeover or key == "server_no_context_takeover"
        elif key in ("server_max_window_bits", "client_max_window_bits"):
            if not raw.isdigit() or int(raw) not in _WINDOWS:
                raise CompressionError(f"permessage-deflate answer: {key} must be 8 to 15: {value!r}")
            if key == "server_max_window_bits":
                window_bits = int(raw)
        else:
            raise CompressionError(f"permessage-deflate answer names an unknown parameter {key!r}")
    return Agreement(window_bits, no_takeover)


class Inflater:
    """Inflates the messages of one socket, in order, as the :class:`Agreement` says; counts the
    bytes that came over the wire (``wire``) and the bytes they made (``inflated``).

    One per socket (a new socket starts a new LZ77 window), used by the socket's thread only.
    """

    __slots__ = ("_bits", "_decoder", "_fresh", "_over", "inflated", "limit", "wire")

    def __init__(self, agreement: Agreement, limit: int = MAX_MESSAGE) -> None:
        # zlib's deflate widens a window of 8 bits to 9; a wider window always inflates a narrower one
        self._bits = -max(9, agreement.window_bits)
        self._fresh = agreement.no_context_takeover
        self._decoder = zlib.decompressobj(self._bits)
        self.limit = limit
        self._over = limit + 1  # zlib stops there: one byte past the bound proves the message too big
        self.wire = 0
        self.inflated = 0

    def inflate(self, payload: bytes) -> bytes:
        """One whole compressed message (its fragments' payloads joined) -> its bytes."""
        decoder = self._decoder
        try:
            data = decoder.decompress(payload + _TAIL, self._over)
        except zlib.error as exc:
            raise CompressionError(f"a compressed message does not inflate: {exc}") from None
        size = len(data)
        if size > self.limit:
            raise CompressionError(f"a compressed message inflates past {self.limit} bytes")
        if self._fresh or decoder.eof:
            # no context takeover; or the sender ended the stream (BFINAL), its next message a new one
            if decoder.eof and len(decoder.unused_data) > len(_TAIL):
                raise CompressionError("a compressed message goes on past the end of its stream")
            self._decoder = zlib.decompressobj(self._bits)
        self.wire += len(payload)
        self.inflated += size
        return data
