"""Fixtures of the feed tests: one fake exchange per module, a real redis-server (tests/conftest.py),
and a prefix of its own per test, so tests sharing one server never read each other's streams."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.engine.conftest import fast_config
from upbit_sync import Config
from upbit_sync.testing import FakeUpbitServer

_serial = itertools.count(1)


@pytest.fixture(scope="module")
def exchange() -> Iterator[FakeUpbitServer]:
    with FakeUpbitServer(message_rate=40.0, status_interval=0.5, seed=11) as server:
        yield server


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    return f"test-feed:{request.node.name[:40]}:{next(_serial)}"


@pytest.fixture
def config(exchange: FakeUpbitServer) -> Config:
    return fast_config(exchange)
