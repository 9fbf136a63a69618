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


def say(text: str) -> None:
    """Print whole lines on stdout, flushed."""
    with PRINT_LOCK:
        print(text, flush=True)


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
