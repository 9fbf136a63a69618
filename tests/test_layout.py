"""The layout rules of docs/architecture.md, checked on the source: a change that breaks one fails here
rather than in a review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "upbit_sync"
MODULES = {p.stem: p for p in PACKAGE.glob("*.py")}
# Modules below the threads: they know nothing of sockets, threads of ours or subscriptions.
PURE = ("types", "formats", "protocol", "auth", "ratelimit", "errors", "config", "metrics")
THREADED = {"connection", "link", "manager", "dispatch", "subscriptions", "client", "readahead"}


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """Every ``from .x import a, b`` of a module, at run time (imports under TYPE_CHECKING left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    checking: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            checking.update(id(n) for child in node.body for n in ast.walk(child))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level >= 1 and id(node) not in checking:
            module = (node.module or "").split(".")[0]
            found.append((module, [alias.name for alias in node.names]))
    return found


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_a_private_name_of_another(name):
    private = [(module, n) for module, names in imports(MODULES[name]) for n in names
               if n.startswith("_") and n != "__version__"]
    assert not private, f"{name}.py imports private names: {private}"


@pytest.mark.parametrize("name", PURE)
def test_the_pure_modules_import_nothing_threaded(name):
    threaded = {module for module, _ in imports(MODULES[name])} & THREADED
    assert not threaded, f"{name}.py imports {threaded}"


def test_connection_knows_no_subscriptions():
    modules = {module for module, _ in imports(MODULES["connection"])}
    assert not modules & {"subscriptions", "link", "manager", "client", "dispatch"}


@pytest.mark.parametrize("name", sorted(set(MODULES) - {"cli", "__main__"}))
def test_the_library_never_imports_its_cli_or_fake_exchange(name):
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            module = (node.module or "").split(".")[0]
            assert module not in ("cli", "testing"), f"{name}.py: {ast.unparse(node)}"


def test_the_manager_only_supervises():
    source = MODULES["manager"].read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 400
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= 40, f"manager.{node.name} has {length} lines"


def test_no_module_sends_readers_to_notes_that_do_not_ship():
    for path in [*PACKAGE.rglob("*.py"), PACKAGE.parent / "README.md", *PACKAGE.parent.glob("docs/*.md")]:
        text = path.read_text(encoding="utf-8")
        for name in ("DESIGN.md", "UPBIT_PROTOCOL.md", "LIBRARY_FACTS.md", "UPBIT_CHANNELS.md", "STYLE.md"):
            assert name not in text, f"{path.relative_to(PACKAGE.parent)} names {name}, which is not shipped"


def test_importing_the_sdk_leaves_the_heavy_optional_parts_unloaded():
    """requests, PyJWT (and cryptography with it), http.server, redis and prometheus-client load when
    first used: a public-only stream pays megabytes of RSS less (docs/architecture.md §6)."""
    import subprocess
    import sys

    heavy = ["requests", "jwt", "cryptography", "http.server", "redis", "prometheus_client", "websockets"]
    code = f"import sys, upbit_sync; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                          cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"imported at start: {done.stdout.strip()}"
