"""The fake exchange checks a JSON body's query hash by Upbit's rule (issue 18 §4): the body's pairs in
order, booleans as ``true``/``false``, a null neither sent as a pair nor hashed, numbers as written,
arrays as ``k[]=v``. The hashes here are written out by hand, not made by the SDK."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import unquote, urlencode

import requests

from upbit_sync.testing import make_token

ORDER: dict[str, Any] = {"market": "KRW-BTC", "side": "bid", "ord_type": "limit", "price": "100000000",
                         "volume": "0.01", "identifier": None, "post_only": True}
UPBIT_TEXT = "market=KRW-BTC&side=bid&ord_type=limit&price=100000000&volume=0.01&post_only=true"


def sha512(text: str) -> str:
    return hashlib.sha512(text.encode()).hexdigest()


def place(server: Any, rest: Any, body: dict[str, Any], hashed_text: str) -> requests.Response:
    token = make_token(query_hash=sha512(hashed_text), query_hash_alg="SHA512")
    response: requests.Response = rest(server).call("POST", "/v1/orders", body=body, token=token)
    return response


def refused_for_its_hash(response: requests.Response) -> bool:
    return response.status_code == 401 and response.json()["error"]["name"] == "invalid_query_payload"


def test_a_body_hashed_by_upbit_s_rule_is_accepted(server, rest):
    response = place(server, rest, ORDER, UPBIT_TEXT)
    assert response.status_code == 201, response.text


def test_a_body_hashed_with_python_spellings_is_refused(server, rest):
    python_text = unquote(urlencode(list(ORDER.items())))  # ...&identifier=None&post_only=True
    assert "post_only=True" in python_text and "identifier=None" in python_text
    assert refused_for_its_hash(place(server, rest, ORDER, python_text))


def test_a_body_whose_hash_spells_a_null_as_empty_is_refused(server, rest):
    text = UPBIT_TEXT.replace("&post_only", "&identifier=&post_only")
    assert refused_for_its_hash(place(server, rest, ORDER, text))


def test_a_body_number_is_hashed_as_the_body_writes_it(server, rest):
    body = dict(ORDER, volume=5e-05)  # requests writes the JSON number 5e-05
    assert place(server, rest, body, UPBIT_TEXT.replace("0.01", "5e-05")).status_code == 201
    assert refused_for_its_hash(place(server, rest, body, UPBIT_TEXT.replace("0.01", "0.00005")))


def test_a_body_array_is_hashed_with_brackets(server, rest):
    body = dict(ORDER, tags=["a", False])
    assert place(server, rest, body, UPBIT_TEXT + "&tags[]=a&tags[]=false").status_code == 201


def test_a_body_with_a_nested_object_is_refused_whatever_its_hash(server, rest):
    body = {"market": "KRW-BTC", "side": "bid", "ord_type": "limit", "price": "100000000", "volume": "0.01",
            "options": {"a": 1}}
    python_text = unquote(urlencode(list(body.items())))  # ...&options={'a':+1}
    assert refused_for_its_hash(place(server, rest, body, python_text))
