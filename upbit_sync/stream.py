"""What the client's blocking calls return: :class:`MessageStream`, the iterator of ``stream()``,
and :class:`Snapshot`, the result of ``snapshot()``.

A stream is a subscription whose callback appends to the stream's buffer on a worker thread; the
reading thread swaps the whole buffer for its own at once and iterates it without a lock, and is
woken only when it waits (docs/architecture.md §2, step 5).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from .dispatch import LossTally
from .errors import AuthenticationError, StreamTimeout, UpbitError
from .types import DataLoss, Event

if TYPE_CHECKING:
    from .manager import ClientPort
    from .subscriptions import Subscription

T = TypeVar("T")
_END = object()  # marks the end of a stream's buffer


class StreamCore(Protocol):
    """What a stream needs of its client's core: the engine's port, the streams it tells of events
    and errors, and where a loss is reported."""

    @property
    def port(self) -> ClientPort: ...

    @property
    def streams(self) -> weakref.WeakSet[Any]: ...

    def on_loss(self, sub: Subscription, event: DataLoss) -> None: ...


class Snapshot(dict[str, T]):
    """What :meth:`WebSocketClient.snapshot` returns: ``{code: message}``, and the codes asked for
    that got nothing in ``missing``."""

    missing: tuple[str, ...] = ()


class MessageStream(Generic[T]):
    """The iterator ``WebSocketClient.stream()`` returns; also a context manager."""

    def __init__(self, core: StreamCore, subscribe: Callable[..., Subscription], type: str,
                 codes: str | Iterable[str] | None, *, timeout: float | None, events: bool, raw: bool,
                 depth: int | None, level: float | None, snapshot: bool, **options: Any) -> None:
        """Made by ``WebSocketClient.stream()``: ``core`` is its client's, ``subscribe`` its method."""
        self.timeout = timeout
        self.events = events
        self.dropped = 0
        # Workers append to ``_buffer`` under ``_lock``; the reader swaps the whole of it for its own
        # empty ``_batch`` (one lock per batch, not per message) and is woken by releasing ``_wake``,
        # which it waits on (C-level locks: no Condition on the hot path).
        self._lock = threading.Lock()
        self._wake = threading.Lock()
        self._wake.acquire()
        self._waiting = False
        self._buffer: deque[Any] = deque()
        self._batch: deque[Any] = deque()  # the reader's alone
        self._limit = core.port.config.queue_size
        self._closed = False
        self._losses = LossTally()
        # entries pushed and taken (messages and the rare events): held = pushed - taken, bounded by
        # the limit; ``_pushed`` is written under the lock, ``_taken`` by the reader alone
        self._pushed = self._taken = 0
        self._failure: UpbitError | None = None  # ends the stream (refused keys)
        self._client = subscribe  # a bound method of the client: a stream in use keeps it alive
        self._core = core
        # the subscription holds this stream's method weakly: an abandoned stream cancels itself
        self.subscription = subscribe(type, codes, self._push, depth=depth, level=level, raw=raw,
                                      snapshot=snapshot, **options)
        self._core.streams.add(self)
        self._finalizer = weakref.finalize(self, self.subscription.cancel)

    def __repr__(self) -> str:
        return f"<MessageStream {self.subscription!r}{' closed' if self._closed else ''}>"

    def __enter__(self) -> MessageStream[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the stream and cancel its subscription; an iterating thread gets StopIteration."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._buffer.append(_END)
            self._wake_reader()
        self._finalizer()

    @property
    def closed(self) -> bool:
        return self._closed

    def _wake_reader(self) -> None:
        # called with the lock held
        if self._waiting:
            self._waiting = False
            self._wake.release()

    def _push(self, message: Any) -> None:
        loss = 0
        with self._lock:
            if self._closed:
                return
            if self._pushed - self._taken >= self._limit:  # the reader is behind: the oldest goes
                self.dropped += 1
                self._losses.add()
                if not self._evict_oldest_message():  # all it holds is taken already: this one goes
                    return
                self._pushed -= 1
            self._pushed += 1
            self._buffer.append(message)
            if self._waiting:  # _wake_reader, inline
                self._waiting = False
                self._wake.release()
            if self._losses.pending:
                loss = self._losses.take(time.monotonic())
        if loss:
            self._report_loss(loss, message)

    def _evict_oldest_message(self) -> bool:
        for i, item in enumerate(self._buffer):
            if not isinstance(item, Event) and item is not _END:  # events say what happened: kept
                del self._buffer[i]
                return True
        return False

    def _error(self, error: BaseException) -> None:
        if (isinstance(error, AuthenticationError)
                and error.connection == self.subscription.connection):
            with self._lock:  # the keys were refused: nothing will come, say so now
                self._failure = error
                self._wake_reader()

    def _event(self, event: Event) -> None:
        if self.events:  # events are rare and rate-limited: they never push data out
            with self._lock:
                if not self._closed:
                    self._pushed += 1
                    self._buffer.append(event)
                    self._wake_reader()

    def _report_loss(self, loss: int, message: Any) -> None:
        sub = self.subscription
        self._core.port.dispatcher.count_drops(loss, sub.connection)
        code = sub.codes[0] if len(sub.codes) == 1 else None
        if isinstance(message, dict):
            code = message.get("code", code)
        elif message is not None:
            code = getattr(message, "code", code)
        self._core.on_loss(sub, DataLoss(sub.connection, sub.type, code, loss, "drop_oldest"))

    def _timed_out(self) -> UpbitError:
        """What a wait that ran out raises: why the connection is down, when it is."""
        down = self._core.port.outage_error(self.subscription.connection)
        if down is not None:
            return down
        return StreamTimeout(f"no message within {self.timeout}s on {self.subscription!r}")

    def __iter__(self) -> Iterator[T]:
        try:
            while True:
                batch = self._batch
                while batch:  # the usual case, inline: no call, no lock
                    item = batch[0]
                    if item is _END:
                        return
                    batch.popleft()
                    self._taken += 1
                    yield item
                try:
                    yield self._next()
                except StopIteration:
                    return
        finally:  # break, an exception in the loop body, or the generator collected
            self.close()

    def __next__(self) -> T:
        try:
            return self._next()
        except UpbitError:
            self.close()
            raise

    def _next(self) -> T:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            batch = self._batch
            if batch:  # the usual case: no lock at all
                item = batch[0]
                if item is _END:
                    raise StopIteration
                batch.popleft()
                self._taken += 1
                return item  # type: ignore[no-any-return]
            loss = 0
            with self._lock:
                if self._buffer:  # take all of it at once
                    self._batch, self._buffer = self._buffer, batch
                    continue
                if self._losses.pending:  # caught up: say what was lost now, before waiting
                    loss = self._losses.take(time.monotonic(), force=True)
                elif self._failure is not None:
                    raise self._failure
                else:
                    self._waiting = True
            if loss:
                self._report_loss(loss, None)
                continue
            self._wait(deadline)

    def _wait(self, deadline: float | None) -> None:
        """Wait to be woken (``_waiting`` is set); past ``deadline``, raise why nothing came."""
        remaining = None if deadline is None else deadline - time.monotonic()
        if (remaining is None or remaining > 0) and self._wake.acquire(
                timeout=-1 if remaining is None else remaining):
            return
        with self._lock:
            if self._waiting:
                self._waiting = False
            else:  # woken just as the wait ran out: take the release back, and look again
                self._wake.acquire()
                return
        raise self._timed_out()


__all__ = ["MessageStream", "Snapshot", "StreamCore"]
