"""make_spec: a bad subscription raises SubscriptionError naming the bad part, before any I/O."""

from __future__ import annotations

import re
from typing import Any

import pytest

from upbit_sync import SubscriptionError, UpbitError
from upbit_sync.formats import CANDLE_TYPES
from upbit_sync.protocol import ALL_TYPES, PUBLIC_TYPES, StreamSpec, make_spec

# ---- rejected, with the bad part named ------------------------------------------------------------


def test_unknown_type_is_rejected_by_name() -> None:
    with pytest.raises(SubscriptionError, match="tickr"):
        make_spec("tickr", ["KRW-BTC"])


def test_subscription_error_is_an_upbit_error() -> None:
    with pytest.raises(UpbitError):
        make_spec("tickr", ["KRW-BTC"])


def test_candle_type_without_its_unit_is_rejected() -> None:
    with pytest.raises(SubscriptionError, match="candle"):
        make_spec("candle", ["KRW-BTC"])


def test_candle_type_with_an_unsupported_unit_is_rejected() -> None:
    with pytest.raises(SubscriptionError, match=r"candle\.2m"):
        make_spec("candle.2m", ["KRW-BTC"])


@pytest.mark.parametrize("bad_type", [123, None, b"ticker", ["ticker"]], ids=repr)
def test_non_string_type_is_rejected(bad_type: Any) -> None:
    with pytest.raises(SubscriptionError, match=f"type {re.escape(repr(bad_type))}"):
        make_spec(bad_type, ["KRW-BTC"])


@pytest.mark.parametrize("code", ["krw-btc", "Krw-Btc", "KRW-btc"])
def test_lowercase_code_is_rejected_suggesting_the_uppercase(code: str) -> None:
    with pytest.raises(SubscriptionError, match=re.escape(f"{code!r} must be uppercase: '{code.upper()}'")):
        make_spec("ticker", [code])


@pytest.mark.parametrize("code", ["KRWBTC", "KRW_BTC", "", "KRW-", "-BTC", "KRW-BTC-ETH",
                                  " KRW-BTC", "KRW-BTC "])
def test_malformed_code_is_rejected_by_name(code: str) -> None:
    with pytest.raises(SubscriptionError, match=re.escape(f"malformed market code {code!r}")):
        make_spec("ticker", [code])


@pytest.mark.parametrize("code", [123, None, b"KRW-BTC"], ids=repr)
def test_non_string_code_is_rejected_by_value(code: Any) -> None:
    with pytest.raises(SubscriptionError, match=re.escape(f"must be a string, not {code!r}")):
        make_spec("ticker", [code])


@pytest.mark.parametrize("codes", [123, 1.5, True], ids=repr)
def test_codes_that_are_not_a_list_are_rejected(codes: Any) -> None:
    with pytest.raises(SubscriptionError, match="codes"):
        make_spec("ticker", codes)


@pytest.mark.parametrize("code", ["KRW-BTC.15", "KRW-BTC.5"])
def test_code_with_a_depth_suffix_is_rejected_pointing_at_depth(code: str) -> None:
    with pytest.raises(SubscriptionError, match="depth="):
        make_spec("orderbook", [code])


@pytest.mark.parametrize("depth", [0, 10, 2, 31, -5, True, "5", 5.5], ids=repr)
def test_depth_outside_1_5_15_30_is_rejected(depth: Any) -> None:
    with pytest.raises(SubscriptionError, match=f"depth must be one of .*, not {re.escape(repr(depth))}"):
        make_spec("orderbook", ["KRW-BTC"], depth=depth)


@pytest.mark.parametrize("message_type", [t for t in ALL_TYPES if t != "orderbook"])
def test_depth_on_a_non_orderbook_type_is_rejected(message_type: str) -> None:
    codes = None if message_type in ("myAsset", "announcement") else ["KRW-BTC"]
    with pytest.raises(SubscriptionError, match=f"orderbook only.*{message_type}"):
        make_spec(message_type, codes, depth=15)


@pytest.mark.parametrize("message_type", [t for t in ALL_TYPES if t != "orderbook"])
def test_level_on_a_non_orderbook_type_is_rejected(message_type: str) -> None:
    codes = None if message_type in ("myAsset", "announcement") else ["KRW-BTC"]
    with pytest.raises(SubscriptionError, match=f"orderbook only.*{message_type}"):
        make_spec(message_type, codes, level=0)


@pytest.mark.parametrize("level", [-1, -0.5, "10000", True, [0], {}], ids=repr)
def test_level_that_is_negative_or_not_a_number_is_rejected(level: Any) -> None:
    with pytest.raises(SubscriptionError, match="level must be a number >= 0"):
        make_spec("orderbook", ["KRW-BTC"], level=level)


@pytest.mark.parametrize("level", [float("nan"), float("inf")], ids=repr)
def test_level_that_is_not_finite_is_rejected(level: float) -> None:
    # json.dumps would put NaN/Infinity on the wire, which is not JSON.
    with pytest.raises(SubscriptionError, match="level"):
        make_spec("orderbook", ["KRW-BTC"], level=level)


def test_nonzero_level_on_a_non_krw_market_is_rejected_naming_the_market() -> None:
    with pytest.raises(SubscriptionError, match=r"KRW markets only.*BTC-ETH"):
        make_spec("orderbook", ["KRW-BTC", "BTC-ETH"], level=10000)


def test_codes_on_my_asset_are_rejected() -> None:
    with pytest.raises(SubscriptionError, match="myAsset takes no codes"):
        make_spec("myAsset", ["KRW-BTC"])


@pytest.mark.parametrize("message_type", PUBLIC_TYPES)
@pytest.mark.parametrize("codes", [None, [], ()], ids=repr)
def test_public_type_without_codes_is_rejected(message_type: str, codes: Any) -> None:
    with pytest.raises(SubscriptionError, match=f"{message_type!r} needs at least one"):
        make_spec(message_type, codes)


def test_only_snapshot_and_only_realtime_together_are_rejected() -> None:
    with pytest.raises(SubscriptionError, match="is_only_snapshot and is_only_realtime"):
        make_spec("ticker", ["KRW-BTC"], is_only_snapshot=True, is_only_realtime=True)


@pytest.mark.parametrize("flag", ["is_only_snapshot", "is_only_realtime"])
@pytest.mark.parametrize("value", [1, 0, "yes", None], ids=repr)
def test_non_bool_flag_is_rejected_by_name(flag: str, value: Any) -> None:
    with pytest.raises(SubscriptionError, match=f"{flag} must be True or False"):
        make_spec("ticker", ["KRW-BTC"], **{flag: value})


# ---- accepted and normalised -----------------------------------------------------------------------


def test_single_string_code_is_one_code() -> None:
    assert make_spec("ticker", "KRW-BTC").codes == ("KRW-BTC",)


def test_duplicate_codes_are_removed_keeping_first_order() -> None:
    spec = make_spec("ticker", ["KRW-ETH", "KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-BTC"])
    assert spec.codes == ("KRW-ETH", "KRW-BTC", "KRW-XRP")


def test_codes_may_be_any_iterable() -> None:
    assert make_spec("trade", iter(["KRW-BTC", "KRW-ETH"])).codes == ("KRW-BTC", "KRW-ETH")


@pytest.mark.parametrize("codes", [None, []], ids=repr)
def test_my_order_without_codes_means_every_market(codes: Any) -> None:
    assert make_spec("myOrder", codes).codes == ()


def test_my_order_with_codes_keeps_them() -> None:
    assert make_spec("myOrder", ["KRW-BTC"]).codes == ("KRW-BTC",)


@pytest.mark.parametrize("codes", [None, []], ids=repr)
def test_my_asset_without_codes_is_accepted(codes: Any) -> None:
    assert make_spec("myAsset", codes) == StreamSpec("myAsset")


@pytest.mark.parametrize("code", ["KRW-1INCH", "USDT-BTC", "BTC-ETH", "KRW-BTC"])
def test_real_market_codes_are_accepted(code: str) -> None:
    assert make_spec("ticker", [code]).codes == (code,)


@pytest.mark.parametrize("candle_type", CANDLE_TYPES)
def test_every_candle_unit_is_accepted(candle_type: str) -> None:
    assert make_spec(candle_type, ["KRW-BTC"]).type == candle_type


@pytest.mark.parametrize("depth", [1, 5, 15, 30])
def test_supported_depth_is_kept(depth: int) -> None:
    assert make_spec("orderbook", ["KRW-BTC"], depth=depth).depth == depth


def test_level_zero_on_a_non_krw_market_is_accepted() -> None:
    assert make_spec("orderbook", ["BTC-ETH"], level=0).level == 0


def test_nonzero_level_on_a_krw_market_is_accepted() -> None:
    assert make_spec("orderbook", ["KRW-BTC"], level=10000).level == 10000


def test_spec_keeps_every_option() -> None:
    spec = make_spec("orderbook", ["KRW-BTC"], depth=15, level=0, is_only_snapshot=True)
    assert spec == StreamSpec("orderbook", ("KRW-BTC",), 15, 0, True, False)


def test_spec_knows_whether_it_is_private() -> None:
    assert make_spec("myOrder").is_private
    assert not make_spec("ticker", "KRW-BTC").is_private
