"""Server frames: loading one as JSON (orjson when installed), the objects it holds, and
``FrameReader``, which sorts each into data, control (status, error, list reply) or bad. Pure: no
I/O, no threads."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from .. import formats
from ..errors import DecodeError
from ..types import ServerMessage
from .decoding import bounded_repr, to_message

try:  # orjson is the optional "fast" extra: ~1 µs per ticker instead of ~7 µs.
    import orjson

    _loads: Callable[[bytes | str], Any] = orjson.loads
    _LOAD_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, RecursionError)
except ImportError:  # pragma: no cover - exercised in environments without the extra
    _loads = json.loads
    _LOAD_ERRORS = (ValueError, TypeError, RecursionError)


def load_bytes(frame: bytes) -> Any:
    """:func:`load` for the usual case, a binary frame; DecodeError if it is not JSON."""
    try:
        return _loads(frame)
    except _LOAD_ERRORS as exc:
        raise DecodeError(f"frame is not valid JSON: {exc}") from None


def load(frame: bytes | bytearray | memoryview | str) -> Any:
    """The JSON value of a frame; DecodeError if it is not JSON."""
    return load_bytes(_as_bytes(frame))


def _as_bytes(frame: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(frame, str):  # as bytes, so every JSON backend refuses the same malformed text
        try:
            return frame.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise DecodeError(f"frame is not valid JSON: {exc}") from None
    return frame if isinstance(frame, bytes) else bytes(frame)


# JSON numbers with a fraction or an exponent as Decimal made from their text (integers stay int,
# which a Decimal field takes exactly): the careful path's input when money figures must stay exact
_LOAD_EXACT = msgspec.json.Decoder(float_hook=Decimal).decode


def load_exact(frame: bytes | bytearray | memoryview | str) -> Any:
    """:func:`load` with every non-integer number a ``Decimal`` of its text (no float on the way);
    DecodeError if the frame is not JSON."""
    try:
        return _LOAD_EXACT(_as_bytes(frame))
    except (msgspec.DecodeError, RecursionError) as exc:
        raise DecodeError(f"frame is not valid JSON: {exc}") from None


def parse_wire(frame: bytes | bytearray | memoryview | str, decimal: bool = False) -> list[dict[str, Any]]:
    """The JSON objects in a server frame as sent (DEFAULT or SIMPLE keys); a LIST-format array
    gives several. ``decimal``: numbers with a fraction as Decimal (:func:`load_exact`)."""
    data = load_exact(frame) if decimal else load(frame)
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):
        for item in data:
            if not isinstance(item, dict):
                raise DecodeError(f"expected a JSON object, got {bounded_repr(item)}")
        return data
    raise DecodeError(f"expected a JSON object, got {bounded_repr(data)}")


def parse(frame: bytes | bytearray | memoryview | str) -> list[dict[str, Any]]:
    """The JSON objects in a server frame, with DEFAULT keys; a LIST-format array gives several."""
    return [
        formats.to_default(item) if "ty" in item or "mthd" in item else item
        for item in parse_wire(frame)
    ]


def decode(frame: bytes | bytearray | memoryview | str, decimal: bool = False) -> list[ServerMessage]:
    """Every message in a server frame, typed; raises DecodeError and nothing else on a bad frame.
    ``decimal``: the private messages' money figures as the exact Decimal of their text."""
    return [to_message(item, decimal) for item in parse_wire(frame, decimal)]


# ---- frame intake ------------------------------------------------------------------------------------

DataHandler = Callable[[dict[str, Any], int, float], bool]
ControlHandler = Callable[[ServerMessage], None]
BadFrameHandler = Callable[[DecodeError, "bytes | str"], None]


class FrameReader:
    """Loads each frame of one connection and sorts what it holds. Pure: no I/O, no threads.

    A data message (it has a type: ``ty`` or ``type``) goes, still a dict in the keys it came in, to
    ``on_data(item, size, received_at)`` (``size``: the bytes of its frame, a LIST-format frame's shared
    out; ``received_at``: the wall-clock time of the socket read that brought it), which returns False
    if the message has no usable type or code. A status, an error or a
    LIST_SUBSCRIPTIONS reply goes typed to ``on_control``. Anything that cannot be understood goes to
    ``on_bad(error, frame)``, and the next frame is read as usual. With ``decimal`` the frames are
    loaded by :func:`load_exact`: a number with a fraction reaches ``on_data`` as a Decimal of its text.
    """

    __slots__ = ("_load", "_load_bytes", "_on_bad", "_on_control", "_on_data")

    def __init__(self, on_data: DataHandler, on_control: ControlHandler, on_bad: BadFrameHandler, *,
                 decimal: bool = False) -> None:
        self._on_data = on_data
        self._on_control = on_control
        self._on_bad = on_bad
        self._load_bytes: Callable[[bytes], Any] = load_exact if decimal else load_bytes
        self._load: Callable[[bytes | str], Any] = load_exact if decimal else load

    def feed(self, frame: bytes | str, received_at: float = 0.0) -> None:
        """Read one frame (what the strict decoder, typed_decoder, refused, or every frame of a
        connection in a format it does not take): loaded as JSON, and each object sorted."""
        try:
            data = self._load_bytes(frame) if type(frame) is bytes else self._load(frame)
        except DecodeError as exc:
            self._on_bad(exc, frame)
            return
        if type(data) is dict:
            if "ty" in data or "type" in data:  # data, the usual case: no further call
                if not self._on_data(data, len(frame), received_at):
                    self._on_bad(DecodeError("a message without a usable type or code"), frame)
            else:
                self._item(data, frame, len(frame), received_at)
        elif type(data) is list:  # the LIST formats: a batch of objects
            size = len(frame) // max(1, len(data))
            for item in data:
                if type(item) is dict:
                    self._item(item, frame, size, received_at)
                else:
                    self._on_bad(DecodeError("a list item that is not an object"), frame)
        else:
            self._on_bad(DecodeError("a frame that is not a JSON object"), frame)

    def _item(self, item: dict[str, Any], frame: bytes | str, size: int, received_at: float) -> None:
        if "ty" in item or "type" in item:
            if not self._on_data(item, size, received_at):
                self._on_bad(DecodeError("a message without a usable type or code"), frame)
        elif "status" in item or "error" in item or "method" in item or "mthd" in item:
            try:
                message = to_message(item)
            except DecodeError as exc:
                self._on_bad(exc, frame)
                return
            self._on_control(message)
        else:
            self._on_bad(DecodeError("object of no known kind"), frame)
