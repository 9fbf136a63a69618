"""Orders: placed exactly once, found, listed and cancelled (docs/trading.md)."""

from __future__ import annotations

from ..config import Config
from .transport import Transport


class OrderCalls:
    """RestClient's order calls (mixed into :class:`~upbit_sync.rest.RestClient`)."""

    _transport: Transport
    config: Config
