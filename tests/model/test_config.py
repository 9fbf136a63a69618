"""Config: docs/architecture.md §4 defaults, range checks, the environment, and keys kept out of reprs."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from upbit_sync import Config, ConfigError, UpbitError
from upbit_sync import config as config_module

# Upbit's host (docs/upbit.md §1): compared with the defaults here, never contacted — the suite's
# conftest refuses any connection off loopback.
UPBIT_HOST = "api.upbit.com"

DESIGN_DEFAULTS = {  # docs/architecture.md §4, field by field
    "access_key": None,
    "secret_key": None,
    "public_url": f"wss://{UPBIT_HOST}/websocket/v1",
    "private_url": f"wss://{UPBIT_HOST}/websocket/v1/private",
    "rest_url": f"https://{UPBIT_HOST}",
    "wire_format": "SIMPLE",
    "health_check_interval": 30.0,
    "stale_after": 60.0,
    "connect_timeout": 5.0,
    "reconnect_delay": 1.0,
    "reconnect_max_delay": 30.0,
    "ping_interval": 20.0,
    "ping_timeout": 10.0,
    "workers": 4,
    "queue_size": 10_000,
    "overflow": "drop_oldest",
    "block_timeout": 1.0,
}

ACCESS_KEY = "AK-4c1f9e0d-never-shown"
SECRET_KEY = "SK-b7e2a8c3-never-shown"


# ---- defaults ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DESIGN_DEFAULTS)
def test_default_is_the_design_value(name: str) -> None:
    assert getattr(Config(), name) == DESIGN_DEFAULTS[name]


def test_default_config_has_no_keys() -> None:
    assert not Config().has_keys


def test_config_with_both_keys_has_keys() -> None:
    assert Config(access_key=ACCESS_KEY, secret_key=SECRET_KEY).has_keys


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().workers = 8  # type: ignore[misc]


def test_replace_returns_a_changed_copy() -> None:
    cfg = Config()
    assert cfg.replace(workers=8).workers == 8
    assert cfg.workers == 4


def test_replace_checks_the_new_values() -> None:
    with pytest.raises(ConfigError):
        Config().replace(overflow="explode")


# ---- rejected values ---------------------------------------------------------------------------------

INVALID: dict[str, dict[str, Any]] = {
    "wire_format JSON": {"wire_format": "JSON"},
    "wire_format lowercase": {"wire_format": "simple"},
    "overflow unknown": {"overflow": "explode"},
    "health_check_interval zero": {"health_check_interval": 0},
    "stale_after negative": {"stale_after": -1.0},
    "connect_timeout zero": {"connect_timeout": 0.0},
    "reconnect_delay negative": {"reconnect_delay": -0.5},
    "reconnect_max_delay zero": {"reconnect_max_delay": 0},
    "block_timeout zero": {"block_timeout": 0},
    "ping_interval negative": {"ping_interval": -1.0},
    "ping_timeout negative": {"ping_timeout": -1.0},
    "ping_timeout equal to ping_interval": {"ping_interval": 10.0, "ping_timeout": 10.0},
    "ping_timeout above ping_interval": {"ping_interval": 10.0, "ping_timeout": 15.0},
    "workers zero": {"workers": 0},
    "queue_size zero": {"queue_size": 0},
    "message_rate_per_second zero": {"message_rate_per_second": 0},
    "only the access key": {"access_key": ACCESS_KEY},
    "only the secret key": {"secret_key": SECRET_KEY},
}


@pytest.mark.parametrize("kwargs", INVALID.values(), ids=INVALID.keys())
def test_invalid_value_raises_config_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        Config(**kwargs)


def test_config_error_is_an_upbit_error() -> None:
    with pytest.raises(UpbitError):
        Config(overflow="explode")


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"wire_format": "JSON"}, "wire_format"), ({"overflow": "explode"}, "overflow"),
     ({"stale_after": 0}, "stale_after"), ({"workers": 0}, "workers")],
    ids=["wire_format", "overflow", "stale_after", "workers"],
)
def test_config_error_names_the_field(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Config(**kwargs)


@pytest.mark.parametrize("kwargs", [{"stale_after": "60"}, {"workers": "4"}],
                         ids=["stale_after str", "workers str"])
def test_value_of_the_wrong_kind_raises_config_error(kwargs: dict[str, Any]) -> None:
    # ConfigError's contract: "out of range or of the wrong kind".
    with pytest.raises(ConfigError):
        Config(**kwargs)


def test_ping_interval_zero_disables_keepalive_and_is_accepted() -> None:
    assert Config(ping_interval=0.0, ping_timeout=0.0).ping_interval == 0.0


# ---- from_env ----------------------------------------------------------------------------------------


def test_from_env_with_an_empty_environment_gives_the_defaults() -> None:
    assert Config.from_env({}) == Config()


def test_from_env_ignores_the_process_environment_when_given_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UPBIT_WORKERS", "9")
    assert Config.from_env({}).workers == 4


def test_from_env_reads_the_api_keys() -> None:
    cfg = Config.from_env({"UPBIT_ACCESS_KEY": ACCESS_KEY, "UPBIT_SECRET_KEY": SECRET_KEY})
    assert (cfg.access_key, cfg.secret_key) == (ACCESS_KEY, SECRET_KEY)


def test_from_env_reads_ws_url_as_the_public_url() -> None:
    assert Config.from_env({"UPBIT_WS_URL": "ws://127.0.0.1:9999"}).public_url == (
        "ws://127.0.0.1:9999"
    )


def test_from_env_converts_float_fields() -> None:
    cfg = Config.from_env({"UPBIT_STALE_AFTER": "45", "UPBIT_PING_INTERVAL": "12.5"})
    assert (cfg.stale_after, cfg.ping_interval) == (45.0, 12.5)
    assert type(cfg.stale_after) is float


def test_from_env_converts_int_fields() -> None:
    cfg = Config.from_env({"UPBIT_WORKERS": "8", "UPBIT_QUEUE_SIZE": "500"})
    assert (cfg.workers, cfg.queue_size) == (8, 500)
    assert type(cfg.workers) is int


def test_from_env_reads_string_fields_as_given() -> None:
    cfg = Config.from_env({"UPBIT_WIRE_FORMAT": "DEFAULT", "UPBIT_OVERFLOW": "conflate",
                           "UPBIT_REST_URL": "http://127.0.0.1:8080"})
    assert (cfg.wire_format, cfg.overflow, cfg.rest_url) == (
        "DEFAULT", "conflate", "http://127.0.0.1:8080"
    )


def test_from_env_ignores_unrelated_variables() -> None:
    assert Config.from_env({"HOME": "/root", "UPBIT_NOPE": "1", "WORKERS": "8"}) == Config()


def test_from_env_overrides_win_over_the_environment() -> None:
    assert Config.from_env({"UPBIT_WORKERS": "8"}, workers=2).workers == 2


@pytest.mark.parametrize(
    ("var", "field"),
    [("UPBIT_PING_INTERVAL", "ping_interval"), ("UPBIT_WORKERS", "workers"),
     ("UPBIT_STALE_AFTER", "stale_after")],
)
def test_from_env_bad_number_raises_config_error_naming_the_field(var: str, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        Config.from_env({var: "twenty"})


def test_from_env_fractional_int_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="workers"):
        Config.from_env({"UPBIT_WORKERS": "2.5"})


def test_from_env_checks_the_values_it_reads() -> None:
    with pytest.raises(ConfigError, match="overflow"):
        Config.from_env({"UPBIT_OVERFLOW": "explode"})


# ---- secrets stay out of text ---------------------------------------------------------------------


def _keyed() -> Config:
    return Config(access_key=ACCESS_KEY, secret_key=SECRET_KEY)


def test_repr_does_not_show_the_secret_key() -> None:
    assert SECRET_KEY not in repr(_keyed())


def test_str_does_not_show_the_secret_key() -> None:
    assert SECRET_KEY not in str(_keyed())


def test_repr_does_not_show_the_access_key() -> None:
    assert ACCESS_KEY not in repr(_keyed())


def test_str_does_not_show_the_access_key() -> None:
    assert ACCESS_KEY not in str(_keyed())


def test_format_does_not_show_either_key() -> None:
    text = f"{_keyed()}"
    assert SECRET_KEY not in text and ACCESS_KEY not in text


def test_repr_of_a_replaced_config_does_not_show_either_key() -> None:
    text = repr(_keyed().replace(workers=2))
    assert SECRET_KEY not in text and ACCESS_KEY not in text


def test_repr_of_a_config_from_env_does_not_show_either_key() -> None:
    cfg = Config.from_env({"UPBIT_ACCESS_KEY": ACCESS_KEY, "UPBIT_SECRET_KEY": SECRET_KEY})
    assert SECRET_KEY not in repr(cfg) and ACCESS_KEY not in repr(cfg)


def test_repr_says_whether_keys_are_set() -> None:
    assert "keys=set" in repr(_keyed())
    assert "keys=none" in repr(Config())


def test_config_error_for_a_lone_key_does_not_show_it() -> None:
    with pytest.raises(ConfigError) as caught:
        Config(secret_key=SECRET_KEY)
    assert SECRET_KEY not in str(caught.value)


def test_config_error_of_a_keyed_config_does_not_show_the_keys() -> None:
    with pytest.raises(ConfigError) as caught:
        Config(access_key=ACCESS_KEY, secret_key=SECRET_KEY, workers=0)
    assert SECRET_KEY not in str(caught.value) and ACCESS_KEY not in str(caught.value)


# ---- passwords inside URLs stay out of text (issue 18 §5) --------------------------------------------


PASSWORD = "pw-9d41c7-never-shown"
URL_FIELDS = {
    "public_url": f"wss://user:{PASSWORD}@127.0.0.1/websocket/v1",
    "private_url": f"wss://user:{PASSWORD}@127.0.0.1/websocket/v1/private",
    "info_url": f"wss://user:{PASSWORD}@127.0.0.1/websocket/v1/info",
    "rest_url": f"https://user:{PASSWORD}@127.0.0.1",
    "rate_limit_backend": f"redis://:{PASSWORD}@127.0.0.1:6379/0",
    "proxy": f"http://user:{PASSWORD}@127.0.0.1:3128",
}


@pytest.mark.parametrize("name", URL_FIELDS)
@pytest.mark.parametrize("show", [repr, str, format], ids=["repr", "str", "format"])
def test_a_password_in_a_url_field_is_masked_in_the_config_s_text(name: str, show: Any) -> None:
    cfg = Config(**{name: URL_FIELDS[name]})
    text = show(cfg)
    assert PASSWORD not in text
    assert f"{name}='{URL_FIELDS[name].replace(PASSWORD, '****').replace('://:', '://')}'" in text


def test_the_config_keeps_the_password_it_was_given() -> None:
    assert Config(rest_url=URL_FIELDS["rest_url"]).rest_url == URL_FIELDS["rest_url"]


@pytest.mark.parametrize(("name", "url"), [
    ("public_url", f"https://user:{PASSWORD}@127.0.0.1/websocket/v1"),
    ("public_url", f"wss://user:{PASSWORD}@127.0.0.1:99999/websocket/v1"),
    ("private_url", f"wss://user:{PASSWORD}@127.0.0.1:port/websocket/v1/private"),
    ("private_url", f"wss://user:pa/ss{PASSWORD}@127.0.0.1/websocket/v1/private"),
    ("rest_url", f"ftp://user:{PASSWORD}@127.0.0.1"),
    ("info_url", f"wss://user:{PASSWORD}@/websocket/v1/info"),
    ("rate_limit_backend", f"redis//:{PASSWORD}@127.0.0.1:6379"),
    ("rate_limit_backend", f"postgres://user:{PASSWORD}@127.0.0.1/limits"),
], ids=["wrong scheme", "port out of range", "port not a number", "slash in the password", "rest ftp",
        "no host", "backend without ://", "backend of no known kind"])
def test_a_config_error_for_a_url_names_the_field_without_its_password(name: str, url: str) -> None:
    with pytest.raises(ConfigError, match=name) as caught:
        Config(**{name: url})
    assert PASSWORD not in str(caught.value) and "****" in str(caught.value)


@pytest.mark.parametrize("var", ["UPBIT_WS_URL", "UPBIT_REST_URL", "UPBIT_RATE_LIMIT_BACKEND"])
def test_a_malformed_url_from_the_environment_is_refused_without_its_password(var: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_env({var: f"gopher://user:{PASSWORD}@127.0.0.1:notaport"})
    assert PASSWORD not in str(caught.value)


# ---- read_ahead: the one yes-or-no field ----------------------------------------------------------


def test_read_ahead_is_on_by_default_and_can_be_switched_off() -> None:
    assert Config().read_ahead is True
    assert Config(read_ahead=False).read_ahead is False


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_read_ahead_that_is_not_a_bool_raises_config_error_naming_it(value: Any) -> None:
    with pytest.raises(ConfigError, match="read_ahead"):
        Config(read_ahead=value)


@pytest.mark.parametrize("text, expected", [("0", False), ("false", False), ("Off", False),
                                            ("no", False), ("1", True), ("TRUE", True),
                                            ("on", True), (" yes ", True)])
def test_from_env_reads_read_ahead_as_a_yes_or_no(text: str, expected: bool) -> None:
    assert Config.from_env({"UPBIT_READ_AHEAD": text}).read_ahead is expected


def test_from_env_read_ahead_that_is_neither_raises_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="read_ahead"):
        Config.from_env({"UPBIT_READ_AHEAD": "maybe"})


# ---- refused at once (issue 8) --------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"public_url": "https://127.0.0.1/websocket/v1"}, "public_url"),
    ({"private_url": "127.0.0.1/websocket/v1/private"}, "private_url"),
    ({"public_url": "ws://"}, "public_url"),
    ({"public_url": "ws://127.0.0.1:99999/websocket/v1"}, "public_url"),
    ({"rest_url": "wss://127.0.0.1"}, "rest_url"),
    ({"rest_url": "ftp://127.0.0.1"}, "rest_url"),
    ({"snapshot_grace": 0}, "snapshot_grace"),
    ({"queue_bytes": 0}, "queue_bytes"),
    ({"stale_after": float("inf")}, "stale_after"),
    ({"connect_timeout": float("nan")}, "connect_timeout"),
    ({"reconnect_delay": 5.0, "reconnect_max_delay": 1.0}, "reconnect_max_delay"),
], ids=["public http", "private no scheme", "no host", "bad port", "rest wss", "rest ftp",
        "grace zero", "queue_bytes zero", "infinite", "nan", "max below first delay"])
def test_a_bad_url_or_duration_is_refused_naming_the_field(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Config(**kwargs)


def test_urls_of_each_accepted_scheme_pass() -> None:
    cfg = Config(public_url="ws://127.0.0.1:8765/websocket/v1", private_url="wss://example.test/p",
                 rest_url="http://127.0.0.1:8080")
    assert cfg.public_url.startswith("ws://")


def test_repr_shows_the_keys_masked() -> None:
    text = repr(_keyed())
    assert "access_key='AK-4…'" in text and "secret_key='****'" in text


def test_a_short_access_key_is_masked_whole() -> None:
    text = repr(Config(access_key="short-key", secret_key=SECRET_KEY))
    assert "short" not in text and "access_key='…'" in text


def test_from_env_warns_of_a_variable_that_names_no_field_with_the_closest_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("WARNING", logger="upbit_sync.config")
    cfg = Config.from_env({"UPBIT_STALE_AFTR": "5", "UPBIT_WORKERS": "2"})
    assert cfg.workers == 2 and cfg.stale_after == Config().stale_after
    (record,) = caplog.records
    assert "UPBIT_STALE_AFTR" in record.getMessage() and "UPBIT_STALE_AFTER" in record.getMessage()


# ---- REST and the shared limits (issue 10) ------------------------------------------------------------


@pytest.mark.parametrize("backend", ["memory", "sqlite:///tmp/limits.db", "redis://127.0.0.1:6379/0",
                                     "rediss://cache.example:6380/1"])
def test_each_kind_of_rate_limit_backend_is_accepted(backend: str) -> None:
    assert Config(rate_limit_backend=backend).rate_limit_backend == backend


@pytest.mark.parametrize("backend", ["disk", "sqlite://relative.db", "redis://", "postgres://db/limits"])
def test_a_rate_limit_backend_of_no_known_kind_is_refused_naming_it(backend: str) -> None:
    with pytest.raises(ConfigError, match="rate_limit_backend"):
        Config(rate_limit_backend=backend)


@pytest.mark.parametrize("name", ["balanced", "conservative", "aggressive"])
def test_each_strategy_is_a_frozen_policy(name: str) -> None:
    strategy = Config(rate_limit_strategy=name).rate_strategy
    assert strategy.name == name and 0 < strategy.cut < 1 and 0 < strategy.recovery <= 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        strategy.cut = 0.9  # type: ignore[misc]


def test_balanced_halves_and_recovers_ten_percent_a_minute() -> None:
    balanced = Config().rate_strategy
    assert (balanced.name, balanced.cut, balanced.recovery) == ("balanced", 0.5, 0.10)


def test_an_unknown_strategy_is_refused_naming_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match="balanced"):
        Config(rate_limit_strategy="greedy")


def test_rest_timeout_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="rest_timeout"):
        Config(rest_timeout=0)


# ---- every number bounded (issue 18 §6) -------------------------------------------------------------
# Out of these ranges a value kills or blinds a thread (a wait or a socket timeout that overflows), or
# makes no sense (a watchdog spinning on a zero interval). ping_interval and ping_timeout also take 0: off.

BOUNDS: dict[str, tuple[float, float]] = {
    "health_check_interval": (0.01, 3600.0),
    "stale_after": (0.1, 86400.0),
    "connect_timeout": (0.01, 3600.0),
    "reconnect_delay": (0.001, 3600.0),
    "reconnect_max_delay": (0.001, 86400.0),
    "ping_interval": (0.1, 3600.0),
    "ping_timeout": (0.1, 3600.0),
    "block_timeout": (0.001, 60.0),
    "snapshot_grace": (0.01, 3600.0),
    "rest_timeout": (0.01, 3600.0),
    "order_lookup_timeout": (0.1, 3600.0),
    "candle_grace": (0.0, 600.0),
    "workers": (1, 1024),
    "queue_size": (1, 10_000_000),
    "queue_bytes": (1024, 1 << 40),
    "connect_rate_per_second": (1, 1000),
    "message_rate_per_second": (1, 1000),
    "message_rate_per_minute": (1, 60_000),
}


def _companions(name: str, value: float) -> dict[str, Any]:
    """Other fields set so that only ``name``'s own range decides (the cross-field rules hold)."""
    if name == "reconnect_delay":
        return {"reconnect_max_delay": max(value, 30.0)}
    if name == "reconnect_max_delay":
        return {"reconnect_delay": BOUNDS["reconnect_delay"][0]}
    if name == "ping_interval":
        return {"ping_timeout": 0.0}
    if name == "ping_timeout":
        return {"ping_interval": 0.0}
    return {}


def _edges(side: int) -> list[tuple[str, float, float]]:
    """(field, a value just inside, just outside) at each field's low (side 0) or high (side 1) bound."""
    edges = []
    for name, bounds in BOUNDS.items():
        bound = bounds[side]
        if isinstance(bound, int):
            outside: float = bound - 1 if side == 0 else bound + 1
        else:
            outside = math.nextafter(bound, -math.inf if side == 0 else math.inf)
        edges.append((name, bound, outside))
    return edges


def _shown(bound: float) -> str:
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


def test_every_numeric_field_is_bounded_by_the_table_in_config() -> None:
    numeric = {f.name for f in dataclasses.fields(Config) if f.type in ("int", "float")}
    assert set(config_module.BOUNDS) == numeric
    assert config_module.BOUNDS == BOUNDS


@pytest.mark.parametrize(("name", "inside", "outside"), _edges(0) + _edges(1),
                         ids=[f"{n} low" for n in BOUNDS] + [f"{n} high" for n in BOUNDS])
def test_a_value_at_its_bound_passes(name: str, inside: float, outside: float) -> None:
    assert getattr(Config(**{name: inside, **_companions(name, inside)}), name) == inside


@pytest.mark.parametrize(("name", "inside", "outside"), _edges(0),
                         ids=[f"{n} low" for n in BOUNDS])
def test_a_value_just_below_its_low_bound_is_refused_naming_the_field_and_the_bound(
        name: str, inside: float, outside: float) -> None:
    with pytest.raises(ConfigError) as caught:
        Config(**{name: outside, **_companions(name, outside)})
    message = str(caught.value)
    assert message.startswith(f"{name} must be ") and f"at least {_shown(inside)}" in message, message


@pytest.mark.parametrize(("name", "inside", "outside"), _edges(1),
                         ids=[f"{n} high" for n in BOUNDS])
def test_a_value_just_above_its_high_bound_is_refused_naming_the_field_and_the_bound(
        name: str, inside: float, outside: float) -> None:
    with pytest.raises(ConfigError) as caught:
        Config(**{name: outside, **_companions(name, outside)})
    message = str(caught.value)
    assert message.startswith(f"{name} must be ") and f"at most {_shown(inside)}" in message, message


@pytest.mark.parametrize("name", ["ping_interval", "ping_timeout"])
def test_zero_keeps_turning_keepalive_off_below_the_low_bound(name: str) -> None:
    assert getattr(Config(**{name: 0.0, **_companions(name, 0.0)}), name) == 0.0


@pytest.mark.parametrize(("name", "value"), [("health_check_interval", 1e10), ("connect_timeout", 1e20),
                                             ("workers", 10**9)])
def test_the_values_that_killed_a_thread_are_refused_at_once(name: str, value: float) -> None:
    with pytest.raises(ConfigError, match=name):
        Config(**{name: value})


def test_from_env_refuses_a_duration_beyond_its_bound() -> None:
    with pytest.raises(ConfigError, match="stale_after must be at most 86400"):
        Config.from_env({"UPBIT_STALE_AFTER": "1e9"})
