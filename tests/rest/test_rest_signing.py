"""What a signed call sends and what it hashes are the same pairs (issue 18 §4): a query in the path, None,
booleans, Decimals and floats, and the values refused before anything is sent. Mocked answers
(``responses``) show what went on the wire; the fake exchange checks the hash by Upbit's rule."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import jwt
import pytest
import responses

import upbit_sync as us
from upbit_sync.rest import RestClient
from upbit_sync.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY, FakeUpbitServer

ACCESS, SECRET = "rest-test-access-key-0123456789abcdefghij", "rest-test-secret-key-0123456789abcdefghij"
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # tests decode


@pytest.fixture
def base() -> str:
    """A host of its own per test: the process-wide limits are kept per exchange host."""
    return f"https://api-{uuid.uuid4().hex[:8]}.upbit.test"


@pytest.fixture
def rest(base: str) -> Iterator[RestClient]:
    client = RestClient(us.Config(rest_url=base, access_key=ACCESS, secret_key=SECRET))
    yield client
    client.close()


def sent() -> tuple[str, Any, str | None]:
    """The one call made: its query string, its JSON body (None without one) and its token's hash."""
    (call,) = responses.calls
    request = call.request
    query = request.url.partition("?")[2]
    body = json.loads(request.body) if request.body else None
    claims = jwt.decode(request.headers["Authorization"][7:], SECRET, algorithms=["HS512"])
    return query, body, claims.get("query_hash")


def sha512(text: str) -> str:
    return hashlib.sha512(text.encode()).hexdigest()


# ---- a query in the path -------------------------------------------------------------------------


@responses.activate
def test_a_query_in_the_path_is_sent_and_hashed(rest, base):
    responses.get(f"{base}/v1/order", json={})
    rest.request("GET", "/v1/order?uuid=abc")
    query, _, hashed = sent()
    assert query == "uuid=abc" and hashed == sha512("uuid=abc")


@responses.activate
def test_a_query_in_the_path_and_params_make_one_query(rest, base):
    responses.get(f"{base}/v1/order", json={})
    rest.request("GET", "/v1/order?uuid=abc", {"identifier": "x"})
    query, _, hashed = sent()
    assert query == "uuid=abc&identifier=x" and hashed == sha512("uuid=abc&identifier=x")


@responses.activate
def test_an_array_in_the_path_stays_an_array(rest, base):
    responses.get(f"{base}/v1/orders/open", json=[])
    rest.request("GET", "/v1/orders/open?states[]=wait&states[]=watch")
    query, _, hashed = sent()
    assert query == "states%5B%5D=wait&states%5B%5D=watch"
    assert hashed == sha512("states[]=wait&states[]=watch")


@responses.activate
def test_a_name_both_in_the_path_and_in_params_is_refused_naming_it(rest):
    with pytest.raises(us.InvalidRequestError, match="uuid"):
        rest.request("GET", "/v1/order?uuid=abc", {"uuid": "def"})
    assert not responses.calls


@responses.activate
def test_a_name_repeated_in_the_path_without_brackets_is_refused_naming_it(rest):
    with pytest.raises(us.InvalidRequestError, match=r"'uuid'.*uuid\[\]"):
        rest.request("GET", "/v1/orders/uuids?uuid=a&uuid=b")
    assert not responses.calls


@pytest.mark.parametrize("path", ["/v1/order?uuid", "/v1/order?uuid=a#top"], ids=["no value", "fragment"])
@responses.activate
def test_a_path_whose_query_is_not_pairs_is_refused(rest, path):
    with pytest.raises(us.InvalidRequestError, match="path"):
        rest.request("GET", path)
    assert not responses.calls


# ---- one spelling for what is sent and what is hashed -------------------------------------------


@responses.activate
def test_none_in_a_body_is_neither_sent_nor_hashed(rest, base):
    responses.post(f"{base}/v1/orders", json={})
    rest.request("POST", "/v1/orders", json={"market": "KRW-BTC", "volume": None, "side": "bid"})
    _, body, hashed = sent()
    assert body == {"market": "KRW-BTC", "side": "bid"}
    assert hashed == sha512("market=KRW-BTC&side=bid")


@responses.activate
def test_a_boolean_in_a_body_is_sent_and_hashed_as_true_or_false(rest, base):
    responses.post(f"{base}/v1/orders", json={})
    rest.request("POST", "/v1/orders", json={"market": "KRW-BTC", "post_only": True, "reduce": False})
    _, body, hashed = sent()
    assert body == {"market": "KRW-BTC", "post_only": True, "reduce": False}
    assert hashed == sha512("market=KRW-BTC&post_only=true&reduce=false")


@responses.activate
def test_a_boolean_in_a_query_is_sent_and_hashed_as_true_or_false(rest, base):
    responses.get(f"{base}/v1/orders/open", json=[])
    rest.request("GET", "/v1/orders/open", {"market": "KRW-BTC", "done": False})
    query, _, hashed = sent()
    assert query == "market=KRW-BTC&done=false" and hashed == sha512(query)


@responses.activate
def test_a_decimal_in_a_body_is_sent_and_hashed_as_its_exact_text(rest, base):
    responses.post(f"{base}/v1/orders", json={})
    rest.request("POST", "/v1/orders", json={"price": Decimal("1E+2"), "volume": Decimal("0.00001000")})
    _, body, hashed = sent()
    assert body == {"price": "100", "volume": "0.00001000"}
    assert hashed == sha512("price=100&volume=0.00001000")


@responses.activate
def test_a_float_in_a_body_is_sent_and_hashed_without_an_exponent(rest, base):
    responses.post(f"{base}/v1/orders", json={})
    rest.request("POST", "/v1/orders", json={"volume": 1e-05, "price": 0.1})
    _, body, hashed = sent()
    assert body == {"volume": "0.00001", "price": "0.1"}
    assert hashed == sha512("volume=0.00001&price=0.1")


@responses.activate
def test_a_float_in_a_query_is_sent_and_hashed_without_an_exponent(rest, base):
    responses.get(f"{base}/v1/orders/open", json=[])
    rest.request("GET", "/v1/orders/open", {"volume": 1e-05})
    query, _, hashed = sent()
    assert query == "volume=0.00001" and hashed == sha512(query)


@responses.activate
def test_an_integer_in_a_body_stays_a_json_number(rest, base):
    responses.delete(f"{base}/v1/orders/open", json={})
    rest.request("DELETE", "/v1/orders/open", json={"count": 20})
    _, body, hashed = sent()
    assert body == {"count": 20} and hashed == sha512("count=20")


@responses.activate
def test_an_array_in_a_body_is_hashed_with_brackets(rest, base):
    responses.post(f"{base}/v1/orders", json={})
    rest.request("POST", "/v1/orders", json={"uuids": ["a", "b"], "flags": (True, 2)})
    _, body, hashed = sent()
    assert body == {"uuids": ["a", "b"], "flags": [True, 2]}
    assert hashed == sha512("uuids[]=a&uuids[]=b&flags[]=true&flags[]=2")


# ---- refused before anything is sent -------------------------------------------------------------


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), Decimal("NaN"),
                                   Decimal("-Infinity"), Decimal("sNaN")],
                         ids=["nan", "inf", "-inf", "Decimal nan", "Decimal -inf", "Decimal snan"])
@pytest.mark.parametrize("where", ["params", "json"])
@responses.activate
def test_a_value_that_is_not_finite_is_refused_naming_it(rest, where, value):
    with pytest.raises(us.InvalidRequestError, match="volume"):
        rest.request("POST", "/v1/orders", **{where: {"market": "KRW-BTC", "volume": value}})
    assert not responses.calls


@pytest.mark.parametrize("where", ["params", "json"])
@responses.activate
def test_a_nested_mapping_is_refused_naming_it(rest, where):
    with pytest.raises(us.InvalidRequestError, match="'x'"):
        rest.request("POST", "/v1/orders", **{where: {"x": {"a": 1}}})
    assert not responses.calls


@pytest.mark.parametrize("value", [[None], [["a"]], [{"a": 1}], [], {"a", "b"}, b"bytes", object()],
                         ids=["None item", "nested list", "dict item", "empty list", "set", "bytes",
                              "object"])
@responses.activate
def test_a_value_of_no_wire_form_is_refused_naming_it(rest, value):
    with pytest.raises(us.InvalidRequestError, match="states"):
        rest.request("GET", "/v1/orders/open", {"states": value})
    assert not responses.calls


@pytest.mark.parametrize("where", ["params", "json"])
@pytest.mark.parametrize("given", ["uuid=abc", [("uuid", "abc")], 42], ids=["string", "list", "number"])
@responses.activate
def test_parameters_that_are_not_a_mapping_are_refused(rest, where, given):
    with pytest.raises(us.InvalidRequestError, match=where):
        rest.request("GET", "/v1/order", **{where: given})
    assert not responses.calls


@responses.activate
def test_a_name_that_is_not_a_string_is_refused(rest):
    with pytest.raises(us.InvalidRequestError, match="1"):
        rest.request("GET", "/v1/order", {1: "abc"})
    assert not responses.calls


@pytest.mark.parametrize("options", [{"count": True}, {"days_ago": True}, {"cursor": True},
                                     {"cursor": 1.5}, {"to": 120000}],
                         ids=["count", "days_ago", "cursor bool", "cursor float", "to number"])
@responses.activate
def test_trades_refuses_an_option_of_the_wrong_kind_naming_it(rest, options):
    (name,) = options
    with pytest.raises(us.InvalidRequestError, match=name):
        rest.trades("KRW-BTC", **options)
    assert not responses.calls


# ---- the fake exchange agrees ------------------------------------------------------------------------


@pytest.fixture
def fake(harness: Any) -> FakeUpbitServer:
    return harness.server()


@pytest.fixture
def signed(fake: FakeUpbitServer) -> Iterator[RestClient]:
    client = RestClient(us.Config(rest_url=fake.rest_url, access_key=TEST_ACCESS_KEY,
                                  secret_key=TEST_SECRET_KEY))
    yield client
    client.close()


def test_an_order_with_none_a_boolean_and_decimals_passes_the_fake_s_hash_check(signed, fake):
    order = signed.request("POST", "/v1/orders", json={
        "market": "KRW-BTC", "side": "bid", "ord_type": "limit", "price": Decimal("100000000"),
        "volume": Decimal("0.00010000"), "identifier": None, "post_only": True})
    assert order["state"] == "wait" and order["volume"] == "0.0001" and "identifier" not in order


def test_a_query_in_the_path_passes_the_fake_s_hash_check(signed, fake):
    order = signed.request("POST", "/v1/orders", json={
        "market": "KRW-BTC", "side": "bid", "ord_type": "limit", "price": 100000000.0, "volume": 1e-04})
    found = signed.request("GET", f"/v1/order?uuid={order['uuid']}")
    assert found["uuid"] == order["uuid"] and found["volume"] == "0.0001"
