# The documented payloads stay on one line each, exactly as Upbit's documentation prints them.
# ruff: noqa: E501
"""Server payloads for the message-model tests.

The first block is copied verbatim from docs/upbit.md §9 (docs examples and frames seen live).
The rest are built by hand from the §8 field maps for the types the doc gives no example of.
Every payload is JSON text, as it arrives in a frame; tests encode it to bytes for a binary frame.
"""

from __future__ import annotations

import json
from typing import Any

from upbit_sync.formats import CANDLE_TYPES

# ---- verbatim from docs/upbit.md §9 ----------------------------------------------------------

TICKER_DEFAULT = r'{"type":"ticker","code":"KRW-BTC","opening_price":31883000,"high_price":32310000,"low_price":31855000,"trade_price":32287000,"prev_closing_price":31883000.00000000,"acc_trade_price":78039261076.51241000,"change":"RISE","change_price":404000.00000000,"signed_change_price":404000.00000000,"change_rate":0.0126713295,"signed_change_rate":0.0126713295,"ask_bid":"ASK","trade_volume":0.03103806,"acc_trade_volume":2429.58834336,"trade_date":"20230221","trade_time":"074102","trade_timestamp":1676965262139,"acc_ask_volume":1146.25573608,"acc_bid_volume":1283.33260728,"highest_52_week_price":57678000.00000000,"highest_52_week_date":"2022-03-28","lowest_52_week_price":20700000.00000000,"lowest_52_week_date":"2022-12-30","market_state":"ACTIVE","is_trading_suspended":false,"delisting_date":null,"market_warning":"NONE","timestamp":1676965262177,"acc_trade_price_24h":228827082483.70729000,"acc_trade_volume_24h":7158.80283560,"stream_type":"REALTIME"}'
ORDERBOOK_SIMPLE = r'{"ty":"orderbook","cd":"KRW-BTC","tms":1790134773006,"tas":0.48514983,"tbs":2.2403413,"obu":[{"ap":116606000,"bp":116534000,"as":0.06288509,"bs":7.9276E-4},{"ap":116609000,"bp":116521000,"as":5.0E-4,"bs":0.01624318}],"st":"SNAPSHOT","lv":0}'
TRADE_DEFAULT = r'{"type":"trade","code":"KRW-BTC","timestamp":1787728554853,"trade_date":"2026-08-26","trade_time":"07:15:54","trade_timestamp":1787728554797,"trade_price":109847000.0,"trade_volume":0.00509799,"ask_bid":"ASK","prev_closing_price":109165000.0,"change":"RISE","change_price":682000.0,"sequential_id":17877285547970000,"best_ask_price":109867000,"best_ask_size":0.0099545,"best_bid_price":109847000,"best_bid_size":0.1583673,"stream_type":"SNAPSHOT"}'
CANDLE_DEFAULT = r'{"type":"candle.1m","code":"KRW-BTC","candle_date_time_utc":"2026-08-26T08:08:00","candle_date_time_kst":"2026-08-26T17:08:00","opening_price":109715000.0,"high_price":109756000.0,"low_price":109714000.0,"trade_price":109756000.0,"candle_acc_trade_volume":0.71326612,"candle_acc_trade_price":78269528.64757,"timestamp":1787731717049,"stream_type":"SNAPSHOT"}'
MY_ASSET_DEFAULT = r'{"type":"myAsset","asset_uuid":"e635f223-1609-4969-8fb6-4376937baad6","assets":[{"currency":"KRW","balance":1386929.37231066771348207123,"locked":10329.670127489597585685}],"asset_timestamp":1710146517259,"timestamp":1710146517267,"stream_type":"REALTIME"}'
ERROR_NO_TICKET = r'{"error":{"name":"NO_TICKET","message":"티켓이 존재하지 않거나, 유효하지 않습니다."}}'
ERROR_INVALID_PARAM = r'{"error":{"message":"nope 은 지원하지 않는 타입입니다.","name":"INVALID_PARAM"}}'
ERROR_WRONG_FORMAT = r'{"error":{"message":"Format 이 맞지 않습니다.","name":"WRONG_FORMAT"}}'

ERRORS = (ERROR_NO_TICKET, ERROR_INVALID_PARAM, ERROR_WRONG_FORMAT)

# ---- built by hand from docs/upbit.md §8 -----------------------------------------------------

# ORDERBOOK_SIMPLE with every key expanded to its DEFAULT name, written out by hand (not by formats.py).
ORDERBOOK_DEFAULT = r'{"type":"orderbook","code":"KRW-BTC","timestamp":1790134773006,"total_ask_size":0.48514983,"total_bid_size":2.2403413,"orderbook_units":[{"ask_price":116606000,"bid_price":116534000,"ask_size":0.06288509,"bid_size":7.9276E-4},{"ask_price":116609000,"bid_price":116521000,"ask_size":5.0E-4,"bid_size":0.01624318}],"stream_type":"SNAPSHOT","level":0}'

# myOrder with every §8 field (and the common ones).
MY_ORDER_DEFAULT = r'{"type":"myOrder","code":"KRW-BTC","uuid":"ac2dc2a7-fce4-4a0b-b9d1-5bba5ed6e6fd","ask_bid":"BID","order_type":"limit","state":"trade","trade_uuid":"68315169-fba4-4175-ade3-aff14a616657","price":109847000.0,"avg_price":109846500.5,"volume":0.002,"remaining_volume":0.0015,"executed_volume":5.0E-4,"trades_count":1,"reserved_fee":109.847,"remaining_fee":82.38525,"paid_fee":27.46162513,"locked":164770.5,"executed_funds":54923.25025,"time_in_force":"ioc","trade_fee":27.46162513,"is_maker":false,"identifier":"client-order-42","smp_type":"cancel_maker","prevented_volume":0,"prevented_locked":0,"trade_timestamp":1787728554797,"order_timestamp":1787728554001,"timestamp":1787728554853,"stream_type":"REALTIME"}'

# The same order, keyed by hand with the §8 SIMPLE abbreviations.
MY_ORDER_SIMPLE = r'{"ty":"myOrder","cd":"KRW-BTC","uid":"ac2dc2a7-fce4-4a0b-b9d1-5bba5ed6e6fd","ab":"BID","ot":"limit","s":"trade","tuid":"68315169-fba4-4175-ade3-aff14a616657","p":109847000.0,"ap":109846500.5,"v":0.002,"rv":0.0015,"ev":5.0E-4,"tc":1,"rsf":109.847,"rmf":82.38525,"pf":27.46162513,"l":164770.5,"ef":54923.25025,"tif":"ioc","tf":27.46162513,"im":false,"id":"client-order-42","smpt":"cancel_maker","pv":0,"pl":0,"ttms":1787728554797,"otms":1787728554001,"tms":1787728554853,"st":"REALTIME"}'

STATUS = '{"status":"UP"}'

# The LIST_SUBSCRIPTIONS reply of docs/upbit.md §2, and the same reply in SIMPLE keys.
LIST_SUBSCRIPTIONS_DEFAULT = r'{"method":"LIST_SUBSCRIPTIONS","result":[{"type":"ticker","codes":["KRW-BTC"]},{"type":"orderbook","codes":["KRW-BTC"],"level":0}],"ticket":"t"}'
LIST_SUBSCRIPTIONS_SIMPLE = r'{"mthd":"LIST_SUBSCRIPTIONS","rslt":[{"ty":"ticker","cds":["KRW-BTC"]},{"ty":"orderbook","cds":["KRW-BTC"],"lv":0}],"tckt":"t"}'


def candle_default(candle_type: str) -> str:
    """The §9 candle payload with its type set to ``candle_type`` (e.g. ``"candle.240m"``)."""
    data = json.loads(CANDLE_DEFAULT)
    data["type"] = candle_type
    return json.dumps(data)


def as_dict(text: str) -> dict[str, Any]:
    """A payload as the dict it decodes to."""
    data: dict[str, Any] = json.loads(text)
    return data


# Every DEFAULT-keyed payload, by a readable id: the set the round-trip tests walk.
DEFAULT_PAYLOADS: dict[str, str] = {
    "ticker": TICKER_DEFAULT,
    "trade": TRADE_DEFAULT,
    "orderbook": ORDERBOOK_DEFAULT,
    **{candle_type: candle_default(candle_type) for candle_type in CANDLE_TYPES},
    "myOrder": MY_ORDER_DEFAULT,
    "myAsset": MY_ASSET_DEFAULT,
    "status": STATUS,
    "error-NO_TICKET": ERROR_NO_TICKET,
    "error-INVALID_PARAM": ERROR_INVALID_PARAM,
    "error-WRONG_FORMAT": ERROR_WRONG_FORMAT,
    "LIST_SUBSCRIPTIONS": LIST_SUBSCRIPTIONS_DEFAULT,
}
