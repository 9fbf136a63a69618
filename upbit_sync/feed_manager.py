"""FeedManager: the engine of a client that reads a Redis Streams feed instead of Upbit's sockets
(docs/architecture.md §11).

The same worker pool, subscriptions, routers and events as :class:`WebSocketManager`, with one
:class:`~upbit_sync.feed_link.FeedLink` in place of the links: what the subscriptions want says which
type streams it reads. One manager per feed (URL, group, consumer) per process (:meth:`for_feed`).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import ClassVar

from . import feed_entries
from .config import Config
from .errors import ConfigError
from .feed_link import FeedLink, check_feed_subscription, feed_refusal, open_feed
from .health import Health
from .manager import ClientPort, ManagerLinkOwner, WebSocketManager
from .protocol import PUBLIC, StreamSpec
from .subscriptions import ClientHooks

FeedKey = tuple[str, str | None, str | None]
CLOSE_TIMEOUT = 5.0  # seconds a closing client waits for the workers to deliver what was read


class FeedManager(WebSocketManager):
    """A manager whose messages come from a ``Publisher``'s Redis Streams at ``feed``.

    ``group``: a consumer group (XREADGROUP): a restarted process resumes where its group left off,
    and the group's consumers split the entries; ``consumer`` defaults to the host name (give each
    process of a group its own name, the same after a restart). ``prefix``: the publisher's;
    ``block``: seconds one read waits for entries."""

    _feeds: ClassVar[dict[FeedKey, FeedManager]] = {}
    _feeds_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, config: Config | None = None, *, feed: str, group: str | None = None,
                 consumer: str | None = None, prefix: str = feed_entries.DEFAULT_PREFIX,
                 block: float = 1.0) -> None:
        super().__init__(config)
        self._registry_key: FeedKey | None = None
        router = self._subscriptions.router(PUBLIC, self._dispatcher, self.config.metrics)
        self.feed_link: FeedLink = open_feed(feed, self.config, ManagerLinkOwner(self), router,
                                             self._dispatcher, group=group, consumer=consumer,
                                             prefix=prefix, block=block)
        self._port = FeedPort(self)

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"FeedManager({state}, feed={self.feed_link.shown_url}, group={self.feed_link.group!r})"

    @classmethod
    def for_feed(cls, url: str, group: str | None = None, consumer: str | None = None,
                 config: Config | None = None) -> FeedManager:
        """The process's manager of one feed, made on first use (on ``Config.from_env()`` when no
        config is given); an explicit ``stop()`` forgets it, so the next call makes a fresh one."""
        key = (url, group, consumer)
        with cls._feeds_lock:
            manager = cls._feeds.get(key)
            if manager is None or manager._stopped_explicitly:
                manager = cls(config if config is not None else Config.from_env(), feed=url, group=group,
                              consumer=consumer)
                manager._registry_key = key
                cls._feeds[key] = manager
            return manager

    @property
    def feed(self) -> str:
        """Where the feed is (the URL, any password masked)."""
        return self.feed_link.shown_url

    def _start_links(self, now: float) -> None:
        self.feed_link.start(now)

    def _links_stopped(self, deadline: float) -> None:
        import time

        self.feed_link.stop(max(0.1, deadline - time.monotonic() - 0.1))
        with self._feeds_lock:
            if self._registry_key is not None and self._feeds.get(self._registry_key) is self:
                del self._feeds[self._registry_key]

    def _set_wanted(self, connection: str, specs: Sequence[StreamSpec]) -> None:
        if connection != PUBLIC:
            raise ConfigError(f"a feed carries the public types only, not connection {connection!r}")
        self.feed_link.set_wanted(tuple(specs))

    def health(self) -> Health:
        """As for a socket manager, with the feed as the one connection ("feed") and ``feed``: its
        lag, last ids, pending and redelivered entries."""
        report = super().health()
        link = self.feed_link
        queued = self._dispatcher.by_connection().get(PUBLIC, {})
        report["connections"] = {link.name: link.connection_health(queued)}
        report["healthy"] = self._running and link.connected
        report["feed"] = link.feed_health()
        return report


class FeedPort(ClientPort):
    """The engine as a feed's client sees it: the refusals of what a feed cannot serve, and the
    close that acknowledges what was delivered."""

    def __init__(self, manager: FeedManager) -> None:
        super().__init__(manager)
        self._feed_manager = manager
        self._clients: weakref.WeakSet[ClientHooks] = weakref.WeakSet()

    @property
    def feed(self) -> FeedLink:
        return self._feed_manager.feed_link

    def register(self, client: ClientHooks) -> None:
        super().register(client)
        self._clients.add(client)

    def unregister(self, client: ClientHooks) -> None:
        super().unregister(client)
        self._clients.discard(client)

    def refuse(self, what: str, why: str) -> None:
        raise feed_refusal(self.feed, what, why)

    def check_subscription(self, spec: StreamSpec, backfill: bool) -> None:
        check_feed_subscription(self.feed, spec, backfill)

    def client_closing(self, client: ClientHooks) -> None:
        """The manager's last client closes: what was read is delivered (and so acknowledged) before
        the subscriptions end, so nothing is lost to a group and nothing repeated. A manager made
        for the client (``WebSocketClient(feed=...)``) stops; one the application made keeps
        running, its reads paused until the workers are through."""
        if [other for other in list(self._clients) if other is not client]:
            return
        if self._feed_manager._registry_key is None:
            self.feed.drain(CLOSE_TIMEOUT)
        else:
            self._feed_manager.stop()


__all__ = ["FeedManager", "FeedPort"]
