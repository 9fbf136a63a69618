"""RestClient: every REST call of Upbit's, typed, one module per area over one transport.

The areas are mixins sharing the client's :class:`~upbit_sync.rest.transport.Transport`:
``quotation`` (markets, tickers, orderbooks, past trades), ``candles`` (history of every unit, paged),
``orders`` (placing exactly once, finding, cancelling; REST orderbooks and tickers by quote) and
``wallet`` (balances, deposits, withdrawals; money out only with ``Config(allow_withdrawals=True)``).
Under them: ``checks`` (arguments refused before sending), ``convert`` (answers as typed records),
``exactly_once`` (a lost answer settled by identifier, docs/trading.md). :meth:`RestClient.request` is
the way to any call the SDK does not type.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..errors import InvalidRequestError
from ..redact import redact_url
from ..types import OrderbookInstrument
from .candles import CandleCalls
from .orders import OrderCalls
from .quotation import QuotationCalls
from .transport import Params, Transport, split_path
from .wallet import WalletCalls

if TYPE_CHECKING:
    import requests


class RestClient(QuotationCalls, CandleCalls, OrderCalls, WalletCalls):
    """Upbit's REST API, typed; :meth:`request` for any other call. Thread-safe (one
    ``requests.Session``, shared); ``close()`` or a ``with`` block releases it."""

    def __init__(self, config: Config | None = None, *, session: requests.Session | None = None) -> None:
        self.config = config if config is not None else Config.from_env()
        self._transport = Transport(self.config, session)
        self._instruments: dict[str, tuple[float, OrderbookInstrument]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        keys = "set" if self._transport.has_keys else "none"
        return f"<RestClient {redact_url(self._transport.base)} keys={keys}>"

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the session (when this client made it). Idempotent."""
        self._transport.close()

    @property
    def _limits(self) -> Any:  # the transport's limits (tests read a group's state)
        return self._transport.limits

    def request(self, method: str, path: str, params: Params | None = None,
                json: Params | None = None, *, signed: bool = True) -> Any:
        """Any call: ``params`` in the query (lists as ``k[]=a&k[]=b``; a query written in ``path``
        joins them), ``json`` as the body; signed (JWT with the query hash) unless ``signed=False``.
        Values: text, numbers (a float or Decimal goes as its exact text), True/False, lists of
        those; None leaves a parameter out. Returns the decoded JSON answer. Sent once: a placement
        made this way has none of :meth:`place_order`'s protection against a lost answer."""
        if not isinstance(path, str) or not path.startswith("/"):
            raise InvalidRequestError(f"path must start with '/', not {path!r}")
        path, params = split_path(path, params)
        return self._transport.call(method.upper(), path, params, json, signed=signed)
