"""The exceptions upbit-sync raises. Every one derives from :class:`UpbitError`."""

from __future__ import annotations


class UpbitError(Exception):
    """Base class of every error this SDK raises."""


class AuthenticationError(UpbitError):
    """Keys are missing, or the exchange refused them (HTTP 401 or ``INVALID_AUTH``); ``connection``
    names the connection that was refused, when one was."""

    def __init__(self, message: str, connection: str | None = None) -> None:
        super().__init__(message)
        self.connection = connection


class RateLimitError(UpbitError):
    """The exchange answered 429/418, or a local limit could not be met in time."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SubscriptionError(UpbitError, ValueError):
    """A subscription asked for something invalid: raised before anything is sent."""


class ConfigError(UpbitError, ValueError):
    """A :class:`~upbit_sync.Config` value is out of range or of the wrong kind."""


class ClosedError(UpbitError):
    """The client, stream or manager was closed."""


class ConnectError(UpbitError):
    """A connection could not be made: refused, DNS, TLS, a bad URL, or an upgrade answered with an
    HTTP error. Reported to ``on_error`` on the first failure of an outage and then at most once per
    ``reconnect_max_delay`` while it lasts; the SDK keeps trying."""

    def __init__(self, connection: str, url: str, cause: str, status: int | None = None) -> None:
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
