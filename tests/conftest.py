"""Suite-wide checks: no test reaches past loopback, and none leaves an ``upbit-`` thread running."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import upbit_threads, wait_until


def _is_loopback(address: Any) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths (multiprocessing) stay on the machine
        return True
    host = address[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: resolving it is already a step onto the network
        return False


@pytest.fixture(autouse=True, scope="session")
def loopback_only() -> Iterator[None]:
    """Tests talk to the fake exchange on 127.0.0.1 and nothing else: any other connect fails."""
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guarded(original: Any) -> Any:
        def call(self: socket.socket, address: Any) -> Any:
            if not _is_loopback(address):
                raise ConnectionRefusedError(f"tests stay on loopback; refused {address!r}")
            return original(self, address)
        return call

    socket.socket.connect = guarded(connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded(connect_ex)  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex = connect, connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def no_upbit_thread_survives():
    """Every thread the SDK or the fake exchange starts is joined by stop()/close()."""
    before = set(upbit_threads())
    yield
    assert wait_until(lambda: not (set(upbit_threads()) - before), timeout=3.0), (
        f"threads left running: {sorted(set(upbit_threads()) - before)}"
    )
