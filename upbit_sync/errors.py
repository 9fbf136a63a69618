"""The exceptions upbit-sync raises. Every one derives from :class:`UpbitError`."""

from __future__ import annotations

from .redact import redact, redact_url


class UpbitError(Exception):
    """Base class of every error this SDK raises."""


class AuthenticationError(UpbitError):
    """Keys are missing, or the exchange refused them (HTTP 401 or ``INVALID_AUTH``); ``connection``
    names the connection that was refused, when one was."""

    def __init__(self, message: str, connection: str | None = None) -> None:
        super().__init__(message)
        self.connection = connection


class RateLimitError(UpbitError):
    """The exchange answered 429/418, or a local limit could not be met in time. ``retry_after``:
    the seconds until the limit (or a 418 block) lets the next call through, when known; ``group``:
    the rate-limit group ("trade", "default", "websocket-connect", ...)."""

    def __init__(self, message: str, status: int | None = None, *, retry_after: float | None = None,
                 group: str | None = None) -> None:
        super().__init__(message)
        self.status: int | None = status
        self.retry_after = retry_after
        self.group = group


class InvalidRequestError(UpbitError, ValueError):
    """A call asked for something invalid (a malformed market code, a bad option): raised before
    anything is sent."""


class SubscriptionError(InvalidRequestError):
    """A subscription asked for something invalid: raised before anything is sent."""


class ConfigError(UpbitError, ValueError):
    """A :class:`~upbit_sync.Config` value is out of range or of the wrong kind."""


class BackendError(UpbitError):
    """The shared rate-limit backend (``Config.rate_limit_backend``) failed: until it answers again,
    limits are counted in this process alone (``health()["rate_limit_backend"]`` says so). Told once
    per outage; ``backend`` is its URL with any password masked."""

    def __init__(self, backend: str, cause: str) -> None:
        super().__init__(f"shared rate-limit backend {backend} failed ({cause}); counting limits in this "
                         "process until it is back")
        self.backend = backend
        self.cause = cause


class InternalError(UpbitError):
    """A thread of the SDK met an error it did not expect (a bug: please report it). Passed to
    ``on_error`` and logged with its traceback; the thread carries on. ``thread`` names it; the
    original exception is the ``__cause__``."""

    def __init__(self, thread: str, error: BaseException) -> None:
        super().__init__(f"{thread}: unexpected {type(error).__name__}: {error}; carrying on")
        self.thread = thread
        self.__cause__ = error


class ClosedError(UpbitError):
    """The client, stream or manager was closed."""


class ConnectError(UpbitError):
    """A connection could not be made: refused, DNS, TLS, a bad URL, or an upgrade answered with an
    HTTP error. Reported to ``on_error`` on the first failure of an outage and then at most once per
    ``reconnect_max_delay`` while it lasts; the SDK keeps trying. ``url`` and the message show the URL
    with its userinfo masked, and ``cause`` (often a library's text) any URL in it likewise."""

    def __init__(self, connection: str, url: str, cause: str, status: int | None = None) -> None:
        url, cause = redact_url(url), redact(cause)
        super().__init__(f"cannot connect {connection} to {url}: {cause}")
        self.connection = connection
        self.url = url
        self.cause = cause
        self.status = status


class StreamTimeout(UpbitError, TimeoutError):
    """No message arrived on a stream within its ``timeout`` (also a builtin ``TimeoutError``)."""


class DecodeError(UpbitError, ValueError):
    """A frame from the server could not be understood."""


class ServerErrorReply(UpbitError):
    """The server sent an error frame (``{"error": {"name": ..., "message": ...}}``)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


class ApiError(UpbitError):
    """A REST call answered with an error: the HTTP ``status`` and Upbit's error ``name`` (a string
    such as ``"nonce_used"``, or a number for quotation calls) and ``message``."""

    def __init__(self, status: int, name: str | int, message: str, *, method: str = "",
                 path: str = "") -> None:
        where = f"{method} {path}: " if method or path else ""
        super().__init__(f"{where}HTTP {status} {name}: {message}")
        self.status: int | None = status
        self.name = name
        self.message = message
        self.method = method
        self.path = path


class ApiAuthenticationError(ApiError, AuthenticationError):
    """A REST call refused for its credentials (HTTP 401: ``jwt_verification``, ``nonce_used``,
    ``no_authorization_ip``, ``out_of_scope``, ...)."""


class ApiRateLimitError(ApiError, RateLimitError):
    """A REST call refused for its rate (HTTP 429, or 418 while the group is blocked)."""


class ApiServerError(ApiError):
    """Upbit answered with a server error (HTTP 5xx). For a call that may have acted (an order, a
    cancel), the SDK finds out what happened before it tells you: see :class:`OrderUncertainError`."""


class ApiValidationError(ApiError):
    """Upbit refused the request's parameters (``validation_error``, ``invalid_parameter``,
    ``create_bid_error``/``create_ask_error``: a combination the order type does not allow)."""


class InsufficientFundsError(ApiError):
    """Not enough balance for the order (``insufficient_funds_bid``/``insufficient_funds_ask``)."""


class UnderMinimumError(ApiError):
    """The order's total is under the market's minimum (``under_min_total_bid``/``_ask``)."""


class InvalidPriceError(ApiError):
    """The price is off the market's tick grid (``invalid_price_bid``/``invalid_price_ask``)."""


class PostOnlyError(ApiError):
    """A ``post_only`` order would have taken liquidity (``invalid_post_only``)."""


class DuplicateIdentifierError(ApiError):
    """The ``identifier`` was used before (``duplicated_identifier``): Upbit never takes one twice,
    even when the request that first carried it failed."""


class MarketOfflineError(ApiError):
    """The market cannot be traded now (``market_offline``: maintenance, or not yet open)."""


class NotFoundError(ApiError):
    """What the call names does not exist (``order_not_found``, ``deposit_not_found``, ...)."""


class OrderNotFoundError(NotFoundError):
    """No order of this account has that uuid or identifier (``order_not_found``)."""


class WithdrawalError(ApiError):
    """A withdrawal was refused (``withdraw_address_not_registered``, ``open_api_withdraw_locked``)."""


# Upbit's error names (``error.name``) a program branches on, and the class each is raised as.
API_ERRORS: dict[str, type[ApiError]] = {
    "validation_error": ApiValidationError, "invalid_parameter": ApiValidationError,
    "create_bid_error": ApiValidationError, "create_ask_error": ApiValidationError,
    "insufficient_funds_bid": InsufficientFundsError, "insufficient_funds_ask": InsufficientFundsError,
    "under_min_total_bid": UnderMinimumError, "under_min_total_ask": UnderMinimumError,
    "invalid_price_bid": InvalidPriceError, "invalid_price_ask": InvalidPriceError,
    "invalid_post_only": PostOnlyError, "duplicated_identifier": DuplicateIdentifierError,
    "market_offline": MarketOfflineError,
    "order_not_found": OrderNotFoundError, "deposit_not_found": NotFoundError,
    "withdraw_not_found": NotFoundError, "currency_not_found": NotFoundError,
    "pocket_not_found": NotFoundError,
    "withdraw_address_not_registered": WithdrawalError, "open_api_withdraw_locked": WithdrawalError,
}


class OrderUncertainError(UpbitError):
    """A request that may have placed or cancelled an order failed on the way (a timeout, a reset
    connection, a 5xx), and the SDK could not learn within its bound what became of it. Nothing was
    sent again blind. ``identifier`` names the order to look up later (``RestClient.order(identifier=
    ...)``); ``known`` says what was learnt; ``cause`` is the failure of the first send."""

    def __init__(self, action: str, identifier: str | None, known: str, cause: BaseException | None = None
                 ) -> None:
        super().__init__(f"{action} {identifier!r}: outcome unknown: {known}")
        self.action = action
        self.identifier = identifier
        self.known = known
        self.__cause__ = cause


class WithdrawalsDisabledError(UpbitError):
    """A call that moves money out of the account was refused before anything was sent: switch it on
    with ``Config(allow_withdrawals=True)``."""
