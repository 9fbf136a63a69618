"""FrameReader: loading a frame and telling data from status, errors and list replies, without a socket."""

from __future__ import annotations

import json
from typing import Any

import pytest

from upbit_sync.errors import DecodeError
from upbit_sync.protocol import FrameReader
from upbit_sync.types import ErrorMessage, ServerMessage, Status, SubscriptionList


class Sorted:
    def __init__(self, accept: bool = True) -> None:
        self.data: list[tuple[dict[str, Any], int]] = []
        self.control: list[ServerMessage] = []
        self.bad: list[tuple[DecodeError, bytes | str]] = []
        self.received: list[float] = []
        self.accept = accept
        self.reader = FrameReader(self.on_data, self.control.append, self.on_bad)

    def on_data(self, item: dict[str, Any], size: int, received_at: float) -> bool:
        self.data.append((item, size))
        self.received.append(received_at)
        return self.accept

    def on_bad(self, error: DecodeError, frame: bytes | str) -> None:
        self.bad.append((error, frame))


def test_a_data_message_goes_on_as_it_came_with_its_frame_size():
    frame = b'{"ty":"ticker","cd":"KRW-BTC","tp":1.0}'
    out = Sorted()
    out.reader.feed(frame)
    assert out.data == [({"ty": "ticker", "cd": "KRW-BTC", "tp": 1.0}, len(frame))]
    assert not out.control and not out.bad


def test_each_data_message_carries_the_time_of_the_read_that_brought_it():
    out = Sorted()
    out.reader.feed(b'[{"ty":"trade","cd":"KRW-BTC"},{"ty":"trade","cd":"KRW-ETH"}]', 1234.5)
    assert out.received == [1234.5, 1234.5]


def test_a_text_frame_is_read_like_a_binary_one():
    out = Sorted()
    out.reader.feed('{"type":"trade","code":"KRW-ETH"}')
    assert out.data[0][0] == {"type": "trade", "code": "KRW-ETH"}


def test_a_list_format_frame_is_a_batch_sharing_its_size():
    items = [{"ty": "trade", "cd": f"KRW-{c}"} for c in ("BTC", "ETH", "XRP")]
    frame = json.dumps(items).encode()
    out = Sorted()
    out.reader.feed(frame)
    assert [item for item, _ in out.data] == items
    assert {size for _, size in out.data} == {len(frame) // 3}


@pytest.mark.parametrize("frame, kind", [
    (b'{"status":"UP"}', Status),
    (b'{"error":{"name":"INVALID_PARAM","message":"nope"}}', ErrorMessage),
    (b'{"method":"LIST_SUBSCRIPTIONS","result":[{"type":"ticker","codes":["KRW-BTC"]}],"ticket":"t"}',
     SubscriptionList),
    (b'{"mthd":"LIST_SUBSCRIPTIONS","rslt":[{"ty":"ticker","cds":["KRW-BTC"]}],"tckt":"t"}',
     SubscriptionList),
], ids=["status", "error", "list reply", "list reply SIMPLE"])
def test_control_messages_arrive_typed(frame, kind):
    out = Sorted()
    out.reader.feed(frame)
    (message,) = out.control
    assert isinstance(message, kind) and not out.data and not out.bad


@pytest.mark.parametrize("frame", [
    b"{not json", b"[1, 2]", b'"a string"', b'{"neither":"type nor status"}',
    b'{"error":"not an object"}', b"\xff\xfe",
], ids=["not json", "list of non-objects", "a string", "no known kind", "bad error", "bad bytes"])
def test_what_cannot_be_understood_is_bad_and_reading_goes_on(frame):
    out = Sorted()
    out.reader.feed(frame)
    out.reader.feed(b'{"status":"UP"}')
    assert out.bad and all(isinstance(error, DecodeError) for error, _ in out.bad)
    assert out.bad[0][1] == frame
    assert isinstance(out.control[-1], Status)


def test_a_data_message_the_router_cannot_use_is_bad():
    out = Sorted(accept=False)
    out.reader.feed(b'{"ty":["not","a","type"]}')
    (error, _), = out.bad
    assert "usable type or code" in str(error)
