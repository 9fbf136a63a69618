"""Suite-wide checks: no test reaches past loopback (nor looks a remote name up), and none leaves an
``upbit-`` thread running."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import time
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

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        # a name is looked up before any connect: a lookup of a remote name is already a step out
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and not _is_loopback((name, 0)):
            raise socket.gaierror(f"tests stay on loopback; refused to look up {name!r}")
        return getaddrinfo(host, *args, **kwargs)

    getaddrinfo = socket.getaddrinfo
    socket.socket.connect = guarded(connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded(connect_ex)  # type: ignore[method-assign]
    socket.getaddrinfo = resolve
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex = connect, connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = getaddrinfo


@pytest.fixture(autouse=True)
def no_upbit_thread_survives():
    """Every thread the SDK or the fake exchange starts is joined by stop()/close()."""
    before = set(upbit_threads())
    yield
    assert wait_until(lambda: not (set(upbit_threads()) - before), timeout=3.0), (
        f"threads left running: {sorted(set(upbit_threads()) - before)}"
    )


# ---- a real Redis server for the shared-limit tests ------------------------------------------------
# .ci/run installs Debian's redis-server when it is missing, starts one on 127.0.0.1 and exports its
# URL as TEST_REDIS_URL. Without that variable a local redis-server binary is started for the session.
# With neither, the Redis tests skip saying why, except in CI (CI=true), where that is a failure.


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI needs a Redis server for the shared-limit tests: {reason}")
    pytest.skip(f"no Redis server: {reason} (set TEST_REDIS_URL or install redis-server)")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        rest = url.split("://", 1)[1].split("/", 1)[0]
        host, _, port = rest.partition(":")
        if not _answers(host, int(port or 6379)):
            _unavailable(f"nothing answers at {url}")
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        _unavailable("TEST_REDIS_URL is not set and redis-server is not installed")
    assert binary is not None
    server = RedisProcess(binary)
    try:
        server.start()
    except RuntimeError as exc:
        server.stop()
        _unavailable(str(exc))
    try:
        yield server.url
    finally:
        server.stop()


class RedisProcess:
    """A redis-server on a port of its own (the session's, or one test's): a test may stop it and start
    it again on the same port when the behaviour under a restart is what it claims (a restart empties
    the script cache, as a production restart without persistence does)."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisProcess:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10.0
        while not _answers("127.0.0.1", self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture
def redis_process() -> Iterator[RedisProcess]:
    """A redis-server this test may stop and restart (not yet started: call ``start()``)."""
    binary = shutil.which("redis-server")
    if binary is None:
        _unavailable("redis-server is not installed")
    assert binary is not None
    server = RedisProcess(binary)
    try:
        yield server
    finally:
        server.stop()
