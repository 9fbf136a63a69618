"""Subscription requests: the type names and endpoints, validating a wish (``make_spec``), and the
request frames that carry a connection's whole set (``build_request``). Pure: no I/O, no threads
(docs/upbit.md §2, docs/channels.md)."""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import formats
from ..errors import InvalidRequestError, SubscriptionError
from ..indicators import INFO_TYPES, IndicatorSpec, categories_of, indicator_specs, timeframe_of

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
