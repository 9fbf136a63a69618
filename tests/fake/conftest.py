"""Fixtures for the fake exchange's own tests: fast servers, raw websocket-client sessions and a
plain ``requests`` client for the REST side.

The sessions drive the fake with a plain ``websocket.WebSocket`` and ``requests`` (not the SDK), so a
failure here points at the fake, not at the engine.
"""

from __future__ import annotations

import json
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import websocket

from upbit_sync.auth import query_hash
from upbit_sync.testing import FakeUpbitServer, bearer, make_token
from upbit_sync.testing.pytest_plugin import fake_upbit  # noqa: F401  (the fixture under test)

OPCODE_TEXT = websocket.ABNF.OPCODE_TEXT
OPCODE_BINARY = websocket.ABNF.OPCODE_BINARY
OPCODE_CLOSE = websocket.ABNF.OPCODE_CLOSE

# Short timings so the whole directory runs in well under a minute.
FAST = {"status_interval": 0.3, "message_rate": 20.0, "idle_timeout": 30.0, "seed": 7}


class Session:
    """One raw client connection with helpers that wait on frames with a deadline.

    It sends no ``Origin`` header unless asked (``origin=True`` sends websocket-client's default one),
    as a client of Upbit should: upgrades carrying one are held to 1 per 10 s (docs/upbit.md §5).
    """

    def __init__(self, url: str, header: list[str] | None = None, timeout: float = 3.0,
                 origin: bool = False) -> None:
        self.ws = websocket.create_connection(url, timeout=timeout, header=header or [],
                                              suppress_origin=not origin)

    def send_json(self, value: Any) -> None:
        self.ws.send(json.dumps(value))

    def subscribe(self, *types: dict[str, Any], fmt: str | None = None,
                  ticket: str = "test") -> None:
        """Send one request: a ticket, the type objects, and a format object if given."""
        request: list[dict[str, Any]] = [{"ticket": ticket}, *types]
        if fmt is not None:
            request.append({"format": fmt})
        self.send_json(request)

    def frame(self, timeout: float = 3.0) -> tuple[int, bytes]:
        """The next text, binary or close frame."""
        self.ws.settimeout(timeout)
        opcode, data = self.ws.recv_data()
        return opcode, data

    def message(self, timeout: float = 3.0) -> Any:
        """The next frame, which must be a binary JSON frame, decoded."""
        opcode, data = self.frame(timeout)
        assert opcode == OPCODE_BINARY, (opcode, data)
        return json.loads(data)

    def until(self, predicate: Callable[[Any], bool], timeout: float = 3.0) -> list[Any]:
        """Messages up to and including the first one matching ``predicate``."""
        deadline = time.monotonic() + timeout
        seen: list[Any] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching message within {timeout}s; got {seen[-5:]}")
            seen.append(self.message(remaining))
            if predicate(seen[-1]):
                return seen

    def collect(self, seconds: float) -> list[Any]:
        """Every message that arrives within ``seconds``."""
        deadline = time.monotonic() + seconds
        seen: list[Any] = []
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                seen.append(self.message(remaining))
            except websocket.WebSocketTimeoutException:
                break
        return seen

    def expect_close(self, timeout: float = 3.0) -> tuple[int, str, list[Any]]:
        """Read until a close frame; return its code, reason and the messages before it."""
        deadline = time.monotonic() + timeout
        before: list[Any] = []
        while True:
            opcode, data = self.frame(max(0.01, deadline - time.monotonic()))
            if opcode == OPCODE_CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                return code, data[2:].decode("utf-8"), before
            before.append(json.loads(data))

    def expect_drop(self, timeout: float = 3.0) -> list[Any]:
        """Read until the TCP connection ends; fail if a close frame arrives instead."""
        deadline = time.monotonic() + timeout
        before: list[Any] = []
        while True:
            try:
                opcode, data = self.frame(max(0.01, deadline - time.monotonic()))
            except websocket.WebSocketConnectionClosedException:
                return before
            assert opcode != OPCODE_CLOSE, f"close frame {data!r} instead of a drop"
            before.append(json.loads(data))

    def close(self) -> None:
        self.ws.abort()
        self.ws.shutdown()


@pytest.fixture
def make_server() -> Iterator[Callable[..., FakeUpbitServer]]:
    """Start fake exchanges with FAST settings (overridable); all are stopped after the test."""
    servers: list[FakeUpbitServer] = []

    def start(**options: Any) -> FakeUpbitServer:
        server = FakeUpbitServer(**{**FAST, **options}).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., FakeUpbitServer]) -> FakeUpbitServer:
    return make_server()


@pytest.fixture
def connect() -> Iterator[Callable[..., Session]]:
    """Open raw sessions; every one is closed after the test."""
    sessions: list[Session] = []

    def open_session(url: str, header: list[str] | None = None,
                     timeout: float = 3.0, origin: bool = False) -> Session:
        session = Session(url, header, timeout, origin)
        sessions.append(session)
        return session

    yield open_session
    for session in sessions:
        session.close()


class RestClient:
    """``requests`` against one fake exchange's REST side; signs like an Upbit client when asked.

    ``signed=True`` adds a fresh token whose query hash is the SDK's (``upbit_sync.auth.query_hash``)
    of the parameters or the JSON body; ``token=`` sends a given one instead. Proxies from the
    environment are ignored: every request goes straight to 127.0.0.1.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.trust_env = False

    def call(self, method: str, path: str, params: dict[str, Any] | None = None,
             body: dict[str, Any] | None = None, *, signed: bool = False, token: str | None = None,
             headers: dict[str, str] | None = None, **token_options: Any) -> requests.Response:
        sent = dict(headers or {})
        if token is None and signed:
            hashed = params or body
            if hashed:
                token_options.setdefault("query_hash", query_hash(hashed))
                token_options.setdefault("query_hash_alg", "SHA512")
            token = make_token(**token_options)
        if token is not None:
            sent["Authorization"] = bearer(token)
        return self.session.request(method, self.base_url + path, params=params, json=body,
                                    headers=sent, timeout=5)

    def get(self, path: str, params: dict[str, Any] | None = None, **options: Any) -> requests.Response:
        return self.call("GET", path, params, **options)

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def rest() -> Iterator[Callable[[FakeUpbitServer], RestClient]]:
    """Make REST clients for servers; every one is closed after the test."""
    clients: list[RestClient] = []

    def make(server: FakeUpbitServer) -> RestClient:
        client = RestClient(server.rest_url)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def auth_header(**token_options: Any) -> list[str]:
    """An ``Authorization`` header line for websocket-client."""
    return [f"Authorization: {bearer(make_token(**token_options))}"]


@pytest.fixture
def auth() -> Callable[..., list[str]]:
    return auth_header


def fake_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("upbit-fake")]


@pytest.fixture(autouse=True)
def no_fake_threads_left() -> Iterator[None]:
    """Every test doubles as a leak check: once its servers stop, no fake thread may remain."""
    yield
    deadline = time.monotonic() + 2.0
    while fake_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake_threads() == []


@pytest.fixture
def connect_info(connect: Callable[..., Session]) -> Callable[..., Session]:
    """Open an authorized session on a server's ``/websocket/v1/info``, as the SDK would."""

    def open_info(server: FakeUpbitServer, **token_options: Any) -> Session:
        return connect(server.info_url, header=auth_header(**token_options))

    return open_info
