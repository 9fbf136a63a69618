"""Fixtures for the engine tests: a fake exchange, fast settings, and a manager wired to a Recorder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import Recorder
from upbit_sync import Config
from upbit_sync.manager import WebSocketManager, port_of
from upbit_sync.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY, FakeUpbitServer

# Short intervals so faults are noticed in tenths of a second rather than in tens of seconds.
FAST = dict(
    health_check_interval=0.2,
    stale_after=0.8,
    connect_timeout=0.6,
    reconnect_delay=0.1,
    reconnect_max_delay=0.8,
    ping_interval=2.0,
    ping_timeout=1.0,
)


def fast_config(server: FakeUpbitServer | None = None, **overrides: object) -> Config:
    urls = {}
    if server is not None:
        urls = {"public_url": server.public_url, "private_url": server.private_url,
                "rest_url": server.rest_url}
    return Config(**{**FAST, **urls, **overrides})  # type: ignore[arg-type]


@pytest.fixture
def exchange() -> Iterator[FakeUpbitServer]:
    with FakeUpbitServer(message_rate=20.0, status_interval=0.5, seed=7) as server:
        yield server


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def manager(exchange: FakeUpbitServer, recorder: Recorder) -> Iterator[WebSocketManager]:
    m = WebSocketManager(fast_config(exchange))
    port_of(m).add_listener(recorder)
    m.start()
    yield m
    m.stop()


@pytest.fixture
def private_manager(exchange: FakeUpbitServer, recorder: Recorder) -> Iterator[WebSocketManager]:
    m = WebSocketManager(fast_config(exchange, access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY))
    port_of(m).add_listener(recorder)
    m.start()
    yield m
    m.stop()
