"""pytest plugin (entry point ``upbit_sync``): the ``fake_upbit`` fixture, a running fake exchange.

Options reach the server by marker, ``@pytest.mark.fake_upbit(idle_timeout=1.0)``, or by indirect
parametrization, ``@pytest.mark.parametrize("fake_upbit", [{"auth_failure": "http"}],
indirect=True)``; the parameter wins over the marker.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from .server import FakeUpbitServer


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fake_upbit(**options): keyword arguments for the fake_upbit fixture's server"
    )


@pytest.fixture
def fake_upbit(request: pytest.FixtureRequest) -> Iterator[FakeUpbitServer]:
    """A started :class:`FakeUpbitServer` on a free port, stopped (no threads left) after the test."""
    options: dict[str, Any] = {}
    marker = request.node.get_closest_marker("fake_upbit")
    if marker is not None:
        options.update(marker.kwargs)
    param = getattr(request, "param", None)
    if isinstance(param, Mapping):
        options.update(param)
    with FakeUpbitServer(**options) as server:
        yield server
