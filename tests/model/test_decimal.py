"""Config(decimal=True): the private messages' money figures, and the REST accounts', are the exact
``Decimal`` of the number the exchange wrote, on the strict path and the careful one, in SIMPLE and
DEFAULT keys; public messages, and everything with the setting off, stay floats."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
import responses

import upbit_sync as us
from upbit_sync import formats, protocol
from upbit_sync.protocol import FrameReader, to_message, typed_decoder
from upbit_sync.recording import Recorder, json_line
from upbit_sync.rest import RestClient

from .payloads import TICKER_DEFAULT

# Every money field of a myOrder with a number that a float cannot hold as written: a long
# mantissa, 0.1, the same tiny amount written two ways, trailing zeros, an exponent, an integer.
ORDER_FIGURES = {
    "price": "12345678.123456789012",
    "avg_price": "0.1",
    "volume": "1e-8",
    "remaining_volume": "0.00000001",
    "executed_volume": "5.0E-4",
    "reserved_fee": "109.8470",
    "remaining_fee": "0.10",
    "paid_fee": "27.46162513",
    "locked": "164770",
    "executed_funds": "99999999999999999999.99999999999999999999",
    "trade_fee": "1E+3",
    "prevented_volume": "0",
    "prevented_locked": "-0.0",
}
ASSET_FIGURES = [("KRW", "1386929.37231066771348207123", "10329.670127489597585685"),
                 ("BTC", "0.1", "1e-8")]

_ORDER_REST = {"code": '"KRW-BTC"', "uuid": '"ac2dc2a7-fce4-4a0b-b9d1-5bba5ed6e6fd"', "ask_bid": '"BID"',
               "order_type": '"limit"', "state": '"trade"', "trades_count": "1",
               "timestamp": "1787728554853", "stream_type": '"REALTIME"'}


def _object(fields: dict[str, str]) -> str:
    """A JSON object written out from key -> JSON text: the numbers reach the frame as typed here."""
    return "{" + ",".join(f'"{key}":{text}' for key, text in fields.items()) + "}"


def order_frame(simple: bool, **extra: str) -> str:
    fields = {"type": '"myOrder"', **_ORDER_REST, **ORDER_FIGURES, **extra}
    if simple:
        fields = {formats.MY_ORDER.simple[name]: text for name, text in fields.items()}
    return _object(fields)


def asset_frame(simple: bool) -> str:
    keys = formats.ASSET.simple if simple else {n: n for n in ("currency", "balance", "locked")}
    assets = ",".join(_object({keys["currency"]: f'"{currency}"', keys["balance"]: balance,
                               keys["locked"]: locked}) for currency, balance, locked in ASSET_FIGURES)
    fields = {"type": '"myAsset"', "asset_uuid": '"e635f223-1609-4969-8fb6-4376937baad6"',
              "assets": f"[{assets}]", "asset_timestamp": "1710146517259", "timestamp": "1710146517267",
              "stream_type": '"REALTIME"'}
    if simple:
        fields = {formats.MY_ASSET.simple[name]: text for name, text in fields.items()}
    return _object(fields)


def exactly(value: Any, text: str) -> bool:
    """``value`` is the Decimal ``text`` writes: the same sign, digits and exponent (so 0.10 is not
    0.1, and 1e-8 and 0.00000001 are the same number written the same way by Decimal)."""
    return type(value) is Decimal and value.as_tuple() == Decimal(text).as_tuple()


def assert_exact_order(order: Any) -> None:
    assert isinstance(order, us.MyOrder)
    wrong = {name: getattr(order, name) for name, text in ORDER_FIGURES.items()
             if not exactly(getattr(order, name), text)}
    assert not wrong, f"not the exact Decimal of the frame's text: {wrong}"


def assert_exact_assets(message: Any) -> None:
    assert isinstance(message, us.MyAsset)
    got = [(a.currency, a.balance, a.locked) for a in message.assets]
    assert all(isinstance(a, us.Asset) for a in message.assets)
    assert all(exactly(balance, b) and exactly(locked, lk)
               for (_, balance, locked), (_, b, lk) in zip(got, ASSET_FIGURES, strict=True)), got


def careful_items(frame: str, decimal: bool) -> list[dict[str, Any]]:
    """The data objects a private connection's FrameReader hands on (Link: decimal on private)."""
    items: list[dict[str, Any]] = []
    reader = FrameReader(lambda item, size, at: items.append(item) or True, lambda m: None,
                         lambda error, f: pytest.fail(f"bad frame: {error}"), decimal=decimal)
    reader.feed(frame.encode())
    return items


# ---- the strict decoder (SIMPLE frames, Router.feed) ------------------------------------------


def test_the_strict_decoder_gives_each_money_field_of_my_order_as_the_decimal_of_its_text():
    order = typed_decoder("SIMPLE", decimal=True)(order_frame(simple=True).encode())
    assert_exact_order(order)
    assert str(order.price) == "12345678.123456789012"
    assert str(order.avg_price) == "0.1"
    assert order.volume == order.remaining_volume == Decimal("1e-8")


def test_the_strict_decoder_gives_each_asset_s_balance_and_locked_exactly():
    assert_exact_assets(typed_decoder("SIMPLE", decimal=True)(asset_frame(simple=True).encode()))


def test_the_other_fields_keep_their_types_with_decimal_on():
    order = typed_decoder("SIMPLE", decimal=True)(order_frame(simple=True).encode())
    assert (order.trades_count, order.timestamp, order.state) == (1, 1787728554853, us.OrderState.TRADE)
    assert type(order.trades_count) is int and type(order.timestamp) is int


# ---- the careful path (DEFAULT frames, and SIMPLE ones the strict decoder refuses) -------------


@pytest.mark.parametrize("simple", [True, False], ids=["SIMPLE", "DEFAULT"])
def test_the_careful_path_gives_my_order_s_money_fields_exactly(simple):
    (item,) = careful_items(order_frame(simple), decimal=True)
    assert_exact_order(to_message(item, decimal=True))


@pytest.mark.parametrize("simple", [True, False], ids=["SIMPLE", "DEFAULT"])
def test_the_careful_path_gives_my_asset_s_figures_exactly(simple):
    (item,) = careful_items(asset_frame(simple), decimal=True)
    assert_exact_assets(to_message(item, decimal=True))


@pytest.mark.parametrize("change", [
    lambda frame: frame.replace('"ot":"limit"', '"ot":"iceberg"'),
    lambda frame: frame[:-1] + ',"xnew":0.5}',
], ids=["a new enum value", "a new key"])
def test_a_simple_frame_the_strict_decoder_refuses_is_exact_on_the_careful_path(change):
    frame = change(order_frame(simple=True))
    with pytest.raises(protocol.STRICT_ERRORS):
        typed_decoder("SIMPLE", decimal=True)(frame.encode())  # type: ignore[misc]
    (item,) = careful_items(frame, decimal=True)
    assert_exact_order(to_message(item, decimal=True))


@pytest.mark.parametrize("simple", [True, False], ids=["SIMPLE", "DEFAULT"])
def test_protocol_decode_with_decimal_is_exact(simple):
    (order,) = protocol.decode(order_frame(simple), decimal=True)
    (assets,) = protocol.decode(asset_frame(simple), decimal=True)
    assert_exact_order(order)
    assert_exact_assets(assets)


def test_the_strict_and_the_careful_path_make_the_same_message():
    strict = typed_decoder("SIMPLE", decimal=True)(order_frame(simple=True).encode())
    (item,) = careful_items(order_frame(simple=False), decimal=True)
    assert to_message(item, decimal=True) == strict


def test_a_money_figure_that_is_no_number_is_a_decode_error():
    (item,) = careful_items(order_frame(simple=False, price='"a lot"'), decimal=True)
    with pytest.raises(us.DecodeError, match="price"):
        to_message(item, decimal=True)


def test_raw_holds_the_exact_figures():
    strict = typed_decoder("SIMPLE", decimal=True)(order_frame(simple=True).encode())
    (item,) = careful_items(order_frame(simple=False), decimal=True)
    careful = to_message(item, decimal=True)
    for message in (strict, careful):
        assert isinstance(message, us.MyOrder)
        assert exactly(message.raw["price"], ORDER_FIGURES["price"])


# ---- what stays as it was --------------------------------------------------------------------


@pytest.mark.parametrize("simple", [True, False], ids=["SIMPLE", "DEFAULT"])
def test_with_decimal_off_the_money_fields_are_floats_as_before(simple):
    frame = order_frame(simple)
    decoded = [protocol.decode(frame)[0], to_message(careful_items(frame, decimal=False)[0])]
    if simple:
        decoded.append(typed_decoder("SIMPLE")(frame.encode()))  # type: ignore[misc]
    for order in decoded:
        assert isinstance(order, us.MyOrder)
        assert type(order) is us.MyOrder
        for name, text in ORDER_FIGURES.items():
            value = getattr(order, name)
            assert type(value) is float and value == float(text), (name, value)
    (assets,) = protocol.decode(asset_frame(simple))
    assert isinstance(assets, us.MyAsset)
    assert [(type(a.balance), type(a.locked)) for a in assets.assets] == [(float, float)] * 2


def test_public_messages_stay_floats_with_decimal_on():
    ticker_simple = json.dumps(formats.to_simple(json.loads(TICKER_DEFAULT))).encode()
    strict = typed_decoder("SIMPLE", decimal=True)(ticker_simple)
    (careful,) = protocol.decode(TICKER_DEFAULT, decimal=True)
    for ticker in (strict, careful):
        assert type(ticker) is us.Ticker
        assert type(ticker.trade_price) is float and type(ticker.change_rate) is float
    assert {protocol.EXACT_CLASSES[t] is protocol.CLASSES[t] for t in protocol.PUBLIC_TYPES} == {True}


def test_an_exact_message_is_an_instance_of_the_public_class_and_named_for_it():
    order = typed_decoder("SIMPLE", decimal=True)(order_frame(simple=True).encode())
    (assets,) = protocol.decode(asset_frame(simple=False), decimal=True)
    assert isinstance(order, us.MyOrder) and type(order) is not us.MyOrder
    assert isinstance(assets, us.MyAsset)
    assert isinstance(assets.assets[0], us.Asset)
    assert repr(order).startswith("MyOrder(") and "price=Decimal('12345678.123456789012')" in repr(order)
    assert repr(assets.assets[0]).startswith("Asset(")


# ---- written out: recordings and the CLI's NDJSON -------------------------------------------------


def test_a_json_line_writes_a_decimal_digit_for_digit():
    line = {"type": "myOrder", "price": Decimal("12345678.123456789012"), "volume": Decimal("1E-8"),
            "note": "비트코인", "received_at": 1796140800.25}
    assert json_line(line) == ('{"type":"myOrder","price":12345678.123456789012,"volume":1E-8,'
                               '"note":"비트코인","received_at":1796140800.25}')
    assert json.loads(json_line(line), parse_float=Decimal)["price"] == line["price"]


def test_a_json_line_without_decimals_is_what_json_dumps_writes():
    line = json.loads(TICKER_DEFAULT) | {"note": "비트코인", "nan": float("nan")}
    assert json_line(line) == json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def test_a_recorder_keeps_a_private_message_s_decimals(tmp_path):
    recorder = Recorder(tmp_path, ["myOrder"], compress="none").start()
    recorder.message("myOrder", {"type": "myOrder", "price": Decimal("12345678.123456789012")})
    recorder.close()
    (path,) = (tmp_path / "myOrder").glob("*.ndjson")
    (line,) = path.read_text(encoding="utf-8").splitlines()
    assert '"price":12345678.123456789012' in line
    assert recorder.failure is None


# ---- Config ----------------------------------------------------------------------------------


def test_decimal_is_off_by_default():
    assert us.Config().decimal is False


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_a_decimal_that_is_not_a_bool_is_a_config_error_naming_it(value):
    with pytest.raises(us.ConfigError, match="decimal"):
        us.Config(decimal=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "expected"), [("yes", True), ("1", True), ("no", False), ("off", False)])
def test_upbit_decimal_in_the_environment_sets_it(text, expected):
    assert us.Config.from_env({"UPBIT_DECIMAL": text}).decimal is expected


def test_an_upbit_decimal_that_is_no_yes_or_no_is_a_config_error_naming_it():
    with pytest.raises(us.ConfigError, match="decimal"):
        us.Config.from_env({"UPBIT_DECIMAL": "exactly"})


# ---- REST accounts -----------------------------------------------------------------------------

BASE = "https://api.decimal.upbit.test"
ACCOUNTS = [
    {"currency": "KRW", "balance": "1386929.37231066771348207123", "locked": "0.1",
     "avg_buy_price": "0", "avg_buy_price_modified": False, "unit_currency": "KRW"},
    {"currency": "BTC", "balance": "0.00000001", "locked": "12345678.123456789012",
     "avg_buy_price": "114000000.5", "avg_buy_price_modified": True, "unit_currency": "KRW"},
]
KEYS = {"access_key": "decimal-test-access-key-0123456789abcdef",
        "secret_key": "decimal-test-secret-key-0123456789abcdef"}


def _accounts(decimal: bool, body: Any = None) -> list[us.Account]:
    # a host of its own per setting: the process-wide limits are kept per exchange host
    base = f"{BASE.replace('decimal', 'decimal-on' if decimal else 'decimal-off')}"
    answer: dict[str, Any] = {"json": ACCOUNTS} if body is None else {"body": body}
    with responses.RequestsMock() as mock:
        mock.get(f"{base}/v1/accounts", headers={"Remaining-Req": "group=default; min=1800; sec=29"},
                 **answer)
        with RestClient(us.Config(rest_url=base, decimal=decimal, **KEYS)) as rest:
            return rest.accounts()


def test_rest_accounts_with_decimal_on_are_the_decimals_of_upbit_s_strings():
    accounts = _accounts(decimal=True)
    for account, row in zip(accounts, ACCOUNTS, strict=True):
        for name in ("balance", "locked", "avg_buy_price"):
            value = getattr(account, name)
            assert exactly(value, row[name]), (account.currency, name, value)
            assert str(value) == str(Decimal(row[name]))
    assert str(accounts[0].balance) == "1386929.37231066771348207123"


def test_rest_accounts_sent_as_json_numbers_are_read_exactly_too():
    body = ('[{"currency":"BTC","balance":12345678.123456789012,"locked":0.1,"avg_buy_price":1e-8,'
            '"avg_buy_price_modified":false,"unit_currency":"KRW"}]')
    (account,) = _accounts(decimal=True, body=body)
    assert exactly(account.balance, "12345678.123456789012")
    assert exactly(account.locked, "0.1") and exactly(account.avg_buy_price, "1e-8")


def test_rest_accounts_with_decimal_off_are_floats_as_before():
    for account, row in zip(_accounts(decimal=False), ACCOUNTS, strict=True):
        assert (account.balance, account.locked, account.avg_buy_price) == (
            float(row["balance"]), float(row["locked"]), float(row["avg_buy_price"]))
        assert type(account.balance) is float


def test_a_rest_account_figure_that_is_no_number_is_a_decode_error():
    body = ('[{"currency":"BTC","balance":"plenty","locked":"0","avg_buy_price":"0",'
            '"avg_buy_price_modified":false,"unit_currency":"KRW"}]')
    with pytest.raises(us.DecodeError, match="plenty"):
        _accounts(decimal=True, body=body)
