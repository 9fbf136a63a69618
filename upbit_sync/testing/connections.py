"""The fake exchange's WebSocket connections, and the one way frames reach them.

:class:`Connections` holds every accepted connection (``Session``), the server's lock and the
sender's wake-up, and writes frames: pre-encoded, under websockets' write lock, counted before the
write, and with a deadline past which a client that stopped reading is dropped as a slow consumer.
Ending a connection is here too: dropped at the TCP level, closed with a code, or failed as Upbit
fails a bad request (an error frame, then close 1000).
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections.abc import Callable

from websockets.protocol import State
from websockets.sync.server import ServerConnection

from .acceptor import shutdown
from .session import ConnInfo, FakeConnection, Session
from .state import ExchangeState
from .validation import RequestError
from .wire import dumps, server_frame

log = logging.getLogger(__name__)

JOIN_TIMEOUT = 5.0


class Connections:
    """Every accepted connection and the live ones; see the module docstring.

    ``lock`` guards every session and the schedules of the other parts; ``wake`` (on it) wakes the
    sender thread; ``stopping`` is set once by ``FakeUpbitServer.stop``; ``silenced`` holds every
    scheduled frame (:meth:`send` sends nothing meanwhile). ``live`` maps the id of each open
    connection to its session; read it under the lock.
    """

    def __init__(self, state: ExchangeState) -> None:
        self._state = state
        self.lock = threading.RLock()
        self.wake = threading.Condition(self.lock)
        self.stopping = threading.Event()
        self.silenced = False
        self.live: dict[int, Session] = {}
        self._views: list[ConnInfo] = []
        self._by_socket: dict[socket.socket, Session] = {}
        self._threads: set[threading.Thread] = set()  # the closing ones, joined by join_threads()

    # -- who is connected ----------------------------------------------------------------------

    def register(self, ws: FakeConnection, path: str, access_key: str | None, now: float) -> Session:
        """A connection whose upgrade succeeded: live from now on, numbered from 1."""
        with self.lock:
            session = Session(len(self._views) + 1, path, ws, now, access_key, last_tx=now)
            self._views.append(ConnInfo(self.lock, session))
            self.live[session.id] = session
            self._by_socket[ws.socket] = session
            ws.fake_conn = session
            ws.fake_on_close = self.on_close_frame
            return session

    def forget_socket(self, sock: socket.socket) -> None:
        """The handler of ``sock`` returned: its connection, if it had one, is over."""
        now = time.monotonic()
        with self.lock:
            session = self._by_socket.pop(sock, None)
            if session is not None:
                session.closing = True
                if session.closed_at is None:
                    session.closed_at = now
                self.live.pop(session.id, None)

    def views(self) -> list[ConnInfo]:
        """Every connection ever accepted, oldest first."""
        with self.lock:
            return list(self._views)

    def opened(self) -> int:
        with self.lock:
            return len(self._views)

    def open_views(self) -> list[ConnInfo]:
        with self.lock:
            return [view for view in self._views if view.is_open]

    def targets(self, conn_id: int | None) -> list[Session]:
        """The live connection ``conn_id``, or every live one for None."""
        with self.lock:
            return [c for c in self.live.values() if conn_id is None or c.id == conn_id]

    def end_all(self, now: float) -> list[Session]:
        """Mark every live connection closing and closed at ``now``, and forget them as live."""
        with self.lock:
            ended = list(self.live.values())
            for session in ended:
                session.closing = True
                session.closed_at = now
            self.live.clear()
            return ended

    # -- sending -------------------------------------------------------------------------------

    def send(self, conn: Session, payload: bytes, *, data: bool, deadline: float | None = None,
             before: Callable[[], object] | None = None) -> bool:
        """Send one binary frame unless silenced; see :meth:`write_frames` for ``deadline`` and
        ``before``."""
        if self.silenced or conn.closed_at is not None:
            return False
        return self.write_frames(conn, server_frame(payload), 1 if data else 0, deadline, before)

    def write_frames(self, conn: Session, data: bytes, count: int, deadline: float | None,
                     before: Callable[[], object] | None = None, *, as_is: bool = False) -> bool:
        """Write complete pre-encoded frames to the socket, holding websockets' write lock.

        Without a deadline the write blocks until done. With one, a client that cannot take the
        data by then is dropped as a slow consumer: the one sender thread must keep moving.
        ``before`` runs under the write lock just before the write: what it changes is in place
        before the client can have the frame, and a frame another thread writes after seeing the
        change follows this one. On a connection that agreed to permessage-deflate each data frame
        is compressed here, in the order written, unless ``as_is`` (the raw-frame fault, and the
        firehose's frames compressed beforehand).
        """
        ws = conn.ws
        written = 0
        with ws.protocol_mutex:
            if before is not None:
                before()
            if ws.protocol.state is not State.OPEN:
                return False
            deflater = conn.deflater
            if deflater is not None and not as_is:
                data = deflater.reframe(data)
            # Counted before the write, so a client that has a frame sees it counted.
            self._count_sent(conn, count)
            try:
                if deadline is None:
                    ws.socket.sendall(data)
                    written = len(data)
                else:
                    written = _send_until(ws.socket, data, deadline)
            except OSError:  # the connection is gone; its reader thread will notice
                pass
        if written == len(data):
            conn.last_tx = time.monotonic()
            return True
        self._count_sent(conn, -count)
        if deadline is not None and time.monotonic() >= deadline:
            log.warning("fake Upbit: connection %d stopped reading, dropping it", conn.id)
            self.drop(conn, "slow consumer")
        return False

    def _count_sent(self, conn: Session, frames: int) -> None:
        if frames:
            with self.lock:
                conn.sent += frames

    # -- ending --------------------------------------------------------------------------------

    def on_close_frame(self, conn: Session) -> None:
        """A close frame arrived, ours answered or theirs: like Upbit, end TCP from this side."""
        self.drop(conn, "closing handshake done")

    def drop(self, conn: Session, reason: str) -> None:
        """End a connection at the TCP level: no close frame, the client sees 1006."""
        with self.lock:
            conn.closing = True
            if conn.closed_at is None:
                conn.closed_at = time.monotonic()
            self.live.pop(conn.id, None)
        log.debug("fake Upbit: dropping connection %d (%s)", conn.id, reason)
        shutdown(conn.ws.socket)

    def fail(self, conn: Session, name: str, message: str | None = None) -> None:
        """Upbit's answer to a bad request: an error frame, then close 1000 a moment later."""
        error = RequestError(name, message)
        with self.lock:
            conn.closing = True
        log.info("fake Upbit: connection %d error %s", conn.id, error.name)
        self.send(conn, dumps({"error": {"name": error.name, "message": error.message}}), data=False)
        self.stopping.wait(self._state.error_close_delay)
        close_quietly(conn.ws, 1000, "")
        with self.lock:
            if conn.closed_at is None:
                conn.closed_at = time.monotonic()
            self.live.pop(conn.id, None)

    def start_thread(self, thread: threading.Thread) -> None:
        """Start a thread of ours that :meth:`join_threads` joins (one that closes a connection)."""
        with self.lock:
            self._threads.add(thread)
        thread.start()

    def join_threads(self) -> None:
        with self.lock:
            threads = list(self._threads)
        deadline = time.monotonic() + JOIN_TIMEOUT
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("fake Upbit thread %s did not stop", thread.name)


def close_quietly(ws: ServerConnection, code: int, reason: str) -> None:
    """Send a close frame; a connection already gone is no error."""
    try:
        ws.close(code, reason)
    except Exception:
        log.debug("fake Upbit: close failed", exc_info=True)


def _send_until(sock: socket.socket, data: bytes, deadline: float) -> int:
    """Write as much of ``data`` as the socket takes before ``deadline``; returns bytes written."""
    flags = getattr(socket, "MSG_DONTWAIT", None)
    if flags is None:  # no non-blocking send on this platform: block
        sock.sendall(data)
        return len(data)
    view = memoryview(data)
    sent = 0
    while sent < len(view):
        try:
            sent += sock.send(view[sent:], flags)
        except (BlockingIOError, InterruptedError):
            pass
        if sent < len(view):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            _wait_writable(sock, min(remaining, 0.05))
    return sent


def _wait_writable(sock: socket.socket, timeout: float) -> None:
    if hasattr(select, "poll"):  # select.select() fails on descriptors above 1023
        poller = select.poll()
        poller.register(sock, select.POLLOUT)
        poller.poll(timeout * 1000)
    else:
        select.select([], [sock], [], timeout)
