"""SIGINT and SIGTERM while a command runs: both raise :class:`Interrupted` in the main thread, so the
command's with-blocks unwind (stopping the SDK and the fake exchange) and it exits 128 + the signal."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any


class Interrupted(Exception):
    """SIGINT (Ctrl-C) or SIGTERM, raised in the main thread: the command's with-blocks unwind, which
    stops the SDK and the fake exchange, and the command exits 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum  # the shells' convention: 130 for SIGINT, 143 for SIGTERM


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def interrupting() -> contextlib.AbstractContextManager[None]:
    """While the command runs, SIGINT and SIGTERM raise Interrupted (both stop by the same path).

    SIGINT is handled explicitly too: a process started with SIGINT ignored (a background job) would
    otherwise never see a KeyboardInterrupt. Handlers can be set from the main thread only.
    """
    return _handled_by(_raise_interrupted)


def held() -> contextlib.AbstractContextManager[None]:
    """SIGINT and SIGTERM ignored for a moment: a second Ctrl-C while the recorder finishes its files
    must not leave a gzip file without its end. The command is stopping anyway."""
    return _handled_by(signal.SIG_IGN)


@contextlib.contextmanager
def _handled_by(handler: Any) -> Iterator[None]:
    """SIGINT and SIGTERM go to ``handler`` inside the block, as before it after (main thread only:
    elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            if old is not None:
                signal.signal(sig, old)
