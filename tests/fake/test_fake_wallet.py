"""The fake exchange's wallet endpoints (docs/trading.md): withdrawals only to allow-listed
addresses, moving the balance out and kept for tests to inspect; deposits, addresses, chances, the
wallets' status, API keys and the travel rule's exchanges, with every money figure a decimal string."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from upbit_sync.testing import TEST_ACCESS_KEY

ADDRESS = {"currency": "BTC", "net_type": "BTC", "network_name": "Bitcoin",
           "withdraw_address": "bc1qfakeaddress", "secondary_address": None}
WITHDRAW = {"currency": "BTC", "net_type": "BTC", "amount": "0.004", "address": "bc1qfakeaddress"}


@pytest.fixture
def client(server, rest):
    return rest(server)


def balance(server: Any, currency: str) -> Decimal:
    return Decimal(next(r for r in server.account() if r["currency"] == currency)["balance"])


def test_a_withdrawal_to_an_address_not_allow_listed_is_refused_and_moves_nothing(server, client):
    response = client.call("POST", "/v1/withdraws/coin", body=WITHDRAW, signed=True)

    assert response.status_code == 400
    assert response.json()["error"]["name"] == "withdraw_address_not_registered"
    assert server.withdrawals == []
    assert balance(server, "BTC") == Decimal("0.01")


def test_a_withdrawal_to_an_allow_listed_address_moves_the_balance_out_and_is_kept(server, client):
    server.withdraw_addresses = [ADDRESS]

    response = client.call("POST", "/v1/withdraws/coin", body=WITHDRAW, signed=True)

    assert response.status_code == 201
    made = response.json()
    assert (made["type"], made["state"]) == ("withdraw", "WAITING")
    assert (made["amount"], made["fee"]) == ("0.004", "0.0005")
    assert made["is_cancelable"] is True and "access_key" not in made
    assert balance(server, "BTC") == Decimal("0.0055")
    (kept,) = server.withdrawals
    assert kept["uuid"] == made["uuid"] and kept["access_key"] == TEST_ACCESS_KEY
    listed = client.get("/v1/withdraws", {"currency": "BTC"}, signed=True).json()
    one = client.get("/v1/withdraw", {"uuid": made["uuid"]}, signed=True).json()
    assert [w["uuid"] for w in listed] == [made["uuid"]] and one == made


def test_a_withdrawal_larger_than_the_balance_is_refused(server, client):
    server.withdraw_addresses = [ADDRESS]

    response = client.call("POST", "/v1/withdraws/coin", body=dict(WITHDRAW, amount="0.01"), signed=True)

    assert response.status_code == 400 and server.withdrawals == []


def test_a_cancelled_withdrawal_gives_the_balance_back(server, client):
    server.withdraw_addresses = [ADDRESS]
    made = client.call("POST", "/v1/withdraws/coin", body=WITHDRAW, signed=True).json()

    cancelled = client.call("DELETE", "/v1/withdraws/coin", {"uuid": made["uuid"]}, signed=True)
    unknown = client.call("DELETE", "/v1/withdraws/coin", {"uuid": "nope"}, signed=True)

    assert cancelled.json()["state"] == "CANCELLED" and cancelled.json()["is_cancelable"] is False
    assert balance(server, "BTC") == Decimal("0.01")
    assert (unknown.status_code, unknown.json()["error"]["name"]) == (404, "withdraw_not_found")


def test_krw_moves_in_and_out_through_the_bank(server, client):
    deposit = client.call("POST", "/v1/deposits/krw", body={"amount": "50000", "two_factor_type": "kakao"},
                          signed=True)
    withdrawal = client.call("POST", "/v1/withdraws/krw",
                             body={"amount": "20000", "two_factor_type": "naver"}, signed=True)

    assert deposit.status_code == 201 and deposit.json()["state"] == "ACCEPTED"
    assert withdrawal.status_code == 201 and withdrawal.json()["fee"] == "1000"
    assert balance(server, "KRW") == Decimal(10_000_000 + 50_000 - 20_000 - 1000)
    assert [d["uuid"] for d in client.get("/v1/deposits", signed=True).json()] == [deposit.json()["uuid"]]
    one = client.get("/v1/deposit", {"uuid": deposit.json()["uuid"]}, signed=True).json()
    assert one["amount"] == "50000"
    assert [w["currency"] for w in server.withdrawals] == ["KRW"]


def test_an_unknown_deposit_is_404(server, client):
    response = client.get("/v1/deposit", {"uuid": "nope"}, signed=True)
    assert (response.status_code, response.json()["error"]["name"]) == (404, "deposit_not_found")


def test_a_deposit_address_is_accepted_first_and_ready_after(server, client):
    asked = {"currency": "BTC", "net_type": "BTC"}
    first = client.call("POST", "/v1/deposits/generate_coin_address", body=asked, signed=True)
    second = client.call("POST", "/v1/deposits/generate_coin_address", body=asked, signed=True)

    assert first.status_code == 201 and first.json()["success"] is True
    assert second.status_code == 200 and second.json()["deposit_address"]
    one = client.get("/v1/deposits/coin_address", asked, signed=True).json()
    assert one == second.json()
    assert client.get("/v1/deposits/coin_addresses", signed=True).json() == [one]


def test_the_chances_describe_the_currency(server, client):
    asked = {"currency": "BTC", "net_type": "BTC"}
    deposit = client.get("/v1/deposits/chance/coin", asked, signed=True).json()
    withdraw = client.get("/v1/withdraws/chance", asked, signed=True).json()
    missing = client.get("/v1/withdraws/chance", {"currency": "BTC"}, signed=True)

    assert deposit["is_deposit_possible"] is True and isinstance(deposit["minimum_deposit_amount"], str)
    assert withdraw["currency"]["withdraw_fee"] == "0.0005" and withdraw["account"]["balance"] == "0.01"
    assert withdraw["withdraw_limit"]["can_withdraw"] is True
    assert missing.status_code == 400


def test_status_keys_addresses_and_exchanges(server, client):
    server.withdraw_addresses = [ADDRESS]

    status = client.get("/v1/status/wallet", signed=True).json()
    keys = client.get("/v1/api_keys", signed=True).json()
    allowed = client.get("/v1/withdraws/coin_addresses", signed=True).json()
    vasps = client.get("/v1/travel_rule/vasps", signed=True).json()

    assert {"currency", "net_type", "wallet_state", "block_state"} <= set(status[0])
    assert [k["access_key"] for k in keys] == [TEST_ACCESS_KEY] and keys[0]["expire_at"].endswith("+09:00")
    assert allowed == [ADDRESS]
    assert {"vasp_name", "vasp_uuid", "depositable", "withdrawable"} == set(vasps[0])


def test_wallet_calls_are_signed(server, rest):
    response = rest(server).get("/v1/withdraws")
    assert (response.status_code, response.json()["error"]["name"]) == (401, "jwt_verification")
