"""The fake exchange's REST side over real HTTP: endpoints, JWT and query-hash checks, per-group rate
limits with Remaining-Req, 429 and 418, fault control and introspection (docs/upbit.md §5-§7)."""

from __future__ import annotations

import hashlib
import http.client
import re
import threading
import time
from decimal import Decimal

import pytest
import requests
import websocket

from tests.fake.conftest import fake_threads
from upbit_sync.auth import query_hash
from upbit_sync.testing import DEFAULT_MARKETS, TEST_ACCESS_KEY, TEST_SECRET_KEY, Market, make_token

OTHER_KEYS = {TEST_ACCESS_KEY: TEST_SECRET_KEY, "otherAccessKey": "otherSecretKey0123456789abcdefABCDEFGHIJ"}
ORDER = {"market": "KRW-BTC", "side": "bid", "volume": "0.01", "price": "100000000", "ord_type": "limit"}


def remaining(response: requests.Response) -> dict[str, str]:
    """``Remaining-Req: group=...; min=...; sec=...`` as a dict."""
    header = response.headers["Remaining-Req"]
    return dict(part.strip().split("=", 1) for part in header.split(";"))


def error_of(response: requests.Response) -> tuple[object, str]:
    error = response.json()["error"]
    return error["name"], error["message"]


# -- quotation endpoints ---------------------------------------------------------------------------


def test_market_all_lists_the_served_markets_as_json(server, rest):
    response = rest(server).get("/v1/market/all")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    rows = response.json()
    assert rows == [{"market": m.market, "korean_name": m.korean_name, "english_name": m.english_name}
                    for m in server.markets]
    assert rows[0] == {"market": "KRW-BTC", "korean_name": "비트코인", "english_name": "Bitcoin"}


def test_market_all_with_details_adds_the_market_events(make_server, rest):
    server = make_server(markets=[Market("KRW-BTC", "비트코인", "Bitcoin"),
                                  Market("KRW-SHIB", "시바이누", "Shiba Inu", warning=True)])

    rows = rest(server).get("/v1/market/all", {"is_details": "true"}).json()

    assert [row["market"] for row in rows] == ["KRW-BTC", "KRW-SHIB"]
    assert [row["market_event"]["warning"] for row in rows] == [False, True]
    assert rows[0]["market_event"]["caution"] == {
        "PRICE_FLUCTUATIONS": False, "TRADING_VOLUME_SOARING": False, "DEPOSIT_AMOUNT_SOARING": False,
        "GLOBAL_PRICE_DIFFERENCES": False, "CONCENTRATION_OF_SMALL_ACCOUNTS": False,
    }
    assert "market_event" not in rest(server).get("/v1/market/all", {"is_details": "false"}).json()[0]


def test_market_all_serves_the_default_list_when_any_code_is_served(make_server, rest):
    server = make_server(markets=None)

    rows = rest(server).get("/v1/market/all").json()

    assert [row["market"] for row in rows] == [m.market for m in DEFAULT_MARKETS]


def test_a_bad_parameter_is_400_with_an_integer_name(server, rest):
    response = rest(server).get("/v1/market/all", {"is_details": "maybe"})

    assert response.status_code == 400
    assert error_of(response)[0] == 400
    assert remaining(response)["group"] == "market"


@pytest.mark.parametrize(("path", "params"), [
    ("/v1/ticker", {"markets": "KRW-BTC,KRW-NOPE"}),
    ("/v1/ticker", {"markets": "krw-btc"}),
    ("/v1/trades/ticks", {"market": "KRW-NOPE"}),
    ("/v1/orderbook/instruments", {"markets": "USDT-NOPE"}),
])
def test_an_unknown_market_is_404_code_not_found(server, rest, path, params):
    response = rest(server).get(path, params)

    assert response.status_code == 404
    assert response.json() == {"error": {"name": 404, "message": "Code not found"}}
    assert remaining(response)["sec"].isdigit()


def test_an_unknown_path_is_404_with_an_error_body_and_remaining_req(server, rest):
    client = rest(server)

    quotation = client.get("/v1/candles/minutes/2", {"market": "KRW-BTC"})
    other = client.get("/v1/nothing")

    assert (quotation.status_code, error_of(quotation)[0]) == (404, 404)
    assert (other.status_code, error_of(other)[0]) == (404, "not_found")
    assert remaining(quotation)["group"] == "candle" and remaining(other)["group"] == "default"


def test_the_rest_ticker_agrees_with_the_websocket_ticker(make_server, connect, rest):
    server = make_server(message_rate=0)  # nothing trades: both show the same state
    session = connect(server.public_url)
    session.subscribe({"type": "ticker", "codes": ["KRW-BTC", "KRW-ETH"]})
    ws = {m["code"]: m for m in (session.message(), session.message())}

    rows = rest(server).get("/v1/ticker", {"markets": "KRW-BTC,KRW-ETH"}).json()

    assert [row["market"] for row in rows] == ["KRW-BTC", "KRW-ETH"]
    for row in rows:
        assert set(row) == {
            "market", "trade_date", "trade_time", "trade_date_kst", "trade_time_kst",
            "trade_timestamp", "opening_price", "high_price", "low_price", "trade_price",
            "prev_closing_price", "change", "change_price", "change_rate", "signed_change_price",
            "signed_change_rate", "trade_volume", "acc_trade_price", "acc_trade_price_24h",
            "acc_trade_volume", "acc_trade_volume_24h", "highest_52_week_price",
            "highest_52_week_date", "lowest_52_week_price", "lowest_52_week_date", "timestamp",
        }
        same = {k: v for k, v in ws[row["market"]].items() if k in row and k != "timestamp"}
        assert {k: row[k] for k in same} == same
        assert re.fullmatch(r"\d{8}", row["trade_date_kst"]) and re.fullmatch(r"\d{6}", row["trade_time_kst"])


# -- instruments and levels ------------------------------------------------------------------------


def test_instruments_give_the_tick_size_and_levels_of_each_market(server, rest):
    rows = rest(server).get("/v1/orderbook/instruments",
                            {"markets": "KRW-BTC,KRW-XRP,BTC-ETH,USDT-BTC"}).json()

    by_market = {row["market"]: row for row in rows}
    btc = by_market["KRW-BTC"]
    assert (btc["quote_currency"], btc["tick_size"]) == ("KRW", "1000")
    assert btc["supported_levels"][0] == "0" and {"10000", "100000", "1000000"} <= set(
        btc["supported_levels"])
    assert by_market["BTC-ETH"]["supported_levels"] == ["0"]
    assert by_market["BTC-ETH"]["tick_size"] == "0.00000001"
    assert by_market["USDT-BTC"]["supported_levels"] == ["0"]
    for code, row in by_market.items():
        assert [float(level) for level in row["supported_levels"]] == list(server.supported_levels(code))
        tick = Decimal(row["tick_size"])
        price = server.market.price(code)
        for level in map(Decimal, row["supported_levels"][1:]):
            assert level % tick == 0 and level <= Decimal(price) / 100


def test_the_websocket_sends_nothing_for_an_unsupported_level_and_data_for_a_supported_one(
        server, connect):
    assert 10 not in server.supported_levels("KRW-BTC") and 10000 in server.supported_levels("KRW-BTC")
    session = connect(server.public_url)
    session.subscribe({"type": "orderbook", "codes": ["KRW-BTC.5"], "level": 10},
                      {"type": "orderbook", "codes": ["KRW-ETH.5"], "level": 10000},
                      {"type": "orderbook", "codes": ["KRW-XRP.5"], "level": 0})

    seen = session.until(lambda m: m["code"] == "KRW-XRP" and m["stream_type"] == "REALTIME")
    seen += session.until(lambda m: m["code"] == "KRW-XRP" and m["stream_type"] == "REALTIME")

    assert {m["code"] for m in seen} == {"KRW-ETH", "KRW-XRP"}
    assert all(m["level"] == 10000 for m in seen if m["code"] == "KRW-ETH")
    assert server.open_connections()  # no error, no close


def test_the_rest_orderbook_is_empty_for_an_unsupported_level(server, rest):
    client = rest(server)

    unsupported = client.get("/v1/orderbook", {"markets": "KRW-BTC", "level": "10"}).json()
    supported = client.get("/v1/orderbook", {"markets": "KRW-BTC", "level": "100000", "count": "5"}).json()

    assert unsupported == []
    assert supported[0]["market"] == "KRW-BTC" and len(supported[0]["orderbook_units"]) == 5
    assert all(unit["ask_price"] % 100000 == 0 for unit in supported[0]["orderbook_units"])


# -- trades/ticks ----------------------------------------------------------------------------------


@pytest.fixture
def traded(make_server, connect):
    """A server whose KRW-BTC tape has run for at least 60 trades, and its listening session."""
    server = make_server(message_rate=200.0)
    server.rest_limits["trade"] = (1000, 1.0)  # paging takes more calls than Upbit allows in a second
    session = connect(server.public_url)
    session.subscribe({"type": "trade", "codes": ["KRW-BTC"]})
    assert server.wait_for(lambda: len(server.trades("KRW-BTC")) >= 60)
    return server


def test_ticks_page_newest_first_with_count_and_cursor_without_overlap(traded, rest):
    client = rest(traded)
    pages = [client.get("/v1/trades/ticks", {"market": "KRW-BTC", "count": 7}).json()]
    while len(pages[-1]) == 7 and len(pages) < 100:
        cursor = pages[-1][-1]["sequential_id"]
        pages.append(client.get("/v1/trades/ticks", {"market": "KRW-BTC", "count": 7,
                                                      "cursor": cursor}).json())

    ids = [t["sequential_id"] for page in pages for t in page]
    top = ids[0]
    assert ids == sorted(ids, reverse=True) and len(ids) == len(set(ids))
    assert ids == [t["sequential_id"] for t in traded.trades("KRW-BTC") if t["sequential_id"] <= top]
    assert len(ids) >= 60


def test_a_tick_has_upbits_fields(traded, rest):
    tick = rest(traded).get("/v1/trades/ticks", {"market": "KRW-BTC"}).json()

    assert len(tick) == 1  # count defaults to 1
    item = tick[0]
    assert set(item) == {"market", "trade_date_utc", "trade_time_utc", "timestamp", "trade_price",
                         "trade_volume", "prev_closing_price", "change_price", "ask_bid",
                         "sequential_id"}
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", item["trade_date_utc"])
    assert re.fullmatch(r"\d{2}:\d{2}:\d{2}", item["trade_time_utc"])
    assert item["change_price"] == pytest.approx(item["trade_price"] - item["prev_closing_price"])
    assert item["ask_bid"] in ("ASK", "BID")


@pytest.mark.parametrize(("params", "status"), [
    ({"count": 500}, 200), ({"count": 501}, 400), ({"count": 0}, 400), ({"count": "x"}, 400),
    ({"days_ago": 8}, 400), ({"days_ago": 0}, 400), ({"days_ago": 7}, 200), ({"to": "25:00:00"}, 400),
    ({"to": "noon"}, 400), ({"cursor": "abc"}, 400), ({}, 200),
])
def test_ticks_parameters_are_checked(traded, rest, params, status):
    response = rest(traded).get("/v1/trades/ticks", {"market": "KRW-BTC", **params})

    assert response.status_code == status
    if status == 400:
        assert error_of(response)[0] == 400


def test_ticks_days_ago_serves_an_earlier_utc_day(traded, rest):
    ticks = rest(traded).get("/v1/trades/ticks", {"market": "KRW-BTC", "days_ago": 1, "count": 500}).json()

    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert all(t["trade_date_utc"] < today for t in ticks)  # the fake traded only since it started


@pytest.mark.parametrize("spelling", ["%H%M%S", "%H:%M:%S"])
def test_ticks_to_gives_the_trades_at_or_before_a_time_of_day(traded, rest, spelling):
    history = traded.trades("KRW-BTC")
    middle = history[len(history) // 2]
    to = time.strftime(spelling, time.gmtime(middle["timestamp"] // 1000))

    ticks = rest(traded).get("/v1/trades/ticks", {"market": "KRW-BTC", "count": 500, "to": to}).json()

    assert middle["sequential_id"] in [t["sequential_id"] for t in ticks]
    assert all(t["trade_time_utc"] <= middle["trade_time_utc"] for t in ticks)
    assert ticks[0]["timestamp"] // 1000 == middle["timestamp"] // 1000


# -- JWT and the query hash ------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["HS256", "HS512"])
def test_accounts_with_a_valid_token(server, rest, algorithm):
    response = rest(server).get("/v1/accounts", signed=True, algorithm=algorithm)

    assert response.status_code == 200
    accounts = response.json()
    assert accounts == server.accounts
    assert accounts[0] == {"currency": "KRW", "balance": "10000000.0", "locked": "0.0",
                           "avg_buy_price": "0", "avg_buy_price_modified": False, "unit_currency": "KRW"}
    assert all(Decimal(a["balance"]) >= 0 and isinstance(a["locked"], str) for a in accounts)


def test_accounts_can_be_set(server, rest):
    server.accounts = [{"currency": "KRW", "balance": "5.5", "locked": "0.0", "avg_buy_price": "0",
                        "avg_buy_price_modified": False, "unit_currency": "KRW"}]

    assert rest(server).get("/v1/accounts", signed=True).json() == server.accounts


@pytest.mark.parametrize(("case", "options"), [
    ("no token", {}),
    ("bad secret", {"token": make_token(secret_key="x" * 40)}),
    ("unknown key", {"token": make_token(access_key="nobody")}),
    ("wrong algorithm", {"token": make_token(algorithm="HS384")}),
    ("not a jwt", {"token": "not-a-jwt"}),
])
def test_accounts_without_a_valid_token_are_401_jwt_verification(server, rest, case, options):
    response = rest(server).get("/v1/accounts", **options)

    assert response.status_code == 401
    assert error_of(response)[0] == "jwt_verification"
    assert remaining(response)["group"] == "default"


def test_a_reused_nonce_is_401_nonce_used(server, rest):
    client = rest(server)
    token = make_token(nonce="the-same-nonce")

    first = client.get("/v1/accounts", token=token)
    again = client.get("/v1/accounts", token=token)

    assert first.status_code == 200
    assert (again.status_code, error_of(again)[0]) == (401, "nonce_used")


def test_nonces_are_shared_with_the_private_websocket(server, rest, connect, auth):
    connect(server.private_url, header=auth(nonce="used-on-the-socket"))
    assert server.wait_for(lambda: server.open_connections() != [])

    response = rest(server).get("/v1/accounts", token=make_token(nonce="used-on-the-socket"))

    assert (response.status_code, error_of(response)[0]) == (401, "nonce_used")


OPEN = {"market": "KRW-BTC", "states[]": ["wait", "watch"]}


def test_the_query_hash_of_a_get_with_arrays_is_checked(server, rest):
    client = rest(server)
    expected = hashlib.sha512(b"market=KRW-BTC&states[]=wait&states[]=watch").hexdigest()
    assert query_hash(OPEN) == expected  # the SDK hashes what the fake checks

    right = client.get("/v1/orders/open", OPEN, signed=True)
    wrong = client.get("/v1/orders/open", OPEN, signed=True, query_hash=query_hash({"market": "KRW-ETH"}))
    missing = client.get("/v1/orders/open", OPEN, token=make_token())
    bad_alg = client.get("/v1/orders/open", OPEN, signed=True, query_hash_alg="SHA256")

    assert "states%5B%5D=wait" in right.url  # sent URL-encoded, hashed decoded
    assert (right.status_code, right.json()) == (200, [])
    for refused in (wrong, missing, bad_alg):
        assert (refused.status_code, error_of(refused)[0]) == (401, "invalid_query_payload")


def test_the_query_hash_of_a_post_body_is_checked_and_the_order_is_kept_open(server, rest):
    client = rest(server)

    wrong = client.call("POST", "/v1/orders", body=ORDER, signed=True,
                        query_hash=query_hash(dict(ORDER, volume="1")))
    placed = client.call("POST", "/v1/orders", body=ORDER, signed=True)
    listed = client.get("/v1/orders/open", OPEN, signed=True).json()

    assert (wrong.status_code, error_of(wrong)[0]) == (401, "invalid_query_payload")
    assert placed.status_code == 201
    order = placed.json()
    assert {k: order[k] for k in ORDER} == ORDER
    assert order["state"] == "wait" and re.fullmatch(r"[0-9a-f-]{36}", order["uuid"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+09:00", order["created_at"])
    assert [o["uuid"] for o in listed] == [order["uuid"]]
    assert server.orders == [dict(order, identifier=None)]  # a REST order shows no null identifier


def test_a_body_hash_covers_every_pair_in_body_order(server, rest):
    body = {"market": "KRW-BTC", "side": "ask", "volume": 0.005, "ord_type": "market",
            "identifier": "my order 1"}
    text = "market=KRW-BTC&side=ask&volume=0.005&ord_type=market&identifier=my+order+1"
    assert query_hash(body) == hashlib.sha512(text.encode()).hexdigest()

    placed = rest(server).call("POST", "/v1/orders", body=body, signed=True)

    assert placed.status_code == 201
    assert placed.json()["identifier"] == "my order 1" and placed.json()["volume"] == "0.005"


def test_a_cancelled_order_leaves_the_open_orders_and_an_unknown_one_is_404(server, rest):
    client = rest(server)
    order = client.call("POST", "/v1/orders", body=ORDER, signed=True).json()

    cancelled = client.call("DELETE", "/v1/order", {"uuid": order["uuid"]}, signed=True)
    again = client.call("DELETE", "/v1/order", {"uuid": order["uuid"]}, signed=True)
    unknown = client.call("DELETE", "/v1/order", {"uuid": "00000000-0000-0000-0000-000000000000"},
                          signed=True)
    fetched = client.get("/v1/order", {"uuid": order["uuid"]}, signed=True)

    assert cancelled.status_code == 200
    # the order as the cancel found it; cancelled right after (docs/trading.md)
    assert cancelled.json()["state"] == "wait" and cancelled.json()["uuid"] == order["uuid"]
    assert client.get("/v1/orders/open", OPEN, signed=True).json() == []
    for refused in (again, unknown):
        assert (refused.status_code, error_of(refused)[0]) == (404, "order_not_found")
    assert fetched.json()["state"] == "cancel"


def test_open_orders_belong_to_their_access_key(make_server, rest):
    server = make_server(keys=OTHER_KEYS)
    client = rest(server)
    client.call("POST", "/v1/orders", body=ORDER, signed=True)

    theirs = client.get("/v1/orders/open", OPEN, signed=True, access_key="otherAccessKey",
                        secret_key=OTHER_KEYS["otherAccessKey"])

    assert (theirs.status_code, theirs.json()) == (200, [])


@pytest.mark.parametrize("body", [
    {"market": "KRW-BTC", "side": "buy", "volume": "1", "price": "1", "ord_type": "limit"},
    {"market": "KRW-BTC", "side": "bid", "volume": "1", "ord_type": "limit"},
    {"market": "KRW-NOPE", "side": "bid", "volume": "1", "price": "1", "ord_type": "limit"},
    {"market": "KRW-BTC", "side": "bid", "volume": "-1", "price": "1", "ord_type": "limit"},
    {"market": "KRW-BTC", "side": "bid", "price": "1", "ord_type": "stop"},
])
def test_a_bad_order_is_400_validation_error(server, rest, body):
    response = rest(server).call("POST", "/v1/orders", body=body, signed=True)

    assert (response.status_code, error_of(response)[0]) == (400, "validation_error")
    assert server.orders == []


def test_a_test_order_is_not_kept_and_cancel_all_cancels_the_open_ones(server, rest):
    client = rest(server)
    tested = client.call("POST", "/v1/orders/test", body=ORDER, signed=True)
    below_the_market = (("KRW-BTC", "100000000"), ("KRW-ETH", "5000000"))
    placed = [client.call("POST", "/v1/orders", body=dict(ORDER, market=code, price=price),
                          signed=True).json() for code, price in below_the_market]

    result = client.call("DELETE", "/v1/orders/open", {"pairs": "KRW-ETH"}, signed=True).json()

    assert tested.status_code == 201 and tested.json()["uuid"] not in [o["uuid"] for o in server.orders]
    assert result == {"success": {"count": 1, "orders": [{"uuid": placed[1]["uuid"], "market": "KRW-ETH"}]},
                      "failed": {"count": 0, "orders": []}}
    assert [o["state"] for o in server.orders] == ["wait", "cancel"]


# -- rate limits -----------------------------------------------------------------------------------


def test_every_answer_carries_remaining_req_and_sec_counts_down(server, rest):
    server.rest_limits["market"] = (5, 60.0)  # a long window: nothing expires during the test
    client = rest(server)

    answers = [client.get("/v1/market/all") for _ in range(6)]

    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert [remaining(a)["sec"] for a in answers] == ["4", "3", "2", "1", "0", "0"]
    assert all(remaining(a)["group"] == "market" and remaining(a)["min"].isdigit() for a in answers)


@pytest.mark.parametrize(("path", "params", "group"), [
    ("/v1/market/all", None, "market"), ("/v1/ticker", {"markets": "KRW-BTC"}, "ticker"),
    ("/v1/trades/ticks", {"market": "KRW-BTC"}, "trade"),
    ("/v1/orderbook/instruments", {"markets": "KRW-BTC"}, "orderbook"),
    ("/v1/ticker", {"markets": "KRW-NOPE"}, "ticker"), ("/v1/accounts", None, "default"),
])
def test_each_endpoint_counts_in_its_group(server, rest, path, params, group):
    response = rest(server).get(path, params, signed=group == "default")

    limit = server.rest_limits[group][0]
    assert remaining(response) == {"group": group, "min": str(limit * 60), "sec": str(limit - 1)}


def test_groups_are_counted_separately_and_exchange_groups_per_access_key(make_server, rest):
    server = make_server(keys=OTHER_KEYS)
    server.rest_limits.update({"market": (1, 60.0), "default": (1, 60.0)})
    client = rest(server)

    assert client.get("/v1/market/all").status_code == 200
    assert client.get("/v1/market/all").status_code == 429
    assert client.get("/v1/ticker", {"markets": "KRW-BTC"}).status_code == 200
    assert client.get("/v1/accounts", signed=True).status_code == 200
    assert client.get("/v1/accounts", signed=True).status_code == 429
    other = client.get("/v1/accounts", signed=True, access_key="otherAccessKey",
                       secret_key=OTHER_KEYS["otherAccessKey"])
    assert other.status_code == 200


def test_the_window_slides(server, rest):
    server.rest_limits["trade"] = (2, 0.3)
    client = rest(server)
    assert [client.get("/v1/trades/ticks", {"market": "KRW-BTC"}).status_code
            for _ in range(3)] == [200, 200, 429]

    first = server.rest_requests[0].time

    assert server.wait_for(lambda: time.monotonic() - first > 0.35, timeout=3)
    assert client.get("/v1/trades/ticks", {"market": "KRW-BTC"}).status_code == 200


def test_over_the_limit_is_429_too_many_requests(server, rest):
    server.rest_limits["ticker"] = (1, 60.0)
    client = rest(server)
    client.get("/v1/ticker", {"markets": "KRW-BTC"})

    response = client.get("/v1/ticker", {"markets": "KRW-BTC"})

    assert response.status_code == 429
    assert response.json() == {"error": {"name": "too_many_requests", "message": "Too many API requests."}}


def test_repeated_429s_bring_a_418_block_that_ends_and_grows(make_server, rest):
    server = make_server(teapot_seconds=1.0)
    server.rest_limits["market"] = (1, 60.0)
    client = rest(server)
    assert client.get("/v1/market/all").status_code == 200

    statuses = [client.get("/v1/market/all").status_code for _ in range(3)]
    blocked = client.get("/v1/market/all")

    assert statuses == [429, 429, 429]
    assert blocked.status_code == 418
    name, message = error_of(blocked)
    assert name == "too_many_requests" and re.search(r"blocked for (1|0\.\d) seconds", message)
    assert blocked.headers["Retry-After"] == "1" and remaining(blocked)["sec"] == "0"
    assert server.wait_for(lambda: client.get("/v1/market/all").status_code == 429, timeout=3)

    [client.get("/v1/market/all") for _ in range(2)]  # three 429s again: a second, longer block
    second = client.get("/v1/market/all")
    assert second.status_code == 418 and re.search(r"blocked for (2|1\.\d) seconds", error_of(second)[1])


def test_the_418_retry_after_header_can_be_switched_off(make_server, rest):
    server = make_server(teapot_after=1, teapot_retry_after=False)
    server.rest_limits["market"] = (1, 60.0)
    client = rest(server)
    [client.get("/v1/market/all") for _ in range(2)]

    blocked = client.get("/v1/market/all")

    assert blocked.status_code == 418 and "Retry-After" not in blocked.headers
    assert "blocked for 5 seconds" in error_of(blocked)[1]


def test_teapot_after_none_never_blocks(make_server, rest):
    server = make_server(teapot_after=None)
    server.rest_limits["market"] = (1, 60.0)
    client = rest(server)

    statuses = {client.get("/v1/market/all").status_code for _ in range(8)}

    assert statuses == {200, 429}


def test_the_remaining_req_header_name_can_be_lowercase(make_server):
    server = make_server(remaining_req_header="remaining-req")
    connection = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=5)
    try:
        connection.request("GET", "/v1/market/all")
        response = connection.getresponse()
        response.read()
        names = [name for name, _ in response.getheaders()]
    finally:
        connection.close()

    assert "remaining-req" in names and "Remaining-Req" not in names


def test_a_request_carrying_origin_is_held_to_one_per_window_with_the_websocket(server, rest):
    client = rest(server)

    first = client.get("/v1/market/all", headers={"Origin": "https://example.com"})
    second = client.get("/v1/ticker", {"markets": "KRW-BTC"}, headers={"Origin": "https://example.com"})
    plain = client.get("/v1/ticker", {"markets": "KRW-BTC"})
    with pytest.raises(websocket.WebSocketBadStatusException) as upgrade:
        websocket.create_connection(server.public_url, timeout=3)  # websocket-client sends Origin

    assert (first.status_code, second.status_code, plain.status_code) == (200, 429, 200)
    assert upgrade.value.status_code == 429
    assert "Origin" not in first.headers and "Access-Control-Allow-Origin" not in first.headers


# -- fault control and introspection ---------------------------------------------------------------


def test_refuse_rest_next_answers_the_next_requests_of_any_group(server, rest):
    client = rest(server)
    server.refuse_rest_next(2, status=500)

    answers = [client.get("/v1/market/all"), client.get("/v1/accounts", signed=True),
               client.get("/v1/market/all")]

    assert [a.status_code for a in answers] == [500, 500, 200]
    assert error_of(answers[0]) == (500, "Internal Server Error")
    assert error_of(answers[1]) == ("internal_server_error", "Internal Server Error")
    assert all("Remaining-Req" in a.headers for a in answers)


def test_clear_refusals_ends_the_rest_refusals_too(server, rest):
    client = rest(server)
    server.refuse_rest_next(1000, status=500)
    assert client.get("/v1/market/all").status_code == 500

    assert server.clear_refusals() == 999
    assert client.get("/v1/market/all").status_code == 200


def test_refuse_rest_next_of_one_group_leaves_the_others_alone(server, rest):
    client = rest(server)
    server.refuse_rest_next(1, status=429, group="trade")

    other = client.get("/v1/market/all")
    refused = client.get("/v1/trades/ticks", {"market": "KRW-BTC"})
    after = client.get("/v1/trades/ticks", {"market": "KRW-BTC"})

    assert (other.status_code, refused.status_code, after.status_code) == (200, 429, 200)
    assert error_of(refused) == ("too_many_requests", "Too many API requests.")


def test_refuse_rest_next_with_418_says_how_long(make_server, rest):
    server = make_server(teapot_seconds=2.0)
    server.refuse_rest_next(1, status=418)

    response = rest(server).get("/v1/market/all")

    assert response.status_code == 418 and response.headers["Retry-After"] == "2"
    assert "blocked for 2 seconds" in error_of(response)[1]


def test_rest_requests_records_every_request_without_the_token_in_its_repr(server, rest):
    client = rest(server)
    client.get("/v1/orders/open", OPEN, signed=True)
    client.call("POST", "/v1/orders", body=ORDER, signed=True)
    client.get("/v1/ticker", {"markets": "KRW-NOPE"})

    first, second, third = server.rest_requests

    assert (first.method, first.path, first.group, first.status) == ("GET", "/v1/orders/open", "default", 200)
    assert first.query == {"market": "KRW-BTC", "states[]": ["wait", "watch"]}
    assert first.access_key == TEST_ACCESS_KEY and first.header("authorization").startswith("Bearer ")
    assert (second.method, second.body, second.group, second.status) == ("POST", ORDER, "order", 201)
    assert (third.query, third.group, third.status) == ({"markets": "KRW-NOPE"}, "ticker", 404)
    assert first.time <= second.time <= third.time
    assert "Bearer" not in repr(first) and "eyJ" not in repr(first)


# -- threads ---------------------------------------------------------------------------------------


def test_rest_threads_are_named_and_joined_at_stop_even_with_a_kept_alive_connection(make_server, rest):
    server = make_server()
    client = rest(server)
    assert client.get("/v1/market/all").status_code == 200  # the connection stays open (keep-alive)
    names = [t.name for t in threading.enumerate() if t.name.startswith("upbit-fake-rest-")]
    assert "upbit-fake-rest-accept" in names and "upbit-fake-rest-1" in names
    assert all(t.daemon for t in threading.enumerate() if t.name.startswith("upbit-fake-rest-"))

    started = time.monotonic()
    server.stop()

    assert time.monotonic() - started < 2.0
    assert fake_threads() == []
    with pytest.raises(requests.ConnectionError):
        client.get("/v1/market/all")


def test_many_clients_at_once_are_all_answered(make_server, rest):
    server = make_server()
    server.rest_limits["market"] = (1000, 1.0)
    results: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        client = rest(server)
        status = client.get("/v1/market/all").status_code
        with lock:
            results.append(status)

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)

    assert results == [200] * 12
    assert len(server.rest_requests) == 12
