"""What the feed tests share: the trades a feed holds, read back with XRANGE."""

from __future__ import annotations

from typing import Any

from upbit_sync.feed_entries import stream_key
from upbit_sync.protocol import typed_decoder

CODES = ["KRW-BTC", "KRW-ETH"]


def published_trades(url: str, prefix: str) -> dict[str, list[int]]:
    """Per market, the sequential ids of the trades in the feed's trade stream, in stream order."""
    import redis

    decode: Any = typed_decoder("SIMPLE")
    out: dict[str, list[int]] = {}
    client = redis.Redis.from_url(url)
    try:
        for _, fields in client.xrange(stream_key(prefix, "trade")):
            trade = decode(fields[b"m"])
            out.setdefault(trade.code, []).append(trade.sequential_id)
    finally:
        client.close()
    return out


def by_code(trades: list[Any]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for trade in list(trades):
        out.setdefault(trade.code, []).append(trade.sequential_id)
    return out
