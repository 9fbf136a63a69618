"""``subscribe_markets(follow=True)``: markets listed and delisted while the streams run are
subscribed and dropped, each told once (upbit_sync/listings.py), against the fake exchange."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import upbit_sync as us
from tests.client.conftest import Sink, data_requests, public_conn, request_codes, served
from tests.support import wait_until
from upbit_sync.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY, FakeUpbitServer

LISTED = ("KRW-BTC", "KRW-ETH", "KRW-XRP", "BTC-ETH")
KRW = {code for code in LISTED if code.startswith("KRW-")}
FAST_READS = 0.2  # seconds between re-reads where a test waits for the follow to see a change


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpbitServer]:
    """One fake exchange for the module; each test lists and delists codes of its own and leaves
    the listing as it found it."""
    with FakeUpbitServer(markets=LISTED, message_rate=20.0, status_interval=0.5, seed=7) as server:
        yield server


@pytest.fixture(autouse=True)
def listing_restored(fake: FakeUpbitServer) -> Iterator[None]:
    yield
    fake.markets = LISTED


def follow_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("upbit-markets-")}


def market_reads(fake: FakeUpbitServer) -> int:
    return sum(1 for r in fake.rest_requests if r.path == "/v1/market/all")


def test_a_market_listed_while_streams_run_is_subscribed_its_data_arrives_and_it_is_told_once(
        harness, fake):
    sink, events = Sink(), Sink()
    client = harness.client(harness.manager(fake), events)
    follow = client.subscribe_markets("ticker", quote="KRW", callback=sink, follow=True,
                                      interval=FAST_READS)
    assert set(follow.markets) == KRW
    stream = client.stream("ticker", "KRW-BTC", events=True, timeout=5.0)
    assert sink.wait(lambda: set(sink.codes()) == KRW)

    fake.list_market("KRW-NEWC", korean_name="뉴코인", english_name="New Coin")
    assert sink.wait(lambda: sink.codes()["KRW-NEWC"] > 0)
    assert wait_until(lambda: served(fake, "ticker") == KRW | {"KRW-NEWC"})
    told = next(item for item in stream if isinstance(item, us.MarketListed))  # streams hear it too
    assert (told.market, told.quote, told.korean_name, told.english_name) == (
        "KRW-NEWC", "KRW", "뉴코인", "New Coin")
    reads = follow.reads
    assert wait_until(lambda: follow.reads >= reads + 2)  # later re-reads tell nothing more
    assert events.wait(lambda: events.events_of(us.MarketListed))
    assert [e.market for e in events.events_of(us.MarketListed)] == ["KRW-NEWC"]
    assert "KRW-NEWC" in follow.markets and "KRW-NEWC" in follow.listing
    assert not events.errors


def test_a_delisted_market_is_dropped_from_the_request_in_one_change_and_told_once(harness, fake):
    sink, events = Sink(), Sink()
    client = harness.client(harness.manager(fake), events)
    follow = client.subscribe_markets("trade", quote="KRW", callback=sink, follow=True,
                                      interval=FAST_READS)
    assert sink.wait(lambda: set(sink.codes()) == KRW)
    conn = public_conn(fake)
    before = len(data_requests(conn))

    fake.delist_market("KRW-XRP")
    assert events.wait(lambda: events.events_of(us.MarketDelisted))
    assert wait_until(lambda: len(data_requests(conn)) > before)
    after = data_requests(conn)[before:]
    assert len(after) == 1  # the delisting is one request
    assert set(request_codes(after[0], "trade")) == KRW - {"KRW-XRP"}
    reads = follow.reads
    assert wait_until(lambda: follow.reads >= reads + 2)
    (gone,) = events.events_of(us.MarketDelisted)
    assert (gone.market, gone.quote, gone.english_name) == ("KRW-XRP", "KRW", "XRP")
    assert set(follow.markets) == KRW - {"KRW-XRP"}
    assert len(data_requests(conn)) == before + 1 and not events.errors


def test_a_listing_announcement_reads_the_list_again_at_once(harness, fake):
    events = Sink()
    manager = harness.manager(fake, access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY)
    client = harness.client(manager, events)
    follow = client.subscribe_markets("ticker", quote="KRW", callback=Sink(), follow=True,
                                      interval=3_600.0)
    assert wait_until(lambda: any(c.is_private and c.subscriptions for c in fake.open_connections()))

    fake.list_market("KRW-ANNC", announce=True)
    assert events.wait(lambda: events.events_of(us.MarketListed))
    assert [e.market for e in events.events_of(us.MarketListed)] == ["KRW-ANNC"]
    assert wait_until(lambda: follow.reads == 1)  # the one re-read the announcement asked for


def test_a_rest_failure_is_told_once_and_the_follow_catches_up_after(harness):
    fake = harness.server(markets=LISTED)  # its own: an HTTP connection a refusal leaves open ends with it
    events = Sink()
    client = harness.client(harness.manager(fake), events)
    follow = client.subscribe_markets("ticker", quote="KRW", callback=Sink(), follow=True,
                                      interval=FAST_READS)
    reads = market_reads(fake)
    fake.refuse_rest_next(3, status=500, group="market")
    fake.list_market("KRW-LATE")

    assert events.wait(lambda: events.events_of(us.MarketListed))
    assert market_reads(fake) >= reads + 4  # three refused, then the one that saw the listing
    (error,) = events.errors  # once for the whole outage
    assert isinstance(error, us.ApiServerError)
    assert "KRW-LATE" in follow.markets


def test_the_markets_go_in_one_request_and_cancel_joins_the_thread_and_drops_them(harness, fake):
    client = harness.client(harness.manager(fake))
    before = follow_threads()
    follow = client.subscribe_markets("ticker", quote="KRW", callback=Sink(), follow=True,
                                      interval=FAST_READS)
    (name,) = follow_threads() - before
    assert name.startswith("upbit-markets-KRW-")
    assert wait_until(lambda: served(fake, "ticker") == KRW)
    assert len(data_requests(public_conn(fake))) == 1
    follow.cancel()
    assert name not in follow_threads()
    assert follow.closed and not follow.markets
    assert all(not sub.active for sub in client.subscriptions if sub.type == "ticker")
    follow.cancel()  # idempotent


def test_closing_the_client_joins_the_thread(harness, fake):
    client = harness.client(harness.manager(fake))
    before = follow_threads()
    follow = client.subscribe_markets("ticker", quote="KRW", callback=Sink(), follow=True)
    (name,) = follow_threads() - before
    client.close()
    assert name not in follow_threads() and follow.closed


@pytest.mark.parametrize(("options", "named"), [
    ({"interval": 0}, "interval"), ({"interval": -1.0}, "interval"), ({"interval": math.nan}, "interval"),
    ({"interval": 86_401}, "interval"), ({"interval": True}, "interval"), ({"interval": "60"}, "interval"),
    ({"follow": "yes"}, "follow"), ({"follow": 1}, "follow"), ({"type": "myOrder"}, "public type"),
    ({"quote": ""}, "quote"), ({"callback": None}, "callback"),
], ids=repr)
def test_bad_arguments_are_refused_before_anything_is_sent(harness, fake, options: dict[str, Any],
                                                           named: str):
    client = harness.client(harness.manager(fake, start=False))
    options = {"type": "ticker", "quote": "KRW", "callback": Sink(), "follow": True, **options}
    reads, opened = market_reads(fake), fake.connections_opened
    with pytest.raises(us.InvalidRequestError, match=named):
        client.subscribe_markets(**options)
    assert market_reads(fake) == reads and fake.connections_opened == opened
    assert not follow_threads()


def test_the_fake_stops_a_delisted_markets_data_even_for_a_request_that_still_names_it(harness, fake):
    sink = Sink()
    client = harness.client(harness.manager(fake))
    client.subscribe("ticker", ["KRW-BTC", "KRW-XRP"], sink)
    assert sink.wait(lambda: sink.codes()["KRW-XRP"] > 0)
    fake.delist_market("KRW-XRP")
    assert "KRW-XRP" not in {m.market for m in client.rest.markets(quote="KRW")}
    btc = sink.codes()["KRW-BTC"]
    assert sink.wait(lambda: sink.codes()["KRW-BTC"] >= btc + 3)  # what was on its way has come
    xrp, btc = sink.codes()["KRW-XRP"], sink.codes()["KRW-BTC"]
    assert sink.wait(lambda: sink.codes()["KRW-BTC"] >= btc + 10)
    assert sink.codes()["KRW-XRP"] == xrp
    with pytest.raises(ValueError, match="not listed"):
        fake.delist_market("KRW-XRP")
    with pytest.raises(ValueError, match="listed already"):
        fake.list_market("KRW-BTC")
