"""The entry format of a feed: a message goes in as SIMPLE JSON and comes out as the same typed
message through the SDK's own decoder; events, ids and the meta record round-trip."""

from __future__ import annotations

import msgspec
import pytest

from upbit_sync import feed_entries as fe
from upbit_sync.errors import DecodeError
from upbit_sync.protocol import typed_decoder
from upbit_sync.testing.market import MarketSimulator
from upbit_sync.testing.wire import encode
from upbit_sync.types import DataLoss, Disconnected, Reconnected


@pytest.mark.parametrize("kind", ["ticker", "trade", "orderbook", "candle.1m"])
def test_a_message_entry_decodes_into_the_same_typed_message_with_its_received_at(kind):
    decode = typed_decoder("SIMPLE")
    assert decode is not None
    message = decode(encode(MarketSimulator(seed=3).make(kind, "KRW-BTC", "REALTIME"), "SIMPLE"))
    msgspec.structs.force_setattr(message, "received_at", 1234.5)
    fields = {k.encode(): v for k, v in fe.data_entry(message, 7).items()}
    again = decode(fields[b"m"])
    assert again == message and type(again) is type(message)
    assert fe.received_at(fields) == 1234.5 and again.received_at == 1234.5
    assert fe.entry_number(fields) == 7


@pytest.mark.parametrize("event", [
    Reconnected("publisher:public", 1.25, True),
    DataLoss("publisher", "trade", None, 12, "feed", "Redis was unreachable"),
    Disconnected("publisher:public", 1006, "dropped"),
])
def test_an_event_entry_reads_back_as_the_same_event(event):
    fields = {k.encode(): v for k, v in fe.event_entry(event, 99.0).items()}
    assert fe.read_event(fields) == event


def test_an_event_this_sdk_does_not_know_is_a_decode_error():
    with pytest.raises(DecodeError):
        fe.read_event({b"e": b'{"_event":"Nope","connection":"x"}'})


def test_ids_increase_over_every_stream_even_when_the_clock_stands_still_or_goes_back():
    ids = fe.IdSequence(floor=(1000, 5))
    made = [ids.next(now_ms=ms) for ms in (999, 1000, 1000, 1001, 1001, 500)]
    assert made == ["1000-6", "1000-7", "1000-8", "1001-0", "1001-1", "1001-2"]
    pairs = [fe.parse_id(i.encode()) for i in made]
    assert pairs == sorted(pairs) and len(set(pairs)) == len(pairs)


def test_the_meta_record_says_what_is_published():
    fields = {k.encode(): v.encode() for k, v in fe.meta_record(["trade"], ["KRW-BTC"], 5.0).items()}
    assert fe.read_meta(fields) == {"types": ["trade"], "markets": ["KRW-BTC"], "started_at": 5.0}
    assert fe.read_meta({}) == {"types": [], "markets": [], "started_at": None}
