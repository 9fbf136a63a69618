"""Link: one logical connection kept open and carrying what it should (docs/architecture.md §3).

A Link owns one :class:`~upbit_sync.connection.Connection` (a socket at a time, reopened after each
end), the set of streams it must carry and the set its socket carries, that socket's message limit,
and what the :class:`~upbit_sync.config.ReconnectPolicy` needs to know. The watchdog moves it one step
at a time (:meth:`Link.step`); its socket thread tells it how each attempt went. It knows nothing of
who asked for what: messages go to its router, news to its owner.

:func:`fetch_snapshot` is the other way a socket is used: one short-lived Connection for a
snapshot-only request, so the shared connections' sets and format stay untouched.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import protocol
from .config import Config, Ending
from .connection import Connection, ConnectionEnd, ConnState
from .deflate import CompressionError
from .dispatch import MAX_DEFER, Dispatcher
from .errors import ClosedError, DecodeError, RateLimitError, ServerErrorReply, StreamTimeout, UpbitError
from .formats import to_default
from .protocol import FrameReader, StreamSpec
from .ratelimit import RateGate, message_gate
from .redact import redact_url
from .router import Router
from .types import (
    Connected,
    Disconnected,
    ErrorMessage,
    Event,
    Reconnected,
    ServerError,
    ServerMessage,
    Status,
    SubscriptionList,
)

log = logging.getLogger(__name__)


class LinkOwner(Protocol):
    """What a Link tells the manager, and asks of it."""

    @property
    def running(self) -> bool: ...

    def wake(self) -> None:
        """Something changed: the watchdog should look at the links now."""

    def event(self, event: Event) -> None: ...

    def error(self, error: BaseException) -> None: ...

    def connect_permit(self) -> float:
        """0.0 and a connect permit taken, or the seconds to wait for one."""

    def connect_refused(self, status: int) -> None:
        """An upgrade was answered 429 or 418: the connect limit adapts (ratelimit.GroupLimit)."""

    def fault(self, thread: str, error: BaseException) -> None:
        """An unexpected error in ``thread`` that the link survived (told to on_error and the log)."""


@dataclass
class _ListReply:
    """A LIST_SUBSCRIPTIONS query waiting for its answer."""

    done: threading.Event = field(default_factory=threading.Event)
    result: SubscriptionList | None = None


class Link:
    """One logical connection ("public", "public-2", "private"). ``permanent`` links (the public
    one) stay open while the manager runs; the others only while they carry something."""

    def __init__(self, name: str, url: str, config: Config, owner: LinkOwner, router: Router,
                 dispatcher: Dispatcher, *, header: Callable[[], list[str]] | None = None,
                 permanent: bool = False) -> None:
        self.name, self.url, self.permanent = name, url, permanent
        self._config, self._owner, self._router, self._dispatcher = config, owner, router, dispatcher
        self._policy = config.reconnect_policy
        self._lock = threading.Lock()
        # Config.decimal: the private connection's numbers are read exactly (as Decimal, never a
        # float on the way), by both decoders; the public ones stay floats, at no cost to them
        exact = config.decimal and protocol.endpoint_of(name) == protocol.PRIVATE
        reader = FrameReader(router.route, self._on_control, self._bad_frame, decimal=exact)
        # data frames go straight to the router, which decodes them; the rest, and any frame of a
        # format the typed decoder does not take, to the reader
        decode = protocol.typed_decoder(config.wire_format, decimal=exact)
        on_frame: Callable[[bytes | str, float], None] = reader.feed
        if decode is not None:
            router.use(decode, reader.feed)
            on_frame = router.feed
        self.conn = Connection(
            name, url, on_open=self._on_open, on_frame=on_frame, on_batch_end=self._on_batch_end,
            on_end=self._on_end, header=header, connect_timeout=config.connect_timeout,
            ping_interval=config.ping_interval, ping_timeout=config.ping_timeout,
            read_ahead=config.read_ahead, proxy=config.proxy_options, compression=config.compression,
        )
        self.gate = self._new_gate()
        self.wanted: tuple[StreamSpec, ...] = ()
        self.sent: tuple[StreamSpec, ...] | None = None  # what the current socket carries
        self.active = permanent  # should be connected while the manager runs
        self.next_attempt_at: float | None = None  # monotonic; None: no attempt scheduled
        self.failures = 0  # attempts in a row that did not end healthy (the policy's input)
        self.reconnects = self.recycles = self.attempts = self.refused = 0
        self.bad_frames = self.requests_sent = 0
        self.ends: dict[str, int] = {}  # how its sockets ended, unasked (ConnectionEnd.kind) -> count
        self.last_error = ""
        self.outage = False  # down since an end nobody asked for; cleared when open again
        self._outage_error: UpbitError | None = None
        self._error_reported_at: float | None = None
        self._down_since: float | None = None
        self._ever_connected = self._ping_sent = self._auth_refused = False
        self._recycle = self._recycling = False  # closing / reopening only to empty the set
        self._sent_at, self._grace_checked = 0.0, True
        self._missing_warned: set[tuple[str, str | None]] = set()
        self._last_bad_item: Any = None
        self._list_waiters: dict[str, _ListReply] = {}
        self._traffic_logged = (time.monotonic(), 0, 0)  # when, frames, bytes (DEBUG traffic lines)

    def __repr__(self) -> str:
        return f"<Link {self.name} {self.conn.state.value} active={self.active}>"

    def _new_gate(self) -> RateGate:
        return message_gate(self._config.message_rate_per_second, self._config.message_rate_per_minute)

    # ---- what it carries (any thread) ------------------------------------------------------------

    def set_wanted(self, specs: tuple[StreamSpec, ...]) -> None:
        """Replace what the link should carry; the watchdog sends it when the message limit allows."""
        with self._lock:
            if self.wanted == specs:
                return
            self.wanted = specs
            if not self.permanent:
                if specs and not self.active:
                    self.active, self.failures, self.next_attempt_at = True, 0, time.monotonic()
                elif not specs:
                    self.active, self.next_attempt_at = False, None

    @property
    def outage_error(self) -> UpbitError | None:
        """Why the link is down, while it is and the reason is known."""
        with self._lock:
            return self._outage_error if self.outage else None

    @property
    def in_sync(self) -> bool:
        return self.sent == self.wanted or (not self.wanted and not self.sent)

    def start(self, now: float) -> None:
        with self._lock:
            if self.active:
                self.next_attempt_at = now

    def stop(self, timeout: float) -> None:
        """No more attempts; the socket closed within ``timeout``; waiting queries released."""
        with self._lock:
            self.next_attempt_at = None
            waiters = list(self._list_waiters.values())
        for waiter in waiters:
            waiter.done.set()
        self.conn.close(timeout)

    # ---- the watchdog's steps ----------------------------------------------------------------------

    def step(self, now: float) -> float:
        """Move the link one step toward what it should be; return when to look again."""
        conn = self.conn
        state = conn.state
        if state is ConnState.CONNECTING:
            limit = (conn.attempt_started_at or now) + self._config.connect_timeout + 0.5
            if now >= limit:  # the socket options should have ended it already
                conn.abort(f"connect attempt exceeded {self._config.connect_timeout:g}s")
                return now + 0.5
            return limit
        if state in (ConnState.CLOSED, ConnState.FAILED):
            return self._connect_when_due(now)
        if state is ConnState.OPEN:
            return self._keep_in_sync(now)
        return now + 0.05

    def _connect_when_due(self, now: float) -> float:
        conn = self.conn
        if not self.active or self.next_attempt_at is None or conn.is_alive:
            return math.inf if not conn.is_alive else now + 0.05
        if now < self.next_attempt_at:
            return self.next_attempt_at
        wait = self._owner.connect_permit()
        if wait:
            return now + wait
        self.next_attempt_at = None
        self.attempts += 1
        conn.open()
        return now + self._config.connect_timeout + 0.5

    def _keep_in_sync(self, now: float) -> float:
        conn, wanted = self.conn, self.wanted
        if not self.active:  # an extra connection nobody needs any more
            conn.close(1.0)
            return math.inf
        if not wanted:
            if self.sent:
                # Upbit has no unsubscribe: a socket that must carry nothing is replaced.
                self._recycle = self.active
                conn.close(1.0)
                return math.inf
            return self._ping_once(now)
        if self.sent == wanted:
            return min(self._ping_once(now), self._check_snapshots(now))
        wait = self.gate.try_acquire()
        if wait:
            return now + wait
        try:
            conn.send(protocol.build_request(wanted, self._config.wire_format))
        except ClosedError:
            return now + 0.05
        self.sent, self._sent_at, self._grace_checked = wanted, time.monotonic(), False
        self.requests_sent += 1
        log.debug("%s: subscription set sent (%d objects)", self.name, len(wanted))
        return self._ping_once(time.monotonic())

    def _ping_once(self, now: float) -> float:
        """The text PING once per socket: the server then sends a status frame every 10 s."""
        if self._ping_sent:
            return math.inf
        wait = self.gate.try_acquire()
        if wait:
            return now + wait
        try:
            self.conn.send("PING")
        except ClosedError:
            return now + 0.05
        self._ping_sent = True
        return math.inf

    def _check_snapshots(self, now: float) -> float:
        """``snapshot_grace`` after a request: warn of codes that got no SNAPSHOT while others did
        (Upbit ignores unknown codes without a word). Returns when to look again."""
        if self._grace_checked:
            return math.inf
        due = self._sent_at + self._config.snapshot_grace
        if now < due:
            return due
        self._grace_checked = True
        seen = set(self._router.snapshots_seen)  # a copy: the socket thread adds to it
        expected = {(spec.type, code) for spec in self.sent or ()
                    if not spec.is_only_realtime and spec.endpoint == protocol.PUBLIC
                    for code in spec.codes}
        missing = sorted(expected - seen - self._missing_warned, key=str)
        self._missing_warned &= expected - seen
        if missing and seen:
            self._missing_warned.update(missing)
            log.warning(
                "%s: no snapshot for %s within %gs of subscribing, while other codes got theirs: "
                "Upbit sends nothing for a market it does not list; check the code(s)", self.name,
                ", ".join(f"{kind} {code}" for kind, code in missing), self._config.snapshot_grace,
            )
        return math.inf

    def check_stale(self, now: float) -> None:
        """The health check: cut a socket silent for ``stale_after`` while it carries something."""
        conn = self.conn
        if conn.state is not ConnState.OPEN:
            return
        if conn.connected_at is not None and now - conn.connected_at >= self._config.stale_after:
            self.failures = 0
        silent = now - (conn.last_frame_at or now)
        if self.wanted and silent > self._config.stale_after:
            log.warning("%s silent for %.1fs: reconnecting", self.name, silent)
            conn.abort(f"no data for {silent:.1f}s (stale)")

    # ---- the socket thread's news ------------------------------------------------------------------

    def _on_open(self, conn: Connection) -> None:
        now = time.monotonic()
        event: Event | None
        with self._lock:
            self.sent, self._ping_sent, self._auth_refused = None, False, False
            self.gate = self._new_gate()  # Upbit counts the message limit per socket
            self._router.snapshots_seen = set()
            self.outage, self._outage_error, self._error_reported_at = False, None, None
            if self._recycling:  # internal: the old socket was closed only to empty its set
                self._recycling = False
                self.recycles += 1
                event = None
            elif self._ever_connected:
                self.reconnects += 1
                downtime = now - self._down_since if self._down_since is not None else 0.0
                event = Reconnected(self.name, round(downtime, 4))
            else:
                event = Connected(self.name, self.conn.shown_url)
            self._ever_connected, self._down_since = True, None
        self._owner.wake()  # the watchdog sends the subscription set at once
        if event is not None:
            self._owner.event(event)

    def _on_end(self, conn: Connection, end: ConnectionEnd) -> None:
        try:
            self._handle_end(conn, end)
        except Exception as exc:  # a bug: told, and the link tries again as after any end
            with self._lock:
                if self.active and self._owner.running and not end.requested:
                    self.next_attempt_at = time.monotonic() + self._config.reconnect_delay
            self._owner.fault(f"upbit-ws-{self.name}", exc)
            self._owner.wake()

    def _handle_end(self, conn: Connection, end: ConnectionEnd) -> None:
        self._router.hand_off()  # what the last read routed, if its end was not reached
        self._dispatcher.flush()
        now = time.monotonic()
        with self._lock:
            self.sent, self._ping_sent = None, False
            recycle = end.requested and self._recycle and self._owner.running
            self._recycle, self._recycling = False, recycle
            if not recycle and (end.requested or not self._owner.running or not self.active):
                return
            ending = self._ending(conn, end, now)
            decision = self._policy.decide(ending)
            self.failures = decision.failures
            self.next_attempt_at = None if decision.retry_in is None else now + decision.retry_in
            if not end.requested:
                self.ends[end.kind] = self.ends.get(end.kind, 0) + 1
                self.outage = True
                self.last_error = "authentication failed" if decision.failed else ending.description
                self._outage_error = decision.outage_error or self._outage_error
                if decision.error is not None:
                    self._error_reported_at = now
        if decision.failed:
            conn.mark_failed()
        if not end.requested:
            log.warning("%s: %s; reconnect attempt %d in %.2fs", self.name, ending.description,
                        self.attempts + 1, decision.retry_in or 0.0)
            if decision.failed:  # nothing the SDK can do about refused keys but say so, and wait
                log.error("%s: the exchange refused the API keys; check them (retrying every %gs)",
                          self.name, self._config.reconnect_max_delay)
            if decision.disconnected:
                self._owner.event(Disconnected(self.name, end.code, ending.description))
            if decision.error is not None:
                self._owner.error(decision.error)
            elif isinstance(end.error, CompressionError):  # the stream was corrupt: say so
                self._owner.error(end.error)
        self._owner.wake()

    def _ending(self, conn: Connection, end: ConnectionEnd, now: float) -> Ending:
        """The policy's input (called with the lock held)."""
        lived = (now - conn.connected_at) if end.was_open and conn.connected_at else 0.0
        if end.was_open and self._down_since is None and not end.requested:
            self._down_since = now
        if end.http_status in (429, 418):
            self.refused += 1
            self._owner.connect_refused(end.http_status)
        reported = self._error_reported_at
        return Ending(
            self.name, self.url, end.describe(), requested=end.requested, recycle=self._recycling,
            was_open=end.was_open, lived=lived, http_status=end.http_status,
            auth_refused=self._auth_refused, failures=self.failures, in_outage=self.outage,
            since_reported=None if reported is None else now - reported,
        )

    def _on_batch_end(self, conn: Connection) -> None:
        # The frames of one read are handled: what they routed is queued now. A worker asleep with
        # messages it was not woken for is woken once no more input is ready (the check is a
        # syscall, which hands the GIL away: only made when it matters), or once it has waited
        # MAX_DEFER through a long burst.
        self._router.hand_off()
        dispatcher = self._dispatcher
        if dispatcher.deferred and (
            not conn.input_pending() or time.monotonic() - dispatcher.deferred_since >= MAX_DEFER
        ):
            dispatcher.flush()
        if log.isEnabledFor(logging.DEBUG):
            self._log_traffic(conn)

    def _log_traffic(self, conn: Connection) -> None:
        """At DEBUG, what arrived: once a second at most, however fast it comes."""
        now = time.monotonic()
        last_at, frames, sent = self._traffic_logged
        if now - last_at >= 1.0:
            self._traffic_logged = (now, conn.frames, conn.bytes)
            log.debug("%s: received %d message(s), %d bytes, in %.1fs", self.name, conn.frames - frames,
                      conn.bytes - sent, now - last_at)

    def _on_control(self, message: ServerMessage) -> None:
        if isinstance(message, Status):
            return
        if isinstance(message, SubscriptionList):
            with self._lock:
                waiters = self._list_waiters
                waiter = waiters.get(message.ticket or "") or next(iter(waiters.values()), None)
            if waiter is not None:
                waiter.result = message
                waiter.done.set()
        elif isinstance(message, ErrorMessage):
            log.warning("server error on %s: %s %s", self.name, message.name, message.message)
            with self._lock:
                self.last_error = message.name
                self._auth_refused = self._auth_refused or message.name == "INVALID_AUTH"
            self._owner.event(ServerError(self.name, message.name, message.message))

    def _bad_frame(self, error: DecodeError, frame: bytes | str) -> None:
        with self._lock:
            self.bad_frames += 1
            count = self.bad_frames
        if count <= 10 or count % 1000 == 0:  # logged, but a flood does not flood the log
            log.warning("bad frame #%d on %s skipped: %s (%.80r)", count, self.name, error, frame)

    def bad_message(self, error: DecodeError, item: dict[str, Any]) -> None:
        """A message that could not be made into its type (found on a worker): a bad frame."""
        with self._lock:
            if item is self._last_bad_item:  # one bad message, several subscribers
                return
            self._last_bad_item = item
        self._bad_frame(error, repr(item)[:200])

    # ---- LIST_SUBSCRIPTIONS ----------------------------------------------------------------------

    def list_subscriptions(self, timeout: float, stopping: threading.Event) -> SubscriptionList:
        """Ask the server what this socket carries (counts toward the message limit)."""
        deadline = time.monotonic() + timeout
        if not self.gate.acquire(timeout, stopping):
            raise RateLimitError(f"message limit of {self.name} left no room within {timeout}s")
        ticket = protocol.new_ticket()
        waiter = _ListReply()
        with self._lock:
            self._list_waiters[ticket] = waiter
        try:
            self.conn.send(protocol.build_list_subscriptions(self._config.wire_format, ticket))
            waiter.done.wait(max(0.0, deadline - time.monotonic()))
            if waiter.result is None:
                raise StreamTimeout(f"no LIST_SUBSCRIPTIONS reply on {self.name} within {timeout}s")
            return waiter.result
        finally:
            with self._lock:
                self._list_waiters.pop(ticket, None)


def fetch_snapshot(config: Config, spec: StreamSpec, timeout: float,
                   on_refused: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """The data messages (DEFAULT keys) one ``is_only_snapshot`` request gets on a short-lived
    connection of its own, until every code answered or ``timeout`` passed. Raises what the reconnect
    policy would report for a connection that could not be made (ConnectError, AuthenticationError,
    RateLimitError), ServerErrorReply for an error frame, StreamTimeout if it could not connect in
    time. The caller takes the connect permit; ``on_refused`` hears of an upgrade answered 429/418."""
    deadline = time.monotonic() + timeout
    found: dict[Any, dict[str, Any]] = {}
    failures: list[UpbitError] = []
    opened, done = threading.Event(), threading.Event()
    ends: list[ConnectionEnd] = []

    def on_data(item: dict[str, Any], size: int, received_at: float) -> bool:
        item = to_default(item) if "ty" in item else item
        if item.get("type") == spec.type:
            found[item.get("code")] = item
            if len(found) >= len(spec.codes):
                done.set()
        return True

    def on_control(message: ServerMessage) -> None:
        if isinstance(message, ErrorMessage):
            failures.append(ServerErrorReply(message.name, message.message))
            done.set()

    def on_end(conn: Connection, end: ConnectionEnd) -> None:
        ends.append(end)
        opened.set()
        done.set()

    def on_bad(error: DecodeError, frame: bytes | str) -> None:
        log.warning("snapshot: bad frame skipped: %s", error)

    conn = Connection("snapshot", config.public_url, on_open=lambda c: opened.set(),
                      on_frame=FrameReader(on_data, on_control, on_bad).feed, on_end=on_end,
                      connect_timeout=max(0.05, min(config.connect_timeout, timeout)),
                      ping_interval=0, read_ahead=config.read_ahead, proxy=config.proxy_options,
                      compression=config.compression)
    conn.open()
    try:
        if not opened.wait(max(0.0, deadline - time.monotonic())):
            where = redact_url(config.public_url)
            raise StreamTimeout(f"snapshot: no connection to {where} within {timeout}s")
        if ends:
            if on_refused is not None and ends[0].http_status in (429, 418):
                on_refused(ends[0].http_status)
            raise _connect_failure(config, ends[0])
        conn.send(protocol.build_request([spec], config.wire_format))
        done.wait(max(0.0, deadline - time.monotonic()))
        if failures:
            raise failures[0]
        if ends and not found:
            raise _connect_failure(config, ends[0], lost=True)
        return list(found.values())
    except ClosedError as exc:
        raise _connect_failure(config, ends[0] if ends else None, lost=True) from exc
    finally:
        conn.close(0.5)


def _connect_failure(config: Config, end: ConnectionEnd | None, lost: bool = False) -> UpbitError:
    """The error the reconnect policy gives for a snapshot connection that ended early."""
    description = end.describe() if end is not None else "connection lost"
    ending = Ending("snapshot", config.public_url, ("connection lost: " if lost else "") + description,
                    http_status=end.http_status if end is not None else None)
    error = config.reconnect_policy.decide(ending).outage_error
    assert error is not None  # never opened: the policy always says why
    return error

