"""An HTTP GET bounded by one deadline, not per read: ``upbit-sync health`` must answer within
``--timeout`` even from a server that drips its answer a byte at a time."""

from __future__ import annotations

import base64
import http.client
import io
import ipaddress
import socket
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _time_left(deadline: float) -> float:
    """Seconds until ``deadline``; TimeoutError once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the deadline passed")
    return left


class _ReadUntil(io.RawIOBase):
    """A socket's reads for http.client, each given only the time left before ``deadline``: a server
    that answers a byte at a time cannot stretch a read past it (a socket timeout bounds one read)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._io = sock.makefile("rb", buffering=0)  # keeps the socket open while the answer is read
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(_time_left(self._deadline))
        return self._io.readinto(buffer)

    def close(self) -> None:
        self._io.close()
        super().close()


class _SocketUntil:
    """A connected socket whose answer (``makefile``, as http.client reads it) ends by ``deadline``;
    everything else is the socket's own."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_ReadUntil(self._sock, self._deadline))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _HTTPUntil(http.client.HTTPConnection):
    """An HTTP connection whose connect, and every read of its answer, end by one deadline."""

    def __init__(self, host: str, *, deadline: float, **options: Any) -> None:
        super().__init__(host, **options)
        self._deadline = deadline

    def connect(self) -> None:
        self.timeout = _time_left(self._deadline)
        super().connect()
        self.sock = _SocketUntil(self.sock, self._deadline)


class _HTTPSUntil(_HTTPUntil, http.client.HTTPSConnection):
    """The same over TLS (the handshake bounded by the socket's timeout, set to the time left)."""


class _HTTPHandlerUntil(urllib.request.HTTPHandler):
    """urllib's http:// handler, on connections that end by ``deadline``."""

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self._deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        # typeshed's connection protocol knows no ``deadline``; do_open passes it on as it is
        return self.do_open(_HTTPUntil, req, deadline=self._deadline)  # type: ignore[arg-type]


class _HTTPSHandlerUntil(urllib.request.HTTPSHandler):
    """urllib's https:// handler, on connections that end by ``deadline``."""

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self._deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPSUntil, req, deadline=self._deadline)  # type: ignore[arg-type]


def get_within(url: str, timeout: float) -> tuple[int, bytes]:
    """GET ``url``, within ``timeout`` in all, not per read: the status and body, error statuses
    included. A user and password in the URL go as basic auth; a proxy is never used for a loopback
    address (a health check of this machine must not leave it)."""
    deadline = time.monotonic() + timeout
    parts = urlsplit(url)
    auth = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        auth = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        url = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    handlers: list[urllib.request.BaseHandler] = [_HTTPHandlerUntil(deadline), _HTTPSHandlerUntil(deadline)]
    if _is_loopback(parts.hostname or ""):
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if auth is not None:  # to this host only: a redirect elsewhere does not carry it
        request.add_unredirected_header("Authorization", auth)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:  # 503 and friends: the body says why
        with exc:
            return exc.code, exc.read()
