"""What the fake exchange does where Upbit leaves its newer channels OPEN (docs/channels.md §7).

``indicator`` and ``indicator_signal`` (on ``/websocket/v1/info``) and ``announcement`` (on
``/websocket/v1/private``) are documented only in part. :class:`ChannelRules` is one immutable value
holding every choice the fake makes for them, so a test can play each answer Upbit might give:
``FakeUpbitServer(channel_rules=ChannelRules(indicator_errors="ignore"))``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

# The problems with an indicator request that docs/channels.md §6 leaves OPEN, by name:
ERROR_CASES = (
    "code",          # a code that is not a KRW market code (``BTC-ETH``, ``KRW-BTC.5``, ``krw-btc``)
    "timeframe",     # timeframe missing or not one of 5m/15m/60m/240m/1d
    "indicators",    # ``indicators`` missing or empty, or an item of an unknown or missing type
    "params",        # params missing, an unlisted value, a mismatched MA pair or MACD set
    "trigger",       # trigger missing on a signal, or not one of the indicator's triggers
    "event_params",  # event params missing, unlisted, or given where the trigger has none
)
# How the fake may answer each of them: an error frame with one of these names, or "ignore"
# (the offending code, item or type object is left out of the subscription, without an error).
IGNORE = "ignore"
ERROR_ANSWERS = ("INVALID_PARAM", "WRONG_FORMAT", "NO_CODES", IGNORE)
EXTRA_FIELD_ANSWERS = ("INVALID_PARAM", "WRONG_FORMAT", IGNORE)
BOLLINGER_BANDS = ("outer", "middle")
CANDLE_TIMES = ("start", "close")


@dataclass(frozen=True)
class ChannelRules:
    """The fake's answers to the OPEN points of the indicator and announcement channels.

    - ``indicator_errors``: the answer to each problem in :data:`ERROR_CASES` (§6): one of
      :data:`ERROR_ANSWERS` for all of them, or a mapping from case to answer (cases left out
      answer ``INVALID_PARAM``, the default §6 gives).
    - ``extra_fields``: the answer to fields outside these types' schemas (§2, §5):
      ``is_only_snapshot``, ``is_only_realtime`` and ``level`` on indicator types, those and
      ``codes`` on ``announcement``. Ignored by default: the SDK never sends them.
    - ``bollinger_multipliers``: the multipliers a ``bollinger_bands`` item may have; None (the
      default) takes any finite number above 0 (§7.6: no set is published).
    - ``empty_event_params``: whether ``"event_params": {}`` is accepted on a trigger that has
      none (§4); a non-empty one there is always refused.
    - ``bollinger_band``: which band a Bollinger ``price_cross_*`` signal watches (§4): ``"outer"``
      (above the upper band / below the lower one) or ``"middle"``.
    - ``candle_time``: what ``candle_date_time_utc`` shows (§7.6): the candle's ``"start"`` (as in
      candle.* messages) or its ``"close"``.
    - ``value_strings``: send ``value.*`` as decimal strings instead of JSON numbers (§3).
    - ``indicators_on_private``: also serve the indicator types on ``/websocket/v1/private``
      (§7.1, §7.3); ``/websocket/v1/info`` always serves them and nothing else.
    - ``announcement_requires_format``: refuse an ``announcement`` request without a format
      object with INVALID_PARAM, as the announcement page's "Required" reads (§7.7); by default
      a missing format means DEFAULT, the general rule.
    """

    indicator_errors: str | Mapping[str, str] = "INVALID_PARAM"
    extra_fields: str = IGNORE
    bollinger_multipliers: tuple[float, ...] | None = None
    empty_event_params: bool = True
    bollinger_band: str = "outer"
    candle_time: str = "start"
    value_strings: bool = False
    indicators_on_private: bool = False
    announcement_requires_format: bool = False

    def __post_init__(self) -> None:
        answers = (self.indicator_errors if isinstance(self.indicator_errors, Mapping)
                   else dict.fromkeys(ERROR_CASES, self.indicator_errors))
        for case, answer in answers.items():
            if case not in ERROR_CASES:
                raise ValueError(f"indicator_errors: unknown case {case!r}; cases are {ERROR_CASES}")
            if answer not in ERROR_ANSWERS:
                raise ValueError(f"indicator_errors: {answer!r} is not one of {ERROR_ANSWERS}")
        if self.extra_fields not in EXTRA_FIELD_ANSWERS:
            raise ValueError(f"extra_fields must be one of {EXTRA_FIELD_ANSWERS}")
        if self.bollinger_multipliers is not None and not all(
            math.isfinite(m) and m > 0 for m in self.bollinger_multipliers
        ):
            raise ValueError("bollinger_multipliers must be finite numbers above 0")
        if self.bollinger_band not in BOLLINGER_BANDS:
            raise ValueError(f"bollinger_band must be one of {BOLLINGER_BANDS}")
        if self.candle_time not in CANDLE_TIMES:
            raise ValueError(f"candle_time must be one of {CANDLE_TIMES}")

    def answer(self, case: str) -> str:
        """The error name the fake sends for a problem of this case, or ``"ignore"``."""
        if isinstance(self.indicator_errors, Mapping):
            return self.indicator_errors.get(case, "INVALID_PARAM")
        return self.indicator_errors

    def accepts_multiplier(self, multiplier: float) -> bool:
        if not math.isfinite(multiplier) or multiplier <= 0:
            return False
        allowed = self.bollinger_multipliers
        return allowed is None or any(math.isclose(multiplier, m, rel_tol=1e-9) for m in allowed)
