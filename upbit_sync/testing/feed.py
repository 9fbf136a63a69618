"""The market feed: the one sender thread that sends what is scheduled, when it is due.

Snapshots of new subscriptions first, then REALTIME data at ``message_rate`` per stream, the
status frame every ``status_interval`` after a ``PING``, idle drops; the trades of each market's tape
(once anyone subscribed to a market's trades, it trades until the server stops, listened to or
not); a recording's messages while :attr:`Feed.replayer` plays one; and the info channel's candle
closes. While ``silence`` holds, the tapes trade on and the candles close, unheard.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Any

from .connections import JOIN_TIMEOUT, Connections
from .indicators import IndicatorFeed
from .replay import Replayer
from .session import Session, Stream
from .state import ExchangeState
from .wire import dumps, encode, server_frame

log = logging.getLogger(__name__)

_STATUS_UP = dumps({"status": "UP"})
_IDLE_POLL = 0.25  # the sender thread re-reads its settings at least this often
_BATCH = 256  # REALTIME messages the sender collects per round


class Feed:
    """The schedules and the sender thread ``upbit-fake-sender``; see the module docstring.

    The schedules are kept under the connections' lock: :meth:`schedule` and :meth:`start_tape`
    are called with it held, as ``replayer`` is set and assigned.
    """

    def __init__(self, state: ExchangeState, connections: Connections,
                 info: IndicatorFeed[Session]) -> None:
        self._state = state
        self._connections = connections
        self._info = info
        self.replayer: Replayer[Session] | None = None
        self._heap: list[tuple[float, int, Session, Stream, int]] = []
        self._tapes: set[str] = set()  # markets whose trades run on a tape
        self._tape_heap: list[tuple[float, int, str]] = []  # (due, seq, market)
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._send_loop, name="upbit-fake-sender", daemon=True)
        self._thread.start()

    def join(self) -> None:
        """Wait for the sender thread, which ends once the connections are ``stopping``."""
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT)

    # -- scheduling (under the lock) -----------------------------------------------------------

    def schedule(self, conn: Session, stream: Stream, due: float) -> None:
        """REALTIME data of ``stream`` from ``due`` on, while the connection's request stands."""
        heapq.heappush(self._heap, (due, next(self._seq), conn, stream, conn.generation))

    def start_tape(self, market: str, due: float) -> None:
        """From now on, ``market`` trades on its tape until the server stops."""
        if market not in self._tapes:
            self._tapes.add(market)
            heapq.heappush(self._tape_heap, (due, next(self._seq), market))

    # -- the sender thread ---------------------------------------------------------------------

    def _send_loop(self) -> None:
        """The one sender thread: snapshots, REALTIME data, status frames and idle drops."""
        connections = self._connections
        while True:
            with connections.wake:
                if connections.stopping.is_set():
                    return
                now = time.monotonic()
                delay = self._next_wake(now) - now
                if delay > 0:
                    connections.wake.wait(min(delay, _IDLE_POLL))
                    if connections.stopping.is_set():
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
                    connections.send(conn, encode(message, conn.format), data=True,
                                     deadline=time.monotonic() + self._state.send_timeout)
                except Exception:
                    log.exception("fake Upbit sender failed replaying to connection %d", conn.id)
            try:
                self._send_closes(now)
            except Exception:
                log.exception("fake Upbit sender failed on the info channel")

    def _send_closes(self, now: float) -> None:
        """The candles closed by ``now`` and their indicator messages; while silenced the candles
        close unheard, as the tapes trade on."""
        connections = self._connections
        due = self._info.due(now, lambda conn: not conn.closing)
        if not due or connections.silenced:
            return
        frames: dict[tuple[int, str], bytes] = {}  # one encoding per message and format
        batches: dict[Session, list[bytes]] = {}
        for conn, message in due:
            fmt = conn.format
            frame = frames.get((id(message), fmt))
            if frame is None:
                payload = encode(message, fmt)
                frame = frames[(id(message), fmt)] = server_frame(payload)
            batches.setdefault(conn, []).append(frame)
        # One write per connection: the messages of a close leave together (one syscall, and no
        # small write left behind by Nagle's algorithm waiting for an ACK).
        for conn, batch in batches.items():
            if conn.closed_at is None and not connections.silenced:
                connections.write_frames(conn, b"".join(batch), len(batch),
                                         time.monotonic() + self._state.send_timeout)

    def _next_wake(self, now: float) -> float:
        wake = now + _IDLE_POLL
        if self._heap:
            wake = min(wake, self._heap[0][0])
        if self._tape_heap:
            wake = min(wake, self._tape_heap[0][0])
        replay_due = self.replayer.next_due() if self.replayer is not None else None
        if replay_due is not None:
            wake = min(wake, replay_due)
        close_due = self._info.next_due()
        if close_due is not None:
            wake = min(wake, close_due)
        idle_timeout = self._state.idle_timeout
        silenced = self._connections.silenced
        for conn in self._connections.live.values():
            if conn.closing:
                continue
            if conn.pending and not silenced:
                return now
            if conn.status_next is not None:
                wake = min(wake, conn.status_next)
            if idle_timeout:
                wake = min(wake, conn.last_activity + idle_timeout)
        return wake

    def _due_jobs(self, now: float) -> list[tuple[str, Session, Stream | None]]:
        jobs: list[tuple[str, Session, Stream | None]] = []
        state = self._state
        silent = self._connections.silenced
        for conn in list(self._connections.live.values()):
            if conn.closing:
                continue
            if state.idle_timeout and now - conn.last_activity >= state.idle_timeout:
                jobs.append(("idle", conn, None))
                continue
            while conn.pending and not silent:
                jobs.append(("snapshot", conn, conn.pending.popleft()))
            if conn.status_next is not None and conn.status_next <= now:
                following = conn.status_next + state.status_interval
                conn.status_next = following if following > now else now + state.status_interval
                if not silent:
                    jobs.append(("status", conn, None))
        rate = state.message_rate
        heap = self._heap
        # A bounded batch, so a new request's snapshots never wait behind a long backlog.
        budget = _BATCH
        while heap and heap[0][0] <= now and budget > 0:
            budget -= 1
            due, _, conn, stream, generation = heapq.heappop(heap)
            if generation != conn.generation or conn.closing:
                continue
            if rate <= 0:
                heapq.heappush(heap, (now + 0.1, next(self._seq), conn, stream, generation))
                continue
            interval = 1.0 / rate
            following = due + interval
            if following < now - 1.0:  # fell far behind (or was silenced): no catch-up burst
                following = now + interval
            heapq.heappush(heap, (following, next(self._seq), conn, stream, generation))
            if not silent and not stream.awaiting_snapshot and state.is_listed(stream.market):
                jobs.append(("realtime", conn, stream))  # a market delisted since: nothing more
        return jobs

    def _due_replays(self, now: float) -> list[tuple[Session, dict[str, Any]]]:
        """The recorded messages due (under the lock); while silenced they are due and not sent, as
        the tapes trade on unheard."""
        if self.replayer is None:
            return []
        due = self.replayer.due(now, lambda conn: not conn.closing, _BATCH)
        return [] if self._connections.silenced else due

    def _due_tapes(self, now: float) -> list[str]:
        """The markets whose next trade is due; each is rescheduled on its own cadence."""
        rate = self._state.message_rate
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
        connections = self._connections
        if not self._state.is_listed(market):  # delisted: its tape stops
            return
        message = self._state.market.make("trade", market)
        with connections.lock:
            if connections.silenced:
                return
            targets = [
                conn for conn in connections.live.values()
                if not conn.closing and (stream := conn.trades.get(market)) is not None
                and stream.realtime and not stream.awaiting_snapshot
            ]
        frames: dict[str, bytes] = {}
        for conn in targets:
            fmt = conn.format
            frame = frames.get(fmt)
            if frame is None:
                frame = frames[fmt] = encode(message, fmt)
            connections.send(conn, frame, data=True,
                             deadline=time.monotonic() + self._state.send_timeout)

    def _run_job(self, kind: str, conn: Session, stream: Stream | None) -> None:
        connections = self._connections
        if kind == "idle":
            log.info("fake Upbit: connection %d idle, dropping it", conn.id)
            connections.drop(conn, "idle")
            return
        deadline = time.monotonic() + self._state.send_timeout
        if kind == "status":
            connections.send(conn, _STATUS_UP, data=False, deadline=deadline)
            return
        assert stream is not None
        stream_type = "SNAPSHOT" if kind == "snapshot" else "REALTIME"
        market = self._state.market
        if stream.type == "trade" and not market.has_traded(stream.market):
            self._trade_on_tape(stream.market)  # the snapshot shows a trade of the tape
        # A taped market trades on its tape only; _tapes only grows, so reading it unlocked is safe.
        message = market.make(stream.type, stream.market, stream_type, stream.depth,
                              stream.level, trade=stream.market not in self._tapes)
        # a snapshot's stream takes REALTIME messages from the moment the client can have the snapshot
        done = (lambda: setattr(stream, "awaiting_snapshot", False)) if kind == "snapshot" else None
        connections.send(conn, encode(message, conn.format), data=True, deadline=deadline, before=done)

    # -- status frames -------------------------------------------------------------------------

    def ping(self, conn: Session, now: float) -> None:
        """A text ``PING``: a status frame at once, and every ``status_interval`` from now on."""
        connections = self._connections
        with connections.lock:
            conn.pings += 1
            conn.status_next = now + self._state.status_interval
            connections.wake.notify_all()
        connections.send(conn, _STATUS_UP, data=False)
