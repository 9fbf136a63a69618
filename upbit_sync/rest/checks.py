"""The arguments of the trading and wallet calls, checked before anything is sent: each refusal is an
InvalidRequestError naming the argument. What each order type needs and forbids is Upbit's table
(:data:`ORDER_SHAPES`, docs/trading.md "Order types"); figures go out as Upbit's decimal text."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import InvalidRequestError
from ..protocol import market_codes

SIDES = ("bid", "ask")
ORD_TYPES = ("limit", "price", "market", "best")
TIME_IN_FORCE = ("ioc", "fok", "post_only")
SMP_TYPES = ("cancel_maker", "cancel_taker", "reduce", "none")
OPEN_STATES = ("wait", "watch")
CLOSED_STATES = ("done", "cancel")
QUOTES = ("KRW", "BTC", "USDT")
IDENTIFIER = re.compile(r"[A-Za-z0-9_.-]{1,64}")
CURRENCY = re.compile(r"[A-Z0-9]{1,20}")
REMAIN_ONLY = "remain_only"  # cancel_and_new: the old order's remaining volume

# (ord_type, side) -> (price, volume, time_in_force): "need", "forbid", or the values allowed.
ORDER_SHAPES: dict[tuple[str, str], tuple[str, str, tuple[str, ...]]] = {
    ("limit", "bid"): ("need", "need", ("", "ioc", "fok", "post_only")),
    ("limit", "ask"): ("need", "need", ("", "ioc", "fok", "post_only")),
    ("price", "bid"): ("need", "forbid", ("",)),
    ("market", "ask"): ("forbid", "need", ("",)),
    ("best", "bid"): ("need", "forbid", ("ioc", "fok")),
    ("best", "ask"): ("forbid", "need", ("ioc", "fok")),
}
PRICE_MEANS = {"limit": "the unit price", "price": "the total to spend", "best": "the total to spend"}


def market(value: object, name: str = "market") -> str:
    if not isinstance(value, str):
        raise InvalidRequestError(f"{name} must be a market code such as 'KRW-BTC', not {value!r}")
    try:
        (code,) = market_codes([value])
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"{name}: {exc}") from None
    return code


def markets(value: object, name: str = "markets", most: int | None = None) -> tuple[str, ...]:
    if not isinstance(value, (str, Iterable)):
        raise InvalidRequestError(f"{name} must be market codes, not {value!r}")
    try:
        codes = market_codes(value)
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"{name}: {exc}") from None
    if most is not None and len(codes) > most:
        raise InvalidRequestError(f"{name}: at most {most} markets, not {len(codes)}")
    return codes


def choice(value: object, name: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise InvalidRequestError(f"{name} must be one of {', '.join(map(repr, allowed))}, not {value!r}")
    return value


def choices(values: object, name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """A non-empty set of values (a single text is one), each checked, repeats dropped."""
    items = (values,) if isinstance(values, str) else values
    if not isinstance(items, Iterable):
        raise InvalidRequestError(f"{name} must be a list of {', '.join(map(repr, allowed))}, not {values!r}")
    found = tuple(dict.fromkeys(choice(v, name, allowed) for v in items))
    if not found:
        raise InvalidRequestError(f"{name} must not be empty")
    return found


def amount(value: object, name: str) -> str:
    """A positive finite figure (int, float, Decimal or numeric text; never a bool) as Upbit's decimal
    text, without an exponent."""
    number: Decimal | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value)) if math.isfinite(value) else None
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            number = None
    if number is None or not number.is_finite() or number <= 0:
        raise InvalidRequestError(f"{name} must be a positive finite number (int, float, Decimal or "
                                  f"numeric text), not {value!r}")
    return format(number, "f")


def identifier(value: object, name: str = "identifier") -> str:
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        raise InvalidRequestError(f"{name} must be 1-64 characters of A-Z a-z 0-9 _ . -, not {value!r}")
    return value


def many(values: object, name: str, check: Callable[[object, str], str]) -> tuple[str, ...]:
    """A non-empty list of ids (a single text is one), each checked, repeats dropped."""
    items = (values,) if isinstance(values, str) else values
    if not isinstance(items, Iterable):
        raise InvalidRequestError(f"{name} must be a list of texts, not {values!r}")
    found = tuple(dict.fromkeys(check(v, name) for v in items))
    if not found:
        raise InvalidRequestError(f"{name} must not be empty")
    return found


def uuid(value: object, name: str = "uuid") -> str:
    if not isinstance(value, str) or not value or len(value) > 100 or not value.isprintable() or " " in value:
        raise InvalidRequestError(f"{name} must be an order's uuid (text), not {value!r}")
    return value


def one_of(name_a: str, a: object, name_b: str, b: object) -> None:
    """Exactly one of the two given (None is not given)."""
    if (a is None) == (b is None):
        raise InvalidRequestError(f"give {name_a} or {name_b} (one of them)")


def count(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequestError(f"{name} must be a whole number {low}-{high}, not {value!r}")
    return value


def currency(value: object, name: str = "currency") -> str:
    if not isinstance(value, str) or not CURRENCY.fullmatch(value):
        raise InvalidRequestError(f"{name} must be an upper-case currency code such as 'BTC', not {value!r}")
    return value


def text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"{name} must be non-empty text, not {value!r}")
    return value


def order_body(market_: object, side: object, ord_type: object, price: object, volume: object,
               time_in_force: object, smp_type: object, identifier_: object) -> dict[str, Any]:
    """A placement's body (the keys of POST /v1/orders), checked against §2.1's table."""
    body: dict[str, Any] = {"market": market(market_), "side": choice(side, "side", SIDES),
                            "ord_type": choice(ord_type, "ord_type", ORD_TYPES)}
    body.update(_shape(body["ord_type"], body["side"], price, volume, time_in_force, smp_type, ""))
    if identifier_ is not None:
        body["identifier"] = identifier(identifier_)
    return body


def replace_body(new_ord_type: object, new_price: object, new_volume: object, new_time_in_force: object,
                 new_smp_type: object) -> dict[str, Any]:
    """cancel_and_new's new-order keys. The side is the old order's, unknown here: ``best`` takes
    a total (a buy) or a volume (a sell), one of them; ``remain_only`` is a volume."""
    ord_type = choice(new_ord_type, "new_ord_type", ORD_TYPES)
    side = {"price": "bid", "market": "ask"}.get(ord_type, "bid")
    if ord_type == "best":
        one_of("new_price (a buy's total)", new_price, "new_volume (a sell's volume)", new_volume)
        side = "bid" if new_price is not None else "ask"
    remain = new_volume == REMAIN_ONLY
    shaped = _shape(ord_type, side, new_price, "1" if remain else new_volume, new_time_in_force,
                    new_smp_type, "new_")
    body: dict[str, Any] = {"new_ord_type": ord_type}
    body.update({"new_" + key: value for key, value in shaped.items()})
    if remain:
        body["new_volume"] = REMAIN_ONLY
    return body


def _shape(ord_type: str, side: str, price: object, volume: object, tif: object, smp: object,
           prefix: str) -> dict[str, Any]:
    shape = ORDER_SHAPES.get((ord_type, side))
    if shape is None:
        allowed = "bid" if ord_type == "price" else "ask"
        raise InvalidRequestError(f"side {side!r} cannot go with {prefix}ord_type {ord_type!r} "
                                  f"(a {ord_type!r} order is a {'buy' if allowed == 'bid' else 'sell'}: "
                                  f"side {allowed!r})")
    need_price, need_volume, tifs = shape
    out: dict[str, Any] = {}
    for name, value, need in (("price", price, need_price), ("volume", volume, need_volume)):
        label = prefix + name
        if need == "forbid" and value is not None:
            raise InvalidRequestError(f"{label} must be None for a {side} {ord_type!r} order")
        if need == "need":
            if value is None:
                meaning = PRICE_MEANS.get(ord_type, "") if name == "price" else "the quantity"
                raise InvalidRequestError(f"{label} is needed for a {side} {ord_type!r} order ({meaning})")
            out[name] = amount(value, label)
    if tif is None and "" not in tifs:
        raise InvalidRequestError(f"{prefix}time_in_force is needed for a {ord_type!r} order: "
                                  f"{' or '.join(map(repr, tifs))}")
    if tif is not None:
        named = [t for t in tifs if t]
        if tif not in named:
            rule = f"one of {', '.join(map(repr, named))}" if named else "None"
            raise InvalidRequestError(f"{prefix}time_in_force for a {side} {ord_type!r} order must be "
                                      f"{rule}, not {tif!r}")
        out["time_in_force"] = tif
    if smp is not None:
        out["smp_type"] = choice(smp, prefix + "smp_type", SMP_TYPES)
        if tif == "post_only" and smp != "none":
            raise InvalidRequestError(f"{prefix}smp_type {smp!r} cannot go with post_only (only 'none')")
    return out


def epoch_ms(value: object, name: str) -> int:
    """A moment as epoch milliseconds: an aware datetime, epoch ms (int), or ISO-8601 text with a
    zone. A naive datetime (or text without a zone) is refused: which zone would it be?"""
    when: datetime | None = None
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if value < 0:
            raise InvalidRequestError(f"{name} must not be negative, not {value!r}")
        return value
    elif isinstance(value, datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidRequestError(f"{name} must be ISO-8601 text with a zone such as "
                                      f"'2025-06-24T13:56:53+09:00', not {value!r}") from None
    if when is None:
        raise InvalidRequestError(f"{name} must be an aware datetime, epoch milliseconds or ISO-8601 "
                                  f"text with a zone, not {value!r}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidRequestError(f"{name} has no time zone ({value!r}): give an aware datetime "
                                  "(e.g. tzinfo=timezone.utc) or text with an offset")
    return int(when.timestamp() * 1000)
