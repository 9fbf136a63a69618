"""WebSocketManager: starts and stops everything, and supervises the connections (docs/architecture.md §2-§3).

The manager owns the links (one per logical connection), the worker pool, the subscriptions and the
watchdog thread. The watchdog does every connect and every subscription send, never a socket
callback: a socket thread only records what happened and wakes it. What each part does is its own
module's business: link.py keeps one connection, subscriptions.py knows who asked for what, router.py
routes, dispatch.py runs the callbacks, metrics.py reports.

Applications see ``get_instance``, ``start``, ``stop``, ``health`` and ``config``. A client reaches the
rest through :func:`port_of`, the one internal seam between the client API and the engine.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from . import link as link_module
from .auth import Credentials
from .config import Config
from .dispatch import Dispatcher
from .errors import (
    AuthenticationError,
    ClosedError,
    ConfigError,
    DecodeError,
    InternalError,
    RateLimitError,
    UpbitError,
)
from .health import Health
from .link import Link
from .metrics import HealthServer, health_report
from .protocol import INFO, PRIVATE, PUBLIC, StreamSpec, build_request, endpoint_of, is_private
from .ratelimit import SharedBackend, backend_for, connect_limit
from .router import Listener
from .subscriptions import ClientHooks, Clients, Subscription, SubscriptionManager
from .types import Event, SubscriptionList

log = logging.getLogger(__name__)

NO_KEYS = ("private streams (myOrder, myAsset, announcement) and the indicator types need access_key "
           "and secret_key in Config")


class WebSocketManager:
    """Keeps Upbit connections alive and carrying what is wanted. Thread-safe."""

    _instance: ClassVar[WebSocketManager | None] = None
    _instance_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config()
        cfg = self.config
        self._credentials = (Credentials(cfg.access_key, cfg.secret_key)  # type: ignore[arg-type]
                             if cfg.has_keys else None)
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._running = False
        self._stopped_explicitly = False
        self._watchdog: threading.Thread | None = None
        self._links: dict[str, Link] = {}
        self._connect_limit = connect_limit(cfg)
        self._internal_errors: dict[str, int] = {}  # thread -> unexpected errors its loop survived
        self._internal_told: dict[str, float] = {}  # thread -> when one was last told (monotonic)
        self._dispatcher = Dispatcher(cfg.workers, cfg.queue_size, cfg.block_timeout,
                                      queue_bytes=cfg.queue_bytes, measure=cfg.metrics,
                                      on_fault=self._internal_error)
        self._subscriptions = SubscriptionManager(on_change=self._set_wanted)
        self._clients = Clients(self._dispatcher, self._subscriptions.listeners)
        self._backend: SharedBackend | None = None
        if cfg.rate_limit_backend != "memory":  # its outages reach the clients' on_error
            self._backend = backend_for(cfg.rate_limit_backend)
            self._backend.add_listener(self._clients.error)
        self._port = ClientPort(self)
        self._health_servers: list[HealthServer] = []

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"WebSocketManager({state}, connections={sorted(self._links)})"

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
            self._running, self._stopped_explicitly = True, False
            self._dispatcher.start()
            self._start_links(time.monotonic())
            self._watchdog = threading.Thread(target=self._watch, name="upbit-watchdog", daemon=True)
            self._watchdog.start()
        log.info("manager started")
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Close every connection and join every thread within ``timeout``; idempotent, any thread."""
        deadline = time.monotonic() + timeout
        with self._lock:
            was_running, self._running, self._stopped_explicitly = self._running, False, True
            self._stopping.set()
            self._wake.set()
            watchdog, links = self._watchdog, list(self._links.values())
        self._clients.manager_stopped()
        if watchdog is not None and watchdog is not threading.current_thread():
            watchdog.join(max(0.0, deadline - time.monotonic()))
        for link in links:
            link.stop(max(0.05, (deadline - time.monotonic()) / max(1, len(links))))
        self._links_stopped(deadline)
        self._dispatcher.stop(max(0.1, deadline - time.monotonic()))
        with self._lock:
            servers, self._health_servers = self._health_servers, []
        for server in servers:
            server.close(max(0.1, deadline - time.monotonic()))
        if was_running:
            log.info("manager stopped")

    def __enter__(self) -> WebSocketManager:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._running

    def health(self) -> Health:
        """Per connection state and counters, the workers' figures, and ``healthy`` over all."""
        with self._lock:
            links = list(self._links.values())
        return health_report(self._running, links, self._subscriptions.routers(), self._dispatcher,
                             len(self._subscriptions), self.config.stale_after,
                             self._backend.health() if self._backend is not None else None,
                             dict(self._internal_errors))

    def serve_health(self, host: str = "127.0.0.1", port: int = 0) -> HealthServer:
        """Serve ``/healthz`` (JSON, 200 or 503 with the reasons) and ``/metrics`` (Prometheus text;
        the ``prometheus`` extra) on daemon threads of its own until ``stop()``, which joins them; its
        ``url`` says where (``port=0``: a free one)."""
        server = HealthServer(self.health, host, port)
        with self._lock:
            self._health_servers.append(server)
        return server

    # ---- links ------------------------------------------------------------------------------------

    def _start_links(self, now: float) -> None:
        """At start: the public link (a feed's manager starts its reader instead)."""
        self._link(PUBLIC)
        for link in self._links.values():
            link.start(now)

    def _links_stopped(self, deadline: float) -> None:
        """After the links stopped, before the workers do (a feed acknowledges what they delivered)."""

    def _link(self, name: str) -> Link:
        with self._lock:
            link = self._links.get(name)
            if link is None:
                endpoint = endpoint_of(name)
                cfg = self.config
                keyed = endpoint != PUBLIC  # private and info take the JWT on the upgrade
                header = self._credentials.header if keyed and self._credentials else None
                url = {PRIVATE: cfg.private_url, INFO: cfg.info_url}.get(endpoint, cfg.public_url)
                router = self._subscriptions.router(name, self._dispatcher, cfg.metrics)
                link = self._links[name] = Link(
                    name, url, cfg, ManagerLinkOwner(self), router, self._dispatcher, header=header,
                    permanent=name == PUBLIC,
                )
            return link

    def _set_wanted(self, connection: str, specs: Sequence[StreamSpec]) -> None:
        """Replace what ``connection`` should carry. Never blocks: the watchdog sends it when the
        message limit allows; many calls in a burst become one request with the latest set."""
        wanted = tuple(specs)
        endpoint = endpoint_of(connection)
        if any(spec.endpoint != endpoint for spec in wanted):
            raise ConfigError(f"connection {connection!r} cannot carry that mix of types")
        if wanted:
            build_request(wanted, self.config.wire_format)  # raises on conflicts
        if endpoint != PUBLIC and wanted and self._credentials is None:
            raise AuthenticationError(NO_KEYS)
        self._link(connection).set_wanted(wanted)
        self._wake.set()

    # ---- the watchdog -------------------------------------------------------------------------------

    def _watch(self) -> None:
        interval = self.config.health_check_interval
        next_check = time.monotonic() + interval
        pause = 0.0  # after an unexpected error: a short, growing pause before the next round
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                next_check, wake_at = self._watch_round(next_check, interval)
                pause = 0.0
            except Exception as exc:  # a bug: told, and the watchdog carries on
                self._internal_error("upbit-watchdog", exc)
                pause = min(1.0, max(0.05, pause * 2))
                wake_at = time.monotonic() + pause
            self._wake.wait(max(0.0, wake_at - time.monotonic()))

    def _watch_round(self, next_check: float, interval: float) -> tuple[float, float]:
        """One round: the health checks when due, then each link's next step; returns when the
        next check is due and when to wake up."""
        now = time.monotonic()
        with self._lock:
            links = list(self._links.values())
        if now >= next_check:
            for link in links:
                link.check_stale(now)
            if self._backend is not None:
                self._backend.probe()
            next_check = now + interval
        wake_at = next_check
        for link in links:
            try:
                wake_at = min(wake_at, link.step(time.monotonic()))
            except Exception as exc:  # one link's trouble never holds the others up
                self._internal_error("upbit-watchdog", exc)
                wake_at = min(wake_at, time.monotonic() + 0.1)
        return next_check, wake_at

    def _internal_error(self, thread: str, error: BaseException) -> None:
        """An SDK thread's loop met an unexpected error: counted in ``health()``, and, at most once a
        second per thread (one that repeats every round would flood them), logged with its traceback
        and passed to every client's ``on_error`` as an InternalError."""
        now = time.monotonic()
        with self._lock:
            self._internal_errors[thread] = self._internal_errors.get(thread, 0) + 1
            told = self._internal_told.get(thread)
            if told is not None and now - told < 1.0:
                return
            self._internal_told[thread] = now
        log.error("%s: unexpected error, carrying on", thread, exc_info=error)
        self._clients.error(InternalError(thread, error))


class ManagerLinkOwner:
    """What the links tell the manager (link.LinkOwner)."""

    __slots__ = ("_manager",)

    def __init__(self, manager: WebSocketManager) -> None:
        self._manager = manager

    @property
    def running(self) -> bool:
        return self._manager._running

    def wake(self) -> None:
        self._manager._wake.set()

    def event(self, event: Event) -> None:
        self._manager._clients.event(event)

    def error(self, error: BaseException) -> None:
        self._manager._clients.error(error)

    def connect_permit(self) -> float:
        try:
            return self._manager._connect_limit.try_acquire()
        except RateLimitError as blocked:  # a 418 on an upgrade: nothing until it is over
            return blocked.retry_after or 1.0

    def connect_refused(self, status: int) -> None:
        self._manager._connect_limit.observe(status)

    def fault(self, thread: str, error: BaseException) -> None:
        self._manager._internal_error(thread, error)


class ClientPort:
    """The engine as a client sees it: the one seam between client.py and the manager."""

    def __init__(self, manager: WebSocketManager) -> None:
        self._m = manager
        self.config = manager.config
        self.dispatcher = manager._dispatcher

    def register(self, client: ClientHooks) -> None:
        self._m._clients.add(client)

    def unregister(self, client: ClientHooks) -> None:
        self._m._clients.discard(client)

    def add_listener(self, listener: Listener) -> None:
        """See every data message and event (tests and tools; runs on socket threads)."""
        listeners = self._m._subscriptions.listeners
        if listener not in listeners:
            listeners.append(listener)

    def set_wanted(self, connection: str, specs: Sequence[StreamSpec]) -> None:
        """Make ``connection`` carry ``specs``, whoever asked (tests and tools)."""
        self._m._set_wanted(connection, specs)

    def wanted(self, connection: str) -> tuple[StreamSpec, ...]:
        with self._m._lock:
            link = self._m._links.get(connection)
        return link.wanted if link is not None else ()

    def link(self, connection: str) -> Link | None:
        with self._m._lock:
            return self._m._links.get(connection)

    def ensure_started(self) -> None:
        """Start on first use, but never undo an explicit ``stop()``."""
        if not self._m._running:
            self.ensure_usable()
            self._m.start()

    def ensure_usable(self) -> None:
        """Raise ClosedError after an explicit ``stop()`` (until ``start()``)."""
        if self._m._stopped_explicitly and not self._m._running:
            raise ClosedError("this manager was stopped; call start() to use it again")

    def check_keys(self, message_type: str) -> None:
        """AuthenticationError now, before anything starts, for a type that needs keys none were
        given for."""
        if is_private(message_type) and self._m._credentials is None:
            raise AuthenticationError(NO_KEYS)

    def add_subscription(self, sub: Subscription) -> None:
        """Route ``sub``'s messages and add its codes to its connection's next request."""
        self.check_keys(sub.type)
        self._m._subscriptions.add(sub)
        self._m._wake.set()

    def remove_subscriptions(self, subs: Sequence[Subscription]) -> None:
        self._m._subscriptions.remove_many(subs)

    def batch(self) -> AbstractContextManager[None]:
        """Subscriptions added and cancelled inside reach each connection in one request."""
        return self._m._subscriptions.batch()

    def outage_error(self, connection: str) -> UpbitError | None:
        link = self.link(connection)
        return link.outage_error if link is not None else None

    def bad_message(self, connection: str, error: DecodeError, item: dict[str, Any]) -> None:
        link = self.link(connection)
        if link is not None:
            link.bad_message(error, item)

    def list_subscriptions(self, connection: str, timeout: float) -> SubscriptionList:
        link = self.link(connection)
        if link is None:
            raise ClosedError(f"no connection named {connection!r}")
        return link.list_subscriptions(timeout, self._m._stopping)

    def snapshot(self, spec: StreamSpec, timeout: float) -> list[dict[str, Any]]:
        """One ``is_only_snapshot`` request on a short-lived connection (link.fetch_snapshot); it
        counts toward the connect limit."""
        if spec.endpoint != PUBLIC:
            raise ConfigError("snapshot() serves the public types only")
        deadline = time.monotonic() + timeout
        self._m._connect_limit.acquire(timeout, self._m._stopping)
        return link_module.fetch_snapshot(self.config, spec, max(0.05, deadline - time.monotonic()),
                                          on_refused=self._m._connect_limit.observe)


def port_of(manager: WebSocketManager) -> ClientPort:
    """The internal seam a client (or a test) uses to reach ``manager``'s engine."""
    return manager._port


__all__ = ["ClientPort", "WebSocketManager", "port_of"]
