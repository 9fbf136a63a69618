"""Config: every tunable of the SDK in one frozen value, and the policies that read it."""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, get_args
from urllib.parse import unquote, urlsplit

from .errors import AuthenticationError, ConfigError, ConnectError, RateLimitError, UpbitError
from .redact import redact_url

log = logging.getLogger(__name__)

# Upbit's endpoints (docs/upbit.md §1).
PUBLIC_URL = "wss://api.upbit.com/websocket/v1"
PRIVATE_URL = "wss://api.upbit.com/websocket/v1/private"
INFO_URL = "wss://api.upbit.com/websocket/v1/info"  # indicator, indicator_signal (docs/channels.md)
REST_URL = "https://api.upbit.com"
# Upbit's venues and their hosts (the official SDK's environments); "kr" is the default above.
VENUES: dict[str, str] = {"kr": "api.upbit.com", "sg": "sg-api.upbit.com", "id": "id-api.upbit.com",
                          "th": "th-api.upbit.com"}
_DEFAULT_URLS = {"public_url": PUBLIC_URL, "private_url": PRIVATE_URL, "info_url": INFO_URL,
                 "rest_url": REST_URL}
# the proxies the connections can go through: websocket-client's proxy types (SOCKS needs the
# python-socks package, the `socks` extra), and requests' for REST
PROXY_SCHEMES = ("http", "socks4", "socks4a", "socks5", "socks5h")

Overflow = Literal["drop_oldest", "drop_newest", "conflate", "block"]
OVERFLOW_POLICIES: tuple[str, ...] = get_args(Overflow)
WIRE_FORMATS = ("DEFAULT", "SIMPLE")

# Environment variables that do not follow the UPBIT_<FIELD> pattern.
_ENV_ALIASES = {"UPBIT_WS_URL": "public_url", "UPBIT_WS_PRIVATE_URL": "private_url"}

# The schemes each URL field accepts.
_URL_SCHEMES = {"public_url": ("ws", "wss"), "private_url": ("ws", "wss"), "info_url": ("ws", "wss"),
                "rest_url": ("http", "https")}
# The fields that hold URLs, whose userinfo a repr or an error masks.
_URL_FIELDS = frozenset({*_URL_SCHEMES, "rate_limit_backend", "proxy"})
# The range of every number in Config, both ends included (README.md's configuration table gives them).
# Far above the high ends a wait or a socket timeout overflows and kills the thread that made it
# (threading's waits, select's milliseconds and SO_RCVTIMEO's on some platforms at 2**31 ms or 2**32 ms,
# the connect timeout's struct timeval at 2**63 s); below the low ends a loop spins, or a timeout rounds
# to 0, which a socket reads as "no timeout". Within them each end is what still makes sense.
BOUNDS: dict[str, tuple[float, float]] = {
    "health_check_interval": (0.01, 3600.0),  # checked less than hourly, a dead socket goes unnoticed
    "stale_after": (0.1, 86400.0),
    "connect_timeout": (0.01, 3600.0),
    "reconnect_delay": (0.001, 3600.0),
    "reconnect_max_delay": (0.001, 86400.0),  # refused keys are retried this often
    "ping_interval": (0.1, 3600.0),  # or 0: keep-alive off
    "ping_timeout": (0.1, 3600.0),  # or 0: no pong awaited
    "block_timeout": (0.001, 60.0),  # the socket thread waits this long: nothing is read meanwhile
    "snapshot_grace": (0.01, 3600.0),
    "rest_timeout": (0.01, 3600.0),
    "order_lookup_timeout": (0.1, 3600.0),
    "candle_grace": (0.0, 600.0),
    "workers": (1, 1024),  # a thread each
    "queue_size": (1, 10_000_000),
    "queue_bytes": (1024, 1 << 40),  # below a frame's size every message would wait alone
    "connect_rate_per_second": (1, 1000),
    "message_rate_per_second": (1, 1000),
    "message_rate_per_minute": (1, 60_000),
}
OFF_AT_ZERO = ("ping_interval", "ping_timeout")  # 0 turns them off, below their low end


@dataclass(frozen=True)
class Config:
    """Every tunable, with the defaults docs/architecture.md §4 gives. Immutable: use :meth:`replace`."""

    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    public_url: str = PUBLIC_URL
    private_url: str = PRIVATE_URL
    info_url: str = INFO_URL
    rest_url: str = REST_URL
    # which of Upbit's exchanges: "kr" (upbit.com), "sg", "id" or "th"; the URLs left at their
    # defaults name its hosts (for_venue)
    venue: str = "kr"
    # every connection through this proxy: "http://host:port" (with "user:password@" if it asks),
    # or "socks5://host:port" (socks4, socks4a, socks5h too; the `socks` extra); None: direct
    proxy: str | None = field(default=None, repr=False)
    wire_format: str = "SIMPLE"
    health_check_interval: float = 30.0
    stale_after: float = 60.0
    connect_timeout: float = 5.0
    reconnect_delay: float = 1.0
    reconnect_max_delay: float = 30.0
    ping_interval: float = 20.0
    ping_timeout: float = 10.0
    workers: int = 4
    queue_size: int = 10_000
    overflow: str = "drop_oldest"
    block_timeout: float = 1.0
    # Memory bound of each worker's queue, in bytes of the frames its held messages came in: a
    # decoded message takes about five times its frame (a 30-unit orderbook: ~2 kB on the wire,
    # ~11 kB decoded), so 4 MiB of frames is some 20 MB of messages per worker.
    queue_bytes: int = 4 * 1024 * 1024
    # A subscribed code that got no SNAPSHOT this long after its request, while the connection
    # delivered others, is most likely unknown to the exchange (Upbit ignores those silently).
    snapshot_grace: float = 5.0
    # Read frames through upbit_sync.readahead (far fewer system calls); False reads them the way
    # websocket-client does on its own.
    read_ahead: bool = True
    # Offer permessage-deflate on every upgrade (Upbit compresses its frames when asked; a 30-level
    # orderbook comes in about a fifth of its bytes); the frames are inflated with zlib. A server
    # that declines is read as before. False: no offer, every frame plain.
    compression: bool = True
    # Upbit's limits (docs/upbit.md §5); lower them, never raise them, against the real exchange.
    connect_rate_per_second: int = 5
    message_rate_per_second: int = 5
    message_rate_per_minute: int = 100
    # REST, and the limits shared with the WebSocket connects (docs/architecture.md §8)
    rest_timeout: float = 10.0
    rate_limit_strategy: str = "balanced"  # how the limits adapt to 429s: RATE_STRATEGIES
    # where the limits are counted: "memory" (this process), "sqlite:///path" (the processes of one
    # host) or "redis://host:port/db" (every machine using that Redis; the `redis` extra)
    rate_limit_backend: str = "memory"
    # the name of the budget the exchange groups (and authenticated connects) share; None: one per
    # access key (Upbit counts them per pocket, which only the key tells)
    rate_limit_key: str | None = None
    validate_levels: bool = True  # check orderbook levels against the market's supported ones
    # per-type counts, received_at on every message and latency windows (benchmarks measure the cost)
    metrics: bool = True
    # the money figures of the private messages (MyOrder, MyAsset's assets) and of accounts() as
    # decimal.Decimal, exactly as the exchange wrote them; public streams stay floats either way
    decimal: bool = False
    # calls that move money out of the account (withdrawals) are refused unless this is True
    allow_withdrawals: bool = False
    # how long an order or cancel whose answer was lost is looked up (by its identifier) before the
    # SDK gives up and raises OrderUncertainError (docs/trading.md)
    order_lookup_timeout: float = 10.0
    # seconds after a candle's bucket ends before the candle is called closed without a later one
    candle_grace: float = 2.0

    def __post_init__(self) -> None:
        if self.venue not in VENUES:
            raise ConfigError(f"venue must be one of {tuple(VENUES)}, not {self.venue!r}")
        host = VENUES[self.venue]
        for name, default in _DEFAULT_URLS.items():  # a URL left at its default names the venue's host
            if getattr(self, name) == default and host != VENUES["kr"]:
                object.__setattr__(self, name, default.replace(VENUES["kr"], host, 1))
        if self.proxy is not None:
            _check_proxy(self.proxy)
        if self.wire_format not in WIRE_FORMATS:
            raise ConfigError(
                f"wire_format must be one of {WIRE_FORMATS}, not {self.wire_format!r}"
            )
        check_overflow(self.overflow, ConfigError)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("float", "int"):
                numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
                if not numeric or (f.type == "int" and not isinstance(value, int)):
                    raise ConfigError(f"{f.name} must be a number ({f.type}), not {value!r}")
                if not math.isfinite(value):
                    raise ConfigError(f"{f.name} must be finite, not {value!r}")
            elif f.type == "str | None" and value is not None and not isinstance(value, str):
                raise ConfigError(f"{f.name} must be a string, not {type(value).__name__}")
            elif f.type == "str" and not isinstance(value, str):
                raise ConfigError(f"{f.name} must be a string, not {value!r}")
            elif f.type == "bool" and not isinstance(value, bool):
                raise ConfigError(f"{f.name} must be True or False, not {value!r}")
        for name, (low, high) in BOUNDS.items():
            _check_bounds(name, getattr(self, name), low, high)
        if self.reconnect_max_delay < self.reconnect_delay:
            raise ConfigError(
                f"reconnect_max_delay ({self.reconnect_max_delay!r}) must not be shorter than "
                f"reconnect_delay ({self.reconnect_delay!r})"
            )
        for name, schemes in _URL_SCHEMES.items():
            _check_url(name, getattr(self, name), schemes)
        if self.rate_limit_strategy not in RATE_STRATEGIES:
            raise ConfigError(f"rate_limit_strategy must be one of {tuple(RATE_STRATEGIES)}, "
                              f"not {self.rate_limit_strategy!r}")
        _check_backend(self.rate_limit_backend)
        if self.ping_interval and self.ping_timeout >= self.ping_interval:
            raise ConfigError("ping_timeout must be shorter than ping_interval")
        if (self.access_key is None) != (self.secret_key is None):
            raise ConfigError("access_key and secret_key go together: give both or neither")

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={_shown(f.name, getattr(self, f.name))!r}" for f in fields(self) if f.repr
        )
        if self.has_keys:
            assert self.access_key is not None
            shown_key = self.access_key[:4] if len(self.access_key) >= 16 else ""
            keys = f"keys=set, access_key='{shown_key}…', secret_key='****'"
        else:
            keys = "keys=none"
        if self.proxy is not None:
            shown += f", proxy={redact_url(self.proxy)!r}"
        return f"Config({keys}, {shown})"

    @classmethod
    def for_venue(cls, venue: str, **overrides: Any) -> Config:
        """The settings for one of Upbit's exchanges (``VENUES``: "kr", "sg", "id", "th"): its
        WebSocket and REST hosts, and ``overrides``."""
        return cls(venue=venue, **overrides)

    @property
    def proxy_options(self) -> dict[str, Any]:
        """websocket-client's proxy arguments for ``run_forever`` and ``create_connection``."""
        if self.proxy is None:
            return {}
        parts = urlsplit(self.proxy)
        options: dict[str, Any] = {"http_proxy_host": parts.hostname, "proxy_type": parts.scheme,
                                   "http_proxy_port": parts.port or (1080 if "socks" in parts.scheme
                                                                      else 8080)}
        if parts.username is not None:
            options["http_proxy_auth"] = (unquote(parts.username), unquote(parts.password or ""))
        return options

    @property
    def has_keys(self) -> bool:
        """True when both API keys are configured (private streams and REST need them)."""
        return bool(self.access_key and self.secret_key)

    @property
    def backoff(self) -> Backoff:
        """The reconnect delays these settings describe."""
        return Backoff(self.reconnect_delay, self.reconnect_max_delay)

    @property
    def rate_strategy(self) -> RateStrategy:
        """How the rate limits adapt to the exchange's 429 and 418 answers."""
        return RATE_STRATEGIES[self.rate_limit_strategy]

    @property
    def reconnect_policy(self) -> ReconnectPolicy:
        """What to do after a connection ends, by these settings."""
        return ReconnectPolicy(self.reconnect_delay, self.reconnect_max_delay, self.stale_after)

    def replace(self, **changes: Any) -> Config:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        """Defaults, then ``UPBIT_<FIELD>`` variables (and ``UPBIT_WS_URL``), then ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        types = {f.name: f.type for f in fields(cls)}
        names = {f"UPBIT_{name.upper()}": name for name in types}
        names.update(_ENV_ALIASES)
        for var, name in names.items():
            if var in env:
                values[name] = _convert(name, str(types[name]), env[var])
        for var in sorted(v for v in env if v.startswith("UPBIT_") and v not in names):
            close = difflib.get_close_matches(var, list(names), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]} ({names[close[0]]})?" if close else ""
            log.warning("environment variable %s names no Config field and is ignored%s", var, hint)
        values.update(overrides)
        return cls(**values)


def check_overflow(policy: object, error: type[UpbitError]) -> str:
    """``policy`` if it is one of OVERFLOW_POLICIES; else ``error`` (ConfigError for a Config field,
    SubscriptionError for a subscription's) naming the allowed ones."""
    if not isinstance(policy, str) or policy not in OVERFLOW_POLICIES:
        raise error(f"overflow must be one of {OVERFLOW_POLICIES}, not {policy!r}")
    return policy


def _shown(name: str, value: Any) -> Any:
    """A field's value as a repr may show it: a URL field's userinfo masked."""
    return redact_url(value) if name in _URL_FIELDS and isinstance(value, str) else value


def _check_bounds(name: str, value: float, low: float, high: float) -> None:
    """ConfigError naming ``name`` and the end of its range (BOUNDS) that ``value`` is beyond."""
    unit = "" if isinstance(low, int) else " seconds"
    shown_low, shown_high = (str(low), str(high)) if isinstance(low, int) else (f"{low:g}", f"{high:g}")
    if value < low and not (value == 0 and name in OFF_AT_ZERO):
        off = "0 (off) or " if name in OFF_AT_ZERO else ""
        raise ConfigError(f"{name} must be {off}at least {shown_low}{unit}, not {value!r}")
    if value > high:
        raise ConfigError(f"{name} must be at most {shown_high}{unit}, not {value!r}")


def _check_backend(backend: str) -> None:
    if backend == "memory":
        return
    scheme, _, rest = backend.partition("://")
    if scheme == "sqlite" and rest.startswith("/") and len(rest) > 1:
        return
    if scheme in ("redis", "rediss", "unix") and rest:
        return
    raise ConfigError(
        "rate_limit_backend must be 'memory', 'sqlite:///path/to/file' or a redis:// URL, "
        f"not {redact_url(backend)!r}"
    )


def _check_proxy(proxy: str) -> None:
    try:
        parts = urlsplit(proxy)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        raise ConfigError(f"proxy is not a valid URL: {redact_url(proxy)!r}") from None
    if parts.scheme not in PROXY_SCHEMES or not parts.hostname:
        raise ConfigError(f"proxy must be a {', '.join(s + '://' for s in PROXY_SCHEMES)} URL with a "
                          f"host, not {redact_url(proxy)!r}")


def _check_url(name: str, url: str, schemes: tuple[str, ...]) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError as exc:
        # urllib's reason quotes a piece of the URL (the port): of a URL with userinfo, a piece of
        # the password when it holds a "/" or "#" that ended the host early
        reason = "its host or port is malformed" if "@" in url else str(exc)
        raise ConfigError(f"{name} is not a valid URL: {redact_url(url)!r} ({reason})") from None
    if parts.scheme not in schemes:
        raise ConfigError(
            f"{name} must be a {' or '.join(s + '://' for s in schemes)} URL, not {redact_url(url)!r}"
        )
    if not parts.hostname:
        raise ConfigError(f"{name} has no host: {redact_url(url)!r}")


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _convert(name: str, type_name: str, text: str) -> Any:
    if type_name == "bool":
        word = text.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise ConfigError(f"environment value for {name} is not a yes or no: {text!r}")
    try:
        if type_name == "float":
            return float(text)
        if type_name == "int":
            return int(text)
    except ValueError:
        raise ConfigError(f"environment value for {name} is not a number: {text!r}") from None
    return text


@dataclass(frozen=True)
class Backoff:
    """When to try a connection again, by how many attempts in a row have failed (docs/architecture.md §3).

    No failure yet: at once, with a few ms of jitter (most drops are transient). One: ``first_delay``.
    More: exponential with full jitter, capped at ``max_delay``.
    """

    first_delay: float = 1.0
    max_delay: float = 30.0
    immediate_jitter: float = 0.01

    def delay(self, failures: int, rand: Callable[[], float] = random.random) -> float:
        if failures <= 0:
            return self.immediate_jitter * rand()
        if failures == 1:
            return min(self.first_delay, self.max_delay)
        # past 2**64 the cap has long been reached; a larger exponent would overflow the float
        ceiling: float = min(self.max_delay, self.first_delay * 2.0 ** min(failures - 1, 64))
        return ceiling * rand()


@dataclass(frozen=True)
class Ending:
    """How one connect attempt ended, with what was known of the connection then: the input of
    :meth:`ReconnectPolicy.decide`."""

    connection: str
    url: str
    description: str  # what happened, for logs and errors
    requested: bool = False  # close() asked for it
    recycle: bool = False  # ...to reopen the socket at once, emptied of its server-side set
    was_open: bool = False
    lived: float = 0.0  # seconds the socket was open
    http_status: int | None = None  # of a refused upgrade
    auth_refused: bool = False  # an INVALID_AUTH error frame came before the end
    failures: int = 0  # attempts in a row that had not ended healthy, before this one
    in_outage: bool = False  # the connection was already down (an earlier attempt failed)
    since_reported: float | None = None  # seconds since this outage's error was last reported


@dataclass(frozen=True)
class Decision:
    """What to do after an :class:`Ending`."""

    retry_in: float | None  # seconds until the next attempt; None: no attempt
    failures: int  # the new count of failures in a row
    failed: bool = False  # wait in FAILED (refused keys) rather than CLOSED
    error: UpbitError | None = None  # to tell the application now (None: nothing, or told lately)
    outage_error: UpbitError | None = None  # why the outage goes on, told or not (waiting streams)
    disconnected: bool = False  # a new outage begins: a Disconnected event


@dataclass(frozen=True)
class ReconnectPolicy:
    """When and whether to connect again, and what to say, after a connection ends (docs/architecture.md §3).

    - Asked for by ``close()``: no attempt, unless the socket was closed only to empty it (at once).
    - Refused keys (HTTP 401/403 or ``INVALID_AUTH``): FAILED, an AuthenticationError, the next
      attempt after ``max_delay``: never a storm against a refusal.
    - HTTP 418 (blocked for repeated 429s): a RateLimitError, the next attempt after ``max_delay``.
    - Anything else: a drop of a connection that had lived at least ``first_delay`` is retried at
      once (most drops are transient); one that never opened (a ConnectError: refused, DNS, TLS,
      HTTP 4xx/5xx; a RateLimitError for 429) or flapped counts as a failure, and :class:`Backoff`
      sets the delay.
    - A connection that lived ``healthy_after`` had recovered: its failures start again from zero.
    - An outage's error is told at its first failure, then at most once per ``max_delay``.
    """

    first_delay: float = 1.0
    max_delay: float = 30.0
    healthy_after: float = 60.0

    def decide(self, ending: Ending, rand: Callable[[], float] = random.random) -> Decision:
        if ending.requested:
            return Decision(0.0 if ending.recycle else None, ending.failures)
        failures = 0 if ending.lived >= self.healthy_after else ending.failures
        name, status = ending.connection, ending.http_status
        error: UpbitError | None = None
        failed = False
        if status in (401, 403) or ending.auth_refused:
            failures, delay, failed = failures + 1, self.max_delay, True
            error = AuthenticationError(
                f"the exchange refused the API keys on {name} "
                f"({'HTTP ' + str(status) if status else 'INVALID_AUTH'}); "
                f"retrying every {self.max_delay:g}s", connection=name,
            )
        elif status == 418:
            failures, delay = failures + 1, self.max_delay
            error = RateLimitError(f"connect blocked by the exchange (HTTP 418) on {name}", status=418)
        else:
            if not ending.was_open or ending.lived < self.first_delay:
                failures += 1  # never opened, or flapped: back off
            delay = Backoff(self.first_delay, self.max_delay).delay(failures, rand)
            if status == 429:
                error = RateLimitError(f"connect refused for too many connects (HTTP 429) on {name}",
                                       status=429)
            elif not ending.was_open:
                error = ConnectError(name, ending.url, ending.description, status)
        told = error
        if told is not None and ending.since_reported is not None and ending.since_reported < self.max_delay:
            told = None
        return Decision(delay, failures, failed, told, error,
                        disconnected=ending.was_open or not ending.in_outage)


@dataclass(frozen=True)
class RateStrategy:
    """How a rate-limit group adapts when the exchange pushes back.

    On a 429 the group's rate is multiplied by ``cut`` (never below ``floor`` of Upbit's figure) and
    the call is tried again after ``retry_delay`` (doubling, ``retries`` times at most); each minute
    without a 429 gives back ``recovery`` of the full rate. A 418 blocks the group for the time the
    answer states, or ``block`` seconds (doubling with each repeat) when it states none.
    """

    name: str
    cut: float
    recovery: float
    floor: float
    retry_delay: float
    retries: int
    block: float


RATE_STRATEGIES: dict[str, RateStrategy] = {
    "balanced": RateStrategy("balanced", cut=0.5, recovery=0.10, floor=0.1, retry_delay=0.5,
                             retries=3, block=30.0),
    "conservative": RateStrategy("conservative", cut=0.25, recovery=0.05, floor=0.05, retry_delay=1.0,
                                 retries=2, block=60.0),
    "aggressive": RateStrategy("aggressive", cut=0.8, recovery=0.25, floor=0.25, retry_delay=0.2,
                               retries=5, block=15.0),
}
