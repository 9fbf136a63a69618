"""Rate limits for connects, request messages and REST groups (docs/upbit.md §5).

Every limit is a pyrate-limiter bucket used directly, without a ``Limiter`` (whose "Leaker" thread
outlives ``close()``): callers ask how long to wait and do the waiting themselves, on an event they
can interrupt. A bucket lives in this process's memory, or, to share one budget between processes and
machines, in a SQLite file or a Redis server (``Config.rate_limit_backend``); items are stamped with
the bucket's own clock, since the shared buckets keep wall-clock time.

REST groups adapt (:class:`GroupLimit`): every answer's ``Remaining-Req`` is read, a 429 cuts the
group's rate by the configured :class:`~upbit_sync.config.RateStrategy` and the rate comes back over
clean minutes, and a 418 blocks the group: calls raise RateLimitError with the wait left instead of
hammering the exchange. The WebSocket connect limit follows the same rules.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import re
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from pyrate_limiter import AbstractBucket, Decision, InMemoryBucket, Rate, RateItem

from .config import Config, RateStrategy
from .errors import BackendError, ConfigError, RateLimitError
from .health import BackendHealth
from .redact import redact, redact_url

log = logging.getLogger(__name__)

# Our clock and the server's are not the same, and a frame spends time in flight: windows are
# stretched by this factor so a burst we allow is never seen by the server as one too many.
WINDOW_MARGIN = 1.1

# group -> (requests, per seconds, counted per "ip" or "pocket") (docs/upbit.md §5)
GROUPS: dict[str, tuple[int, float, str]] = {
    "market": (10, 1.0, "ip"),
    "candle": (10, 1.0, "ip"),
    "trade": (10, 1.0, "ip"),
    "ticker": (10, 1.0, "ip"),
    "orderbook": (10, 1.0, "ip"),
    "default": (30, 1.0, "pocket"),
    "order": (12, 1.0, "pocket"),
    "order-test": (8, 1.0, "pocket"),
    "order-cancel-all": (1, 2.0, "pocket"),
    "websocket-connect": (5, 1.0, "ip"),
}
_QUOTATION_PREFIXES = (("/v1/market", "market"), ("/v1/candles", "candle"), ("/v1/trades", "trade"),
                       ("/v1/ticker", "ticker"), ("/v1/orderbook", "orderbook"))
LONG_WAIT = 1.0  # a wait longer than this is logged at WARNING


def group_of(method: str, path: str) -> str:
    """The rate-limit group of a REST call."""
    for prefix, group in _QUOTATION_PREFIXES:
        if path.startswith(prefix):
            return group
    method = method.upper()
    if method == "POST" and path.rstrip("/") in ("/v1/orders", "/v1/orders/cancel_and_new"):
        return "order"
    if method == "POST" and path.rstrip("/") == "/v1/orders/test":
        return "order-test"
    if method == "DELETE" and path.rstrip("/") == "/v1/orders/open":
        return "order-cancel-all"
    return "default"


# ---- buckets ---------------------------------------------------------------------------------------

# A shared budget runs this much under Upbit's figure: an item stamped just before another process's
# is not counted by that process's check (the stores compare stamps), and calls leave a little after
# their permit. One call in twenty, and at least one, keeps what arrives in any second under the figure.
SHARED_HEADROOM = 0.05
PROBE_INTERVAL = 5.0  # seconds between tries of a shared backend that failed
STORE_TIMEOUT = 1.0  # seconds a Redis connect or command may take before the backend counts as failed
TRIM_EVERY = 64  # a shared bucket's old items are trimmed on every this many puts


class SharedBackend:
    """One shared store (a SQLite file or a Redis server) as this process sees it: up, or down since
    a failure and tried again every ``PROBE_INTERVAL``. One per URL per process (:func:`backend_for`).

    A failure is told once per outage: a WARNING, and a :class:`BackendError` to every listener (a
    manager passes it to its clients' ``on_error``). Thread-safe."""

    def __init__(self, url: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.shown = redact_url(url)
        self._clock = clock
        self._lock = threading.Lock()
        self._listeners: list[weakref.WeakMethod[Callable[[BackendError], None]]] = []
        self.state = "up"
        self.down_since: float | None = None
        self.outages = 0
        self.last_error = ""
        self._next_probe = 0.0
        self._redis: Any = None

    def __repr__(self) -> str:
        return f"<SharedBackend {self.shown} {self.state}>"

    def add_listener(self, method: Callable[[BackendError], None]) -> None:
        """Tell ``method`` (a bound method, held weakly) of each outage."""
        with self._lock:
            self._listeners.append(weakref.WeakMethod(method))

    def due(self) -> bool:
        """True while the backend is up, and once per ``PROBE_INTERVAL`` while it is down."""
        if self.state == "up":
            return True
        with self._lock:
            now = self._clock()
            if now < self._next_probe:
                return False
            self._next_probe = now + PROBE_INTERVAL
            return True

    def failed(self, exc: BaseException) -> None:
        """A call to the store failed: fall back (told once per outage) and try again later."""
        cause = redact(f"{type(exc).__name__}: {exc}")[:300]
        with self._lock:
            self.last_error = cause
            self._next_probe = self._clock() + PROBE_INTERVAL
            if self.state == "down":
                return
            self.state, self.down_since = "down", time.time()
            self.outages += 1
            listeners = [ref() for ref in self._listeners]
            self._listeners = [ref for ref in self._listeners if ref() is not None]
        log.warning("shared rate-limit backend %s failed (%s): limits are counted in this process alone "
                    "until it answers again (tried every %gs)", self.shown, cause, PROBE_INTERVAL)
        error = BackendError(self.shown, cause)
        for listener in listeners:
            if listener is not None:
                try:
                    listener(error)
                except Exception:
                    log.exception("a listener of %s failed", self.shown)

    def answered(self) -> None:
        """A call to the store went through: if it was down, sharing resumes."""
        if self.state == "up":
            return
        with self._lock:
            if self.state == "up":
                return
            down_for = time.time() - (self.down_since or time.time())
            self.state, self.down_since = "up", None
        log.warning("shared rate-limit backend %s answers again after %.1fs: limits are shared again",
                    self.shown, down_for)

    def probe(self) -> None:
        """While down, and at most once per ``PROBE_INTERVAL``, ask the store whether it answers
        again (a manager's watchdog does, so an idle process learns of it too)."""
        if self.state == "up" or not self.due():
            return
        try:
            if self.url.startswith("sqlite://"):
                _check_sqlite(self.url[len("sqlite://"):], self.shown)
            else:
                self._redis.ping()
        except Exception as exc:
            self.failed(exc)
        else:
            self.answered()

    def health(self) -> BackendHealth:
        with self._lock:
            return BackendHealth(url=self.shown, state=self.state, down_since=self.down_since,
                                 outages=self.outages, last_error=self.last_error)

    def open(self, key: str, rates: list[Rate]) -> AbstractBucket:
        """A pyrate-limiter bucket named ``key`` in this store (may raise whatever the store raises)."""
        if self.url.startswith("sqlite://"):
            from pyrate_limiter import SQLiteBucket

            table = "upbit_" + re.sub(r"\W", "_", key)
            bucket: AbstractBucket = SQLiteBucket.init_from_file(
                rates, table=table, db_path=self.url[len("sqlite://"):], create_new_table=True,
                use_file_lock=True)
            return bucket
        from pyrate_limiter import RedisBucket

        return RedisBucket.init(rates, self._redis, bucket_key=key)  # type: ignore[no-any-return]

    def check(self) -> None:
        """ConfigError now for a backend that can never work (a bad URL, a file that is not a
        database, a missing package); a store that is only down is not an error here."""
        if self.url.startswith("sqlite://"):
            _check_sqlite(self.url[len("sqlite://"):], self.shown)
            return
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:
            raise ConfigError("a redis:// rate_limit_backend needs the redis package: "
                              "pip install 'upbit-sync[redis]'") from None
        try:  # no retries inside redis-py: a failed call falls back at once, and is tried again later
            self._redis = redis.Redis.from_url(self.url, socket_timeout=STORE_TIMEOUT,
                                               socket_connect_timeout=STORE_TIMEOUT,
                                               retry=Retry(NoBackoff(), 0))
        except ValueError as exc:
            raise ConfigError(f"rate_limit_backend {self.shown} is not a Redis URL redis-py can use: "
                              f"{redact(str(exc))}") from None


def _check_sqlite(path: str, shown: str) -> None:
    import sqlite3

    try:
        import filelock  # noqa: F401 - pyrate-limiter's SQLite bucket locks its file with it
    except ImportError:
        raise ConfigError("a sqlite rate_limit_backend needs the filelock package: "
                          "pip install 'upbit-sync[sqlite]'") from None
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=STORE_TIMEOUT)) as db:
            db.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:  # not a database, a folder that does not exist, no access
        raise ConfigError(f"rate_limit_backend {shown} cannot be used: {exc}") from None


class SharedBucket:
    """A limit's bucket in a shared store, and the in-memory bucket with the same figures that
    stands in while the store fails. The store's bucket is made on first use, and made again after
    a failure (a restarted Redis has forgotten its script)."""

    def __init__(self, backend: SharedBackend, key: str, rates: list[Rate]) -> None:
        self.backend, self.key = backend, key
        self._rates = rates
        self._bucket: AbstractBucket | None = None
        self.fallback = InMemoryBucket(rates)
        self._puts = 0

    @property
    def rates(self) -> list[Rate]:
        return self._rates

    @rates.setter
    def rates(self, rates: list[Rate]) -> None:
        self._rates = rates
        self.fallback.rates = rates
        if self._bucket is not None:
            self._bucket.rates = rates

    def decide(self, name: str) -> Decision | None:
        """The store's decision on one permit, or None when it cannot give one now (down: the
        caller asks the fallback)."""
        backend = self.backend
        if not backend.due():
            return None
        self._puts += 1
        trim = self._puts % TRIM_EVERY == 1
        try:
            try:
                if self._bucket is None:
                    self._bucket = backend.open(self.key, self._rates)
                decision = put(self._bucket, name, trim)
            except Exception as exc:
                if type(exc).__name__ != "NoScriptError":
                    raise
                # a restarted Redis has forgotten the bucket's script: load it again, once
                self._bucket = backend.open(self.key, self._rates)
                decision = put(self._bucket, name, trim)
        except Exception as exc:  # any failure of the store, whatever its library raises
            self._bucket = None
            backend.failed(exc)
            return None
        backend.answered()
        return decision


def put(bucket: AbstractBucket, name: str, trim: bool = True) -> Decision:
    """One permit asked of ``bucket``, stamped with the bucket's own clock (the shared ones keep
    wall time); ``trim`` first drops what has left every window (no Leaker thread does it)."""
    now_ms = int(bucket.now())  # type: ignore[no-untyped-call]
    if trim:
        bucket.leak(now_ms)
    decision = bucket.put_decision(RateItem(name, now_ms))
    assert isinstance(decision, Decision)  # sync buckets decide synchronously
    return decision


_backends: dict[str, SharedBackend] = {}
_backends_lock = threading.Lock()


def backend_for(url: str) -> SharedBackend:
    """The process's view of the shared backend at ``url``; ConfigError if it can never work."""
    with _backends_lock:
        backend = _backends.get(url)
        if backend is None:
            backend = SharedBackend(url)
            backend.check()
            _backends[url] = backend
        return backend


def open_bucket(backend: str, key: str, count: int, seconds: float) -> AbstractBucket | SharedBucket:
    """A bucket for ``count`` per ``seconds`` named ``key`` on ``backend`` ("memory",
    "sqlite:///path", redis://); a shared one runs ``SHARED_HEADROOM`` under the figure."""
    if backend == "memory":
        return InMemoryBucket(_rates([(count, seconds)]))
    shared = max(1, count - math.ceil(count * SHARED_HEADROOM))
    return SharedBucket(backend_for(backend), key, _rates([(shared, seconds)]))


def _rates(limits: Sequence[tuple[float, float]]) -> list[Rate]:
    return [Rate(int(count), int(seconds * 1000 * WINDOW_MARGIN)) for count, seconds in limits]


class RateGate:
    """One named limit, e.g. 5 per second and 100 per minute; thread-safe."""

    def __init__(self, name: str, limits: Sequence[tuple[float, float]],
                 bucket: AbstractBucket | SharedBucket | None = None) -> None:
        """``limits``: ``(count, seconds)`` pairs, all of which must hold; ``bucket``: where they are
        counted (in memory when None; a SharedBucket falls back to memory while its store fails)."""
        self.name = name
        self.limits = tuple(limits)
        self._shared: SharedBucket | None = None
        if isinstance(bucket, SharedBucket):
            self._shared, bucket = bucket, bucket.fallback
        self._bucket: AbstractBucket = bucket if bucket is not None else InMemoryBucket(_rates(limits))
        self._lock = threading.Lock()
        self.waits = 0  # times a caller was told to wait

    def __repr__(self) -> str:
        limits = ", ".join(f"{n:g}/{s:g}s" for n, s in self.limits)
        return f"RateGate({self.name!r}, {limits})"

    def set_limits(self, limits: Sequence[tuple[float, float]]) -> None:
        """Change the limits at once (the items already counted stay)."""
        with self._lock:
            self.limits = tuple(limits)
            (self._shared or self._bucket).rates = _rates(limits)

    def try_acquire(self) -> float:
        """Take a permit and return 0.0, or take nothing and return the seconds to wait."""
        with self._lock:
            decision = self._shared.decide(self.name) if self._shared is not None else None
            if decision is None:
                decision = put(self._bucket, self.name)
            if decision.allowed:
                return 0.0
            self.waits += 1
            retry_ms = decision.retry_after_ms
            return max(retry_ms if retry_ms is not None else 50, 1) / 1000

    def acquire(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Wait up to ``timeout`` seconds for a permit; False on timeout or when ``stop`` is set."""
        deadline = time.monotonic() + timeout
        while True:
            wait = self.try_acquire()
            if wait == 0.0:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if stop is not None:
                if stop.wait(min(wait, remaining)):
                    return False
            else:
                time.sleep(min(wait, remaining))


def message_gate(per_second: int = 5, per_minute: int = 100) -> RateGate:
    """Upbit's websocket-message limit: one per socket, in memory; LIST_SUBSCRIPTIONS counts too."""
    return RateGate("websocket-message", [(per_second, 1.0), (per_minute, 60.0)])


# ---- adaptive groups -------------------------------------------------------------------------------


def parse_remaining(headers: Mapping[str, str]) -> dict[str, str]:
    """``Remaining-Req: group=default; min=1800; sec=29`` (any header case) as a dict; {} if absent."""
    value = next((v for k, v in headers.items() if k.lower() == "remaining-req"), None)
    if not value:
        return {}
    fields = {}
    for part in value.split(";"):
        name, _, text = part.partition("=")
        if name.strip():
            fields[name.strip().lower()] = text.strip()
    return fields


_SECONDS_IN_TEXT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:s\b|sec|second|초)", re.IGNORECASE)


def stated_block(headers: Mapping[str, str], message: str) -> float | None:
    """How long a 418 says the block lasts: a ``Retry-After`` header, or seconds in its message."""
    retry = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if retry:
        try:
            return max(0.0, float(retry))
        except ValueError:
            pass
    found = _SECONDS_IN_TEXT.search(message or "")
    return float(found.group(1)) if found else None


class GroupLimit:
    """One rate-limit group, adapting to the exchange's answers. Thread-safe.

    Two gates must both let a call through: ``shared`` holds Upbit's figure and lives on the
    configured backend (every process on one budget); ``local`` holds this process's adapted rate,
    cut on each 429 and given back over clean minutes. ``sec=0`` in ``Remaining-Req`` holds the next
    call until the next second; a 418 blocks the group.
    """

    def __init__(self, name: str, count: int, seconds: float, shared: AbstractBucket | SharedBucket,
                 strategy: RateStrategy, clock: Callable[[], float] = time.monotonic) -> None:
        self.name, self.count, self.seconds, self.strategy = name, count, seconds, strategy
        self.shared = RateGate(name, [(count, seconds)], shared)
        self.local = RateGate(name, [(count, seconds)])
        self._clock = clock
        self._lock = threading.Lock()
        self.factor = 1.0  # the share of Upbit's rate this process allows itself now
        self.hold_until = 0.0  # sec=0: nothing before this (monotonic)
        self.blocked_until = 0.0  # 418: nothing before this
        self.blocks = 0
        self.throttles = 0  # 429s seen
        self._calm_since = clock()  # since the last 429, or the last recovery step
        self.waits = 0

    def __repr__(self) -> str:
        return f"<GroupLimit {self.name} {self.factor:.0%} of {self.count}/{self.seconds:g}s>"

    @property
    def rate(self) -> float:
        """Requests per second this process allows itself now."""
        return self.count / self.seconds * self.factor

    def try_acquire(self) -> float:
        """0.0 with a permit taken, or the seconds to wait; RateLimitError while blocked (418)."""
        now = self._clock()
        with self._lock:
            self._recover(now)
            blocked = self.blocked_until - now
            if blocked > 0:
                raise RateLimitError(
                    f"{self.name}: blocked by the exchange (HTTP 418) for {blocked:.1f}s more",
                    status=418, retry_after=blocked, group=self.name,
                )
            held = self.hold_until - now
        if held > 0:
            return held
        return self.local.try_acquire() or self.shared.try_acquire()

    def acquire(self, timeout: float | None = None, stop: threading.Event | None = None) -> None:
        """Wait for a permit (long waits logged at WARNING); RateLimitError while blocked, or when
        ``timeout`` runs out first."""
        deadline = None if timeout is None else self._clock() + timeout
        waited = 0.0
        while True:
            wait = self.try_acquire()
            if wait == 0.0:
                break
            if deadline is not None and self._clock() + wait > deadline:
                raise RateLimitError(f"{self.name}: no room within {timeout:g}s", retry_after=wait,
                                     group=self.name)
            with self._lock:
                self.waits += 1
                waits = self.waits
            waited += wait
            if waited > LONG_WAIT and waited - wait <= LONG_WAIT:
                log.warning("rate limiter: %s waited %.1fs (waited %d times in all)", self.name,
                            waited, waits)
            if stop is not None:
                if stop.wait(wait):
                    raise RateLimitError(f"{self.name}: stopped while waiting", group=self.name)
            else:
                time.sleep(wait)

    def observe(self, status: int, headers: Mapping[str, str] | None = None, message: str = "") -> None:
        """What the exchange answered a call of this group: its Remaining-Req, 429, 418."""
        headers = headers or {}
        now = self._clock()
        remaining = parse_remaining(headers)
        with self._lock:
            if remaining.get("sec") == "0":  # the next call waits for the next second
                self.hold_until = max(self.hold_until, now + 1.0 - (time.time() % 1.0) + 0.01)
            if status == 429:
                self.throttles += 1
                self._set_factor(max(self.strategy.floor, self.factor * self.strategy.cut))
                self._calm_since = now
            elif status == 418:
                stated = stated_block(headers, message)
                duration = stated if stated is not None else self.strategy.block * 2 ** self.blocks
                self.blocks += 1
                self.blocked_until = max(self.blocked_until, now + duration)
                self._set_factor(max(self.strategy.floor, self.factor * self.strategy.cut))
                self._calm_since = now
                log.warning("rate limiter: %s blocked by the exchange for %.0fs (HTTP 418)",
                            self.name, duration)

    def blocked_for(self) -> float:
        """Seconds left of a 418 block (0.0 when none)."""
        return max(0.0, self.blocked_until - self._clock())

    def _recover(self, now: float) -> None:
        # called with the lock held
        if self.factor < 1.0 and now - self._calm_since >= 60.0:
            steps = int((now - self._calm_since) // 60.0)
            self._set_factor(min(1.0, self.factor + steps * self.strategy.recovery))
            self._calm_since = now

    def _set_factor(self, factor: float) -> None:
        # called with the lock held
        if factor == self.factor:
            return
        self.factor = factor
        allowed = self.count * factor
        if allowed >= 1:
            self.local.set_limits([(max(1, math.floor(allowed)), self.seconds)])
        else:  # fewer than one per window: one per a longer window
            self.local.set_limits([(1, self.seconds / allowed)])
        log.info("rate limiter: %s now at %.0f%% (%.2f/s)", self.name, factor * 100, self.rate)


class RateLimits:
    """Every REST group's limit for one budget: an exchange host, a backend, a pocket key and a
    strategy. One per process for the same four (:func:`limits_for`), so every client of a process
    shares them, and on a shared backend every process does."""

    def __init__(self, host: str, backend: str, pocket: str, strategy: RateStrategy) -> None:
        self.host, self.backend, self.pocket, self.strategy = host, backend, pocket, strategy
        if backend != "memory":
            backend_for(backend)  # a backend that can never work is a ConfigError now, not at a call
        self._groups: dict[str, GroupLimit] = {}
        self._lock = threading.Lock()

    def group(self, name: str) -> GroupLimit:
        with self._lock:
            limit = self._groups.get(name)
            if limit is None:
                count, seconds, scope = GROUPS[name]
                key = bucket_key(self.host, "ip" if scope == "ip" else self.pocket, name)
                bucket = open_bucket(self.backend, key, count, seconds)
                limit = self._groups[name] = GroupLimit(name, count, seconds, bucket, self.strategy)
            return limit


def bucket_key(host: str, scope: str, group: str) -> str:
    """The name a limit is counted under, the same in every process: ``upbit-sync:<host>:<scope>:<group>``."""
    return f"upbit-sync:{host}:{scope}:{group}"


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def connect_limit(config: Config) -> GroupLimit:
    """The WebSocket connect limit of one manager (``connect_rate_per_second``), on the configured
    backend: in memory it is the manager's own; shared, it is every process's."""
    count = config.connect_rate_per_second
    key = bucket_key(host_of(config.public_url), "ip", "websocket-connect")
    bucket = open_bucket(config.rate_limit_backend, key, count, 1.0)
    return GroupLimit("websocket-connect", count, 1.0, bucket, config.rate_strategy)


_registry: dict[tuple[str, str, str, str], RateLimits] = {}
_registry_lock = threading.Lock()


def pocket_key(config: Config) -> str:
    """The budget the exchange groups are counted in: ``rate_limit_key``, else one per access key
    (a digest of it: the key itself is never written to a shared store)."""
    if config.rate_limit_key:
        return f"budget-{config.rate_limit_key}"
    if config.access_key:
        return "key-" + hashlib.sha256(config.access_key.encode("utf-8")).hexdigest()[:16]
    return "no-key"


def limits_for(config: Config) -> RateLimits:
    """The process's REST limits for ``config``'s exchange, backend, budget and strategy."""
    key = (host_of(config.rest_url), config.rate_limit_backend, pocket_key(config),
           config.rate_limit_strategy)
    with _registry_lock:
        limits = _registry.get(key)
        if limits is None:
            limits = _registry[key] = RateLimits(*key[:3], config.rate_strategy)
        return limits
