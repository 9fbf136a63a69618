"""Router: each data message of one connection queued for the subscriptions that asked for it.

The hot path of a frame (docs/architecture.md §2): :meth:`Router.feed` decodes it straight into its
typed message, looks up the subscribers of its ``(type, code)`` in a table the
``SubscriptionManager`` replaces whole on each change (read here without a lock), and keeps the
entries per worker until :meth:`Router.hand_off` queues them at the end of the socket read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from .dispatch import Target
from .formats import to_default
from .protocol import STRICT_ERRORS
from .types import Event, Message, StreamType

if TYPE_CHECKING:
    from .dispatch import Dispatcher

log = logging.getLogger(__name__)

ALL_MARKETS = "*"  # routing code of a myOrder subscription without codes

_SNAPSHOT = StreamType.SNAPSHOT
_stamp = msgspec.structs.force_setattr
DispatchKey = tuple[str, str | None]  # (type, code): what picks the worker


class Recipient(Target, Protocol):
    """What a message is routed to (a subscription's Delivery): a dispatcher target that says
    whether it takes SNAPSHOT messages."""

    snapshot: bool


# type -> code -> (dispatch key, recipients, the type's counters), per connection: nested, so a lookup
# makes no tuple. The counters, [messages, bytes, received_at of the last, sizes], outlive the
# tables; ``sizes`` holds the frame sizes routed since the last hand-off, which folds them in.
Table = Mapping[str, Mapping[str | None, tuple[DispatchKey, tuple[Recipient, ...], list[Any]]]]
# the router's own: the same, plus the worker's index and whether every recipient drops on overflow
# (then a batch is queued in one step: Dispatcher.submit_many)
RouteTable = dict[str, dict[str | None, tuple[DispatchKey, tuple[Recipient, ...], list[Any], int, bool]]]


class Listener(Protocol):
    """Something that sees every data message (DEFAULT keys) and every lifecycle event, on the
    thread they happen on (socket or watchdog): it must return quickly. For tests and tools."""

    def on_messages(self, connection: str, items: list[dict[str, Any]]) -> None: ...

    def on_event(self, event: Event) -> None: ...

    def on_error(self, error: BaseException) -> None: ...


def new_counters() -> list[Any]:
    """A type's counters on one connection: [messages, bytes, received_at of the last, sizes]."""
    return [0, 0, 0.0, []]


class Router:
    """Routes each data message of one connection to its subscriptions' workers (socket thread)."""

    __slots__ = ("_decode", "_dispatcher", "_fallback", "_listeners", "_pending", "_plain", "counts",
                 "metrics", "name", "snapshots_seen", "table")

    def __init__(self, name: str, dispatcher: Dispatcher, listeners: list[Listener],
                 metrics: bool = True) -> None:
        self.name = name
        self.metrics = metrics  # stamp received_at and count per type (Config.metrics)
        self.table: RouteTable = {}  # replaced whole by set_table
        self._dispatcher = dispatcher
        self._listeners = listeners
        # (type, code) that got a SNAPSHOT on the current socket: the snapshot grace check reads it
        self.snapshots_seen: set[tuple[str, str | None]] = set()
        # type -> [messages, bytes, received_at of the last one, sizes not yet added]: read by
        # metrics, written here only (on the socket thread)
        self.counts: dict[str, list[Any]] = {}  # given by the SubscriptionManager with each table
        self._decode: Callable[[bytes | str], Message] | None = None
        self._fallback: Callable[[bytes | str, float], None] | None = None
        # Entries routed during one socket read, per worker, queued by hand_off when the read's
        # frames are done: one lock and one wake-up decision per worker and read, not per message.
        self._pending: list[list[Any]] = [[] for _ in range(dispatcher.workers)]
        self._plain = [True] * dispatcher.workers  # no conflating or blocking delivery among them

    def set_table(self, table: Table, counts: dict[str, list[Any]]) -> None:
        """What to route where (from the SubscriptionManager), and the counters per type."""
        index = self._dispatcher.index_of
        self.table = {
            kind: {code: (key, targets, counters[3], index(key),
                          all(target.overflow in ("drop_oldest", "drop_newest") for target in targets))
                   for code, (key, targets, counters) in by_code.items()}
            for kind, by_code in table.items()
        }
        self.counts = counts

    def hand_off(self) -> None:
        """Queue what was routed since the last hand-off (the end of each socket read's frames), and
        add its frames to the counters per type: one clock read and one sum per type and read, not
        an update of three counters per message."""
        if self.metrics:
            now = 0.0
            for counters in self.counts.values():
                sizes = counters[3]
                if sizes:
                    counters[0] += len(sizes)
                    counters[1] += sum(sizes)
                    counters[2] = now = now or time.time()
                    sizes.clear()
        pending, plain = self._pending, self._plain
        submit_many = self._dispatcher.submit_many
        for i, entries in enumerate(pending):
            if entries:
                submit_many(i, entries, plain[i])
                pending[i] = []
                plain[i] = True

    def use(self, decode: Callable[[bytes | str], Message],
            fallback: Callable[[bytes | str, float], None]) -> None:
        """Decode frames for :meth:`feed` with ``decode`` (a protocol.typed_decoder); what it refuses
        goes to ``fallback`` (a FrameReader's feed, which sorts it and calls :meth:`route`)."""
        self._decode, self._fallback = decode, fallback

    def route(self, item: dict[str, Any], size: int, received_at: float = 0.0) -> bool:
        """Queue one message (DEFAULT or SIMPLE keys; ``size``: its frame's bytes; ``received_at``:
        when its socket read happened, stamped on the message) for its subscriptions; False if it has
        no usable type or code."""
        metrics = self.metrics
        if metrics:
            item["received_at"] = received_at
        if self._listeners:
            self._tell_listeners(item)
        if "ty" in item:
            kind, code, stream_type = item["ty"], item.get("cd"), "st"
        else:
            kind, code, stream_type = item["type"], item.get("code"), "stream_type"
        try:
            by_code = self.table.get(kind)
            if by_code is None:
                return type(kind) is str
            entry = by_code.get(code) or by_code.get(ALL_MARKETS)
        except TypeError:  # an unhashable type or code
            return False
        if entry is None:
            return code is None or type(code) is str
        key, targets, sizes, worker, plain = entry
        if metrics:
            sizes.append(size)  # counted at the hand-off
        snapshot = item.get(stream_type) == "SNAPSHOT"
        if snapshot:  # once per code and request
            self.snapshots_seen.add((kind, code))
        pending = self._pending[worker]
        for target in targets:
            if snapshot and not target.snapshot:
                continue
            pending.append((target, key, item, size))  # queued by hand_off at the read's end
        if not plain:
            self._plain[worker] = False
        return True

    def feed(self, frame: bytes | str, received_at: float = 0.0) -> None:
        """Decode one frame straight into its typed message and queue it for its subscriptions (the
        hot path: one Python call per frame here, one in the dispatcher); a frame the decoder refuses
        goes to the fallback. What is routed waits for :meth:`hand_off`."""
        try:
            message: Any = self._decode(frame)  # type: ignore[misc]
        except STRICT_ERRORS:
            self._fallback(frame, received_at)  # type: ignore[misc]
            return
        metrics = self.metrics
        if metrics:
            _stamp(message, "received_at", received_at)  # a field of a frozen struct, set in C
        if self._listeners:
            self._tell_listeners(message)
        kind, code = message.type, message.code
        by_code = self.table.get(kind)
        if by_code is None:
            return
        entry = by_code.get(code) or by_code.get(ALL_MARKETS)
        if entry is None:
            return
        key, targets, sizes, worker, plain = entry
        size = len(frame)
        if metrics:
            sizes.append(size)  # counted at the hand-off
        pending = self._pending[worker]
        if message.stream_type is _SNAPSHOT:  # once per code and request
            self.snapshots_seen.add((kind, code))
            for target in targets:
                if target.snapshot:
                    pending.append((target, key, message, size))
        else:
            for target in targets:
                pending.append((target, key, message, size))  # queued by hand_off at the read's end
        if not plain:
            self._plain[worker] = False

    def _tell_listeners(self, item: Message | dict[str, Any]) -> None:
        default = [to_default(item) if "ty" in item else item] if isinstance(item, dict) else [item.raw]
        for listener in list(self._listeners):
            try:
                listener.on_messages(self.name, default)
            except Exception:
                log.exception("listener failed on a message from %s", self.name)


__all__ = ["ALL_MARKETS", "Listener", "Recipient", "Router", "Table", "new_counters"]
