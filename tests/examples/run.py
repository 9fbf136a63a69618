"""Runs a program (an example, or ``python -m upbit_sync``) in an interpreter of its own, as a user would.

Shared by the tests of this folder: the examples and the ``upbit-sync`` command are checked the same way,
by exit code and output. Every wait is bounded; a program still running at its deadline is killed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
RUN_TIMEOUT = 30.0
_READER_TIMEOUT = 5.0  # for the pipes to reach end of file once the program has exited


class Run:
    """One program started in a subprocess; ``result()`` waits for it (once) and returns its output.

    With ``signal_on=(signum, pattern)`` the run sends ``signum`` to the program as soon as a line of its
    stdout matches ``pattern`` (its first data line), from the thread reading that stdout. ``env`` adds
    variables (the caller's ``UPBIT_*`` ones are never passed on); ``program`` replaces the interpreter
    (an installed console script).
    """

    def __init__(self, args: list[str], *, signal_on: tuple[int, str] | None = None,
                 env: dict[str, str] | None = None, program: str | None = None) -> None:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("UPBIT_")}
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")]))
        environ["PYTHONUNBUFFERED"] = "1"
        environ.update(env or {})
        self.args = args
        self.signal_on = signal_on
        self.signalled = threading.Event()
        self._seen = threading.Condition()
        self._ended: list[list[str]] = []  # the line lists whose pipe reached end of file
        self.process = subprocess.Popen(
            [program or sys.executable, *args], cwd=ROOT, env=environ, text=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self._out: list[str] = []
        self._err: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(pipe, lines, watch), daemon=True)
            for pipe, lines, watch in ((self.process.stdout, self._out, signal_on),
                                       (self.process.stderr, self._err, None))
        ]
        for reader in self._readers:
            reader.start()
        self._output: tuple[int, str, str] | None = None

    def _read(self, pipe: IO[str], lines: list[str], signal_on: tuple[int, str] | None) -> None:
        with pipe:
            for line in pipe:
                with self._seen:
                    lines.append(line)
                    self._seen.notify_all()
                if signal_on is not None and not self.signalled.is_set() and re.search(signal_on[1], line):
                    self.process.send_signal(signal_on[0])
                    self.signalled.set()
        with self._seen:  # end of file: a waiter need not wait for more
            self._ended.append(lines)
            self._seen.notify_all()

    def lines(self, *, stderr: bool = False) -> list[str]:
        """The lines of stdout (or stderr) so far."""
        with self._seen:
            return list(self._err if stderr else self._out)

    def wait_for_line(self, pattern: str, *, stderr: bool = False, timeout: float = 10.0
                      ) -> re.Match[str] | None:
        """The match of the first line of stdout (or stderr) matching ``pattern``, waiting up to
        ``timeout`` for one to come; None if none came, or the program closed its output first."""
        lines = self._err if stderr else self._out

        def first() -> re.Match[str] | None:
            return next((m for line in lines if (m := re.search(pattern, line))), None)

        def settled() -> bool:
            return first() is not None or any(ended is lines for ended in self._ended)

        with self._seen:
            self._seen.wait_for(settled, timeout)
            return first()

    def result(self) -> tuple[int, str, str]:
        if self._output is None:
            try:
                code = self.process.wait(timeout=RUN_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail(f"{self.args} still running after {RUN_TIMEOUT} s\n{self._text()}")
            for reader in self._readers:
                reader.join(_READER_TIMEOUT)
            if any(reader.is_alive() for reader in self._readers):
                pytest.fail(f"{self.args} exited but its output stayed open\n{self._text()}")
            self._output = (code, "".join(self._out), "".join(self._err))
        return self._output

    def kill(self) -> None:
        """Kill the program if it still runs (a failed test's leftovers), and reap it."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(_READER_TIMEOUT)

    def _text(self) -> str:
        return f"--- stdout\n{''.join(self._out)}\n--- stderr\n{''.join(self._err)}"

    def clean_exit(self) -> str:
        """Assert exit 0 and a quiet stderr; return stdout."""
        code, out, err = self.result()
        assert code == 0, f"exit {code}\n--- stdout\n{out}\n--- stderr\n{err}"
        assert "Traceback" not in err and "Exception in thread" not in err, err
        return out

    def one_line_error(self, expected_code: int) -> str:
        """Assert exit ``expected_code``, one non-empty line on stderr and no traceback; return the line."""
        code, out, err = self.result()
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == expected_code, f"exit {code}\n--- stdout\n{out}\n--- stderr\n{err}"
        assert "Traceback" not in err and len(lines) == 1, err
        return lines[0]

    def stopped_by(self, signum: int) -> str:
        """Assert the run was signalled on its first data line and exited 128 + ``signum`` without a
        traceback; return stdout."""
        code, out, err = self.result()
        assert self.signalled.is_set(), (
            f"no line matched {self.signal_on}, so no signal was sent; exit {code}\n{self._text()}"
        )
        assert code == 128 + signum, f"exit {code}\n--- stdout\n{out}\n--- stderr\n{err}"
        assert "Traceback" not in err and "Exception in thread" not in err, err
        return out
