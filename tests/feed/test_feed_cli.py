"""``upbit-sync publish``: a feed written from the command line, and its refusals (exit 2)."""

from __future__ import annotations

import redis

from tests.examples.run import Run
from upbit_sync.feed_entries import meta_key, read_meta, stream_key

CLI = ["-m", "upbit_sync"]


def test_publish_writes_the_messages_and_the_meta_record_and_exits_0(redis_url, prefix):
    good = Run([*CLI, "publish", "--to", redis_url, "trade", "KRW-BTC", "--fake", "--seconds", "0.5",
                "--prefix", prefix])
    bad = Run([*CLI, "publish", "--to", redis_url, "myOrder", "KRW-BTC", "--fake"])
    code, _, err = good.result()
    assert code == 0, err
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.xlen(stream_key(prefix, "trade")) > 0
        meta = read_meta(client.hgetall(meta_key(prefix)))
        assert meta["types"] == ["trade"] and meta["markets"] == ["KRW-BTC"]
    finally:
        client.close()
    code, _, err = bad.result()
    assert code == 2 and "public types only" in err
