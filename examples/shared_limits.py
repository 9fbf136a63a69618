"""One rate-limit budget for several processes: two processes call the same REST group through a
shared backend, and between them they stay within Upbit's limit.

Upbit counts REST calls per IP (quotations) or per pocket (exchange calls), whatever process or
machine makes them. ``Config(rate_limit_backend=...)`` keeps the count in a place they all see:
``redis://host:port/db`` (any number of machines; ``pip install 'upbit-sync[redis]'``) or
``sqlite:///path`` (the processes of one host). Here two processes each ask for the last trades of a
market as fast as they are allowed for a few seconds; the trade group allows 10 calls a second, and
the two together get about that many, not twice as many.

    python examples/shared_limits.py --fake                            # a local Redis on 6379
    python examples/shared_limits.py --fake --backend sqlite:///tmp/upbit-limits.db
    python examples/shared_limits.py --backend redis://10.0.0.5:6379/0   # against Upbit

Ctrl-C or SIGTERM stops it cleanly (exit 130 or 143); a bad argument exits 2, an Upbit error 1.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import signal
import sys
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

import upbit_sync as us


class Interrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM, raised in the main thread: the with-blocks unwind and stop the SDK."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum             # the shells' convention: 130 or 143


def interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def worker(config: us.Config, market: str, seconds: float, ready: mp.Queue[bool], start: Any,
           results: mp.Queue[list[float]]) -> None:
    """One process: once both are ready, call trades() from the start time the parent sets for
    ``seconds``, noting when each call went out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the children
    calls: list[float] = []
    with us.RestClient(config) as rest:
        ready.put(True)
        while start.value == 0.0 or time.time() < start.value:  # a slow start-up costs no call
            time.sleep(0.005)
        while time.time() < start.value + seconds:
            rest.trades(market, count=1)
            calls.append(time.time())
    results.put(calls)


def stop_all(children: Sequence[mp.process.BaseProcess]) -> None:
    for child in children:
        if child.is_alive():
            child.terminate()
            child.join(5)


def busiest_second(times: list[float]) -> int:
    times, best, first = sorted(times), 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="redis://127.0.0.1:6379/0",
                        help="redis://host:port/db or sqlite:///path (default: a local Redis)")
    parser.add_argument("--market", default="KRW-BTC")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--fake", action="store_true", help="use an in-process fake Upbit exchange")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)

    status = 0
    try:
        with contextlib.ExitStack() as stack:
            config = us.Config.from_env(rate_limit_backend=args.backend)
            if args.fake:
                from upbit_sync.testing import FakeUpbitServer

                server = stack.enter_context(FakeUpbitServer())
                config = config.replace(rest_url=server.rest_url)
            with us.RestClient(config) as rest:
                rest.trades(args.market, count=1)          # the backend answers, the market exists
            ctx = mp.get_context("spawn")
            results: mp.Queue[list[float]] = ctx.Queue()
            ready: mp.Queue[bool] = ctx.Queue()
            start = ctx.Value("d", 0.0)  # set once both processes are up: they begin together
            children = [ctx.Process(target=worker,
                                    args=(config, args.market, args.seconds, ready, start, results))
                        for _ in range(2)]
            for child in children:
                child.start()
            stack.callback(stop_all, children)
            for _ in children:
                ready.get(timeout=60)
            start.value = time.time() + 0.2
            calls = [results.get(timeout=args.seconds + 30) for _ in children]
            for child in children:
                child.join(10)
            both = calls[0] + calls[1]
            print(f"process 1: {len(calls[0])} calls, process 2: {len(calls[1])} calls, "
                  f"{len(both) / args.seconds:.1f}/s together")
            print(f"the busiest second had {busiest_second(both)} calls (the trade group allows 10)")
    except (us.InvalidRequestError, us.ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except us.UpbitError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Interrupted as stop:
        status = stop.exit_code
    return status


if __name__ == "__main__":
    raise SystemExit(main())
