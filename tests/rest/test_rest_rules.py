"""RestClient and the adaptive limits, rule by rule, against mocked answers (``responses``)."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from typing import Any

import jwt
import pytest
import requests
import responses
from responses import matchers
from responses.registries import OrderedRegistry

import upbit_sync as us
from upbit_sync.config import RATE_STRATEGIES
from upbit_sync.ratelimit import GroupLimit, parse_remaining, stated_block
from upbit_sync.rest import RestClient

ACCESS, SECRET = "rest-test-access-key-0123456789abcdefghij", "rest-test-secret-key-0123456789abcdefghij"


@pytest.fixture
def base() -> str:
    """A host of its own per test: the process-wide limits are kept per exchange host."""
    return f"https://api-{uuid.uuid4().hex[:8]}.upbit.test"


@pytest.fixture
def rest(base: str) -> Any:
    client = RestClient(us.Config(rest_url=base, access_key=ACCESS, secret_key=SECRET))
    yield client
    client.close()


def remaining(group: str, sec: int) -> dict[str, str]:
    return {"Remaining-Req": f"group={group}; min=1800; sec={sec}"}


MARKETS = [{"market": "KRW-BTC", "korean_name": "비트코인", "english_name": "Bitcoin"},
           {"market": "BTC-ETH", "korean_name": "이더리움", "english_name": "Ethereum"}]


# ---- answers and their types -------------------------------------------------------------------


@responses.activate
def test_markets_are_typed_and_filtered_by_quote(rest, base):
    responses.get(f"{base}/v1/market/all", json=MARKETS, headers=remaining("market", 9))
    markets = rest.markets(quote="KRW")
    found = [(m.market, m.english_name, m.quote, m.base) for m in markets]
    assert found == [("KRW-BTC", "Bitcoin", "KRW", "BTC")]
    assert "is_details=false" in responses.calls[0].request.url


@responses.activate
def test_no_call_sends_an_origin_header_and_every_call_has_a_timeout(rest, base):
    seen: dict[str, Any] = {}

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        seen["headers"] = dict(request.headers)
        return 200, remaining("market", 9), "[]"

    responses.add_callback(responses.GET, f"{base}/v1/market/all", callback=answer)
    rest.markets()
    assert "Origin" not in seen["headers"] and "origin" not in {k.lower() for k in seen["headers"]}
    assert responses.calls[0].request.req_kwargs["timeout"] == rest.config.rest_timeout


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the test decodes
@responses.activate
def test_a_signed_call_carries_the_query_hash_of_the_unencoded_query_with_arrays(rest, base):
    responses.get(f"{base}/v1/orders/open", json=[], headers=remaining("default", 29))
    rest.request("GET", "/v1/orders/open", {"market": "KRW-BTC", "states": ["wait", "watch"]})
    request = responses.calls[0].request
    assert "states%5B%5D=wait&states%5B%5D=watch" in request.url  # sent encoded...
    token = request.headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, SECRET, algorithms=["HS512"])
    plain = "market=KRW-BTC&states[]=wait&states[]=watch"  # ...hashed as Upbit reads it
    assert claims["query_hash"] == hashlib.sha512(plain.encode()).hexdigest()
    assert claims["query_hash_alg"] == "SHA512" and claims["access_key"] == ACCESS


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@responses.activate
def test_a_post_body_is_hashed_as_its_pairs_and_each_call_has_a_new_nonce(rest, base):
    body = {"market": "KRW-BTC", "side": "bid", "volume": "0.01", "price": "100", "ord_type": "limit"}
    responses.post(f"{base}/v1/orders", json={"uuid": "u1"}, headers=remaining("order", 11),
                   match=[matchers.json_params_matcher(body)])
    responses.post(f"{base}/v1/orders", json={"uuid": "u2"}, headers=remaining("order", 10))
    assert rest.request("POST", "/v1/orders", json=body) == {"uuid": "u1"}
    rest.request("POST", "/v1/orders", json=body)
    claims = [jwt.decode(c.request.headers["Authorization"][7:], SECRET, algorithms=["HS512"])
              for c in responses.calls]
    plain = "market=KRW-BTC&side=bid&volume=0.01&price=100&ord_type=limit"
    assert claims[0]["query_hash"] == hashlib.sha512(plain.encode()).hexdigest()
    assert claims[0]["nonce"] != claims[1]["nonce"]


# ---- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("status, name, kind", [
    (401, "jwt_verification", us.AuthenticationError),
    (401, "nonce_used", us.AuthenticationError),
    (403, "out_of_scope", us.AuthenticationError),
    (404, 404, us.ApiError),
    (400, "validation_error", us.ApiError),
])
@responses.activate
def test_upbit_s_error_body_becomes_an_api_error_with_status_name_and_message(rest, base, status, name, kind):
    responses.get(f"{base}/v1/accounts", json={"error": {"name": name, "message": "nope"}}, status=status,
                  headers=remaining("default", 29))
    with pytest.raises(kind) as caught:
        rest.accounts()
    error = caught.value
    assert isinstance(error, us.ApiError) and isinstance(error, us.UpbitError)
    assert (error.status, error.name, error.message) == (status, name, "nope")
    assert SECRET not in str(error) and "Bearer" not in str(error)


@responses.activate
def test_a_network_failure_is_a_connect_error_without_the_token(rest, base):
    responses.get(f"{base}/v1/accounts", body=requests.ConnectionError("connection refused"))
    with pytest.raises(us.ConnectError) as caught:
        rest.accounts()
    assert "connection refused" in str(caught.value) and caught.value.connection == "rest"
    assert "Bearer" not in str(caught.value) and SECRET not in str(caught.value)


def test_a_signed_call_without_keys_is_refused_before_anything_is_sent(base):
    with RestClient(us.Config(rest_url=base)) as rest, pytest.raises(us.AuthenticationError):
        rest.accounts()


@pytest.mark.parametrize("call", [
    lambda r: r.trades("krw-btc"), lambda r: r.trades("KRW-BTC", count=501),
    lambda r: r.trades("KRW-BTC", days_ago=8), lambda r: r.tickers([]),
    lambda r: r.request("GET", "v1/accounts"),
], ids=["lowercase code", "count", "days_ago", "no markets", "path"])
def test_bad_input_is_refused_naming_it(rest, call):
    with pytest.raises(us.InvalidRequestError):
        call(rest)


# ---- the adaptive limits ------------------------------------------------------------------------


@responses.activate
def test_remaining_req_sec_0_makes_the_next_call_wait_for_the_next_second(rest, base):
    times: list[float] = []

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        times.append(time.time())
        return 200, {"remaining-req": "group=trade; min=1800; sec=0"}, "[]"  # lower case, too

    responses.add_callback(responses.GET, f"{base}/v1/trades/ticks", callback=answer)
    rest.trades("KRW-BTC")
    rest.trades("KRW-BTC")
    assert int(times[1]) > int(times[0]), "the second call went out in the same second"


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retry delays RestClient waited, without waiting them."""
    delays: list[float] = []
    monkeypatch.setattr("upbit_sync.rest.transport.retry_sleep", delays.append)
    return delays


@responses.activate(registry=OrderedRegistry)
def test_a_429_cuts_the_group_s_rate_and_the_call_is_retried(rest, base, slept):
    url = f"{base}/v1/trades/ticks"
    responses.get(url, status=429, json={"error": {"name": "too_many_requests", "message": "slow"}})
    responses.get(url, status=429, json={"error": {"name": "too_many_requests", "message": "slow"}})
    responses.get(url, json=[], headers=remaining("trade", 5))
    assert rest.trades("KRW-BTC") == []
    assert len(responses.calls) == 3
    group = rest._limits.group("trade")
    assert group.factor == pytest.approx(0.25) and group.throttles == 2  # halved twice (balanced)
    assert slept == [0.5, 1.0]  # the strategy's retry delay, doubling


@responses.activate
def test_a_429_that_does_not_clear_ends_in_a_rate_limit_error(base, slept):
    config = us.Config(rest_url=base, rate_limit_strategy="aggressive")
    responses.get(f"{base}/v1/ticker", status=429, json={"error": {"name": "too_many_requests",
                                                                   "message": "slow"}})
    with RestClient(config) as rest, pytest.raises(us.RateLimitError) as caught:
        rest.tickers(["KRW-BTC"])
    assert caught.value.status == 429 and caught.value.group == "ticker"
    assert len(responses.calls) == RATE_STRATEGIES["aggressive"].retries + 1
    assert slept == [0.2, 0.4, 0.8, 1.6, 3.2]


@responses.activate
def test_a_418_blocks_the_group_for_the_time_it_states_without_another_call(rest, base):
    responses.get(f"{base}/v1/market/all", status=418, headers={"Retry-After": "42"},
                  json={"error": {"name": "teapot", "message": "blocked"}})
    with pytest.raises(us.RateLimitError) as first:
        rest.markets()
    assert first.value.status == 418 and 41 < first.value.retry_after <= 42
    with pytest.raises(us.RateLimitError) as second:
        rest.markets()
    assert 40 < second.value.retry_after <= 42
    assert len(responses.calls) == 1, "a blocked group hammered the exchange"


@responses.activate
def test_a_418_blocks_only_its_own_group(rest, base):
    responses.get(f"{base}/v1/market/all", status=418, json={"error": {"name": 418, "message": "blocked"}})
    responses.get(f"{base}/v1/ticker", json=[], headers=remaining("ticker", 9))
    with pytest.raises(us.RateLimitError):
        rest.markets()
    assert rest.tickers(["KRW-BTC"]) == []


def test_a_418_without_a_stated_time_blocks_for_a_growing_default():
    clock = FakeClock()
    group = GroupLimit("default", 30, 1.0, _memory(30), RATE_STRATEGIES["balanced"], clock=clock)
    group.observe(418)
    assert group.blocked_for() == pytest.approx(30.0)
    clock.now += 31.0
    group.observe(418)
    assert group.blocked_for() == pytest.approx(60.0)


def test_the_rate_comes_back_ten_percent_per_clean_minute():
    clock = FakeClock()
    group = GroupLimit("trade", 10, 1.0, _memory(10), RATE_STRATEGIES["balanced"], clock=clock)
    group.observe(429)
    assert group.factor == 0.5 and group.local.limits == ((5, 1.0),)
    for expected in (0.6, 0.7, 0.8, 0.9, 1.0, 1.0):
        clock.now += 60.0
        assert group.try_acquire() == 0.0
        assert group.factor == pytest.approx(expected)
    assert group.local.limits == ((10, 1.0),)


def test_a_group_cut_below_one_per_window_widens_the_window():
    clock = FakeClock()
    group = GroupLimit("order-cancel-all", 1, 2.0, _memory(1, 2.0), RATE_STRATEGIES["balanced"], clock=clock)
    group.observe(429)
    assert group.local.limits == ((1, 4.0),)


@pytest.mark.parametrize("headers, message, expected", [
    ({"Retry-After": "12"}, "", 12.0), ({}, "blocked for 5 seconds", 5.0),
    ({}, "요청 수 제한 초과로 30초간 차단됩니다", 30.0), ({}, "blocked", None),
])
def test_the_stated_length_of_a_block_is_read(headers, message, expected):
    assert stated_block(headers, message) == expected


def test_remaining_req_is_read_in_any_header_case():
    assert parse_remaining({"REMAINING-REQ": "group=default; min=1800; sec=29"}) == {
        "group": "default", "min": "1800", "sec": "29"}
    assert parse_remaining({}) == {}


@responses.activate
def test_a_wait_over_a_second_is_logged_with_the_running_count(rest, base, caplog):
    caplog.set_level(logging.WARNING, logger="upbit_sync.ratelimit")
    responses.get(f"{base}/v1/orderbook/instruments", json=[], headers=remaining("orderbook", 9))
    group = rest._limits.group("orderbook")
    group.hold_until = time.monotonic() + 1.2  # as if sec=0 had come with a long way to go
    rest.orderbook_instruments(["KRW-BTC"])
    (record,) = [r for r in caplog.records if "waited" in r.getMessage()]
    assert "orderbook" in record.getMessage() and "1 times" in record.getMessage()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _memory(count: int, seconds: float = 1.0) -> Any:
    from pyrate_limiter import InMemoryBucket, Rate
    return InMemoryBucket([Rate(count, int(seconds * 1100))])


@pytest.mark.parametrize("method, path, group", [
    ("POST", "/v1/orders", "order"), ("POST", "/v1/orders/cancel_and_new", "order"),
    ("POST", "/v1/orders/test", "order-test"), ("DELETE", "/v1/orders/open", "order-cancel-all"),
    ("DELETE", "/v1/order", "default"), ("GET", "/v1/orders/uuids", "default"),
    ("GET", "/v1/candles/minutes/1", "candle"),
])
def test_each_call_is_counted_in_upbits_group_for_it(method: str, path: str, group: str) -> None:
    from upbit_sync.ratelimit import group_of

    assert group_of(method, path) == group
