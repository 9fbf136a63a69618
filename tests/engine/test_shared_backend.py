"""A shared rate-limit backend is never the reason a connection stays down or a call raises something
other than an UpbitError (docs/architecture.md §8): against a real redis-server, stopped and started
again on the same port under a running manager, and down from the start."""

from __future__ import annotations

import sqlite3

import pytest

import upbit_sync as us
from tests.engine.conftest import fast_config
from tests.support import EventLog, wait_until
from upbit_sync import ratelimit
from upbit_sync.manager import WebSocketManager

CODE = "KRW-BTC"


@pytest.fixture(autouse=True)
def quick_probes(monkeypatch):
    """A failed backend is tried again every 0.2 s instead of every 5 s."""
    monkeypatch.setattr(ratelimit, "PROBE_INTERVAL", 0.2, raising=False)


def _running(exchange, backend: str):
    manager = WebSocketManager(fast_config(exchange, rate_limit_backend=backend))
    log = EventLog()
    client = us.WebSocketClient(manager=manager, on_error=log.on_error, on_event=log.on_event)
    received = []
    client.subscribe("ticker", [CODE], received.append)
    return manager, client, log, received


def _flowing(received: list, timeout: float = 5.0) -> bool:
    count = len(received)
    return wait_until(lambda: len(received) > count + 2, timeout=timeout)


def test_a_redis_restart_with_a_dropped_connection_meanwhile_brings_the_data_back(exchange, redis_process):
    """The restarted server has forgotten the limiter's script (NoScriptError on every acquire):
    the connection must come back all the same, and sharing resume by itself."""
    redis_process.start()
    manager, client, log, received = _running(exchange, redis_process.url)
    try:
        assert _flowing(received)
        redis_process.stop()
        redis_process.start()  # the same port, an empty script cache
        exchange.drop_all()
        assert log.wait(lambda: log.events_of(us.Reconnected), timeout=5.0), log.errors
        assert _flowing(received)
        backend = lambda: manager.health()["rate_limit_backend"]  # noqa: E731
        assert wait_until(lambda: backend()["state"] == "up", timeout=5.0), backend()
        # sharing has resumed: the connect limit counts in Redis again
        exchange.drop_all()
        assert log.wait(lambda: len(log.events_of(us.Reconnected)) >= 2, timeout=5.0)
        import redis

        keys = redis.Redis.from_url(redis_process.url).keys("upbit-sync:*websocket-connect")
        assert keys, "the connect limit is not counted in the restarted Redis"
    finally:
        client.close()
        manager.stop()


def test_a_redis_outage_falls_back_says_so_once_and_recovers(exchange, redis_process):
    redis_process.start()
    manager, client, log, received = _running(exchange, redis_process.url)
    try:
        assert _flowing(received)
        redis_process.stop()
        exchange.drop_all()  # the reconnect needs a connect permit while Redis is down
        assert log.wait(lambda: log.events_of(us.Reconnected), timeout=5.0), log.errors
        assert _flowing(received)
        assert log.wait(lambda: any(isinstance(e, us.BackendError) for e in log.errors))
        report = manager.health()["rate_limit_backend"]
        assert report is not None and report["state"] == "down" and report["outages"] == 1
        assert manager.health()["healthy"]
        exchange.drop_all()  # a second drop in the same outage is not told again
        assert log.wait(lambda: len(log.events_of(us.Reconnected)) >= 2, timeout=5.0)
        redis_process.start()
        exchange.drop_all()
        assert wait_until(lambda: manager.health()["rate_limit_backend"]["state"] == "up", timeout=5.0)
        backend_errors = [e for e in log.errors if isinstance(e, us.BackendError)]
        assert len(backend_errors) == 1, backend_errors
        assert redis_process.url.split("//")[1].split("/")[0] in backend_errors[0].backend
    finally:
        client.close()
        manager.stop()


def test_redis_down_at_start_neither_stops_the_manager_nor_raises_from_rest(exchange, redis_process):
    down = redis_process.url  # never started
    manager, client, log, received = _running(exchange, down)
    try:
        assert _flowing(received), "no data while the shared backend is down"
        assert log.wait(lambda: any(isinstance(e, us.BackendError) for e in log.errors))
        assert manager.health()["rate_limit_backend"]["state"] == "down"
        with us.RestClient(fast_config(exchange, rate_limit_backend=down)) as rest:
            assert [m.market for m in rest.markets()]
    finally:
        client.close()
        manager.stop()


def test_a_sqlite_file_that_is_not_a_database_is_a_config_error_at_start(exchange, tmp_path):
    path = tmp_path / "limits.db"
    path.write_bytes(b"this is not a database" * 100)
    config = fast_config(exchange, rate_limit_backend=f"sqlite://{path}")
    with pytest.raises(us.ConfigError, match=r"limits\.db"):
        WebSocketManager(config)
    with pytest.raises(us.ConfigError, match=r"limits\.db"):
        us.RestClient(config)


def test_a_sqlite_file_in_a_folder_that_does_not_exist_is_a_config_error(exchange, tmp_path):
    config = fast_config(exchange, rate_limit_backend=f"sqlite://{tmp_path}/missing/limits.db")
    with pytest.raises(us.ConfigError, match=r"missing/limits\.db"):
        WebSocketManager(config)


def test_a_redis_url_redis_cannot_use_is_a_config_error_with_the_password_masked(exchange):
    config = fast_config(exchange, rate_limit_backend="redis://:hunter2@127.0.0.1:notaport/0")
    with pytest.raises(us.ConfigError) as refused:
        WebSocketManager(config)
    assert "hunter2" not in str(refused.value)
    assert "****@127.0.0.1" in str(refused.value)


def test_a_broken_sqlite_backend_at_run_time_falls_back(exchange, tmp_path):
    """A store that fails after start (here, a SQLite file whose table vanished) is an outage too."""
    path = tmp_path / "limits.db"
    manager, client, log, received = _running(exchange, f"sqlite://{path}")
    try:
        assert _flowing(received)
        with sqlite3.connect(path) as db:
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
                db.execute(f'DROP TABLE "{table}"')
        exchange.drop_all()
        assert log.wait(lambda: log.events_of(us.Reconnected), timeout=5.0), log.errors
        assert _flowing(received)
    finally:
        client.close()
        manager.stop()
