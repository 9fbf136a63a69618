"""Seeing it: per-type figures and latencies in health(), received_at on every message, the HTTP
endpoint (/healthz, /metrics through prometheus-client), and the log lines people watch, never
carrying a secret."""

from __future__ import annotations

import builtins
import logging
import re
import time
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

import upbit_sync as us
from tests.client.conftest import Sink, public_conn
from tests.support import upbit_threads, wait_until
from upbit_sync.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY


def test_every_message_carries_the_time_of_the_read_that_brought_it(harness, exchange):
    sink = Sink()
    harness.client(harness.manager(exchange)).subscribe("ticker", ["KRW-BTC"], sink)
    raw = Sink()
    harness.client(harness.manager(exchange)).subscribe("trade", ["KRW-BTC"], raw, raw=True)
    assert sink.wait(lambda: len(sink) >= 3) and raw.wait(lambda: len(raw) >= 3)
    now = time.time()
    assert all(0 < now - m.received_at < 10 for m in sink.messages)
    assert [m.received_at for m in sink.messages] == sorted(m.received_at for m in sink.messages)
    assert all(0 < now - m["received_at"] < 10 for m in raw.messages)


def test_health_reports_each_type_with_its_latencies(harness, exchange):
    manager = harness.manager(exchange)
    sink = Sink()
    harness.client(manager).subscribe("ticker", ["KRW-BTC", "KRW-ETH"], sink)
    assert sink.wait(lambda: len(sink) >= 10)
    assert wait_until(lambda: manager.health()["types"].get("ticker", {}).get("messages", 0) >= 10)
    ticker = manager.health()["types"]["ticker"]
    assert ticker["bytes"] > 0 and ticker["drops"] == 0 and ticker["last_message_age_s"] < 5
    latency = ticker["receipt_to_callback"]
    assert latency["samples"] >= 10 and 0 <= latency["p50"] <= latency["p99"] <= latency["max"] < 1.0
    assert ticker["exchange_to_receipt"]["samples"] >= 10
    public = manager.health()["connections"]["public"]
    assert public["bytes"] > 0 and public["ends"] == {}


def test_ends_are_counted_by_how_they_happened(harness, exchange):
    manager = harness.manager(exchange)
    sink = Sink()
    harness.client(manager).subscribe("ticker", ["KRW-BTC"], sink)
    assert sink.wait(lambda: sink.messages)
    public_conn(exchange)
    exchange.drop_all()
    assert wait_until(lambda: manager.health()["connections"]["public"]["reconnects"] == 1)
    exchange.close_all(4001)
    assert wait_until(lambda: manager.health()["connections"]["public"]["ends"]
                      == {"dropped": 1, "closed_4001": 1})


def test_metrics_can_be_switched_off(harness, exchange):
    manager = harness.manager(exchange, metrics=False)
    sink = Sink()
    harness.client(manager).subscribe("ticker", ["KRW-BTC"], sink)
    assert sink.wait(lambda: len(sink) >= 3)
    assert manager.health()["types"] == {} and all(m.received_at == 0.0 for m in sink.messages)


# ---- the HTTP endpoint ------------------------------------------------------------------------------


def test_healthz_is_200_while_healthy_and_503_with_the_reasons_during_a_silence(harness, exchange):
    manager = harness.manager(exchange, stale_after=0.8)
    sink = Sink()
    harness.client(manager).subscribe("ticker", ["KRW-BTC"], sink)
    assert sink.wait(lambda: sink.messages)
    endpoint = manager.serve_health()
    assert wait_until(lambda: requests.get(f"{endpoint.url}/healthz", timeout=2).status_code == 200)
    body = requests.get(f"{endpoint.url}/healthz", timeout=2).json()
    assert body["healthy"] is True and body["reasons"] == [] and "public" in body["connections"]
    exchange.silence(True)
    assert wait_until(lambda: requests.get(f"{endpoint.url}/healthz", timeout=2).status_code == 503,
                      timeout=5.0)
    body = requests.get(f"{endpoint.url}/healthz", timeout=2).json()
    assert body["healthy"] is False and any("public" in r for r in body["reasons"])
    exchange.silence(False)


def test_metrics_are_prometheus_text_with_the_expected_families(harness, exchange):
    manager = harness.manager(exchange)
    sink = Sink()
    harness.client(manager).subscribe("trade", ["KRW-BTC"], sink)
    assert sink.wait(lambda: len(sink) >= 5)
    endpoint = manager.serve_health()
    answer = requests.get(f"{endpoint.url}/metrics", timeout=2)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    assert {"upbit_sync_healthy", "upbit_sync_connection_open", "upbit_sync_connection_messages",
            "upbit_sync_reconnects", "upbit_sync_messages", "upbit_sync_latency_seconds",
            "upbit_sync_queue_depth", "upbit_sync_drops", "upbit_sync_callback_errors"} <= set(families)
    healthy = families["upbit_sync_healthy"].samples[0].value
    assert healthy == 1.0
    (trades,) = [s for s in families["upbit_sync_messages"].samples if s.labels == {"type": "trade"}]
    assert trades.value >= 5
    quantiles = {s.labels["quantile"] for s in families["upbit_sync_latency_seconds"].samples
                 if s.labels["type"] == "trade" and s.labels["stage"] == "receipt_to_callback"}
    assert quantiles == {"0.5", "0.99", "1"}


def test_metrics_without_prometheus_client_answer_501_saying_what_to_install(harness, exchange, monkeypatch):
    real_import = builtins.__import__

    def no_prometheus(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("prometheus_client"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    manager = harness.manager(exchange)
    endpoint = manager.serve_health()
    monkeypatch.setattr(builtins, "__import__", no_prometheus)
    answer = requests.get(f"{endpoint.url}/metrics", timeout=2)
    assert answer.status_code == 501 and "upbit-sync[prometheus]" in answer.text


def test_stop_stops_the_endpoint(harness, exchange):
    manager = harness.manager(exchange)
    endpoint = manager.serve_health()
    assert requests.get(f"{endpoint.url}/healthz", timeout=2).status_code in (200, 503)
    manager.stop()
    assert "upbit-health" not in upbit_threads()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{endpoint.url}/healthz", timeout=2)


# ---- logging ----------------------------------------------------------------------------------------


class Everything(logging.Handler):
    """Every record of every logger, formatted as a handler would print it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(threadName)s: %(message)s"))
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def everything() -> Any:
    handler = Everything()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    websocket_logger = logging.getLogger("websocket")
    old_ws_level = websocket_logger.level
    websocket_logger.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)
    websocket_logger.setLevel(old_ws_level)


def test_a_whole_session_at_debug_logs_no_secret_and_no_token(harness, exchange, everything):
    manager = harness.manager(exchange, access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY)
    events = Sink()
    client = harness.client(manager, events)
    sink = Sink()
    client.subscribe("ticker", ["KRW-BTC"], sink)
    client.subscribe("myOrder", None, sink)
    assert wait_until(lambda: any(c.is_private and c.subscriptions for c in exchange.open_connections()))
    exchange.emit_my_order(code="KRW-BTC")
    client.rest.accounts()
    client.rest.request("GET", "/v1/orders/open", {"market": "KRW-BTC", "states": ["wait", "watch"]})
    exchange.drop_all()
    assert events.wait(lambda: len(events.events_of(us.Reconnected)) >= 2, timeout=5.0)
    assert sink.wait(lambda: any(isinstance(m, us.MyOrder) for m in sink.messages))
    text = "\n".join(everything.lines)
    assert len(everything.lines) > 20, "the session logged too little to prove anything"
    assert TEST_SECRET_KEY not in text
    assert not re.search(r"eyJ[\w-]{10,}\.[\w-]{10,}", text), "a JWT reached the log"
    assert TEST_ACCESS_KEY not in text


def test_the_log_tells_the_story_people_watch_for(harness, exchange, everything):
    started = time.monotonic()
    manager = harness.manager(exchange)
    sink = Sink()
    harness.client(manager).subscribe("ticker", ["KRW-BTC"], sink)
    assert sink.wait(lambda: len(sink) >= 3)
    public_conn(exchange)
    exchange.drop_all()
    assert wait_until(lambda: manager.health()["connections"]["public"]["reconnects"] == 1)
    assert wait_until(lambda: any("received" in r.getMessage() for r in everything.records), timeout=3.0)
    records = [r for r in everything.records if r.name.startswith("upbit_sync")]
    connected = [r for r in records if r.levelno == logging.INFO and "open:" in r.getMessage()]
    assert connected and exchange.public_url in connected[0].getMessage()
    (reconnect,) = [r for r in records if "reconnect attempt" in r.getMessage()]
    assert reconnect.levelno == logging.WARNING and "public" in reconnect.getMessage()
    assert re.search(r"reconnect attempt \d+ in \d+\.\d+s", reconnect.getMessage())
    traffic = [r for r in records if r.levelno == logging.DEBUG and "received" in r.getMessage()]
    elapsed = time.monotonic() - started
    assert traffic and len(traffic) <= elapsed + 2, "the traffic line is not limited to one a second"


def test_refused_keys_are_logged_as_an_error(harness, exchange, everything):
    manager = harness.manager(exchange, access_key=TEST_ACCESS_KEY, secret_key="x" * 40,
                              reconnect_max_delay=5.0)
    harness.client(manager).subscribe("myOrder", None, Sink())
    assert wait_until(lambda: any(r.levelno == logging.ERROR and "refused the API keys" in r.getMessage()
                                  for r in everything.records), timeout=5.0)
    assert "x" * 40 not in "\n".join(everything.lines)
