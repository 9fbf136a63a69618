"""What an order must be before the fake exchange takes it (docs/trading.md): the fields
each type and side needs and allows, the tick grid, the minimum total, and the answers Upbit gives a
bad one. Funds and the book are the matcher's to check; this is what a body alone decides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from .market import tick_size
from .rest_params import CODE, RestError, amount

ORDER_TYPES = ("limit", "price", "market", "best")
TIME_IN_FORCE = ("ioc", "fok", "post_only")
SMP_TYPES = ("cancel_maker", "cancel_taker", "reduce", "none")
FEE = Decimal("0.0005")  # 0.05%, maker and taker alike
MIN_TOTAL = {"KRW": Decimal(5000), "BTC": Decimal("0.00005"), "USDT": Decimal("0.5")}
MAX_TOTAL = {"KRW": Decimal("1000000000"), "BTC": Decimal(10), "USDT": Decimal(1000000)}
VOLUME_STEP = Decimal("0.00000001")


@dataclass(frozen=True)
class OrderRequest:
    """An order as asked for, checked against the rules a body alone decides."""

    market: str
    side: str
    ord_type: str
    price: Decimal | None
    volume: Decimal | None
    time_in_force: str | None
    smp_type: str
    identifier: str | None

    @property
    def quote(self) -> str:
        return self.market.split("-", 1)[0]

    @property
    def by_amount(self) -> bool:
        """A buy for an amount of quote (``price``, or ``best`` bid): ``price`` is that amount."""
        return self.side == "bid" and self.ord_type in ("price", "best")

    def with_volume(self, volume: Decimal) -> OrderRequest:
        return replace(self, volume=volume)


def _combination(side: str, message: str) -> RestError:
    return RestError(400, f"create_{side}_error", message)


def parse_order(param: Callable[[str], str | None], is_listed: Callable[[str], bool]) -> OrderRequest:
    """The order a request's parameters ask for (``param`` reads one by name); RestError otherwise:
    ``validation_error`` for a missing or malformed field, ``create_bid_error``/``create_ask_error``
    for a field the type and side do not allow."""
    market, side, ord_type = param("market"), param("side"), param("ord_type")
    if not market or CODE.fullmatch(market) is None or not is_listed(market):
        raise RestError(400, "validation_error", "market is missing or not listed.")
    if side not in ("bid", "ask"):
        raise RestError(400, "validation_error", "side is missing, side does not have a valid value")
    if ord_type not in ORDER_TYPES:
        raise RestError(400, "validation_error", f"ord_type must be one of {', '.join(ORDER_TYPES)}.")
    volume, price = amount(param("volume"), "volume"), amount(param("price"), "price")
    tif, smp = param("time_in_force"), param("smp_type")
    if tif is not None and tif not in TIME_IN_FORCE:
        raise RestError(400, "validation_error", f"time_in_force must be one of {', '.join(TIME_IN_FORCE)}.")
    if smp is not None and smp not in SMP_TYPES:
        raise RestError(400, "validation_error", f"smp_type must be one of {', '.join(SMP_TYPES)}.")
    needs_volume = ord_type == "limit" or (ord_type in ("market", "best") and side == "ask")
    needs_price = ord_type == "limit" or (ord_type in ("price", "best") and side == "bid")
    if (ord_type == "price" and side == "ask") or (ord_type == "market" and side == "bid"):
        raise _combination(side, f"a {ord_type} order cannot be a {side}.")
    if (needs_volume and volume is None) or (needs_price and price is None):
        missing = [n for n, need, v in (("volume", needs_volume, volume), ("price", needs_price, price))
                   if need and v is None]
        raise RestError(400, "validation_error", f"{' and '.join(missing)} is missing")
    if (volume is not None and not needs_volume) or (price is not None and not needs_price):
        raise _combination(side, f"a {ord_type} {side} order takes no "
                           + ("volume." if volume is not None and not needs_volume else "price."))
    if ord_type in ("price", "market") and tif is not None:
        raise _combination(side, f"a {ord_type} order takes no time_in_force.")
    if ord_type == "best" and tif not in ("ioc", "fok"):
        raise _combination(side, "a best order needs time_in_force ioc or fok.")
    if tif == "post_only" and smp not in (None, "none"):
        raise RestError(400, "validation_error", "post_only cannot be combined with smp_type.")
    if volume is not None and volume % VOLUME_STEP:
        raise RestError(400, "validation_error", "volume has more than 8 decimals.")
    smp_type = smp or ("none" if tif == "post_only" else "cancel_maker")
    identifier = param("identifier")
    return OrderRequest(market, side, ord_type, price, volume, tif, smp_type, identifier)


def check_price(order: OrderRequest) -> None:
    """A limit price must sit on the market's tick grid (``invalid_price_bid``/``_ask``)."""
    if order.ord_type != "limit" or order.price is None:
        return
    tick = Decimal(repr(tick_size(order.quote, float(order.price))))
    if order.price % tick:
        raise RestError(400, f"invalid_price_{order.side}",
                        f"the price must be a multiple of the tick size {tick.normalize()}.")


def check_total(order: OrderRequest, total: Decimal) -> None:
    """The order's total in quote must reach the market's minimum and stay under its maximum."""
    low, high = MIN_TOTAL.get(order.quote, Decimal(0)), MAX_TOTAL.get(order.quote)
    if total < low:
        raise RestError(400, f"under_min_total_{order.side}",
                        f"the minimum order amount is {low} {order.quote}.")
    if high is not None and total > high:
        raise RestError(400, "validation_error", f"the maximum order amount is {high} {order.quote}.")
