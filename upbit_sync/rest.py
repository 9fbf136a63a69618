"""RestClient: the REST calls a bot needs around its streams, on ``requests`` (docs/upbit.md §6-§7).

Every call goes through its rate-limit group (ratelimit.GroupLimit): it waits its turn, reads the
answer's ``Remaining-Req``, slows down on a 429 and retries, and raises RateLimitError while a 418
block lasts. Signed calls carry a fresh JWT (a new nonce each, the query hash of their parameters):
the query and the JSON body are written from auth.wire_params, the hash from the same pairs, so what
is sent is what is hashed. One ``requests.Session``, a timeout on every call, no ``Origin`` header.
Every failure is an UpbitError: ApiError for Upbit's error answers, ConnectError for the network,
never a token or a URL's password in a message.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl

from ._version import __version__
from .auth import Credentials, WireParams, wire_params
from .config import Config
from .errors import (
    ApiAuthenticationError,
    ApiError,
    ApiRateLimitError,
    AuthenticationError,
    ClosedError,
    ConnectError,
    DecodeError,
    InvalidRequestError,
)
from .protocol import market_codes
from .ratelimit import group_of, limits_for
from .redact import redact_url
from .types import Account, MarketInfo, MarketTicker, OrderbookInstrument, TradeTick

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

# Upbit's error names that mean the credentials, not the request, were refused.
AUTH_ERRORS = frozenset({"jwt_verification", "expired_access_key", "nonce_used", "no_authorization_ip",
                         "out_of_scope", "invalid_query_payload", "invalid_access_key"})
INSTRUMENTS_TTL = 3600.0  # seconds a market's supported orderbook levels are kept
retry_sleep = time.sleep  # how a call waits before retrying a 429 (tests replace it)

Params = Mapping[str, Any]


class RestClient:
    """Upbit's REST API: typed results for the common calls, :meth:`request` for any other. Thread-safe
    (one ``requests.Session``, shared); ``close()`` or a ``with`` block releases it."""

    def __init__(self, config: Config | None = None, *, session: requests.Session | None = None) -> None:
        import requests  # here: a program that makes no REST call pays nothing for the package

        self.config = config if config is not None else Config.from_env()
        cfg = self.config
        self._credentials = (Credentials(cfg.access_key, cfg.secret_key)  # type: ignore[arg-type]
                             if cfg.has_keys else None)
        self._session = session if session is not None else requests.Session()
        if cfg.proxy is not None:  # REST through the same proxy as the WebSocket connections
            self._session.proxies.update({"http": cfg.proxy, "https": cfg.proxy})
        self._own_session = session is None
        self._session.headers.update({"User-Agent": f"upbit-sync/{__version__}",
                                      "Accept": "application/json"})
        self._base = cfg.rest_url.rstrip("/")
        self._limits = limits_for(cfg)
        self._closed = False
        self._instruments: dict[str, tuple[float, OrderbookInstrument]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<RestClient {redact_url(self._base)} keys={'set' if self._credentials else 'none'}>"

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the session (when this client made it). Idempotent."""
        self._closed = True
        if self._own_session:
            self._session.close()

    # ---- quotation ------------------------------------------------------------------------------

    def markets(self, quote: str | None = None, details: bool = False) -> list[MarketInfo]:
        """Every market Upbit lists (``quote="KRW"``: only those quoted in KRW)."""
        rows = self._call("GET", "/v1/market/all", {"is_details": "true" if details else "false"})
        found = _typed(_market, rows)
        return [m for m in found if quote is None or m.quote == quote.upper()]

    def tickers(self, markets: str | Iterable[str]) -> list[MarketTicker]:
        codes = market_codes(markets)
        return _typed(_ticker, self._call("GET", "/v1/ticker", {"markets": ",".join(codes)}))

    def orderbook_instruments(self, markets: str | Iterable[str]) -> list[OrderbookInstrument]:
        """Each market's tick size and the orderbook levels it supports."""
        codes = market_codes(markets)
        rows = self._call("GET", "/v1/orderbook/instruments", {"markets": ",".join(codes)})
        found = _typed(_instrument, rows)
        now = time.monotonic()
        with self._lock:
            self._instruments.update({i.market: (now, i) for i in found})
        return found

    def supported_levels(self, market: str) -> tuple[float, ...] | None:
        """The orderbook levels ``market`` supports, fetched once an hour; None if Upbit does not
        know the market."""
        with self._lock:
            cached = self._instruments.get(market)
        if cached is None or time.monotonic() - cached[0] > INSTRUMENTS_TTL:
            found = {i.market: i for i in self.orderbook_instruments([market])}
            return found[market].supported_levels if market in found else None
        return cached[1].supported_levels

    def trades(self, market: str, *, count: int | None = None, cursor: int | str | None = None,
               days_ago: int | None = None, to: str | None = None) -> list[TradeTick]:
        """Past trades of ``market``, newest first: ``count`` (1-500), those before ``cursor`` (a
        ``sequential_id``), ``days_ago`` (1-7 UTC days back), ``to`` (``HHmmss`` UTC)."""
        (code,) = market_codes([market])
        if count is not None and not (_whole(count) and 1 <= count <= 500):
            raise InvalidRequestError(f"count must be a whole number 1-500, not {count!r}")
        if days_ago is not None and not (_whole(days_ago) and 1 <= days_ago <= 7):
            raise InvalidRequestError(f"days_ago must be a whole number 1-7, not {days_ago!r}")
        if cursor is not None and not (_whole(cursor) or isinstance(cursor, str)):
            raise InvalidRequestError(f"cursor must be a sequential_id (a whole number or its text), "
                                      f"not {cursor!r}")
        if to is not None and not isinstance(to, str):
            raise InvalidRequestError(f"to must be a time of day as text (HHmmss), not {to!r}")
        params: dict[str, Any] = {"market": code}
        for name, value in (("count", count), ("cursor", cursor), ("days_ago", days_ago), ("to", to)):
            if value is not None:
                params[name] = value
        return _typed(_trade, self._call("GET", "/v1/trades/ticks", params))

    # ---- exchange (signed) ----------------------------------------------------------------------

    def accounts(self) -> list[Account]:
        """The account's balances (needs keys); with ``Config(decimal=True)`` the figures are the exact
        ``Decimal`` of what Upbit sent (decimal text; a JSON number is read from its text too)."""
        if not self.config.decimal:
            return _typed(_account, self._call("GET", "/v1/accounts", None, signed=True))
        rows = self._call("GET", "/v1/accounts", None, signed=True, exact=True)
        return _typed(_exact_account, rows)

    def request(self, method: str, path: str, params: Params | None = None,
                json: Params | None = None, *, signed: bool = True) -> Any:
        """Any call: ``params`` in the query (lists as ``k[]=a&k[]=b``; a query written in ``path``
        joins them), ``json`` as the body; signed (JWT with the query hash) unless ``signed=False``.
        Values: text, numbers (a float or Decimal goes as its exact text), True/False, lists of
        those; None leaves a parameter out. Returns the decoded JSON answer."""
        if not isinstance(path, str) or not path.startswith("/"):
            raise InvalidRequestError(f"path must start with '/', not {path!r}")
        path, params = _split_path(path, params)
        return self._call(method.upper(), path, params, json, signed=signed)

    # ---- the one way out --------------------------------------------------------------------------

    def _call(self, method: str, path: str, params: Params | None, body: Params | None = None, *,
              signed: bool = False, exact: bool = False) -> Any:
        if self._closed:
            raise ClosedError("this RestClient is closed")
        if signed and self._credentials is None:
            raise AuthenticationError(f"{method} {path} needs access_key and secret_key in Config")
        query = wire_params(params if params is not None else {}, "params")
        sent = wire_params(body, "json") if body is not None else None  # both checked before any wait
        group = self._limits.group(group_of(method, path))
        url = self._base + path + ("?" + query.query if query.pairs else "")
        strategy = self.config.rate_strategy
        for attempt in range(strategy.retries + 1):
            group.acquire()
            response = self._send(method, url, path, query, sent, signed)
            message = ""
            if response.status_code >= 400:
                message = _error_of(response)[1]
            group.observe(response.status_code, response.headers, message)
            if response.status_code < 400:
                return _json(response, method, path, exact)
            if response.status_code == 429 and attempt < strategy.retries:
                delay = strategy.retry_delay * 2 ** attempt
                log.warning("%s %s: HTTP 429 (too many requests); retrying in %.1fs at %.0f%% of the "
                            "%s rate", method, path, delay, group.factor * 100, group.name)
                retry_sleep(delay)
                continue
            raise _api_error(response, method, path, group.name, group.blocked_for())
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, method: str, url: str, path: str, query: WireParams, body: WireParams | None,
              signed: bool) -> requests.Response:
        headers = {}
        if signed:
            assert self._credentials is not None
            # Upbit hashes the query when there is one, else the body's pairs (docs/upbit.md §6)
            hashed = query if query.pairs else body
            token = self._credentials.token(hashed.hashed if hashed is not None and hashed.pairs else None)
            headers["Authorization"] = f"Bearer {token}"
        import requests

        try:
            return self._session.request(method, url, json=body.values if body is not None else None,
                                         headers=headers, timeout=self.config.rest_timeout)
        except requests.RequestException as exc:
            where = self._base + path  # never the headers: the token stays out of the message
            raise ConnectError("rest", where, f"{type(exc).__name__}: {_short(exc)}") from None


def _split_path(path: str, params: Params | None) -> tuple[str, Params | None]:
    """A query written in the path taken into the params, first: one query, one hash. A name given
    both there and in ``params`` is refused (which would Upbit read?)."""
    path, mark, written = path.partition("?")
    if "#" in path or "#" in written:
        raise InvalidRequestError(f"path must not hold a fragment ('#'): {path + mark + written!r}")
    if not mark:
        return path, params
    try:
        found = parse_qsl(written, keep_blank_values=True, strict_parsing=bool(written))
    except ValueError:
        raise InvalidRequestError(f"the query in the path is not name=value pairs: {written!r}") from None
    merged: dict[str, Any] = {}
    for name, value in found:
        if name.endswith("[]"):  # an array, one pair per item
            merged.setdefault(name, []).append(value)
        elif name in merged:
            raise InvalidRequestError(f"parameter {name!r} is repeated in the path's query; an array is "
                                      f"written {name}[]=a&{name}[]=b")
        else:
            merged[name] = value
    if params is not None:
        if not isinstance(params, Mapping):
            wire_params(params, "params")  # raises the error of any call whose params are no mapping
        both = {name.removesuffix("[]") for name in merged} & {
            str(name).removesuffix("[]") for name in params}
        if both:
            raise InvalidRequestError(f"parameter {', '.join(map(repr, sorted(both)))} is given both in "
                                      "the path's query and in params")
        merged.update(params)
    return path, merged


def _whole(value: object) -> bool:
    """An int that is not a bool (True would be sent as ``true`` where Upbit expects a number)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "…"


def _json(response: requests.Response, method: str, path: str, exact: bool = False) -> Any:
    """The answer's JSON; ``exact``: numbers with a fraction as the Decimal of their text."""
    try:
        return json.loads(response.content, parse_float=Decimal) if exact else response.json()
    except ValueError:
        raise DecodeError(f"{method} {path}: the answer is not JSON ({response.text[:80]!r})") from None


def _error_of(response: requests.Response) -> tuple[str | int, str]:
    """Upbit's ``{"error": {"name", "message"}}``, or the status and a bit of the text."""
    try:
        error = response.json().get("error", {})
        return error.get("name", response.status_code), str(error.get("message", ""))
    except (ValueError, AttributeError):
        return response.status_code, response.text[:200]


def _api_error(response: requests.Response, method: str, path: str, group: str,
               blocked_for: float) -> ApiError:
    name, message = _error_of(response)
    status = response.status_code
    if status == 401 or name in AUTH_ERRORS:
        return ApiAuthenticationError(status, name, message, method=method, path=path)
    if status in (418, 429):
        error = ApiRateLimitError(status, name, message, method=method, path=path)
        error.group = group
        error.retry_after = blocked_for if status == 418 else None
        return error
    return ApiError(status, name, message, method=method, path=path)


# ---- typed results ---------------------------------------------------------------------------------


T = TypeVar("T")


def _typed(convert: Callable[[dict[str, Any]], T], data: Any) -> list[T]:
    """Each object of a JSON list as a typed result; DecodeError naming what was missing."""
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise DecodeError(f"expected a list of objects, got {type(data).__name__}")
    try:
        return [convert(row) for row in data]
    except KeyError as exc:
        raise DecodeError(f"an answer without {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise DecodeError(f"a malformed answer: {type(exc).__name__}: {exc}") from None


def _num(value: Any) -> float:
    return float(value) if value is not None else 0.0


def _exact_num(value: Any) -> Decimal:
    """A figure Upbit sent (decimal text, or a number read as Decimal) as its exact Decimal."""
    if value is None:
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise TypeError(f"not a decimal figure: {value!r}")
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a decimal figure: {value!r}") from None


def _market(row: dict[str, Any]) -> MarketInfo:
    event = row.get("market_event") or {}
    caution = event.get("caution") or {}
    return MarketInfo(row["market"], row.get("korean_name", ""), row.get("english_name", ""),
                      bool(event.get("warning", row.get("market_warning") == "CAUTION")),
                      tuple(sorted(k for k, v in caution.items() if v)), row)


def _account(row: dict[str, Any]) -> Account:
    return Account(row["currency"], _num(row.get("balance")), _num(row.get("locked")),
                   _num(row.get("avg_buy_price")), bool(row.get("avg_buy_price_modified")),
                   row.get("unit_currency", ""), row)


def _exact_account(row: dict[str, Any]) -> Account:
    return Account(row["currency"], _exact_num(row.get("balance")), _exact_num(row.get("locked")),
                   _exact_num(row.get("avg_buy_price")), bool(row.get("avg_buy_price_modified")),
                   row.get("unit_currency", ""), row)


def _instrument(row: dict[str, Any]) -> OrderbookInstrument:
    levels = tuple(sorted(float(level) for level in row.get("supported_levels") or ()))
    return OrderbookInstrument(row["market"], row.get("quote_currency", row["market"].partition("-")[0]),
                               _num(row.get("tick_size")), levels, row)


def _trade(row: dict[str, Any]) -> TradeTick:
    return TradeTick(row["market"], row["trade_date_utc"], row["trade_time_utc"], int(row["timestamp"]),
                     _num(row["trade_price"]), _num(row["trade_volume"]),
                     _num(row.get("prev_closing_price")), _num(row.get("change_price")),
                     row.get("ask_bid", ""), int(row["sequential_id"]), row)


def _ticker(row: dict[str, Any]) -> MarketTicker:
    return MarketTicker(row["market"], _num(row["trade_price"]), _num(row.get("opening_price")),
                        _num(row.get("high_price")), _num(row.get("low_price")),
                        _num(row.get("prev_closing_price")), row.get("change", ""),
                        _num(row.get("signed_change_rate")), _num(row.get("acc_trade_volume_24h")),
                        _num(row.get("acc_trade_price_24h")), int(row.get("timestamp") or 0), row)

