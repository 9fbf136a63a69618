"""The fake exchange's REST side: Upbit's REST API over plain HTTP on a port of its own.

:class:`FakeRest` belongs to a :class:`~upbit_sync.testing.server.FakeUpbitServer` and reads its
settings from it (``rest_limits``, ``teapot_*``, ``accounts``, ``keys``, ``markets``...), so a test
changes them on the server while it runs. It serves quotations from the server's market simulator
(the same trades, tickers and prices the WebSocket side sends), the exchange calls a generic client
makes (accounts, open orders, placing and cancelling orders) with Upbit's JWT and query-hash checks
(docs/upbit.md §6, §7), and Upbit's per-group rate limits with ``Remaining-Req``, 429 and the growing
418 block (§5).

Threads, all daemons joined by :meth:`FakeRest.stop`: ``upbit-fake-rest-accept``, and one
``upbit-fake-rest-<n>`` per HTTP connection (HTTP/1.1 keep-alive: a connection serves many requests).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import math
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

from .acceptor import Acceptor
from .markets import DEFAULT_MARKETS
from .tokens import Nonces, TokenCheck, check_authorization
from .wire import dumps

if TYPE_CHECKING:
    from .server import FakeUpbitServer

log = logging.getLogger(__name__)

# group -> (requests, per seconds) (docs/upbit.md §5)
REST_LIMITS: dict[str, tuple[int, float]] = {
    "market": (10, 1.0), "candle": (10, 1.0), "trade": (10, 1.0), "ticker": (10, 1.0),
    "orderbook": (10, 1.0),
    "default": (30, 1.0), "order": (12, 1.0), "order-test": (8, 1.0), "order-cancel-all": (1, 2.0),
}
QUOTATION_GROUPS = frozenset({"market", "candle", "trade", "ticker", "orderbook"})
TEAPOT_WINDOW = 10.0  # 429s of one group within this many seconds count towards a 418 block
MAX_TICKS = 500  # /v1/trades/ticks: the most trades one call returns
UNLIMITED_SEC = 999  # Remaining-Req's sec for a group missing from rest_limits

# What /v1/accounts answers unless the test sets ``server.accounts``.
DEFAULT_ACCOUNTS: tuple[dict[str, Any], ...] = (
    {"currency": "KRW", "balance": "1000000.0", "locked": "0.0", "avg_buy_price": "0",
     "avg_buy_price_modified": False, "unit_currency": "KRW"},
    {"currency": "BTC", "balance": "0.01", "locked": "0.0", "avg_buy_price": "114000000",
     "avg_buy_price_modified": False, "unit_currency": "KRW"},
    {"currency": "ETH", "balance": "0.5", "locked": "0.0", "avg_buy_price": "5100000",
     "avg_buy_price_modified": False, "unit_currency": "KRW"},
)

_CAUTIONS = ("PRICE_FLUCTUATIONS", "TRADING_VOLUME_SOARING", "DEPOSIT_AMOUNT_SOARING",
             "GLOBAL_PRICE_DIFFERENCES", "CONCENTRATION_OF_SMALL_ACCOUNTS")
_TICKER_FIELDS = (
    "opening_price", "high_price", "low_price", "trade_price", "prev_closing_price", "change",
    "change_price", "change_rate", "signed_change_price", "signed_change_rate", "trade_volume",
    "acc_trade_price", "acc_trade_price_24h", "acc_trade_volume", "acc_trade_volume_24h",
    "highest_52_week_price", "highest_52_week_date", "lowest_52_week_price", "lowest_52_week_date",
)
_CODE = re.compile(r"[A-Z0-9]+-[A-Z0-9]+")
_TIME_OF_DAY = re.compile(r"(\d{2}):?(\d{2}):?(\d{2})")
_PREFIX_GROUPS = (("/v1/market", "market"), ("/v1/candles", "candle"), ("/v1/trades", "trade"),
                  ("/v1/ticker", "ticker"), ("/v1/orderbook", "orderbook"))
_OPEN_STATES = ("wait", "watch")
_ORDER_TYPES = ("limit", "price", "market", "best")
_FEE = Decimal("0.0005")
_KST = timezone(timedelta(hours=9))
_MAX_BODY = 1 << 20


@dataclass
class RestRequest:
    """One HTTP request the REST side received, and the status it was answered with.

    ``time`` is ``time.monotonic()`` at receipt; ``query`` maps each name as sent (``states[]``) to
    its value, or to a list when it came more than once or is an array; ``body`` is the decoded
    JSON (the text when it is not JSON, None when empty). ``access_key`` is the key of a token that
    verified. ``headers`` stay out of the repr: they carry the Authorization token.
    """

    time: float
    method: str
    path: str
    query: dict[str, str | list[str]]
    body: Any
    group: str
    status: int = 0
    access_key: str | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    def header(self, name: str) -> str | None:
        """A request header's value by case-insensitive name, or None when it was not sent."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)


class RestError(Exception):
    """An error answer: HTTP ``status`` and Upbit's ``{"error": {"name", "message"}}``."""

    def __init__(self, status: int, name: str | int, message: str) -> None:
        super().__init__(f"{status} {name}: {message}")
        self.status = status
        self.name = name
        self.message = message


@dataclass
class _Call:
    """One admitted request, as an endpoint sees it."""

    method: str
    path: str
    raw_query: str
    query: dict[str, list[str]]
    body: Any
    access_key: str | None
    raw_body: bytes = b""

    def param(self, name: str) -> str | None:
        """A parameter from the query, or else from a JSON object body (as text)."""
        values = self.query.get(name)
        if values:
            return values[0]
        if isinstance(self.body, dict) and self.body.get(name) is not None:
            return _text(self.body[name])
        return None

    def params(self, name: str) -> list[str]:
        """An array parameter (``name[]``), from the query or a JSON object body."""
        values = self.query.get(f"{name}[]") or self.query.get(name)
        if values:
            return values
        if isinstance(self.body, dict):
            value = self.body.get(f"{name}[]", self.body.get(name))
            if isinstance(value, list):
                return [_text(item) for item in value]
            if value is not None:
                return [_text(value)]
        return []


@dataclass(frozen=True)
class _Endpoint:
    group: str
    signed: bool
    serve: Callable[[_Call], tuple[int, Any]]


@dataclass
class _Bucket:
    """One group's count for one client (an IP, or an access key for exchange groups)."""

    times: deque[float] = field(default_factory=deque)  # admitted requests in the window
    strikes: deque[float] = field(default_factory=deque)  # 429s in the teapot window
    blocked_until: float = 0.0
    blocks: int = 0


@dataclass(frozen=True)
class _Refusal:
    status: int
    name: str | int
    message: str
    retry_after: float | None = None


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to :meth:`FakeRest.serve`; HTTP/1.1, so connections are kept alive."""

    protocol_version = "HTTP/1.1"

    def __init__(self, sock: socket.socket, address: Any, rest: FakeRest) -> None:
        self.rest = rest
        super().__init__(sock, address, cast(Any, rest))

    def version_string(self) -> str:
        return "FakeUpbit"

    def do_GET(self) -> None:
        self.rest.serve(self)

    def do_POST(self) -> None:
        self.rest.serve(self)

    def do_DELETE(self) -> None:
        self.rest.serve(self)

    def do_PUT(self) -> None:
        self.rest.serve(self)

    def do_PATCH(self) -> None:
        self.rest.serve(self)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake Upbit REST: " + format, *args)


class FakeRest:
    """Upbit's REST API for one :class:`FakeUpbitServer`; see the module docstring.

    Where Upbit's behaviour is unknown, the fake decides as follows:

    - Each group is counted in a sliding window of its ``rest_limits`` seconds, per client IP for
      quotation groups and per access key for exchange groups (a request whose token does not verify
      is counted per IP). Only admitted requests count; refused ones (429, 418) do not.
    - ``Remaining-Req`` is on every answer: ``sec`` is what is left in the window after this request
      (0 on a 429 or 418), ``min`` a fixed figure (Upbit deprecated it): the limit per minute.
    - The ``teapot_after``-th 429 of one group and client within ``teapot_window`` seconds is still a
      429; the block starts with it, and every request of that group and client meanwhile gets 418,
      named ``too_many_requests`` like the 429, its message giving the seconds left. Each later block
      of the same group and client lasts twice as long as the one before.
    - Checks in order: ``refuse_rest_next``, a 418 block, the Origin rule (shared with the WebSocket
      side), the rate limit; then, for exchange calls, the token, its nonce and its query hash; then
      the call itself. The nonce is spent even when the query hash is refused.
    - The query hash is checked when the request has a query string (the hash of its
      ``urllib.parse.unquote``) or else a JSON object body with a non-null value (its pairs, ``k=v``
      in body order, lists as ``k[]=v``, a null left out, ``true``/``false``, a number as the body
      wrote it, spaces as ``+``: what ``unquote(urlencode(pairs))`` gives for the body's text). A
      nested object, a null in a list or a list in a list has no such form: the call is refused
      ``invalid_query_payload``. A token with a query hash on a call without parameters is accepted.
    - Exchange calls answer a bad parameter with 400 ``validation_error``; a cancel of an unknown or
      no longer open order with 404 ``order_not_found``; an order is accepted as ``wait`` and stays
      open until cancelled (nothing fills). An unknown path is 404 (named 404 under a quotation
      prefix, ``not_found`` elsewhere).
    - ``/v1/trades/ticks`` without ``days_ago`` serves the UTC day of the latest trade, with it that
      many UTC days before today; a market that never traded trades once on the spot.
    """

    def __init__(self, exchange: FakeUpbitServer, nonces: Nonces,
                 admit_origin: Callable[[float], bool]) -> None:
        self._exchange = exchange
        self._nonces = nonces
        self._admit_origin = admit_origin
        self._lock = threading.Lock()
        self._acceptor = Acceptor(self._serve_connection, "upbit-fake-rest", "upbit-fake-rest-accept")
        self._requests: list[RestRequest] = []
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._refusals: list[tuple[int, str | None]] = []
        self._orders: dict[str, dict[str, dict[str, Any]]] = {}  # access key -> uuid -> order
        self._endpoints: dict[tuple[str, str], _Endpoint] = {
            ("GET", "/v1/market/all"): _Endpoint("market", False, self._market_all),
            ("GET", "/v1/ticker"): _Endpoint("ticker", False, self._ticker),
            ("GET", "/v1/ticker/all"): _Endpoint("ticker", False, self._ticker_all),
            ("GET", "/v1/trades/ticks"): _Endpoint("trade", False, self._ticks),
            ("GET", "/v1/orderbook"): _Endpoint("orderbook", False, self._orderbook),
            ("GET", "/v1/orderbook/instruments"): _Endpoint("orderbook", False, self._instruments),
            ("GET", "/v1/accounts"): _Endpoint("default", True, self._accounts),
            ("GET", "/v1/orders/open"): _Endpoint("default", True, self._open_orders),
            ("GET", "/v1/order"): _Endpoint("default", True, self._get_order),
            ("DELETE", "/v1/order"): _Endpoint("default", True, self._cancel_order),
            ("POST", "/v1/orders"): _Endpoint("order", True, self._place_order),
            ("POST", "/v1/orders/test"): _Endpoint("order-test", True, self._test_order),
            ("DELETE", "/v1/orders/open"): _Endpoint("order-cancel-all", True, self._cancel_all),
        }

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0: a free port) and serve; returns the port."""
        listener = socket.create_server((host, port))
        self._acceptor.start(listener)
        return int(listener.getsockname()[1])

    def stop(self) -> None:
        """Stop accepting, end every HTTP connection, join every thread. Idempotent."""
        self._acceptor.stop()

    def _serve_connection(self, sock: socket.socket, address: Any) -> None:
        try:
            _Handler(sock, address, self)
        except OSError:  # the client went away, or stop() ended the connection
            pass
        except Exception:
            log.exception("fake Upbit REST connection failed")

    # -- controls and introspection ------------------------------------------------------------

    @property
    def requests(self) -> list[RestRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def orders(self) -> list[dict[str, Any]]:
        """Every order placed (copies, oldest first), of every access key."""
        with self._lock:
            return [dict(order) for orders in self._orders.values() for order in orders.values()]

    def refuse_next(self, n: int, status: int = 429, group: str | None = None) -> None:
        with self._lock:
            self._refusals.extend([(status, group)] * n)

    # -- one request ---------------------------------------------------------------------------

    def serve(self, handler: _Handler) -> None:
        """Answer one request: record it, admit it (limits), check it (JWT), run the endpoint."""
        now = time.monotonic()
        split = urlsplit(handler.path)
        path, raw_query = split.path, split.query
        method = handler.command
        headers: dict[str, str] = {}
        for key, value in handler.headers.items():
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        raw_body = self._read_body(handler)
        if raw_body is None:
            handler.close_connection = True
            _write(handler, 400, {"error": {"name": 400, "message": "bad Content-Length"}}, [])
            return
        body = _decode_body(raw_body)
        endpoint = self._endpoints.get((method, path))
        group = endpoint.group if endpoint is not None else _group_of(method, path)
        query = parse_qs(raw_query, keep_blank_values=True)
        record = RestRequest(now, method, path, _flat_query(query), body, group, headers=headers)
        with self._lock:
            self._requests.append(record)
        check: TokenCheck | None = None
        if group not in QUOTATION_GROUPS:
            check = check_authorization(record.header("Authorization"), self._exchange.keys)
            record.access_key = check.access_key
        scope = check.access_key if check is not None and check.access_key else (
            f"ip:{handler.client_address[0]}")
        refusal, sec, per_minute = self._admit(group, scope, now, record.header("Origin") is not None)
        extra: list[tuple[str, str]] = [
            (self._exchange.remaining_req_header, f"group={group}; min={per_minute}; sec={sec}")
        ]
        if refusal is not None:
            status: int = refusal.status
            payload: Any = _error(refusal.name, refusal.message)
            if refusal.retry_after is not None:
                extra.append(("Retry-After", str(max(1, math.ceil(refusal.retry_after)))))
        else:
            call = _Call(method, path, raw_query, query, body, record.access_key, raw_body)
            try:
                if endpoint is None:
                    raise RestError(404, 404 if group in QUOTATION_GROUPS else "not_found",
                                    f"no such API: {method} {path}")
                if endpoint.signed:
                    self._authorize(check, call)
                status, payload = endpoint.serve(call)
            except RestError as error:
                status, payload = error.status, _error(error.name, error.message)
            except Exception:
                log.exception("fake Upbit REST: %s %s failed", method, path)
                status, payload = 500, _error(500, "Internal Server Error")
        record.status = status  # before the answer goes out: a client that has it sees it recorded
        _write(handler, status, payload, extra)

    def _read_body(self, handler: _Handler) -> bytes | None:
        """The request body by its Content-Length; None when it cannot be read (a chunked body is
        refused: no Upbit client sends one, and leaving it unread would garble the next request)."""
        length = handler.headers.get("Content-Length")
        if length is None:
            return None if handler.headers.get("Transfer-Encoding") else b""
        try:
            size = int(length)
        except ValueError:
            return None
        if size < 0 or size > _MAX_BODY:
            return None
        return handler.rfile.read(size) if size else b""

    def _admit(self, group: str, scope: str, now: float, origin: bool
               ) -> tuple[_Refusal | None, int, int]:
        """``(refusal or None, sec, min)`` for Remaining-Req; counts the request when admitted."""
        exchange = self._exchange
        limit = exchange.rest_limits.get(group)
        per_minute = round(limit[0] * 60 / limit[1]) if limit else UNLIMITED_SEC * 60
        with self._lock:
            bucket = self._buckets.setdefault((group, scope), _Bucket())
            if limit is not None:
                while bucket.times and bucket.times[0] <= now - limit[1]:
                    bucket.times.popleft()
            left = limit[0] - len(bucket.times) if limit else UNLIMITED_SEC
            for i, (status, only) in enumerate(self._refusals):
                if only is None or only == group:
                    del self._refusals[i]
                    return self._refusal(status, group, exchange.teapot_seconds), max(0, left), per_minute
            if now < bucket.blocked_until:
                return self._teapot(bucket.blocked_until - now), 0, per_minute
            if origin and not self._admit_origin(now):
                return _Refusal(429, "too_many_requests", "Too many API requests."), max(0, left), per_minute
            if limit is not None and left <= 0:
                self._strike(bucket, now)
                return _Refusal(429, "too_many_requests", "Too many API requests."), 0, per_minute
            bucket.times.append(now)
            return None, max(0, left - 1), per_minute

    def _strike(self, bucket: _Bucket, now: float) -> None:
        """Count a 429; the ``teapot_after``-th within ``teapot_window`` starts a block."""
        exchange = self._exchange
        strikes = bucket.strikes
        strikes.append(now)
        while strikes and strikes[0] <= now - exchange.teapot_window:
            strikes.popleft()
        after = exchange.teapot_after
        if after and len(strikes) >= after:
            strikes.clear()
            bucket.blocks += 1
            bucket.blocked_until = now + exchange.teapot_seconds * 2 ** (bucket.blocks - 1)

    def _teapot(self, seconds: float) -> _Refusal:
        shown = f"{max(seconds, 0.1):.1f}".rstrip("0").rstrip(".")
        return _Refusal(418, "too_many_requests",
                        f"Too many API requests: blocked for {shown} seconds.",
                        seconds if self._exchange.teapot_retry_after else None)

    def _refusal(self, status: int, group: str, teapot_seconds: float) -> _Refusal:
        """The answer ``refuse_rest_next`` gives: ``status`` with the body Upbit would send."""
        if status == 429:
            return _Refusal(429, "too_many_requests", "Too many API requests.")
        if status == 418:
            return self._teapot(teapot_seconds)
        if status == 401:
            return _Refusal(401, "jwt_verification", "refused by refuse_rest_next")
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        name: str | int = status if group in QUOTATION_GROUPS else phrase.lower().replace(" ", "_")
        return _Refusal(status, name, phrase)

    def _authorize(self, check: TokenCheck | None, call: _Call) -> None:
        """The token verified, its nonce is new, and its query hash matches the parameters sent."""
        if check is None or not check.ok or check.nonce is None:
            reason = check.reason if check is not None else "missing Authorization header"
            raise RestError(401, "jwt_verification", f"Failed to verify Jwt token: {reason}.")
        if not self._nonces.claim(check.nonce):
            raise RestError(401, "nonce_used", "This nonce has been used before.")
        hashed = _hashed_text(call.raw_query, call.raw_body)
        if hashed is None:
            return
        claimed = check.claims.get("query_hash")
        expected = _sha512(hashed)
        if (not isinstance(claimed, str) or claimed.lower() != expected
                or check.claims.get("query_hash_alg") != "SHA512"):
            raise RestError(401, "invalid_query_payload",
                            "query_hash does not match the parameters sent (SHA512 expected).")

    # -- quotation endpoints -------------------------------------------------------------------

    def _market_all(self, call: _Call) -> tuple[int, Any]:
        details = _flag(call.param("is_details"), "is_details")
        listed = self._exchange.markets or DEFAULT_MARKETS
        rows: list[dict[str, Any]] = []
        for market in listed:
            row: dict[str, Any] = {"market": market.market, "korean_name": market.korean_name,
                                   "english_name": market.english_name}
            if details:
                row["market_event"] = {"warning": market.warning,
                                       "caution": dict.fromkeys(_CAUTIONS, False)}
            rows.append(row)
        return 200, rows

    def _ticker(self, call: _Call) -> tuple[int, Any]:
        return 200, [self._rest_ticker(code) for code in self._codes(call.param("markets"))]

    def _ticker_all(self, call: _Call) -> tuple[int, Any]:
        quotes = _split(call.param("quote_currencies"), "quote_currencies")
        listed = self._exchange.markets or DEFAULT_MARKETS
        return 200, [self._rest_ticker(m.market) for m in listed if m.quote in quotes]

    def _rest_ticker(self, code: str) -> dict[str, Any]:
        """The REST ticker: the WebSocket ticker's state, with REST's field names."""
        ws = self._exchange.market.make("ticker", code, "SNAPSHOT")
        kst = datetime.fromtimestamp(ws["trade_timestamp"] / 1000, tz=_KST)
        ticker: dict[str, Any] = {
            "market": code, "trade_date": ws["trade_date"], "trade_time": ws["trade_time"],
            "trade_date_kst": kst.strftime("%Y%m%d"), "trade_time_kst": kst.strftime("%H%M%S"),
            "trade_timestamp": ws["trade_timestamp"],
        }
        ticker.update((name, ws[name]) for name in _TICKER_FIELDS)
        ticker["timestamp"] = ws["timestamp"]
        return ticker

    def _ticks(self, call: _Call) -> tuple[int, Any]:
        code = self._code(call.param("market"))
        count = _integer(call.param("count"), "count", 1, 1, MAX_TICKS)
        cursor = _optional_integer(call.param("cursor"), "cursor", 0, None)
        days_ago = _optional_integer(call.param("days_ago"), "days_ago", 1, 7)
        until = _time_of_day(call.param("to"))
        simulator = self._exchange.market
        records = simulator.history(code)
        if not records:
            simulator.make("trade", code)  # Upbit's markets have always traded: one on the spot
            records = simulator.history(code)
        if days_ago is not None:
            day = datetime.now(timezone.utc).date() - timedelta(days=days_ago)
        else:
            day = datetime.fromtimestamp(records[-1].timestamp / 1000, tz=timezone.utc).date()
        start = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)
        end = start + 86_400_000 if until is None else start + until * 1000 + 1000
        first = bisect.bisect_left(records, start, key=lambda r: r.timestamp)
        last = bisect.bisect_left(records, end, key=lambda r: r.timestamp)
        if cursor is not None:
            last = min(last, bisect.bisect_left(records, cursor, key=lambda r: r.sequential_id))
        chosen = records[max(first, last - count):last]
        return 200, [record.as_tick(code) for record in reversed(chosen)]

    def _orderbook(self, call: _Call) -> tuple[int, Any]:
        codes = self._codes(call.param("markets"))
        level = _number(call.param("level"), "level", 0.0)
        count = _integer(call.param("count"), "count", 30, 1, 30)
        books = []
        for code in codes:
            if not any(math.isclose(level, lv, rel_tol=1e-9, abs_tol=1e-12)
                       for lv in self._exchange.supported_levels(code)):
                continue  # an unsupported level: nothing for that market
            book = self._exchange.market.make("orderbook", code, "SNAPSHOT", count, level)
            books.append({"market": code, "timestamp": book["timestamp"],
                          "total_ask_size": book["total_ask_size"],
                          "total_bid_size": book["total_bid_size"],
                          "orderbook_units": book["orderbook_units"], "level": book["level"]})
        return 200, books

    def _instruments(self, call: _Call) -> tuple[int, Any]:
        rows = []
        for code in self._codes(call.param("markets")):
            tick, levels = self._exchange.market.instrument(code)
            rows.append({"market": code, "quote_currency": code.split("-", 1)[0],
                         "tick_size": _decimal_text(tick),
                         "supported_levels": [_decimal_text(level) for level in levels]})
        return 200, rows

    def _codes(self, text: str | None) -> list[str]:
        return [self._code(code) for code in _split(text, "markets")]

    def _code(self, code: str | None) -> str:
        """A market code this exchange lists; 404 ``Code not found`` otherwise (docs/upbit.md §7)."""
        if not code:
            raise RestError(400, 400, "market is required.")
        if _CODE.fullmatch(code) is None or not self._exchange.is_listed(code):
            raise RestError(404, 404, "Code not found")
        return code

    # -- exchange endpoints --------------------------------------------------------------------

    def _accounts(self, call: _Call) -> tuple[int, Any]:
        return 200, [dict(account) for account in self._exchange.accounts]

    def _open_orders(self, call: _Call) -> tuple[int, Any]:
        market = call.param("market")
        states = call.params("states") or ([state] if (state := call.param("state")) else
                                           list(_OPEN_STATES))
        if any(state not in _OPEN_STATES for state in states):
            raise RestError(400, "validation_error", "states must be wait or watch.")
        limit = _integer(call.param("limit"), "limit", 100, 1, 100, "validation_error")
        page = _integer(call.param("page"), "page", 1, 1, None, "validation_error")
        order_by = call.param("order_by") or "desc"
        with self._lock:
            orders = [dict(o) for o in self._orders.get(call.access_key or "", {}).values()
                      if o["state"] in states and (market is None or o["market"] == market)]
        if order_by == "desc":
            orders.reverse()
        return 200, orders[(page - 1) * limit:page * limit]

    def _get_order(self, call: _Call) -> tuple[int, Any]:
        with self._lock:
            return 200, dict(self._find_order(call))

    def _cancel_order(self, call: _Call) -> tuple[int, Any]:
        with self._lock:
            order = self._find_order(call)
            if order["state"] not in _OPEN_STATES:
                raise RestError(404, "order_not_found", "The order is not open.")
            order["state"] = "cancel"
            return 200, dict(order)

    def _find_order(self, call: _Call) -> dict[str, Any]:
        wanted, identifier = call.param("uuid"), call.param("identifier")
        if wanted is None and identifier is None:
            raise RestError(400, "validation_error", "uuid or identifier is required.")
        for order in self._orders.get(call.access_key or "", {}).values():
            if (wanted is not None and order["uuid"] == wanted) or (
                    wanted is None and order.get("identifier") == identifier):
                return order
        raise RestError(404, "order_not_found", "주문을 찾지 못했습니다.")

    def _place_order(self, call: _Call) -> tuple[int, Any]:
        order = self._new_order(call)
        with self._lock:
            self._orders.setdefault(call.access_key or "", {})[order["uuid"]] = order
            return 201, dict(order)

    def _test_order(self, call: _Call) -> tuple[int, Any]:
        return 201, self._new_order(call)

    def _new_order(self, call: _Call) -> dict[str, Any]:
        """An order as Upbit acknowledges it: ``wait``, nothing executed, funds locked."""
        market = call.param("market")
        side = call.param("side")
        ord_type = call.param("ord_type")
        if not market or _CODE.fullmatch(market) is None or not self._exchange.is_listed(market):
            raise RestError(400, "validation_error", "market is missing or not listed.")
        if side not in ("bid", "ask"):
            raise RestError(400, "validation_error", "side must be bid or ask.")
        if ord_type not in _ORDER_TYPES:
            raise RestError(400, "validation_error", f"ord_type must be one of {', '.join(_ORDER_TYPES)}.")
        volume = _amount(call.param("volume"), "volume")
        price = _amount(call.param("price"), "price")
        needs_volume = ord_type == "limit" or (ord_type in ("market", "best") and side == "ask")
        needs_price = ord_type == "limit" or (ord_type in ("price", "best") and side == "bid")
        if (needs_volume and volume is None) or (needs_price and price is None):
            raise RestError(400, "validation_error", f"a {ord_type} {side} order needs "
                            + " and ".join(n for n, need in (("volume", needs_volume),
                                                             ("price", needs_price)) if need) + ".")
        if side == "bid":
            funds = (price or Decimal(0)) * (volume if volume is not None else Decimal(1))
            fee, locked = funds * _FEE, funds * (1 + _FEE)
        else:
            fee, locked = Decimal(0), volume or Decimal(0)
        order: dict[str, Any] = {
            "uuid": str(uuid.uuid4()), "side": side, "ord_type": ord_type,
            "price": _decimal_text(price) if price is not None else None, "state": "wait",
            "market": market, "created_at": datetime.now(_KST).isoformat(timespec="seconds"),
            "volume": _decimal_text(volume) if volume is not None else None,
            "remaining_volume": _decimal_text(volume) if volume is not None else None,
            "reserved_fee": _decimal_text(fee), "remaining_fee": _decimal_text(fee), "paid_fee": "0",
            "locked": _decimal_text(locked), "executed_volume": "0", "trades_count": 0,
        }
        given = call.body if isinstance(call.body, dict) else {n: v[0] for n, v in call.query.items()}
        for name, value in given.items():
            order.setdefault(name, value)
        return order

    def _cancel_all(self, call: _Call) -> tuple[int, Any]:
        side = call.param("cancel_side") or "all"
        if side not in ("all", "ask", "bid"):
            raise RestError(400, "validation_error", "cancel_side must be all, ask or bid.")
        pairs = set(_split(p, "pairs")) if (p := call.param("pairs")) else None
        excluded = set(_split(p, "excluded_pairs")) if (p := call.param("excluded_pairs")) else set()
        quotes = set(_split(q, "quote_currencies")) if (q := call.param("quote_currencies")) else None
        count = _integer(call.param("count"), "count", 20, 1, 300, "validation_error")
        with self._lock:
            orders = [o for o in self._orders.get(call.access_key or "", {}).values()
                      if o["state"] == "wait" and (side == "all" or o["side"] == side)
                      and (pairs is None or o["market"] in pairs) and o["market"] not in excluded
                      and (quotes is None or o["market"].split("-", 1)[0] in quotes)]
            if (call.param("order_by") or "desc") == "desc":
                orders.reverse()
            cancelled = orders[:count]
            for order in cancelled:
                order["state"] = "cancel"
            done = [{"uuid": o["uuid"], "market": o["market"]} for o in cancelled]
        return 200, {"success": {"count": len(done), "orders": done},
                     "failed": {"count": 0, "orders": []}}


# -- helpers -----------------------------------------------------------------------------------


def _write(handler: BaseHTTPRequestHandler, status: int, payload: Any,
           headers: list[tuple[str, str]]) -> None:
    body = dumps(payload)
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers:
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def _error(name: str | int, message: str) -> dict[str, Any]:
    return {"error": {"name": name, "message": message}}


def _group_of(method: str, path: str) -> str:
    """The group of a path no endpoint serves: by its prefix, else ``default``."""
    return next((group for prefix, group in _PREFIX_GROUPS if path.startswith(prefix)), "default")


def _decode_body(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _flat_query(query: Mapping[str, list[str]]) -> dict[str, str | list[str]]:
    return {name: values if len(values) > 1 or name.endswith("[]") else values[0]
            for name, values in query.items()}


def _text(value: Any) -> str:
    """A JSON value as a parameter's text: a string as it is, a flag ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


class _Written(str):
    """A number of a JSON body, as the body wrote it (``1e-05`` stays ``1e-05``)."""


def _hashed_text(raw_query: str, raw_body: bytes) -> str | None:
    """What a token's ``query_hash`` must be the SHA-512 of (docs/upbit.md §6), or None when the
    request has no parameters. Written from the request as received, independently of the SDK."""
    if raw_query:
        return unquote(raw_query)
    try:
        body = json.loads(raw_body.decode("utf-8"), parse_float=_Written, parse_int=_Written,
                          parse_constant=_Written)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    pairs: list[str] = []
    for key, value in body.items():
        if value is None:  # a null is no parameter: neither sent as a pair nor hashed
            continue
        if isinstance(value, list):
            name, items = (key if key.endswith("[]") else f"{key}[]"), value
        else:
            name, items = key, [value]
        for item in items:
            if item is None or isinstance(item, (dict, list)):
                raise RestError(401, "invalid_query_payload",
                                f"{key} holds a value that has no query form, so no hash can match it.")
            pairs.append(f"{name}={_text(item)}")
    # unquote(urlencode(pairs)): every character as it is but the space, which urlencode writes "+"
    return "&".join(pairs).replace(" ", "+") if pairs else None


def _sha512(text: str) -> str:
    return hashlib.sha512(text.encode("utf-8")).hexdigest()


def _flag(value: str | None, name: str) -> bool:
    if value is None or value.lower() == "false":
        return False
    if value.lower() == "true":
        return True
    raise RestError(400, 400, f"{name} must be true or false.")


def _split(text: str | None, name: str) -> list[str]:
    """A comma-separated list parameter; 400 when it is missing or has an empty item."""
    if not text:
        raise RestError(400, 400, f"{name} is required.")
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise RestError(400, 400, f"{name} has an empty item.")
    return items


def _integer(value: str | None, name: str, default: int, low: int, high: int | None,
             error: str | int = 400) -> int:
    """An integer parameter within ``[low, high]``, or ``default`` when absent; 400 otherwise."""
    found = _optional_integer(value, name, low, high, error)
    return default if found is None else found


def _optional_integer(value: str | None, name: str, low: int, high: int | None,
                      error: str | int = 400) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise RestError(400, error, f"{name} must be an integer.") from None
    if number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise RestError(400, error, f"{name} must be {bound}.")
    return number


def _number(value: str | None, name: str, default: float) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise RestError(400, 400, f"{name} must be a number.") from None
    if not math.isfinite(number) or number < 0:
        raise RestError(400, 400, f"{name} must be a number of at least 0.")
    return number


def _amount(value: str | None, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise RestError(400, "validation_error", f"{name} must be a decimal number.") from None
    if not amount.is_finite() or amount <= 0:
        raise RestError(400, "validation_error", f"{name} must be above 0.")
    return amount


def _time_of_day(value: str | None) -> int | None:
    """``to`` (``HHmmss`` or ``HH:mm:ss``, UTC) as seconds into the day."""
    if value is None:
        return None
    match = _TIME_OF_DAY.fullmatch(value)
    if match is None:
        raise RestError(400, 400, "to must be HHmmss or HH:mm:ss.")
    hours, minutes, seconds = (int(part) for part in match.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        raise RestError(400, 400, "to is not a time of day.")
    return hours * 3600 + minutes * 60 + seconds


def _decimal_text(value: float | Decimal) -> str:
    """A number as Upbit writes decimal strings: plain notation, no trailing zeros (``"0.0001"``)."""
    number = value if isinstance(value, Decimal) else Decimal(repr(value))
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0") else text

