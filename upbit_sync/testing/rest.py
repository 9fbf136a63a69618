"""The fake exchange's REST side: Upbit's REST API over plain HTTP on a port of its own.

:class:`FakeRest` reads its settings from the exchange's shared state (``rest_limits``, ``teapot_*``,
``accounts``, ``keys``, ``markets``...), which ``FakeUpbitServer``'s attributes change while it runs.
This module is the HTTP side: each request recorded (``RestRequest``), admitted (``rest_limits.py``),
its token checked when the call is signed (``rest_signing.py``), and answered by its endpoint: the
quotations from the market simulator the WebSocket side sends from (``rest_quotation.py``), the
order calls on the matcher's orders and balances (``rest_exchange.py``) and the wallet's
(``rest_wallet.py``).

Threads, all daemons joined by :meth:`FakeRest.stop`: ``upbit-fake-rest-accept``, and one
``upbit-fake-rest-<n>`` per HTTP connection (HTTP/1.1 keep-alive: a connection serves many requests).
"""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from .acceptor import Acceptor
from .matching import Matcher
from .rest_exchange import Exchange
from .rest_faults import AnswerDropped, OrderFaults
from .rest_limits import QUOTATION_GROUPS, RestLimits, group_of
from .rest_params import Call, Endpoints, RestError
from .rest_quotation import Quotation
from .rest_signing import authorize
from .rest_wallet import Wallet
from .state import ExchangeState
from .tokens import TokenCheck, check_authorization
from .wire import dumps

log = logging.getLogger(__name__)

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
    """Upbit's REST API for one fake exchange, on its :class:`ExchangeState`; see the module docstring.

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
    - Exchange calls answer a bad parameter with 400 ``validation_error``; orders follow the
      matcher's rules (:mod:`upbit_sync.testing.matching`; ``FakeUpbitServer`` lists the choices).
      A request a fault drops is recorded with status 0. An unknown path is 404 (named 404 under a
      quotation prefix, ``not_found`` elsewhere).
    - ``/v1/trades/ticks`` without ``days_ago`` serves the UTC day of the latest trade, with it that
      many UTC days before today; a market that never traded trades once on the spot.
    """

    def __init__(self, state: ExchangeState, matcher: Matcher, faults: OrderFaults) -> None:
        self._state = state
        self._lock = threading.Lock()
        self._acceptor = Acceptor(self._serve_connection, "upbit-fake-rest", "upbit-fake-rest-accept")
        self._requests: list[RestRequest] = []
        self._limits = RestLimits(state)
        self._endpoints: Endpoints = {**Quotation(state).endpoints(),
                                      **Exchange(state, matcher, faults).endpoints(),
                                      **Wallet(state, matcher).endpoints()}

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

    def refuse_next(self, n: int, status: int = 429, group: str | None = None) -> None:
        self._limits.refuse_next(n, status, group)

    def clear_refusals(self) -> int:
        return self._limits.clear_refusals()

    # -- one request ---------------------------------------------------------------------------

    def serve(self, handler: _Handler) -> None:
        """Answer one request: record it, admit it (limits), check it (JWT), run the endpoint."""
        now = time.monotonic()
        parts = urlsplit(handler.path)
        path, raw_query = parts.path, parts.query
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
        group = endpoint.group if endpoint is not None else group_of(method, path)
        query = parse_qs(raw_query, keep_blank_values=True)
        record = RestRequest(now, method, path, _flat_query(query), body, group, headers=headers)
        with self._lock:
            self._requests.append(record)
        check: TokenCheck | None = None
        if group not in QUOTATION_GROUPS:
            check = check_authorization(record.header("Authorization"), self._state.keys)
            record.access_key = check.access_key
        scope = check.access_key if check is not None and check.access_key else (
            f"ip:{handler.client_address[0]}")
        refusal, sec, per_minute = self._limits.admit(group, scope, now, record.header("Origin") is not None)
        extra: list[tuple[str, str]] = [
            (self._state.remaining_req_header, f"group={group}; min={per_minute}; sec={sec}")
        ]
        if refusal is not None:
            status: int = refusal.status
            payload: Any = _error(refusal.name, refusal.message)
            if refusal.retry_after is not None:
                extra.append(("Retry-After", str(max(1, math.ceil(refusal.retry_after)))))
        else:
            call = Call(method, path, raw_query, query, body, record.access_key, raw_body)
            try:
                if endpoint is None:
                    raise RestError(404, 404 if group in QUOTATION_GROUPS else "not_found",
                                    f"no such API: {method} {path}")
                if endpoint.signed:
                    authorize(check, raw_query, raw_body, self._state.nonces)
                status, payload = endpoint.serve(call)
            except RestError as error:
                status, payload = error.status, _error(error.name, error.message)
            except AnswerDropped:  # a fault: the call was carried out, its answer never goes
                handler.close_connection = True
                return
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
