"""The wallet calls of RestClient against the fake exchange: typed deposits, withdrawals, addresses,
chances, wallet state, keys and travel-rule exchanges; money out refused (nothing sent) unless
``Config(allow_withdrawals=True)``; bad arguments refused before sending."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

import upbit_sync as us
from upbit_sync.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY, FakeUpbitServer

ADDRESS = {"currency": "BTC", "net_type": "BTC", "network_name": "Bitcoin",
           "withdraw_address": "bc1qfakeaddress", "secondary_address": None}


@pytest.fixture
def fake(harness: Any) -> FakeUpbitServer:
    return harness.server()


@pytest.fixture
def make_rest(fake: FakeUpbitServer) -> Iterator[Callable[..., us.RestClient]]:
    made: list[us.RestClient] = []

    def make(**overrides: Any) -> us.RestClient:
        made.append(us.RestClient(us.Config(rest_url=fake.rest_url, access_key=TEST_ACCESS_KEY,
                                            secret_key=TEST_SECRET_KEY, **overrides)))
        return made[-1]

    yield make
    for client in made:
        client.close()


def wallet_calls(fake: FakeUpbitServer) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.rest_requests if "/withdraws" in r.path]


@pytest.mark.parametrize("call", [
    lambda r: r.withdraw_coin("BTC", "BTC", "0.004", "bc1qfakeaddress"),
    lambda r: r.withdraw_krw(10_000, "kakao"),
    lambda r: r.withdraw_coin("btc", "BTC", -1, ""),  # refused for the switch before its arguments
])
def test_money_out_is_refused_before_anything_is_sent_unless_allowed(fake, make_rest, call):
    fake.withdraw_addresses = [ADDRESS]
    rest = make_rest()
    with pytest.raises(us.WithdrawalsDisabledError, match="allow_withdrawals"):
        call(rest)
    assert isinstance(us.WithdrawalsDisabledError("x"), us.UpbitError)
    assert fake.withdrawals == [] and wallet_calls(fake) == []


def test_with_withdrawals_allowed_a_coin_goes_out_typed_and_can_be_cancelled(fake, make_rest):
    fake.withdraw_addresses = [ADDRESS]
    rest = make_rest(allow_withdrawals=True)
    made = rest.withdraw_coin("BTC", "BTC", "0.004", "bc1qfakeaddress")
    assert isinstance(made, us.Withdrawal) and made.state_upper == "WAITING" and made.is_cancelable
    assert (made.currency, made.amount, made.fee) == ("BTC", 0.004, 0.0005)
    (kept,) = fake.withdrawals
    assert kept["uuid"] == made.uuid
    assert [w.uuid for w in rest.withdrawals(currency="BTC")] == [made.uuid]
    assert rest.withdrawal(uuid=made.uuid).uuid == made.uuid
    cancelled = rest.cancel_withdrawal(made.uuid)
    assert cancelled.state == "CANCELLED" and not cancelled.is_cancelable


def test_a_withdrawal_to_an_unlisted_address_is_a_withdrawal_error(fake, make_rest):
    rest = make_rest(allow_withdrawals=True)
    with pytest.raises(us.WithdrawalError) as caught:
        rest.withdraw_coin("BTC", "BTC", "0.004", "bc1qnotlisted")
    assert caught.value.name == "withdraw_address_not_registered" and fake.withdrawals == []


def test_krw_goes_out_only_when_allowed_and_in_through_a_typed_deposit(fake, make_rest):
    rest = make_rest(allow_withdrawals=True)
    deposit = rest.deposit_krw(50_000, "naver")
    assert isinstance(deposit, us.Deposit) and deposit.currency == "KRW" and deposit.net_type is None
    assert [d.uuid for d in rest.deposits(currency="KRW")] == [deposit.uuid]
    assert rest.deposit(uuid=deposit.uuid).amount == 50_000.0
    out = rest.withdraw_krw(10_000, "kakao")
    assert out.currency == "KRW" and len(fake.withdrawals) == 1


def test_addresses_and_chances_are_typed(make_rest, fake):
    fake.withdraw_addresses = [ADDRESS]
    rest = make_rest(decimal=True)
    first = rest.generate_coin_address("BTC", "BTC")
    assert isinstance(first, us.AddressRequest) and first.success and first.address is None
    ready = rest.generate_coin_address("BTC", "BTC")
    assert ready.address is not None and ready.address.deposit_address
    assert [a.deposit_address for a in rest.coin_addresses()] == [ready.address.deposit_address]
    assert rest.coin_address("BTC", "BTC").deposit_address == ready.address.deposit_address
    chance = rest.deposit_chance("BTC", "BTC")
    assert chance.is_deposit_possible and chance.minimum_deposit_amount == Decimal("0.0001")
    out = rest.withdraw_chance("BTC", "BTC")
    assert isinstance(out, us.WithdrawChance) and out.currency.withdraw_fee == Decimal("0.0005")
    assert out.account.balance == Decimal("0.01") and out.withdraw_limit.can_withdraw
    assert out.member_level.two_factor_auth_verified
    (listed,) = rest.withdraw_addresses()
    assert isinstance(listed, us.WithdrawAddress) and listed.withdraw_address == "bc1qfakeaddress"


def test_wallet_state_keys_and_travel_rule_exchanges_are_typed(make_rest):
    rest = make_rest()
    status = rest.wallet_status()
    assert status and all(isinstance(s, us.WalletStatus) for s in status)
    assert {s.currency for s in status} >= {"BTC"} and status[0].block_height is not None
    (key,) = rest.api_keys()
    assert isinstance(key, us.ApiKey) and key.access_key == TEST_ACCESS_KEY and key.expire_at
    assert TEST_SECRET_KEY not in repr(key)
    vasps = rest.travel_rule_vasps()
    assert vasps and isinstance(vasps[0], us.TravelRuleVasp) and vasps[0].vasp_uuid


def test_a_missing_deposit_is_a_not_found_error(make_rest):
    with pytest.raises(us.NotFoundError):
        make_rest().deposit(uuid="00000000-0000-4000-8000-000000000000")


@pytest.mark.parametrize("call, named", [
    (lambda r: r.deposits(state="LOST"), "state"),
    (lambda r: r.deposits(limit=101), "limit"),
    (lambda r: r.deposits(uuids=["a"], txids=["b"]), "uuids or txids"),
    (lambda r: r.deposit(), "uuid or txid"),
    (lambda r: r.coin_address("btc", "BTC"), "currency"),
    (lambda r: r.deposit_krw(0, "kakao"), "amount"),
    (lambda r: r.deposit_krw(1000, "sms"), "two_factor_type"),
    (lambda r: r.withdrawals(order_by="up"), "order_by"),
    (lambda r: r.withdraw_chance(""), "currency"),
    (lambda r: r.withdraw_coin("BTC", "BTC", "0", "addr"), "amount"),
    (lambda r: r.withdraw_coin("BTC", "BTC", "1", "addr", transaction_type="fast"), "transaction_type"),
    (lambda r: r.withdraw_krw(True, "kakao"), "amount"),
])
def test_bad_wallet_arguments_are_refused_before_sending(make_rest, fake, call, named):
    rest = make_rest(allow_withdrawals=True)
    before = len(fake.rest_requests)
    with pytest.raises(us.InvalidRequestError, match=named):
        call(rest)
    assert len(fake.rest_requests) == before
