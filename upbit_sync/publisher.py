"""Publisher: one set of Upbit streams written into Redis Streams for many processes and machines
(docs/architecture.md §11).

It subscribes the public types through a normal :class:`~upbit_sync.client.WebSocketClient` and
writes every message as one entry (``feed_entries``) into ``<prefix>:<type>`` (``XADD ... MAXLEN ~``),
and the lifecycle events into ``<prefix>:events``, all under one increasing id sequence. A writer
thread (``upbit-feed-publisher``) takes whatever has queued since its last write and writes it in one
pipelined transaction: one round trip per burst. A Redis outage is told once (``on_error``, a
WARNING), the messages it costs are counted, and once Redis answers again the gap is published as a
``DataLoss`` per type (connection ``"publisher"``, policy ``"feed"``), never silently.
Consumers: ``WebSocketClient(feed="redis://...")``.
"""

from __future__ import annotations

import collections
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from . import feed_entries as fe
from .client import WebSocketClient
from .config import Backoff, Config
from .errors import ConfigError, ConnectError
from .manager import WebSocketManager
from .protocol import PUBLIC, make_spec
from .redact import redact_url
from .types import DataLoss, Event, Message

log = logging.getLogger(__name__)

PUBLISHER = "publisher"  # the connection name of the events about the publisher's own Redis
BURST = 2_000  # entries in one pipelined write at most


class Publisher:
    """Writes ``types`` of ``markets`` into the Redis Streams at ``url``. ``start()``/``close()``, or
    use it as a context manager. ``manager``: the engine to subscribe through (default: one of its own
    on ``config``)."""

    def __init__(self, url: str, types: Iterable[str], markets: Iterable[str], *, maxlen: int = 100_000,
                 prefix: str = fe.DEFAULT_PREFIX, config: Config | None = None,
                 manager: WebSocketManager | None = None,
                 on_error: Callable[[BaseException], Any] | None = None,
                 on_event: Callable[[Event], Any] | None = None) -> None:
        self.types = list(dict.fromkeys([types] if isinstance(types, str) else types))
        self.markets = list(dict.fromkeys([markets] if isinstance(markets, str) else markets))
        if not self.types:
            raise ConfigError("name at least one type to publish")
        for kind in self.types:
            spec = make_spec(kind, self.markets)
            if spec.endpoint != PUBLIC:
                raise ConfigError(f"a feed publishes the public types only, not {kind!r}")
        if isinstance(maxlen, bool) or not isinstance(maxlen, int) or maxlen < 1:
            raise ConfigError(f"maxlen must be a whole number >= 1, not {maxlen!r}")
        if not isinstance(prefix, str) or not prefix:
            raise ConfigError(f"prefix must be a non-empty string, not {prefix!r}")
        fe.redis_client(url, 1.0).close()  # a URL redis-py cannot use is refused now
        self.url, self.shown_url, self.maxlen, self.prefix = url, redact_url(url), maxlen, prefix
        self._config = config
        self._manager, self._own_manager = manager, manager is None
        self._on_error, self._on_event = on_error, on_event
        self._queue: collections.deque[tuple[str, Any, float]] = collections.deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: WebSocketClient | None = None
        self._redis: Any = None
        self._ids: fe.IdSequence | None = None  # known once Redis has answered
        self._numbers: dict[str, int] = {}
        self._backoff = Backoff(1.0, 30.0)
        self._lost: dict[str, int] = {}  # type -> messages an outage cost, published when it ends
        self._down_since: float | None = None
        self.published = self.lost = self.outages = self.bursts = 0
        self.last_error = ""

    def __repr__(self) -> str:
        return f"<Publisher {self.shown_url} {','.join(self.types)} x {len(self.markets)} markets>"

    def __enter__(self) -> Publisher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def manager(self) -> WebSocketManager | None:
        return self._manager

    def start(self) -> Publisher:
        """Start the writer and subscribe; Redis may still be down (then told, and waited for)."""
        if self._thread is not None:
            return self
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="upbit-feed-publisher", daemon=True)
        self._thread.start()
        if self._manager is None:
            self._manager = WebSocketManager(self._config)
        client = self._client = WebSocketClient(self._manager, on_error=self._error, on_event=self._event)
        for kind in self.types:
            subscribe: Callable[..., Any] = client.subscribe
            subscribe(kind, self.markets, functools.partial(self._message, kind), overflow="block")
        return self

    def close(self, timeout: float = 2.0) -> None:
        """Unsubscribe, write what is queued (within ``timeout``), stop the writer. Idempotent."""
        deadline = time.monotonic() + timeout
        client, self._client = self._client, None
        if client is not None:
            client.close()
        if self._own_manager and self._manager is not None:
            self._manager.stop(max(0.1, (deadline - time.monotonic()) / 2))
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(max(0.1, deadline - time.monotonic()))
        self._thread = None
        if self._redis is not None:
            try:
                self._redis.close()
            except Exception:
                pass
            self._redis = None

    @property
    def stats(self) -> dict[str, Any]:
        """Entries published, messages lost to Redis outages, outages, bursts written."""
        return {"published": self.published, "lost": self.lost, "outages": self.outages,
                "bursts": self.bursts, "queued": len(self._queue), "connected": self._down_since is None
                and self._redis is not None, "last_error": self.last_error}

    # ---- what the client hands over (worker threads) ---------------------------------------------

    def _message(self, kind: str, message: Message) -> None:
        self._queue.append(("m", message, 0.0))
        self._wake.set()

    def _event(self, event: Event) -> None:
        shown = replace(event, connection=f"{PUBLISHER}:{event.connection}")
        self._queue.append(("e", shown, time.time()))
        self._wake.set()
        if self._on_event is not None:
            self._on_event(event)

    def _error(self, error: BaseException) -> None:
        if self._on_error is not None:
            self._on_error(error)

    # ---- the writer thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        retry_at = 0.0
        while True:
            stopping = self._stopping.is_set()
            if not stopping:
                self._wake.wait(0.5)
                self._wake.clear()
            try:
                if self._redis is None or self._ids is None:
                    if time.monotonic() < retry_at:
                        self._discard()
                        if stopping:
                            return
                        continue
                    self._connect()
                    failures = 0
                self._write_lost()
                while self._queue:
                    self._write_burst()
            except Exception as exc:
                if not _redis_trouble(exc):
                    log.exception("feed publisher: unexpected error, carrying on")
                    self._error(exc)
                failures += 1
                self._outage(exc)
                retry_at = time.monotonic() + self._backoff.delay(failures)
                self._discard()
            if stopping:
                return

    def _connect(self) -> None:
        """Redis answers: the id sequence goes on after what its streams hold, the numbers likewise,
        and the meta record says what is published."""
        redis = self._redis or fe.redis_client(self.url, 5.0)
        self._redis = redis
        floor = (0, 0)
        for kind in [*self.types, fe.EVENTS]:
            last = redis.xrevrange(fe.stream_key(self.prefix, kind), count=1)
            if last:
                entry_id, fields = last[0]
                floor = max(floor, fe.parse_id(entry_id))
                if kind != fe.EVENTS:
                    self._numbers[kind] = max(self._numbers.get(kind, 0), fe.entry_number(fields))
        if self._ids is not None:
            floor = max(floor, self._ids.last)
        self._ids = fe.IdSequence(floor)
        redis.hset(fe.meta_key(self.prefix), mapping=fe.meta_record(self.types, self.markets, time.time()))
        if self._down_since is not None:
            log.warning("feed publisher: %s answers again after %.1fs", self.shown_url,
                        time.monotonic() - self._down_since)
        else:
            log.info("feed publisher: writing to %s under %r", self.shown_url, self.prefix)

    def _write_burst(self) -> None:
        queue, ids, key = self._queue, self._ids, self.prefix
        assert ids is not None
        burst: list[tuple[str, Any, float]] = []
        while queue and len(burst) < BURST:
            burst.append(queue.popleft())
        pipe = self._redis.pipeline(transaction=True)
        numbers = dict(self._numbers)
        for what, item, at in burst:
            if what == "m":
                kind = item.type
                numbers[kind] = number = numbers.get(kind, 0) + 1
                pipe.xadd(fe.stream_key(key, kind), fe.data_entry(item, number), id=ids.next(),
                          maxlen=self.maxlen, approximate=True)
            else:
                pipe.xadd(fe.stream_key(key, fe.EVENTS), fe.event_entry(item, at), id=ids.next(),
                          maxlen=self.maxlen, approximate=True)
        try:
            pipe.execute()
        except Exception:
            self._count_lost(burst)
            raise
        self._numbers = numbers
        self.published += len(burst)
        self.bursts += 1

    def _write_lost(self) -> None:
        """After an outage: the messages it cost, one DataLoss per type, before anything newer."""
        if self._down_since is None:
            return
        downtime = time.monotonic() - self._down_since
        lost, self._lost = self._lost, {}
        events = [DataLoss(PUBLISHER, kind, None, count, "feed",
                           f"Redis was unreachable at the publisher for {downtime:.1f}s")
                  for kind, count in sorted(lost.items())]
        self._queue.extendleft(("e", event, time.time()) for event in reversed(events))
        self._down_since = None

    def _count_lost(self, items: Iterable[tuple[str, Any, float]]) -> None:
        for what, item, _ in items:
            if what == "m":
                self._lost[item.type] = self._lost.get(item.type, 0) + 1
                self.lost += 1

    def _discard(self) -> None:
        """While Redis is down, what arrives is counted and let go (memory stays bounded)."""
        items = []
        while self._queue:
            items.append(self._queue.popleft())
        self._count_lost(items)

    def _outage(self, exc: BaseException) -> None:
        redis, self._redis = self._redis, None
        fe.close_quietly(redis)
        self.last_error = str(exc)
        if self._down_since is None:
            self._down_since = time.monotonic()
            self.outages += 1
            log.warning("feed publisher: cannot write to %s: %s; counting what is lost until it "
                        "answers", self.shown_url, exc)
            self._error(ConnectError(PUBLISHER, self.url, str(exc)))


def _redis_trouble(exc: BaseException) -> bool:
    try:
        import redis
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, (redis.RedisError, OSError))


__all__ = ["PUBLISHER", "Publisher"]
