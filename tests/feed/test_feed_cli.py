"""``upbit-sync publish``: a feed written from the command line, and its refusals (exit 2)."""

from __future__ import annotations

import redis

from upbit_sync.cli import main
from upbit_sync.feed_entries import meta_key, read_meta, stream_key


def test_publish_writes_the_messages_and_the_meta_record_and_exits_0(redis_url, prefix):
    assert main(["publish", "--to", redis_url, "trade", "KRW-BTC", "--fake", "--seconds", "0.5",
                 "--prefix", prefix]) == 0
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.xlen(stream_key(prefix, "trade")) > 0
        meta = read_meta(client.hgetall(meta_key(prefix)))
        assert meta["types"] == ["trade"] and meta["markets"] == ["KRW-BTC"]
    finally:
        client.close()


def test_publish_refuses_a_private_type_with_exit_2(redis_url, capsys):
    assert main(["publish", "--to", redis_url, "myOrder", "KRW-BTC", "--fake"]) == 2
    assert "public types only" in capsys.readouterr().err
