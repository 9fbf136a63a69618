"""What the fake exchange puts on the wire: JSON payloads in Upbit's formats, and raw WebSocket frames.

``encode`` turns a DEFAULT-keyed message into the bytes Upbit sends for a given format
(docs/upbit.md §2, §3); ``server_frame`` builds a complete unmasked server frame, so benchmarks
can pre-encode frames and the firehose can write them to the socket in bulk.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Mapping
from typing import Any

from .. import formats

FORMATS = ("DEFAULT", "SIMPLE", "JSON_LIST", "SIMPLE_LIST")

_OPCODE_TEXT = 0x1
_OPCODE_BINARY = 0x2
_FIN = 0x80


def _dumps_stdlib(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


try:  # the optional "fast" extra: ~5x faster, same compact output
    import orjson

    _dumps: Callable[[Any], bytes] = orjson.dumps
except ImportError:  # pragma: no cover - depends on the environment
    _dumps = _dumps_stdlib


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as Upbit sends it."""
    return _dumps(value)


def encode(message: Mapping[str, Any], fmt: str = "DEFAULT") -> bytes:
    """One DEFAULT-keyed message as Upbit would send it in ``fmt`` (SIMPLE keys, LIST wrapping)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    body: Any = formats.to_simple(message) if fmt.startswith("SIMPLE") else message
    if fmt.endswith("_LIST"):
        body = [body]
    return dumps(body)


def server_frame(payload: bytes | str) -> bytes:
    """A complete, unmasked server-to-client frame: ``bytes`` -> binary frame, ``str`` -> text frame."""
    if isinstance(payload, str):
        opcode, data = _OPCODE_TEXT, payload.encode("utf-8")
    else:
        opcode, data = _OPCODE_BINARY, bytes(payload)
    size = len(data)
    if size < 126:
        header = struct.pack("!BB", _FIN | opcode, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", _FIN | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", _FIN | opcode, 127, size)
    return header + data
