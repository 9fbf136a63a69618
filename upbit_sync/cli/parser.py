"""The ``upbit-sync`` argument parser: usage errors in one line, the options every command shares, and
the argument types more than one command uses. Each command adds its own subcommand
(:meth:`CommandLine.add`)."""

from __future__ import annotations

import argparse
import math
from typing import NoReturn

from .._version import __version__

_MAIN_HELP = """\
The upbit-sync SDK's command line: stream, record and replay Upbit's market data, list its markets,
check a bot's health endpoint, or watch the SDK recover from a drop against its fake exchange.

Exit status: 0 done, 1 failed at run time, 2 usage error, 130 Ctrl-C, 143 SIGTERM; a closed stdout
(| head) ends a command quietly with 0. 'upbit-sync COMMAND --help' shows each command's examples."""

_MAIN_EXAMPLES = """\
examples:
  upbit-sync demo
  upbit-sync stream trade KRW-BTC --fake | head -5
  upbit-sync record trade KRW-BTC --out data/ --seconds 60 && upbit-sync replay data/"""


class Parser(argparse.ArgumentParser):
    """Reports a usage error as one line on stderr (``prog: error: ...``) and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class CommandLine:
    """The parser being built: ``upbit-sync``'s own options, and a subcommand per :meth:`add`."""

    def __init__(self) -> None:
        self.parser = Parser(prog="upbit-sync", description=_MAIN_HELP, epilog=_MAIN_EXAMPLES,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        self.parser.add_argument("--version", action="version", version=f"upbit-sync {__version__}")
        self.parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
        # The same flag after the command: SUPPRESS leaves the value of `-v demo` alone when `demo` has none.
        self._common = Parser(add_help=False)
        self._common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                                  help="log at INFO level")
        self._commands = self.parser.add_subparsers(dest="command", required=True)

    def add(self, name: str, summary: str, description: str | None = None, examples: str | None = None
            ) -> argparse.ArgumentParser:
        """A subcommand's parser, with ``-v`` and, when given, its description and examples as written."""
        if description is None:
            return self._commands.add_parser(name, parents=[self._common], help=summary)
        return self._commands.add_parser(name, parents=[self._common], help=summary,
                                         description=description, epilog=examples,
                                         formatter_class=argparse.RawDescriptionHelpFormatter)


def port(text: str) -> int:
    """A TCP port for ``--port``: 1-65535, or 0 for any free one."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, not {port}")
    return port


def amount(text: str) -> float:
    """A finite number >= 0 for ``--seconds`` and ``--rate`` (``inf`` would never end the demo)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, not {text}")
    return value


def positive(text: str) -> float:
    """A finite number > 0: ``--seconds`` of the long-running commands, ``--timeout``."""
    value = amount(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def depth(text: str) -> int:
    """``--depth``: a whole number (the SDK's own check says which)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
