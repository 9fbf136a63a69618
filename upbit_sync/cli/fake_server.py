"""``upbit-sync fake-server``: the fake Upbit exchange on 127.0.0.1 until Ctrl-C, for a bot to try."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
import threading

from .exchange import NEED_TESTING
from .failure import reason
from .parser import CommandLine, port, positive
from .signals import Interrupted

_CATEGORIES = ("notice", "trade", "maintenance", "wallet")  # what --announce-every posts, in turn


def register(cli: CommandLine) -> None:
    fake = cli.add("fake-server", "run the fake Upbit exchange on 127.0.0.1 until Ctrl-C")
    fake.add_argument("--port", type=port, default=8765, help="0 for any free port (default 8765)")
    fake.add_argument("--rest-port", type=port, default=0,
                      help="the REST side's port (default 0: any free one)")
    fake.add_argument("--time-scale", type=positive, default=1.0,
                      help="run the indicator candles' clock this many times as fast (default 1; "
                           "3000: a 5-minute candle closes every 0.1 s)")
    fake.add_argument("--announce-every", type=positive, default=None, metavar="SECONDS",
                      help="push an announcement to its subscribers this often (default: never)")
    fake.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from ..testing import FakeUpbitServer
    except ImportError:
        print(NEED_TESTING, file=sys.stderr)
        return 2
    status = 0
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(FakeUpbitServer(host="127.0.0.1", port=args.port,
                                                         rest_port=args.rest_port,
                                                         time_scale=args.time_scale))
        except OSError as error:  # the port is taken, or not ours to listen on
            print(f"upbit-sync fake-server: error: cannot listen on 127.0.0.1:{args.port}: {reason(error)}",
                  file=sys.stderr)
            return 1
        try:
            print(f"fake Upbit exchange on {server.public_url} (private: {server.private_url}; "
                  f"REST: {server.rest_url})", flush=True)
            print(f"indicators: {server.info_url} (keys: upbit_sync.testing.TEST_ACCESS_KEY and "
                  "TEST_SECRET_KEY)", flush=True)
            print("Ctrl-C to stop", flush=True)
            never = threading.Event()  # nothing sets it: only a signal ends the wait
            notices = itertools.count(1)
            while not never.wait(args.announce_every):
                number = next(notices)
                server.emit_announcement(category=_CATEGORIES[number % len(_CATEGORIES)],
                                         title=f"[안내] 테스트 공지 {number}")
        except Interrupted as stop:
            status = stop.exit_code
    print("stopped", flush=True)
    return status
