"""Upbit's wire protocol: validate subscriptions, build request frames, decode server frames.

Pure functions and values, no I/O and no threads (docs/upbit.md §2-§3 are the facts used here).
"""

from __future__ import annotations

import json
import logging
import math
import re
import reprlib
import typing
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, Union

import msgspec

from . import formats
from ._version import __version__
from .errors import DecodeError, InvalidRequestError, SubscriptionError
from .indicators import INFO_TYPES, IndicatorSpec, categories_of, indicator_specs, timeframe_of
from .types import (
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

try:  # orjson is the optional "fast" extra: ~1 µs per ticker instead of ~7 µs.
    import orjson

    _loads: Callable[[bytes | str], Any] = orjson.loads
    _LOAD_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, RecursionError)
except ImportError:  # pragma: no cover - exercised in environments without the extra
    _loads = json.loads
    _LOAD_ERRORS = (ValueError, TypeError, RecursionError)

log = logging.getLogger(__name__)

# The connections of a manager, by endpoint (extra public ones are named "public-2", ...).
PUBLIC = "public"
PRIVATE = "private"
INFO = "info"  # /websocket/v1/info: indicator and indicator_signal (docs/channels.md §0)

PUBLIC_TYPES: tuple[str, ...] = ("ticker", "trade", "orderbook", *formats.CANDLE_TYPES)
PRIVATE_TYPES: tuple[str, ...] = ("myOrder", "myAsset", "announcement")
ALL_TYPES: tuple[str, ...] = PUBLIC_TYPES + PRIVATE_TYPES + INFO_TYPES
# the types whose connection needs the JWT on its upgrade
KEYED_TYPES: tuple[str, ...] = PRIVATE_TYPES + INFO_TYPES
# the types Upbit never sends a SNAPSHOT of (docs/channels.md §0), and those it does
REALTIME_TYPES: tuple[str, ...] = (*INFO_TYPES, "announcement")
SNAPSHOT_TYPES: tuple[str, ...] = tuple(kind for kind in ALL_TYPES if kind not in REALTIME_TYPES)
ORDERBOOK_DEPTHS: tuple[int, ...] = (1, 5, 15, 30)
WIRE_FORMATS: tuple[str, ...] = ("DEFAULT", "SIMPLE", "JSON_LIST", "SIMPLE_LIST")

# UPPERCASE QUOTE-BASE, e.g. KRW-BTC, USDT-ETH, KRW-1INCH (docs/upbit.md §2).
_CODE = re.compile(r"[A-Z0-9]{2,10}-[A-Z0-9]{1,20}\Z")


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 2, 60, 60


def _short(value: Any) -> str:
    """A bounded repr for error messages: a hostile frame can nest a thousand levels deep."""
    return _REPR.repr(value)


def is_private(message_type: str) -> bool:
    """True for the types whose connection needs API keys (myOrder, myAsset, announcement, and the
    indicator types of the info endpoint)."""
    return message_type in KEYED_TYPES


def endpoint_for(message_type: str) -> str:
    """The endpoint that serves a type: PUBLIC, PRIVATE or INFO."""
    if message_type in INFO_TYPES:
        return INFO
    return PRIVATE if message_type in PRIVATE_TYPES else PUBLIC


def endpoint_of(connection: str) -> str:
    """The endpoint a connection name belongs to: PUBLIC for "public" and "public-2", PRIVATE, ..."""
    return connection.partition("-")[0]


def new_ticket() -> str:
    """A unique ticket for a request."""
    return uuid.uuid4().hex


# ---- subscriptions and requests --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One validated wish: a type, its codes and options. Build it with :func:`make_spec`."""

    type: str
    codes: tuple[str, ...] = ()
    depth: int | None = None
    level: float | None = None
    is_only_snapshot: bool = False
    is_only_realtime: bool = False
    # indicator and indicator_signal
    timeframe: str | None = None
    indicators: tuple[IndicatorSpec, ...] = ()
    # announcement (None: every category)
    categories: tuple[str, ...] | None = None
    include_body: bool = False

    @property
    def is_private(self) -> bool:
        """Whether its connection needs API keys."""
        return is_private(self.type)

    @property
    def endpoint(self) -> str:
        return endpoint_for(self.type)

    @property
    def options(self) -> tuple[Any, ...]:
        """What besides codes a request object says: specs that differ here need objects of their own."""
        return (self.timeframe, self.indicators, self.categories, self.include_body)

    def asked(self) -> dict[str, Any]:
        """The keywords of ``subscribe()`` that ask for this spec's options, beyond depth and level."""
        if self.type in INFO_TYPES:
            return {"timeframe": self.timeframe, "indicators": self.indicators}
        if self.type == "announcement":
            return {"categories": self.categories, "include_body": self.include_body}
        return {}

    def accepts(self, message: Mapping[str, Any]) -> bool:
        """Whether a message (DEFAULT keys) of this spec's type is one it asked for: the connection
        carries every subscription's indicators and categories, each subscription gets its own."""
        if self.type == "announcement":
            return self.categories is None or message.get("category") in self.categories
        if self.type in INFO_TYPES:
            return message.get("timeframe") == self.timeframe and _item_of(message) in self.indicators
        return True


def make_spec(
    type: str,
    codes: str | Iterable[str] | None = None,
    *,
    depth: int | None = None,
    level: float | None = None,
    is_only_snapshot: bool = False,
    is_only_realtime: bool = False,
    timeframe: str | None = None,
    indicators: Any = None,
    categories: Any = None,
    include_body: bool | None = None,
) -> StreamSpec:
    """Validate a subscription and return it normalised; raise SubscriptionError naming the bad part."""
    if not isinstance(type, str) or type not in ALL_TYPES:
        raise SubscriptionError(
            f"unknown subscription type {type!r}; expected one of: {', '.join(ALL_TYPES)}"
        )
    if is_only_snapshot and type in REALTIME_TYPES:
        raise SubscriptionError(f"{type!r} has no snapshot: Upbit sends it in real time only "
                                "(subscribe() or stream() it instead)")
    code_tuple = _validate_codes(type, codes)
    if type in REALTIME_TYPES:
        return _realtime_spec(type, code_tuple, depth=depth, level=level, timeframe=timeframe,
                              indicators=indicators, categories=categories, include_body=include_body)
    for name, option in (("timeframe", timeframe), ("indicators", indicators),
                         ("categories", categories), ("include_body", include_body)):
        if option is not None:
            where = ("announcement" if name in ("categories", "include_body")
                     else "indicator and indicator_signal")
            raise SubscriptionError(f"{name} applies to {where} only, not to {type!r}")
    if depth is not None or level is not None:
        if type != "orderbook":
            raise SubscriptionError(f"depth and level apply to orderbook only, not to {type!r}")
        if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int)
                                  or depth not in ORDERBOOK_DEPTHS):
            raise SubscriptionError(
                f"orderbook depth must be one of {ORDERBOOK_DEPTHS}, not {depth!r}"
            )
        if level is not None:
            _validate_level(level, code_tuple)
    for name, flag in (("is_only_snapshot", is_only_snapshot),
                       ("is_only_realtime", is_only_realtime)):
        if not isinstance(flag, bool):
            raise SubscriptionError(f"{name} must be True or False, not {flag!r}")
    if is_only_snapshot and is_only_realtime:
        raise SubscriptionError("is_only_snapshot and is_only_realtime exclude each other")
    return StreamSpec(type, code_tuple, depth, level, is_only_snapshot, is_only_realtime)


def _realtime_spec(type: str, codes: tuple[str, ...], *, depth: Any, level: Any, timeframe: Any,
                   indicators: Any, categories: Any, include_body: Any) -> StreamSpec:
    """The spec of an indicator type or of announcement (docs/channels.md §2, §4, §5)."""
    if depth is not None or level is not None:
        raise SubscriptionError(f"depth and level apply to orderbook only, not to {type!r}")
    if type == "announcement":
        if timeframe is not None or indicators is not None:
            raise SubscriptionError("timeframe and indicators apply to indicator and indicator_signal, "
                                    "not to 'announcement'")
        if include_body is not None and not isinstance(include_body, bool):
            raise SubscriptionError(f"include_body must be True or False, not {include_body!r}")
        return StreamSpec(type, (), categories=categories_of(categories),
                          include_body=bool(include_body), is_only_realtime=True)
    if categories is not None or include_body is not None:
        raise SubscriptionError(f"categories and include_body apply to announcement, not to {type!r}")
    if timeframe is None:
        raise SubscriptionError(f"{type!r} needs a timeframe (5m, 15m, 60m, 240m or 1d)")
    if indicators is None:
        raise SubscriptionError(f"{type!r} needs indicators, e.g. indicators=[upbit_sync.RSI(14)]")
    return StreamSpec(type, codes, timeframe=timeframe_of(timeframe),
                      indicators=indicator_specs(indicators, signal=type == "indicator_signal"),
                      is_only_realtime=True)


def _item_of(message: Mapping[str, Any]) -> IndicatorSpec | None:
    """The request item an indicator message answers (DEFAULT keys), to match it to subscriptions."""
    params, event_params = message.get("params"), message.get("event_params") or {}
    if not isinstance(params, Mapping) or not isinstance(event_params, Mapping):
        return None
    try:
        key = IndicatorSpec(message.get("indicator"), tuple(params.items()),  # type: ignore[arg-type]
                            message.get("trigger"), tuple(event_params.items()))
        return indicator_specs(key, signal=message.get("trigger") is not None)[0]
    except SubscriptionError:
        return None


def market_codes(codes: str | Iterable[str]) -> tuple[str, ...]:
    """``codes`` checked (upper-case QUOTE-BASE, at least one) and without repeats, for REST calls;
    InvalidRequestError naming a bad one."""
    try:
        return _validate_codes("ticker", codes)
    except SubscriptionError as exc:
        raise InvalidRequestError(str(exc)) from None


def _validate_codes(type: str, codes: str | Iterable[str] | None) -> tuple[str, ...]:
    if codes is None:
        codes = ()
    elif isinstance(codes, str):
        codes = (codes,)
    elif not isinstance(codes, Iterable):
        raise SubscriptionError(f"codes must be a list of market codes, not {codes!r}")
    seen: dict[str, None] = {}
    for code in codes:
        if not isinstance(code, str):
            raise SubscriptionError(f"market code must be a string, not {code!r}")
        if not _CODE.match(code):
            if _CODE.match(code.upper()):
                raise SubscriptionError(
                    f"market code {code!r} must be uppercase: {code.upper()!r}"
                )
            if "." in code and _CODE.match(code.split(".", 1)[0]):
                raise SubscriptionError(
                    f"market code {code!r}: give the orderbook depth with depth=, not as a suffix"
                )
            raise SubscriptionError(
                f"malformed market code {code!r}; expected QUOTE-BASE such as 'KRW-BTC'"
            )
        seen[code] = None
    if type in ("myAsset", "announcement") and seen:
        what = "the whole account" if type == "myAsset" else "every market"
        raise SubscriptionError(f"{type} takes no codes: it covers {what}")
    if (type in PUBLIC_TYPES or type in INFO_TYPES) and not seen:
        raise SubscriptionError(f"{type!r} needs at least one market code")
    if type in INFO_TYPES:
        foreign = [code for code in seen if not code.startswith("KRW-")]
        if foreign:
            raise SubscriptionError(
                f"{type} serves KRW markets only, not {', '.join(foreign)}"
            )
    return tuple(seen)


def _validate_level(level: Any, codes: tuple[str, ...]) -> None:
    if (isinstance(level, bool) or not isinstance(level, (int, float)) or not math.isfinite(level)
            or level < 0):
        raise SubscriptionError(f"orderbook level must be a number >= 0, not {level!r}")
    if level:
        foreign = [c for c in codes if not c.startswith("KRW-")]
        if foreign:
            raise SubscriptionError(
                f"orderbook level applies to KRW markets only, not to {', '.join(foreign)}"
            )


def _wire_codes(spec: StreamSpec) -> list[str]:
    if spec.depth is None:
        return list(spec.codes)
    return [f"{code}.{spec.depth}" for code in spec.codes]


def build_request(
    specs: Iterable[StreamSpec], wire_format: str = "SIMPLE", ticket: str | None = None
) -> str:
    """The request frame carrying every spec; specs sharing type and options share one object.

    Upbit replaces a connection's whole set on each request, so ``specs`` must be the full set.
    """
    if wire_format not in WIRE_FORMATS:
        raise SubscriptionError(f"format must be one of {WIRE_FORMATS}, not {wire_format!r}")
    objects: dict[tuple[Any, ...], dict[str, Any]] = {}
    orderbook_options: dict[str, tuple[int, float]] = {}
    for spec in specs:
        if spec.type not in SNAPSHOT_TYPES:
            _add_realtime_object(objects, spec)
            continue
        # Upbit's defaults are depth 30 and level 0: saying so explicitly asks for the same stream.
        level = spec.level or 0 if spec.type == "orderbook" else spec.level
        if spec.type == "orderbook":
            for code in spec.codes:
                options = (spec.depth or 30, level or 0)
                if orderbook_options.setdefault(code, options) != options:
                    raise SubscriptionError(
                        f"orderbook {code} asked with two different depth/level options on one "
                        "connection; Upbit cannot tell their messages apart"
                    )
        key = (spec.type, level, spec.is_only_snapshot, spec.is_only_realtime)
        obj = objects.get(key)
        if obj is None:
            obj = objects[key] = {"type": spec.type}
            if spec.type != "myAsset":
                obj["codes"] = []
            if spec.is_only_snapshot:
                obj["is_only_snapshot"] = True
            if spec.is_only_realtime:
                obj["is_only_realtime"] = True
        if spec.level is not None:
            obj["level"] = spec.level
        if spec.type == "myOrder" and not spec.codes:
            obj["all_markets"] = True  # someone wants every market: no codes filter at all
        if "codes" in obj:
            present = {c.partition(".")[0] for c in obj["codes"]}
            obj["codes"].extend(c for c in _wire_codes(spec) if c.partition(".")[0] not in present)
    if not objects:
        raise SubscriptionError("a request needs at least one subscription")
    for obj in objects.values():
        if obj.pop("all_markets", False):
            del obj["codes"]
        if obj["type"] == "announcement":
            del obj["_all"], obj["_cats"]
            if obj["categories"] is None:
                del obj["categories"]
            if not obj["include_body"]:
                del obj["include_body"]
    frame = [{"ticket": ticket or new_ticket()}, *objects.values(), {"format": wire_format}]
    return json.dumps(frame, separators=(",", ":"), allow_nan=False)


def _add_realtime_object(objects: dict[tuple[Any, ...], dict[str, Any]], spec: StreamSpec) -> None:
    """An indicator type's object (one per timeframe and indicator list, codes merged), or the one
    announcement object (categories merged: all when any subscription wants all)."""
    if spec.type == "announcement":
        obj = objects.setdefault(("announcement",), {"type": "announcement", "_all": False, "_cats": {}})
        obj["_all"] = obj["_all"] or spec.categories is None
        obj["_cats"].update(dict.fromkeys(spec.categories or ()))
        obj["categories"] = None if obj["_all"] else list(obj["_cats"])
        obj["include_body"] = obj.get("include_body", False) or spec.include_body
        return
    key = (spec.type, spec.timeframe, spec.indicators)
    if key not in objects:
        objects[key] = {"type": spec.type, "codes": [], "timeframe": spec.timeframe,
                        "indicators": [item.as_dict() for item in spec.indicators]}
    codes = objects[key]["codes"]
    codes.extend(code for code in spec.codes if code not in codes)


def build_list_subscriptions(wire_format: str = "SIMPLE", ticket: str | None = None) -> str:
    """A LIST_SUBSCRIPTIONS request, in the connection's format (a format object applies to all)."""
    if wire_format not in WIRE_FORMATS:
        raise SubscriptionError(f"format must be one of {WIRE_FORMATS}, not {wire_format!r}")
    frame = [
        {"ticket": ticket or new_ticket()},
        {"method": "LIST_SUBSCRIPTIONS"},
        {"format": wire_format},
    ]
    return json.dumps(frame, separators=(",", ":"))


# ---- decoding ----------------------------------------------------------------------------------------


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
                raise DecodeError(f"expected a JSON object, got {_short(item)}")
        return data
    raise DecodeError(f"expected a JSON object, got {_short(data)}")


def parse(frame: bytes | bytearray | memoryview | str) -> list[dict[str, Any]]:
    """The JSON objects in a server frame, with DEFAULT keys; a LIST-format array gives several."""
    return [
        formats.to_default(item) if "ty" in item or "mthd" in item else item
        for item in parse_wire(frame)
    ]


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
                raise DecodeError(f"error frame without an error object: {_short(error)}")
            name, text = error.get("name", ""), error.get("message", "")
            return ErrorMessage(name if isinstance(name, str) else _short(name),
                                text if isinstance(text, str) else _short(text))
        if "status" in item:
            status = item["status"]
            if not isinstance(status, str):
                raise DecodeError(f"status is not a string: {_short(status)}")
            return Status(status)
        if item.get("method") == "LIST_SUBSCRIPTIONS":
            return _subscription_list(item)
    except DecodeError:
        raise
    except (TypeError, ValueError, RecursionError) as exc:
        kind = message_type if isinstance(message_type, str) else "server"
        raise DecodeError(f"malformed {kind} frame: {type(exc).__name__}") from None
    raise DecodeError(f"unknown message type {_short(message_type)}")


def _subscription_list(item: Mapping[str, Any]) -> SubscriptionList:
    result = item.get("result") or []
    if not isinstance(result, list):
        raise DecodeError("LIST_SUBSCRIPTIONS result is not a list")
    entries = []
    for entry in result:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("type"), str):
            raise DecodeError(f"malformed LIST_SUBSCRIPTIONS entry {_short(entry)}")
        codes = entry.get("codes") or []
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise DecodeError(f"malformed LIST_SUBSCRIPTIONS codes {_short(codes)}")
        entries.append(ListedSubscription(entry["type"], tuple(codes), entry.get("level")))
    ticket = item.get("ticket")
    return SubscriptionList(ticket if isinstance(ticket, str) else None, tuple(entries))


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


__all__: Sequence[str] = (
    "ALL_TYPES", "EXACT_CLASSES", "ORDERBOOK_DEPTHS", "PRIVATE", "PRIVATE_TYPES", "PUBLIC",
    "PUBLIC_TYPES", "WIRE_FORMATS", "FrameReader", "StreamSpec", "build_list_subscriptions",
    "build_request", "decode", "endpoint_of", "is_private", "load_exact", "make_spec", "new_ticket",
    "parse", "to_message", "typed_decoder",
)
