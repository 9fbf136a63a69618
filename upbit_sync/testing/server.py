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

``FakeUpbitServer`` is the public face, composed of parts with one job each: ``state.py`` (what
both sides share: settings, markets, the simulator, nonces, the Origin window, orders),
``session.py`` (what the fake keeps of one connection, and the records a test reads),
``connections.py`` (the connections, and the writing of frames), ``gateway.py`` (accepting and
upgrading), ``subscriptions.py`` (each request answered), ``feed.py`` (the sender thread),
``private.py`` (the private and info paths), ``faults.py`` (fault controls), ``matching.py`` (the
matching engine for the users' own orders, on the ledger and orders of ``state.py``) and ``rest.py``.

The websockets internals the fake relies on (setup.py pins the releases tested):
``ServerConnection.process_event`` and ``recv_events_thread`` (``session.py``); ``protocol_mutex``,
``protocol.state`` and ``socket``, to write pre-encoded frames (``connections.py``); ``Server.handler``
run on an acceptor of ours, and the ``shutdown_watcher``/``shutdown_notifier`` it opens
(``gateway.py``).

Threads, all daemons named ``upbit-fake-...`` and joined by :meth:`FakeUpbitServer.stop`: one accept
thread, one sender thread for all scheduled data and status frames and the tapes, the matcher
(``upbit-fake-matcher``: the tapes' trades matched against resting orders), per connection
the thread that runs the websockets handshake and reads requests (plus websockets' own reader
thread), and the REST side's (``upbit-fake-rest-...``). Candle closes of the info channel are the
sender thread's too.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar, cast, overload

from ..config import Config
from .channels import ChannelRules
from .connections import Connections
from .faults import Faults
from .feed import Feed
from .gateway import Gateway
from .indicators import Candle, IndicatorFeed, InfoClock
from .market import MarketSimulator
from .markets import DEFAULT_MARKETS, Market, listing_notice, new_market
from .matching import Matcher
from .private import PrivatePaths
from .replay import Recording, Replayer, Speed
from .rest import FakeRest, RestRequest
from .rest_faults import OrderFaults
from .session import INFO_PATH, PRIVATE_PATH, PUBLIC_PATH, Attempt, ConnInfo, Session
from .state import ExchangeState
from .subscriptions import Subscriptions
from .tokens import TEST_ACCESS_KEY, TEST_SECRET_KEY
from .wire import encode

log = logging.getLogger(__name__)

AUTH_FAILURE_MODES = ("frame", "http")

T = TypeVar("T")


class _Setting(Generic[T]):
    """A FakeUpbitServer attribute kept on its :class:`ExchangeState`, where every part reads it."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, server: None, owner: type) -> _Setting[T]: ...

    @overload
    def __get__(self, server: FakeUpbitServer, owner: type) -> T: ...

    def __get__(self, server: FakeUpbitServer | None, owner: type) -> _Setting[T] | T:
        if server is None:
            return self
        return cast(T, getattr(server._state, self._name))

    def __set__(self, server: FakeUpbitServer, value: T) -> None:
        setattr(server._state, self._name, value)


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
    - Trading (:mod:`~upbit_sync.testing.matching`): each access key is an account, its balances
      starting from ``accounts`` (setting it resets every account); fees 0.05%, maker and taker. The
      book an order takes from is the simulator's price minus (bid) and plus (ask) one tick, as deep
      as ``book_depth``. Identifiers are unique per access key (OPEN point 3), burnt forever, by a
      refused request too (so ``duplicated_identifier``, 400, for any reuse); ``/orders/test`` burns
      none (OPEN 5). A cancel of an order no longer open is 404 ``order_not_found`` (OPEN 9), and a
      cancel answers the order still ``wait``; it is ``cancel`` right after. A partly filled ``ioc``
      ends ``cancel``; a ``fok`` that cannot fill whole is made and cancelled unfilled; a crossing
      ``post_only`` is refused, 400 ``invalid_post_only`` (OPEN 10). ``cancel_and_new`` on an order no
      longer open makes nothing and answers ``new_order_uuid`` null (OPEN 8); otherwise the old order
      is cancelled first, so a new order refused for funds leaves it cancelled. Orders are visible at
      once unless a ``"hide"`` fault holds them (OPEN 4).
    - REST candles (``candle_history.py``) come from the trades the WebSocket candles show, over a
      synthetic past; ``candle_count`` says what ``count`` counts (OPEN): ``"candles"`` (default, the
      bars returned) or ``"slots"`` (buckets, empty ones included); :meth:`quiet_period` empties
      a stretch of that past.
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
    - ``compression`` (fixed at construction): an upgrade offering permessage-deflate is agreed to
      as websockets agrees by default (``server_max_window_bits=12``), and that connection's data
      frames go compressed, the LZ77 window kept across messages; ``"no_context_takeover"`` agrees
      with a fresh window per message; False declines, every frame plain. Upbit's own answer is not
      documented; it compresses when asked (testing/compression.py).
    """

    # The settings (see above; rest.FakeRest lists the REST side's rules), on the shared state.
    keys = _Setting[dict[str, str]]()
    auth_failure = _Setting[str]()
    idle_timeout = _Setting[float]()
    status_interval = _Setting[float]()
    connect_limit = _Setting[int | None]()
    message_limit = _Setting[tuple[int, int] | None]()
    message_rate = _Setting[float]()
    error_close_delay = _Setting[float]()
    resnapshot_on_replace = _Setting[bool]()
    honour_camel_case = _Setting[bool]()
    origin_limit = _Setting[bool]()
    origin_window = _Setting[float]()
    send_timeout = _Setting[float]()
    channel_rules = _Setting[ChannelRules]()
    market = _Setting[MarketSimulator]()
    rest_limits = _Setting[dict[str, tuple[int, float]]]()
    remaining_req_header = _Setting[str]()
    teapot_after = _Setting[int | None]()
    teapot_seconds = _Setting[float]()
    teapot_window = _Setting[float]()
    teapot_retry_after = _Setting[bool]()
    accounts = _Setting[list[dict[str, Any]]]()
    candle_count = _Setting[str]()

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
        compression: bool | str = True,
    ) -> None:
        if auth_failure not in AUTH_FAILURE_MODES:
            raise ValueError(f"auth_failure must be one of {AUTH_FAILURE_MODES}")
        self.host = host
        self.port = port
        self.rest_port = rest_port
        state = self._state = ExchangeState(
            keys=dict(keys) if keys is not None else {TEST_ACCESS_KEY: TEST_SECRET_KEY},
            auth_failure=auth_failure, idle_timeout=idle_timeout, status_interval=status_interval,
            connect_limit=connect_limit, message_limit=message_limit, message_rate=message_rate,
            error_close_delay=error_close_delay, resnapshot_on_replace=resnapshot_on_replace,
            honour_camel_case=honour_camel_case, origin_limit=origin_limit, markets=markets, seed=seed,
            remaining_req_header=remaining_req_header, teapot_after=teapot_after,
            teapot_seconds=teapot_seconds, teapot_retry_after=teapot_retry_after,
            channel_rules=channel_rules if channel_rules is not None else ChannelRules(),
        )
        info: IndicatorFeed[Session] = IndicatorFeed(
            state.market.anchor, state.market.seed, InfoClock(time_scale), lambda: state.channel_rules
        )
        self._connections = Connections(state)
        self._feed = Feed(state, self._connections, info)
        self._private = PrivatePaths(state, self._connections, info)
        self._gateway = Gateway(state, self._connections,
                                Subscriptions(state, self._connections, self._feed, info), compression)
        self._faults = Faults(self._connections)
        self._matcher = Matcher(state, self._private)
        state.market.on_trade = self._matcher.on_trade
        self._order_faults = OrderFaults()
        self._rest = FakeRest(state, self._matcher, self._order_faults)
        self._phase = "new"

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeUpbitServer:
        """Listen and serve; returns self. A server starts once."""
        with self._connections.lock:
            if self._phase != "new":
                raise RuntimeError("a FakeUpbitServer can be started only once")
            listener = socket.create_server((self.host, self.port))
            try:
                self.rest_port = self._rest.start(self.host, self.rest_port)
            except OSError:
                listener.close()
                raise
            listener.setblocking(False)
            self.port = listener.getsockname()[1]
            self._gateway.open(listener)
            self._phase = "running"
        self._gateway.start()
        self._feed.start()
        self._matcher.start()
        log.info("fake Upbit listening on %s:%d (REST on %d)", self.host, self.port, self.rest_port)
        return self

    def stop(self) -> None:
        """Close every connection abruptly, stop every thread, release the port. Idempotent."""
        connections = self._connections
        with connections.lock:
            if self._phase != "running":
                self._phase = "stopped"
                return
            self._phase = "stopped"
            connections.stopping.set()
            connections.wake.notify_all()
        self._gateway.stop_accepting()
        self._feed.join()
        self._order_faults.stopping.set()
        self._rest.stop()
        self._matcher.stop()
        connections.end_all(time.monotonic())
        self._gateway.stop()  # every connection ended, its thread joined
        connections.join_threads()
        self._gateway.release()
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
        return self._private.time_scale

    @time_scale.setter
    def time_scale(self, scale: float) -> None:
        self._private.time_scale = scale

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
        return self._state.markets

    @markets.setter
    def markets(self, markets: Iterable[str | Market] | None) -> None:
        self._state.markets = markets

    def list_market(self, code: str, *, korean_name: str | None = None, english_name: str | None = None,
                    announce: bool = False) -> Market:
        """List ``code`` now (names: Upbit's for a known coin, else the coin's code): ``/v1/market/all``
        includes it and requests naming it get its data from now on (one made before got nothing
        for it, as from Upbit). ``announce``: also a ``trade`` announcement of the listing, to the
        private connections that asked for one. Returns the record; ValueError if listed already."""
        market = new_market(code, korean_name, english_name)
        self._state.list_market(market)
        if announce:
            self.emit_announcement(**listing_notice(market))
        return market

    def delist_market(self, code: str) -> Market:
        """Delist ``code`` now: gone from ``/v1/market/all``, and no more data for it on any
        connection, even one whose request still names it. Returns its record; ValueError if it is
        not listed."""
        return self._state.delist_market(code)

    def is_listed(self, market: str) -> bool:
        """Whether this exchange serves ``market`` (every code when :attr:`markets` is None)."""
        return self._state.is_listed(market)

    def supported_levels(self, market: str) -> tuple[float, ...]:
        """The orderbook levels ``market`` supports at its current price, 0 (none) first.

        What ``/v1/orderbook/instruments`` lists, and what an orderbook subscription's ``level``
        must be for the WebSocket side to send data: KRW markets aggregate by the documented levels
        that are multiples of their tick size and at most 1% of the price; others support only 0.
        """
        return self._state.supported_levels(market)

    def trades(self, market: str) -> list[dict[str, Any]]:
        """Every trade the market's history holds, newest first, as ``/v1/trades/ticks`` items."""
        return [record.as_tick(market) for record in reversed(self._state.market.history(market))]

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
        replayer: Replayer[Session] = Replayer(recording, speed)
        with self._connections.lock:
            if self._state.markets is not None:
                self._state.markets = [*self._state.markets, *sorted(recording.codes)]
            self._feed.replayer = replayer
        log.info("fake Upbit replaying %d recorded messages of %d streams", len(recording),
                 len(recording.streams))
        return self

    @property
    def recording(self) -> Recording | None:
        """The recording being replayed, or None when the market is simulated."""
        replayer = self._feed.replayer
        return replayer.recording if replayer is not None else None

    @property
    def replayed(self) -> int:
        """Recorded messages played so far, to every connection."""
        with self._connections.lock:
            replayer = self._feed.replayer
            return replayer.played if replayer is not None else 0

    def replay_finished(self) -> bool:
        """True once some connection was played the recording and no stream has anything left to
        play (every connection got all it asked for)."""
        with self._connections.lock:
            replayer = self._feed.replayer
            return replayer is not None and replayer.started > 0 and replayer.pending == 0

    # -- fault controls ------------------------------------------------------------------------

    def drop_all(self) -> int:
        """Abrupt TCP close of every open connection, no close frame; returns how many."""
        return self._faults.drop_all()

    def close_all(self, code: int = 1000, reason: str = "") -> int:
        """Send a close frame with this code to every open connection; returns how many.

        Returns once the frames are out, without waiting for the clients' replies.
        """
        return self._faults.close_all(code, reason)

    def silence(self, on: bool = True) -> None:
        """Stop (or resume) sending anything, data and status alike; keep TCP open and keep reading.

        Pongs still go out (websockets answers pings by itself): that is a silent *exchange*,
        not a dead peer; :class:`HangingServer` plays the dead peer.
        """
        self._faults.silence(on)

    def refuse_next(self, n: int, status: int = 429) -> None:
        """Answer the next ``n`` upgrade attempts (on Upbit's paths) with this HTTP status."""
        self._gateway.refuse_next(n, status)

    def clear_refusals(self) -> int:
        """Forget the refusals :meth:`refuse_next` and :meth:`refuse_rest_next` still hold (an outage
        made with a large ``n`` ends here); returns how many were left."""
        return self._gateway.clear_refusals() + self._rest.clear_refusals()

    def refuse_rest_next(self, n: int, status: int = 429, group: str | None = None) -> None:
        """Answer the next ``n`` REST requests (of this rate-limit ``group``, or any) with this HTTP
        status and the body Upbit would send with it; they are not counted against any limit."""
        self._rest.refuse_next(n, status, group)

    def send_raw(self, frame: bytes | str, conn_id: int | None = None, *,
                 compressed: bool = False) -> int:
        """Send a frame as is to one or every open connection (``bytes`` binary, ``str`` text),
        never compressed by the connection. ``compressed=True``: the payload is already deflated
        (``testing.compression.Deflater``), or meant to look so: the frame is marked RSV1.

        Bypasses :meth:`silence`; returns how many connections it reached.
        """
        return self._faults.send_raw(frame, conn_id, compressed)

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
        return self._faults.firehose(n, frames, conn_id)

    # -- trading -------------------------------------------------------------------------------

    def trade(self, code: str, price: float, volume: float, side: str = "BID") -> dict[str, Any]:
        """Make one trade of ``code`` at ``price`` for ``volume`` (``side``: the taker's, ``BID`` or
        ``ASK``) and match it: resting orders it crosses have filled (and their myOrder and myAsset
        events gone out) when this returns. The trade enters the simulator's history (what
        ``/v1/trades/ticks`` and the candles show), moves its price, and goes to the connections
        listening to the market's trades as the tape's trades do; returns it as a tick."""
        if not self._state.is_listed(code):
            raise ValueError(f"{code!r} is not a market this fake exchange lists")
        record = self._state.market.trade(code, price, volume, side)
        self._matcher.drain()
        message = dict(self._state.market.make("trade", code, "SNAPSHOT"), stream_type="REALTIME")
        connections = self._connections
        with connections.lock:
            targets = [conn for conn in connections.live.values() if not conn.closing
                       and (stream := conn.trades.get(code)) is not None and stream.realtime
                       and not stream.awaiting_snapshot]
        for conn in targets:
            connections.send(conn, encode(message, conn.format), data=True,
                             deadline=time.monotonic() + self._state.send_timeout)
        return record.as_tick(code)

    @property
    def book_depth(self) -> float | None:
        """The base volume an order taking liquidity finds at the best price (one level; None,
        the default: as much as it wants). Set it to make ``ioc`` fill partly and ``fok`` fail."""
        depth = self._matcher.book_depth
        return None if depth is None else float(depth)

    @book_depth.setter
    def book_depth(self, depth: float | None) -> None:
        self._matcher.book_depth = None if depth is None else Decimal(repr(depth))

    @property
    def withdraw_addresses(self) -> list[dict[str, Any]]:
        """The allow-listed withdrawal addresses (``/v1/withdraws/coin_addresses`` rows: at least
        ``currency``, ``net_type``, ``withdraw_address``, and ``secondary_address`` when the address
        needs one); a withdrawal elsewhere is 400 ``withdraw_address_not_registered``. Empty at start."""
        with self._state.trading_lock:
            return [dict(row) for row in self._state.withdraw_addresses]

    @withdraw_addresses.setter
    def withdraw_addresses(self, rows: Iterable[Mapping[str, Any]]) -> None:
        with self._state.trading_lock:
            self._state.withdraw_addresses = [dict(row) for row in rows]

    def fail_next_order(self, mode: str, *, seconds: float = 0.0, count: int = 1,
                        path: str = "/v1/orders", burn: bool = True) -> None:
        """Play a fault on the next ``count`` calls of ``path`` (``/v1/orders``,
        ``/v1/orders/cancel_and_new``, or ``/v1/order``: DELETE, a cancel) that pass the token check.

        - ``"drop"``: the call is carried out (the order made, its myOrder sent), then the HTTP
          connection is closed without an answer.
        - ``"500"``: carried out, then answered 500 (``{"error": {"name": 500, ...}}``).
        - ``"delay"``: carried out, answered normally ``seconds`` later.
        - ``"500_before"``: answered 500 and nothing done; the identifier (``new_identifier`` for
          cancel_and_new) is burnt all the same unless ``burn=False`` (docs/trading.md: burnt
          even if the request failed).
        - ``"hide"``: the order made is left out of every lookup and list (``/v1/order``,
          ``/orders/uuids``, ``/orders/open``, ``/orders/closed``, cancels) for ``seconds`` (OPEN
          point 4: a visibility delay); not for ``/v1/order``.

        A refused call (its error answer) is dropped, replaced or delayed alike.
        """
        self._order_faults.fail_next(mode, seconds=seconds, count=count, path=path, burn=burn)

    def cut_private(self) -> int:
        """End every private connection abruptly (as :meth:`drop_all` does, private ones only); the
        client will reconnect. Events of orders that fill meanwhile reach nobody, as on Upbit (myOrder
        has no snapshot). Returns how many were cut."""
        return self._private.cut_private()

    # -- the private and info paths ------------------------------------------------------------

    def emit_my_order(self, **fields: Any) -> dict[str, Any]:
        """Push a myOrder event to every private connection subscribed to its code (or to all).

        ``fields`` use DEFAULT names and override the simulator's plausible defaults; returns
        the DEFAULT-keyed message sent. A ``code`` outside :attr:`markets` is a ValueError: Upbit
        could not have an order there, so the test has a typo.
        """
        return self._private.emit_my_order(**fields)

    def emit_my_asset(self, **fields: Any) -> dict[str, Any]:
        """Push a myAsset event to every private connection subscribed to myAsset; returns it."""
        return self._private.emit_my_asset(**fields)

    def emit_announcement(self, **fields: Any) -> dict[str, Any]:
        """Push an announcement to every private connection subscribed to its category; returns it.

        ``fields`` use DEFAULT names (docs/channels.md §5) and override plausible defaults
        (category ``notice``, event_type ``CREATED``, a Markdown body, KST times of now). The message
        returned carries ``body``; a connection that did not ask for ``include_body`` gets it
        without, and one whose frame would pass 1 MiB gets ``"body": null``. An unknown field is a
        TypeError, an unknown category or event type a ValueError.
        """
        return self._private.emit_announcement(**fields)

    def candles(self, code: str, timeframe: str) -> list[Candle]:
        """The closed candles of ``code``'s ``timeframe`` series, oldest first, history included
        (the last :data:`~upbit_sync.testing.indicators.WINDOW` of them before a close are what its
        values are computed over); [] until someone subscribed to it or it was scripted."""
        return self._private.candles(code, timeframe)

    def script_candles(self, code: str, timeframe: str, closes: Sequence[float],
                       volumes: Sequence[float] | None = None) -> None:
        """Make the next ``len(closes)`` candles of a series close at these prices (and volumes;
        otherwise a typical one), instead of the random walk's; each opens at the previous close.
        Queued after closes scripted before; the walk resumes from the last one."""
        self._private.script_candles(code, timeframe, closes, volumes)

    def quiet_period(self, code: str, start: datetime, end: datetime) -> None:
        """No trade of ``code`` from ``start`` to ``end`` (aware datetimes) in the synthetic past of
        its candles: a bucket wholly inside has no REST candle (a quiet market's gap)."""
        if start.tzinfo is None or end.tzinfo is None or end <= start:
            raise ValueError("quiet_period takes aware datetimes, start before end")
        self._state.quiet_periods.setdefault(code, []).append((start.timestamp(), end.timestamp()))

    # -- introspection -------------------------------------------------------------------------

    @property
    def connections(self) -> list[ConnInfo]:
        """Every connection ever accepted (successful upgrades), oldest first."""
        return self._connections.views()

    @property
    def connections_opened(self) -> int:
        return self._connections.opened()

    @property
    def connect_attempts(self) -> list[Attempt]:
        """Every upgrade attempt, in order, with the HTTP status it got (101 when accepted)."""
        return self._gateway.attempts

    @property
    def accepted(self) -> int:
        """TCP connections accepted, upgraded or not."""
        return self._gateway.accepted

    @property
    def rest_requests(self) -> list[RestRequest]:
        """Every REST request received, in order, with the status it was answered with."""
        return self._rest.requests

    @property
    def orders(self) -> list[dict[str, Any]]:
        """Every order placed over REST (``POST /v1/orders``, ``cancel_and_new``), oldest first within
        each access key, in its current state, as ``GET /v1/order`` shows it (without ``trades``, with
        ``identifier`` even when None); copies. Hidden orders (a ``"hide"`` fault) are listed too."""
        return self._matcher.all_orders()

    def account(self, access_key: str | None = None) -> list[dict[str, Any]]:
        """The balances of one access key (the first of :attr:`keys` when None), as
        ``/v1/accounts`` answers them."""
        return self._matcher.accounts(access_key or next(iter(self.keys)))

    @property
    def withdrawals(self) -> list[dict[str, Any]]:
        """Every withdrawal made (``POST /v1/withdraws/coin`` and ``/krw``), oldest first, as answered
        plus the ``access_key`` that made it; copies."""
        with self._state.trading_lock:
            return [dict(record) for record in self._state.withdrawals]

    def open_connections(self) -> list[ConnInfo]:
        return self._connections.open_views()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Poll ``predicate`` until it is true or ``timeout`` passes; returns its last value."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
