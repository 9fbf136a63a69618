"""FeedLink: a Redis Streams feed read in place of Upbit's sockets (docs/architecture.md §11).

To the manager it is a link: ``set_wanted`` says which type streams to read, and one reader thread
(``upbit-feed-<n>``) reads them in batches (XREAD, or XREADGROUP with a consumer group) and feeds each
entry's SIMPLE JSON to the connection's :class:`~upbit_sync.router.Router`, the path a socket frame
takes: the same decoder, worker pool, per-market order, overflow policies and DataLoss.

Events. The publisher's ids form one increasing sequence over all its streams, and it writes in that
order, so Redis always holds a prefix of it. An event read from ``<prefix>:events`` is handed on just
before the first data entry with a greater id, or, when none came, once a data read *issued after the
event was read* came back with every stream caught up (fewer than COUNT entries): every data entry
before it has then been read (by this reader, or in a group by another consumer).

Groups. With ``group=``, entries are read with XREADGROUP and acknowledged (XACK) once the workers have
delivered them to the callbacks (a barrier queued on every worker after each batch); the ids of the
last event handed on are kept at ``<prefix>:cursor:<group>:<consumer>``. At start the reader first
reads its pending entries (those read before a kill, never acknowledged: delivered again, counted as
``redelivered``), then new ones. Several consumers of one group split the entries: each sees its
share, in order per market. Without a group: live from the streams' ends, no resume; each entry's
number (``n``) shows entries trimmed away (MAXLEN) before they were read, told as a DataLoss.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

from . import feed_entries as fe
from .config import Backoff, Config
from .dispatch import Dispatcher
from .errors import ConfigError, ConnectError, DecodeError, SubscriptionError
from .health import ConnectionHealth, FeedHealth
from .link import LinkOwner
from .protocol import PUBLIC, FrameReader, StreamSpec, typed_decoder
from .redact import redact_url
from .router import Router
from .types import Connected, DataLoss, Disconnected, Event, Reconnected, ServerMessage

log = logging.getLogger(__name__)

FEED = "feed"  # the connection name a feed's own events carry
_serial = iter(range(1, 1 << 62))


class _Batch:
    """The ids of one read, acknowledged once every worker has passed the barrier queued behind it."""

    __slots__ = ("ids", "left")

    def __init__(self, ids: dict[str, list[bytes]], left: int) -> None:
        self.ids, self.left = ids, left


class FeedLink:
    """The reader of one feed (Redis URL, prefix, group, consumer) for one manager."""

    permanent = True

    def __init__(self, url: str, config: Config, owner: LinkOwner, router: Router, dispatcher: Dispatcher,
                 *, group: str | None = None, consumer: str | None = None, prefix: str = fe.DEFAULT_PREFIX,
                 block: float = 1.0, count: int = 500) -> None:
        self.name, self.url, self.shown_url = FEED, url, redact_url(url)
        self.group, self.consumer, self.prefix = group, consumer, prefix
        self._config, self._owner, self._router, self._dispatcher = config, owner, router, dispatcher
        self._block_ms, self._count = max(1, int(block * 1000)), count
        self._backoff = Backoff(config.reconnect_delay, config.reconnect_max_delay)
        reader = FrameReader(router.route, self._on_control, self._bad_frame)
        decode = typed_decoder("SIMPLE")
        assert decode is not None
        router.use(decode, reader.feed)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._paused = threading.Event()  # drain(): no new read starts
        self._reading = threading.Lock()  # held by the reader thread through each read and its hand-off
        self._changed = threading.Event()
        self._thread: threading.Thread | None = None
        self._redis: Any = None
        self.wanted: tuple[StreamSpec, ...] = ()
        self.active = True
        self._kinds: tuple[str, ...] = ()
        self._prepared: set[str] = set()  # kinds whose group or cursor is set on this connection
        self._known: set[str] = set()  # kinds prepared on any connection
        self._cursors: dict[str, str] = {}  # kind -> last id read (no group) / pending cursor (group)
        self._numbers: dict[str, int] = {}  # kind -> the last entry number read (no group)
        self._events_cursor: str | None = None
        self._held: list[tuple[tuple[int, int], bytes, Event]] = []  # events read, not yet handed on
        self._emitted: bytes | None = None  # the id of the last event handed on
        self._unacked: dict[str, set[bytes]] = {}  # read and not yet acknowledged (group)
        self._batches: list[_Batch] = []
        self._done: list[_Batch] = []
        self._meta_checked: tuple[str, ...] | None = None
        self.connected = False
        self.connected_since: float | None = None
        self._down_since: float | None = None
        self._ever_connected = False
        self._error_told_at: float | None = None
        self.outage_error_value: ConnectError | None = None
        self.messages = self.bytes = self.reconnects = self.outages = self.redelivered = 0
        self.lost = self.acked = self.bad_frames = self.attempts = 0
        self.last_id: dict[str, str] = {}
        self.lag_s: float | None = None
        self.last_read_at: float | None = None
        self.last_error = ""

    def __repr__(self) -> str:
        return f"<FeedLink {self.shown_url} group={self.group!r} connected={self.connected}>"

    # ---- what the manager asks (any thread) ------------------------------------------------------

    def set_wanted(self, specs: tuple[StreamSpec, ...]) -> None:
        with self._lock:
            self.wanted = specs
            self._kinds = tuple(sorted({spec.type for spec in specs}))
        self._changed.set()

    @property
    def in_sync(self) -> bool:
        return True

    @property
    def outage_error(self) -> ConnectError | None:
        return self.outage_error_value if not self.connected and self._down_since is not None else None

    def start(self, now: float) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name=f"upbit-feed-{next(_serial)}", daemon=True)
            self._thread.start()

    def step(self, now: float) -> float:
        return math.inf  # the reader thread keeps itself going

    def check_stale(self, now: float) -> None:
        """Nothing to cut: a quiet feed is a quiet market, and a dead Redis fails the next read."""

    def drain(self, timeout: float) -> None:
        """Let the workers deliver every entry already read before the subscriptions go (the last
        client of a manager the application made is closing): no new read starts meanwhile, and
        the entries are acknowledged by the reader's next round, as always once delivered. Without
        this, entries still queued would be dropped with their subscription and acknowledged all
        the same: lost to the group."""
        deadline = time.monotonic() + timeout
        self._paused.set()
        try:
            if not self._reading.acquire(timeout=max(0.0, deadline - time.monotonic())):
                log.warning("feed: a read still under way at close; its entries may go undelivered")
                return
            try:
                self._wait_for_batches(deadline)
            finally:
                self._reading.release()
        finally:
            self._paused.clear()
            self._changed.set()

    def _wait_for_batches(self, deadline: float) -> None:
        """Hand what the router holds to the workers and wait (until ``deadline``) until they have
        passed the barriers behind every batch read."""
        self._router.hand_off()
        self._dispatcher.flush()
        while time.monotonic() < deadline:
            with self._lock:
                if not self._batches:
                    return
            time.sleep(0.002)  # the workers run the barriers: a short poll, bounded by the deadline

    def stop(self, timeout: float) -> None:
        """Stop reading; wait (within ``timeout``) until the workers delivered what was read, then
        acknowledge it: a clean stop leaves nothing pending, so a restart neither loses nor repeats."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        self._changed.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.05, deadline - time.monotonic()))
        self._wait_for_batches(deadline)
        if self._redis is not None and not (thread is not None and thread.is_alive()):
            try:
                self._ack()
            except Exception as exc:  # Redis gone: those entries stay pending, delivered again
                log.warning("feed: acknowledgements not written at stop: %s", exc)
            try:
                self._redis.close()
            except Exception:
                pass
        self._redis = None
        self.connected = False

    def bad_message(self, error: DecodeError, item: dict[str, Any]) -> None:
        self._bad_frame(error, repr(item)[:200])

    # ---- the reader thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                if self._redis is None:
                    self._connect()
                if not self._kinds or self._paused.is_set():
                    if not self._paused.is_set():
                        self._ack()
                    self._changed.wait(self._block_ms / 1000)
                    self._changed.clear()
                    continue
                with self._reading:
                    self._round()
                failures = 0
            except Exception as exc:
                if not _is_redis_error(exc):
                    self._owner.fault(threading.current_thread().name, exc)
                    self._stopping.wait(0.1)
                    continue
                failures += 1
                self._lost_connection(exc)
                self._stopping.wait(self._backoff.delay(failures))

    def _connect(self) -> None:
        self.attempts += 1
        client = fe.redis_client(self.url, self._block_ms / 1000 + 5.0)
        try:
            client.ping()
        except Exception:
            client.close()
            raise
        self._redis, self._prepared = client, set()
        if self.group is not None:
            self._unacked_pending_restart()
        now = time.monotonic()
        self.connected, self.connected_since = True, time.time()
        event: Event
        if self._ever_connected:
            self.reconnects += 1
            downtime = now - self._down_since if self._down_since is not None else 0.0
            event = Reconnected(FEED, round(downtime, 4))
        else:
            event = Connected(FEED, self.shown_url)
        self._ever_connected, self._down_since, self._error_told_at = True, None, None
        self.outage_error_value = None
        log.info("feed: connected to %s", self.shown_url)
        self._owner.event(event)

    def _unacked_pending_restart(self) -> None:
        for kind in self._kinds:
            self._cursors[kind] = "0"  # the pending entries first (those in flight here are skipped)

    def _lost_connection(self, exc: BaseException) -> None:
        redis, self._redis = self._redis, None
        fe.close_quietly(redis)
        self.last_error = str(exc)
        now = time.monotonic()
        first = self.connected or (self._down_since is None)
        if self._down_since is None:
            self._down_since = now
        self.connected = False
        error = ConnectError(FEED, self.url, str(exc))
        self.outage_error_value = error
        told = self._error_told_at
        if first or told is None or now - told >= self._config.reconnect_max_delay:
            self._error_told_at = now
            if first:
                self.outages += 1
                log.warning("feed: lost %s: %s; reading again when it answers", self.shown_url, exc)
                self._owner.event(Disconnected(FEED, None, str(exc)))
            self._owner.error(error)

    def _prepare(self, kinds: tuple[str, ...]) -> None:
        """Each stream's group (made if missing) or starting cursor, once per connection."""
        redis = self._redis
        for kind in kinds:
            if kind in self._prepared:
                continue
            key = fe.stream_key(self.prefix, kind)
            if self.group is not None:
                # a new group starts at the end; one gone with a restarted Redis, at the start
                self._ensure_group(key, "0" if kind in self._known else "$")
                self._known.add(kind)
                self._cursors.setdefault(kind, "0")
            elif kind not in self._cursors:
                last = redis.xrevrange(key, count=1)
                self._cursors[kind] = last[0][0].decode() if last else "0-0"
            self._prepared.add(kind)
        if self._events_cursor is None:
            self._events_cursor = self._first_event_cursor()
        if self._meta_checked != kinds:
            self._meta_checked = kinds
            self._check_meta()

    def _ensure_group(self, key: str, start: str) -> None:
        try:
            self._redis.xgroup_create(key, self.group, id=start, mkstream=True)
        except Exception as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _first_event_cursor(self) -> str:
        redis, events = self._redis, fe.stream_key(self.prefix, fe.EVENTS)
        if self.group is not None:
            saved = redis.get(self._cursor_key())
            if saved:
                return str(saved.decode())
        last = redis.xrevrange(events, count=1)
        return last[0][0].decode() if last else "0-0"

    def _cursor_key(self) -> str:
        return f"{self.prefix}:cursor:{self.group}:{self.consumer}"

    def _check_meta(self) -> None:
        """Warn of a type or market the feed's publisher does not publish (it would never arrive)."""
        meta = fe.read_meta(self._redis.hgetall(fe.meta_key(self.prefix)))
        if not meta["types"]:
            log.warning("feed: nothing says what %s publishes under %r (no publisher has started)",
                        self.shown_url, self.prefix)
            return
        for spec in self.wanted:
            missing = [code for code in spec.codes if code not in meta["markets"]]
            if spec.type not in meta["types"] or missing:
                what = spec.type if spec.type not in meta["types"] else f"{spec.type} {', '.join(missing)}"
                log.warning("feed: the publisher at %s does not publish %s", self.shown_url, what)

    def _round(self) -> None:
        with self._lock:
            kinds = self._kinds
        self._prepare(kinds)
        self._ack()
        self._read_events()
        keys = {fe.stream_key(self.prefix, kind): kind for kind in kinds}
        history = False
        if self.group is not None:
            ids = {key: self._cursors.get(kind, ">") for key, kind in keys.items()}
            history = any(i != ">" for i in ids.values())
            reply = self._redis.xreadgroup(self.group, self.consumer, ids, count=self._count,
                                           block=None if history else self._block_ms)
        else:
            ids = {key: self._cursors[kind] for key, kind in keys.items()}
            reply = self._redis.xread(ids, count=self._count, block=self._block_ms)
        self.last_read_at = time.monotonic()
        self._handle(reply or [], keys, history)

    def _read_events(self) -> None:
        events = fe.stream_key(self.prefix, fe.EVENTS)
        reply = self._redis.xread({events: self._events_cursor}, count=200)
        for _, entries in reply or []:
            for entry_id, fields in entries:
                self._events_cursor = entry_id.decode()
                try:
                    self._held.append((fe.parse_id(entry_id), entry_id, fe.read_event(fields)))
                except DecodeError as exc:
                    self._bad_frame(exc, repr(fields)[:200])

    def _handle(self, reply: list[Any], keys: Mapping[str, str], history: bool) -> None:
        caught_up = not history
        frontier: tuple[float, int] = (math.inf, 0)
        entries: list[tuple[tuple[int, int], str, bytes, Any]] = []
        seen: set[str] = set()
        for key, items in reply:
            kind = keys[key.decode() if isinstance(key, bytes) else key]
            seen.add(kind)
            if history:
                if not items:
                    self._cursors.pop(kind, None)  # its pending entries are done: new ones now
                else:
                    self._cursors[kind] = items[-1][0].decode()
            if len(items) >= self._count:
                caught_up = False
                frontier = min(frontier, fe.parse_id(items[-1][0]))
            for entry_id, fields in items:
                entries.append((fe.parse_id(entry_id), kind, entry_id, fields))
        if history:
            for kind in set(keys.values()) - seen:
                self._cursors.pop(kind, None)
        entries.sort(key=lambda e: e[0])
        held = self._held
        ids: dict[str, list[bytes]] = {}
        router, feed = self._router, self._router.feed
        for pair, kind, entry_id, fields in entries:
            while held and held[0][0] < pair and held[0][0] <= frontier:
                self._emit(held.pop(0))
            if self.group is not None:
                unacked = self._unacked.setdefault(kind, set())
                if history and entry_id in unacked:
                    continue  # in flight here already (read before a reconnect)
                if history:
                    self.redelivered += 1
                unacked.add(entry_id)
                ids.setdefault(fe.stream_key(self.prefix, kind), []).append(entry_id)
            else:
                self._cursors[kind] = entry_id.decode()
            self.last_id[kind] = entry_id.decode()
            if not fields:  # a pending entry trimmed away meanwhile
                self._loss(kind, 1, "a pending entry was trimmed from the stream before it was read")
                continue
            if self.group is None:
                self._count_gap(kind, fe.entry_number(fields))
            frame = fields.get(b"m")
            if frame is None:
                continue
            at = fe.received_at(fields)
            self.messages += 1
            self.bytes += len(frame)
            feed(frame, at)
            if at:
                self.lag_s = max(0.0, time.time() - at)
        # caught up: every entry before the events read ahead of this read has been read
        while held and (caught_up or held[0][0] <= frontier):
            self._emit(held.pop(0))
        router.hand_off()
        self._dispatcher.flush()
        if ids:
            self._barrier(ids)

    def _count_gap(self, kind: str, number: int) -> None:
        last = self._numbers.get(kind)
        self._numbers[kind] = number
        if last is not None and number > last + 1:
            self._loss(kind, number - last - 1, "entries were trimmed from the stream (MAXLEN) or lost "
                       "with Redis before they were read")

    def _loss(self, kind: str, count: int, reason: str) -> None:
        self.lost += count
        log.warning("feed: %d %s message(s) lost: %s", count, kind, reason)
        self._router.hand_off()
        self._owner.event(DataLoss(FEED, kind, None, count, "feed", reason))

    def _emit(self, item: tuple[tuple[int, int], bytes, Event]) -> None:
        self._router.hand_off()  # the data read before it goes first
        self._dispatcher.flush()
        self._emitted = item[1]
        self._owner.event(item[2])

    # ---- acknowledgements ----------------------------------------------------------------------------

    def _barrier(self, ids: dict[str, list[bytes]]) -> None:
        workers = self._dispatcher.workers
        batch = _Batch(ids, workers)
        with self._lock:
            self._batches.append(batch)
        for index in range(workers):  # an int key is served by the worker of its own number
            self._dispatcher.call(index, self._passed, batch)

    def _passed(self, batch: _Batch) -> None:
        with self._lock:
            batch.left -= 1
            if batch.left == 0:
                self._batches.remove(batch)
                self._done.append(batch)

    def _ack(self) -> None:
        with self._lock:
            done, self._done = self._done, []
        emitted, self._emitted = self._emitted, None
        if not done and (emitted is None or self.group is None):
            return
        redis = self._redis
        pipe = redis.pipeline(transaction=False)
        count = 0
        by_key: dict[str, list[bytes]] = {}
        for batch in done:
            for key, ids in batch.ids.items():
                by_key.setdefault(key, []).extend(ids)
        for key, ids in by_key.items():
            pipe.xack(key, self.group, *ids)
            count += len(ids)
        if emitted is not None and self.group is not None:
            pipe.set(self._cursor_key(), emitted)
        try:
            pipe.execute(raise_on_error=False)
        except Exception:
            with self._lock:
                self._done = done + self._done
            if emitted is not None and self._emitted is None:
                self._emitted = emitted
            raise
        self.acked += count
        kinds = {key.rsplit(":", 1)[1]: ids for key, ids in by_key.items()}
        for kind, ids in kinds.items():
            self._unacked.get(kind, set()).difference_update(ids)

    @property
    def pending(self) -> int:
        return sum(len(ids) for ids in self._unacked.values())

    # ---- odds and ends -------------------------------------------------------------------------------

    def _on_control(self, message: ServerMessage) -> None:
        """A status or error reply has no place in a feed: skipped."""

    def _bad_frame(self, error: DecodeError, frame: Any) -> None:
        self.bad_frames += 1
        if self.bad_frames <= 10 or self.bad_frames % 1000 == 0:
            log.warning("feed: bad entry #%d skipped: %s (%.80r)", self.bad_frames, error, frame)

    def connection_health(self, queued: Mapping[str, int]) -> ConnectionHealth:
        """The feed as one connection of ``health()["connections"]``."""
        age = None if self.last_read_at is None else round(time.monotonic() - self.last_read_at, 3)
        return ConnectionHealth(
            state="OPEN" if self.connected else "CLOSED", url=self.shown_url,
            healthy=self.connected, connected_since=self.connected_since if self.connected else None,
            last_message_age_s=age, reconnects=self.reconnects, recycles=0, connect_attempts=self.attempts,
            refused_upgrades=0, messages=self.messages, bytes=self.bytes, compression=False,
            wire_bytes=self.bytes, ends={"outage": self.outages},
            queue_depth=queued.get("queue_depth", 0), queue_bytes=queued.get("queue_bytes", 0),
            drops=queued.get("drops", 0), bad_frames=self.bad_frames, requests_sent=0,
            subscriptions=sum(max(1, len(spec.codes)) for spec in self.wanted), in_sync=True,
            last_error=self.last_error,
        )

    def feed_health(self) -> FeedHealth:
        """What ``health()["feed"]`` says."""
        return FeedHealth(
            url=self.shown_url, prefix=self.prefix, group=self.group, consumer=self.consumer,
            connected=self.connected, streams=list(self._kinds), last_id=dict(self.last_id),
            lag_s=None if self.lag_s is None else round(self.lag_s, 4), messages=self.messages,
            pending=self.pending, acked=self.acked, redelivered=self.redelivered,
            lost=self.lost, outages=self.outages, last_error=self.last_error,
        )


def open_feed(url: str, config: Config, owner: LinkOwner, router: Router, dispatcher: Dispatcher, *,
              group: str | None, consumer: str | None, prefix: str, block: float) -> FeedLink:
    """The FeedLink of a manager made with ``feed=url``: the URL and names checked now (ConfigError).
    ``consumer`` defaults to the host name: give each process of a group a name of its own, the
    same after a restart (its pending entries are its own); ``block``: seconds one read waits."""
    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"feed must be a redis://, rediss:// or unix:// URL, not {url!r}")
    for name, value in (("group", group), ("consumer", consumer)):
        if value is not None and (not isinstance(value, str) or not value or ":" in value):
            raise ConfigError(f"{name} must be a non-empty name without ':', not {value!r}")
    if group is not None and consumer is None:
        consumer = socket.gethostname()
    fe.redis_client(url, 1.0).close()  # a URL redis-py cannot use is refused now
    return FeedLink(url, config, owner, router, dispatcher, group=group, consumer=consumer, prefix=prefix,
                    block=block)


def feed_refusal(link: FeedLink, what: str, why: str) -> SubscriptionError:
    return SubscriptionError(f"{what} is not available on a feed ({link.shown_url}): {why}")


def check_feed_subscription(link: FeedLink, spec: StreamSpec, backfill: bool) -> None:
    """Only the public types, as published (no depth or level of its own, no backfill): anything
    else is refused before anything is sent."""
    if spec.endpoint != PUBLIC:
        raise feed_refusal(link, spec.type, "a feed carries the public types only")
    if spec.depth is not None or spec.level is not None:
        raise feed_refusal(link, "orderbook depth or level", "its orderbooks are as the publisher "
                           "subscribed them")
    if backfill:
        raise feed_refusal(link, "backfill", "its gaps are the publisher's, told as DataLoss events")


def _is_redis_error(exc: BaseException) -> bool:
    try:
        import redis
    except ImportError:  # pragma: no cover - the link cannot exist without it
        return False
    return isinstance(exc, (redis.RedisError, OSError))


__all__ = ["FEED", "FeedLink", "check_feed_subscription", "feed_refusal", "open_feed"]
