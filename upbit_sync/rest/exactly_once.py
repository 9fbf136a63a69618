"""An order placed, cancelled or replaced exactly once, even when an answer is lost (docs/trading.md).

A request that may have reached Upbit (the connection lost or timed out after sending, a 5xx) is never
sent again blind. Its order is looked up by its identifier; only when Upbit says it has no such order
is the SAME body sent again with the SAME identifier. That cannot make a second order: Upbit takes an
identifier once, ever, even when the request that first carried it failed (Upbit's order docs),
so a duplicate refusal proves the first send arrived. Each step is bounded by
``Config.order_lookup_timeout``; past it the SDK raises :class:`OrderUncertainError` rather than guess.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from ..errors import (
    ApiError,
    AuthenticationError,
    DuplicateIdentifierError,
    OrderNotFoundError,
    OrderUncertainError,
    RateLimitError,
    UpbitError,
)
from ..types import Order
from .transport import may_have_arrived

log = logging.getLogger(__name__)

MAX_RESENDS = 3  # sends of one body after the first, at most
FIRST_WAIT = 0.05  # seconds between lookups, at first; doubled each time up to LONGEST_WAIT
LONGEST_WAIT = 0.5
# Refusals that depend only on the body: had the first send arrived, it was refused for the same.
BODY_ERRORS = frozenset({"validation_error", "invalid_parameter", "create_bid_error", "create_ask_error",
                         "invalid_price_bid", "invalid_price_ask", "under_min_total_bid",
                         "under_min_total_ask", "invalid_post_only"})
pause = time.sleep  # how the SDK waits between lookups (tests may replace it)

Send = Callable[[], Order]


def _name(error: BaseException) -> str:
    if isinstance(error, ApiError):
        return f"HTTP {error.status} {error.name}"
    return type(error).__name__


class Settling:
    """One lost answer being settled: the deadline, the waits, the resends and what was learnt."""

    def __init__(self, action: str, identifier: str | None, timeout: float, first: UpbitError) -> None:
        self.action = action
        self.identifier = identifier
        self.timeout = timeout
        self.first = first
        self.deadline = time.monotonic() + timeout
        self.wait = FIRST_WAIT
        self.resends = 0
        self.may_resend = True
        self.learnt: dict[str, str] = {"first": f"the first send's answer was lost ({_name(first)})"}
        log.warning("%s %r: the answer was lost (%s); looking the order up before anything is sent again",
                    action, identifier, _name(first))

    def note(self, kind: str, text: str) -> None:
        self.learnt[kind] = text

    def uncertain(self, last: str) -> OrderUncertainError:
        known = "; ".join([*self.learnt.values(), last])
        log.error("%s %r: outcome unknown: %s", self.action, self.identifier, known)
        return OrderUncertainError(self.action, self.identifier, known, cause=self.first)

    def look(self, find: Send, what: str = "order") -> tuple[Order | None, bool]:
        """The order as Upbit has it now: (order, True), (None, True) when Upbit has no such order,
        (None, False) when the lookup itself failed. Refused credentials end the settling."""
        try:
            return find(), True
        except OrderNotFoundError:
            self.note(f"{what} missing", f"the {what} was not found by a lookup")
            return None, True
        except AuthenticationError as exc:
            raise self.uncertain(f"a lookup was refused ({_name(exc)})") from None
        except UpbitError as exc:
            self.note("lookup", f"a lookup failed ({_name(exc)})")
            return None, False

    def can_resend(self) -> bool:
        return self.may_resend and self.resends < MAX_RESENDS

    def over(self) -> bool:
        return time.monotonic() >= self.deadline

    def sleep(self) -> None:
        pause(max(0.0, min(self.wait, self.deadline - time.monotonic())))
        self.wait = min(self.wait * 2, LONGEST_WAIT)

    def resend(self, send: Send) -> Order | None:
        """Send the same body again: the order, or None with what the refusal taught noted (a refusal
        that depends only on the body is raised: the first send was refused the same way)."""
        self.resends += 1
        try:
            order = send()
        except DuplicateIdentifierError:
            self.may_resend = False
            self.note("resend", "a resend under the same identifier was refused as a duplicate: the "
                                "first send reached Upbit")
            return None
        except ApiError as exc:
            if exc.name in BODY_ERRORS:
                log.warning("%s %r: the first answer was lost; sent again, Upbit refused it (%s): the "
                            "first was refused the same way", self.action, self.identifier, _name(exc))
                raise
            if isinstance(exc, AuthenticationError):
                raise self.uncertain(f"a resend was refused ({_name(exc)})") from None
            if may_have_arrived(exc) or isinstance(exc, RateLimitError):
                self.note("resend", f"a resend failed too ({_name(exc)})")
                return None
            self.may_resend = False
            self.note("resend", f"a resend was refused ({_name(exc)}), which may be because the first "
                                "send arrived (it may hold the funds)")
            return None
        except UpbitError as exc:
            self.note("resend", f"a resend failed too ({_name(exc)})")
            return None
        log.warning("%s %r: the first answer was lost and Upbit had no such order; sent again under the "
                    "same identifier: done", self.action, self.identifier)
        return order


def _first(send: Send, action: str, name: str, timeout: float) -> Order | Settling:
    """The first send: its order, or (its answer lost on the way) the settling of that loss."""
    try:
        return send()
    except UpbitError as exc:
        if not may_have_arrived(exc):
            raise
        return Settling(action, name, timeout, exc)


def place(send: Send, find: Send, identifier: str, timeout: float) -> Order:
    """POST /v1/orders exactly once: ``send`` places (always the same body, with ``identifier``),
    ``find`` looks the identifier up (GET /v1/order)."""
    settling = _first(send, "place", identifier, timeout)
    if isinstance(settling, Order):
        return settling
    while True:
        found, learnt = settling.look(find)
        if found is not None:
            log.warning("place %r: the answer was lost; the order was found (%s, %s)", identifier,
                        found.uuid, found.state)
            return found
        if learnt and settling.can_resend():
            order = settling.resend(send)
            if order is not None:
                return order
            continue  # look again at once: the resend may have taught something
        if settling.over():
            raise settling.uncertain(f"no order under this identifier after {timeout:g}s")
        settling.sleep()


def cancel(send: Send, find: Send, name: str, timeout: float) -> Order:
    """DELETE /v1/order exactly once in effect: after a lost answer the order is looked up; over
    (cancel, or done: the fill won) it is returned; still open, it is cancelled again (harmless)."""
    settling = _first(send, "cancel", name, timeout)
    if isinstance(settling, Order):
        return settling
    while True:
        found, _ = settling.look(find)
        if found is not None and not found.is_open:
            log.warning("cancel %r: the answer was lost; the order is %s", name, found.state)
            return found
        if found is not None and settling.resends < MAX_RESENDS:
            settling.resends += 1
            try:
                return send()
            except AuthenticationError as exc:
                raise settling.uncertain(f"a second cancel was refused ({_name(exc)})") from None
            except UpbitError as exc:  # no longer open, or lost again: the next lookup tells
                settling.note("resend", f"a second cancel failed ({_name(exc)})")
                continue
        if settling.over():
            state = f"still {found.state}" if found is not None else "not found"
            raise settling.uncertain(f"the order is {state} after {timeout:g}s")
        settling.sleep()


def replace(send: Send, find_new: Send, find_old: Send, new_identifier: str, timeout: float) -> Order:
    """POST /v1/orders/cancel_and_new exactly once: after a lost answer the new order is looked up by
    ``new_identifier``; found, the old order is returned with ``new_order_uuid``/``_identifier`` set.
    Not found while the old order is still open, the same body is sent again."""
    settling = _first(send, "cancel_and_new", new_identifier, timeout)
    if isinstance(settling, Order):
        return settling
    while True:
        new, learnt = settling.look(find_new, "new order")
        if new is not None:
            old, _ = settling.look(find_old, "old order")
            if old is not None:
                log.warning("cancel_and_new %r: the answer was lost; the new order was found (%s)",
                            new_identifier, new.uuid)
                return dataclasses.replace(old, new_order_uuid=new.uuid, new_order_identifier=new.identifier)
        elif learnt and settling.can_resend():
            old, _ = settling.look(find_old, "old order")
            if old is not None and old.is_open:
                order = settling.resend(send)
                if order is not None:
                    return order
                continue
            if old is not None:
                settling.may_resend = False
                settling.note("old", f"the old order is {old.state}: not sent again (a cancel_and_new "
                                     "whose old order filled first makes no new order)")
        if settling.over():
            raise settling.uncertain(f"no new order under this identifier after {timeout:g}s")
        settling.sleep()
