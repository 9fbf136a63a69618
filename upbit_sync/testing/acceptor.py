"""The fake exchange's listening sockets: one accept thread each, every connection on a thread of its
own, and every socket and thread tracked so that ``stop()`` ends them all (the WebSocket side and the
REST side share this)."""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

JOIN_TIMEOUT = 5.0


class Acceptor:
    """Accepts on ``listener`` (given to :meth:`start`) and runs ``serve(sock, address)`` for each
    connection on a daemon thread named ``<name>-<n>``; the socket is shut down and closed after."""

    def __init__(self, serve: Callable[[socket.socket, Any], None], name: str, accept_name: str) -> None:
        self._serve = serve
        self._name = name
        self._accept_name = accept_name
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._waker: tuple[socket.socket, socket.socket] | None = None
        self._thread: threading.Thread | None = None
        self._threads: set[threading.Thread] = set()
        self._sockets: set[socket.socket] = set()
        self._accepted = 0

    @property
    def accepted(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return self._accepted

    def start(self, listener: socket.socket) -> None:
        listener.setblocking(False)
        self._listener = listener
        self._waker = socket.socketpair()
        self._thread = threading.Thread(target=self._accept_loop, name=self._accept_name, daemon=True)
        self._thread.start()

    def stop_accepting(self) -> None:
        """No new connection: the accept thread is joined and the listener closed."""
        self._stopping.set()
        if self._waker is None or self._listener is None:
            return
        try:
            self._waker[1].send(b"x")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT)
        self._listener.close()

    def stop(self) -> None:
        """Stop accepting, end every connection, join every thread. Idempotent."""
        self.stop_accepting()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for sock in sockets:
            shutdown(sock)
        deadline = time.monotonic() + JOIN_TIMEOUT
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("fake Upbit thread %s did not stop", thread.name)
        if self._waker is not None:
            for sock in self._waker:
                sock.close()
            self._waker = None

    def _accept_loop(self) -> None:
        assert self._listener is not None and self._waker is not None
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        selector.register(self._waker[0], selectors.EVENT_READ)
        try:
            while not self._stopping.is_set():
                events = selector.select()
                if any(key.fileobj is self._waker[0] for key, _ in events):
                    return
                try:
                    sock, address = self._listener.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    return
                sock.setblocking(True)
                with self._lock:
                    if self._stopping.is_set():
                        sock.close()
                        return
                    self._accepted += 1
                    thread = threading.Thread(target=self._run, args=(sock, address),
                                              name=f"{self._name}-{self._accepted}", daemon=True)
                    self._threads = {t for t in self._threads if t.is_alive()}
                    self._threads.add(thread)
                    self._sockets.add(sock)
                thread.start()
        finally:
            selector.close()

    def _run(self, sock: socket.socket, address: Any) -> None:
        try:
            self._serve(sock, address)
        finally:
            with self._lock:
                self._sockets.discard(sock)
            shutdown(sock)
            sock.close()


def shutdown(sock: socket.socket) -> None:
    """Shut both directions of ``sock`` down, whatever its state."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
