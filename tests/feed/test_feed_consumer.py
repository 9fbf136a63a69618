"""A publisher and consumers in one process, against a real redis-server and the fake exchange: the
consumer has the client's API (typed messages, per-market order, events, callbacks and stream()),
a group splits the entries, a clean close resumes without loss or repeat, a Redis restart is told
and survived, and what a feed cannot serve is refused before anything is sent."""

from __future__ import annotations

import threading

import pytest

import upbit_sync as us
from tests.feed.support import CODES, by_code, published_trades
from tests.support import EventLog, wait_until
from upbit_sync import FeedManager, Publisher, WebSocketClient


def _consumer(config, url, prefix, **options):
    manager = FeedManager(config, feed=url, prefix=prefix, block=0.1, **options)
    log = EventLog()
    client = WebSocketClient(manager, on_event=log.on_event, on_error=log.on_error)
    return manager, client, log


def _reading(manager, kind="trade") -> bool:
    return wait_until(lambda: manager.health()["feed"]["connected"]
                      and kind in manager.health()["feed"]["streams"], timeout=5.0)


def _settled(got: list, url: str, prefix: str) -> bool:
    """Everything published reached the consumer (after the publisher closed)."""
    return wait_until(lambda: by_code(got) == published_trades(url, prefix), timeout=5.0)


def test_a_consumer_gets_typed_messages_in_order_per_market_with_the_publishers_events(
        redis_url, config, prefix):
    manager, client, log = _consumer(config, redis_url, prefix)
    got: list = []
    try:
        client.subscribe("trade", CODES, got.append)
        assert _reading(manager)
        with Publisher(redis_url, ["trade", "ticker"], CODES, prefix=prefix, config=config):
            stream = client.stream("ticker", ["KRW-BTC"], timeout=5.0)
            tickers = [next(stream) for _ in range(3)]
            stream.close()
            assert wait_until(lambda: len(got) >= 30, timeout=5.0)
        assert _settled(got, redis_url, prefix)
        assert all(isinstance(t, us.Trade) for t in got) and all(isinstance(t, us.Ticker) for t in tickers)
        assert all(t.code == "KRW-BTC" for t in tickers)
        assert log.wait(lambda: any(isinstance(e, us.Connected) and e.connection == "publisher:public"
                                    for e in log.events))
        health = manager.health()
        assert health["healthy"] and health["connections"]["feed"]["messages"] >= len(got)
        assert health["feed"]["lost"] == 0 and health["feed"]["last_id"]["trade"]
    finally:
        client.close()
        manager.stop()


def test_a_group_of_two_consumers_splits_the_entries_each_exactly_once(redis_url, config, prefix):
    first, client_a, _ = _consumer(config, redis_url, prefix, group="split", consumer="a")
    second, client_b, _ = _consumer(config, redis_url, prefix, group="split", consumer="b")
    got_a: list = []
    got_b: list = []
    try:
        client_a.subscribe("trade", CODES, got_a.append)
        client_b.subscribe("trade", CODES, got_b.append)
        assert _reading(first) and _reading(second)
        with Publisher(redis_url, ["trade"], CODES, prefix=prefix, config=config):
            assert wait_until(lambda: len(got_a) + len(got_b) >= 60, timeout=5.0)
        published = published_trades(redis_url, prefix)
        assert wait_until(lambda: len(got_a) + len(got_b) == sum(map(len, published.values())), 5.0)
        share_a, share_b = by_code(got_a), by_code(got_b)
        for code, ids in published.items():
            mine, theirs = share_a.get(code, []), share_b.get(code, [])
            assert sorted(mine + theirs) == sorted(ids)  # together everything, each once
            assert mine == sorted(mine) and theirs == sorted(theirs)  # each share in order
        assert got_a and got_b
    finally:
        first.stop()
        second.stop()
        client_a.close()
        client_b.close()


def test_a_clean_close_and_a_new_client_of_the_same_group_neither_lose_nor_repeat(redis_process, config):
    redis_process.start()
    url = redis_process.url
    got: list = []
    first = WebSocketClient(feed=url, group="bots", consumer="one")
    first.subscribe("trade", CODES, got.append)
    assert _reading(first.manager)
    with Publisher(url, ["trade"], CODES, config=config):
        assert wait_until(lambda: len(got) >= 20, timeout=5.0)
        first.close()  # the last client of its feed: stopped, delivered entries acknowledged
        before = len(got)
        second = WebSocketClient(feed=url, group="bots", consumer="one")
        assert second.manager is not first.manager
        second.subscribe("trade", CODES, got.append)
        assert wait_until(lambda: len(got) >= before + 20, timeout=5.0)
    try:
        assert _settled(got, url, "upbit-sync:feed")  # no entry lost, none twice, in order
        assert second.manager.health()["feed"]["redelivered"] == 0
    finally:
        second.close()


def test_a_redis_restart_under_a_consumer_is_told_once_and_reading_goes_on(redis_process, config):
    redis_process.start()
    url = redis_process.url
    config = config.__class__(**{**config.__dict__, "reconnect_delay": 0.05, "reconnect_max_delay": 0.3})
    manager, client, log = _consumer(config, url, "restart", group="g", consumer="c")
    got: list = []
    try:
        client.subscribe("trade", CODES, got.append)
        assert _reading(manager)
        with Publisher(url, ["trade"], CODES, prefix="restart", config=config) as publisher:
            assert wait_until(lambda: len(got) >= 10, timeout=5.0)
            redis_process.stop()
            assert log.wait(lambda: log.events_of(us.Disconnected))
            # the outage must cost the publisher something for it to publish a DataLoss afterwards
            assert wait_until(lambda: publisher.stats["lost"] > 0, timeout=5.0)
            redis_process.start()
            assert log.wait(lambda: any(e.connection == "feed" for e in log.events_of(us.Reconnected)))
            count = len(got)
            assert wait_until(lambda: len(got) >= count + 10, timeout=5.0)  # a new group, from the start
            assert log.wait(lambda: any(e.connection == "publisher" and e.dropped > 0
                                        for e in log.events_of(us.DataLoss)))
        feed_errors = [e for e in log.errors if isinstance(e, us.ConnectError)]
        assert len(feed_errors) == 1 and "127.0.0.1" in str(feed_errors[0])
        assert len([e for e in log.events_of(us.Disconnected) if e.connection == "feed"]) == 1
        assert manager.health()["feed"]["outages"] == 1
    finally:
        client.close()
        manager.stop()


def test_what_a_feed_cannot_serve_is_refused_before_anything_is_sent(redis_url, config, prefix):
    manager, client, _ = _consumer(config, redis_url, prefix)
    try:
        with pytest.raises(us.SubscriptionError, match="public types only"):
            client.subscribe("myOrder", None, print)
        with pytest.raises(us.SubscriptionError, match="depth or level"):
            client.subscribe("orderbook", ["KRW-BTC"], print, depth=5)
        with pytest.raises(us.SubscriptionError, match="backfill"):
            client.subscribe("trade", ["KRW-BTC"], print, backfill=True)
        with pytest.raises(us.SubscriptionError, match="snapshot"):
            client.snapshot("ticker", ["KRW-BTC"])
        with pytest.raises(us.SubscriptionError, match="list_subscriptions"):
            client.list_subscriptions()
        with pytest.raises(us.ConfigError, match="manager or a feed"):
            WebSocketClient(manager, feed=redis_url)
        with pytest.raises(us.ConfigError, match="apply to a feed"):
            WebSocketClient(manager, group="g")
        with pytest.raises(us.ConfigError, match="redis://"):
            FeedManager(config, feed="http://127.0.0.1/")
        with pytest.raises(us.ConfigError, match="public types only"):
            Publisher(redis_url, ["myAsset"], [], config=config)
        assert not manager.running  # nothing was started for any of them
    finally:
        client.close()
        manager.stop()


def test_closing_the_last_client_of_a_manager_one_made_delivers_what_was_read_before_it_ends(
        redis_url, config, prefix):
    # A group acknowledges an entry once the workers have passed it. Entries read and still queued
    # when the client closes must reach its callbacks first: dropped with the subscription, they
    # would be acknowledged all the same, and lost to the group.
    manager = FeedManager(config, feed=redis_url, prefix=prefix, block=0.1, group="g", consumer="c")
    gate = threading.Event()
    got: list = []

    def held(trade: us.Trade) -> None:
        gate.wait(5.0)
        got.append(trade)

    client = WebSocketClient(manager)
    try:
        client.subscribe("trade", CODES, held)
        assert _reading(manager)
        with Publisher(redis_url, ["trade"], CODES, prefix=prefix, config=config):
            assert wait_until(lambda: manager.health()["feed"]["messages"] >= 20, timeout=5.0)
        closer = threading.Thread(target=client.close, daemon=True)
        closer.start()
        closer.join(0.3)  # with the entries delivered first, close() waits for the gate
        gate.set()
        closer.join(5.0)
        assert not closer.is_alive()
        later = WebSocketClient(manager)  # the same group and consumer: anything not acknowledged
        later.subscribe("trade", CODES, got.append)
        assert _settled(got, redis_url, prefix)  # every entry once, in order, nothing lost
        later.close()
    finally:
        gate.set()
        manager.stop()
        client.close()
