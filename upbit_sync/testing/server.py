"""FakeUpbitServer: a local Upbit exchange for tests, examples and benchmarks.

A real WebSocket server (``websockets``' threaded sync implementation) on one port that speaks
Upbit's protocol as docs/upbit.md describes it: public and private paths, request validation
with Upbit's error names, replace-on-request subscriptions, SNAPSHOT then REALTIME data in four
formats, ``PING`` status, idle drops, JWT checks and rate limits, plus fault controls and
introspection for tests (docs/architecture.md §5). Upbit's REST API is served over HTTP on a
second port (``rest.py``), from the same market.

The newer channels (docs/channels.md): ``indicator`` and ``indicator_signal`` on a third path,
``/websocket/v1/info``, with the private path's JWT check (``indicators.py`` makes the candles and
the values, on a clock ``time_scale`` can speed up), and ``announcement`` on the private path
(``announcements.py``; a test pushes notices with :meth:`FakeUpbitServer.emit_announcement`).

Trades happen on a tape per market: once anyone has subscribed to a market's trades, it trades at
``message_rate`` per second until the server stops, listened to or not, and every trade goes to
every connection subscribed to that market's trades and into the history ``/v1/trades/ticks``
serves. :meth:`FakeUpbitServer.replay` replaces the simulated market data with a recording of
``upbit-sync record``, played to each connection as ``replay.py`` describes.

Threads, all daemons named ``upbit-fake-...`` and joined by :meth:`FakeUpbitServer.stop`: one accept
thread, one sender thread for all scheduled data and status frames and the tapes, per connection
the thread that runs the websockets handshake and reads requests (plus websockets' own reader
thread), and the REST side's (``upbit-fake-rest-...``). Candle closes of the info channel are the
sender thread's too.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import math
import os
import re
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

from websockets.exceptions import ConnectionClosed, InvalidMessage
from websockets.frames import Opcode
from websockets.protocol import State
from websockets.sync.server import Server, ServerConnection, serve

from ..config import Config
from . import announcements, indicators
from .acceptor import Acceptor, shutdown
from .channels import ChannelRules
from .indicators import Candle, IndicatorFeed, InfoClock, InfoStream
from .market import MarketSimulator
from .markets import DEFAULT_MARKETS, Market, market_list
from .replay import Recording, Replayer, Speed, Wanted
from .rest import DEFAULT_ACCOUNTS, REST_LIMITS, TEAPOT_WINDOW, FakeRest, RestRequest
from .tokens import TEST_ACCESS_KEY, TEST_SECRET_KEY, Nonces, TokenCheck, check_authorization
from .validation import (
    ANNOUNCEMENT,
    INFO_TYPES,
    INVALID_AUTH,
    PRIVATE_TYPES,
    PUBLIC_TYPES,
    TOO_MANY_REQUESTS,
    AnnouncementRequest,
    IndicatorRequest,
    ParsedRequest,
    RequestError,
    market_of,
    parse_request,
)
from .wire import dumps, encode, server_frame

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

PUBLIC_PATH = "/websocket/v1"
PRIVATE_PATH = "/websocket/v1/private"
INFO_PATH = "/websocket/v1/info"  # indicator and indicator_signal (docs/channels.md §0)
PATHS = (PUBLIC_PATH, PRIVATE_PATH, INFO_PATH)
AUTHENTICATED_PATHS = (PRIVATE_PATH, INFO_PATH)  # a JWT on the upgrade (docs/channels.md §1)
AUTH_FAILURE_MODES = ("frame", "http")
ORIGIN_WINDOW = 10.0  # upgrades carrying an Origin header: 1 per 10 s (docs/upbit.md §5)

_STATUS_UP = dumps({"status": "UP"})
_IDLE_POLL = 0.25  # the sender thread re-reads its settings at least this often
_JOIN_TIMEOUT = 5.0
_FIREHOSE_CHUNK = 1 << 16
_BATCH = 256  # REALTIME messages the sender collects per round
_current = threading.local()  # the websockets connection the calling thread serves


@dataclass(frozen=True)
class Request:
    """One request message a connection received (``PING`` is not one; see ``ConnInfo.pings``)."""

    time: float
    text: str
    payload: Any


@dataclass
class Attempt:
    """One upgrade attempt: when (``time.monotonic()``), on which path, answered with which status.

    ``headers`` are the upgrade request's headers, names as sent; they stay out of the repr because
    they may carry an Authorization token.
    """

    time: float
    path: str
    status: int
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    def header(self, name: str) -> str | None:
        """A request header's value by case-insensitive name, or None when it was not sent."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)


@dataclass(eq=False)
class _Stream:
    """One (type, code) the connection is subscribed to, as the sender thread serves it."""

    type: str
    key: str
    market: str
    depth: int
    level: float
    snapshot: bool
    realtime: bool
    awaiting_snapshot: bool = False


class _FakeConnection(ServerConnection):
    """A websockets server connection that notes when any frame arrives, pings included."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.last_rx = time.monotonic()
        self.fake_attempt: Attempt | None = None
        self.fake_auth: TokenCheck | None = None
        self.fake_conn: ConnInfo | None = None
        self.fake_on_close: Callable[[ConnInfo], None] | None = None
        super().__init__(*args, **kwargs)
        _current.connection = self
        name = threading.current_thread().name
        if name.startswith("upbit-fake-conn-"):
            self.recv_events_thread.name = name.replace("-conn-", "-recv-", 1)

    def process_event(self, event: Any) -> None:
        self.last_rx = time.monotonic()
        super().process_event(event)
        # The closing handshake is complete (websockets has sent its reply by now): the
        # connection is over, even if the client never closes its end of the TCP connection.
        if getattr(event, "opcode", None) is Opcode.CLOSE:
            conn, on_close = self.fake_conn, self.fake_on_close
            if conn is not None and on_close is not None:
                on_close(conn)


class ConnInfo:
    """What the fake knows of one accepted connection; a live, thread-safe, read-only view."""

    def __init__(
        self, lock: threading.RLock, conn_id: int, path: str, ws: _FakeConnection,
        opened_at: float, access_key: str | None,
    ) -> None:
        self.id = conn_id
        self.path = path
        self.is_private = path == PRIVATE_PATH
        self.is_info = path == INFO_PATH
        self.opened_at = opened_at
        self.authorized_access_key = access_key
        self._lock = lock
        self._ws = ws
        self._closed_at: float | None = None
        self._closing = False
        self._format = "DEFAULT"
        self._requests: list[Request] = []
        self._subscriptions: list[dict[str, Any]] = []
        self._served: list[dict[str, Any]] = []
        self._sent = 0
        self._pings = 0
        self._streams: list[_Stream] = []
        self._trades: dict[str, _Stream] = {}  # the trade streams, by market: the tapes' listeners
        self._pending: deque[_Stream] = deque()
        self._generation = 0
        self._my_order: frozenset[str] | None = None  # None = every market
        self._my_order_on = False
        self._my_asset_on = False
        self._announcement: AnnouncementRequest | None = None
        self._status_next: float | None = None
        self._last_tx = opened_at
        self._message_times: deque[float] = deque()

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<ConnInfo {self.id} {self.path} {state} format={self.format}>"

    @property
    def closed_at(self) -> float | None:
        with self._lock:
            return self._closed_at

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._closed_at is None

    @property
    def format(self) -> str:
        with self._lock:
            return self._format

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    @property
    def subscriptions(self) -> list[dict[str, Any]]:
        """The current set, one dict per type object of the last request, codes as sent."""
        with self._lock:
            return [dict(entry, codes=list(entry["codes"])) if "codes" in entry else dict(entry)
                    for entry in self._subscriptions]

    @property
    def sent_count(self) -> int:
        """Data frames sent: market data, private events and firehose frames."""
        with self._lock:
            return self._sent

    @property
    def pings(self) -> int:
        """Text ``PING`` messages received."""
        with self._lock:
            return self._pings

    @property
    def last_activity(self) -> float:
        """When a frame last went either way (``time.monotonic()``): the idle clock."""
        return max(self._ws.last_rx, self._last_tx)


class FakeUpbitServer:
    """A local Upbit WebSocket exchange on 127.0.0.1; see the module docstring and docs/architecture.md §5.

    Settings are plain attributes and may be changed while it runs. Where Upbit's behaviour is
    OPEN or unstated, the fake decides as follows:

    - ``connect_limit`` counts every upgrade attempt on Upbit's two paths in the trailing second,
      refused ones included (404s excluded): retrying fast after a 429 keeps getting 429.
    - ``origin_limit``: an upgrade carrying an ``Origin`` header is refused with 429 when another
      one carrying it passed the rate limits in the last ``origin_window`` seconds, across the
      whole server (a JWT refused afterwards does not undo that); a refused one does not restart
      the window. Upgrades without ``Origin`` are not held to it. Passing upgrades are remembered
      while the rule is off too, so switching it on applies to what came just before. REST
      requests carrying ``Origin`` share the same window (a refused one gets 429).
    - ``markets`` lists what is served; any other code is ignored like Upbit ignores unknown codes:
      a request naming it succeeds, the code gets no data and no error, and LIST_SUBSCRIPTIONS
      leaves it out. None serves any well-formed code (synthetic codes in tests and benchmarks).
    - ``message_limit`` counts request messages (LIST_SUBSCRIPTIONS included), not text ``PING``.
    - A subscription request without a format object sets the connection to DEFAULT; a
      LIST_SUBSCRIPTIONS request switches the format only when it carries a format object.
    - REALTIME runs at ``message_rate`` for every type (candles too); 0 sends snapshots only.
    - A market's tape starts with the first subscription to its trades (``is_only_snapshot`` ones
      too) and runs until the server stops. A trade SNAPSHOT is the tape's latest trade, made on the
      spot (and sent to the tape's listeners) when the market never traded. Once a market's tape
      runs, it alone makes that market's trades: ticker, orderbook and candle messages keep their
      own schedule but show the tape's trades. While :meth:`silence` holds, the tapes trade on
      and nothing is sent.
    - ``supported_levels``: an orderbook subscription at a level the market does not support gets
      no data and no error, as on Upbit; the rule for which levels a market supports is the fake's
      own (see :meth:`MarketSimulator.instrument`).
    - The REST side's choices are listed on :class:`~upbit_sync.testing.rest.FakeRest`.
    - ``idle_timeout`` 0 disables idle drops; pings, pongs and status frames all count as traffic.
    - ``/websocket/v1/info`` checks the JWT as the private path does (same keys, nonces and
      ``auth_failure`` mode), counts toward ``connect_limit`` and the Origin rule, and holds its
      requests to ``message_limit``. It serves only ``indicator`` and ``indicator_signal``; any other
      type is INVALID_PARAM, as public types are on the private path. ``channel_rules`` (a
      :class:`~upbit_sync.testing.channels.ChannelRules`) holds the choices for what
      docs/channels.md leaves OPEN (error names for bad indicator requests, extra fields, Bollinger
      multipliers, indicator types on the private path, ...). A request replaces the whole set there
      too; several indicator objects in one request (timeframes mixed) are all served, a repeated
      (code, timeframe, item) once; no limit on codes or items. Codes are KRW market codes; one the
      fake does not list is ignored like an unknown public code.
    - ``time_scale``: the info channel's candle clock runs this many times as fast as the wall clock
      (3000 closes a 5-minute candle every 0.1 s); ``candles()`` shows a series, ``script_candles()``
      decides its next closes. The series and rules are in :mod:`upbit_sync.testing.indicators`.
    - A client that cannot take a scheduled frame within ``send_timeout`` (it stopped reading and
      the socket buffers are full) is dropped as a slow consumer, so it cannot stall the others.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        keys: Mapping[str, str] | None = None,
        auth_failure: str = "frame",
        idle_timeout: float = 120.0,
        status_interval: float = 10.0,
        connect_limit: int | None = 5,
        message_limit: tuple[int, int] | None = (5, 100),
        message_rate: float = 10.0,
        error_close_delay: float = 0.15,
        resnapshot_on_replace: bool = True,
        honour_camel_case: bool = True,
        origin_limit: bool = True,
        markets: Iterable[str | Market] | None = DEFAULT_MARKETS,
        seed: int | None = None,
        rest_port: int = 0,
        remaining_req_header: str = "Remaining-Req",
        teapot_after: int | None = 3,
        teapot_seconds: float = 5.0,
        teapot_retry_after: bool = True,
        time_scale: float = 1.0,
        channel_rules: ChannelRules | None = None,
    ) -> None:
        if auth_failure not in AUTH_FAILURE_MODES:
            raise ValueError(f"auth_failure must be one of {AUTH_FAILURE_MODES}")
        self.host = host
        self.port = port
        self.keys: dict[str, str] = dict(keys) if keys is not None else {
            TEST_ACCESS_KEY: TEST_SECRET_KEY
        }
        self.auth_failure = auth_failure
        self.idle_timeout = idle_timeout
        self.status_interval = status_interval
        self.connect_limit = connect_limit
        self.message_limit = message_limit
        self.message_rate = message_rate
        self.error_close_delay = error_close_delay
        self.resnapshot_on_replace = resnapshot_on_replace
        self.honour_camel_case = honour_camel_case
        self.origin_limit = origin_limit
        self.origin_window = ORIGIN_WINDOW
        self._listing: tuple[tuple[Market, ...] | None, frozenset[str] | None] = (None, None)
        self.markets = markets
        self.market = MarketSimulator(seed)
        self.channel_rules = channel_rules if channel_rules is not None else ChannelRules()
        self._info: IndicatorFeed[ConnInfo] = IndicatorFeed(
            self.market.anchor, self.market.seed, InfoClock(time_scale), lambda: self.channel_rules
        )
        self.send_timeout = 1.0
        # The REST side (rest.py): per-group limits {group: (requests, per seconds)}, the header
        # name Remaining-Req is sent under, the 418 rule and what /v1/accounts answers.
        self.rest_port = rest_port
        self.rest_limits: dict[str, tuple[int, float]] = dict(REST_LIMITS)
        self.remaining_req_header = remaining_req_header
        self.teapot_after = teapot_after
        self.teapot_seconds = teapot_seconds
        self.teapot_window = TEAPOT_WINDOW
        self.teapot_retry_after = teapot_retry_after
        self.accounts: list[dict[str, Any]] = [dict(account) for account in DEFAULT_ACCOUNTS]

        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._state = "new"
        self._ws_server: Server | None = None
        self._acceptor = Acceptor(self._serve_socket, "upbit-fake-conn", "upbit-fake-accept")
        self._sender_thread: threading.Thread | None = None
        self._threads: set[threading.Thread] = set()  # close_all's, joined by stop()
        self._conns: list[ConnInfo] = []
        self._live: dict[int, ConnInfo] = {}
        self._by_socket: dict[socket.socket, ConnInfo] = {}
        self._attempts: list[Attempt] = []
        self._connect_window: deque[float] = deque()
        self._origin_passed: float | None = None  # the last Origin-carrying upgrade let through
        self._refusals: deque[int] = deque()
        self._nonces = Nonces()  # shared by the private WebSocket and REST
        self._heap: list[tuple[float, int, ConnInfo, _Stream, int]] = []
        self._tapes: set[str] = set()  # markets whose trades run on a tape
        self._tape_heap: list[tuple[float, int, str]] = []  # (due, seq, market)
        self._seq = itertools.count()
        self._rest = FakeRest(self, self._nonces, self._admit_origin)
        self._silenced = False
        self._replayer: Replayer[ConnInfo] | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeUpbitServer:
        """Listen and serve; returns self. A server starts once."""
        with self._lock:
            if self._state != "new":
                raise RuntimeError("a FakeUpbitServer can be started only once")
            listener = socket.create_server((self.host, self.port))
            try:
                self.rest_port = self._rest.start(self.host, self.rest_port)
            except OSError:
                listener.close()
                raise
            listener.setblocking(False)
            self.port = listener.getsockname()[1]
            self._ws_server = serve(
                self._handle,
                sock=listener,
                process_request=self._process_request,
                process_response=self._process_response,
                compression=None,
                ping_interval=None,  # Upbit never pings its clients (docs/upbit.md §4)
                open_timeout=5.0,
                close_timeout=2.0,
                create_connection=cast(Any, _FakeConnection),
            )
            self._sender_thread = threading.Thread(
                target=self._send_loop, name="upbit-fake-sender", daemon=True
            )
            self._state = "running"
        self._acceptor.start(listener)
        self._sender_thread.start()
        log.info("fake Upbit listening on %s:%d (REST on %d)", self.host, self.port, self.rest_port)
        return self

    def stop(self) -> None:
        """Close every connection abruptly, stop every thread, release the port. Idempotent."""
        with self._lock:
            if self._state != "running":
                self._state = "stopped"
                return
            self._state = "stopped"
            self._stopping.set()
            self._wake.notify_all()
        self._acceptor.stop_accepting()
        if self._sender_thread is not None:
            self._sender_thread.join(_JOIN_TIMEOUT)
        self._rest.stop()
        now = time.monotonic()
        with self._lock:
            for conn in self._live.values():
                conn._closing = True
                conn._closed_at = now
            self._live.clear()
            threads = list(self._threads)
        self._acceptor.stop()  # every connection ended, its thread joined
        deadline = time.monotonic() + _JOIN_TIMEOUT
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("fake Upbit thread %s did not stop", thread.name)
        _release_server(self._ws_server)
        log.info("fake Upbit on port %d stopped", self.port)

    def __enter__(self) -> FakeUpbitServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def public_url(self) -> str:
        return f"ws://{self.host}:{self.port}{PUBLIC_PATH}"

    @property
    def private_url(self) -> str:
        return f"ws://{self.host}:{self.port}{PRIVATE_PATH}"

    @property
    def info_url(self) -> str:
        """The indicator endpoint, ``/websocket/v1/info`` (JWT required, as on the private one)."""
        return f"ws://{self.host}:{self.port}{INFO_PATH}"

    @property
    def time_scale(self) -> float:
        """How many times as fast as the wall clock the info channel's candle clock runs; may be
        changed while running (the clock goes on from where it is, at the new speed)."""
        return self._info.clock.scale

    @time_scale.setter
    def time_scale(self, scale: float) -> None:
        self._info.clock.scale = scale
        with self._lock:
            self._wake.notify_all()

    @property
    def rest_url(self) -> str:
        """The REST base URL (``Config(rest_url=...)``); paths such as ``/v1/market/all`` follow it."""
        return f"http://{self.host}:{self.rest_port}"

    def config(self, *, keys: bool = False, **overrides: Any) -> Config:
        """A Config that points the SDK at this exchange (its public, private, info and REST URLs),
        with the test keys it accepts when ``keys=True``; ``overrides`` set any other field."""
        fields: dict[str, Any] = {"public_url": self.public_url, "private_url": self.private_url,
                                  "info_url": self.info_url, "rest_url": self.rest_url}
        if keys:
            fields.update(access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY)
        return Config(**{**fields, **overrides})

    @property
    def markets(self) -> tuple[Market, ...] | None:
        """The markets served, or None for any well-formed code. Set it to codes or
        :class:`Market` records (or None) at any time; it applies from the next request on."""
        return self._listing[0]

    @markets.setter
    def markets(self, markets: Iterable[str | Market] | None) -> None:
        listed = None if markets is None else market_list(markets)
        # One assignment, so a request handled meanwhile never sees the records and codes disagree.
        self._listing = (listed, None if listed is None else frozenset(m.market for m in listed))

    def is_listed(self, market: str) -> bool:
        """Whether this exchange serves ``market`` (every code when :attr:`markets` is None)."""
        codes = self._listing[1]
        return codes is None or market in codes

    def supported_levels(self, market: str) -> tuple[float, ...]:
        """The orderbook levels ``market`` supports at its current price, 0 (none) first.

        What ``/v1/orderbook/instruments`` lists, and what an orderbook subscription's ``level``
        must be for the WebSocket side to send data: KRW markets aggregate by the documented levels
        that are multiples of their tick size and at most 1% of the price; others support only 0.
        """
        return self.market.instrument(market)[1]

    def trades(self, market: str) -> list[dict[str, Any]]:
        """Every trade the market's history holds, newest first, as ``/v1/trades/ticks`` items."""
        return [record.as_tick(market) for record in reversed(self.market.history(market))]

    # -- replay --------------------------------------------------------------------------------

    def replay(self, paths: Iterable[str | os.PathLike[str]], speed: Speed = 1.0) -> FakeUpbitServer:
        """Serve the recording in ``paths`` (files of ``upbit-sync record``; a directory stands for
        the recordings under it) instead of simulated data; returns self, so
        ``with FakeUpbitServer().replay(paths, speed="max") as server:`` reads as it runs.

        Each connection is played the recorded messages of what it asks for, in recorded order, at
        the recorded pace divided by ``speed`` (``"max"`` or 0: as fast as it takes them); the rules
        are in :mod:`upbit_sync.testing.replay`. The recorded codes are listed (REST included), codes
        not recorded get nothing, and the REST side keeps serving simulated data. Applies to
        subscription requests from then on, so call it before the client subscribes. Raises
        FileNotFoundError or RecordingError before anything changes.
        """
        recording = Recording.load(paths)
        replayer: Replayer[ConnInfo] = Replayer(recording, speed)
        with self._lock:
            if self.markets is not None:
                self.markets = [*self.markets, *sorted(recording.codes)]
            self._replayer = replayer
        log.info("fake Upbit replaying %d recorded messages of %d streams", len(recording),
                 len(recording.streams))
        return self

    @property
    def recording(self) -> Recording | None:
        """The recording being replayed, or None when the market is simulated."""
        replayer = self._replayer
        return replayer.recording if replayer is not None else None

    @property
    def replayed(self) -> int:
        """Recorded messages played so far, to every connection."""
        with self._lock:
            return self._replayer.played if self._replayer is not None else 0

    def replay_finished(self) -> bool:
        """True once some connection was played the recording and no stream has anything left to
        play (every connection got all it asked for)."""
        with self._lock:
            replayer = self._replayer
            return replayer is not None and replayer.started > 0 and replayer.pending == 0

    def _admit_origin(self, now: float) -> bool:
        """Upbit holds requests carrying ``Origin`` to one per ``origin_window`` across the server,
        WebSocket upgrades and REST alike (docs/upbit.md §5): may one pass now? Remembers it if so."""
        with self._lock:
            last = self._origin_passed
            if self.origin_limit and last is not None and now - last < self.origin_window:
                return False
            self._origin_passed = now
            return True

    # -- fault controls ------------------------------------------------------------------------

    def drop_all(self) -> int:
        """Abrupt TCP close of every open connection, no close frame; returns how many."""
        with self._lock:
            conns = list(self._live.values())
        for conn in conns:
            self._drop(conn, "drop_all")
        return len(conns)

    def close_all(self, code: int = 1000, reason: str = "") -> int:
        """Send a close frame with this code to every open connection; returns how many.

        Returns once the frames are out, without waiting for the clients' replies.
        """
        now = time.monotonic()
        with self._lock:
            conns = list(self._live.values())
            for conn in conns:
                conn._closing = True
                conn._closed_at = now
                self._live.pop(conn.id, None)
        for conn in conns:
            thread = threading.Thread(
                target=self._close_quietly, args=(conn._ws, code, reason),
                name=f"upbit-fake-close-{conn.id}", daemon=True,
            )
            with self._lock:
                self._threads.add(thread)
            thread.start()
        deadline = time.monotonic() + 1.0
        for conn in conns:
            while conn._ws.protocol.state is State.OPEN and time.monotonic() < deadline:
                time.sleep(0.001)
        return len(conns)

    def silence(self, on: bool = True) -> None:
        """Stop (or resume) sending anything, data and status alike; keep TCP open and keep reading.

        Pongs still go out (websockets answers pings by itself): that is a silent *exchange*,
        not a dead peer; :class:`HangingServer` plays the dead peer.
        """
        with self._lock:
            self._silenced = on
            self._wake.notify_all()

    def refuse_next(self, n: int, status: int = 429) -> None:
        """Answer the next ``n`` upgrade attempts (on Upbit's paths) with this HTTP status."""
        with self._lock:
            self._refusals.extend([status] * n)

    def refuse_rest_next(self, n: int, status: int = 429, group: str | None = None) -> None:
        """Answer the next ``n`` REST requests (of this rate-limit ``group``, or any) with this HTTP
        status and the body Upbit would send with it; they are not counted against any limit."""
        self._rest.refuse_next(n, status, group)

    def send_raw(self, frame: bytes | str, conn_id: int | None = None) -> int:
        """Send a frame as is to one or every open connection (``bytes`` binary, ``str`` text).

        Bypasses :meth:`silence`; returns how many connections it reached.
        """
        data = server_frame(frame)
        return sum(self._write_frames(conn, data, 0, None) for conn in self._targets(conn_id))

    def emit_my_order(self, **fields: Any) -> dict[str, Any]:
        """Push a myOrder event to every private connection subscribed to its code (or to all).

        ``fields`` use DEFAULT names and override the simulator's plausible defaults; returns
        the DEFAULT-keyed message sent. A ``code`` outside :attr:`markets` is a ValueError: Upbit
        could not have an order there, so the test has a typo.
        """
        message = self.market.my_order(**fields)
        code = message.get("code")
        if not isinstance(code, str) or not self.is_listed(code):
            raise ValueError(f"{code!r} is not a market this fake exchange lists")
        with self._lock:
            targets = [
                conn for conn in self._live.values()
                if conn._my_order_on and not conn._closing
                and (conn._my_order is None or code in conn._my_order)
            ]
        for conn in targets:
            self._send(conn, encode(message, conn._format), data=True,
                       deadline=time.monotonic() + self.send_timeout)
        return message

    def emit_my_asset(self, **fields: Any) -> dict[str, Any]:
        """Push a myAsset event to every private connection subscribed to myAsset; returns it."""
        message = self.market.my_asset(**fields)
        with self._lock:
            targets = [c for c in self._live.values() if c._my_asset_on and not c._closing]
        for conn in targets:
            self._send(conn, encode(message, conn._format), data=True,
                       deadline=time.monotonic() + self.send_timeout)
        return message

    def emit_announcement(self, **fields: Any) -> dict[str, Any]:
        """Push an announcement to every private connection subscribed to its category; returns it.

        ``fields`` use DEFAULT names (docs/channels.md §5) and override plausible defaults
        (category ``notice``, event_type ``CREATED``, a Markdown body, KST times of now). The message
        returned carries ``body``; a connection that did not ask for ``include_body`` gets it
        without, and one whose frame would pass 1 MiB gets ``"body": null``. An unknown field is a
        TypeError, an unknown category or event type a ValueError.
        """
        message = announcements.make_announcement(**fields)
        category = message["category"]
        with self._lock:
            targets = [
                (conn, wanted) for conn in self._live.values()
                if (wanted := conn._announcement) is not None and not conn._closing
                and (wanted.categories is None or category in wanted.categories)
            ]
        for conn, wanted in targets:
            sent = announcements.as_sent(message, wanted.include_body)
            frame = encode(sent, conn._format)
            if len(frame) > announcements.MAX_FRAME and "body" in sent:
                frame = encode(announcements.without_body(sent), conn._format)
            self._send(conn, frame, data=True, deadline=time.monotonic() + self.send_timeout)
        return message

    def candles(self, code: str, timeframe: str) -> list[Candle]:
        """The closed candles of ``code``'s ``timeframe`` series, oldest first, history included
        (the last :data:`~upbit_sync.testing.indicators.WINDOW` of them before a close are what its
        values are computed over); [] until someone subscribed to it or it was scripted."""
        if timeframe not in indicators.TIMEFRAMES:
            raise ValueError(f"timeframe must be one of {tuple(indicators.TIMEFRAMES)}")
        return self._info.candles(code, timeframe)

    def script_candles(self, code: str, timeframe: str, closes: Sequence[float],
                       volumes: Sequence[float] | None = None) -> None:
        """Make the next ``len(closes)`` candles of a series close at these prices (and volumes;
        otherwise a typical one), instead of the random walk's; each opens at the previous close.
        Queued after closes scripted before; the walk resumes from the last one."""
        if timeframe not in indicators.TIMEFRAMES:
            raise ValueError(f"timeframe must be one of {tuple(indicators.TIMEFRAMES)}")
        self._info.script(code, timeframe, closes, volumes, time.monotonic())

    def firehose(
        self,
        n: int,
        frames: bytes | str | Sequence[bytes | str],
        conn_id: int | None = None,
    ) -> int:
        """Send ``n`` frames (cycling through ``frames``) to one or every open connection, at once.

        Frames are pre-encoded and written to the raw socket in 64 KiB batches, so the client,
        not the server, is the bottleneck. Blocks until done; returns the frames written in all.
        Bypasses :meth:`silence`.
        """
        items = [frames] if isinstance(frames, (bytes, str)) else list(frames)
        if n <= 0 or not items:
            return 0
        encoded = [server_frame(item) for item in items]
        cycle = b"".join(encoded)
        reps = max(1, _FIREHOSE_CHUNK // len(cycle))
        block, block_frames = cycle * reps, len(encoded) * reps
        conns = {conn.id: conn for conn in self._targets(conn_id)}
        remaining = dict.fromkeys(conns, n)
        total = 0
        while remaining:
            for cid in list(remaining):
                left = remaining[cid]
                if left >= block_frames:
                    data, count = block, block_frames
                else:
                    full, rest = divmod(left, len(encoded))
                    data, count = cycle * full + b"".join(encoded[:rest]), left
                if not self._write_frames(conns[cid], data, count, None):
                    del remaining[cid]
                    continue
                total += count
                remaining[cid] = left - count
                if remaining[cid] == 0:
                    del remaining[cid]
        return total

    # -- introspection -------------------------------------------------------------------------

    @property
    def connections(self) -> list[ConnInfo]:
        """Every connection ever accepted (successful upgrades), oldest first."""
        with self._lock:
            return list(self._conns)

    @property
    def connections_opened(self) -> int:
        with self._lock:
            return len(self._conns)

    @property
    def connect_attempts(self) -> list[Attempt]:
        """Every upgrade attempt, in order, with the HTTP status it got (101 when accepted)."""
        with self._lock:
            return list(self._attempts)

    @property
    def accepted(self) -> int:
        """TCP connections accepted, upgraded or not."""
        return self._acceptor.accepted

    @property
    def rest_requests(self) -> list[RestRequest]:
        """Every REST request received, in order, with the status it was answered with."""
        return self._rest.requests

    @property
    def orders(self) -> list[dict[str, Any]]:
        """Every order placed over REST (``POST /v1/orders``), oldest first, in its current state."""
        return self._rest.orders

    def open_connections(self) -> list[ConnInfo]:
        with self._lock:
            return [conn for conn in self._conns if conn._closed_at is None]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Poll ``predicate`` until it is true or ``timeout`` passes; returns its last value."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)

    # -- handshake -----------------------------------------------------------------------------

    def _serve_socket(self, sock: socket.socket, addr: Any) -> None:
        """Run websockets' handshake and our handler on one accepted socket, then clean up."""
        assert self._ws_server is not None
        _current.connection = None
        try:
            self._ws_server.handler(sock, addr)
        except Exception:
            log.exception("fake Upbit connection handler failed")
        finally:
            now = time.monotonic()
            with self._lock:
                conn = self._by_socket.pop(sock, None)
                if conn is not None:
                    conn._closing = True
                    if conn._closed_at is None:
                        conn._closed_at = now
                    self._live.pop(conn.id, None)
            ws = getattr(_current, "connection", None)
            _current.connection = None
            if isinstance(ws, _FakeConnection):
                ws.recv_events_thread.join(_JOIN_TIMEOUT)

    def _process_request(self, ws: ServerConnection, request: Any) -> Any:
        """Decide the upgrade: 404 off Upbit's paths, refusals, the connect limit, the Origin rule,
        then the JWT."""
        conn = cast(_FakeConnection, ws)
        path = urlsplit(request.path).path
        now = time.monotonic()
        status, reason = 101, ""
        headers: dict[str, str] = {}
        for name, value in request.headers.raw_items():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        with self._lock:
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
                elif self.connect_limit is not None and len(window) >= self.connect_limit:
                    status, reason = 429, "connect limit"
                elif attempt.header("Origin") is not None and not self._admit_origin(now):
                    status, reason = 429, "origin limit"
                window.append(now)
            attempt.status, attempt.reason = status, reason
        if status == 101 and path in AUTHENTICATED_PATHS:
            check = self._check_auth(request.headers.get("Authorization"))
            conn.fake_auth = check
            if not check.ok:
                log.info("fake Upbit: upgrade on %s refused: %s", path, check.reason)
                with self._lock:
                    attempt.reason = check.reason
                    if self.auth_failure == "http":
                        status = attempt.status = 401
        if status == 101:
            return None
        if status == 401:
            body = dumps({"error": {"name": INVALID_AUTH, "message": "jwt verification failed"}})
            return ws.respond(status, body.decode("utf-8"))
        return ws.respond(status, f"{reason or 'refused'}\n")

    def _check_auth(self, header: str | None) -> TokenCheck:
        check = check_authorization(header, self.keys)
        if check.ok and check.nonce is not None and not self._nonces.claim(check.nonce):
            return TokenCheck(None, check.nonce, "nonce reused")
        return check

    def _process_response(self, ws: ServerConnection, request: Any, response: Any) -> None:
        """Record the final status; register the connection before the client can see the 101."""
        conn = cast(_FakeConnection, ws)
        attempt = conn.fake_attempt
        if attempt is None:
            return
        now = time.monotonic()
        with self._lock:
            attempt.status = response.status_code
            if response.status_code != 101 or self._stopping.is_set():
                return
            auth = conn.fake_auth
            info = ConnInfo(
                self._lock, len(self._conns) + 1, attempt.path, conn, now,
                auth.access_key if auth is not None else None,
            )
            self._conns.append(info)
            self._live[info.id] = info
            self._by_socket[conn.socket] = info
            conn.fake_conn = info
            conn.fake_on_close = self._on_close_frame

    # -- requests ------------------------------------------------------------------------------

    def _handle(self, ws: ServerConnection) -> None:
        """The websockets handler: read requests until the connection ends."""
        conn = cast(_FakeConnection, ws).fake_conn
        if conn is None:
            return
        threading.current_thread().name = f"upbit-fake-conn-{conn.id}"
        cast(_FakeConnection, ws).recv_events_thread.name = f"upbit-fake-recv-{conn.id}"
        auth = cast(_FakeConnection, ws).fake_auth
        if conn.path in AUTHENTICATED_PATHS and (auth is None or not auth.ok):
            self._fail(conn, INVALID_AUTH)
            return
        # Read until the connection ends. Returning early would make websockets close with 1000,
        # racing a close_all(code) that is about to send its own code.
        while True:
            try:
                message = ws.recv()
            except ConnectionClosed:
                return
            if not conn._closing:  # once closing, the close frame is on its way: ignore the rest
                self._on_message(conn, message)

    def _on_message(self, conn: ConnInfo, message: str | bytes) -> None:
        now = time.monotonic()
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        if text == "PING":
            with self._lock:
                conn._pings += 1
                conn._status_next = now + self.status_interval
                self._wake.notify_all()
            self._send(conn, _STATUS_UP, data=False)
            return
        try:
            payload = json.loads(text)
        except ValueError:
            payload = None
        with self._lock:
            conn._requests.append(Request(now, text, payload))
            over = self._over_message_limit(conn, now)
        if over:
            self._fail(conn, TOO_MANY_REQUESTS)
            return
        try:
            request = parse_request(
                text, allowed=self._types_on(conn.path), honour_camel_case=self.honour_camel_case,
                rules=self.channel_rules,
            )
        except RequestError as exc:
            self._fail(conn, exc.name, exc.message)
            return
        if request.method is not None:
            self._list_subscriptions(conn, request)
        else:
            self._subscribe(conn, request, now)

    def _types_on(self, path: str) -> frozenset[str]:
        """The types a path serves (docs/channels.md §0, §7.3)."""
        if path == INFO_PATH:
            return INFO_TYPES
        if path == PRIVATE_PATH:
            extra = INFO_TYPES if self.channel_rules.indicators_on_private else frozenset()
            return PRIVATE_TYPES | {ANNOUNCEMENT} | extra
        return PUBLIC_TYPES

    def _over_message_limit(self, conn: ConnInfo, now: float) -> bool:
        times = conn._message_times
        while times and times[0] <= now - 60.0:
            times.popleft()
        limit = self.message_limit
        if limit is not None:
            per_second, per_minute = limit
            last_second = sum(1 for t in times if t > now - 1.0)
            if last_second >= per_second or len(times) >= per_minute:
                return True
        times.append(now)
        return False

    def _fail(self, conn: ConnInfo, name: str, message: str | None = None) -> None:
        """Upbit's answer to a bad request: an error frame, then close 1000 a moment later."""
        error = RequestError(name, message)
        with self._lock:
            conn._closing = True
        log.info("fake Upbit: connection %d error %s", conn.id, error.name)
        self._send(conn, dumps({"error": {"name": error.name, "message": error.message}}),
                   data=False)
        self._stopping.wait(self.error_close_delay)
        self._close_quietly(conn._ws, 1000, "")
        with self._lock:
            if conn._closed_at is None:
                conn._closed_at = time.monotonic()
            self._live.pop(conn.id, None)

    def _list_subscriptions(self, conn: ConnInfo, request: ParsedRequest) -> None:
        with self._lock:
            if request.format is not None:  # a format object switches the whole connection
                conn._format = request.format
            fmt = conn._format
            result = [dict(entry, codes=list(entry["codes"])) if "codes" in entry else dict(entry)
                      for entry in conn._served]
        reply = {"method": "LIST_SUBSCRIPTIONS", "result": result, "ticket": request.ticket}
        self._send(conn, encode(reply, fmt), data=False)

    def _subscribe(self, conn: ConnInfo, request: ParsedRequest, now: float) -> None:
        """Replace the connection's whole subscription set (Upbit has no incremental subscribe)."""
        with self._lock:
            old = {(s.type, s.key, s.level) for s in conn._streams}
            conn._generation += 1
            conn._format = request.format or "DEFAULT"
            conn._subscriptions = [t.as_dict() for t in request.types]
            conn._my_order_on = conn._my_asset_on = False
            conn._my_order = None
            conn._announcement = None
            streams: list[_Stream] = []
            served: list[dict[str, Any]] = []
            seen: set[tuple[str, str, float]] = set()
            info: list[InfoStream] = []
            for item in request.types:
                if isinstance(item, AnnouncementRequest):
                    conn._announcement = _merge_announcements(conn._announcement, item)
                    served.append(item.as_dict())
                    continue
                if isinstance(item, IndicatorRequest):
                    listed = [code for code in dict.fromkeys(item.codes) if self.is_listed(code)]
                    info.extend(InfoStream(code, item.timeframe, wanted)
                                for code in listed for wanted in item.items)
                    served.append(item.as_dict(listed))
                    continue
                if item.type in PRIVATE_TYPES:
                    served.append(self._subscribe_private(conn, item.type, item.codes))
                    continue
                codes: list[str] = []
                for code in item.codes:
                    found = market_of(code, item.type)
                    if found is None or code in codes or not self.is_listed(found[0]):
                        continue  # Upbit ignores unknown and lowercase codes silently
                    codes.append(code)
                    key = (item.type, code, item.level)
                    if key in seen:
                        continue
                    seen.add(key)
                    market, depth = found
                    if (item.type == "orderbook" and self._replayer is None
                            and not self._supports(market, item.level)):
                        continue  # an unsupported level: no data and no error (docs/upbit.md §2)
                    snapshot = not item.is_only_realtime
                    if key in old and not self.resnapshot_on_replace:
                        snapshot = False
                    streams.append(_Stream(
                        item.type, code, market, depth, item.level, snapshot,
                        realtime=not item.is_only_snapshot, awaiting_snapshot=snapshot,
                    ))
                entry: dict[str, Any] = {"type": item.type, "codes": codes}
                if item.type == "orderbook":
                    entry["level"] = item.level
                served.append(entry)
            conn._streams = streams
            conn._served = served
            self._info.assign(conn, info, now)
            if self._replayer is not None:  # the recording plays instead of the simulated market
                conn._trades, conn._pending = {}, deque()
                self._replayer.assign(conn, self._wanted(conn, streams), now)
                self._wake.notify_all()
                return
            conn._trades = {s.market: s for s in streams if s.type == "trade"}
            conn._pending = deque(s for s in streams if s.snapshot)
            rate = self.message_rate
            interval = 1.0 / rate if rate > 0 else 0.1
            for stream in streams:
                due = now + interval if stream.snapshot else now
                if stream.type == "trade":  # the market's tape serves it
                    self._start_tape(stream.market, due)
                elif stream.realtime:
                    heapq.heappush(
                        self._heap, (due, next(self._seq), conn, stream, conn._generation)
                    )
            self._wake.notify_all()

    @staticmethod
    def _wanted(conn: ConnInfo, streams: list[_Stream]) -> list[Wanted]:
        """What a request asks a replay for: its public streams and its private types."""
        wanted = [Wanted(s.type, s.market, s.level, s.depth, s.snapshot, s.realtime) for s in streams]
        if conn._my_order_on:
            codes = sorted(conn._my_order) if conn._my_order is not None else [None]
            wanted.extend(Wanted("myOrder", code) for code in codes)
        if conn._my_asset_on:
            wanted.append(Wanted("myAsset", None))
        return wanted

    def _supports(self, market: str, level: float) -> bool:
        return level == 0 or any(math.isclose(level, supported, rel_tol=1e-9)
                                 for supported in self.supported_levels(market))

    def _start_tape(self, market: str, due: float) -> None:
        """From now on, ``market`` trades on its tape until the server stops (under the lock)."""
        if market not in self._tapes:
            self._tapes.add(market)
            heapq.heappush(self._tape_heap, (due, next(self._seq), market))

    def _subscribe_private(self, conn: ConnInfo, type_name: str, codes: tuple[str, ...]
                           ) -> dict[str, Any]:
        if type_name == "myAsset":
            conn._my_asset_on = True
            return {"type": "myAsset"}
        conn._my_order_on = True
        valid = [code for code in dict.fromkeys(codes)
                 if market_of(code, type_name) is not None and self.is_listed(code)]
        conn._my_order = frozenset(valid) if codes else None
        return {"type": "myOrder", "codes": valid}

    # -- sending -------------------------------------------------------------------------------

    def _send_loop(self) -> None:
        """The one sender thread: snapshots, REALTIME data, status frames and idle drops."""
        while True:
            with self._wake:
                if self._stopping.is_set():
                    return
                now = time.monotonic()
                delay = self._next_wake(now) - now
                if delay > 0:
                    self._wake.wait(min(delay, _IDLE_POLL))
                    if self._stopping.is_set():
                        return
                now = time.monotonic()
                jobs = self._due_jobs(now)
                tapes = self._due_tapes(now)
                replays = self._due_replays(now)
            for kind, conn, stream in jobs:
                try:
                    self._run_job(kind, conn, stream)
                except Exception:
                    log.exception("fake Upbit sender failed on connection %d", conn.id)
            for market in tapes:  # after the snapshots, so a new listener's snapshot comes first
                try:
                    self._trade_on_tape(market)
                except Exception:
                    log.exception("fake Upbit sender failed on the %s tape", market)
            for conn, message in replays:
                try:
                    self._send(conn, encode(message, conn._format), data=True,
                               deadline=time.monotonic() + self.send_timeout)
                except Exception:
                    log.exception("fake Upbit sender failed replaying to connection %d", conn.id)
            try:
                self._send_closes(now)
            except Exception:
                log.exception("fake Upbit sender failed on the info channel")

    def _send_closes(self, now: float) -> None:
        """The candles closed by ``now`` and their indicator messages; while silenced the candles
        close unheard, as the tapes trade on."""
        due = self._info.due(now, lambda conn: not conn._closing)
        if not due or self._silenced:
            return
        frames: dict[tuple[int, str], bytes] = {}  # one encoding per message and format
        batches: dict[ConnInfo, list[bytes]] = {}
        for conn, message in due:
            fmt = conn._format
            frame = frames.get((id(message), fmt))
            if frame is None:
                payload = encode(message, fmt)
                frame = frames[(id(message), fmt)] = server_frame(payload)
            batches.setdefault(conn, []).append(frame)
        # One write per connection: the messages of a close leave together (one syscall, and no
        # small write left behind by Nagle's algorithm waiting for an ACK).
        for conn, batch in batches.items():
            if conn._closed_at is None and not self._silenced:
                self._write_frames(conn, b"".join(batch), len(batch),
                                   time.monotonic() + self.send_timeout)

    def _next_wake(self, now: float) -> float:
        wake = now + _IDLE_POLL
        if self._heap:
            wake = min(wake, self._heap[0][0])
        if self._tape_heap:
            wake = min(wake, self._tape_heap[0][0])
        replay_due = self._replayer.next_due() if self._replayer is not None else None
        if replay_due is not None:
            wake = min(wake, replay_due)
        close_due = self._info.next_due()
        if close_due is not None:
            wake = min(wake, close_due)
        for conn in self._live.values():
            if conn._closing:
                continue
            if conn._pending and not self._silenced:
                return now
            if conn._status_next is not None:
                wake = min(wake, conn._status_next)
            if self.idle_timeout:
                wake = min(wake, conn.last_activity + self.idle_timeout)
        return wake

    def _due_jobs(self, now: float) -> list[tuple[str, ConnInfo, _Stream | None]]:
        jobs: list[tuple[str, ConnInfo, _Stream | None]] = []
        silent = self._silenced
        for conn in list(self._live.values()):
            if conn._closing:
                continue
            if self.idle_timeout and now - conn.last_activity >= self.idle_timeout:
                jobs.append(("idle", conn, None))
                continue
            while conn._pending and not silent:
                jobs.append(("snapshot", conn, conn._pending.popleft()))
            if conn._status_next is not None and conn._status_next <= now:
                following = conn._status_next + self.status_interval
                conn._status_next = following if following > now else now + self.status_interval
                if not silent:
                    jobs.append(("status", conn, None))
        rate = self.message_rate
        heap = self._heap
        # A bounded batch, so a new request's snapshots never wait behind a long backlog.
        budget = _BATCH
        while heap and heap[0][0] <= now and budget > 0:
            budget -= 1
            due, _, conn, stream, generation = heapq.heappop(heap)
            if generation != conn._generation or conn._closing:
                continue
            if rate <= 0:
                heapq.heappush(heap, (now + 0.1, next(self._seq), conn, stream, generation))
                continue
            interval = 1.0 / rate
            following = due + interval
            if following < now - 1.0:  # fell far behind (or was silenced): no catch-up burst
                following = now + interval
            heapq.heappush(heap, (following, next(self._seq), conn, stream, generation))
            if not silent and not stream.awaiting_snapshot:
                jobs.append(("realtime", conn, stream))
        return jobs

    def _due_replays(self, now: float) -> list[tuple[ConnInfo, dict[str, Any]]]:
        """The recorded messages due (under the lock); while silenced they are due and not sent, as
        the tapes trade on unheard."""
        if self._replayer is None:
            return []
        due = self._replayer.due(now, lambda conn: not conn._closing, _BATCH)
        return [] if self._silenced else due

    def _due_tapes(self, now: float) -> list[str]:
        """The markets whose next trade is due; each is rescheduled on its own cadence."""
        rate = self.message_rate
        heap = self._tape_heap
        due_markets: list[str] = []
        budget = _BATCH
        while heap and heap[0][0] <= now and budget > 0:
            budget -= 1
            due, _, market = heapq.heappop(heap)
            if rate <= 0:  # snapshots only: the tape waits
                heapq.heappush(heap, (now + 0.1, next(self._seq), market))
                continue
            interval = 1.0 / rate
            following = due + interval
            if following < now - 1.0:  # fell far behind: no catch-up burst
                following = now + interval
            heapq.heappush(heap, (following, next(self._seq), market))
            due_markets.append(market)
        return due_markets

    def _trade_on_tape(self, market: str) -> None:
        """One trade of ``market``: into its history, and to every connection listening REALTIME."""
        message = self.market.make("trade", market)
        with self._lock:
            if self._silenced:
                return
            targets = [
                conn for conn in self._live.values()
                if not conn._closing and (stream := conn._trades.get(market)) is not None
                and stream.realtime and not stream.awaiting_snapshot
            ]
        frames: dict[str, bytes] = {}
        for conn in targets:
            fmt = conn._format
            frame = frames.get(fmt)
            if frame is None:
                frame = frames[fmt] = encode(message, fmt)
            self._send(conn, frame, data=True, deadline=time.monotonic() + self.send_timeout)

    def _run_job(self, kind: str, conn: ConnInfo, stream: _Stream | None) -> None:
        if kind == "idle":
            log.info("fake Upbit: connection %d idle, dropping it", conn.id)
            self._drop(conn, "idle")
            return
        deadline = time.monotonic() + self.send_timeout
        if kind == "status":
            self._send(conn, _STATUS_UP, data=False, deadline=deadline)
            return
        assert stream is not None
        stream_type = "SNAPSHOT" if kind == "snapshot" else "REALTIME"
        if stream.type == "trade" and not self.market.has_traded(stream.market):
            self._trade_on_tape(stream.market)  # the snapshot shows a trade of the tape
        # A taped market trades on its tape only; _tapes only grows, so reading it unlocked is safe.
        message = self.market.make(stream.type, stream.market, stream_type, stream.depth,
                                   stream.level, trade=stream.market not in self._tapes)
        self._send(conn, encode(message, conn._format), data=True, deadline=deadline)
        if kind == "snapshot":
            stream.awaiting_snapshot = False

    def _send(self, conn: ConnInfo, payload: bytes, *, data: bool,
              deadline: float | None = None) -> bool:
        """Send one binary frame unless silenced; see :meth:`_write_frames` for ``deadline``."""
        if self._silenced or conn._closed_at is not None:
            return False
        return self._write_frames(conn, server_frame(payload), 1 if data else 0, deadline)

    def _write_frames(self, conn: ConnInfo, data: bytes, count: int,
                      deadline: float | None) -> bool:
        """Write complete pre-encoded frames to the socket, holding websockets' write lock.

        Without a deadline the write blocks until done. With one, a client that cannot take the
        data by then is dropped as a slow consumer: the one sender thread must keep moving.
        """
        ws = conn._ws
        written = 0
        with ws.protocol_mutex:
            if ws.protocol.state is not State.OPEN:
                return False
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
            conn._last_tx = time.monotonic()
            return True
        self._count_sent(conn, -count)
        if deadline is not None and time.monotonic() >= deadline:
            log.warning("fake Upbit: connection %d stopped reading, dropping it", conn.id)
            self._drop(conn, "slow consumer")
        return False

    def _count_sent(self, conn: ConnInfo, frames: int) -> None:
        if frames:
            with self._lock:
                conn._sent += frames

    def _targets(self, conn_id: int | None) -> list[ConnInfo]:
        with self._lock:
            return [c for c in self._live.values() if conn_id is None or c.id == conn_id]

    def _on_close_frame(self, conn: ConnInfo) -> None:
        """A close frame arrived, ours answered or theirs: like Upbit, end TCP from this side."""
        self._drop(conn, "closing handshake done")

    def _drop(self, conn: ConnInfo, reason: str) -> None:
        """End a connection at the TCP level: no close frame, the client sees 1006."""
        with self._lock:
            conn._closing = True
            if conn._closed_at is None:
                conn._closed_at = time.monotonic()
            self._live.pop(conn.id, None)
        log.debug("fake Upbit: dropping connection %d (%s)", conn.id, reason)
        shutdown(conn._ws.socket)

    @staticmethod
    def _close_quietly(ws: ServerConnection, code: int, reason: str) -> None:
        try:
            ws.close(code, reason)
        except Exception:
            log.debug("fake Upbit: close failed", exc_info=True)


def _merge_announcements(old: AnnouncementRequest | None, new: AnnouncementRequest
                         ) -> AnnouncementRequest:
    """Two announcement objects in one request: the union of their categories, bodies if either
    asks (the fake's choice; docs/channels.md §7.5 leaves repeats OPEN)."""
    if old is None:
        return new
    categories = (None if old.categories is None or new.categories is None
                  else tuple(dict.fromkeys((*old.categories, *new.categories))))
    return AnnouncementRequest(categories, old.include_body or new.include_body)


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



def _release_server(server: Server | None) -> None:
    """Close what websockets' Server opened for serve_forever(), which this fake never runs."""
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
