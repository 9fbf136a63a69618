"""Upbit's notices as they are posted: the ``announcement`` stream, filtered by category.

New listings, trading halts, wallet suspensions, maintenance: Upbit pushes each notice when it is
posted (``CREATED``) and again when it is edited (``UPDATED``), with its title, link and, when asked
(``--body``), the Markdown text. Notices can be days apart; the SDK keeps the connection alive with its
heartbeat meanwhile. Announcements ride the private connection, so they need API keys (any key will do;
no permission is asked): ``UPBIT_ACCESS_KEY`` and ``UPBIT_SECRET_KEY`` from the environment. With
``--fake`` the fake exchange posts a notice every 0.3 s, in four categories; the ``wallet`` ones are not
among the categories watched by default, so they never reach the callback.

    python examples/announcement_watcher.py --fake --seconds 3
    UPBIT_ACCESS_KEY=... UPBIT_SECRET_KEY=... python examples/announcement_watcher.py --body
    python examples/announcement_watcher.py --fake --categories trade,wallet

Ctrl-C or SIGTERM stops it cleanly (exit 130 or 143); missing keys or an unknown category exit 2.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import signal
import sys
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING, Any

import upbit_sync as us

if TYPE_CHECKING:
    from upbit_sync.testing import FakeUpbitServer

CATEGORIES = "trade,maintenance,notice"

_print_lock = threading.Lock()


class Interrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM, raised in the main thread: the with-block unwinds and stops the SDK."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum             # the shells' convention: 130 or 143


def interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def say(line: str) -> None:
    """Print whole lines at once. Callbacks run on worker threads while the main thread prints too."""
    with _print_lock:
        print(line, flush=True)


def on_event(event: us.Event) -> None:
    say(f"event: {event}")


def on_error(error: BaseException) -> None:
    say(f"error: {error!r}")


class Watcher:
    """Prints each notice and counts them by category (under a lock: callbacks run on worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: collections.Counter[str] = collections.Counter()

    def on_notice(self, notice: us.Announcement) -> None:
        category = notice.category or "?"
        with self._lock:
            self.counts[category] += 1
        lines = [f"notice [{category}] {notice.event_type} {notice.listed_at} {notice.title} <{notice.url}>"]
        if notice.body:                           # only with include_body; None when it is too large
            text = [line for line in notice.body.splitlines() if line.strip() and not line.startswith("#")]
            lines.append(f"  {text[0] if text else ''} ({len(notice.body)} characters of Markdown)")
        say("\n".join(lines))                    # one call: the main thread's lines cannot come between

    def summary(self) -> str:
        with self._lock:
            total = sum(self.counts.values())
            by_category = ", ".join(f"{name} {count}" for name, count in sorted(self.counts.items()))
        return f"{total} notices received ({by_category or 'none'})"


class NoticeBoard:
    """Posts notices on the fake exchange, one category after another, and now and then edits the
    last trade notice (same uuid, ``UPDATED``), the way Upbit revises a listing's schedule."""

    POSTS = (
        ("trade", "[거래] 디지털 자산 신규 거래지원 안내 (KRW 마켓)"),
        ("wallet", "[입출금] 네트워크 업그레이드에 따른 입출금 일시 중단 안내"),
        ("maintenance", "[점검] 서비스 정기 점검 안내"),
        ("notice", "[안내] 이용약관 개정 안내"),
    )

    def __init__(self, server: FakeUpbitServer) -> None:
        self.server = server
        self.count = 0
        self.last_trade: dict[str, Any] | None = None

    def wait_for_listener(self, timeout: float) -> bool:
        """Wait until the exchange has our subscription, so that no notice is posted into the void."""
        return self.server.wait_for(
            lambda: any(c.is_private and c.subscriptions for c in self.server.open_connections()), timeout)

    def post_next(self) -> None:
        step = self.count % (len(self.POSTS) + 1)
        self.count += 1
        if step == len(self.POSTS) and self.last_trade is not None:
            notice = self.server.emit_announcement(
                uuid=self.last_trade["uuid"], url=self.last_trade["url"], category="trade",
                event_type="UPDATED", first_listed_at=self.last_trade["first_listed_at"],
                title=f"{self.last_trade['title']} (일정 변경)")
        else:
            category, title = self.POSTS[step % len(self.POSTS)]
            notice = self.server.emit_announcement(category=category, title=title)
            if category == "trade":
                self.last_trade = notice
        say(f"fake exchange posts [{notice['category']}] {notice['event_type']} {notice['title']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--categories", default=CATEGORIES,
                        help=f"comma-separated, of Upbit's 13 (default {CATEGORIES}; 'all' for every one)")
    parser.add_argument("--body", action="store_true", help="ask for each notice's Markdown text too")
    parser.add_argument("--fake", action="store_true", help="use an in-process fake Upbit exchange")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, interrupt)        # Ctrl-C, and SIGTERM (kill, docker stop): same clean stop
    signal.signal(signal.SIGTERM, interrupt)
    categories = None if args.categories == "all" else [c.strip() for c in args.categories.split(",")]

    status = 0
    watcher = Watcher()
    try:
        with contextlib.ExitStack() as stack:
            board = None
            if args.fake:
                from upbit_sync.testing import FakeUpbitServer

                server = stack.enter_context(FakeUpbitServer())
                config = server.config(keys=True)  # its URLs and the test keys it accepts
                board = NoticeBoard(server)
            else:
                config = us.Config.from_env()
                if not config.has_keys:
                    print("announcements need API keys: set UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY "
                          "(or run with --fake)", file=sys.stderr)
                    return 2

            manager = stack.enter_context(us.WebSocketManager(config))
            client = stack.enter_context(us.WebSocketClient(manager, on_error=on_error, on_event=on_event))
            client.subscribe("announcement", None, watcher.on_notice, categories=categories,
                             include_body=args.body)

            if board is not None and not board.wait_for_listener(10.0):
                print("the announcement subscription did not reach the fake exchange in 10 s",
                      file=sys.stderr)
                return 1
            deadline = None if args.seconds is None else time.monotonic() + args.seconds
            while deadline is None or time.monotonic() < deadline:
                if board is not None:
                    board.post_next()
                time.sleep(0.3 if board is not None else 1.0)
    except us.SubscriptionError as error:          # an unknown category: raised before anything is sent
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        status = stop.exit_code
    say(watcher.summary())                         # the SDK is closed: no callback runs any more
    return status


if __name__ == "__main__":
    raise SystemExit(main())
