"""The ``upbit-sync`` command: ``stream``, ``record``, ``publish``, ``replay``, ``markets``, ``candles``,
``orders``, ``health``, and ``demo`` and ``fake-server`` (against the embedded fake exchange).

Every command exits 0 when it did its job, 1 when it failed at run time (a refused connection or keys,
an unwritable directory, an unhealthy answer), 2 on a usage error (a bad argument, type or market code,
missing keys), 130 on Ctrl-C and 143 on SIGTERM, each failure told in one line on stderr. A closed
stdout (``upbit-sync stream ... | head``) ends a command quietly with 0: the reader had what it wanted.

One module per command, each adding its subcommand (``register``) and running it (``run``); a new
command is a new module and a line in :data:`COMMANDS`. The recording format is in ``recording.py``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from . import candles, demo, fake_server, health, markets, orders, publish, record, replay, stream
from .failure import Failure
from .output import stdout_to_devnull
from .parser import CommandLine
from .signals import Interrupted, interrupting

# each command's register(), in the order `upbit-sync --help` lists them
COMMANDS: Sequence[Callable[[CommandLine], None]] = (
    stream.register,
    record.register,
    publish.register,
    replay.register,
    markets.register,
    candles.register,
    orders.register,
    health.register,
    demo.register,
    fake_server.register,
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command."""
    line = CommandLine()
    for register in COMMANDS:
        register(line)
    return line.parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; exit status 0 ok, 1 failed, 2 usage error, 130/143 stopped by SIGINT/SIGTERM."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    with interrupting():
        try:
            result: int = args.run(args)
        except Interrupted as stop:  # arrived while a command was starting or already closing
            return stop.exit_code
        except Failure as failure:
            print(f"upbit-sync {args.command}: error: {failure}", file=sys.stderr, flush=True)
            return failure.code
        except BrokenPipeError:  # stdout closed by its reader (| head): it had what it wanted
            stdout_to_devnull()
            return 0
    return result
