"""What the fake exchange knows of one WebSocket connection.

``FakeConnection`` is websockets' server connection, noting when any frame arrives; ``Session`` is
what the fake's threads keep of an accepted connection (its format, subscriptions, streams, private
wishes, counters); ``ConnInfo`` is a test's live, read-only view of it, and ``Request`` and
``Attempt`` the records of what it sent and how its upgrade went.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.frames import Opcode
from websockets.sync.server import ServerConnection

from .compression import Deflater
from .tokens import TokenCheck
from .validation import AnnouncementRequest

PUBLIC_PATH = "/websocket/v1"
PRIVATE_PATH = "/websocket/v1/private"
INFO_PATH = "/websocket/v1/info"  # indicator and indicator_signal (docs/channels.md §0)
PATHS = (PUBLIC_PATH, PRIVATE_PATH, INFO_PATH)
AUTHENTICATED_PATHS = (PRIVATE_PATH, INFO_PATH)  # a JWT on the upgrade (docs/channels.md §1)

_made = threading.local()  # the FakeConnection the calling thread's handshake made


@dataclass(frozen=True)
class Request:
    """One request message a connection received (``PING`` is not one; see ``ConnInfo.pings``)."""

    time: float
    text: str
    payload: Any


@dataclass
class Attempt:
    """One upgrade attempt: when (``time.monotonic()``), on which path, answered with which status.

    ``headers`` are the upgrade request's headers, names as sent; they stay out of the repr because
    they may carry an Authorization token.
    """

    time: float
    path: str
    status: int
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    def header(self, name: str) -> str | None:
        """A request header's value by case-insensitive name, or None when it was not sent."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)


@dataclass(eq=False)
class Stream:
    """One (type, code) the connection is subscribed to, as the sender thread serves it."""

    type: str
    key: str
    market: str
    depth: int
    level: float
    snapshot: bool
    realtime: bool
    awaiting_snapshot: bool = False


class FakeConnection(ServerConnection):
    """A websockets server connection that notes when any frame arrives, pings included, and carries
    what the upgrade decided (its attempt, its token check, then its session)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.last_rx = time.monotonic()
        self.fake_attempt: Attempt | None = None
        self.fake_auth: TokenCheck | None = None
        self.fake_conn: Session | None = None
        self.fake_on_close: Callable[[Session], None] | None = None
        super().__init__(*args, **kwargs)
        _made.connection = self
        name = threading.current_thread().name
        if name.startswith("upbit-fake-conn-"):
            self.recv_events_thread.name = name.replace("-conn-", "-recv-", 1)

    @staticmethod
    def made_here() -> FakeConnection | None:
        """The connection the calling thread's handshake made, if any since :meth:`forget_here`."""
        made = getattr(_made, "connection", None)
        return made if isinstance(made, FakeConnection) else None

    @staticmethod
    def forget_here() -> None:
        _made.connection = None

    def process_event(self, event: Any) -> None:
        self.last_rx = time.monotonic()
        super().process_event(event)
        # The closing handshake is complete (websockets has sent its reply by now): the
        # connection is over, even if the client never closes its end of the TCP connection.
        if getattr(event, "opcode", None) is Opcode.CLOSE:
            conn, on_close = self.fake_conn, self.fake_on_close
            if conn is not None and on_close is not None:
                on_close(conn)


@dataclass(eq=False)
class Session:
    """One accepted connection as the fake's threads keep it, under the server's lock (the sender
    thread alone reads what it schedules). :class:`ConnInfo` is the view a test gets."""

    id: int
    path: str
    ws: FakeConnection
    opened_at: float
    access_key: str | None
    closed_at: float | None = None
    closing: bool = False
    format: str = "DEFAULT"
    requests: list[Request] = field(default_factory=list)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)  # the last request's, as sent
    served: list[dict[str, Any]] = field(default_factory=list)  # what LIST_SUBSCRIPTIONS answers
    sent: int = 0
    pings: int = 0
    streams: list[Stream] = field(default_factory=list)
    trades: dict[str, Stream] = field(default_factory=dict)  # by market: the tapes' listeners
    pending: deque[Stream] = field(default_factory=deque)  # snapshots to send
    generation: int = 0  # one per request: scheduled streams of an older one are dropped
    my_order: frozenset[str] | None = None  # None = every market
    my_order_on: bool = False
    my_asset_on: bool = False
    announcement: AnnouncementRequest | None = None
    status_next: float | None = None
    last_tx: float = 0.0
    message_times: deque[float] = field(default_factory=deque)
    deflater: Deflater | None = None  # permessage-deflate agreed: compresses what is written

    @property
    def last_activity(self) -> float:
        """When a frame last went either way (``time.monotonic()``): the idle clock."""
        return max(self.ws.last_rx, self.last_tx)


class ConnInfo:
    """What the fake knows of one accepted connection; a live, thread-safe, read-only view."""

    def __init__(self, lock: threading.RLock, session: Session) -> None:
        self.id = session.id
        self.path = session.path
        self.is_private = session.path == PRIVATE_PATH
        self.is_info = session.path == INFO_PATH
        self.opened_at = session.opened_at
        self.authorized_access_key = session.access_key
        self._lock = lock
        self._session = session

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<ConnInfo {self.id} {self.path} {state} format={self.format}>"

    @property
    def closed_at(self) -> float | None:
        with self._lock:
            return self._session.closed_at

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._session.closed_at is None

    @property
    def format(self) -> str:
        with self._lock:
            return self._session.format

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._session.requests)

    @property
    def subscriptions(self) -> list[dict[str, Any]]:
        """The current set, one dict per type object of the last request, codes as sent."""
        with self._lock:
            return [dict(entry, codes=list(entry["codes"])) if "codes" in entry else dict(entry)
                    for entry in self._session.subscriptions]

    @property
    def compressed(self) -> bool:
        """permessage-deflate was agreed on the upgrade: data frames go compressed."""
        return self._session.deflater is not None

    @property
    def sent_count(self) -> int:
        """Data frames sent: market data, private events and firehose frames."""
        with self._lock:
            return self._session.sent

    @property
    def pings(self) -> int:
        """Text ``PING`` messages received."""
        with self._lock:
            return self._session.pings

    @property
    def last_activity(self) -> float:
        """When a frame last went either way (``time.monotonic()``): the idle clock."""
        return self._session.last_activity
