"""Decoding one object off the wire into its typed message: the strict decoder of SIMPLE frames
(``typed_decoder``) and the careful way (``to_message``), with the message classes per type and
format they build. Pure: no I/O, no threads (docs/upbit.md §3)."""

from __future__ import annotations

import logging
import re
import reprlib
import typing
from collections.abc import Callable, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any, Union

import msgspec

from .. import formats
from .._version import __version__
from ..errors import DecodeError
from ..types import (
    INDICATOR_RECORDS,
    Announcement,
    Asset,
    Candle,
    ErrorMessage,
    EventParams,
    Indicator,
    IndicatorMessage,
    IndicatorSignal,
    ListedSubscription,
    Message,
    MyAsset,
    MyOrder,
    Orderbook,
    ServerMessage,
    Status,
    StreamType,
    SubscriptionList,
    Ticker,
    Trade,
)

log = logging.getLogger(__name__)

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 2, 60, 60


def bounded_repr(value: Any) -> str:
    """A bounded repr for error messages: a hostile frame can nest a thousand levels deep."""
    return _REPR.repr(value)


# A SIMPLE frame (the SDK's wire format) is decoded straight into its typed message by one msgspec
# decoder: a union of the message classes, told apart by ``ty``, field types checked in C. Candles get
# a subclass of Candle per unit, so that the unit is the tag. A frame the strict decoder refuses (a
# status, an error, a LIST-format array, a DEFAULT frame, a value of the wrong type, an enum value new
# to us) goes the careful way, to_message, which keeps new enum values as strings and says what was
# wrong with the rest.


def _per_unit(name: str) -> type[Candle]:
    unit: type[Candle] = msgspec.defstruct(  # type: ignore[assignment]
        "Candle", [], bases=(Candle,), namespace={"__module__": Candle.__module__, "type": name},
        tag=name, frozen=True, dict=True,
    )
    unit.__qualname__ = "Candle"
    return unit


def _exact_twin(cls: type[Any], **nested: type[Any]) -> type[Any]:
    """A subclass of ``cls`` (of the same name) whose ``Money`` fields are ``Decimal``, and whose
    records are the exact twins in ``nested`` (``Asset=...``): what Config(decimal=True) delivers.
    msgspec decodes a JSON number into a Decimal from its text, digits and exponent as written."""
    hints = typing.get_type_hints(cls, localns={"Money": Decimal, **nested})
    changed = [(f.name, hints[f.name]) if f.required else (f.name, hints[f.name], f.default)
               for f in msgspec.structs.fields(cls) if hints[f.name] != f.type]
    doc = f"{cls.__doc__} Money figures exact (Config(decimal=True))."
    options: dict[str, Any] = {"frozen": True}
    if issubclass(cls, Message):
        options.update(tag=cls.KIND, dict=True)
    else:
        options.update(gc=False)
    twin: type[Any] = msgspec.defstruct(cls.__name__, changed, bases=(cls,),
                                        namespace={"__module__": cls.__module__, "__doc__": doc},
                                        **options)
    twin.__qualname__ = cls.__qualname__
    return twin


CLASSES: dict[str, type[Message]] = {
    "ticker": Ticker, "trade": Trade, "orderbook": Orderbook, "myOrder": MyOrder, "myAsset": MyAsset,
    "announcement": Announcement, **{name: _per_unit(name) for name in formats.CANDLE_TYPES},
}
# Decoded the careful way only: their params and values take a record chosen by another field.
INFO_CLASSES: dict[str, type[IndicatorMessage]] = {"indicator": Indicator,
                                                   "indicator_signal": IndicatorSignal}
# The same with the private messages' money figures exact (Config.decimal); the public ones unchanged.
EXACT_CLASSES: dict[str, type[Message]] = {
    **CLASSES, "myOrder": _exact_twin(MyOrder), "myAsset": _exact_twin(MyAsset, Asset=_exact_twin(Asset)),
}
_UNION: Any = Union[tuple(CLASSES.values())]  # noqa: UP007 - a union built at run time
_EXACT_UNION: Any = Union[tuple(EXACT_CLASSES.values())]  # noqa: UP007
_DECODE = msgspec.json.Decoder(_UNION).decode
_DECODE_EXACT = msgspec.json.Decoder(_EXACT_UNION).decode
STRICT_ERRORS = (msgspec.ValidationError, msgspec.DecodeError)  # what a typed_decoder raises


def typed_decoder(wire_format: str, decimal: bool = False) -> Callable[[bytes | str], Message] | None:
    """The strict decoder of data frames in ``wire_format``, which raises msgspec's ValidationError
    or DecodeError for anything it does not take; None for a format it cannot take at all.
    ``decimal``: the private messages' money figures as Decimal (EXACT_CLASSES)."""
    if wire_format != "SIMPLE":
        return None
    return _DECODE_EXACT if decimal else _DECODE


def _enum_of(kind: Any) -> type[Enum] | None:
    """The enum a field holds (``Change``, or ``Change | None``), if any."""
    for option in typing.get_args(kind) or (kind,):
        if isinstance(option, type) and issubclass(option, Enum):
            return option
    return None


def _lenient_type(kind: Any) -> Any:
    if _enum_of(kind) is not None:
        return str | None
    if kind in (float, int, str):
        return kind | None
    return kind


def _lenient_twin(cls: type[Message]) -> type[Any]:
    """A plain struct with ``cls``'s fields and SIMPLE keys taking null anywhere and any string for
    an enum: what the careful path checks a message with before building it."""
    info = msgspec.structs.fields(cls)
    twin: type[Any] = msgspec.defstruct(
        f"{cls.__name__}Check",
        [(f.name, _lenient_type(f.type)) if f.required else (f.name, _lenient_type(f.type), f.default)
         for f in info],
        rename={f.name: f.encode_name for f in info},
    )
    return twin


_Careful = tuple[type[Message], type[Any], list[tuple[str, dict[Any, Any]]]]


def _careful(cls: type[Message]) -> _Careful:
    """A class, its lenient twin, and its enum fields with their members: what _typed needs."""
    return cls, _lenient_twin(cls), [(f.name, enum._value2member_map_) for f in msgspec.structs.fields(cls)
                                     if (enum := _enum_of(f.type)) is not None]


# message type -> what the careful path needs, for floats and for exact money figures
_CAREFUL = {name: _careful(cls) for name, cls in CLASSES.items()}
_CAREFUL_EXACT = {name: _CAREFUL[name] if cls is CLASSES[name] else _careful(cls)
                  for name, cls in EXACT_CLASSES.items()}


def _typed(item: dict[str, Any], message_type: str, simple: bool, decimal: bool = False) -> Message:
    """The typed message of one data object (DEFAULT or SIMPLE keys), or DecodeError saying why not.
    With ``decimal`` the private messages' money fields are Decimal: exact if ``item`` holds them as
    Decimal or int (load_exact), as a float's shortest text otherwise."""
    wire = item if simple else formats.to_simple(item)
    cls, check, enums = (_CAREFUL_EXACT if decimal else _CAREFUL)[message_type]
    try:
        message: Message = msgspec.convert(wire, cls)
    except msgspec.ValidationError as refused:
        _note_unknown_field(message_type, refused)
        try:
            checked = msgspec.convert(wire, check)
        except msgspec.ValidationError as exc:
            why = _in_default_keys(exc, message_type)
            raise DecodeError(f"malformed {message_type} frame: {why}") from None
        values = {name: getattr(checked, name) for name in check.__struct_fields__}
        for name, members in enums:
            value = values[name]
            values[name] = members.get(value, value)  # the check admits strings (hashable) only
        message = cls(**values)
    message.__dict__["_wire"] = item  # raw: every key the frame had (received_at is a field)
    return message


_INDICATOR_FIELDS = {f.name: f for f in msgspec.structs.fields(IndicatorSignal)}


def _indicator(item: dict[str, Any], message_type: str, simple: bool) -> IndicatorMessage:
    """The typed message of an ``indicator`` or ``indicator_signal`` object: its params and value as
    the indicator's records (numbers sent as text are read as numbers), or as plain dicts with
    DEFAULT keys for an indicator this version does not know; DecodeError if it is malformed."""
    default = formats.to_default(item) if simple else item
    cls = INFO_CLASSES[message_type]
    kind = default.get("indicator")
    records = INDICATOR_RECORDS.get(kind) if isinstance(kind, str) else None
    values: dict[str, Any] = {}
    try:
        for name in cls.__struct_fields__:
            if name == "received_at":
                continue
            value = default.get(name)
            if name in ("params", "value", "event_params"):
                if value is None and name == "event_params":
                    value = {}
                if records is None:  # an indicator new to us: its objects as sent
                    value = msgspec.convert(value, dict[str, Any])
                else:
                    record = EventParams if name == "event_params" else records[name == "value"]
                    value = msgspec.convert(value, record, strict=False)
            elif name == "stream_type":  # a value new to us stays text
                value = StreamType._value2member_map_.get(value, value) if type(value) is str else \
                    msgspec.convert(value, str)
            else:  # text where a number belongs is read as the number
                value = msgspec.convert(value, _INDICATOR_FIELDS[name].type, strict=False)
            values[name] = value
    except msgspec.ValidationError as exc:
        raise DecodeError(f"malformed {message_type} frame: {exc} (field {name!r})") from None
    received_at = default.get("received_at")
    message = cls(**values, received_at=received_at if type(received_at) is float else 0.0)
    message.__dict__["_wire"] = item
    return message


_UNKNOWN_NOTED: set[tuple[str, str]] = set()


def _note_unknown_field(message_type: str, error: msgspec.ValidationError) -> None:
    """Say once per type and key that frames carry a key this version does not model: they are
    delivered whole (``raw`` has it), but decoded the careful way, several times slower."""
    found = re.match(r"Object contains unknown field `(\w+)`", str(error))
    if found is None or (message_type, found[1]) in _UNKNOWN_NOTED:
        return
    _UNKNOWN_NOTED.add((message_type, found[1]))
    log.info("%s frames carry a key upbit-sync %s does not model (%r): delivered with it in raw, "
             "decoded the slower way; a newer version may know it", message_type, __version__, found[1])


def _in_default_keys(error: msgspec.ValidationError, message_type: str) -> str:
    """msgspec's message (``Expected `float`, got `str` - at `$.tp```) with the DEFAULT key names."""
    key_map = formats.BY_TYPE[message_type]
    text = str(error)
    for short in re.findall(r"`\$\.(\w+)|field `(\w+)`", text):
        for key in short:
            if key and key in key_map.default:
                text = text.replace(f"`{key}`", f"`{key_map.default[key]}`").replace(
                    f"$.{key}`", f"$.{key_map.default[key]}`")
    return text


def to_message(item: dict[str, Any], decimal: bool = False) -> ServerMessage:
    """The typed message for one object off the wire, in DEFAULT or SIMPLE keys; ``decimal``: a
    private message's money figures as Decimal (Config.decimal; exact when ``item`` came from
    :func:`load_exact`)."""
    simple = "ty" in item
    message_type = item.get("ty") if simple else item.get("type")
    if isinstance(message_type, str) and message_type in CLASSES:
        return _typed(item, message_type, simple, decimal)  # type: ignore[return-value]
    if isinstance(message_type, str) and message_type in INFO_CLASSES:
        return _indicator(item, message_type, simple)  # type: ignore[return-value]
    try:
        if simple or "mthd" in item:
            item = formats.to_default(item)
        if "error" in item:
            error = item["error"]
            if not isinstance(error, Mapping):
                raise DecodeError(f"error frame without an error object: {bounded_repr(error)}")
            name, text = error.get("name", ""), error.get("message", "")
            return ErrorMessage(name if isinstance(name, str) else bounded_repr(name),
                                text if isinstance(text, str) else bounded_repr(text))
        if "status" in item:
            status = item["status"]
            if not isinstance(status, str):
                raise DecodeError(f"status is not a string: {bounded_repr(status)}")
            return Status(status)
        if item.get("method") == "LIST_SUBSCRIPTIONS":
            return _subscription_list(item)
    except DecodeError:
        raise
    except (TypeError, ValueError, RecursionError) as exc:
        kind = message_type if isinstance(message_type, str) else "server"
        raise DecodeError(f"malformed {kind} frame: {type(exc).__name__}") from None
    raise DecodeError(f"unknown message type {bounded_repr(message_type)}")


def _subscription_list(item: Mapping[str, Any]) -> SubscriptionList:
    result = item.get("result") or []
    if not isinstance(result, list):
        raise DecodeError("LIST_SUBSCRIPTIONS result is not a list")
    entries = []
    for entry in result:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("type"), str):
            raise DecodeError(f"malformed LIST_SUBSCRIPTIONS entry {bounded_repr(entry)}")
        codes = entry.get("codes") or []
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise DecodeError(f"malformed LIST_SUBSCRIPTIONS codes {bounded_repr(codes)}")
        entries.append(ListedSubscription(entry["type"], tuple(codes), entry.get("level")))
    ticket = item.get("ticket")
    return SubscriptionList(ticket if isinstance(ticket, str) else None, tuple(entries))
