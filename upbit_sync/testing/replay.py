"""Playing a recording of ``upbit-sync record`` through the fake exchange (``FakeUpbitServer.replay``).

A bot is tested offline on a real session: each connection is played the recorded messages of what it
asks for, as if it were the recorder's own connection. The rules:

- A stream is a ``(type, code)`` (orderbooks: of the recorded ``level``). It plays its recorded
  messages in their recorded order, the SNAPSHOT first if it was recorded so, in the format the
  connection asked for; index lines (the gaps) are not played, and the SDK's ``received_at`` is
  left out, as Upbit never sends it. Orderbooks are cut to the depth asked for.
- Pace: a connection's clock starts with its first request that names a recorded stream, at the
  earliest recorded message of the streams it names. A message recorded at ``t`` is due
  ``(t - start) / speed`` seconds later; with ``speed`` ``"max"`` (or 0) every message is due at once
  and they go out as fast as the connection takes them, streams interleaved in recorded-time order.
- A stream a request names again (Upbit replaces the whole set on every request) plays on where it
  was; one a request leaves out stops; one named for the first time, or again after being left out,
  plays from its first message on the connection's clock (what is overdue goes at once, in order).
- ``is_only_snapshot`` plays the first recorded SNAPSHOT only, ``is_only_realtime`` skips SNAPSHOTs.
- A new connection, a reconnect included, starts the recording over: replay plays sessions to a
  bot, it does not reproduce the exchange's clock across connections.
- NDJSON and Parquet recordings (and the spools of an open or killed Parquet recording) play alike:
  ``read_lines`` gives a Parquet row as the line NDJSON would hold.
- Damage is skipped, not fatal: a bad line is left out and a corrupt file ends where the damage
  starts (``read_lines``); each damaged file's one-line warning is logged and kept in
  :attr:`Recording.problems`. Only a recording with nothing readable at all is refused.

Nothing here takes a lock: the server calls :class:`Replayer` under its own.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..recording import ReadReport, check_readable, is_index, read_lines, recording_files

C = TypeVar("C", bound=Hashable)  # what a connection is to the server (its Session)
StreamKey = tuple[str, str, float]  # (type, code, orderbook level; 0 for the other types)
Speed = float | str


def check_speed(speed: Speed) -> float:
    """The replay speed as a factor: a positive number, or ``math.inf`` for ``"max"`` and 0."""
    if speed == "max":
        return math.inf
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or speed < 0 or math.isnan(speed):
        raise ValueError(f"speed must be a number >= 0 or 'max', not {speed!r}")
    return math.inf if speed == 0 else float(speed)


@dataclass(frozen=True, slots=True)
class Recorded:
    """One recorded message: when it was received (``at``, epoch seconds), where it stands in the
    recording (``order``), and the message itself as it goes on the wire (DEFAULT keys)."""

    at: float
    order: int
    message: dict[str, Any]

    @property
    def is_snapshot(self) -> bool:
        return self.message.get("stream_type") == "SNAPSHOT"


class Recording:
    """The messages of one or more recording files, by stream, each stream in recorded order."""

    def __init__(self, streams: dict[StreamKey, list[Recorded]], *, gaps: int = 0,
                 problems: Sequence[str] = ()) -> None:
        self.streams = streams
        self.gaps = gaps  # index lines read (and not played)
        self.problems = list(problems)  # one line per damaged file: its bad lines, where it ended early

    @classmethod
    def load(cls, paths: Iterable[str | os.PathLike[str]]) -> Recording:
        """Read recording files in the order given (a directory: its files by path), skipping damage
        (see :attr:`problems`). RecordingNotFound (a FileNotFoundError) for a path that is not there,
        RecordingError when the files hold damage and nothing readable."""
        streams: dict[StreamKey, list[Recorded]] = {}
        gaps = 0
        order = itertools.count()
        problems: list[str] = []
        readable = False
        for path in recording_files(paths):
            last_at = 0.0
            report = ReadReport(path)
            for line in read_lines(path, report):
                if is_index(line):
                    gaps += 1
                    continue
                kind, code = line.get("type"), line.get("code")
                if not isinstance(kind, str):
                    continue  # not a message of any stream: nothing could ask for it
                at = _time_of(line, last_at)
                last_at = at
                message = {k: v for k, v in line.items() if k != "received_at"}
                key = (kind, code if isinstance(code, str) else "", _level_of(line))
                streams.setdefault(key, []).append(Recorded(at, next(order), message))
            readable = readable or report.lines > 0
            if report.problem is not None:
                problems.append(report.problem)
        check_readable(problems, readable)
        return cls(streams, gaps=gaps, problems=problems)

    def __len__(self) -> int:
        return sum(len(items) for items in self.streams.values())

    @property
    def codes(self) -> frozenset[str]:
        """Every market code with recorded messages."""
        return frozenset(code for _, code, _ in self.streams if code)

    def codes_of(self, kind: str) -> list[str]:
        """The codes recorded for one type, in first-recorded order."""
        return list(dict.fromkeys(code for k, code, _ in self.streams if k == kind))

    @property
    def span(self) -> float:
        """Seconds from the first recorded message to the last (0 when empty)."""
        times = [t.at for items in self.streams.values() for t in (items[0], items[-1])]
        return max(times) - min(times) if times else 0.0


def _time_of(line: dict[str, Any], previous: float) -> float:
    """When a line was received: the SDK's ``received_at``, else Upbit's ``timestamp`` (ms), else the
    time of the line before it."""
    received = line.get("received_at")
    if isinstance(received, (int, float)) and not isinstance(received, bool) and received > 0:
        return float(received)
    stamp = line.get("timestamp")
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool) and stamp > 0:
        return stamp / 1000.0
    return previous


def _level_of(line: dict[str, Any]) -> float:
    level = line.get("level") if line.get("type") == "orderbook" else None
    return float(level) if isinstance(level, (int, float)) and not isinstance(level, bool) else 0.0


@dataclass(frozen=True)
class Wanted:
    """One stream a connection asks for: ``code`` None for every recorded code of the type (myOrder
    without codes); ``depth`` cuts orderbooks; ``snapshot``/``realtime`` as the request's flags."""

    type: str
    code: str | None
    level: float = 0.0
    depth: int | None = None
    snapshot: bool = True
    realtime: bool = True


@dataclass(eq=False)
class _Cursor(Generic[C]):
    """Where one stream of one connection is in its recording."""

    conn: C
    key: StreamKey
    items: list[Recorded]
    wanted: Wanted
    index: int = 0
    played: int = 0
    live: bool = True

    def next_item(self) -> Recorded | None:
        """The next message this stream plays (skipping what its flags leave out), or None at its end."""
        while self.index < len(self.items):
            item = self.items[self.index]
            if not self.wanted.realtime and (self.played or not item.is_snapshot):
                break  # is_only_snapshot: the first message, when it is a SNAPSHOT, and no more
            if not self.wanted.snapshot and item.is_snapshot:
                self.index += 1
                continue
            return item
        self.index = len(self.items)
        return None


@dataclass
class _Clock:
    wall: float  # time.monotonic() when the connection's first recorded stream was asked for
    recorded: float  # the recorded time that maps to it


@dataclass
class _Connection(Generic[C]):
    clock: _Clock | None = None
    cursors: dict[StreamKey, _Cursor[C]] = field(default_factory=dict)


class Replayer(Generic[C]):
    """Schedules a :class:`Recording` for the connections that ask for it (see the module docstring).

    The server calls :meth:`assign` for each subscription request and :meth:`due` from its sender
    thread, both under its lock, and sends what :meth:`due` returns.
    """

    def __init__(self, recording: Recording, speed: Speed = 1.0) -> None:
        self.recording = recording
        self.speed = check_speed(speed)
        self.played = 0  # messages handed to the server for sending
        self.started = 0  # connections that were played something
        self._connections: dict[C, _Connection[C]] = {}
        self._heap: list[tuple[float, float, int, int, _Cursor[C]]] = []
        self._seq = itertools.count()

    def assign(self, conn: C, wanted: Sequence[Wanted], now: float) -> None:
        """A request of ``conn`` replaced its set with ``wanted``: keep, stop and start its streams."""
        state = self._connections.setdefault(conn, _Connection())
        keys: dict[StreamKey, Wanted] = {}
        for want in wanted:
            codes = [want.code] if want.code is not None else self.recording.codes_of(want.type)
            for code in codes:
                key = (want.type, code, want.level)
                if key in self.recording.streams:
                    keys.setdefault(key, want)
        for key, cursor in list(state.cursors.items()):
            if key not in keys:
                cursor.live = False
                del state.cursors[key]
            else:
                cursor.wanted = keys[key]
        new = [key for key in keys if key not in state.cursors]
        if not new:
            return
        if state.clock is None:
            self.started += 1
            state.clock = _Clock(now, min(self.recording.streams[key][0].at for key in new))
        for key in new:
            cursor = _Cursor(conn, key, self.recording.streams[key], keys[key])
            state.cursors[key] = cursor
            self._schedule(cursor, state.clock)

    def _schedule(self, cursor: _Cursor[C], clock: _Clock) -> None:
        item = cursor.next_item()
        if item is None:
            return
        due = clock.wall if math.isinf(self.speed) else clock.wall + (item.at - clock.recorded) / self.speed
        heapq.heappush(self._heap, (due, item.at, item.order, next(self._seq), cursor))

    def next_due(self) -> float | None:
        """When the next message is due (``time.monotonic()``), or None when nothing is scheduled."""
        return self._heap[0][0] if self._heap else None

    def due(self, now: float, alive: Callable[[C], bool], budget: int = 256
            ) -> list[tuple[C, dict[str, Any]]]:
        """Up to ``budget`` messages due by ``now``, in the order to send them; the streams of
        connections that are no longer ``alive`` are forgotten."""
        out: list[tuple[C, dict[str, Any]]] = []
        heap = self._heap
        while heap and heap[0][0] <= now and len(out) < budget:
            cursor = heapq.heappop(heap)[4]
            if not cursor.live:
                continue
            state = self._connections.get(cursor.conn)
            if state is None or state.clock is None or not alive(cursor.conn):
                self.forget(cursor.conn)
                continue
            item = cursor.next_item()
            if item is None:
                continue
            cursor.index += 1
            cursor.played += 1
            out.append((cursor.conn, _as_sent(item.message, cursor.wanted.depth)))
            self.played += 1
            self._schedule(cursor, state.clock)
        return out

    def forget(self, conn: C) -> None:
        """Stop every stream of a connection that has gone."""
        state = self._connections.pop(conn, None)
        if state is not None:
            for cursor in state.cursors.values():
                cursor.live = False

    @property
    def pending(self) -> int:
        """Messages scheduled but not yet played (one per stream still playing)."""
        return sum(1 for entry in self._heap if entry[4].live)


def _as_sent(message: dict[str, Any], depth: int | None) -> dict[str, Any]:
    units = message.get("orderbook_units")
    if depth is not None and isinstance(units, list) and len(units) > depth:
        return {**message, "orderbook_units": units[:depth]}
    return message
