"""Issue 21's test: one publisher and three consumer processes on one redis-server and the fake
exchange. Each consumer (a group of its own) sees every message once and in order per market,
across a restart of the publisher and a restart of one consumer (SIGTERM: a clean close)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import redis

from tests.feed.support import CODES, published_trades
from tests.support import wait_until
from upbit_sync import Publisher
from upbit_sync.feed_entries import stream_key

HELPER = Path(__file__).with_name("consumer.py")
ROOT = Path(__file__).resolve().parents[2]


def _start(url: str, prefix: str, name: str, out: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # stderr into a file: a pipe nobody reads until the end could fill and stall the consumer
    with open(out.with_suffix(".err"), "ab") as err:
        return subprocess.Popen([sys.executable, str(HELPER), url, prefix, f"group-{name}", name, str(out),
                                 *CODES], env=env, stdout=subprocess.DEVNULL, stderr=err)


def _stderr(out: Path) -> str:
    path = out.with_suffix(".err")
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def _seen(path: Path) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            code, _, sequential_id = line.partition(" ")
            out.setdefault(code, []).append(int(sequential_id))
    return out


def _groups(url: str, prefix: str) -> set[str]:
    client = redis.Redis.from_url(url)
    try:
        return {g["name"].decode() for g in client.xinfo_groups(stream_key(prefix, "trade"))}
    except redis.ResponseError:  # no stream yet
        return set()
    finally:
        client.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def test_three_consumer_processes_see_every_message_once_in_order_across_restarts(
        redis_url, config, prefix, tmp_path):
    names = ["one", "two", "three"]
    files = {name: tmp_path / f"{name}.txt" for name in names}
    processes = {name: _start(redis_url, prefix, name, files[name]) for name in names}
    try:
        assert wait_until(lambda: _groups(redis_url, prefix) >= {f"group-{n}" for n in names}, 15.0), (
            [_stderr(files[n]) for n, p in processes.items() if p.poll() is not None])

        def count(name: str) -> int:
            return sum(map(len, _seen(files[name]).values()))

        with Publisher(redis_url, ["trade"], CODES, prefix=prefix, config=config):
            assert wait_until(lambda: all(count(n) >= 10 for n in names), 10.0)
        # the publisher restarts; meanwhile consumer "two" is stopped cleanly and started again
        _stop(processes["two"])
        assert processes["two"].returncode == 0, _stderr(files["two"])
        with Publisher(redis_url, ["trade"], CODES, prefix=prefix, config=config):
            marks = {n: count(n) for n in names}
            assert wait_until(lambda: all(count(n) >= marks[n] + 10 for n in ("one", "three")), 10.0)
            processes["two"] = _start(redis_url, prefix, "two", files["two"])
            assert wait_until(lambda: count("two") >= marks["two"] + 20, 15.0)
        published = published_trades(redis_url, prefix)
        # both publisher runs wrote (each consumer saw 10 of the first and 10 more of the second)
        assert sum(map(len, published.values())) >= 20
        for name in names:
            assert wait_until(lambda name=name: _seen(files[name]) == published, 10.0), (
                name, {c: len(v) for c, v in _seen(files[name]).items()},
                {c: len(v) for c, v in published.items()})
    finally:
        for process in processes.values():
            _stop(process)
    for name, process in processes.items():
        assert process.returncode == 0, (name, _stderr(files[name]))
