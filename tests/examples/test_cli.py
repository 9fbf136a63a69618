"""The ``upbit-sync`` command fails in one line and stops cleanly on Ctrl-C and SIGTERM.

Like the examples, each command runs in an interpreter of its own (``python -m upbit_sync``), all of
them started together; the fake exchange listens on 127.0.0.1 only. The parser is also checked
in-process for where ``-v`` may go.
"""

from __future__ import annotations

import re
import signal
import socket
from collections.abc import Iterator

import pytest

from tests.examples.run import Run
from upbit_sync.cli import build_parser

CLI = ["-m", "upbit_sync"]
DEMO_ROW = r"^ +KRW-SOL +[\d,]"  # the last row of the demo's first table: one print() wrote the table
FAKE_READY = r"^Ctrl-C to stop$"

# name -> (command line after the interpreter, signal to send, the output line to send it on)
STOPPED: dict[str, tuple[list[str], signal.Signals, str]] = {
    "fake-server SIGINT": ([*CLI, "fake-server", "--port", "0"], signal.SIGINT, FAKE_READY),
    "fake-server SIGTERM": ([*CLI, "fake-server", "--port", "0"], signal.SIGTERM, FAKE_READY),
    # signalled at their first row, long before their end: the demo's 10 s only leave room for a slow start
    "demo SIGINT": ([*CLI, "demo", "--seconds", "10"], signal.SIGINT, DEMO_ROW),
    "demo SIGTERM": ([*CLI, "demo", "--seconds", "10"], signal.SIGTERM, DEMO_ROW),
    "demo -v": ([*CLI, "demo", "-v", "--seconds", "10"], signal.SIGINT, DEMO_ROW),
}


@pytest.fixture(scope="module")
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that another socket is listening on."""
    with socket.create_server(("127.0.0.1", 0)) as holder:
        yield holder.getsockname()[1]


@pytest.fixture(scope="module")
def runs(busy_port: int) -> Iterator[dict[str, Run]]:
    started = {
        "port 70000": Run([*CLI, "fake-server", "--port", "70000"]),
        "port abc": Run([*CLI, "fake-server", "--port", "abc"]),
        "port in use": Run([*CLI, "fake-server", "--port", str(busy_port)]),
        "demo --seconds soon": Run([*CLI, "demo", "--seconds", "soon"]),
        "demo --seconds inf": Run([*CLI, "demo", "--seconds", "inf"]),
    }
    for name, (args, signum, line) in STOPPED.items():
        started[name] = Run(args, signal_on=(signum, line))
    yield started
    for run in started.values():
        run.kill()


def test_a_port_out_of_range_is_a_usage_error_in_one_line(runs: dict[str, Run]) -> None:
    line = runs["port 70000"].one_line_error(2)
    assert line.startswith("upbit-sync fake-server: error: argument --port:"), line
    assert "70000" in line and "0-65535" in line, line


def test_a_port_that_is_no_number_is_a_usage_error_in_one_line(runs: dict[str, Run]) -> None:
    line = runs["port abc"].one_line_error(2)
    assert line.startswith("upbit-sync fake-server: error: argument --port:"), line
    assert "'abc'" in line, line


def test_a_port_in_use_is_a_runtime_failure_in_one_line(runs: dict[str, Run], busy_port: int) -> None:
    line = runs["port in use"].one_line_error(1)
    assert line == (f"upbit-sync fake-server: error: cannot listen on 127.0.0.1:{busy_port}: "
                    "Address already in use"), line


@pytest.mark.parametrize("value", ["soon", "inf"])
def test_a_bad_demo_duration_is_a_usage_error_in_one_line(runs: dict[str, Run], value: str) -> None:
    line = runs[f"demo --seconds {value}"].one_line_error(2)
    assert line.startswith("upbit-sync demo: error: argument --seconds:") and value in line, line


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_signal_stops_the_fake_server_with_128_plus_its_number(
    runs: dict[str, Run], signum: signal.Signals
) -> None:
    out = runs[f"fake-server {signum.name}"].stopped_by(signum)
    assert out.splitlines()[-1] == "stopped", out


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_signal_stops_the_demo_with_128_plus_its_number(
    runs: dict[str, Run], signum: signal.Signals
) -> None:
    out = runs[f"demo {signum.name}"].stopped_by(signum)
    assert out.splitlines()[-1] == (f"demo stopped by {signum.name}: the client, the manager and the fake "
                                    "exchange are closed"), out
    assert "health summary" not in out, out


def test_verbose_after_the_command_logs_at_info(runs: dict[str, Run]) -> None:
    run = runs["demo -v"]
    run.stopped_by(signal.SIGINT)
    err = run.result()[2]
    assert re.search(r"^\S+ \S+ INFO upbit_sync\.\S+: ", err, re.M), err


@pytest.mark.parametrize(
    ("argv", "verbose"),
    [
        (["demo"], False),
        (["-v", "demo"], True),
        (["demo", "-v"], True),
        (["--verbose", "fake-server", "--port", "0"], True),
        (["fake-server", "--port", "0", "--verbose"], True),
        (["-v", "demo", "-v"], True),
    ],
)
def test_verbose_is_accepted_before_and_after_the_command(argv: list[str], verbose: bool) -> None:
    assert build_parser().parse_args(argv).verbose is verbose
