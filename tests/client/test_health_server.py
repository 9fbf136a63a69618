"""The health endpoint under awkward clients (issue 18 §2): each connection is answered on a thread of
its own, so a client that connects and sends nothing delays nobody; a connection lives at most
CONNECTION_TIMEOUT; at most MAX_CONNECTIONS are open at once; a client that hangs up is a DEBUG line,
never a traceback on stderr; and close() joins every thread, however many clients sit idle.

The endpoint is driven directly (``HealthServer`` with a fixed report): no exchange is needed.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.support import wait_until
from upbit_sync import metrics
from upbit_sync.health import Health
from upbit_sync.metrics import HealthServer

REPORT: Any = {"healthy": True, "running": True, "connections": {}, "types": {}, "dispatcher": {},
               "subscriptions": 0}
LOGGER = "upbit_sync.metrics"


def connection_threads() -> list[threading.Thread]:
    """The endpoint's per-connection threads (``upbit-health-<n>``) now alive."""
    return [t for t in threading.enumerate() if t.name.startswith("upbit-health-") and t.is_alive()]


def idle_client(endpoint: HealthServer) -> socket.socket:
    """A client that connects and sends nothing."""
    return socket.create_connection((endpoint.host, endpoint.port), timeout=5)


def still_connected(sock: socket.socket) -> bool:
    """True when the server has neither closed nor reset ``sock`` (nothing to read, no end of file)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def ended_by_server(sock: socket.socket, timeout: float = 5.0) -> bool:
    """True when the server closes (or resets) ``sock`` within ``timeout`` without answering."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.fixture
def serve() -> Iterator[Callable[..., HealthServer]]:
    """Start endpoints with a given report (REPORT by default); each is closed after the test."""
    started: list[HealthServer] = []

    def start(report: Callable[[], Health] = lambda: REPORT) -> HealthServer:
        endpoint = HealthServer(report)
        started.append(endpoint)
        return endpoint

    yield start
    for endpoint in started:
        endpoint.close()


@pytest.fixture
def clients() -> Iterator[list[socket.socket]]:
    """Client sockets a test opens; all closed after it."""
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


@pytest.mark.timeout(20)
def test_a_client_that_sends_nothing_does_not_delay_another_clients_healthz(serve, clients) -> None:
    endpoint = serve()
    clients.append(idle_client(endpoint))
    answer = requests.get(f"{endpoint.url}/healthz", timeout=3)
    assert answer.status_code == 200 and answer.json()["healthy"] is True
    assert still_connected(clients[0]), "the idle client was cut before the other was answered"


@pytest.mark.timeout(20)
def test_each_connection_is_answered_on_a_daemon_thread_named_upbit_health_n(serve, clients) -> None:
    endpoint = serve()
    clients.extend(idle_client(endpoint) for _ in range(2))
    assert wait_until(lambda: len(connection_threads()) == 2), [t.name for t in connection_threads()]
    threads = connection_threads()
    assert all(t.daemon for t in threads)
    assert sorted(t.name for t in threads) == ["upbit-health-1", "upbit-health-2"]


@pytest.mark.timeout(20)
def test_a_connection_that_sends_nothing_is_closed_after_the_connection_timeout(serve, clients,
                                                                                monkeypatch) -> None:
    monkeypatch.setattr(metrics, "CONNECTION_TIMEOUT", 0.3)
    endpoint = serve()
    clients.append(idle_client(endpoint))
    assert ended_by_server(clients[0], timeout=5.0)
    assert wait_until(lambda: not connection_threads())


@pytest.mark.timeout(20)
def test_a_client_that_dribbles_its_request_is_cut_at_the_connection_timeout(serve, clients,
                                                                             monkeypatch) -> None:
    # each byte comes well within the socket's timeout: only a bound on the whole connection ends it
    monkeypatch.setattr(metrics, "CONNECTION_TIMEOUT", 0.5)
    endpoint = serve()
    client = idle_client(endpoint)
    clients.append(client)
    cut = threading.Event()

    def dribble() -> None:
        for byte in b"GET /healthz HTTP/1.0 and more and more and more":
            try:
                client.sendall(bytes([byte]))
            except OSError:
                break
            if cut.wait(0.1):
                break

    writer = threading.Thread(target=dribble, name="test-dribble", daemon=True)
    writer.start()
    try:
        assert ended_by_server(client, timeout=4.0)
    finally:
        cut.set()
        writer.join(5)


@pytest.mark.timeout(20)
def test_a_client_that_hangs_up_mid_response_writes_nothing_to_stderr(serve, capfd, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    hung_up = threading.Event()

    def report() -> Health:
        hung_up.wait(5)  # answer only once the client is gone
        return REPORT

    endpoint = serve(report)
    client = socket.create_connection((endpoint.host, endpoint.port), timeout=5)
    client.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = reset
    client.close()
    hung_up.set()

    def told() -> bool:
        return any("hung up" in r.getMessage() for r in caplog.records)

    wait_until(told, timeout=5.0)
    assert capfd.readouterr().err == ""
    assert told()
    assert all(r.levelno == logging.DEBUG for r in caplog.records if "hung up" in r.getMessage())


@pytest.mark.timeout(20)
def test_a_token_in_the_query_of_a_request_never_reaches_the_log(serve, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    endpoint = serve()
    assert requests.get(f"{endpoint.url}/healthz?token=s3cret-t0ken", timeout=3).status_code == 200
    lines = [r.getMessage() for r in caplog.records]
    assert any("/healthz?token=****" in line for line in lines), lines
    assert not any("s3cret-t0ken" in line for line in lines), lines


@pytest.mark.timeout(20)
def test_a_report_that_fails_is_answered_500_and_logged_as_a_warning(serve, caplog) -> None:
    def report() -> Health:
        raise RuntimeError("the report broke")

    endpoint = serve(report)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        answer = requests.get(f"{endpoint.url}/healthz", timeout=3)
    assert answer.status_code == 500
    assert any(r.levelno == logging.WARNING and r.exc_info for r in caplog.records), caplog.records


@pytest.mark.timeout(20)
def test_close_joins_every_connection_thread_while_clients_sit_idle(serve, clients) -> None:
    endpoint = serve()
    clients.extend(idle_client(endpoint) for _ in range(3))
    assert wait_until(lambda: len(connection_threads()) == 3)
    started = time.monotonic()
    endpoint.close(timeout=2.0)
    assert time.monotonic() - started < 5.0
    assert connection_threads() == []
    assert not any(t.name == "upbit-health" for t in threading.enumerate())
    assert all(ended_by_server(sock) for sock in clients)


@pytest.mark.timeout(30)
def test_a_connection_beyond_the_bound_is_closed_at_once_and_warned_of(serve, clients, caplog) -> None:
    endpoint = serve()
    clients.extend(idle_client(endpoint) for _ in range(metrics.MAX_CONNECTIONS))
    assert wait_until(lambda: len(connection_threads()) == metrics.MAX_CONNECTIONS)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        one_more = idle_client(endpoint)
        clients.append(one_more)
        assert ended_by_server(one_more, timeout=3.0)
    assert any("refused" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert len(connection_threads()) == metrics.MAX_CONNECTIONS
    started = time.monotonic()
    endpoint.close(timeout=2.0)
    assert time.monotonic() - started < 5.0 and connection_threads() == []
