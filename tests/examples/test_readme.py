"""The README's code works as written: its two ten-line programs, run against ``upbit-sync
fake-server`` with ``UPBIT_WS_URL`` pointing there, print data."""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def python_blocks(markdown: str) -> list[str]:
    """The ```python blocks of a markdown text, in order."""
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def example(heading: str) -> str:
    """The first python block under a README heading."""
    section = README.read_text(encoding="utf-8").split(f"## {heading}\n", 1)[1]
    return python_blocks(section)[0]


# Prepended to code run in a subprocess: like tests/conftest.py's guard, nothing leaves loopback, not
# even a DNS query (were the environment not read, the five lines would try Upbit itself).
LOOPBACK_ONLY = """
import socket as _socket
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_connect, _getaddrinfo = _socket.socket.connect, _socket.getaddrinfo
def _guarded_connect(self, address):
    if isinstance(address, tuple) and address[0] not in _LOOPBACK:
        raise ConnectionRefusedError(f"the README test stays on loopback; refused {address!r}")
    return _connect(self, address)
def _guarded_getaddrinfo(host, *args, **kwargs):
    if host not in _LOOPBACK:
        raise _socket.gaierror(f"the README test stays on loopback; refused {host!r}")
    return _getaddrinfo(host, *args, **kwargs)
_socket.socket.connect, _socket.getaddrinfo = _guarded_connect, _guarded_getaddrinfo
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPBIT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _read_lines(process: subprocess.Popen[str], wanted: int, timeout: float) -> list[str]:
    """Lines of ``process``'s stdout until ``wanted`` arrived or ``timeout`` passed."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while len(lines) < wanted and time.monotonic() < deadline:
            if selector.select(max(0.0, deadline - time.monotonic())):
                line = process.stdout.readline()
                if not line:
                    break
                lines.append(line)
    return lines


def _stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        return process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


@pytest.fixture(scope="module")
def fake_server() -> Iterator[int]:
    """``upbit-sync fake-server`` on a free port, as the README says to run it."""
    port = _free_port()
    command = [sys.executable, "-m", "upbit_sync", "fake-server", "--port", str(port)]
    server = subprocess.Popen(command, cwd=ROOT, env=_env(), text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        assert _read_lines(server, 1, 15.0), "the fake server did not start"
        yield port
    finally:
        _stop(server)


def _run(code: str, port: int, wanted: int) -> tuple[list[str], str]:
    env = _env()
    env["UPBIT_WS_URL"] = f"ws://127.0.0.1:{port}/websocket/v1"
    script = subprocess.Popen([sys.executable, "-c", LOOPBACK_ONLY + code], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines = _read_lines(script, wanted, 20.0)
    finally:
        _, err = _stop(script)
    return lines, err


def test_the_callback_example_prints_prices_from_the_exchange_named_by_upbit_ws_url(fake_server):
    lines, err = _run(example("Ten lines: callbacks"), fake_server, 6)
    # BTC and ETH are on different workers, whose print() calls may interleave ("A B\n\n"): the
    # prices are counted in the whole output, not line by line
    prices = re.findall(r"KRW-(?:BTC|ETH) [\d,]+ [+-]\d+\.\d\d%", "".join(lines))
    assert len(prices) >= 3, f"stdout: {lines}\nstderr: {err}"
    assert any(line.startswith("Connected(") for line in lines), "on_event=print printed no event"


def test_the_loop_example_prints_trades_from_the_exchange_named_by_upbit_ws_url(fake_server):
    lines, err = _run(example("Ten lines: a loop"), fake_server, 4)
    trades = [line for line in lines if re.fullmatch(r"[\d.]+ [\d.e-]+ (ASK|BID)\n", line)]
    assert len(trades) >= 3, f"stdout: {lines}\nstderr: {err}"


def test_the_configuration_table_lists_every_field_with_its_default():
    import dataclasses

    import upbit_sync as us

    table = README.read_text(encoding="utf-8").split("## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:3] for line in table.splitlines() if line.startswith("| `")]
    listed: dict[str, str] = {}
    for names, defaults in rows:
        fields = re.findall(r"`(\w+)`", names)
        values = [v.strip().strip("`") for v in defaults.split(",")]
        listed.update(zip(fields, values if len(values) == len(fields) else values * len(fields),
                          strict=True))
    for field in dataclasses.fields(us.Config):
        assert field.name in listed, f"README's configuration table leaves out {field.name}"
        default = field.default
        shown = f'"{default}"' if isinstance(default, str) else repr(default)
        assert listed[field.name] in (shown, repr(default), str(default)), (
            f"{field.name}: README says {listed[field.name]}, the default is {shown}")
