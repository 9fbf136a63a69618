"""HangingServer: a raw-socket peer for the faults a real WebSocket server cannot produce.

``"no_handshake"`` accepts TCP and reads, but never answers the upgrade (a client without a connect
timeout hangs forever). ``"dead_after_handshake"`` completes a valid upgrade, then never reads or
answers again, so pings go unanswered: the half-open peer a ping timeout must catch.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import selectors
import socket
import threading
from typing import Any

log = logging.getLogger(__name__)

MODES = ("no_handshake", "dead_after_handshake")
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
_MAX_HEADER = 65536


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a client's ``Sec-WebSocket-Key``."""
    digest = hashlib.sha1((key.strip() + _GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


class HangingServer:
    """A listener on 127.0.0.1 that hangs its clients in one of two ways; see the module docstring."""

    def __init__(self, mode: str = "no_handshake", host: str = "127.0.0.1", port: int = 0) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.mode = mode
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._accepted = 0
        self._handshakes = 0
        self._listener: socket.socket | None = None
        self._waker: tuple[socket.socket, socket.socket] | None = None
        self._thread: threading.Thread | None = None
        self._clients: list[socket.socket] = []
        self._stopped = False

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/websocket/v1"

    @property
    def accepted(self) -> int:
        """TCP connections accepted so far."""
        with self._lock:
            return self._accepted

    @property
    def handshakes(self) -> int:
        """Upgrades answered with 101 (``dead_after_handshake`` only)."""
        with self._lock:
            return self._handshakes

    def start(self) -> HangingServer:
        """Listen and serve in one daemon thread; returns self."""
        if self._thread is not None:
            raise RuntimeError("a HangingServer can be started only once")
        self._listener = socket.create_server((self.host, self.port))
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self._waker = socket.socketpair()
        self._thread = threading.Thread(target=self._run, name="upbit-fake-hanging", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the listener and every client socket; join the thread. Idempotent."""
        with self._lock:
            if self._stopped or self._thread is None:
                self._stopped = True
                return
            self._stopped = True
        assert self._waker is not None
        try:
            self._waker[1].send(b"x")
        except OSError:
            pass
        self._thread.join(5.0)
        for sock in (*self._waker, *self._clients):
            sock.close()
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> HangingServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        assert self._listener is not None and self._waker is not None
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ, "listen")
        selector.register(self._waker[0], selectors.EVENT_READ, "wake")
        buffers: dict[socket.socket, bytearray] = {}
        try:
            while True:
                for key, _ in selector.select():
                    if key.data == "wake":
                        return
                    if key.data == "listen":
                        self._accept(selector, buffers)
                    else:
                        self._read(selector, buffers, key.fileobj)
        finally:
            selector.close()

    def _accept(self, selector: selectors.BaseSelector, buffers: dict[socket.socket, bytearray]
                ) -> None:
        assert self._listener is not None
        try:
            sock, _ = self._listener.accept()
        except OSError:
            return
        sock.setblocking(False)
        with self._lock:
            self._accepted += 1
            self._clients.append(sock)
        buffers[sock] = bytearray()
        selector.register(sock, selectors.EVENT_READ, "client")

    def _read(self, selector: selectors.BaseSelector, buffers: dict[socket.socket, bytearray],
              fileobj: Any) -> None:
        sock = fileobj
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            selector.unregister(sock)
            buffers.pop(sock, None)
            return
        if self.mode == "no_handshake":
            return  # read and forget: the upgrade is never answered
        buffer = buffers[sock]
        buffer += data
        end = buffer.find(b"\r\n\r\n")
        if end < 0 and len(buffer) < _MAX_HEADER:
            return
        selector.unregister(sock)  # never read again: pings pile up unanswered
        buffers.pop(sock, None)
        key = _header(bytes(buffer[:end]), "sec-websocket-key")
        if key is None:
            sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        response = (
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
        )
        try:
            sock.sendall(response.encode("ascii"))
        except OSError:
            return
        with self._lock:
            self._handshakes += 1
        log.debug("hanging server: handshake done, going dead")


def _header(head: bytes, name: str) -> str | None:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        field, _, value = line.partition(":")
        if field.strip().lower() == name:
            return value.strip()
    return None
