"""Plain output: whole lines on stdout, NDJSON for ``stream``, and a quiet end when the reader of stdout
hangs up."""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from ..recording import json_line

# One writer at a time: events arrive on the SDK's threads while the main thread draws. Reentrant, so a
# signal raised in the main thread while it holds the lock cannot make its own unwinding wait on it.
PRINT_LOCK = threading.RLock()


# Set once stdout's reader has hung up: later lines are dropped, and the main thread learns of it.
PIPE_CLOSED = threading.Event()


def say(text: str) -> None:
    """Print whole lines on stdout, flushed. A closed stdout raises BrokenPipeError in the main thread
    (``main`` ends the command quietly); on the SDK's threads (an event told on a worker) it is noted,
    stdout pointed at /dev/null, and the main thread's next line raises it."""
    main = threading.current_thread() is threading.main_thread()
    with PRINT_LOCK:
        if PIPE_CLOSED.is_set():
            if main:
                raise BrokenPipeError("stdout was closed by its reader")
            return
        try:
            print(text, flush=True)
        except BrokenPipeError:
            PIPE_CLOSED.set()
            stdout_to_devnull()
            if main:
                raise


def stdout_to_devnull() -> None:
    """After a BrokenPipeError: point stdout at /dev/null, so the interpreter's flush of what is still
    buffered at exit does not fail again with an "Exception ignored" message (the documented idiom)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout (captured): nothing is left to flush either
        pass


class Ndjson:
    """``stream``'s default output: one message per line, flushed as soon as the inbox is empty, so a
    pipe into ``jq`` sees each line at once. Events go to stderr, so stdout stays pure data."""

    def __init__(self, command: str) -> None:
        self.command = command

    def write(self, messages: list[dict[str, Any]]) -> None:
        if messages:
            sys.stdout.write("".join(json_line(m) + "\n" for m in messages))
            sys.stdout.flush()

    def note(self, line: str) -> None:
        print(f"upbit-sync {self.command}: {line}", file=sys.stderr, flush=True)

    def finish(self) -> None:
        pass

    def close(self) -> None:
        pass
