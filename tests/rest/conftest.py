"""Fixtures for the REST tests: the harness of the client tests (fake exchanges, managers, clients);
the Redis server is tests/conftest.py's."""

from __future__ import annotations

from tests.client.conftest import harness  # noqa: F401 - the fake exchanges, managers and clients
