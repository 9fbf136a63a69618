"""The WebSocket side's door: websockets' server on an acceptor of ours, each upgrade decided as Upbit
would, each accepted connection registered and read on a thread of its own.

An upgrade is refused with 404 off Upbit's paths, then by ``refuse_next``, the connect limit and the
Origin rule (429), then, on the private and info paths, by the JWT check (an error frame, or 401 in
``auth_failure="http"`` mode). Each message read goes to :class:`~.subscriptions.Subscriptions`.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from collections import deque
from typing import Any, cast
from urllib.parse import urlsplit

from websockets.exceptions import ConnectionClosed, InvalidMessage
from websockets.sync.server import Server, ServerConnection, serve

from .acceptor import Acceptor
from .compression import answered
from .compression import extensions as compression_extensions
from .connections import JOIN_TIMEOUT, Connections
from .session import AUTHENTICATED_PATHS, PATHS, Attempt, FakeConnection
from .state import ExchangeState
from .subscriptions import Subscriptions
from .tokens import TokenCheck, check_authorization
from .validation import INVALID_AUTH
from .wire import dumps

log = logging.getLogger(__name__)


class _DemotePeerHangups(logging.Filter):
    """websockets logs a client that hangs up during the opening handshake at ERROR, with a
    traceback. For the fake exchange that is routine (a client stopped while it was connecting), so
    on the fake's own threads it becomes DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if (_hung_up(error) and record.threadName
                and record.threadName.startswith("upbit-fake-")):
            record.levelno, record.levelname, record.exc_info = logging.DEBUG, "DEBUG", None
            return logging.getLogger("websockets.server").isEnabledFor(logging.DEBUG)
        return True


def _hung_up(error: BaseException | None) -> bool:
    """A closed connection (websockets 17), or, on 16, a request that never came because the peer
    closed its socket first (InvalidMessage caused by EOFError)."""
    if isinstance(error, ConnectionClosed):
        return True
    return isinstance(error, InvalidMessage) and isinstance(error.__cause__, EOFError)


class _RedactTokens(logging.Filter):
    """websockets logs every upgrade's headers at DEBUG, a client's ``Authorization`` token included:
    the fake writes ``Bearer ***`` instead, so a bot tested at DEBUG never finds its token in a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "Bearer " in message:
            record.msg, record.args = _BEARER.sub("Bearer ***", message), ()
        return True


_BEARER = re.compile(r"Bearer\s+\S+")

logging.getLogger("websockets.server").addFilter(_DemotePeerHangups())
logging.getLogger("websockets.server").addFilter(_RedactTokens())


class Gateway:
    """Accepts, upgrades and reads the WebSocket connections; see the module docstring.

    Threads: ``upbit-fake-accept``, and per connection ``upbit-fake-conn-<n>`` (the handshake, then
    the requests) with websockets' reader ``upbit-fake-recv-<n>``; :meth:`stop` joins them.
    """

    def __init__(self, state: ExchangeState, connections: Connections,
                 subscriptions: Subscriptions, compression: Any = True) -> None:
        self._extensions = compression_extensions(compression)
        self._state = state
        self._connections = connections
        self._subscriptions = subscriptions
        self._acceptor = Acceptor(self._serve_socket, "upbit-fake-conn", "upbit-fake-accept")
        self._ws_server: Server | None = None
        self._listener: socket.socket | None = None
        self._attempts: list[Attempt] = []
        self._connect_window: deque[float] = deque()
        self._refusals: deque[int] = deque()

    # -- lifecycle -----------------------------------------------------------------------------

    def open(self, listener: socket.socket) -> None:
        """Make websockets' server for ``listener`` (a non-blocking socket); :meth:`start` accepts."""
        self._listener = listener
        self._ws_server = serve(
            self._handle,
            sock=listener,
            process_request=self._process_request,
            process_response=self._process_response,
            compression=None,  # websockets' own default is not taken: the answer is ours to pick
            extensions=self._extensions,  # permessage-deflate, as Upbit agrees to it (None: declined)
            ping_interval=None,  # Upbit never pings its clients (docs/upbit.md §4)
            open_timeout=5.0,
            close_timeout=2.0,
            create_connection=cast(Any, FakeConnection),
        )

    def start(self) -> None:
        assert self._listener is not None
        self._acceptor.start(self._listener)

    def stop_accepting(self) -> None:
        self._acceptor.stop_accepting()

    def stop(self) -> None:
        """End every connection and join its threads (the live ones marked closed before)."""
        self._acceptor.stop()

    def release(self) -> None:
        """Close what websockets' Server opened for serve_forever(), which this fake never runs."""
        server = self._ws_server
        if server is None:
            return
        for name in ("shutdown_watcher", "shutdown_notifier"):
            handle = getattr(server, name, None)
            try:
                if isinstance(handle, socket.socket):
                    handle.close()
                elif isinstance(handle, int):
                    os.close(handle)
            except OSError:
                pass

    # -- controls and records ------------------------------------------------------------------

    def refuse_next(self, n: int, status: int) -> None:
        with self._connections.lock:
            self._refusals.extend([status] * n)

    def clear_refusals(self) -> int:
        with self._connections.lock:
            left = len(self._refusals)
            self._refusals.clear()
            return left

    @property
    def attempts(self) -> list[Attempt]:
        with self._connections.lock:
            return list(self._attempts)

    @property
    def accepted(self) -> int:
        return self._acceptor.accepted

    # -- handshake -----------------------------------------------------------------------------

    def _serve_socket(self, sock: socket.socket, addr: Any) -> None:
        """Run websockets' handshake and our handler on one accepted socket, then clean up."""
        assert self._ws_server is not None
        FakeConnection.forget_here()
        try:
            self._ws_server.handler(sock, addr)
        except Exception:
            log.exception("fake Upbit connection handler failed")
        finally:
            self._connections.forget_socket(sock)
            ws = FakeConnection.made_here()
            FakeConnection.forget_here()
            if ws is not None:
                ws.recv_events_thread.join(JOIN_TIMEOUT)

    def _process_request(self, ws: ServerConnection, request: Any) -> Any:
        """Decide the upgrade: 404 off Upbit's paths, refusals, the connect limit, the Origin rule,
        then the JWT."""
        conn = cast(FakeConnection, ws)
        state = self._state
        path = urlsplit(request.path).path
        now = time.monotonic()
        status, reason = 101, ""
        headers: dict[str, str] = {}
        for name, value in request.headers.raw_items():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        with self._connections.lock:
            attempt = Attempt(now, path, 101, headers=headers)
            self._attempts.append(attempt)
            conn.fake_attempt = attempt
            if path not in PATHS:
                status, reason = 404, "unknown path"
            else:
                window = self._connect_window
                while window and window[0] <= now - 1.0:
                    window.popleft()
                if self._refusals:
                    status, reason = self._refusals.popleft(), "refuse_next"
                elif state.connect_limit is not None and len(window) >= state.connect_limit:
                    status, reason = 429, "connect limit"
                elif attempt.header("Origin") is not None and not state.admit_origin(now):
                    status, reason = 429, "origin limit"
                window.append(now)
            attempt.status, attempt.reason = status, reason
        if status == 101 and path in AUTHENTICATED_PATHS:
            check = self._check_auth(request.headers.get("Authorization"))
            conn.fake_auth = check
            if not check.ok:
                log.info("fake Upbit: upgrade on %s refused: %s", path, check.reason)
                with self._connections.lock:
                    attempt.reason = check.reason
                    if state.auth_failure == "http":
                        status = attempt.status = 401
        if status == 101:
            return None
        if status == 401:
            body = dumps({"error": {"name": INVALID_AUTH, "message": "jwt verification failed"}})
            return ws.respond(status, body.decode("utf-8"))
        return ws.respond(status, f"{reason or 'refused'}\n")

    def _check_auth(self, header: str | None) -> TokenCheck:
        check = check_authorization(header, self._state.keys)
        if check.ok and check.nonce is not None and not self._state.nonces.claim(check.nonce):
            return TokenCheck(None, check.nonce, "nonce reused")
        return check

    def _process_response(self, ws: ServerConnection, request: Any, response: Any) -> None:
        """Record the final status; register the connection before the client can see the 101."""
        conn = cast(FakeConnection, ws)
        attempt = conn.fake_attempt
        if attempt is None:
            return
        now = time.monotonic()
        with self._connections.lock:
            attempt.status = response.status_code
            if response.status_code != 101 or self._connections.stopping.is_set():
                return
            auth = conn.fake_auth
            session = self._connections.register(conn, attempt.path,
                                                 auth.access_key if auth is not None else None, now)
            session.deflater = answered(response.headers.get("Sec-WebSocket-Extensions"))

    # -- requests ------------------------------------------------------------------------------

    def _handle(self, ws: ServerConnection) -> None:
        """The websockets handler: read requests until the connection ends."""
        conn = cast(FakeConnection, ws).fake_conn
        if conn is None:
            return
        threading.current_thread().name = f"upbit-fake-conn-{conn.id}"
        cast(FakeConnection, ws).recv_events_thread.name = f"upbit-fake-recv-{conn.id}"
        auth = cast(FakeConnection, ws).fake_auth
        if conn.path in AUTHENTICATED_PATHS and (auth is None or not auth.ok):
            self._connections.fail(conn, INVALID_AUTH)
            return
        # Read until the connection ends. Returning early would make websockets close with 1000,
        # racing a close_all(code) that is about to send its own code.
        while True:
            try:
                message = ws.recv()
            except ConnectionClosed:
                return
            if not conn.closing:  # once closing, the close frame is on its way: ignore the rest
                self._subscriptions.on_message(conn, message)
