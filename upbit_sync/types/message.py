"""``Message``, the base of every data message, and ``raw_of``, its dict with DEFAULT keys."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from .. import formats


def simple_keys(key_map: formats.KeyMap) -> dict[str, str]:
    """A message class's field -> SIMPLE key map (its ``type`` is the tag, not a field)."""
    return {name: short for name, short in key_map.simple.items() if name != "type"}


class Message(msgspec.Struct, frozen=True, dict=True, eq=False, kw_only=True, tag_field="ty",
              forbid_unknown_fields=True):
    """Base of every data message: frozen ``msgspec`` structs with DEFAULT field names (that decode
    from Upbit's SIMPLE keys, the SDK's wire format).

    ``type`` is the message type (``"ticker"``, ``"candle.1m"``, ...), ``received_at`` the wall-clock
    time (``time.time()``) of the socket read that brought the message, and ``raw`` the message as a
    dict with DEFAULT keys (made on first use). Every key the server sent is in it: a frame with a key
    the class does not know is decoded the careful way, and ``raw`` keeps that key.
    Two messages are equal when they are of one class with equal fields, ``received_at`` aside.
    """

    KIND: ClassVar[str] = ""
    type: ClassVar[str] = ""
    # the last field of every message (keyword-only): set by the router without a dict per message
    received_at: float = 0.0

    @property
    def raw(self) -> dict[str, Any]:
        cached = self.__dict__.get("_raw")
        if cached is None:
            cached = self.__dict__["_raw"] = raw_of(self)
        return cached

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return msgspec.structs.astuple(self)[:-1] == msgspec.structs.astuple(other)[:-1]

    def __hash__(self) -> int:
        return hash(msgspec.structs.astuple(self)[:-1])


def raw_of(message: Message) -> dict[str, Any]:
    """``raw`` for a message, DEFAULT keys and the SDK's ``received_at`` once stamped: the dict it
    was made from (the careful path, protocol.to_message), else its fields. A frame the strict
    decoder took held no key its class does not know (``forbid_unknown_fields``), so its fields are
    all it said; an optional key it left out is None here."""
    wire = getattr(message, "_wire", None)  # without making the instance's __dict__
    if wire is not None:
        raw = formats.to_default(wire) if "ty" in wire else dict(wire)
    else:
        raw = msgspec.structs.asdict(message)  # in C: the usual case
        raw["type"] = message.type
        nested = _NESTED.get(message.KIND)
        if nested is not None:
            raw[nested] = [msgspec.structs.asdict(item) for item in raw[nested]]
        if not message.received_at:  # never stamped (Config.metrics off, or made by hand)
            del raw["received_at"]
    return raw


_NESTED = {"orderbook": "orderbook_units", "myAsset": "assets"}  # a list of records, as dicts in raw
