"""Upbit's limits hold under pressure: connects 5/s per manager, requests 5/s and 100/min per connection."""

from __future__ import annotations

import itertools
import random
import threading

from tests.engine.conftest import fast_config
from tests.support import Recorder, wait_until
from upbit_sync.manager import WebSocketManager, port_of
from upbit_sync.protocol import make_spec
from upbit_sync.testing import DEFAULT_MARKETS
from upbit_sync.types import ServerError

MARKETS = [m.market for m in DEFAULT_MARKETS if m.quote == "KRW"][:40]


def max_in_window(times: list[float], window: float) -> int:
    """The largest number of instants that fit in any window of that length."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_refused_upgrades_back_off_then_connect(exchange):
    exchange.refuse_next(3, status=429)
    recorder = Recorder()
    manager = WebSocketManager(fast_config(exchange))
    port_of(manager).add_listener(recorder)
    with manager:
        assert wait_until(lambda: exchange.connections_opened == 1, timeout=8.0)
        statuses = [a.status for a in exchange.connect_attempts]
        assert statuses == [429, 429, 429, 101]
        times = [a.time for a in exchange.connect_attempts]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert gaps[0] >= 0.09, "the second attempt did not wait reconnect_delay"
        assert max_in_window(times, 1.0) <= 5
        assert manager.health()["connections"]["public"]["refused_upgrades"] == 3


def test_connect_storm_never_exceeds_five_per_second_and_slows_down_on_429s(exchange):
    """Only the connect limiter stands between a tiny backoff cap and a storm; and it follows the REST
    groups' rules: each upgrade answered 429 cuts its rate (balanced: halved)."""
    exchange.refuse_next(40, status=429)
    manager = WebSocketManager(fast_config(exchange, reconnect_delay=0.01, reconnect_max_delay=0.02))
    with manager:
        assert wait_until(lambda: len(exchange.connect_attempts) >= 7, timeout=12.0)
    times = [a.time for a in exchange.connect_attempts]
    assert max_in_window(times, 1.0) <= 5
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps[4:]) > 1.0, f"the attempts kept their pace after four 429s: {gaps}"


def test_burst_of_subscription_changes_is_coalesced_within_the_message_limit(manager, exchange, recorder):
    port_of(manager).set_wanted("public", [make_spec("ticker", ["KRW-BTC"])])
    assert wait_until(lambda: exchange.open_connections() and exchange.open_connections()[0].subscriptions)
    rng = random.Random(3)
    barrier = threading.Barrier(4)

    def churn() -> None:
        barrier.wait()
        for _ in range(50):
            codes = rng.sample(MARKETS, rng.randint(1, 10))
            port_of(manager).set_wanted("public", [make_spec("ticker", codes), make_spec("trade", codes[:3])])

    threads = [threading.Thread(target=churn, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    final = port_of(manager).wanted("public")
    wanted_server_side = sorted((s.type, sorted(s.codes)) for s in final)

    def server_set():
        conns = exchange.open_connections()
        if len(conns) != 1:
            return None
        return sorted((s["type"], sorted(s["codes"])) for s in conns[0].subscriptions)

    assert wait_until(lambda: server_set() == wanted_server_side, timeout=5.0)
    (conn,) = exchange.open_connections()
    times = [r.time for r in conn.requests]
    assert max_in_window(times, 1.0) <= 5
    assert max_in_window(times, 60.0) <= 100
    assert len(times) < 40, "changes were not coalesced"
    assert not recorder.events_of(ServerError)
    assert exchange.connections_opened == 1
