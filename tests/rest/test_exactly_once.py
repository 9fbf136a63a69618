"""An order placed, cancelled or replaced exactly once (docs/trading.md), fault by fault: against the
fake exchange's order faults (the answer dropped after the order was made, a 500 after making it, an
answer slower than rest_timeout, a 500 with nothing made, an order visible only after a delay), then
the branches only mocked answers (``responses``) can produce. In each, the orders the exchange holds
for the intent are counted: one, or none for a refused one; never two."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import responses

import upbit_sync as us
from upbit_sync.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY, FakeUpbitServer

BID = {"market": "KRW-BTC", "side": "bid", "ord_type": "limit", "price": 50_000_000, "volume": "0.001"}


@pytest.fixture
def fake(harness: Any) -> FakeUpbitServer:
    return harness.server()


@pytest.fixture
def make_rest(fake: FakeUpbitServer) -> Iterator[Callable[..., us.RestClient]]:
    made: list[us.RestClient] = []

    def make(**overrides: Any) -> us.RestClient:
        settings: dict[str, Any] = {"rest_url": fake.rest_url, "access_key": TEST_ACCESS_KEY,
                                    "secret_key": TEST_SECRET_KEY, "order_lookup_timeout": 5.0}
        settings.update(overrides)
        made.append(us.RestClient(us.Config(**settings)))
        return made[-1]

    yield make
    for client in made:
        client.close()


def held(fake: FakeUpbitServer, identifier: str) -> list[dict[str, Any]]:
    """The orders the exchange holds under ``identifier``."""
    return [o for o in fake.orders if o.get("identifier") == identifier]


def posts(fake: FakeUpbitServer, path: str = "/v1/orders") -> int:
    return sum(1 for r in fake.rest_requests if r.method == "POST" and r.path == path)


FAULTS_AFTER = [("drop", 0.0, {}), ("500", 0.0, {}), ("delay", 1.0, {"rest_timeout": 0.3})]


# ---- place_order --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, seconds, config", FAULTS_AFTER, ids=["dropped", "500-after", "slow"])
def test_a_placement_whose_answer_is_lost_returns_the_one_order_made(fake, make_rest, mode, seconds,
                                                                      config, caplog):
    rest = make_rest(**config)
    fake.fail_next_order(mode, seconds=seconds)
    order = rest.place_order(**BID)
    assert order.identifier and order.identifier.startswith("us-")
    (one,) = held(fake, order.identifier)
    assert one["uuid"] == order.uuid and len(fake.orders) == 1
    assert posts(fake) == 1  # found by its identifier: never sent again
    assert "the order was found" in caplog.text


def test_a_500_with_nothing_made_and_the_identifier_burnt_raises_uncertain_and_makes_none(fake, make_rest):
    rest = make_rest(order_lookup_timeout=0.5)
    fake.fail_next_order("500_before")
    with pytest.raises(us.OrderUncertainError) as caught:
        rest.place_order(**BID, identifier="intent-500-before")
    error = caught.value
    assert error.identifier == "intent-500-before" and error.action == "place"
    assert "duplicate" in error.known and "first send reached Upbit" in error.known
    assert isinstance(error.__cause__, us.ApiServerError)
    assert held(fake, "intent-500-before") == [] and fake.orders == []
    assert posts(fake) == 2  # the first, and one resend under the same identifier


def test_a_500_with_nothing_made_and_the_identifier_free_is_sent_again_and_makes_one(fake, make_rest):
    rest = make_rest()
    fake.fail_next_order("500_before", burn=False)
    order = rest.place_order(**BID, identifier="intent-500-free")
    (one,) = held(fake, "intent-500-free")
    assert one["uuid"] == order.uuid and len(fake.orders) == 1 and posts(fake) == 2


def test_an_order_visible_only_after_a_delay_is_waited_for_not_placed_twice(fake, make_rest):
    """The answer is lost AND the order stays out of lookups for a second: the resend under the same
    identifier is refused as a duplicate, and the lookups go on until the order shows."""
    rest = make_rest()
    fake.fail_next_order("hide", seconds=1.0)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(fake.rest_url)
        mock.add_callback(responses.POST, f"{fake.rest_url}/v1/orders", callback=_forward_losing_first())
        order = rest.place_order(**BID, identifier="intent-hidden")
    (one,) = held(fake, "intent-hidden")
    assert one["uuid"] == order.uuid and len(fake.orders) == 1
    assert [r.status for r in fake.rest_requests if r.method == "POST"] == [201, 400]


def _forward_losing_first() -> Callable[[requests.PreparedRequest], Any]:
    """A ``responses`` callback that hands each call on to the fake exchange (through urllib, which
    ``responses`` does not catch) and loses the first answer, as a reset connection would."""
    calls = []

    def forward(request: requests.PreparedRequest) -> Any:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        body = request.body.encode() if isinstance(request.body, str) else request.body
        sent = urllib.request.Request(str(request.url), data=body, headers=headers, method=request.method)
        try:
            with urllib.request.urlopen(sent, timeout=5) as answer:
                status, text = answer.status, answer.read()
        except urllib.error.HTTPError as refused:
            status, text = refused.code, refused.read()
        calls.append(status)
        if len(calls) == 1:
            return requests.ConnectionError("Connection aborted: RemoteDisconnected")
        return status, {"Content-Type": "application/json"}, text

    return forward


def test_a_refusal_on_the_first_send_is_raised_and_nothing_is_looked_up(fake, make_rest):
    rest = make_rest()
    with pytest.raises(us.InsufficientFundsError):
        rest.place_order("KRW-BTC", "bid", "limit", 50_000_000, 1, identifier="intent-too-big")
    assert not [r for r in fake.rest_requests if r.method == "GET" and r.path == "/v1/order"]
    assert fake.orders == []


def test_a_reused_identifier_on_the_first_send_is_raised_as_a_duplicate(fake, make_rest):
    rest = make_rest()
    rest.place_order(**BID, identifier="intent-twice")
    with pytest.raises(us.DuplicateIdentifierError):
        rest.place_order(**BID, identifier="intent-twice")
    assert len(held(fake, "intent-twice")) == 1


# ---- cancel_order -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, seconds, config", FAULTS_AFTER, ids=["dropped", "500-after", "slow"])
def test_a_cancel_whose_answer_is_lost_returns_the_cancelled_order(fake, make_rest, mode, seconds, config):
    rest = make_rest(**config)
    order = rest.place_order(**BID)
    fake.fail_next_order(mode, seconds=seconds, path="/v1/order")
    cancelled = rest.cancel_order(uuid=order.uuid)
    assert cancelled.uuid == order.uuid and cancelled.state == "cancel"
    (one,) = held(fake, order.identifier or "")
    assert one["state"] == "cancel" and len(fake.orders) == 1


def test_a_cancel_answered_500_before_acting_is_sent_again(fake, make_rest):
    rest = make_rest()
    order = rest.place_order(**BID)
    fake.fail_next_order("500_before", path="/v1/order")
    rest.cancel_order(identifier=order.identifier)
    deletes = [r.status for r in fake.rest_requests if r.method == "DELETE"]
    assert deletes == [500, 200]
    assert fake.wait_for(lambda: held(fake, order.identifier or "")[0]["state"] == "cancel", 5.0)


# ---- cancel_and_new -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode, seconds, config", FAULTS_AFTER, ids=["dropped", "500-after", "slow"])
def test_a_replacement_whose_answer_is_lost_returns_the_old_order_and_the_one_new(fake, make_rest, mode,
                                                                                  seconds, config):
    rest = make_rest(**config)
    old = rest.place_order(**BID)
    fake.fail_next_order(mode, seconds=seconds, path="/v1/orders/cancel_and_new")
    result = rest.cancel_and_new(old.uuid, new_ord_type="limit", new_price=49_000_000, new_volume="0.001")
    assert result.uuid == old.uuid and result.state == "cancel"
    assert result.new_order_identifier and result.new_order_identifier.startswith("us-")
    (new,) = held(fake, result.new_order_identifier)
    assert new["uuid"] == result.new_order_uuid and new["state"] == "wait"
    assert len(fake.orders) == 2 and posts(fake, "/v1/orders/cancel_and_new") == 1


def test_a_replacement_answered_500_with_nothing_done_and_the_identifier_burnt_is_uncertain(fake, make_rest):
    rest = make_rest(order_lookup_timeout=0.5)
    old = rest.place_order(**BID)
    fake.fail_next_order("500_before", path="/v1/orders/cancel_and_new")
    with pytest.raises(us.OrderUncertainError) as caught:
        rest.cancel_and_new(old.uuid, new_ord_type="limit", new_price=49_000_000, new_volume="remain_only",
                            new_identifier="intent-new")
    assert caught.value.identifier == "intent-new" and "duplicate" in caught.value.known
    assert held(fake, "intent-new") == [] and len(fake.orders) == 1
    assert fake.orders[0]["state"] == "wait"  # the old order was never cancelled


def test_a_replacement_answered_500_with_nothing_done_is_sent_again_once(fake, make_rest):
    rest = make_rest()
    old = rest.place_order(**BID)
    fake.fail_next_order("500_before", burn=False, path="/v1/orders/cancel_and_new")
    result = rest.cancel_and_new(prev_identifier=old.identifier, new_ord_type="limit",
                                 new_price=49_000_000, new_volume="0.001", new_identifier="intent-again")
    (new,) = held(fake, "intent-again")
    assert result.new_order_uuid == new["uuid"] and len(fake.orders) == 2


# ---- branches only mocked answers produce -------------------------------------------------------

ACCESS, SECRET = "once-test-access-key-0123456789abcdefghij", "once-test-secret-key-0123456789abcdefghij"


@pytest.fixture
def base() -> str:
    return f"https://api-{uuid.uuid4().hex[:8]}.upbit.test"


@pytest.fixture
def mocked(base: str) -> Iterator[us.RestClient]:
    client = us.RestClient(us.Config(rest_url=base, access_key=ACCESS, secret_key=SECRET,
                                     order_lookup_timeout=0.3))
    yield client
    client.close()


def order_row(identifier: str, state: str = "wait", **extra: Any) -> dict[str, Any]:
    row = {"uuid": f"u-{identifier}", "market": "KRW-BTC", "side": "bid", "ord_type": "limit",
           "state": state, "price": "50000000", "volume": "0.001", "remaining_volume": "0.001",
           "executed_volume": "0", "trades_count": 0, "paid_fee": "0", "locked": "50025",
           "created_at": "2026-12-05T10:00:00+09:00", "identifier": identifier}
    row.update(extra)
    return row


def refusal(name: str, status: int = 400) -> dict[str, Any]:
    return {"json": {"error": {"name": name, "message": "refused"}}, "status": status}


def sent(method: str, path: str) -> int:
    return sum(1 for c in responses.calls
               if c.request.method == method and c.request.path_url.split("?")[0] == path)


@responses.activate
def test_a_resend_refused_for_its_body_raises_that_refusal(mocked, base):
    responses.post(f"{base}/v1/orders", body=requests.ConnectionError("reset"))
    responses.get(f"{base}/v1/order", **refusal("order_not_found", 404))
    responses.post(f"{base}/v1/orders", **refusal("under_min_total_bid"))
    with pytest.raises(us.UnderMinimumError):
        mocked.place_order(**BID, identifier="body-refused")
    assert sent("POST", "/v1/orders") == 2 and sent("GET", "/v1/order") == 1


@responses.activate
def test_a_resend_refused_for_funds_is_ambiguous_and_never_sent_a_third_time(mocked, base):
    responses.post(f"{base}/v1/orders", body=requests.ConnectionError("reset"))
    responses.get(f"{base}/v1/order", **refusal("order_not_found", 404))
    responses.post(f"{base}/v1/orders", **refusal("insufficient_funds_bid"))
    with pytest.raises(us.OrderUncertainError) as caught:
        mocked.place_order(**BID, identifier="funds-refused")
    assert "insufficient_funds_bid" in caught.value.known and "may hold the funds" in caught.value.known
    assert sent("POST", "/v1/orders") == 2 and sent("GET", "/v1/order") >= 2


@responses.activate
def test_at_the_bound_the_uncertain_error_says_what_was_learnt_and_keeps_the_first_failure(mocked, base):
    responses.post(f"{base}/v1/orders", json={"error": {"name": 500, "message": "oops"}}, status=500)
    responses.get(f"{base}/v1/order", json={"error": {"name": 500, "message": "oops"}}, status=503)
    with pytest.raises(us.OrderUncertainError) as caught:
        mocked.place_order(**BID, identifier="nothing-learnt")
    error = caught.value
    assert isinstance(error, us.UpbitError) and error.identifier == "nothing-learnt"
    assert "a lookup failed (HTTP 503" in error.known and isinstance(error.__cause__, us.ApiServerError)
    assert sent("POST", "/v1/orders") == 1  # no lookup ever said "not found": never sent again
    assert SECRET not in str(error)


@responses.activate
def test_a_lost_resend_is_looked_up_again_and_the_resends_are_bounded(mocked, base):
    responses.post(f"{base}/v1/orders", body=requests.ConnectionError("reset"))
    responses.get(f"{base}/v1/order", **refusal("order_not_found", 404))
    with pytest.raises(us.OrderUncertainError):
        mocked.place_order(**BID, identifier="always-lost")
    assert sent("POST", "/v1/orders") == 1 + 3


@responses.activate
def test_a_placement_that_never_left_is_raised_at_once(mocked, base):
    responses.post(f"{base}/v1/orders", body=requests.exceptions.ConnectTimeout("connect timed out"))
    with pytest.raises(us.ConnectError) as caught:
        mocked.place_order(**BID)
    assert type(caught.value).__name__ == "NotSentError"
    assert len(responses.calls) == 1


@responses.activate
def test_a_found_order_after_a_lost_answer_is_returned_typed(mocked, base):
    responses.post(f"{base}/v1/orders", body=requests.ReadTimeout("read timed out"))
    responses.get(f"{base}/v1/order", json=order_row("found-late"))
    order = mocked.place_order(**BID, identifier="found-late")
    assert (order.uuid, order.identifier, order.price) == ("u-found-late", "found-late", 50_000_000.0)


@responses.activate
def test_a_second_cancel_refused_as_not_open_returns_the_order_as_it_now_is(mocked, base):
    responses.delete(f"{base}/v1/order", body=requests.ConnectionError("reset"))
    responses.get(f"{base}/v1/order", json=order_row("c1", "wait"))
    responses.delete(f"{base}/v1/order", **refusal("order_not_found", 404))
    responses.get(f"{base}/v1/order", json=order_row("c1", "done"))
    order = mocked.cancel_order(identifier="c1")
    assert order.state == "done"  # the fill won the race: the caller sees it
    assert sent("DELETE", "/v1/order") == 2


@responses.activate
def test_a_cancel_still_open_at_the_bound_raises_uncertain(mocked, base):
    responses.delete(f"{base}/v1/order", body=requests.ConnectionError("reset"))
    responses.get(f"{base}/v1/order", json=order_row("c2", "wait"))
    with pytest.raises(us.OrderUncertainError) as caught:
        mocked.cancel_order(uuid="u-c2")
    assert "still wait" in caught.value.known and sent("DELETE", "/v1/order") == 4


@responses.activate
def test_a_replacement_whose_old_order_filled_is_not_sent_again(mocked, base):
    responses.post(f"{base}/v1/orders/cancel_and_new", body=requests.ConnectionError("reset"))
    responses.get(f"{base}/v1/order", **refusal("order_not_found", 404),
                  match=[responses.matchers.query_param_matcher({"identifier": "r-new"})])
    responses.get(f"{base}/v1/order", json=order_row("r-old", "done"),
                  match=[responses.matchers.query_param_matcher({"uuid": "u-r-old"})])
    with pytest.raises(us.OrderUncertainError) as caught:
        mocked.cancel_and_new("u-r-old", new_ord_type="limit", new_price=1000, new_volume=1,
                              new_identifier="r-new")
    assert "the old order is done" in caught.value.known
    assert sent("POST", "/v1/orders/cancel_and_new") == 1


@responses.activate
def test_every_placement_carries_an_identifier_generated_when_none_is_given(mocked, base):
    responses.post(f"{base}/v1/orders", json=order_row("x"), status=201)
    mocked.place_order(**BID)
    body = json.loads(responses.calls[0].request.body)
    assert body["identifier"].startswith("us-") and len(body["identifier"]) == 35
    assert body["price"] == "50000000" and body["volume"] == "0.001"
