"""``to_frame``: candle bars as a pandas DataFrame (the ``pandas`` extra; pandas is imported here
only, when called, so the SDK never needs it otherwise)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .errors import InvalidRequestError
from .types import CandleBar

if TYPE_CHECKING:
    import pandas

# the DataFrame's columns, from CandleBar's fields (Upbit's names, shortened as traders write them)
COLUMNS = ("open", "high", "low", "close", "volume", "value", "market", "unit")


def to_frame(bars: Iterable[CandleBar]) -> pandas.DataFrame:
    """``bars`` as a DataFrame indexed by each bucket's start (a UTC ``DatetimeIndex`` named
    ``start``), in the order given, with the columns ``open``, ``high``, ``low``, ``close`` (Upbit's
    ``opening_price`` ... ``trade_price``), ``volume`` (``candle_acc_trade_volume``, in the base
    currency), ``value`` (``candle_acc_trade_price``, in the quote currency), ``market`` and ``unit``.
    Figures keep their type: floats, or Decimals (an ``object`` column) under ``Config(decimal=True)``.
    Needs pandas: ``pip install 'upbit-sync[pandas]'``."""
    try:
        import pandas
    except ImportError:
        raise InvalidRequestError("to_frame needs pandas: pip install 'upbit-sync[pandas]'") from None
    rows = list(bars)
    for bar in rows:
        if not isinstance(bar, CandleBar):
            raise InvalidRequestError(f"to_frame takes CandleBar records, not {type(bar).__name__}")
    index = pandas.DatetimeIndex([bar.start for bar in rows], name="start", tz="UTC")
    data = {
        "open": [bar.opening_price for bar in rows],
        "high": [bar.high_price for bar in rows],
        "low": [bar.low_price for bar in rows],
        "close": [bar.trade_price for bar in rows],
        "volume": [bar.candle_acc_trade_volume for bar in rows],
        "value": [bar.candle_acc_trade_price for bar in rows],
        "market": [bar.market for bar in rows],
        "unit": [bar.unit for bar in rows],
    }
    return pandas.DataFrame(data, index=index, columns=list(COLUMNS))
