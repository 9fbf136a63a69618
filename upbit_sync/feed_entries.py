"""The entries of a Redis Streams feed (docs/architecture.md §11): their keys, fields and ids.

A publisher writes one stream per message type, ``<prefix>:<type>``, whose entries hold the typed
message as SIMPLE JSON (``m``: what a socket frame holds, decoded by the same strict decoder at the
same cost; msgspec encodes the typed message back, ~2 µs a ticker), its ``received_at`` (``r``) and
the entry's number in its stream (``n``: consecutive, so a reader without a group can count entries
trimmed away before it read them). Lifecycle events go to ``<prefix>:events`` (``e``: the event as
JSON). Every entry id is chosen by the publisher from one increasing sequence over all its streams
(:class:`IdSequence`), so an event's id places it between the data entries around it in any stream.
``<prefix>:meta`` is a hash saying what is published (types, markets, started_at).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

import msgspec

from .errors import ConfigError, DecodeError
from .redact import redact, redact_url
from .types import Connected, DataLoss, Disconnected, Event, Message, Reconnected, ServerError

DEFAULT_PREFIX = "upbit-sync:feed"
EVENTS = "events"
META = "meta"

_encode = msgspec.json.encode
_EVENT_CLASSES: dict[str, type[Event]] = {
    cls.__name__: cls for cls in (Connected, Disconnected, Reconnected, DataLoss, ServerError)
}


def stream_key(prefix: str, kind: str) -> str:
    """The stream of one message type (or of the events, ``kind="events"``)."""
    return f"{prefix}:{kind}"


def meta_key(prefix: str) -> str:
    return f"{prefix}:{META}"


def data_entry(message: Message, number: int) -> dict[str, bytes]:
    """One message as an entry: its SIMPLE JSON, received_at and its number in its stream."""
    return {"m": _encode(message), "r": repr(message.received_at).encode(), "n": str(number).encode()}


def event_entry(event: Event, at: float) -> dict[str, bytes]:
    """One event as an entry of the events stream; ``at``: when the publisher saw it (epoch s)."""
    body = {"_event": type(event).__name__, **asdict(event), "at": at}
    return {"e": json.dumps(body, separators=(",", ":")).encode()}


def read_event(fields: Mapping[bytes, bytes]) -> Event:
    """The event of an events-stream entry; DecodeError for one this SDK does not know."""
    try:
        body = json.loads(fields[b"e"])
        cls = _EVENT_CLASSES[body.pop("_event")]
        body.pop("at", None)
        return cls(**body)
    except (KeyError, TypeError, ValueError) as exc:
        raise DecodeError(f"unreadable feed event: {exc}") from None


def entry_number(fields: Mapping[bytes, bytes]) -> int:
    """A data entry's number in its stream (0 if it has none)."""
    try:
        return int(fields.get(b"n", b"0"))
    except ValueError:
        return 0


def received_at(fields: Mapping[bytes, bytes]) -> float:
    try:
        return float(fields.get(b"r", b"0"))
    except ValueError:
        return 0.0


def parse_id(entry_id: bytes | str) -> tuple[int, int]:
    """A stream id ``ms-seq`` as a pair that orders as Redis orders ids."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def format_id(pair: tuple[int, int]) -> str:
    return f"{pair[0]}-{pair[1]}"


class IdSequence:
    """The publisher's ids: ``<ms>-<seq>``, strictly increasing over every stream it writes (the
    wall clock in ms, the sequence within one ms), never below ``floor`` (the largest id already in
    its streams, so a restarted publisher goes on after its predecessor)."""

    __slots__ = ("_ms", "_seq")

    def __init__(self, floor: tuple[int, int] = (0, 0)) -> None:
        self._ms, self._seq = floor

    def next(self, now_ms: int | None = None) -> str:
        ms = int(time.time() * 1000) if now_ms is None else now_ms
        if ms > self._ms:
            self._ms, self._seq = ms, 0
        else:
            self._seq += 1
        return f"{self._ms}-{self._seq}"

    @property
    def last(self) -> tuple[int, int]:
        return self._ms, self._seq


def meta_record(types: Iterable[str], markets: Iterable[str], started_at: float) -> dict[str, str]:
    return {"types": json.dumps(list(types)), "markets": json.dumps(list(markets)),
            "started_at": repr(started_at)}


def read_meta(fields: Mapping[bytes, bytes]) -> dict[str, Any]:
    """What a meta hash says: ``types`` and ``markets`` (lists, empty when unknown), ``started_at``."""
    out: dict[str, Any] = {"types": [], "markets": [], "started_at": None}
    try:
        if b"types" in fields:
            out["types"] = list(json.loads(fields[b"types"]))
        if b"markets" in fields:
            out["markets"] = list(json.loads(fields[b"markets"]))
        if b"started_at" in fields:
            out["started_at"] = float(fields[b"started_at"])
    except (TypeError, ValueError):
        pass
    return out


def close_quietly(client: Any) -> None:
    """Close a redis-py client that may already be broken (an outage): nothing it raises matters."""
    if client is not None:
        try:
            client.close()
        except Exception:
            pass


def redis_client(url: str, timeout: float) -> Any:
    """A redis-py client for ``url`` without retries of its own (the feed's loops retry, and tell
    of an outage); ConfigError without the redis package or for a URL it cannot use."""
    try:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry
    except ImportError:
        raise ConfigError("a Redis feed needs the redis package: pip install 'upbit-sync[redis]'") from None
    try:
        return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=min(timeout, 5.0),
                                    retry=Retry(NoBackoff(), 0))
    except ValueError as exc:
        raise ConfigError(f"feed {redact_url(url)} is not a Redis URL redis-py can use: "
                          f"{redact(str(exc))}") from None


__all__ = [
    "DEFAULT_PREFIX", "EVENTS", "IdSequence", "data_entry", "entry_number", "event_entry", "format_id",
    "meta_key", "meta_record", "parse_id", "read_event", "read_meta", "received_at", "redis_client",
    "stream_key",
]
