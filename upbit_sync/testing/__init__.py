"""A local Upbit exchange for tests, examples, demos and benchmarks (docs/architecture.md §5).

``FakeUpbitServer`` speaks Upbit's WebSocket protocol on 127.0.0.1 and its REST API on a second port
(every request recorded as a ``RestRequest``); ``HangingServer`` plays the peers a real server
cannot; ``MarketSimulator`` makes consistent market data and keeps each market's trades
(``TradeRecord``); ``DEFAULT_MARKETS`` (``Market`` records) are the markets the fake lists; the pytest
plugin provides the ``fake_upbit`` fixture. ``FakeUpbitServer.replay`` serves a ``Recording`` of
``upbit-sync record`` instead of simulated data (``replay.py`` has the rules). The newer channels:
``indicator``/``indicator_signal`` on ``info_url`` (``indicators.py``; closed candles are ``Candle``
records) and ``announcement`` on the private path (``emit_announcement``), with ``ChannelRules``
deciding what Upbit's documentation leaves open.
"""

from __future__ import annotations

from .channels import ChannelRules
from .hanging import HangingServer
from .indicators import Candle
from .market import MarketSimulator, TradeRecord
from .markets import DEFAULT_MARKETS, Market
from .replay import Recording
from .rest import RestRequest
from .server import FakeUpbitServer
from .session import INFO_PATH, PRIVATE_PATH, PUBLIC_PATH, Attempt, ConnInfo, Request
from .state import REST_LIMITS
from .tokens import TEST_ACCESS_KEY, TEST_SECRET_KEY, bearer, make_token
from .wire import FORMATS, encode, server_frame

__all__ = [
    "DEFAULT_MARKETS",
    "FORMATS",
    "INFO_PATH",
    "PRIVATE_PATH",
    "PUBLIC_PATH",
    "REST_LIMITS",
    "TEST_ACCESS_KEY",
    "TEST_SECRET_KEY",
    "Attempt",
    "Candle",
    "ChannelRules",
    "ConnInfo",
    "FakeUpbitServer",
    "HangingServer",
    "Market",
    "MarketSimulator",
    "Recording",
    "Request",
    "RestRequest",
    "TradeRecord",
    "bearer",
    "encode",
    "make_token",
    "server_frame",
]
