"""Parse and validate a client's request frame the way Upbit does (docs/upbit.md §2, §3).

A request is one JSON array of objects: a ticket, type objects, optionally a format object or a
``method`` object. Problems raise :class:`RequestError` carrying Upbit's exact error name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..formats import CANDLE_TYPES
from .wire import FORMATS

PUBLIC_TYPES = frozenset({"ticker", "trade", "orderbook", *CANDLE_TYPES})
PRIVATE_TYPES = frozenset({"myOrder", "myAsset"})
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
class ParsedRequest:
    """A valid request: ``method`` is set for LIST_SUBSCRIPTIONS, else ``types`` replace the set.

    ``format`` is None when the request had no format object.
    """

    ticket: str
    format: str | None
    method: str | None
    types: tuple[TypeRequest, ...]


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


def parse_request(text: str, *, private: bool, honour_camel_case: bool = True) -> ParsedRequest:
    """Validate one request frame for the public or private endpoint; raise :class:`RequestError`."""
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
    types = tuple(
        _parse_type(item, private=private, honour_camel_case=honour_camel_case)
        for item in type_objects
    )
    return ParsedRequest(tickets[0], fmt, None, types)


def _parse_type(item: dict[str, Any], *, private: bool, honour_camel_case: bool) -> TypeRequest:
    name = item["type"]
    if not isinstance(name, str):
        raise RequestError(WRONG_FORMAT)
    allowed = PRIVATE_TYPES if private else PUBLIC_TYPES
    if name not in allowed:
        raise RequestError(INVALID_PARAM, f"{name} 은 지원하지 않는 타입입니다.")

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
