"""WebSocketManager: owns the connections, the watchdog thread, recovery and health (DESIGN.md §2-§3).

The manager knows *what* each connection should carry (``set_wanted``) but not who asked for it; it
hands every decoded data message to its listeners (the subscription router) on the socket thread.
All recovery and every subscription send happen on one thread, the watchdog, never in a socket
callback: socket callbacks only record what happened and wake the watchdog.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import websocket

from . import formats, protocol
from .auth import Credentials
from .config import Config
from .connection import Connection, ConnectionEnd, ConnState
from .dispatch import MAX_DEFER, Dispatcher
from .errors import (
    AuthenticationError,
    ClosedError,
    ConfigError,
    ConnectError,
    DecodeError,
    RateLimitError,
    ServerErrorReply,
    StreamTimeout,
    UpbitError,
)
from .protocol import StreamSpec, is_private
from .ratelimit import RateGate, connect_gate, message_gate
from .subscriptions import ALL_MARKETS, Subscription, SubscriptionManager
from .types import (
    Connected,
    Disconnected,
    ErrorMessage,
    Event,
    Reconnected,
    ServerError,
    Status,
    SubscriptionList,
)

log = logging.getLogger(__name__)

PUBLIC = "public"
PRIVATE = "private"


class ClientHooks:
    """What the manager calls on each client (its core) for lifecycle events and errors; both run
    on a worker thread."""

    def handle_event(self, event: Event) -> None: ...

    def handle_error(self, error: BaseException) -> None: ...

    def manager_stopped(self) -> None:
        """The manager was stopped: blocking iterators must end rather than wait forever."""


class ManagerListener:
    """What the manager tells the layer above it. Methods run on socket or watchdog threads:
    they must return quickly and must not raise."""

    def on_messages(self, connection: str, items: list[dict[str, Any]]) -> None:
        """Data messages (DEFAULT keys) from one frame, in arrival order."""

    def on_event(self, event: Event) -> None:
        """A lifecycle event: Connected, Disconnected, Reconnected, ServerError."""

    def on_error(self, error: BaseException) -> None:
        """An error worth telling the application about (e.g. AuthenticationError)."""

    def stats(self) -> dict[str, Any]:
        """Figures merged into ``health()`` (queue depth, drops, ...)."""
        return {}


@dataclass
class _ListReply:
    """A LIST_SUBSCRIPTIONS query waiting for its answer."""

    done: threading.Event = field(default_factory=threading.Event)
    result: SubscriptionList | None = None


@dataclass
class _Slot:
    """The manager's book-keeping for one logical connection."""

    conn: Connection
    private: bool
    gate: RateGate
    wanted: tuple[StreamSpec, ...] = ()
    sent: tuple[StreamSpec, ...] | None = None  # what the current socket carries
    ping_sent: bool = False
    active: bool = True  # should be connected while the manager runs
    failures: int = 0  # attempts in a row that did not end healthy
    next_attempt_at: float | None = None  # monotonic; None: no attempt scheduled
    down_since: float | None = None
    ever_connected: bool = False
    auth_failed: bool = False
    blocked: bool = False  # last refusal was 418
    recycle: bool = False  # reopen after a requested close (to drop server-side subscriptions)
    recycling: bool = False  # the socket now opening replaces one closed to empty its set
    reconnects: int = 0
    recycles: int = 0  # sockets replaced only to drop their server-side set (not faults)
    outage: bool = False  # down since an end nobody asked for; cleared when open again
    outage_error: UpbitError | None = None  # why the current outage goes on, when known
    error_reported_at: float | None = None  # when a ConnectError last went to on_error
    sent_at: float = 0.0  # when ``sent`` was sent (monotonic)
    grace_checked: bool = True  # the snapshot grace check of the last request is done
    snapshots_seen: set[tuple[str, str | None]] = field(default_factory=set)  # (type, code) on this socket
    missing_warned: set[tuple[str, str | None]] = field(default_factory=set)
    last_bad_item: Any = None
    attempts: int = 0
    refused: int = 0  # upgrades answered 429/418
    bad_frames: int = 0
    requests_sent: int = 0
    last_error: str = ""
    list_waiters: dict[str, _ListReply] = field(default_factory=dict)  # ticket -> pending query


class WebSocketManager:
    """Keeps Upbit connections alive and carrying what is wanted. Thread-safe."""

    _instance: ClassVar[WebSocketManager | None] = None
    _instance_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config()
        self._credentials = (
            Credentials(self.config.access_key, self.config.secret_key)  # type: ignore[arg-type]
            if self.config.has_keys
            else None
        )
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._running = False
        self._watchdog: threading.Thread | None = None
        self._slots: dict[str, _Slot] = {}
        self._listeners: list[ManagerListener] = []
        self._connect_gate = connect_gate(self.config.connect_rate_per_second)
        self._stopped_explicitly = False
        self.dispatcher = Dispatcher(self.config.workers, self.config.queue_size,
                                     self.config.block_timeout, queue_bytes=self.config.queue_bytes)
        self.subscriptions = SubscriptionManager(on_change=self.set_wanted)
        self._clients: weakref.WeakSet[ClientHooks] = weakref.WeakSet()
        self._router = _Router(self)

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"WebSocketManager({state}, connections={sorted(self._slots)})"

    # ---- process-wide instance --------------------------------------------------------------------

    @classmethod
    def get_instance(cls, config: Config | None = None) -> WebSocketManager:
        """The process-wide manager, made on first use (from ``Config.from_env()`` when no config is
        given, so ``UPBIT_WS_URL`` and the key variables work for a bare client). A different config
        later is an error."""
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls(config if config is not None else Config.from_env())
            elif config is not None and config != cls._instance.config:
                raise ConfigError(
                    "the process-wide manager already exists with another config; "
                    "use WebSocketManager(config) for an independent one"
                )
            return cls._instance

    # ---- lifecycle --------------------------------------------------------------------------------

    def start(self) -> WebSocketManager:
        """Open the public connection and start the watchdog. Calling it again is harmless."""
        with self._lock:
            if self._running:
                return self
            self._stopping.clear()
            self._running = True
            self._stopped_explicitly = False
            self.dispatcher.start()
            slot = self._slot(PUBLIC)
            slot.active = True
            for s in self._slots.values():
                if s.active:
                    s.next_attempt_at = time.monotonic()
            self._watchdog = threading.Thread(
                target=self._watch, name="upbit-watchdog", daemon=True
            )
            self._watchdog.start()
        log.info("manager started")
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Close every connection and join every thread within ``timeout``; idempotent, any thread."""
        deadline = time.monotonic() + timeout
        with self._lock:
            was_running = self._running
            self._running = False
            self._stopped_explicitly = True
            self._stopping.set()
            self._wake.set()
            watchdog = self._watchdog
            slots = list(self._slots.values())
            for slot in slots:
                slot.next_attempt_at = None
                for waiter in slot.list_waiters.values():
                    waiter.done.set()
        for client in list(self._clients):
            try:
                client.manager_stopped()
            except Exception:
                log.exception("client failed to stop")
        if watchdog is not None and watchdog is not threading.current_thread():
            watchdog.join(max(0.0, deadline - time.monotonic()))
        for slot in slots:
            slot.conn.close(max(0.05, (deadline - time.monotonic()) / max(1, len(slots))))
        self.dispatcher.stop(max(0.1, deadline - time.monotonic()))
        if was_running:
            log.info("manager stopped")

    def __enter__(self) -> WebSocketManager:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._running

    def ensure_started(self) -> None:
        """Start on first use, but never undo an explicit ``stop()``."""
        if self._running:
            return
        self.ensure_usable()
        self.start()

    def ensure_usable(self) -> None:
        """Raise ClosedError after an explicit ``stop()`` (until ``start()``)."""
        if self._stopped_explicitly and not self._running:
            raise ClosedError("this manager was stopped; call start() to use it again")

    def register_client(self, client: ClientHooks) -> None:
        self._clients.add(client)

    def unregister_client(self, client: ClientHooks) -> None:
        self._clients.discard(client)

    def add_subscription(self, sub: Subscription) -> None:
        """Route ``sub``'s messages and add its codes to its connection's next request."""
        if is_private(sub.type) and self._credentials is None:
            raise AuthenticationError(
                "private streams (myOrder, myAsset) need access_key and secret_key in Config"
            )
        self.subscriptions.add(sub)
        self._wake.set()

    def remove_subscriptions(self, subs: Sequence[Subscription]) -> None:
        self.subscriptions.remove_many(subs)

    def add_listener(self, listener: ManagerListener) -> None:
        with self._lock:
            if listener not in self._listeners:
                self._listeners.append(listener)

    def remove_listener(self, listener: ManagerListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    # ---- what each connection carries ------------------------------------------------------------

    def set_wanted(self, connection: str, specs: Sequence[StreamSpec]) -> None:
        """Replace what ``connection`` should carry. Never blocks: the watchdog sends it when the
        message limit allows; many calls in a burst become one request with the latest set."""
        wanted = tuple(specs)
        private = connection.startswith(PRIVATE)
        if any(spec.is_private != private for spec in wanted):
            raise ConfigError(f"connection {connection!r} cannot carry that mix of types")
        if wanted:
            protocol.build_request(wanted, self.config.wire_format)  # raises on conflicts
        if private and wanted and self._credentials is None:
            raise AuthenticationError(
                "private streams (myOrder, myAsset) need access_key and secret_key in Config"
            )
        with self._lock:
            slot = self._slot(connection)
            if slot.wanted == wanted:
                return
            slot.wanted = wanted
            if private or connection != PUBLIC:
                # private and extra public connections exist only while they carry something
                if wanted and not slot.active:
                    slot.active = True
                    slot.failures = 0
                    slot.next_attempt_at = time.monotonic()
                elif not wanted:
                    slot.active = False
                    slot.next_attempt_at = None
        self._wake.set()

    def wanted(self, connection: str) -> tuple[StreamSpec, ...]:
        with self._lock:
            slot = self._slots.get(connection)
            return slot.wanted if slot else ()

    def list_subscriptions(self, connection: str = PUBLIC, timeout: float = 5.0) -> SubscriptionList:
        """Ask the server what ``connection`` carries (LIST_SUBSCRIPTIONS, which counts toward the
        message limit); blocks up to ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._lock:
            slot = self._slots.get(connection)
        if slot is None:
            raise ClosedError(f"no connection named {connection!r}")
        if not slot.gate.acquire(timeout, self._stopping):
            raise RateLimitError(f"message limit of {connection} left no room within {timeout}s")
        ticket = protocol.new_ticket()
        waiter = _ListReply()
        with self._lock:
            slot.list_waiters[ticket] = waiter
        try:
            slot.conn.send(protocol.build_list_subscriptions(self.config.wire_format, ticket))
            waiter.done.wait(max(0.0, deadline - time.monotonic()))
            if waiter.result is None:
                raise StreamTimeout(f"no LIST_SUBSCRIPTIONS reply on {connection} within {timeout}s")
            return waiter.result
        finally:
            with self._lock:
                slot.list_waiters.pop(ticket, None)

    def snapshot(self, spec: StreamSpec, timeout: float = 5.0) -> list[dict[str, Any]]:
        """One ``is_only_snapshot`` request on a short-lived connection of its own (so the format and
        set of the shared connections stay untouched); returns the data messages received until every
        code answered or ``timeout`` passed. Counts toward the connect limit."""
        deadline = time.monotonic() + timeout
        if is_private(spec.type):
            raise ConfigError("snapshot() serves the public types only")
        if not self._connect_gate.acquire(timeout, self._stopping):
            raise RateLimitError(f"the connect limit left no room within {timeout}s")
        url = self.config.public_url
        try:
            ws = websocket.create_connection(
                url, timeout=max(0.05, deadline - time.monotonic()), skip_utf8_validation=True,
                suppress_origin=True,  # Upbit holds upgrades carrying Origin to 1 per 10 s
            )
        except websocket.WebSocketBadStatusException as exc:
            raise _refusal("snapshot", url, exc.status_code) from None
        except (OSError, websocket.WebSocketException, ValueError) as exc:
            raise ConnectError("snapshot", url, f"{type(exc).__name__}: {exc}") from None
        found: dict[str | None, dict[str, Any]] = {}
        try:
            ws.send(protocol.build_request([spec], self.config.wire_format))
            while len(found) < len(spec.codes):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                ws.settimeout(remaining)
                try:
                    frame = ws.recv()
                except websocket.WebSocketTimeoutException:
                    break
                try:
                    items = protocol.parse(frame)
                except DecodeError as exc:
                    log.warning("snapshot: bad frame skipped: %s", exc)
                    continue
                for item in items:
                    if item.get("type") == spec.type:
                        found[item.get("code")] = item
                    elif "error" in item:
                        message = protocol.to_message(item)
                        assert isinstance(message, ErrorMessage)
                        raise ServerErrorReply(message.name, message.message)
        except (OSError, websocket.WebSocketException) as exc:
            raise ConnectError("snapshot", url, f"connection lost: {type(exc).__name__}: {exc}") from None
        finally:
            ws.close(timeout=0.2)
        return list(found.values())

    # ---- health -----------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """A snapshot for humans and monitors: per connection state and counters, and ``healthy``."""
        queues = self.dispatcher.by_connection()
        now = time.monotonic()
        with self._lock:
            connections = {}
            healthy = self._running
            for name, slot in self._slots.items():
                conn = slot.conn
                age = None if conn.last_frame_at is None else round(now - conn.last_frame_at, 3)
                stale = (
                    age is not None and bool(slot.wanted) and age > self.config.stale_after
                )
                ok = not slot.active or (conn.state is ConnState.OPEN and not stale)
                healthy = healthy and ok
                connections[name] = {
                    "state": conn.state.value,
                    "url": conn.url,
                    "healthy": ok,
                    "connected_since": conn.connected_since if conn.state is ConnState.OPEN else None,
                    "last_message_age_s": age,
                    "reconnects": slot.reconnects,
                    "recycles": slot.recycles,
                    "connect_attempts": slot.attempts,
                    "refused_upgrades": slot.refused,
                    "messages": conn.frames,
                    "queue_depth": queues.get(name, {}).get("queue_depth", 0),
                    "drops": queues.get(name, {}).get("drops", 0),
                    "bad_frames": slot.bad_frames,
                    "requests_sent": slot.requests_sent,
                    "subscriptions": sum(max(1, len(s.codes)) for s in slot.wanted),
                    "in_sync": slot.sent == slot.wanted or (not slot.wanted and not slot.sent),
                    "last_error": slot.last_error,
                }
            listeners = list(self._listeners)
        report: dict[str, Any] = {"healthy": healthy, "running": self._running,
                                  "connections": connections, **self._router.stats()}
        for listener in listeners:
            report.update(listener.stats())
        return report

    # ---- internals: slots ---------------------------------------------------------------------------

    def _slot(self, name: str) -> _Slot:
        slot = self._slots.get(name)
        if slot is None:
            private = name.startswith(PRIVATE)
            cfg = self.config
            conn = Connection(
                name,
                cfg.private_url if private else cfg.public_url,
                on_open=self._on_open,
                on_frame=self._on_frame,
                on_batch_end=self._on_batch_end,
                on_end=self._on_end,
                header=self._credentials.header if private and self._credentials else None,
                connect_timeout=cfg.connect_timeout,
                ping_interval=cfg.ping_interval,
                ping_timeout=cfg.ping_timeout,
                read_ahead=cfg.read_ahead,
            )
            gate = message_gate(cfg.message_rate_per_second, cfg.message_rate_per_minute)
            slot = self._slots[name] = _Slot(conn, private, gate, active=not private and name == PUBLIC)
        return slot

    def _emit_event(self, event: Event) -> None:
        self._router.on_event(event)
        for listener in list(self._listeners):
            try:
                listener.on_event(event)
            except Exception:
                log.exception("listener failed on %r", event)

    def _emit_error(self, error: BaseException) -> None:
        self._router.on_error(error)
        for listener in list(self._listeners):
            try:
                listener.on_error(error)
            except Exception:
                log.exception("listener failed on error %r", error)

    # ---- socket-thread callbacks --------------------------------------------------------------------

    def _on_open(self, conn: Connection) -> None:
        now = time.monotonic()
        event: Event | None
        with self._lock:
            slot = self._slots[conn.name]
            slot.sent = None
            slot.ping_sent = False
            slot.auth_failed = False
            slot.blocked = False
            # Upbit counts the message limit per socket: a new socket starts with a fresh budget
            slot.gate = message_gate(self.config.message_rate_per_second,
                                     self.config.message_rate_per_minute)
            slot.snapshots_seen = set()
            slot.outage, slot.outage_error, slot.error_reported_at = False, None, None
            if slot.recycling:  # internal: the old socket was closed only to empty its set
                slot.recycling = False
                slot.recycles += 1
                event = None
            elif slot.ever_connected:
                slot.reconnects += 1
                downtime = now - slot.down_since if slot.down_since is not None else 0.0
                event = Reconnected(conn.name, round(downtime, 4))
            else:
                event = Connected(conn.name, conn.url)
            slot.ever_connected = True
            slot.down_since = None
        self._wake.set()  # the watchdog sends the subscription set at once
        if event is not None:
            self._emit_event(event)

    def _on_frame(self, conn: Connection, frame: bytes | str) -> None:
        # The hot path: one frame usually holds one object, handled without building any list.
        try:
            data = protocol.load_bytes(frame) if type(frame) is bytes else protocol.load(frame)
        except DecodeError as exc:
            self._bad_frame(conn, exc, frame)
            return
        if type(data) is dict:
            self._on_item(conn, data, frame, len(frame))
        elif type(data) is list:  # the LIST formats: a batch of objects
            size = len(frame) // max(1, len(data))
            for item in data:
                if type(item) is dict:
                    self._on_item(conn, item, frame, size)
                else:
                    self._bad_frame(conn, DecodeError("a list item that is not an object"), frame)
        else:
            self._bad_frame(conn, DecodeError("a frame that is not a JSON object"), frame)

    def _on_batch_end(self, conn: Connection) -> None:
        # The frames of one read are handled. A worker asleep with messages it was not woken for is
        # woken once no more input is ready (the check is a syscall, which hands the GIL away: only
        # made when it matters), or once it has waited MAX_DEFER through a long burst.
        dispatcher = self.dispatcher
        if dispatcher.deferred and (
            not conn.input_pending() or time.monotonic() - dispatcher.deferred_since >= MAX_DEFER
        ):
            dispatcher.flush()

    def _on_item(self, conn: Connection, item: dict[str, Any], frame: bytes | str, size: int) -> None:
        if "ty" in item or "type" in item:
            if not self._router.on_item(conn.name, item, size):
                self._bad_frame(conn, DecodeError("a message without a usable type or code"), frame)
            if self._listeners:  # the router reads either key set; listeners get DEFAULT keys
                default = [formats.to_default(item) if "ty" in item else item]
                for listener in self._listeners:
                    try:
                        listener.on_messages(conn.name, default)
                    except Exception:
                        log.exception("listener failed on a message from %s", conn.name)
        elif "status" in item or "error" in item or "method" in item or "mthd" in item:
            self._control(conn, formats.to_default(item) if "mthd" in item else item, frame)
        else:
            self._bad_frame(conn, DecodeError("object of no known kind"), frame)

    def _bad_frame(self, conn: Connection, exc: Exception, frame: bytes | str) -> None:
        # the log line shows at most 80 characters of the frame
        with self._lock:
            slot = self._slots[conn.name]
            slot.bad_frames += 1
            count = slot.bad_frames
        if count <= 10 or count % 1000 == 0:  # logged, but a flood does not flood the log
            log.warning("bad frame #%d on %s skipped: %s (%.80r)", count, conn.name, exc, frame)

    def _control(self, conn: Connection, item: dict[str, Any], frame: bytes | str) -> None:
        try:
            message = protocol.to_message(item)
        except DecodeError as exc:
            self._bad_frame(conn, exc, frame)
            return
        if isinstance(message, Status):
            return
        if isinstance(message, SubscriptionList):
            with self._lock:
                waiter = self._slots[conn.name].list_waiters.get(message.ticket or "")
                if waiter is None and self._slots[conn.name].list_waiters:
                    waiter = next(iter(self._slots[conn.name].list_waiters.values()))
            if waiter is not None:
                waiter.result = message
                waiter.done.set()
            return
        if isinstance(message, ErrorMessage):
            log.warning("server error on %s: %s %s", conn.name, message.name, message.message)
            with self._lock:
                slot = self._slots[conn.name]
                slot.last_error = message.name
                if message.name == "INVALID_AUTH":
                    slot.auth_failed = True
            self._emit_event(ServerError(conn.name, message.name, message.message))

    def _on_end(self, conn: Connection, end: ConnectionEnd) -> None:
        self.dispatcher.flush()
        now = time.monotonic()
        error: UpbitError | None = None
        with self._lock:
            slot = self._slots[conn.name]
            slot.sent = None
            slot.ping_sent = False
            if end.requested:
                if slot.recycle and self._running:
                    slot.recycle = False
                    slot.recycling = True
                    slot.next_attempt_at = now
                    self._wake.set()
                return
            slot.recycling = False
            if not self._running or not slot.active:
                return
            lived = (now - conn.connected_at) if end.was_open and conn.connected_at else 0.0
            if end.was_open and slot.down_since is None:
                slot.down_since = now
            new_outage = end.was_open or not slot.outage
            slot.outage = True
            if end.http_status in (429, 418):
                slot.refused += 1
                slot.blocked = end.http_status == 418
            auth = end.http_status in (401, 403) or slot.auth_failed
            if lived >= self.config.stale_after:
                slot.failures = 0
            if auth:
                slot.failures += 1
                delay = self.config.reconnect_max_delay
                conn.state = ConnState.FAILED
                slot.last_error = "authentication failed"
                error = AuthenticationError(
                    f"the exchange refused the API keys on {conn.name} "
                    f"({'HTTP ' + str(end.http_status) if end.http_status else 'INVALID_AUTH'}); "
                    f"retrying every {delay:g}s", connection=conn.name,
                )
            elif slot.blocked:
                slot.failures += 1
                delay = self.config.reconnect_max_delay
                error = RateLimitError(f"connect blocked by the exchange (HTTP 418) on {conn.name}",
                                       status=418)
            else:
                if not end.was_open or lived < self.config.reconnect_delay:
                    slot.failures += 1  # never opened, or flapped: back off
                    delay = self.config.backoff.delay(slot.failures)
                else:
                    delay = self.config.backoff.delay(slot.failures)
                    if slot.failures == 0:
                        delay = self.config.backoff.delay(0)
                slot.last_error = end.describe()
                if not end.was_open:
                    error = ConnectError(conn.name, conn.url, end.describe(), end.http_status)
            if error is not None:
                slot.outage_error = error
                # the first failure of an outage, then at most once per reconnect_max_delay
                last = slot.error_reported_at
                if last is not None and now - last < self.config.reconnect_max_delay:
                    error = None
                else:
                    slot.error_reported_at = now
            slot.next_attempt_at = now + delay
        log.warning("%s: %s; next attempt in %.2fs", conn.name, end.describe(), delay)
        if new_outage:
            self._emit_event(Disconnected(conn.name, end.code, end.describe()))
        if error is not None:
            self._emit_error(error)
        self._wake.set()

    def outage_error(self, connection: str) -> UpbitError | None:
        """Why ``connection`` is down (ConnectError, AuthenticationError, RateLimitError), while it
        is; None when it is up or no failure is known."""
        with self._lock:
            slot = self._slots.get(connection)
            return slot.outage_error if slot is not None and slot.outage else None

    def bad_message(self, connection: str, error: DecodeError, item: dict[str, Any]) -> None:
        """A message that could not be made into its type (found on a worker): a bad frame."""
        with self._lock:
            slot = self._slots.get(connection)
            if slot is None or item is slot.last_bad_item:  # one bad message, several subscribers
                return
            slot.last_bad_item = item
        self._bad_frame(slot.conn, error, _short_repr(item))

    # ---- the watchdog -------------------------------------------------------------------------------

    def _watch(self) -> None:
        interval = self.config.health_check_interval
        next_check = time.monotonic() + interval
        while not self._stopping.is_set():
            self._wake.clear()
            now = time.monotonic()
            if now >= next_check:
                self._check_health(now)
                next_check = now + interval
            wake_at = next_check
            for slot in list(self._slots.values()):
                try:
                    wake_at = min(wake_at, self._service(slot, time.monotonic()))
                except Exception:  # the watchdog must survive anything
                    log.exception("watchdog failed servicing %s", slot.conn.name)
            self._wake.wait(max(0.0, wake_at - time.monotonic()))

    def _check_health(self, now: float) -> None:
        for slot in list(self._slots.values()):
            conn = slot.conn
            if conn.state is not ConnState.OPEN:
                continue
            if conn.connected_at is not None and now - conn.connected_at >= self.config.stale_after:
                slot.failures = 0
            silent = now - (conn.last_frame_at or now)
            if slot.wanted and silent > self.config.stale_after:
                log.warning("%s silent for %.1fs: reconnecting", conn.name, silent)
                conn.abort(f"no data for {silent:.1f}s (stale)")

    def _service(self, slot: _Slot, now: float) -> float:
        """Move one connection one step toward what it should be; return when to look again."""
        conn = slot.conn
        state = conn.state
        if state is ConnState.CONNECTING:
            started = conn.attempt_started_at or now
            limit = started + self.config.connect_timeout + 0.5
            if now >= limit:  # the socket options should have ended it already
                conn.abort(f"connect attempt exceeded {self.config.connect_timeout:g}s")
                return now + 0.5
            return limit
        if state in (ConnState.CLOSED, ConnState.FAILED):
            if not slot.active or slot.next_attempt_at is None or conn.is_alive:
                return math.inf if not conn.is_alive else now + 0.05
            if now < slot.next_attempt_at:
                return slot.next_attempt_at
            wait = self._connect_gate.try_acquire()
            if wait:
                return now + wait
            slot.next_attempt_at = None
            slot.attempts += 1
            conn.open()
            return now + self.config.connect_timeout + 0.5
        if state is ConnState.OPEN:
            if not slot.active:  # an extra connection nobody needs any more
                conn.close(1.0)
                return math.inf
            if not slot.wanted:
                if slot.sent:
                    # Upbit has no unsubscribe: a socket that must carry nothing is replaced.
                    slot.recycle = slot.active
                    conn.close(1.0)
                    return math.inf
                return self._ping_once(slot, now)
            if slot.sent == slot.wanted:
                return min(self._ping_once(slot, now), self._check_snapshots(slot, now))
            wait = slot.gate.try_acquire()
            if wait:
                return now + wait
            wanted = slot.wanted
            try:
                conn.send(protocol.build_request(wanted, self.config.wire_format))
            except ClosedError:
                return now + 0.05
            slot.sent = wanted
            slot.sent_at = time.monotonic()
            slot.grace_checked = False
            slot.requests_sent += 1
            log.debug("%s: subscription set sent (%d objects)", conn.name, len(wanted))
            return self._ping_once(slot, time.monotonic())
        return now + 0.05

    def _check_snapshots(self, slot: _Slot, now: float) -> float:
        """``snapshot_grace`` after a request: warn of codes that got no SNAPSHOT while others did
        (Upbit ignores unknown codes without a word). Returns when to look again."""
        if slot.grace_checked:
            return math.inf
        due = slot.sent_at + self.config.snapshot_grace
        if now < due:
            return due
        slot.grace_checked = True
        seen = set(slot.snapshots_seen)  # a copy: the socket thread adds to it
        expected = {
            (spec.type, code) for spec in slot.sent or ()
            if not spec.is_only_realtime and not spec.is_private for code in spec.codes
        }
        missing = sorted(expected - seen - slot.missing_warned)
        slot.missing_warned &= expected - seen
        if missing and seen:
            slot.missing_warned.update(missing)
            log.warning(
                "%s: no snapshot for %s within %gs of subscribing, while other codes got theirs: "
                "Upbit sends nothing for a market it does not list; check the code(s)",
                slot.conn.name, ", ".join(f"{kind} {code}" for kind, code in missing),
                self.config.snapshot_grace,
            )
        return math.inf

    def _ping_once(self, slot: _Slot, now: float) -> float:
        """The text PING once per socket: the server then sends a status frame every 10 s."""
        if slot.ping_sent:
            return math.inf
        wait = slot.gate.try_acquire()
        if wait:
            return now + wait
        try:
            slot.conn.send("PING")
        except ClosedError:
            return now + 0.05
        slot.ping_sent = True
        return math.inf


_NO_ROUTES: dict[str, Any] = {}


def _refusal(connection: str, url: str, status: int) -> UpbitError:
    """The error for an upgrade answered with an HTTP error status."""
    if status in (401, 403):
        return AuthenticationError(f"the exchange refused {connection} (HTTP {status})", connection)
    if status in (418, 429):
        return RateLimitError(f"the exchange rate-limited {connection} (HTTP {status})", status=status)
    return ConnectError(connection, url, f"upgrade refused with HTTP {status}", status)


def _short_repr(item: dict[str, Any]) -> str:
    return repr(item)[:200]


class _Router(ManagerListener):
    """Routes each data message to its subscriptions' workers and lifecycle news to every client."""

    def __init__(self, manager: WebSocketManager) -> None:
        self._subs = manager.subscriptions
        self._slots = manager._slots
        self._dispatcher = manager.dispatcher
        self._clients = manager._clients

    def on_item(self, connection: str, item: dict[str, Any], size: int = 0) -> bool:
        """Queue one message (DEFAULT or SIMPLE keys) for its subscriptions; False if it has no
        usable type or code."""
        if "ty" in item:
            kind, code, stream_type = item["ty"], item.get("cd"), "st"
        else:
            kind, code, stream_type = item["type"], item.get("code"), "stream_type"
        try:
            by_code = self._subs.routes.get(connection, _NO_ROUTES).get(kind)
            if by_code is None:
                return type(kind) is str
            entry = by_code.get(code) or by_code.get(ALL_MARKETS)
        except TypeError:  # an unhashable type or code
            return False
        if entry is None:
            return code is None or type(code) is str
        key, targets = entry
        snapshot = item.get(stream_type) == "SNAPSHOT"
        if snapshot:  # once per code and request: what the snapshot grace check looks for
            self._slots[connection].snapshots_seen.add((kind, code))
        submit = self._dispatcher.submit
        for sub in targets:
            if snapshot and not sub.snapshot:
                continue
            submit(sub, key, item, size, False)  # Manager._on_batch_end flushes
        return True

    def on_event(self, event: Event) -> None:
        for client in list(self._clients):
            self._dispatcher.call(("event", id(client)), client.handle_event, event)

    def on_error(self, error: BaseException) -> None:
        for client in list(self._clients):
            self._dispatcher.call(("event", id(client)), client.handle_error, error)

    def stats(self) -> dict[str, Any]:
        return {"dispatcher": self._dispatcher.stats(), "subscriptions": len(self._subs)}
