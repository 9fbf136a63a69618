"""Limits shared across processes: two OS processes drawing from one group through Redis, or through
a SQLite file, never exceed its limit in any one-second window between them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

import upbit_sync as us
from upbit_sync.ratelimit import limits_for

ROOT = Path(__file__).resolve().parents[2]
# A child process: once ready, say so and read the start time (wall clock, so both children begin
# together, however long each took to start); take permits from the "trade" group (10/s per IP) for
# ``seconds`` from then, and print the wall-clock time of each.
CHILD = textwrap.dedent("""
    import json, sys, time
    import upbit_sync as us
    from upbit_sync.ratelimit import limits_for
    backend, host, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    group = limits_for(us.Config(rest_url=host, rate_limit_backend=backend)).group("trade")
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    while time.time() < start:
        time.sleep(0.001)
    taken = []
    while time.time() < start + seconds:
        group.acquire()
        taken.append(time.time())
    print(json.dumps(taken))
""")


# A child notes the time a little after each grant: on a loaded machine (CI, two cores) the note
# of one can come tens of milliseconds late, so a window of a whole second could take in a grant of
# the next one (a CI run saw 11). The check counts in windows this much shorter; two processes
# that did not share the budget would take about twice 10 in it.
SLACK = 0.1


def most_in_a_second(times: list[float]) -> int:
    """The most grants noted within one second, less SLACK."""
    times = sorted(times)
    best, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= 1.0 - SLACK:
            first += 1
        best = max(best, last - first + 1)
    return best


def start_together(children: list[subprocess.Popen[str]]) -> None:
    """Wait until every child says it is ready (bounded), then give them all one start time."""
    for child in children:
        assert child.stdout is not None
        ready = threading.Thread(target=child.stdout.readline, daemon=True)
        ready.start()
        ready.join(60)
        assert not ready.is_alive(), "a child did not get ready within 60 s"
    start = time.time() + 0.2
    for child in children:
        assert child.stdin is not None
        child.stdin.write(f"{start}\n")
        child.stdin.flush()


def run_two(backend: str, seconds: float = 2.5) -> tuple[list[float], list[float]]:
    host = f"https://shared-{uuid.uuid4().hex[:8]}.upbit.test"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [subprocess.Popen([sys.executable, "-c", CHILD, backend, host, str(seconds)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=env)
                for _ in range(2)]
    start_together(children)
    results = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results[0], results[1]


@pytest.mark.parametrize("backend", ["redis", "sqlite"])
def test_two_processes_sharing_a_group_never_exceed_its_limit(backend, request, tmp_path):
    url = (request.getfixturevalue("redis_url") if backend == "redis"
           else f"sqlite://{tmp_path / 'limits.db'}")
    first, second = run_two(url)
    assert first and second, "a process got no permit at all"
    assert most_in_a_second(first + second) <= 10, "the two processes went over 10/s together"
    # both drew from the one budget: together they got about what one process alone may take
    assert len(first) + len(second) <= 10 * 2.5 / 1.1 + 12


def test_alone_each_process_would_have_taken_the_whole_budget(tmp_path):
    """The check above is not vacuous: with limits in memory, the two processes take twice as much."""
    first, second = run_two("memory")
    assert most_in_a_second(first + second) > 10


def test_the_shared_key_names_the_exchange_the_scope_and_the_group_never_the_access_key(redis_url):
    import redis

    config = us.Config(rest_url="https://keyed.upbit.test", rate_limit_backend=redis_url,
                       access_key="AK-must-not-be-stored-0123456789abcdef", secret_key="s" * 40)
    limits_for(config).group("default").acquire()
    limits_for(config).group("trade").acquire()
    keys = {k.decode() for k in redis.Redis.from_url(redis_url).keys("upbit-sync:keyed.upbit.test:*")}
    assert "upbit-sync:keyed.upbit.test:ip:trade" in keys
    (pocket,) = [k for k in keys if k.endswith(":default")]
    assert pocket.startswith("upbit-sync:keyed.upbit.test:key-") and "AK-must" not in pocket


def test_rate_limit_key_names_a_budget_shared_by_different_keys(tmp_path):
    backend = f"sqlite://{tmp_path / 'budget.db'}"
    one = us.Config(rest_url="https://budget.upbit.test", rate_limit_backend=backend,
                    rate_limit_key="desk-1", access_key="AK-one-0123456789abcdef", secret_key="s" * 40)
    two = one.replace(access_key="AK-two-0123456789abcdef")
    assert limits_for(one) is limits_for(two)  # one process: the same object
    assert limits_for(one).pocket == "budget-desk-1"


# A child that calls the fake exchange's REST side for ``seconds`` from the start time it is given:
# tickers (the "ticker" group, 10/s per IP) or accounts (the "default" group, 30/s per key); the server
# notes when each call arrived.
REST_CHILD = textwrap.dedent("""
    import sys, time
    import upbit_sync as us
    from upbit_sync import ratelimit
    from upbit_sync.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY
    backend, rest_url, call, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    if len(sys.argv) > 5:  # an experiment: the headroom the shared budget keeps under the figure
        ratelimit.SHARED_HEADROOM = float(sys.argv[5])
    config = us.Config(rest_url=rest_url, rate_limit_backend=backend, access_key=TEST_ACCESS_KEY,
                       secret_key=TEST_SECRET_KEY)
    with us.RestClient(config) as rest:
        print("ready", flush=True)
        start = float(sys.stdin.readline())
        while time.time() < start:
            time.sleep(0.001)
        while time.time() < start + seconds:
            rest.tickers("KRW-BTC") if call == "tickers" else rest.accounts()
""")


def most_in_one_second(times: list[float]) -> int:
    """The most arrivals within any one second (a window [t, t + 1))."""
    times = sorted(times)
    best, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


@pytest.mark.parametrize(("call", "path", "figure"), [("tickers", "/v1/ticker", 10),
                                                      ("accounts", "/v1/accounts", 30)])
def test_what_two_sharing_processes_send_arrives_under_the_figure_in_every_second(redis_url, call, path,
                                                                                  figure, experiment=()):
    """As the exchange times it: two processes on one Redis budget keep what arrives in any second
    under the group's figure (a margin for jitter, never exactly at it), and the fake, which enforces
    Upbit's figures, never answers 429."""
    from upbit_sync.testing import FakeUpbitServer

    with FakeUpbitServer(seed=3) as exchange:
        seconds = 3.0
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        children = [subprocess.Popen([sys.executable, "-c", REST_CHILD, redis_url, exchange.rest_url, call,
                                      str(seconds), *experiment], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                    for _ in range(2)]
        start_together(children)
        for child in children:
            _, err = child.communicate(timeout=60)
            assert child.returncode == 0, err
        calls = [r for r in exchange.rest_requests if r.path == path]
    assert [r.status for r in calls if r.status != 200] == []
    assert len(calls) >= figure * seconds * 0.7, "the two processes made too few calls to show anything"
    assert most_in_one_second([r.time for r in calls]) < figure
