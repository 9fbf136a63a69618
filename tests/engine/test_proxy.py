"""Connections through a proxy (``Config.proxy``): the WebSocket upgrades and REST calls go through a
small HTTP proxy on 127.0.0.1 written here, which tunnels CONNECT and forwards absolute-URI requests."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator

import pytest

import upbit_sync as us
from tests.engine.conftest import fast_config
from tests.support import EventLog
from upbit_sync.config import VENUES
from upbit_sync.testing import FakeUpbitServer


class Proxy:
    """An HTTP proxy on 127.0.0.1: ``CONNECT host:port`` opens a tunnel; ``GET http://host:port/...``
    is forwarded with its path. Each request line it took is in ``requests``; with ``auth``, a request
    without that ``Proxy-Authorization`` is answered 407."""

    def __init__(self, auth: tuple[str, str] | None = None) -> None:
        self.auth = auth
        self.requests: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._start(self._accept)

    @property
    def url(self) -> str:
        if self.auth is None:
            return f"http://127.0.0.1:{self.port}"
        return f"http://{self.auth[0]}:{self.auth[1]}@127.0.0.1:{self.port}"

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name="test-proxy", daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(client)
            self._start(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        with self._lock:
            self.requests.append(f"{method} {target}")
        if self.auth is not None:
            wanted = "Basic " + base64.b64encode(":".join(self.auth).encode()).decode()
            if headers.get("proxy-authorization") != wanted:
                client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
                client.close()
                return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = socket.create_connection((host, int(port)))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:  # an absolute URI: forward it with its path, without the proxy's own header
            address, _, path = target.removeprefix("http://").partition("/")
            host, _, port = address.rpartition(":")
            upstream = socket.create_connection((host, int(port)))
            kept = [line for line in lines[1:] if not line.lower().startswith("proxy-")]
            upstream.sendall("\r\n".join([f"{method} /{path} {version}", *kept]).encode("latin-1")
                             + b"\r\n\r\n")
        with self._lock:
            self._sockets.append(upstream)
        if rest:
            upstream.sendall(rest)
        self._start(self._pipe, upstream, client)
        self._pipe(client, upstream)

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (closing alone does not)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for thread in threads:
            thread.join(5)


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    p = Proxy()
    yield p
    p.close()


@pytest.fixture
def server() -> Iterator[FakeUpbitServer]:
    with FakeUpbitServer(message_rate=20.0, status_interval=0.5, seed=7) as fake:
        yield fake


def _first_ticker(config: us.Config) -> us.Ticker:
    got = EventLog()
    tickers: list[us.Ticker] = []

    def on_ticker(ticker: us.Ticker) -> None:
        with got.cond:
            tickers.append(ticker)
            got.cond.notify_all()

    with us.WebSocketManager(config) as manager, us.WebSocketClient(manager) as client:
        client.subscribe("ticker", ["KRW-BTC"], on_ticker)
        assert got.wait(lambda: tickers, timeout=10.0), "nothing came through the proxy"
    return tickers[0]


def test_the_websocket_connection_goes_through_the_proxy(server, proxy):
    ticker = _first_ticker(fast_config(server, proxy=proxy.url))
    assert ticker.code == "KRW-BTC"
    port = server.public_url.split(":")[2].split("/")[0]
    assert f"CONNECT 127.0.0.1:{port}" in proxy.requests


def test_rest_calls_go_through_the_proxy(server, proxy):
    with us.RestClient(fast_config(server, proxy=proxy.url)) as rest:
        markets = rest.markets()
    assert any(m.market == "KRW-BTC" for m in markets)
    assert any(r.startswith("GET http://127.0.0.1:") and "/v1/market/all" in r for r in proxy.requests), \
        proxy.requests


def test_a_proxy_that_asks_for_credentials_gets_them_and_they_are_never_shown(server):
    guarded = Proxy(auth=("trader", "pa55word"))
    try:
        config = fast_config(server, proxy=guarded.url)
        assert _first_ticker(config).code == "KRW-BTC"
        assert "pa55word" not in repr(config) and "trader:****@" in repr(config)
        assert any(r.startswith("CONNECT ") for r in guarded.requests)
    finally:
        guarded.close()


def test_a_proxy_that_refuses_the_credentials_is_a_connect_error(server):
    guarded = Proxy(auth=("trader", "pa55word"))
    errors = EventLog()
    try:
        config = fast_config(server, proxy=guarded.url.replace("pa55word", "wrong"))
        with us.WebSocketManager(config) as manager, \
                us.WebSocketClient(manager, on_error=errors.on_error) as client:
            client.subscribe("ticker", ["KRW-BTC"], lambda t: None)
            assert errors.wait(lambda: errors.errors, timeout=10.0)
        error = errors.errors[0]
        assert isinstance(error, us.ConnectError) and "wrong" not in str(error)
    finally:
        guarded.close()


@pytest.mark.parametrize("proxy_url", ["ftp://127.0.0.1:21", "http://", "socks5://host:notaport",
                                       "127.0.0.1:3128"])
def test_a_proxy_that_is_no_proxy_url_is_refused_naming_the_field(proxy_url):
    with pytest.raises(us.ConfigError, match="proxy"):
        us.Config(proxy=proxy_url)


def test_a_refused_proxy_url_never_shows_its_password():
    with pytest.raises(us.ConfigError) as refused:
        us.Config(proxy="ftp://trader:pa55word@127.0.0.1:21")
    assert "pa55word" not in str(refused.value)


@pytest.mark.parametrize("venue", ["kr", "sg", "id", "th"])
def test_each_venue_names_its_hosts(venue):
    host = VENUES[venue]  # compared, never contacted: the suite refuses any address off loopback
    assert len(set(VENUES.values())) == len(VENUES)  # each venue a host of its own
    config = us.Config.for_venue(venue)
    assert config.venue == venue
    assert config.public_url == f"wss://{host}/websocket/v1"
    assert config.private_url == f"wss://{host}/websocket/v1/private"
    assert config.info_url == f"wss://{host}/websocket/v1/info"
    assert config.rest_url == f"https://{host}"


def test_a_venue_keeps_the_urls_given_to_it():
    config = us.Config.for_venue("sg", public_url="ws://127.0.0.1:9/websocket/v1")
    assert config.public_url == "ws://127.0.0.1:9/websocket/v1"
    assert config.rest_url == f"https://{VENUES['sg']}"


def test_an_unknown_venue_is_refused_naming_the_known_ones():
    with pytest.raises(us.ConfigError, match=r"venue must be one of \('kr', 'sg', 'id', 'th'\), not 'jp'"):
        us.Config.for_venue("jp")
