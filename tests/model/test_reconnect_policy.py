"""ReconnectPolicy.decide, row by row: how a connection ended -> what to do (docs/architecture.md §3).

The policy is a value: every decision the links take after an end is here, with no socket in sight.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from upbit_sync import AuthenticationError, ConnectError, RateLimitError
from upbit_sync.config import Backoff, Config, Decision, Ending, ReconnectPolicy

POLICY = ReconnectPolicy(first_delay=1.0, max_delay=30.0, healthy_after=60.0)
HALF = lambda: 0.5  # noqa: E731 - the jitter, fixed: full jitter draws from [0, 1)


def ending(description: str = "connection lost", **fields: Any) -> Ending:
    return Ending("public", "wss://example.test/websocket/v1", description, **fields)


# how it ended -> (retry_in, failures, failed, error type told, disconnected)
ROWS: dict[str, tuple[Ending, tuple[float | None, int, bool, type | None, bool]]] = {
    "clean close after a long life": (
        ending("closed by server with code 1000", was_open=True, lived=120.0),
        (0.005, 0, False, None, True)),
    "abrupt drop": (
        ending(was_open=True, lived=5.0),
        (0.005, 0, False, None, True)),
    "stale, cut by the watchdog": (
        ending("no data for 61.0s (stale)", was_open=True, lived=300.0),
        (0.005, 0, False, None, True)),
    "flap: open for less than first_delay": (
        ending(was_open=True, lived=0.2),
        (1.0, 1, False, None, True)),
    "refused connect": (
        ending("ConnectionRefusedError: [Errno 111] Connection refused"),
        (1.0, 1, False, ConnectError, True)),
    "refused again, third in a row": (
        ending("ConnectionRefusedError", failures=2, in_outage=True, since_reported=31.0),
        (2.0, 3, False, ConnectError, False)),
    "HTTP 503 on the upgrade": (
        ending("upgrade refused with HTTP 503", http_status=503),
        (1.0, 1, False, ConnectError, True)),
    "HTTP 401 on the upgrade": (
        ending("upgrade refused with HTTP 401", http_status=401),
        (30.0, 1, True, AuthenticationError, True)),
    "INVALID_AUTH frame, then the close": (
        ending("closed by server with code 1000", was_open=True, lived=0.2, auth_refused=True),
        (30.0, 1, True, AuthenticationError, True)),
    "HTTP 429 on the upgrade": (
        ending("upgrade refused with HTTP 429", http_status=429),
        (1.0, 1, False, RateLimitError, True)),
    "HTTP 418 on the upgrade": (
        ending("upgrade refused with HTTP 418", http_status=418, failures=3, in_outage=True),
        (30.0, 4, False, RateLimitError, False)),
    "requested close": (
        ending("closed", requested=True, was_open=True, lived=10.0),
        (None, 0, False, None, False)),
    "requested close to empty the socket": (
        ending("closed", requested=True, recycle=True, was_open=True, lived=10.0),
        (0.0, 0, False, None, False)),
}


@pytest.mark.parametrize("row", ROWS, ids=ROWS)
def test_each_way_a_connection_ends_has_its_decision(row: str) -> None:
    end, (retry_in, failures, failed, told, disconnected) = ROWS[row]
    decision = POLICY.decide(end, rand=HALF)
    assert decision.retry_in == pytest.approx(retry_in)
    assert (decision.failures, decision.failed, decision.disconnected) == (failures, failed, disconnected)
    if told is None:
        assert decision.error is None and decision.outage_error is None
    else:
        assert isinstance(decision.error, told) and decision.outage_error is decision.error


def test_an_outage_s_error_is_told_once_then_at_most_once_per_max_delay() -> None:
    first = ending("ConnectionRefusedError")
    soon = replace(first, failures=1, in_outage=True, since_reported=5.0)
    later = replace(first, failures=5, in_outage=True, since_reported=30.0)
    assert isinstance(POLICY.decide(first).error, ConnectError)
    quiet = POLICY.decide(soon)
    assert quiet.error is None and isinstance(quiet.outage_error, ConnectError)
    assert isinstance(POLICY.decide(later).error, ConnectError)


def test_a_connection_that_lived_long_enough_starts_its_failures_again() -> None:
    decision = POLICY.decide(ending(was_open=True, lived=61.0, failures=7), rand=HALF)
    assert decision.failures == 0 and decision.retry_in == pytest.approx(0.005)


def test_backoff_grows_exponentially_with_full_jitter_up_to_max_delay() -> None:
    delays = [POLICY.decide(ending(failures=n), rand=lambda: 1.0).retry_in for n in range(8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_errors_name_the_connection_and_never_carry_a_secret() -> None:
    decision = POLICY.decide(ending("upgrade refused with HTTP 401", http_status=401))
    assert isinstance(decision.error, AuthenticationError)
    assert decision.error.connection == "public" and "public" in str(decision.error)


def test_the_config_gives_its_policy() -> None:
    policy = Config(reconnect_delay=0.5, reconnect_max_delay=8.0, stale_after=20.0).reconnect_policy
    assert policy == ReconnectPolicy(0.5, 8.0, 20.0)
    assert isinstance(policy.decide(ending()), Decision)


def test_the_delay_stays_at_its_cap_after_any_number_of_failures():
    """An outage of hours (thousands of failed attempts in a row) keeps the cap: the exponent never
    overflows a float and kills the connection thread that asked."""
    backoff = Backoff(1.0, 30.0)
    assert all(0.0 <= backoff.delay(n, rand=lambda: 1.0) <= 30.0 for n in (1025, 1100, 10**6))
    assert backoff.delay(10**6, rand=lambda: 1.0) == 30.0
