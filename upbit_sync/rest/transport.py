"""The one way out of every REST call: limits, signing, the session, and Upbit's errors as exceptions.

Every call goes through its rate-limit group (ratelimit.GroupLimit): it waits its turn, reads the
answer's ``Remaining-Req``, slows down on a 429 and retries, and raises RateLimitError while a 418
block lasts. Signed calls carry a fresh JWT (a new nonce each, the query hash of their parameters):
the query and the JSON body are written from auth.wire_params, the hash from the same pairs, so what
is sent is what is hashed. One ``requests.Session``, a timeout on every call, no ``Origin`` header.
Every failure is an UpbitError: ApiError (or the subclass named for Upbit's error name) for Upbit's
error answers, ConnectError for the network, never a token or a URL's password in a message.

A 429 is retried: Upbit refused the call before acting on it. Nothing else is retried here; what may
have reached Upbit (a timeout, a reset, a 5xx) is the caller's to settle (exactly_once.py). A call that
certainly never left (no connection could be made) is a :class:`NotSentError`, so a caller can tell
it from one that may have arrived (:func:`may_have_arrived`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .._version import __version__
from ..auth import Credentials, WireParams, wire_params
from ..config import Config
from ..errors import (
    API_ERRORS,
    ApiAuthenticationError,
    ApiError,
    ApiRateLimitError,
    ApiServerError,
    AuthenticationError,
    ClosedError,
    ConnectError,
    DecodeError,
    InvalidRequestError,
)
from ..ratelimit import group_of, limits_for

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

# Upbit's error names that mean the credentials, not the request, were refused.
AUTH_ERRORS = frozenset({"jwt_verification", "expired_access_key", "nonce_used", "no_authorization_ip",
                         "out_of_scope", "invalid_query_payload", "invalid_access_key"})
retry_sleep = time.sleep  # how a call waits before retrying a 429 (tests replace it)

Params = Mapping[str, Any]


class NotSentError(ConnectError):
    """A REST call that never left this machine: the connection could not be made (refused, no such
    host, a TLS handshake failed, the connect timed out). Upbit cannot have acted on it."""


def may_have_arrived(error: BaseException) -> bool:
    """Whether a failed call may have been acted on by Upbit: a connection lost or timed out after
    the request was sent, or a 5xx answer. A refusal (4xx, 429, 418) or a call never sent was not."""
    if isinstance(error, NotSentError):
        return False
    if isinstance(error, ConnectError):
        return True
    return isinstance(error, ApiError) and error.status is not None and error.status >= 500


class Transport:
    """One ``requests.Session`` with the credentials, the base URL and the limits of one Config."""

    def __init__(self, config: Config, session: requests.Session | None = None) -> None:
        import requests  # here: a program that makes no REST call pays nothing for the package

        self.config = cfg = config
        self._credentials = (Credentials(cfg.access_key, cfg.secret_key)  # type: ignore[arg-type]
                             if cfg.has_keys else None)
        self._session = session if session is not None else requests.Session()
        if cfg.proxy is not None:  # REST through the same proxy as the WebSocket connections
            self._session.proxies.update({"http": cfg.proxy, "https": cfg.proxy})
        self._own_session = session is None
        self._session.headers.update({"User-Agent": f"upbit-sync/{__version__}",
                                      "Accept": "application/json"})
        self.base = cfg.rest_url.rstrip("/")
        self.limits = limits_for(cfg)
        self.closed = False

    @property
    def has_keys(self) -> bool:
        return self._credentials is not None

    def close(self) -> None:
        self.closed = True
        if self._own_session:
            self._session.close()

    def call(self, method: str, path: str, params: Params | None, body: Params | None = None, *,
             signed: bool = False, exact: bool = False) -> Any:
        """Send one call (a 429 retried as the strategy says) and return its decoded JSON answer."""
        if self.closed:
            raise ClosedError("this RestClient is closed")
        if signed and self._credentials is None:
            raise AuthenticationError(f"{method} {path} needs access_key and secret_key in Config")
        query = wire_params(params if params is not None else {}, "params")
        sent = wire_params(body, "json") if body is not None else None  # both checked before any wait
        group = self.limits.group(group_of(method, path))
        url = self.base + path + ("?" + query.query if query.pairs else "")
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
            where = self.base + path  # never the headers: the token stays out of the message
            kind = NotSentError if _never_sent(exc) else ConnectError
            raise kind("rest", where, f"{type(exc).__name__}: {_short(exc)}") from None


def split_path(path: str, params: Params | None) -> tuple[str, Params | None]:
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


def whole(value: object) -> bool:
    """An int that is not a bool (True would be sent as ``true`` where Upbit expects a number)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _never_sent(exc: Exception) -> bool:
    """Whether requests failed before the request could leave: no connection was made (connect
    refused or timed out, no such host), or the request could not even be written. A TLS failure
    counts as maybe sent: it is rare, and a lookup settles it."""
    import requests
    from urllib3.exceptions import NewConnectionError

    if isinstance(exc, (requests.exceptions.ConnectTimeout,
                        requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema, requests.exceptions.InvalidHeader)):
        return True
    if isinstance(exc, requests.exceptions.ProxyError):
        return False  # the proxy may have passed it on
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError)


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
    kind = API_ERRORS.get(name) if isinstance(name, str) else None
    if kind is None:
        kind = ApiServerError if status >= 500 else ApiError
    return kind(status, name, message, method=method, path=path)


