"""``upbit-sync replay``: the fake exchange serving a recording, until Ctrl-C or ``--seconds``."""

from __future__ import annotations

import argparse
import sys
import threading
from collections import Counter

from ..errors import ConfigError
from ..recording import RecordingError
from .exchange import fake_exchange
from .failure import Failure, reason, usage
from .feed import deadline, left, running
from .parser import CommandLine, amount, port, positive
from .signals import Interrupted

_HELP = """\
Start the fake exchange with a recording loaded: each client is played the recorded messages of what
it subscribes to, in recorded order and pace (divided by --speed), in the format it asks for. FILE may
be a directory of a recording, NDJSON or Parquet (--format parquet; needs pyarrow) alike. Point a
bot at the printed URL (UPBIT_WS_URL=... UPBIT_REST_URL=...).
Serves until Ctrl-C (130) or SIGTERM (143), or --seconds (0); a missing file exits 2, files with
nothing readable 1. A bad line (or one over 16 MiB) is skipped and a corrupt gzip file read up to the
damage (a Parquet spool up to its last whole batch), each damaged file named in one warning on
stderr; the rest plays."""

_EXAMPLES = """\
examples:
  upbit-sync replay data/ --port 8765
  upbit-sync replay data/trade/20261201-15.ndjson.gz --speed 10
  upbit-sync replay data/trade/20261201-15.parquet --speed max
  upbit-sync replay data/ --speed max --port 0"""


def register(cli: CommandLine) -> None:
    replay = cli.add("replay", "serve a recording through the fake exchange", _HELP, _EXAMPLES)
    replay.add_argument("files", metavar="FILE", nargs="+", help="recording files or directories")
    replay.add_argument("--speed", type=_speed, default=1.0,
                        help="a factor of the recorded pace (default 1), or max: as fast as possible")
    replay.add_argument("--port", type=port, default=8765, help="0 for any free port (default 8765)")
    replay.add_argument("--rest-port", type=port, default=0,
                        help="the REST side's port (default 0: any free one)")
    replay.add_argument("--seconds", type=positive, help="stop after this long (default: until Ctrl-C)")
    replay.set_defaults(run=run)


def _speed(text: str) -> float | str:
    """``--speed``: a factor > 0 of the recorded pace, or ``max`` (also 0): as fast as possible."""
    if text.strip().lower() == "max":
        return "max"
    value = amount(text)
    return "max" if value == 0 else value


def run(args: argparse.Namespace) -> int:
    server = fake_exchange()(host="127.0.0.1", port=args.port, rest_port=args.rest_port)
    try:
        server.replay(args.files, speed=args.speed)
    except (FileNotFoundError, ConfigError) as exc:  # ConfigError: Parquet files without pyarrow
        raise usage(str(exc)) from None
    except (RecordingError, OSError) as exc:
        raise Failure(str(exc)) from None
    recording = server.recording
    assert recording is not None
    for problem in recording.problems:  # the log says it too, but the CLI shows only errors unless -v
        print(f"upbit-sync replay: warning: {problem}", file=sys.stderr, flush=True)
    try:
        server.start()
    except OSError as exc:
        raise Failure(f"cannot listen on 127.0.0.1:{args.port}: {reason(exc)}") from None
    status = 0
    try:
        try:
            kinds = Counter(kind for kind, _, _ in recording.streams)
            streams = ", ".join(f"{kind} ({n} code{'s' if n > 1 else ''})"
                                for kind, n in sorted(kinds.items()))
            pace = ("as fast as clients take it" if args.speed == "max"
                    else f"at {args.speed:g}x the recorded pace")
            print(f"replaying {len(recording):,} recorded messages ({recording.span:,.1f} s of "
                  f"{streams or 'nothing'}), {pace}", flush=True)
            print(f"fake Upbit exchange on {server.public_url} (private: {server.private_url}; "
                  f"REST: {server.rest_url})", flush=True)
            print("Ctrl-C to stop", flush=True)
            ends = deadline(args.seconds)
            told = False
            while running(ends):
                threading.Event().wait(left(ends))
                if not told and server.replay_finished():
                    told = True
                    print(f"every client so far has been played all it asked for ({server.replayed:,} "
                          "messages sent); serving on until Ctrl-C", flush=True)
        except Interrupted as stop:
            status = stop.exit_code
    finally:
        server.stop()
    print("stopped", flush=True)
    return status
