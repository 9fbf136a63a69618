"""The ``upbit-sync`` commands never print a password held in a URL of the ``UPBIT_*`` environment (issue 18
§5): a malformed Redis backend or WebSocket URL is refused in one line, and a URL that cannot be reached is
named, each with its userinfo masked. Run as a user runs them, in an interpreter of their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.examples.run import Run
from tests.examples.test_cli_commands import CLI, closed_port

PASSWORD = "pw-5e0c1b-never-printed"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    nowhere = closed_port()
    rest = {"UPBIT_REST_URL": f"http://127.0.0.1:{nowhere}"}
    started = {
        "backend malformed": Run([*CLI, "stream", "ticker", "KRW-BTC"], env={
            **rest, "UPBIT_RATE_LIMIT_BACKEND": f"redis//:{PASSWORD}@127.0.0.1:6379/0"}),
        "backend of no kind": Run([*CLI, "markets"], env={
            **rest, "UPBIT_RATE_LIMIT_BACKEND": f"postgres://limits:{PASSWORD}@127.0.0.1/db"}),
        "ws url bad port": Run([*CLI, "stream", "ticker", "KRW-BTC"], env={
            **rest, "UPBIT_WS_URL": f"wss://user:{PASSWORD}@127.0.0.1:port/websocket/v1"}),
        "ws url slash in password": Run([*CLI, "record", "trade", "KRW-BTC", "--out",
                                         str(tmp_path_factory.mktemp("never-written"))], env={
            **rest, "UPBIT_WS_URL": f"wss://user:pa/ss{PASSWORD}@127.0.0.1/websocket/v1"}),
        "rest unreachable": Run([*CLI, "markets"], env={
            "UPBIT_REST_URL": f"http://user:{PASSWORD}@127.0.0.1:{nowhere}"}),
        "ws unreachable": Run([*CLI, "stream", "ticker", "KRW-BTC"], env={
            **rest, "UPBIT_WS_URL": f"ws://user:{PASSWORD}@127.0.0.1:{nowhere}/websocket/v1"}),
    }
    yield started
    for run in started.values():
        run.kill()


def _output(run: Run) -> str:
    _, out, err = run.result()
    return out + err


@pytest.mark.parametrize(("name", "command", "field"), [
    ("backend malformed", "stream", "rate_limit_backend"),
    ("backend of no kind", "markets", "rate_limit_backend"),
    ("ws url bad port", "stream", "public_url"),
    ("ws url slash in password", "record", "public_url"),
])
def test_a_malformed_url_in_the_environment_is_refused_without_its_password(
        runs: dict[str, Run], name: str, command: str, field: str) -> None:
    line = runs[name].one_line_error(2)
    assert line.startswith(f"upbit-sync {command}: error: the UPBIT_* environment: {field}"), line
    assert "****" in line, line
    assert PASSWORD not in _output(runs[name])


def test_markets_names_an_unreachable_rest_url_without_its_password(runs: dict[str, Run]) -> None:
    line = runs["rest unreachable"].one_line_error(1)
    assert "http://user:****@127.0.0.1:" in line, line
    assert PASSWORD not in _output(runs["rest unreachable"])


def test_stream_names_an_unreachable_websocket_url_without_its_password(runs: dict[str, Run]) -> None:
    line = runs["ws unreachable"].one_line_error(1)
    assert line.startswith("upbit-sync stream: error: cannot connect public to ws://user:****@127.0.0.1:"), (
        line)
    assert PASSWORD not in _output(runs["ws unreachable"])
