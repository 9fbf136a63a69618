"""Candle history of every unit, paged backwards past Upbit's 200 per call, oldest first."""

from __future__ import annotations

from ..config import Config
from .transport import Transport


class CandleCalls:
    """RestClient's candle calls (mixed into :class:`~upbit_sync.rest.RestClient`)."""

    _transport: Transport
    config: Config
