"""Connection: one websocket-client ``WebSocketApp`` on its own daemon thread.

A Connection is one logical socket ("public", "private") that can be opened again after it ends. It
knows nothing of subscriptions: it reports what happens (open, frame, the end of a batch of frames,
end) to its owner through callbacks, which run on the socket thread and must return quickly.

What this module (with readahead.py) relies on in websocket-client beyond its documented API, pinned
in setup.py to the releases tested (``>=1.8,<1.10``), each with a canary test in
tests/engine/test_internals.py:

- ``WebSocket.frame_buffer.recv``: the function the frame parser reads with; the read-ahead replaces
  it (without it the connection reads the plain way, and says so once at WARNING).
- ``WebSocket.sock``: the plain socket under the WebSocket, for poll, ``shutdown`` and ``close``.
- ``WebSocketApp.keep_running``: set False to end ``run_forever``'s loop from a callback or abort.
- ``WebSocketApp.last_ping_tm``/``last_pong_tm``: its ping watchdog's clock; a pong the read-ahead
  drains must set it, and so does other proof that the peer is alive (``_prove_alive``).
- ``WebSocket.recv_data_frame(True)``: answers a ping it reads with a pong by itself.
- ``on_error`` is handed the raw close frame (an ``ABNF``) when the server closes; its code and reason
  come from there.
- ``WebSocketBadStatusException.status_code``: the HTTP status of a refused upgrade.
- ``WebSocket.recv_data_frame`` reads each frame with ``self.recv_frame()``: a connection that offers
  permessage-deflate sets ``recv_frame`` on its ``WebSocket`` to a ``readahead.MessageReader``'s, as
  websocket-client's own parser refuses any frame with RSV1 set (``ABNF.validate``).
- ``WebSocket.getheaders()``: the upgrade answer's headers, names in lower case (the server's
  ``sec-websocket-extensions``).
"""

from __future__ import annotations

import enum
import logging
import select
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import websocket

from . import deflate, readahead
from .deflate import CompressionError
from .errors import ClosedError
from .redact import redact_url

log = logging.getLogger(__name__)


class _DemoteOwnSocketLogs(logging.Filter):
    """websocket-client logs every disconnect at ERROR ("... - goodbye"). On our socket threads the
    manager reports each end itself, at the level it deserves, so theirs is demoted to DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.threadName and record.threadName.startswith("upbit-ws-"):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            # handlers without a level of their own would still print it: decide here instead
            return logging.getLogger("websocket").isEnabledFor(logging.DEBUG)
        return True


logging.getLogger("websocket").addFilter(_DemoteOwnSocketLogs())

_read_ahead_warned = False  # the read-ahead could not be installed: said once per process
_compression_warned = False  # compressed frames could not be read: said once per process


def _warn_no_read_ahead() -> None:
    global _read_ahead_warned
    if not _read_ahead_warned:
        _read_ahead_warned = True
        log.warning("websocket-client %s has no frame_buffer.recv: frames are read without the "
                    "read-ahead (slower under load)", getattr(websocket, "__version__", "?"))


def _may_offer_compression() -> bool:
    global _compression_warned
    if readahead.can_read_compressed():
        return True
    if not _compression_warned:
        _compression_warned = True
        log.warning("websocket-client %s cannot be read with upbit_sync's frame reader: "
                    "permessage-deflate is not offered, frames stay plain",
                    getattr(websocket, "__version__", "?"))
    return False


class ConnState(str, enum.Enum):
    CONNECTING = "CONNECTING"
    OPEN = "OPEN"
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class ConnectionEnd:
    """How one attempt ended. ``requested`` is True only for ends asked for by :meth:`close`."""

    requested: bool
    was_open: bool
    code: int | None = None
    reason: str = ""
    error: BaseException | None = None
    http_status: int | None = None
    cause: str = ""  # why we cut it ourselves (abort), when we did

    @property
    def kind(self) -> str:
        """How it ended in a word or two, for counting: requested, http_<status>, compression,
        stale, cut, closed_<code>, timeout, refused, dropped."""
        if self.requested:
            return "requested"
        if self.http_status is not None:
            return f"http_{self.http_status}"
        if isinstance(self.error, CompressionError):
            return "compression"
        if self.cause:
            return "stale" if "stale" in self.cause else "cut"
        if self.code is not None:
            return f"closed_{self.code}"
        if isinstance(self.error, (TimeoutError, websocket.WebSocketTimeoutException)):
            return "timeout"
        if isinstance(self.error, ConnectionRefusedError):
            return "refused"
        return "dropped"

    def describe(self) -> str:
        if isinstance(self.error, CompressionError):
            return f"compression fault: {self.error}"
        if self.cause:
            return self.cause
        if self.http_status is not None:
            return f"upgrade refused with HTTP {self.http_status}"
        if self.code is not None:
            return f"closed by server with code {self.code}" + (f" ({self.reason})" if self.reason else "")
        if self.error is not None:
            return f"{type(self.error).__name__}: {self.error}"
        return "connection lost"


def _timeval(seconds: float) -> bytes:
    if sys.platform == "win32":  # pragma: no cover - DWORD milliseconds on Windows
        return struct.pack("L", int(seconds * 1000))
    whole = int(seconds)
    return struct.pack("ll", whole, int((seconds - whole) * 1_000_000))


class Connection:
    """One socket at a time for one URL; thread-safe ``send``; ``open`` again after an end."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        on_open: Callable[[Connection], None],
        on_frame: Callable[[bytes | str, float], None],
        on_end: Callable[[Connection, ConnectionEnd], None],
        on_batch_end: Callable[[Connection], None] | None = None,
        header: Callable[[], list[str]] | None = None,
        connect_timeout: float = 5.0,
        ping_interval: float = 20.0,
        ping_timeout: float = 10.0,
        read_ahead: bool = True,
        proxy: Mapping[str, Any] | None = None,
        compression: bool = False,
        max_message: int = deflate.MAX_MESSAGE,
    ) -> None:
        self.name = name
        self.url = url
        self.shown_url = redact_url(url)  # for reprs, logs and reports: a password masked
        self._on_open = on_open
        self._on_frame = on_frame
        self._on_end = on_end
        self._on_batch_end = on_batch_end
        self._header = header
        self.connect_timeout = connect_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.read_ahead = read_ahead
        self._proxy = dict(proxy or {})  # websocket-client's proxy arguments (Config.proxy_options)
        self.compression = compression  # offer permessage-deflate on every upgrade
        self.max_message = max_message  # the most bytes a compressed message may inflate to

        self._lock = threading.Lock()
        self._app: websocket.WebSocketApp | None = None
        self._thread: threading.Thread | None = None
        self._close_requested = False
        self._attempt = 0
        self._last_error: BaseException | None = None
        self._close_args: tuple[int | None, str] = (None, "")
        self._opened_this_attempt = False
        self._abort_cause = ""
        self._raw: socket.socket | None = None  # the open socket, for input_pending
        self._poller: select.poll | None = None
        self._ahead: readahead.ReadAhead | None = None
        self._inflater: deflate.Inflater | None = None
        self._fault: CompressionError | None = None  # a compression fault ended this attempt
        self._offered = False  # this attempt offered permessage-deflate

        self.state = ConnState.CLOSED
        self.attempt_started_at: float | None = None
        self.connected_at: float | None = None  # monotonic
        self.connected_since: float | None = None  # wall clock, for health reports
        self.last_frame_at: float | None = None  # monotonic
        self.frames = 0  # data frames received, over every socket
        self.bytes = 0  # their payload bytes (inflated, when compressed)
        # what the current socket's server agreed to (the last socket's, while closed); None: plain
        self.agreement: deflate.Agreement | None = None
        self._saved = 0  # bytes compression spared the wire on the sockets before the current one

    def __repr__(self) -> str:
        return f"Connection({self.name!r}, {self.shown_url!r}, state={self.state.value})"

    @property
    def wire_bytes(self) -> int:
        """The payload bytes of the data frames as they came over the wire, over every socket:
        ``bytes`` less what compression spared."""
        inflater = self._inflater
        current = inflater.inflated - inflater.wire if inflater is not None else 0
        return self.bytes - self._saved - current

    # ---- lifecycle --------------------------------------------------------------------------------

    def open(self) -> None:
        """Start one connect attempt on a new daemon thread; the outcome arrives via the callbacks."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise RuntimeError(f"connection {self.name} is still running")
            self._attempt += 1
            self._close_requested = False
            self._last_error = None
            self._close_args = (None, "")
            self._opened_this_attempt = False
            self._abort_cause = ""
            self._fault = None
            self._offered = self.compression and _may_offer_compression()
            self.state = ConnState.CONNECTING
            self.attempt_started_at = time.monotonic()
            app = websocket.WebSocketApp(
                self.url,
                header=self._upgrade_header if self._offered else self._header,
                on_open=self._handle_open,
                on_message=self._handle_message,
                on_ping=self._handle_control,
                on_pong=self._handle_control,
                on_error=self._handle_error,
                on_close=self._handle_close,
            )
            self._app = app
            thread = threading.Thread(
                target=self._run, args=(app, self._attempt), name=f"upbit-ws-{self.name}",
                daemon=True,
            )
            self._thread = thread
        thread.start()

    def _run(self, app: websocket.WebSocketApp, attempt: int) -> None:
        # SO_SNDTIMEO bounds the TCP connect (Linux honours it there) and every send; SO_RCVTIMEO
        # bounds the handshake reads and is lifted once the socket is open. websocket-client has no
        # connect timeout of its own, and its global default would change other code's sockets too.
        try:
            timeout = _timeval(self.connect_timeout)
            sockopt: list[Any] = [
                (socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeout),
                (socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeout),
                (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),
            ]
            app.run_forever(
                sockopt=sockopt,
                ping_interval=self.ping_interval or 0,
                ping_timeout=(self.ping_timeout or None) if self.ping_interval else None,
                skip_utf8_validation=True,
                suppress_origin=True,  # Upbit holds upgrades carrying Origin to 1 per 10 s
                reconnect=0,
                **self._proxy,
            )
        except BaseException as exc:  # run_forever re-raises KeyboardInterrupt/SystemExit
            self._last_error = exc
        finally:
            self._finish(attempt)

    def _upgrade_header(self) -> list[str]:
        """The upgrade's extra headers: the owner's (a fresh JWT), and the permessage-deflate offer."""
        return [*(self._header() if self._header is not None else ()), deflate.OFFER_HEADER]

    def _finish(self, attempt: int) -> None:
        # websocket-client leaves the socket open after a close the server started (its close()
        # returns early once the handshake is done): close it here, or the descriptor lingers
        raw, self._raw, self._poller, self._ahead = self._raw, None, None, None
        inflater, self._inflater = self._inflater, None
        if inflater is not None:
            self._saved += inflater.inflated - inflater.wire
        if raw is not None:
            try:
                raw.close()
            except OSError:
                pass
        with self._lock:
            if attempt != self._attempt:
                return
            requested = self._close_requested
            error = self._fault or self._last_error
            code, reason = self._close_args
            if code is None and error is not None:
                code = getattr(error, "status_code", None)
                if isinstance(error, websocket.WebSocketBadStatusException):
                    code = None
            http_status = (
                error.status_code if isinstance(error, websocket.WebSocketBadStatusException) else None
            )
            end = ConnectionEnd(
                requested=requested, was_open=self._opened_this_attempt, code=code,
                reason=reason, error=error, http_status=http_status, cause=self._abort_cause,
            )
            self.state = ConnState.CLOSED
        if requested:
            log.info("connection %s closed", self.name)
        else:
            log.warning("connection %s ended: %s", self.name, end.describe())
        try:
            self._on_end(self, end)
        except Exception:  # the owner reports its own failures; this is the last word
            log.exception("connection %s: its owner failed to handle the end", self.name)

    def close(self, timeout: float = 2.0) -> None:
        """End the current socket, if any, and join its thread within ``timeout`` seconds.

        ``WebSocketApp.close()`` can take ~10 s from another thread, so: a close frame, a short join,
        then abort the socket (docs/architecture.md §7).
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            app, thread = self._app, self._thread
            self._close_requested = True
            if self.state in (ConnState.OPEN, ConnState.CONNECTING):
                self.state = ConnState.CLOSING
        if app is None or thread is None:
            return
        if thread is threading.current_thread():
            app.keep_running = False
            return
        sock = app.sock
        if sock is not None and sock.connected:
            try:
                sock.send_close()
            except Exception:  # the socket is already gone: abort below
                pass
            thread.join(max(0.0, min(0.25, deadline - time.monotonic())))
        if thread.is_alive():
            self._abort(app)
            thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            log.error("connection %s thread did not end within %.1fs", self.name, timeout)

    def mark_failed(self) -> None:
        """After an end: wait in FAILED (the keys were refused) rather than CLOSED until ``open``."""
        with self._lock:
            if self.state is ConnState.CLOSED:
                self.state = ConnState.FAILED

    def abort(self, cause: str = "") -> None:
        """Cut the socket at once (no close frame); the end is reported as not requested, with
        ``cause`` as its description."""
        with self._lock:
            app = self._app
            self._abort_cause = cause
        if app is not None:
            self._abort(app)

    @staticmethod
    def _abort(app: websocket.WebSocketApp) -> None:
        app.keep_running = False
        sock = app.sock
        raw = getattr(sock, "sock", None) if sock is not None else None
        if raw is not None:
            try:
                raw.shutdown(socket.SHUT_RDWR)  # wakes a reader blocked in a handshake, too
            except OSError:
                pass

    @property
    def is_alive(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def input_pending(self) -> bool:
        """True when more input is ready (a burst is under way): a complete frame already read
        ahead, or bytes waiting on the socket."""
        poller, raw = self._poller, self._raw
        if poller is None or raw is None:
            return False
        ahead = self._ahead
        if ahead is not None and ahead.has_frame():
            return True
        try:
            if isinstance(raw, ssl.SSLSocket) and raw.pending():
                return True
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return False

    # ---- sending ----------------------------------------------------------------------------------

    def send(self, text: str) -> None:
        """Send a text frame; raises ClosedError when the socket is not open."""
        app = self._app
        if self.state is not ConnState.OPEN or app is None or app.sock is None:
            raise ClosedError(f"connection {self.name} is not open")
        try:
            app.sock.send(text)  # websocket-client locks sends internally
        except (websocket.WebSocketException, OSError) as exc:
            raise ClosedError(f"connection {self.name}: send failed: {exc}") from exc

    # ---- websocket-client callbacks (socket thread) --------------------------------------------------

    def _handle_open(self, app: websocket.WebSocketApp) -> None:
        raw = getattr(app.sock, "sock", None)
        poller = None
        if raw is not None:
            try:
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(0))
                if hasattr(select, "poll"):
                    poller = select.poll()
                    poller.register(raw, select.POLLIN)
            except (OSError, ValueError):
                poller = None
        self._raw, self._poller = raw, poller
        self._ahead = readahead.install(app.sock) if raw is not None and self.read_ahead else None
        if self._ahead is None and raw is not None and self.read_ahead:
            _warn_no_read_ahead()
        if self._offered and not self._take_answer(app):
            return
        now = time.monotonic()
        with self._lock:
            if app is not self._app:
                return
            self._opened_this_attempt = True
            self.state = ConnState.OPEN
            self.connected_at = now
            self.connected_since = time.time()
            self.last_frame_at = now
        log.info("connection %s open: %s", self.name, self.shown_url)
        self._on_open(self)

    def _take_answer(self, app: websocket.WebSocketApp) -> bool:
        """After an upgrade that offered permessage-deflate: read what the server answered and set
        the socket's frames to be read accordingly. False (the socket cut) for an answer the client
        must refuse: the attempt ends as one that never opened, with the reason."""
        sock = app.sock
        try:
            headers = sock.getheaders() if sock is not None else None
            agreement = deflate.parse_answer((headers or {}).get(deflate.HEADER.lower()))
        except CompressionError as exc:
            self._fault = exc
            self._abort(app)
            return False
        self.agreement = agreement
        inflater = deflate.Inflater(agreement, self.max_message) if agreement is not None else None
        self._inflater = inflater
        inflate = inflater.inflate if inflater is not None else None
        ahead = self._ahead
        if ahead is not None:
            ahead.inflate = inflate
        if sock is not None:
            recv = ahead if ahead is not None else sock.frame_buffer.recv
            reader = readahead.MessageReader(recv, inflate, self.max_message)
            sock.recv_frame = reader.recv_frame  # type: ignore[method-assign]
        if agreement is not None:
            log.debug("connection %s: permessage-deflate, window %d bits%s", self.name,
                      agreement.window_bits, ", no context takeover" if agreement.no_context_takeover
                      else "")
        return True

    def _handle_message(self, app: websocket.WebSocketApp, data: bytes | str) -> None:
        self.last_frame_at = time.monotonic()
        self.frames += 1
        self.bytes += len(data)
        ahead = self._ahead
        try:
            self._on_frame(data, ahead.read_at if ahead is not None else time.time())
        finally:
            self._finish_batch(app)

    def _handle_control(self, app: websocket.WebSocketApp, data: bytes) -> None:
        # A ping or pong websocket-client read first comes here, not to on_message: the frames read
        # ahead with it must be handled all the same.
        self._finish_batch(app)

    def _finish_batch(self, app: websocket.WebSocketApp) -> None:
        """After a frame from websocket-client: take what the read-ahead still holds, then tell the
        owner that this read's frames are handled."""
        ahead = self._ahead
        if ahead is not None and ahead.buffered:
            self._drain(app, ahead)
        if self._on_batch_end is not None:
            self._on_batch_end(self)  # may wait for room in a full queue (overflow="block")
        if app.last_ping_tm > app.last_pong_tm:  # a ping awaits its pong
            self._prove_alive(app, ahead)

    def _prove_alive(self, app: websocket.WebSocketApp, ahead: readahead.ReadAhead | None) -> None:
        """Any frame is proof of life, not only a pong: a read made after the ping, or bytes still
        waiting to be read (the pong is queued behind them while a full queue holds this thread,
        ``overflow="block"``), answer the ping. The SDK never ends a connection for what it chose
        not to read yet; a peer that sends nothing at all still times out."""
        read_at = ahead.read_at if ahead is not None else time.time()
        if read_at >= app.last_ping_tm or self.input_pending():
            app.last_pong_tm = app.last_ping_tm  # answered in time: websocket-client's check passes

    def _drain(self, app: websocket.WebSocketApp, ahead: readahead.ReadAhead) -> None:
        """Handle every complete frame the read-ahead holds before websocket-client waits on the
        socket again (readahead.py says why none may be left)."""
        try:
            self._drain_frames(app, ahead)
        except CompressionError as exc:
            self._fault = exc
            self.abort(str(exc))
        self.last_frame_at = time.monotonic()

    def _drain_frames(self, app: websocket.WebSocketApp, ahead: readahead.ReadAhead) -> None:
        on_frame, next_frame = self._on_frame, ahead.next_frame
        while app.keep_running:
            frame = next_frame()
            data: bytes | str
            if type(frame) is bytes:
                data = frame
            elif frame is None:
                break
            elif frame is readahead.CLOSE:
                self._wake_reader()
                break
            else:  # fragmented, ping, pong: websocket-client's own parser reads it
                sock = app.sock
                if sock is None:
                    break
                try:
                    opcode, parsed = sock.recv_data_frame(True)
                except CompressionError:
                    raise
                except Exception as exc:  # a frame it refuses: as its own read loop would, end it
                    self.abort(f"frame refused: {type(exc).__name__}: {exc}")
                    break
                if opcode == websocket.ABNF.OPCODE_PONG:
                    app.last_pong_tm = time.time()
                    continue
                if opcode == websocket.ABNF.OPCODE_PING:
                    continue  # already answered by recv_data_frame
                data = parsed.data
            self.frames += 1
            self.bytes += len(data)
            on_frame(data, ahead.read_at)

    def _wake_reader(self) -> None:
        # websocket-client's read loop is about to wait on the socket for a close frame it will find
        # in the read-ahead: shutting the reading side makes the socket readable at once. The plain
        # socket method, because SSLSocket.shutdown would also drop the TLS layer the reply needs.
        raw = self._raw
        if raw is not None:
            try:
                socket.socket.shutdown(raw, socket.SHUT_RD)
            except OSError:
                pass

    def _handle_error(self, app: websocket.WebSocketApp, error: Any) -> None:
        # Also called for a normal server close; websocket-client 1.9.0 passes the raw close frame.
        if isinstance(error, websocket.ABNF):
            self._close_args = _close_frame_args(error)
            return
        if isinstance(error, BaseException):
            self._last_error = error
            if isinstance(error, CompressionError):
                self._fault = error
            code = getattr(error, "status_code", None)
            if isinstance(error, websocket.WebSocketConnectionClosedException) and code is not None:
                self._close_args = (code, str(getattr(error, "reason", "") or ""))
        log.debug("connection %s error: %r", self.name, error)

    def _handle_close(self, app: websocket.WebSocketApp, code: Any, reason: Any) -> None:
        if isinstance(code, int):
            text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else reason
            self._close_args = (code, text or "")


def _close_frame_args(frame: websocket.ABNF) -> tuple[int | None, str]:
    data = frame.data or b""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) >= 2:
        code = int.from_bytes(data[:2], "big")
        return code, data[2:].decode("utf-8", "replace")
    return None, ""
