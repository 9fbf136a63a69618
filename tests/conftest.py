"""Suite-wide checks: no test may leave an ``upbit-`` thread running."""

from __future__ import annotations

import pytest

from tests.support import upbit_threads, wait_until


@pytest.fixture(autouse=True)
def no_upbit_thread_survives():
    """Every thread the SDK or the fake exchange starts is joined by stop()/close()."""
    before = set(upbit_threads())
    yield
    assert wait_until(lambda: not (set(upbit_threads()) - before), timeout=3.0), (
        f"threads left running: {sorted(set(upbit_threads()) - before)}"
    )
