"""The engine's small parts on their own: rate gates, tokens, the backoff policy, socket options."""

from __future__ import annotations

import hashlib
import threading
import time
import warnings

import jwt
import pytest

from upbit_sync.auth import Credentials, make_token, query_hash, query_string
from upbit_sync.config import Backoff
from upbit_sync.ratelimit import RateGate, message_gate

SECRET = "s" * 40  # Upbit's secrets are 40 characters


def test_rate_gate_admits_up_to_the_limit_then_names_the_wait():
    gate = message_gate(5, 100)
    assert [gate.try_acquire() for _ in range(5)] == [0.0] * 5
    wait = gate.try_acquire()
    assert 0.9 < wait <= 1.2


def test_rate_gate_minute_limit_binds_too():
    gate = RateGate("t", [(50, 1.0), (60, 60.0)])
    admitted = sum(1 for _ in range(100) if gate.try_acquire() == 0.0)
    assert admitted == 50


def test_rate_gate_acquire_gives_up_at_timeout_and_on_stop():
    gate = RateGate("t", [(1, 1.0)])
    assert gate.acquire(0.1)
    assert not gate.acquire(0.05)
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    assert not gate.acquire(5.0, stop)
    assert time.monotonic() - started < 1.0


def test_rate_gate_starts_no_thread():
    before = threading.active_count()
    gate = message_gate()
    gate.try_acquire()
    assert threading.active_count() == before


def test_token_is_hs512_with_a_fresh_nonce_and_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first, second = make_token("AK", SECRET), make_token("AK", SECRET)
    assert jwt.get_unverified_header(first)["alg"] == "HS512"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = jwt.decode(first, SECRET, algorithms=["HS512"])
        b = jwt.decode(second, SECRET, algorithms=["HS512"])
    assert a["access_key"] == "AK" and a["nonce"] != b["nonce"]
    assert "query_hash" not in a


def test_token_with_query_carries_its_hash():
    token = make_token("AK", SECRET, {"market": "KRW-BTC", "states": ["wait", "watch"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        claims = jwt.decode(token, SECRET, algorithms=["HS512"])
    expected = hashlib.sha512(b"market=KRW-BTC&states[]=wait&states[]=watch").hexdigest()
    assert claims["query_hash"] == expected and claims["query_hash_alg"] == "SHA512"


def test_query_string_is_not_url_encoded():
    # Upbit hashes unquote(urlencode(params, doseq=True)): brackets and commas stay as they are
    assert query_string({"b": ["1", "2"], "c": "a,b"}) == "b[]=1&b[]=2&c=a,b"
    assert query_hash("a=1") == hashlib.sha512(b"a=1").hexdigest()


def test_credentials_never_show_the_secret():
    creds = Credentials("ACCESSKEY123456", SECRET)
    assert SECRET not in repr(creds) and SECRET not in str(creds)
    assert "ACCESSKEY123456" not in repr(creds)
    assert creds.header()[0].startswith("Authorization: Bearer ")


def test_backoff_first_attempt_at_once_then_reconnect_delay_then_jittered_exponential():
    policy = Backoff(first_delay=1.0, max_delay=30.0)
    assert policy.delay(0, lambda: 1.0) <= 0.01
    assert policy.delay(1, lambda: 0.0) == 1.0
    assert policy.delay(2, lambda: 1.0) == 2.0
    assert policy.delay(3, lambda: 1.0) == 4.0
    assert policy.delay(10, lambda: 1.0) == 30.0
    assert policy.delay(3, lambda: 0.5) == 2.0


@pytest.mark.parametrize("failures", range(0, 12))
def test_backoff_never_exceeds_its_cap(failures):
    assert Backoff(1.0, 30.0).delay(failures) <= 30.0
