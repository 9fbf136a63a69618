"""A REST call as the fake's endpoints see it, and its parameters read and checked with the answers
Upbit gives a bad one (``RestError``: an HTTP status and Upbit's error name and message)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

CODE = re.compile(r"[A-Z0-9]+-[A-Z0-9]+")
_TIME_OF_DAY = re.compile(r"(\d{2}):?(\d{2}):?(\d{2})")


class RestError(Exception):
    """An error answer: HTTP ``status`` and Upbit's ``{"error": {"name", "message"}}``."""

    def __init__(self, status: int, name: str | int, message: str) -> None:
        super().__init__(f"{status} {name}: {message}")
        self.status = status
        self.name = name
        self.message = message


@dataclass
class Call:
    """One admitted request, as an endpoint sees it."""

    method: str
    path: str
    raw_query: str
    query: dict[str, list[str]]
    body: Any
    access_key: str | None
    raw_body: bytes = b""

    def param(self, name: str) -> str | None:
        """A parameter from the query, or else from a JSON object body (as text)."""
        values = self.query.get(name)
        if values:
            return values[0]
        if isinstance(self.body, dict) and self.body.get(name) is not None:
            return text(self.body[name])
        return None

    def params(self, name: str) -> list[str]:
        """An array parameter (``name[]``), from the query or a JSON object body."""
        values = self.query.get(f"{name}[]") or self.query.get(name)
        if values:
            return values
        if isinstance(self.body, dict):
            value = self.body.get(f"{name}[]", self.body.get(name))
            if isinstance(value, list):
                return [text(item) for item in value]
            if value is not None:
                return [text(value)]
        return []


@dataclass(frozen=True)
class Endpoint:
    """What serves one method and path: its rate-limit group, whether it needs a token, the call."""

    group: str
    signed: bool
    serve: Callable[[Call], tuple[int, Any]]


Endpoints = dict[tuple[str, str], Endpoint]  # (method, path) -> endpoint


def text(value: Any) -> str:
    """A JSON value as a parameter's text: a string as it is, a flag ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def flag(value: str | None, name: str) -> bool:
    if value is None or value.lower() == "false":
        return False
    if value.lower() == "true":
        return True
    raise RestError(400, 400, f"{name} must be true or false.")


def split(value: str | None, name: str) -> list[str]:
    """A comma-separated list parameter; 400 when it is missing or has an empty item."""
    if not value:
        raise RestError(400, 400, f"{name} is required.")
    items = [item.strip() for item in value.split(",")]
    if not all(items):
        raise RestError(400, 400, f"{name} has an empty item.")
    return items


def integer(value: str | None, name: str, default: int, low: int, high: int | None,
            error: str | int = 400) -> int:
    """An integer parameter within ``[low, high]``, or ``default`` when absent; 400 otherwise."""
    found = optional_integer(value, name, low, high, error)
    return default if found is None else found


def optional_integer(value: str | None, name: str, low: int, high: int | None,
                     error: str | int = 400) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise RestError(400, error, f"{name} must be an integer.") from None
    if number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise RestError(400, error, f"{name} must be {bound}.")
    return number


def number(value: str | None, name: str, default: float) -> float:
    if value is None:
        return default
    try:
        found = float(value)
    except ValueError:
        raise RestError(400, 400, f"{name} must be a number.") from None
    if not math.isfinite(found) or found < 0:
        raise RestError(400, 400, f"{name} must be a number of at least 0.")
    return found


def amount(value: str | None, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        found = Decimal(value)
    except InvalidOperation:
        raise RestError(400, "validation_error", f"{name} must be a decimal number.") from None
    if not found.is_finite() or found <= 0:
        raise RestError(400, "validation_error", f"{name} must be above 0.")
    return found


def time_of_day(value: str | None) -> int | None:
    """``to`` (``HHmmss`` or ``HH:mm:ss``, UTC) as seconds into the day."""
    if value is None:
        return None
    match = _TIME_OF_DAY.fullmatch(value)
    if match is None:
        raise RestError(400, 400, "to must be HHmmss or HH:mm:ss.")
    hours, minutes, seconds = (int(part) for part in match.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        raise RestError(400, 400, "to is not a time of day.")
    return hours * 3600 + minutes * 60 + seconds


def decimal_text(value: float | Decimal) -> str:
    """A number as Upbit writes decimal strings: plain notation, no trailing zeros (``"0.0001"``)."""
    found = value if isinstance(value, Decimal) else Decimal(repr(value))
    written = format(found.normalize(), "f")
    return "0" if written in ("-0", "0") else written
