"""Secrets in URLs are masked wherever the SDK prints or raises a URL (issue 18 §5): redact_url and redact,
ConnectError, RestClient's repr."""

from __future__ import annotations

import pytest

import upbit_sync as us
from upbit_sync.redact import redact, redact_url
from upbit_sync.rest import RestClient

PASSWORD = "hunter2-pw"


@pytest.mark.parametrize(("url", "shown"), [
    (f"redis://:{PASSWORD}@cache:6379/0", "redis://****@cache:6379/0"),
    (f"wss://user:{PASSWORD}@host/websocket/v1", "wss://user:****@host/websocket/v1"),
    (f"http://{PASSWORD}@proxy:8080", "http://****@proxy:8080"),
    (f"redis://:p@ss{PASSWORD}@cache:6379", "redis://****@cache:6379"),
    (f"http://user:{PASSWORD}@host/path?email=a@b", "http://user:****@host/path?email=a@b"),
], ids=["password only", "user and password", "user alone", "@ in the password", "@ in the query"])
def test_redact_url_masks_the_userinfo_and_keeps_the_rest(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize("url", [f"wss://user:pa/ss{PASSWORD}@host/ws", f"wss://user:pa#ss{PASSWORD}@host/ws",
                                 f"wss://user:pa?ss{PASSWORD}@host/ws", f"redis://:a b{PASSWORD}@cache"],
                         ids=["slash", "hash", "question mark", "space"])
def test_redact_url_masks_a_password_holding_a_delimiter(url: str) -> None:
    shown = redact_url(url)
    assert PASSWORD not in shown and "ss" not in shown.partition("@")[0].partition(":")[2]
    assert shown.endswith("@" + url.rpartition("@")[2])


@pytest.mark.parametrize("url", ["wss://127.0.0.1:9443/websocket/v1", "sqlite:///tmp/limits.db", "memory",
                                 "http://127.0.0.1:8080/path?x=1"])
def test_redact_url_leaves_a_url_without_secrets_as_it_is(url: str) -> None:
    assert redact_url(url) == url


def test_redact_url_masks_a_secret_query_value() -> None:
    assert redact_url(f"redis://cache:6379/0?password={PASSWORD}&db=1") == (
        "redis://cache:6379/0?password=****&db=1")


def test_redact_masks_every_url_in_a_text() -> None:
    text = f"cannot reach redis://:{PASSWORD}@a:1 nor http://u:{PASSWORD}@b:2/x"
    assert redact(text) == "cannot reach redis://****@a:1 nor http://u:****@b:2/x"


def test_a_connect_error_masks_the_password_in_its_url_and_message() -> None:
    error = us.ConnectError("public", f"wss://user:{PASSWORD}@host/ws",
                            f"refused by http://proxy-user:{PASSWORD}@proxy:3128")
    assert PASSWORD not in str(error) and PASSWORD not in error.url and PASSWORD not in error.cause
    assert PASSWORD not in repr(error)
    assert error.url == "wss://user:****@host/ws" and "proxy-user:****@proxy:3128" in str(error)


def test_rest_client_repr_masks_the_password_of_its_url() -> None:
    with RestClient(us.Config(rest_url=f"https://user:{PASSWORD}@api.example")) as rest:
        assert PASSWORD not in repr(rest) and "user:****@api.example" in repr(rest)

