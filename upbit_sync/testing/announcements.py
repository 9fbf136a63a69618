"""The ``announcement`` channel of the fake exchange: Upbit's notices, pushed by a test
(docs/channels.md §5).

A connection on ``/websocket/v1/private`` that subscribed to ``announcement`` gets every notice of the
categories it asked for (all when it named none), with ``body`` only when it asked with
``include_body: true``. A body that would make the frame bigger than :data:`MAX_FRAME` is sent as
null, as Upbit does with large bodies: the SDK's default websockets settings close a connection on a
frame over 1 MiB (§1).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from .. import formats
from ..indicators import CATEGORIES
from ..types import EventType

EVENT_TYPES = tuple(kind.value for kind in EventType)
FIELDS = frozenset(formats.ANNOUNCEMENT.simple)  # what an announcement may carry (DEFAULT names)
MAX_FRAME = 1 << 20  # websockets' default max_size, which the SDK keeps

_KST = timezone(timedelta(hours=9))


def kst_text(seconds: float) -> str:
    """An instant as the announcement times are written: ISO 8601 in KST with its offset, to the
    second (``2026-10-21T14:30:00+09:00``; the exact form is OPEN, §7.7)."""
    return datetime.fromtimestamp(seconds, tz=_KST).isoformat(timespec="seconds")


def make_announcement(**fields: Any) -> dict[str, Any]:
    """A DEFAULT-keyed announcement message: plausible values, overridden by ``fields``.

    A field Upbit does not send is a TypeError, a ``category`` or ``event_type`` Upbit does not use a
    ValueError: either way the test has a typo.
    """
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        raise TypeError(f"an announcement has no field {', '.join(unknown)}")
    now = time.time()
    notice = uuid.uuid4()
    title = fields.get("title", "[안내] 업비트 서비스 이용 안내")
    listed = kst_text(now)
    message: dict[str, Any] = {
        "type": "announcement",
        "uuid": str(notice),
        "title": title,
        "category": "notice",
        "event_type": "CREATED",
        "url": f"https://upbit.com/service_center/notice?id={notice.int % 90000 + 1000}",
        "body": f"## {title}\n\n안녕하세요, 업비트입니다.\n\n- 테스트용 가짜 거래소의 공지입니다.\n",
        "first_listed_at": listed,
        "listed_at": listed,
        "timestamp": int(now * 1000),
        "stream_type": "REALTIME",
    }
    message.update(fields)
    if message["type"] != "announcement":
        raise ValueError("an announcement's type is 'announcement'")
    if message["category"] not in CATEGORIES:
        raise ValueError(f"{message['category']!r} is not an announcement category: {CATEGORIES}")
    if message["event_type"] not in EVENT_TYPES:
        raise ValueError(f"event_type must be one of {EVENT_TYPES}")
    if message["body"] is not None and not isinstance(message["body"], str):
        raise ValueError("body is Markdown text or None")
    return message


def as_sent(message: Mapping[str, Any], include_body: bool) -> dict[str, Any]:
    """The message as a subscriber gets it: without ``body`` unless it asked for bodies."""
    if include_body:
        return dict(message)
    return {key: value for key, value in message.items() if key != "body"}


def without_body(message: Mapping[str, Any]) -> dict[str, Any]:
    """The message with a null ``body``: what goes out when the body is too big for a frame."""
    return {**message, "body": None}
