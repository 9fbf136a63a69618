"""How a command fails: :class:`Failure` carries the one line ``main`` prints and the exit status."""

from __future__ import annotations

import os


class Failure(Exception):
    """A command that cannot go on: ``main`` prints ``upbit-sync COMMAND: error: <message>`` on stderr
    and exits ``code``: 2 for a usage error (an argument, type or code that cannot work, missing keys),
    1 for a failure at run time."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def usage(message: str) -> Failure:
    """A usage error: exit 2."""
    return Failure(message, 2)


def reason(error: OSError) -> str:
    """An OSError as a few words ("Connection refused"), without the errno and the repeated path."""
    return os.strerror(error.errno) if error.errno else str(error)
