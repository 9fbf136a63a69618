"""MarketSimulator: plausible, internally consistent Upbit messages for any market code.

Each code has one random walk of trades shared by every message type: a REALTIME message first makes
a trade, then renders the code's state (ticker, trade, orderbook or candle), so prices, volumes,
sequence ids and candles agree with each other. A SNAPSHOT renders the state without trading.
Messages use DEFAULT keys (docs/upbit.md §8); the server converts them per connection format.

Every trade is also kept in the code's history (the last :data:`TRADE_HISTORY`), which the fake's
``/v1/trades/ticks`` serves, so a trade seen on a socket is the same trade over REST.
"""

from __future__ import annotations

import functools
import math
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ..formats import CANDLE_TYPES

CANDLE_SECONDS: dict[str, int] = {
    "candle.1s": 1, "candle.1m": 60, "candle.3m": 180, "candle.5m": 300, "candle.10m": 600,
    "candle.15m": 900, "candle.30m": 1800, "candle.60m": 3600, "candle.240m": 14400,
}
assert set(CANDLE_SECONDS) == set(CANDLE_TYPES)

# Rough prices of well-known markets, so KRW-BTC looks like KRW-BTC (~1e8 KRW).
KNOWN_PRICES: dict[str, float] = {
    "KRW-BTC": 115_000_000.0, "KRW-ETH": 5_200_000.0, "KRW-XRP": 3_100.0, "KRW-SOL": 260_000.0,
    "KRW-DOGE": 330.0, "KRW-ADA": 1_050.0, "USDT-BTC": 85_000.0, "USDT-ETH": 3_800.0,
    "BTC-ETH": 0.045, "BTC-XRP": 0.000027,
}
# log10 range of prices for other markets, per quote currency.
_PRICE_RANGES: dict[str, tuple[float, float]] = {
    "KRW": (0.0, 5.0), "BTC": (-7.0, -3.0), "USDT": (-2.0, 3.0),
}
# Typical trade size in quote currency, per quote currency.
_NOTIONAL: dict[str, float] = {"KRW": 200_000.0, "BTC": 0.003, "USDT": 150.0}

_KST = timezone(timedelta(hours=9))
_VOLUME_DIGITS = 8

TRADE_HISTORY = 100_000  # trades kept per code (about 3 hours at 10 trades/s)
# Every orderbook aggregation level Upbit's documentation has named; a KRW market supports those that
# are multiples of its tick size and at most LEVEL_CEILING of its price (plus 0, no aggregation).
ORDERBOOK_LEVELS: tuple[float, ...] = (
    100_000_000.0, 10_000_000.0, 1_000_000.0, 100_000.0, 10_000.0, 1_000.0, 100.0, 10.0, 1.0,
    0.1, 0.01, 0.001, 0.0001, 0.00001, 0.000001, 0.0000001,
)
LEVEL_CEILING = 0.01


def tick_size(quote: str, price: float) -> float:
    """The price step of a market at this price (Upbit's KRW table; a fixed step elsewhere)."""
    if quote == "KRW":
        for floor, tick in (
            (2_000_000, 1000.0), (1_000_000, 500.0), (500_000, 100.0), (100_000, 50.0),
            (10_000, 10.0), (1_000, 1.0), (100, 0.1), (10, 0.01), (1, 0.001), (0.1, 0.0001),
        ):
            if price >= floor:
                return tick
        return 0.00001
    if quote == "BTC":
        return 0.00000001
    if price >= 100:
        return 0.01
    if price >= 1:
        return 0.001
    return 0.000001


def _digits(tick: float) -> int:
    return max(0, -math.floor(math.log10(tick) + 1e-9))


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _is_multiple(value: float, step: float) -> bool:
    ratio = value / step
    return ratio >= 1 - 1e-9 and abs(ratio - round(ratio)) < 1e-6


@functools.lru_cache(maxsize=256)
def _stamps(second: int) -> tuple[str, str, str, str]:
    """``(yyyyMMdd, HHmmss, yyyy-MM-dd, HH:mm:ss)`` in UTC; cached, as many messages share a second."""
    moment = _utc(second)
    return (moment.strftime("%Y%m%d"), moment.strftime("%H%M%S"),
            moment.strftime("%Y-%m-%d"), moment.strftime("%H:%M:%S"))


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One trade as a code's history keeps it: what ``/v1/trades/ticks`` lists.

    ``timestamp`` is the trade's time in ms (the socket's ``trade_timestamp``); ``change_price`` is
    signed (trade price minus the previous close), as REST gives it.
    """

    sequential_id: int
    timestamp: int
    trade_price: float
    trade_volume: float
    ask_bid: str
    prev_closing_price: float
    change_price: float

    def as_tick(self, market: str) -> dict[str, Any]:
        """The trade as one item of ``GET /v1/trades/ticks``."""
        _, _, day, clock = _stamps(self.timestamp // 1000)
        return {
            "market": market,
            "trade_date_utc": day,
            "trade_time_utc": clock,
            "timestamp": self.timestamp,
            "trade_price": self.trade_price,
            "trade_volume": self.trade_volume,
            "prev_closing_price": self.prev_closing_price,
            "change_price": self.change_price,
            "ask_bid": self.ask_bid,
            "sequential_id": self.sequential_id,
        }


@dataclass
class _Candle:
    start: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    value: float

    def add(self, price: float, volume: float) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += volume
        self.value += price * volume


@dataclass
class _Market:
    """One code's state: the last trade, the day's figures and the open candle of each unit."""

    code: str
    quote: str
    rng: random.Random
    price: float
    anchor: float
    prev_close: float
    open: float
    high: float
    low: float
    best_bid: float
    best_ask: float
    last_volume: float
    last_side: str
    last_trade_s: float
    sequential_id: int
    acc_volume: float
    acc_value: float
    acc_ask: float
    acc_bid: float
    base_volume_24h: float
    base_value_24h: float
    high_52w: float
    high_52w_date: str
    low_52w: float
    low_52w_date: str
    history: deque[TradeRecord]
    candles: dict[int, _Candle] = field(default_factory=dict)
    # The trade message rendered for the last trade, so a SNAPSHOT repeats it exactly.
    last_trade_message: dict[str, Any] | None = None
    born: float = 0.0  # when the simulator first made this market: its candles' history starts there

    @property
    def tick(self) -> float:
        return tick_size(self.quote, self.price)

    def snap(self, price: float) -> float:
        tick = tick_size(self.quote, price)
        return round(max(tick, round(price / tick) * tick), _digits(tick))


class MarketSimulator:
    """Consistent ticker/trade/orderbook/candle messages for any code; thread-safe.

    ``seed`` makes every market's walk reproducible, independently of the order codes are used in;
    ``history`` is how many trades each code keeps (:meth:`history`).
    """

    def __init__(self, seed: int | None = None, history: int = TRADE_HISTORY) -> None:
        self._seed = seed if seed is not None else random.SystemRandom().getrandbits(64)
        self._history = history
        self._lock = threading.Lock()
        self._markets: dict[str, _Market] = {}
        # Told of every trade, the simulator's lock held (the fake's matching engine listens).
        self.on_trade: Callable[[str, TradeRecord], None] | None = None

    @property
    def seed(self) -> int:
        """The seed every market's walk derives from (a random one when none was given)."""
        return self._seed

    def anchor(self, code: str) -> float:
        """The price the code's walk started at and is pulled back to; fixed by the seed."""
        with self._lock:
            return self._market(code).anchor

    def price(self, code: str) -> float:
        """The current trade price of a code."""
        with self._lock:
            return self._market(code).price

    def instrument(self, code: str) -> tuple[float, tuple[float, ...]]:
        """``(tick size, supported orderbook levels)`` at the code's current price, read at once.

        The levels start with 0 (no aggregation). Only KRW markets aggregate (docs/upbit.md §2): they
        support each of :data:`ORDERBOOK_LEVELS` that is a multiple of the tick size and at most
        :data:`LEVEL_CEILING` of the price. Upbit publishes no per-market table, so this rule is the
        fake's own.
        """
        with self._lock:
            market = self._market(code)
            price, quote = market.price, market.quote
        tick = tick_size(quote, price)
        if quote != "KRW":
            return tick, (0.0,)
        ceiling = price * LEVEL_CEILING * (1 + 1e-9)
        levels = sorted(lv for lv in ORDERBOOK_LEVELS if lv <= ceiling and _is_multiple(lv, tick))
        return tick, (0.0, *levels)

    def history(self, code: str) -> list[TradeRecord]:
        """The code's kept trades, oldest first (sequential ids increase)."""
        with self._lock:
            return list(self._market(code).history)

    def trade(self, code: str, price: float, volume: float, side: str) -> TradeRecord:
        """Make one trade of ``code`` at this price and volume (``side`` ``BID`` or ``ASK``, the
        taker's): a test's scripted trade, which moves the price and enters the history."""
        if side not in ("BID", "ASK"):
            raise ValueError("side must be BID or ASK")
        with self._lock:
            market = self._market(code)
            self._trade(market, time.time(), (price, volume, side))
            return market.history[-1]

    def born(self, code: str) -> float:
        """When this code's market was first made (seconds): its candles before that bucket are the
        synthetic past of ``candle_history.py``, those from it on its trades'."""
        with self._lock:
            return self._market(code).born

    def has_traded(self, code: str) -> bool:
        """Whether any trade of this code has happened (is in its history)."""
        with self._lock:
            return bool(self._market(code).history)

    def make(
        self,
        type: str,
        code: str,
        stream_type: str = "REALTIME",
        depth: int = 30,
        level: float = 0,
        *,
        trade: bool = True,
    ) -> dict[str, Any]:
        """One DEFAULT-keyed message; REALTIME first makes a trade, SNAPSHOT shows the state as is.

        ``trade=False`` renders a REALTIME message without trading: the fake's tape makes the trades
        of a market once someone subscribed to its trades. A trade SNAPSHOT repeats the last trade
        message exactly when there was one since the last trade.
        """
        if type == "myOrder":
            return self.my_order(code=code, stream_type=stream_type)
        if type == "myAsset":
            return self.my_asset(stream_type=stream_type)
        with self._lock:
            market = self._market(code)
            now = time.time()
            trades = stream_type == "REALTIME" and trade
            if trades:
                self._trade(market, now)
            if type == "ticker":
                return self._ticker(market, now, stream_type)
            if type == "trade":
                last = market.last_trade_message
                if stream_type == "SNAPSHOT" and last is not None:
                    return dict(last, stream_type="SNAPSHOT")
                message = self._trade_message(market, now, stream_type)
                if trades:
                    market.last_trade_message = dict(message)
                return message
            if type == "orderbook":
                return self._orderbook(market, now, stream_type, depth, level)
            if type in CANDLE_SECONDS:
                return self._candle(market, now, stream_type, type)
        raise ValueError(f"unknown message type {type!r}")

    def my_order(self, **fields: Any) -> dict[str, Any]:
        """A plausible myOrder event (DEFAULT keys); ``fields`` override any value."""
        code = fields.get("code", "KRW-BTC")
        now = time.time()
        with self._lock:
            market = self._market(code)
            price = market.price
            tick = market.tick
        state = fields.get("state", "wait")
        side = fields.get("ask_bid", "BID")
        volume = fields.get("volume", 0.01)
        price = fields.get("price", price)
        # "done": filled; "trade": a fill happened (here half the order); otherwise unfilled.
        executed = {"done": volume, "trade": round(volume / 2, _VOLUME_DIGITS)}.get(state, 0.0)
        filled = executed > 0
        fee_rate = 0.0005
        funds = round(price * executed, _digits(tick))
        order: dict[str, Any] = {
            "type": "myOrder",
            "code": code,
            "uuid": str(uuid.uuid4()),
            "ask_bid": side,
            "order_type": "limit",
            "state": state,
            "trade_uuid": str(uuid.uuid4()) if filled else None,
            "price": price,
            "avg_price": price if filled else 0.0,
            "volume": volume,
            "remaining_volume": round(volume - executed, _VOLUME_DIGITS),
            "executed_volume": executed,
            "trades_count": 1 if filled else 0,
            "reserved_fee": round(price * volume * fee_rate, 8),
            "remaining_fee": round(price * (volume - executed) * fee_rate, 8),
            "paid_fee": round(funds * fee_rate, 8),
            "locked": round(price * (volume - executed) * (1 + fee_rate), 8) if side == "BID"
            else round(volume - executed, _VOLUME_DIGITS),
            "executed_funds": funds,
            "time_in_force": None,
            "trade_fee": round(funds * fee_rate, 8) if filled else None,
            "is_maker": True if filled else None,
            "identifier": None,
            "smp_type": None,
            "prevented_volume": 0.0,
            "prevented_locked": 0.0,
            "trade_timestamp": _ms(now) if filled else None,
            "order_timestamp": _ms(now) - 1,
            "timestamp": _ms(now),
            "stream_type": "REALTIME",
        }
        order.update(fields)
        return order

    def my_asset(self, **fields: Any) -> dict[str, Any]:
        """A plausible myAsset event (DEFAULT keys, no ``code``); ``fields`` override any value."""
        now = _ms(time.time())
        asset: dict[str, Any] = {
            "type": "myAsset",
            "asset_uuid": str(uuid.uuid4()),
            "assets": [{"currency": "KRW", "balance": 1_000_000.0, "locked": 0.0}],
            "asset_timestamp": now - 1,
            "timestamp": now,
            "stream_type": "REALTIME",
        }
        asset.update(fields)
        return asset

    # -- state ---------------------------------------------------------------------------------

    def _market(self, code: str) -> _Market:
        market = self._markets.get(code)
        if market is None:
            market = self._markets[code] = self._new_market(code)
        return market

    def _new_market(self, code: str) -> _Market:
        rng = random.Random(f"{self._seed}:{code}")
        quote = code.split("-", 1)[0]
        price = KNOWN_PRICES.get(code)
        if price is None:
            low, high = _PRICE_RANGES.get(quote, (-1.0, 3.0))
            price = 10 ** rng.uniform(low, high)
        tick = tick_size(quote, price)
        digits = _digits(tick)
        price = round(max(2 * tick, round(price / tick) * tick), digits)
        prev_close = round(max(tick, round(price * rng.uniform(0.97, 1.03) / tick) * tick), digits)
        day_open = round(max(tick, round(prev_close * rng.uniform(0.995, 1.005) / tick) * tick),
                         digits)
        notional = _NOTIONAL.get(quote, 100.0)
        acc_volume = round(notional / price * rng.uniform(500, 5000), _VOLUME_DIGITS)
        ask_share = rng.uniform(0.4, 0.6)
        now = time.time()
        today = _utc(now).date()
        high_52w = max(price, day_open, prev_close) * rng.uniform(1.1, 1.8)
        low_52w = min(price, day_open, prev_close) * rng.uniform(0.4, 0.9)
        market = _Market(
            code=code, quote=quote, rng=rng, price=price, anchor=price, prev_close=prev_close, open=day_open,
            high=max(price, day_open), low=min(price, day_open),
            best_bid=price, best_ask=round(price + tick, digits),
            last_volume=self._volume(rng, quote, price), last_side="ASK", last_trade_s=now,
            sequential_id=_ms(now) * 10_000,
            acc_volume=acc_volume, acc_value=acc_volume * price,
            acc_ask=round(acc_volume * ask_share, _VOLUME_DIGITS),
            acc_bid=round(acc_volume * (1 - ask_share), _VOLUME_DIGITS),
            base_volume_24h=acc_volume * rng.uniform(0.8, 1.5),
            base_value_24h=acc_volume * price * rng.uniform(0.8, 1.5),
            high_52w=round(round(high_52w / tick) * tick, digits),
            high_52w_date=(today - timedelta(days=rng.randint(1, 360))).isoformat(),
            low_52w=round(max(tick, round(low_52w / tick) * tick), digits),
            low_52w_date=(today - timedelta(days=rng.randint(1, 360))).isoformat(),
            history=deque(maxlen=self._history), born=now,
        )
        return market

    @staticmethod
    def _volume(rng: random.Random, quote: str, price: float) -> float:
        notional = _NOTIONAL.get(quote, 100.0)
        return max(1e-8, round(rng.expovariate(1.0) * notional / price, _VOLUME_DIGITS))

    def _trade(self, market: _Market, now: float,
               scripted: tuple[float, float, str] | None = None) -> None:
        """One trade: the price walks a few ticks; a buy lifts the ask, a sell hits the bid.
        ``scripted``: (price, volume, side) of a test's trade instead of the walk's."""
        rng = market.rng
        tick = market.tick
        # A few ticks per trade, pulled gently back to the starting price so long runs stay sane.
        spread_ticks = max(1.0, market.price * 0.0001 / tick)
        pull = (market.anchor - market.price) * 0.001
        moved = market.snap(market.price + pull + round(rng.gauss(0.0, spread_ticks)) * tick)
        side = "BID" if rng.random() < 0.5 else "ASK"
        if scripted is not None:
            moved, side = scripted[0], scripted[2]
        tick = tick_size(market.quote, moved)
        digits = _digits(tick)
        moved = max(moved, round(2 * tick, digits))
        if side == "BID":
            market.best_ask = moved
            market.best_bid = round(moved - tick, digits)
        else:
            market.best_bid = moved
            market.best_ask = round(moved + tick, digits)
        volume = self._volume(rng, market.quote, moved) if scripted is None else scripted[1]
        market.price = moved
        market.last_side = side
        market.last_volume = volume
        market.last_trade_s = now
        market.sequential_id = max(market.sequential_id + 1, _ms(now) * 10_000)
        market.high = max(market.high, moved)
        market.low = min(market.low, moved)
        market.high_52w = max(market.high_52w, moved)
        market.low_52w = min(market.low_52w, moved)
        market.acc_volume += volume
        market.acc_value += moved * volume
        if side == "ASK":
            market.acc_ask += volume
        else:
            market.acc_bid += volume
        market.last_trade_message = None
        market.history.append(TradeRecord(
            market.sequential_id, _ms(now), moved, volume, side, market.prev_close,
            round(moved - market.prev_close, digits),
        ))
        # Only the units someone asked for are kept up to date: a trade costs less.
        for seconds, candle in market.candles.items():
            start = _ms(now) // 1000 // seconds * seconds  # from the ms the history keeps, as REST's
            if candle.start != start:
                market.candles[seconds] = _Candle(start, moved, moved, moved, moved, volume,
                                                  moved * volume)
            else:
                candle.add(moved, volume)
        if self.on_trade is not None:
            self.on_trade(market.code, market.history[-1])

    # -- rendering -----------------------------------------------------------------------------

    def _change(self, market: _Market) -> dict[str, Any]:
        digits = _digits(market.tick)
        diff = round(market.price - market.prev_close, digits)
        change = "RISE" if diff > 0 else "FALL" if diff < 0 else "EVEN"
        rate = round(abs(diff) / market.prev_close, 10)
        return {
            "change": change,
            "change_price": abs(diff),
            "signed_change_price": diff,
            "change_rate": rate,
            "signed_change_rate": rate if diff >= 0 else -rate,
        }

    def _ticker(self, market: _Market, now: float, stream_type: str) -> dict[str, Any]:
        day, clock, _, _ = _stamps(int(market.last_trade_s))
        change = self._change(market)
        return {
            "type": "ticker",
            "code": market.code,
            "opening_price": market.open,
            "high_price": market.high,
            "low_price": market.low,
            "trade_price": market.price,
            "prev_closing_price": market.prev_close,
            "change": change["change"],
            "change_price": change["change_price"],
            "signed_change_price": change["signed_change_price"],
            "change_rate": change["change_rate"],
            "signed_change_rate": change["signed_change_rate"],
            "trade_volume": market.last_volume,
            "acc_trade_volume": round(market.acc_volume, _VOLUME_DIGITS),
            "acc_trade_volume_24h": round(market.base_volume_24h + market.acc_volume,
                                          _VOLUME_DIGITS),
            "acc_trade_price": round(market.acc_value, 8),
            "acc_trade_price_24h": round(market.base_value_24h + market.acc_value, 8),
            "trade_date": day,
            "trade_time": clock,
            "trade_timestamp": _ms(market.last_trade_s),
            "ask_bid": market.last_side,
            "acc_ask_volume": round(market.acc_ask, _VOLUME_DIGITS),
            "acc_bid_volume": round(market.acc_bid, _VOLUME_DIGITS),
            "highest_52_week_price": market.high_52w,
            "highest_52_week_date": market.high_52w_date,
            "lowest_52_week_price": market.low_52w,
            "lowest_52_week_date": market.low_52w_date,
            "market_state": "ACTIVE",
            "is_trading_suspended": False,
            "delisting_date": None,
            "market_warning": "NONE",
            "timestamp": max(_ms(now), _ms(market.last_trade_s)),
            "stream_type": stream_type,
        }

    def _trade_message(self, market: _Market, now: float, stream_type: str) -> dict[str, Any]:
        _, _, day, clock = _stamps(int(market.last_trade_s))
        change = self._change(market)
        rng = market.rng
        return {
            "type": "trade",
            "code": market.code,
            "timestamp": max(_ms(now), _ms(market.last_trade_s)),
            "trade_date": day,
            "trade_time": clock,
            "trade_timestamp": _ms(market.last_trade_s),
            "trade_price": market.price,
            "trade_volume": market.last_volume,
            "ask_bid": market.last_side,
            "prev_closing_price": market.prev_close,
            "change": change["change"],
            "change_price": change["change_price"],
            "sequential_id": market.sequential_id,
            "best_ask_price": market.best_ask,
            "best_ask_size": self._volume(rng, market.quote, market.best_ask),
            "best_bid_price": market.best_bid,
            "best_bid_size": self._volume(rng, market.quote, market.best_bid),
            "stream_type": stream_type,
        }

    def _orderbook(
        self, market: _Market, now: float, stream_type: str, depth: int, level: float
    ) -> dict[str, Any]:
        rng = market.rng
        tick = market.tick
        digits = _digits(tick)
        if level and level > tick:
            step = float(level)
            digits = max(digits, _digits(step))
            bid = math.floor(market.best_bid / step) * step
            ask = math.ceil(market.best_ask / step) * step
            if ask <= bid:
                ask = bid + step
        else:
            step, bid, ask = tick, market.best_bid, market.best_ask
        # Sizes are cheap products of uniforms (skewed towards small), in units of a typical trade.
        scale = _NOTIONAL.get(market.quote, 100.0) / market.price
        rand = rng.random
        aggregated = step != tick
        units = []
        total_ask = total_bid = 0.0
        for _ in range(depth):
            ask_size = round(scale * (0.05 + 5.0 * rand() * rand()), _VOLUME_DIGITS)
            if bid > 0:
                bid_size = round(scale * (0.05 + 5.0 * rand() * rand()), _VOLUME_DIGITS)
                bid_price = round(bid, digits)
            else:  # a thin side is padded with zero units, like Upbit's books
                bid_size, bid_price = 0.0, 0.0
            units.append({"ask_price": round(ask, digits), "bid_price": bid_price,
                          "ask_size": ask_size, "bid_size": bid_size})
            total_ask += ask_size
            total_bid += bid_size
            gap = step if aggregated else step * (1 + int(rand() * 3))
            ask += gap
            bid -= gap
        return {
            "type": "orderbook",
            "code": market.code,
            "timestamp": _ms(now),
            "total_ask_size": round(total_ask, _VOLUME_DIGITS),
            "total_bid_size": round(total_bid, _VOLUME_DIGITS),
            "orderbook_units": units,
            "stream_type": stream_type,
            "level": level,
        }

    def _candle(self, market: _Market, now: float, stream_type: str, type: str) -> dict[str, Any]:
        seconds = CANDLE_SECONDS[type]
        candle = market.candles.get(seconds)
        if candle is None:  # first use of this unit: the bucket of the last trade, from the history
            if not market.history:
                self._trade(market, now)  # Upbit's markets have always traded: one on the spot
            candle = market.candles[seconds] = self._bucket(market, seconds)
        start = _utc(candle.start)
        return {
            "type": type,
            "code": market.code,
            "candle_date_time_utc": start.strftime("%Y-%m-%dT%H:%M:%S"),
            "candle_date_time_kst": start.astimezone(_KST).strftime("%Y-%m-%dT%H:%M:%S"),
            "opening_price": candle.open,
            "high_price": candle.high,
            "low_price": candle.low,
            "trade_price": candle.close,
            "candle_acc_trade_volume": round(candle.volume, _VOLUME_DIGITS),
            "candle_acc_trade_price": round(candle.value, 8),
            "timestamp": _ms(now),
            "stream_type": stream_type,
        }

    @staticmethod
    def _bucket(market: _Market, seconds: int) -> _Candle:
        """The candle of the last trade's bucket, every trade of it added in order (as ``_trade``
        adds them, so it equals the REST bar ``candle_history.py`` makes of the same trades)."""
        history = market.history
        start = history[-1].timestamp // 1000 // seconds * seconds
        first = len(history) - 1
        while first > 0 and history[first - 1].timestamp >= start * 1000:
            first -= 1
        trades = [history[i] for i in range(first, len(history))]
        head = trades[0]
        price, volume = head.trade_price, head.trade_volume
        candle = _Candle(start, price, price, price, price, volume, price * volume)
        for trade in trades[1:]:
            candle.add(trade.trade_price, trade.trade_volume)
        return candle
