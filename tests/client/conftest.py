"""Fixtures for the application API tests: fake exchanges, per-test managers and clients, and probes.

Everything a test starts through ``harness`` is torn down in dependency order (clients, then managers,
then fake exchanges), so the suite-wide no-thread-leak check sees a clean process.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

import upbit_sync as us
from tests.engine.conftest import fast_config
from tests.support import EventLog, wait_until
from upbit_sync.testing import (
    TEST_ACCESS_KEY,
    TEST_SECRET_KEY,
    ConnInfo,
    FakeUpbitServer,
    MarketSimulator,
    encode,
)

# Firehose tests keep the socket thread busy for seconds: keep-alive and staleness must not read
# that as a dead peer, or a reconnect in the middle would resend snapshots and spoil the counts.
BULK = dict(stale_after=5.0, ping_interval=20.0, ping_timeout=10.0)
_SID_PLACEHOLDER = 4_242_424_242_424_242_424


class Sink(EventLog):
    """A subscriber callback that records every message and the thread it ran on; its ``on_event``
    and ``on_error`` record what a client reports, so one Sink can also be a client's listener."""

    def __init__(self, hook: Callable[[Any], None] | None = None) -> None:
        super().__init__()
        self.messages: list[Any] = []
        self.threads: list[str] = []
        self.hook = hook

    def __call__(self, message: Any) -> None:
        with self.cond:
            self.messages.append(message)
            self.threads.append(threading.current_thread().name)
            self.cond.notify_all()
        if self.hook is not None:
            self.hook(message)

    def __len__(self) -> int:
        with self.cond:
            return len(self.messages)

    def codes(self) -> Counter[str]:
        """How many messages arrived per code."""
        with self.cond:
            return Counter(_field(m, "code") for m in self.messages)


def _field(message: Any, name: str) -> Any:
    return message.get(name) if isinstance(message, dict) else getattr(message, name)


class Harness:
    """Starts fake exchanges, managers and clients for one test and stops them all afterwards."""

    def __init__(self) -> None:
        self.servers: list[FakeUpbitServer] = []
        self.managers: list[us.WebSocketManager] = []
        self.clients: list[Any] = []
        self.cleanups: list[Callable[[], Any]] = []

    def server(self, **options: Any) -> FakeUpbitServer:
        settings: dict[str, Any] = {"message_rate": 20.0, "status_interval": 0.5, "seed": 7}
        settings.update(options)
        server = FakeUpbitServer(**settings).start()
        self.servers.append(server)
        return server

    def manager(self, server: FakeUpbitServer, *, start: bool = True, **overrides: Any
                ) -> us.WebSocketManager:
        manager = us.WebSocketManager(fast_config(server, **overrides))
        self.managers.append(manager)
        if start:
            manager.start()
        return manager

    def client(self, manager: us.WebSocketManager, sink: Sink | None = None, **kwargs: Any) -> Any:
        if sink is not None:
            kwargs.setdefault("on_event", sink.on_event)
            kwargs.setdefault("on_error", sink.on_error)
        client = us.WebSocketClient(manager=manager, **kwargs)
        self.clients.append(client)
        return client

    def defer(self, cleanup: Callable[[], Any]) -> None:
        """Run ``cleanup`` first at teardown (e.g. release a callback a failed test left blocked)."""
        self.cleanups.append(cleanup)

    def close(self) -> None:
        for cleanup in self.cleanups:
            cleanup()
        for client in self.clients:
            client.close()
        for manager in self.managers:
            manager.stop()
        for server in self.servers:
            server.stop()


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness()
    try:
        yield h
    finally:
        h.close()


@pytest.fixture
def exchange(harness: Harness) -> FakeUpbitServer:
    """A fake exchange sending REALTIME data at 20 messages/s per subscribed (type, code)."""
    return harness.server()


@pytest.fixture
def quiet_exchange(harness: Harness) -> FakeUpbitServer:
    """A fake exchange that sends snapshots only: the test's firehose is the only REALTIME data."""
    return harness.server(message_rate=0.0)


@pytest.fixture
def manager(harness: Harness, exchange: FakeUpbitServer) -> us.WebSocketManager:
    return harness.manager(exchange)


@pytest.fixture
def private_manager(harness: Harness, exchange: FakeUpbitServer) -> us.WebSocketManager:
    return harness.manager(exchange, access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY)


@pytest.fixture
def client(harness: Harness, manager: us.WebSocketManager) -> Any:
    return harness.client(manager)


# ---- what the fake exchange saw ------------------------------------------------------------------


def public_conns(exchange: FakeUpbitServer) -> list[ConnInfo]:
    return [c for c in exchange.open_connections() if not c.is_private]


def public_conn(exchange: FakeUpbitServer) -> ConnInfo:
    """The (newest) open public connection, waiting for one to exist."""
    assert wait_until(lambda: public_conns(exchange)), "no public connection opened"
    return public_conns(exchange)[-1]


def served(exchange: FakeUpbitServer, type: str) -> set[str]:
    """The codes (as sent, orderbook depth suffix included) the fake serves now for ``type``."""
    return {
        code
        for conn in public_conns(exchange)
        for entry in conn.subscriptions if entry["type"] == type
        for code in entry["codes"]
    }


def data_requests(conn: ConnInfo) -> list[list[dict[str, Any]]]:
    """The subscription requests a connection received (LIST_SUBSCRIPTIONS left out)."""
    return [
        r.payload for r in conn.requests
        if isinstance(r.payload, list) and not any("method" in o for o in r.payload if isinstance(o, dict))
    ]


def request_codes(payload: list[dict[str, Any]], type: str) -> list[str]:
    """Every code a request asks for ``type``, in order, duplicates kept."""
    return [code for obj in payload if obj.get("type") == type for code in obj.get("codes", [])]


def all_requests(exchange: FakeUpbitServer) -> int:
    return sum(len(c.requests) for c in exchange.connections)


def dispatcher_stats(manager: us.WebSocketManager) -> dict[str, Any]:
    stats: dict[str, Any] = manager.health()["dispatcher"]
    return stats


# ---- firehose frames -----------------------------------------------------------------------------


def trade_frames(codes: Sequence[str], per_code: int, seed: int = 11
                 ) -> tuple[list[bytes], dict[str, list[int]]]:
    """``per_code`` REALTIME trade frames (SIMPLE keys) for each code, the codes interleaved in a random
    order each round, ``sequential_id`` increasing per code; returns the frames in sending order and
    the sequential ids sent per code, in order."""
    simulator = MarketSimulator(seed)
    rng = random.Random(seed)
    templates: dict[str, tuple[bytes, bytes, int]] = {}
    for code in codes:
        message = simulator.make("trade", code, "REALTIME")
        base = message["sequential_id"]
        message["sequential_id"] = _SID_PLACEHOLDER
        prefix, suffix = encode(message, "SIMPLE").split(str(_SID_PLACEHOLDER).encode())
        templates[code] = (prefix, suffix, base)
    frames: list[bytes] = []
    sent: dict[str, list[int]] = {code: [] for code in codes}
    order = list(codes)
    for round_ in range(per_code):
        rng.shuffle(order)
        for code in order:
            prefix, suffix, base = templates[code]
            sid = base + round_
            frames.append(prefix + str(sid).encode() + suffix)
            sent[code].append(sid)
    return frames, sent
