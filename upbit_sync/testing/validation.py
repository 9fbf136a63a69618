"""Parse and validate a client's request frame the way Upbit does (docs/upbit.md §2, §3).

A request is one JSON array of objects: a ticket, type objects, optionally a format object or a
``method`` object. Problems raise :class:`RequestError` carrying Upbit's exact error name. The
``indicator``, ``indicator_signal`` and ``announcement`` types follow docs/channels.md §2, §4 and §5,
with :class:`~upbit_sync.testing.channels.ChannelRules` deciding what those pages leave OPEN.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..formats import CANDLE_TYPES
from ..indicators import CATEGORIES, INDICATOR_PARAMS, MA_TYPES, SIGNAL_PARAMS, TIMEFRAMES, TRIGGERS, ParamSet
from .channels import IGNORE, ChannelRules
from .indicators import Indicator, Item, Params, Signal
from .wire import FORMATS

PUBLIC_TYPES = frozenset({"ticker", "trade", "orderbook", *CANDLE_TYPES})
PRIVATE_TYPES = frozenset({"myOrder", "myAsset"})
INFO_TYPES = frozenset({"indicator", "indicator_signal"})
ANNOUNCEMENT = "announcement"
ORDERBOOK_DEPTHS = (1, 5, 15, 30)
DEFAULT_DEPTH = 30
LIST_SUBSCRIPTIONS = "LIST_SUBSCRIPTIONS"

# Upbit's error names and messages (docs/upbit.md §3, §9).
WRONG_FORMAT = "WRONG_FORMAT"
NO_TICKET = "NO_TICKET"
NO_TYPE = "NO_TYPE"
NO_CODES = "NO_CODES"
INVALID_PARAM = "INVALID_PARAM"
INVALID_AUTH = "INVALID_AUTH"
TOO_MANY_REQUESTS = "Too Many Requests"
MESSAGES = {
    WRONG_FORMAT: "Format 이 맞지 않습니다.",
    NO_TICKET: "티켓이 존재하지 않거나, 유효하지 않습니다.",
    NO_TYPE: "타입이 존재하지 않거나, 유효하지 않습니다.",
    NO_CODES: "코드가 존재하지 않거나, 유효하지 않습니다.",
    INVALID_AUTH: "인증 정보가 올바르지 않습니다.",
    TOO_MANY_REQUESTS: "요청 수 제한을 초과하였습니다.",
}

_MARKET = re.compile(r"[A-Z0-9]+-[A-Z0-9]+")
_KRW_MARKET = re.compile(r"KRW-[A-Z0-9]+")  # the indicator types serve KRW markets only
# Fields outside the schemas of the newer types (ChannelRules.extra_fields decides their fate).
_INFO_EXTRAS = ("is_only_snapshot", "is_only_realtime", "isOnlySnapshot", "isOnlyRealtime", "level")
_ANNOUNCEMENT_EXTRAS = ("codes", *_INFO_EXTRAS)
_ORDERBOOK_CODE = re.compile(r"([A-Z0-9]+-[A-Z0-9]+)(?:\.([0-9]+))?")
_CAMEL = {"is_only_snapshot": "isOnlySnapshot", "is_only_realtime": "isOnlyRealtime"}


class RequestError(Exception):
    """A request Upbit would refuse: ``name`` and ``message`` go into the error frame."""

    def __init__(self, name: str, message: str | None = None) -> None:
        self.name = name
        self.message = message if message is not None else MESSAGES.get(name, name)
        super().__init__(f"{self.name}: {self.message}")


@dataclass(frozen=True)
class TypeRequest:
    """One type object of a request, with its codes exactly as the client sent them."""

    type: str
    codes: tuple[str, ...]
    level: float
    is_only_snapshot: bool
    is_only_realtime: bool

    def as_dict(self) -> dict[str, Any]:
        """The introspection form: ``{"type", "codes", ["level",] "is_only_snapshot", ...}``."""
        out: dict[str, Any] = {"type": self.type, "codes": list(self.codes)}
        if self.type == "orderbook":
            out["level"] = self.level
        out["is_only_snapshot"] = self.is_only_snapshot
        out["is_only_realtime"] = self.is_only_realtime
        return out


@dataclass(frozen=True)
class IndicatorRequest:
    """One ``indicator`` or ``indicator_signal`` object: its well-formed codes as sent, its
    timeframe and its valid items (what ``ChannelRules`` had ignored is left out)."""

    type: str
    codes: tuple[str, ...]
    timeframe: str
    items: tuple[Item, ...]

    def as_dict(self, codes: list[str] | None = None) -> dict[str, Any]:
        """The introspection and LIST_SUBSCRIPTIONS form, with ``codes`` if given."""
        return {"type": self.type, "codes": list(self.codes) if codes is None else codes,
                "timeframe": self.timeframe, "indicators": [item.as_dict() for item in self.items]}


@dataclass(frozen=True)
class AnnouncementRequest:
    """One ``announcement`` object: its categories (None: all of them) and whether bodies come."""

    categories: tuple[str, ...] | None
    include_body: bool
    type: str = ANNOUNCEMENT

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.categories is not None:
            out["categories"] = list(self.categories)
        out["include_body"] = self.include_body
        return out


AnyTypeRequest = TypeRequest | IndicatorRequest | AnnouncementRequest


@dataclass(frozen=True)
class ParsedRequest:
    """A valid request: ``method`` is set for LIST_SUBSCRIPTIONS, else ``types`` replace the set.

    ``format`` is None when the request had no format object.
    """

    ticket: str
    format: str | None
    method: str | None
    types: tuple[AnyTypeRequest, ...]


def market_of(code: str, type_name: str) -> tuple[str, int] | None:
    """``(market, depth)`` Upbit serves for a requested code, or None when it is silently ignored."""
    if type_name == "orderbook":
        match = _ORDERBOOK_CODE.fullmatch(code)
        if match is None:
            return None
        suffix = match.group(2)
        depth = int(suffix) if suffix is not None and int(suffix) in ORDERBOOK_DEPTHS else None
        return match.group(1), depth or DEFAULT_DEPTH
    if _MARKET.fullmatch(code) is None:
        return None
    return code, DEFAULT_DEPTH


def parse_request(text: str, *, allowed: frozenset[str], honour_camel_case: bool = True,
                  rules: ChannelRules | None = None) -> ParsedRequest:
    """Validate one request frame for an endpoint that serves the ``allowed`` types; raise
    :class:`RequestError`."""
    rules = rules if rules is not None else ChannelRules()
    try:
        payload = json.loads(text)
    except ValueError:
        raise RequestError(WRONG_FORMAT) from None
    if not isinstance(payload, list) or not all(isinstance(item, dict) for item in payload):
        raise RequestError(WRONG_FORMAT)

    tickets = [item["ticket"] for item in payload if "ticket" in item]
    if not tickets or not isinstance(tickets[0], str) or not tickets[0]:
        raise RequestError(NO_TICKET)

    fmt: str | None = None
    for item in payload:
        if "format" in item:
            if item["format"] not in FORMATS:
                raise RequestError(WRONG_FORMAT)
            fmt = item["format"]

    methods = [item["method"] for item in payload if "method" in item]
    if methods:
        if methods[0] != LIST_SUBSCRIPTIONS:
            raise RequestError(INVALID_PARAM, f"{methods[0]} 은 지원하지 않는 메소드입니다.")
        return ParsedRequest(tickets[0], fmt, LIST_SUBSCRIPTIONS, ())

    type_objects = [item for item in payload if "type" in item]
    if not type_objects:
        raise RequestError(NO_TYPE)
    types: list[AnyTypeRequest] = []
    for item in type_objects:
        parsed = _parse_type(item, allowed=allowed, honour_camel_case=honour_camel_case,
                             rules=rules)
        if parsed is not None:
            types.append(parsed)
    if (rules.announcement_requires_format and fmt is None
            and any(isinstance(t, AnnouncementRequest) for t in types)):
        raise RequestError(INVALID_PARAM, "format 은 필수 항목입니다.")
    return ParsedRequest(tickets[0], fmt, None, tuple(types))


def _parse_type(item: dict[str, Any], *, allowed: frozenset[str], honour_camel_case: bool,
                rules: ChannelRules) -> AnyTypeRequest | None:
    name = item["type"]
    if not isinstance(name, str):
        raise RequestError(WRONG_FORMAT)
    if name not in allowed:
        raise RequestError(INVALID_PARAM, f"{name} 은 지원하지 않는 타입입니다.")
    if name in INFO_TYPES:
        return _parse_indicator(item, name, rules)
    if name == ANNOUNCEMENT:
        return _parse_announcement(item, rules)

    codes = item.get("codes")
    if name == "myAsset":
        if "codes" in item:
            raise RequestError(WRONG_FORMAT)
        codes = []
    elif codes is None or codes == []:
        if name != "myOrder":
            raise RequestError(NO_CODES)
        codes = []
    if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
        raise RequestError(WRONG_FORMAT)

    level = item.get("level", 0)
    if isinstance(level, bool) or not isinstance(level, (int, float)) or level < 0:
        raise RequestError(WRONG_FORMAT)

    flags: dict[str, bool] = {}
    for key, camel in _CAMEL.items():
        value = item.get(key)
        if value is None and honour_camel_case:
            value = item.get(camel)
        if value is None:
            value = False
        if not isinstance(value, bool):
            raise RequestError(WRONG_FORMAT)
        flags[key] = value
    return TypeRequest(name, tuple(codes), level, flags["is_only_snapshot"], flags["is_only_realtime"])


# -- the newer types (docs/channels.md §2, §4, §5) ----------------------------------------------


def _refuse(rules: ChannelRules, case: str, message: str) -> None:
    """A problem of an OPEN ``case``: raise the error ``rules`` name for it, or return when the
    offending part is to be ignored."""
    answer = rules.answer(case)
    if answer != IGNORE:
        raise RequestError(answer, message if answer == INVALID_PARAM else None)


def _extras(item: dict[str, Any], names: tuple[str, ...], rules: ChannelRules) -> None:
    if rules.extra_fields == IGNORE:
        return
    for name in names:
        if name in item:
            raise RequestError(rules.extra_fields,
                               f"{name} 은 {item['type']} 에서 지원하지 않는 필드입니다."
                               if rules.extra_fields == INVALID_PARAM else None)


def _integer(value: Any) -> int | None:
    """A JSON number that is a whole number (``14`` or ``14.0``), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value)


def _parse_indicator(item: dict[str, Any], name: str, rules: ChannelRules
                     ) -> IndicatorRequest | None:
    """An ``indicator`` or ``indicator_signal`` object, or None when ``rules`` ignore all of it."""
    _extras(item, _INFO_EXTRAS, rules)
    codes = item.get("codes")
    if codes is None or codes == []:
        raise RequestError(NO_CODES)
    if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
        raise RequestError(WRONG_FORMAT)
    kept: list[str] = []
    for code in codes:
        if _KRW_MARKET.fullmatch(code) is None:
            _refuse(rules, "code", f"{code} 은 지원하지 않는 코드입니다. (원화 마켓만 지원)")
            continue
        kept.append(code)

    timeframe = item.get("timeframe")
    if not isinstance(timeframe, str) or timeframe not in TIMEFRAMES:
        _refuse(rules, "timeframe", f"timeframe {timeframe} 은 지원하지 않는 값입니다.")
        return None

    raw_items = item.get("indicators")
    if raw_items is not None and not isinstance(raw_items, list):
        raise RequestError(WRONG_FORMAT)
    if not raw_items:
        _refuse(rules, "indicators", "indicators 가 존재하지 않습니다.")
        return None
    items: list[Item] = []
    for raw in raw_items:
        parsed = _parse_item(raw, name, rules)
        if parsed is not None:
            items.append(parsed)
    return IndicatorRequest(name, tuple(kept), timeframe, tuple(items))


def _parse_item(raw: Any, name: str, rules: ChannelRules) -> Item | None:
    """One ``indicators[]`` item, or None when ``rules`` ignore it."""
    if not isinstance(raw, dict):
        raise RequestError(WRONG_FORMAT)
    table = SIGNAL_PARAMS if name == "indicator_signal" else INDICATOR_PARAMS
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in table:
        _refuse(rules, "indicators", f"{kind} 은 지원하지 않는 지표입니다.")
        return None
    params = raw.get("params")
    if params is None:
        _refuse(rules, "params", f"{kind} 의 params 가 존재하지 않습니다.")
        return None
    if not isinstance(params, dict):
        raise RequestError(WRONG_FORMAT)
    checked = _parse_params(kind, params, table[kind], rules)
    if checked is None:
        return None
    indicator = Indicator(kind, checked)
    if name == "indicator":
        return indicator

    trigger = raw.get("trigger")
    triggers = TRIGGERS[kind]
    if not isinstance(trigger, str) or trigger not in triggers:
        _refuse(rules, "trigger", f"{kind} 의 trigger {trigger} 은 지원하지 않는 값입니다.")
        return None
    events = raw.get("event_params")
    if events is not None and not isinstance(events, dict):
        raise RequestError(WRONG_FORMAT)
    needed = triggers[trigger]
    if needed is None:
        if events or (events == {} and not rules.empty_event_params):
            _refuse(rules, "event_params", f"{trigger} 은 event_params 를 받지 않습니다.")
            return None
        return Signal(indicator, trigger)
    key, allowed = needed
    value = _integer(events.get(key)) if events else None
    if value is None or value not in allowed:
        _refuse(rules, "event_params", f"{trigger} 의 event_params.{key} 이 올바르지 않습니다.")
        return None
    return Signal(indicator, trigger, ((key, value),))


def _parse_params(kind: str, params: dict[str, Any], spec: ParamSet, rules: ChannelRules
                  ) -> Params | None:
    """The params in their echoed order, or None when ``rules`` ignore the item."""
    checked: list[tuple[str, int | float | str]] = []
    for key in spec.keys:
        value = _integer(params.get(key))
        if value is None:
            _refuse(rules, "params", f"{kind} 의 params.{key} 이 올바르지 않습니다.")
            return None
        checked.append((key, value))
    if tuple(value for _, value in checked) not in spec.allowed:
        listed = ", ".join(f"{key}={value}" for key, value in checked)
        _refuse(rules, "params", f"{kind} 은 {listed} 을 지원하지 않습니다.")
        return None
    if spec.ma_type:
        ma_type = params.get("type")
        if ma_type not in MA_TYPES:
            _refuse(rules, "params", f"{kind} 의 params.type {ma_type} 은 지원하지 않는 값입니다.")
            return None
        checked.append(("type", ma_type))
    if spec.multiplier:
        multiplier = params.get("multiplier")
        if (isinstance(multiplier, bool) or not isinstance(multiplier, (int, float))
                or not rules.accepts_multiplier(float(multiplier))):
            _refuse(rules, "params", f"{kind} 의 params.multiplier {multiplier} 은 지원하지 않는 값입니다.")
            return None
        checked.append(("multiplier", float(multiplier)))
    return tuple(checked)


def _parse_announcement(item: dict[str, Any], rules: ChannelRules) -> AnnouncementRequest:
    _extras(item, _ANNOUNCEMENT_EXTRAS, rules)
    categories = item.get("categories")
    if categories is not None:
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise RequestError(WRONG_FORMAT)
        for category in categories:
            if category not in CATEGORIES:
                raise RequestError(INVALID_PARAM, f"{category} 은 지원하지 않는 카테고리입니다.")
    include_body = item.get("include_body", False)
    if not isinstance(include_body, bool):
        raise RequestError(WRONG_FORMAT)
    chosen = tuple(dict.fromkeys(categories)) if categories else None  # [] means all, as omitted
    return AnnouncementRequest(chosen, include_body)
