"""The layout rules of docs/architecture.md, checked on the source: a change that breaks one fails here
rather than in a review. Imports are read from the AST of every module of the package, imports made
only for type checking and inside functions included (they tie modules together all the same)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "upbit_sync"

# Every module of upbit_sync/ on its floor, from the bottom up (docs/architecture.md §1); a package
# is named once and placed as a whole. A module imports from its own floor (without making a circle)
# or from below, never from above. A new module takes one line here.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model", ("_version", "redact", "errors", "formats", "config", "indicators", "types", "health")),
    ("wire", ("protocol", "auth", "deflate", "readahead", "ratelimit", "feed_entries")),
    ("delivery", ("connection", "backfill", "latency", "dispatch", "router", "subscriptions", "link",
                  "feed_link", "metrics", "rest", "record_format", "record_files", "record_parquet",
                  "recorder", "recording")),
    ("supervision", ("manager", "feed_manager")),
    ("face", ("stream", "client_core", "candles", "frames", "tracker", "listings", "client", "publisher",
              "__init__")),
    ("tools", ("cli", "__main__", "testing")),
)
FLOOR = {unit: floor for floor, (_, units) in enumerate(LAYERS) for unit in units}
MAX_LINES = 600
MAX_LINES_TESTING = 700  # the fake exchange's rooms may be a little larger
# Modules below the threads: at run time they import nothing that runs a thread of ours or routes.
PURE = ("types", "formats", "protocol", "auth", "deflate", "ratelimit", "errors", "config", "health",
        "metrics")
# The command line and the fake exchange: the library never imports them.
TOOLS = ("cli", "__main__", "testing")
THREADED = {"connection", "link", "feed_link", "feed_manager", "publisher", "manager",
            "dispatch", "subscriptions", "router", "client", "stream",
            "candles", "readahead", "listings"}


def _name(path: Path) -> str:
    """A module's dotted name inside the package: ``types.market``, ``types`` for types/__init__.py,
    ``__init__`` for the package's own."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


MODULES = {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def unit(module: str) -> str:
    """What a module is placed by in LAYERS: the top-level module or package it belongs to."""
    return module.split(".")[0]


def relative(module: str) -> str:
    return MODULES[module].relative_to(PACKAGE).as_posix()


def _checking_only(tree: ast.Module) -> set[int]:
    """The ids of the nodes under ``if TYPE_CHECKING:``."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found.update(id(n) for child in node.body for n in ast.walk(child))
    return found


def _package_of(module: str) -> list[str]:
    """The package a module's relative imports start from."""
    parts = [] if module == "__init__" else module.split(".")
    return parts if MODULES[module].name == "__init__.py" else parts[:-1]


def _resolve(parts: list[str]) -> str:
    return ".".join(parts) or "__init__"


def edges(module: str, *, checking: bool = True) -> Iterator[tuple[str, list[str]]]:
    """Every module of the package that ``module`` imports, with the names it takes; ``checking``:
    imports made only for type checking too. Importing a module of a subpackage runs the subpackage
    first: from outside it, that is an import of the subpackage too."""
    for target, names in _imports(module, checking):
        yield target, names
        if "." in target and unit(target) != unit(module):
            yield unit(target), []


def _imports(module: str, checking: bool) -> Iterator[tuple[str, list[str]]]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    skip = set() if checking else _checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            base = _package_of(module)
            base = base[:len(base) - node.level + 1] if node.level > 1 else base
            target = base + (node.module.split(".") if node.module else [])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "upbit_sync":
            target = (node.module or "").split(".")[1:]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "upbit_sync":
                    yield _resolve(alias.name.split(".")[1:]), []
            continue
        else:
            continue
        names = [alias.name for alias in node.names]
        submodules = [name for name in names if _resolve([*target, name]) in MODULES]
        for name in submodules:  # from . import link, or from .types import market
            yield _resolve([*target, name]), []
        if len(submodules) < len(names):
            yield _resolve(target), [name for name in names if name not in submodules]


def graph() -> dict[str, set[str]]:
    return {module: {target for target, _ in edges(module) if target != module} for module in MODULES}


def circles(links: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in links.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(links):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_floor():
    missing = sorted({unit(module) for module in MODULES} - set(FLOOR))
    assert not missing, f"give {missing} a line in LAYERS (tests/test_layout.py)"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_one_of_a_higher_floor(module):
    here = FLOOR[unit(module)]
    above = sorted({target for target, _ in edges(module) if FLOOR.get(unit(target), here) > here})
    assert not above, (f"{relative(module)} ({LAYERS[here][0]}) imports {above}, from a higher floor: "
                       "move what it needs down, or let it own a type or a Protocol")


def test_no_circle_of_imports():
    found = circles(graph())
    assert not found, f"circles of imports: {found}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_over_its_length(module):
    path = relative(module)
    limit = MAX_LINES_TESTING if unit(module) == "testing" else MAX_LINES
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= limit, f"{path} has {lines} lines (at most {limit}): split it by its jobs"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if unit(m) != "testing"))
def test_no_module_imports_a_private_name_of_another(module):
    private = [(target, name) for target, names in edges(module, checking=False) for name in names
               if name.startswith("_") and name != "__version__"]
    assert not private, f"{relative(module)} imports private names: {private}"


@pytest.mark.parametrize("name", PURE)
def test_the_pure_modules_import_nothing_threaded(name):
    modules = [m for m in MODULES if unit(m) == name]
    threaded = {unit(target) for m in modules for target, _ in edges(m, checking=False)} & THREADED
    assert not threaded, f"{name} imports {threaded}"


def test_connection_knows_no_subscriptions():
    modules = {unit(target) for target, _ in edges("connection", checking=False)}
    assert not modules & {"subscriptions", "router", "link", "manager", "client", "dispatch"}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if unit(m) not in TOOLS))
def test_the_library_never_imports_its_cli_or_fake_exchange(module):
    for target, _ in edges(module):
        assert unit(target) not in ("cli", "testing"), f"{relative(module)} imports {target}"


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
        for name in ("DESIGN.md", "UPBIT_PROTOCOL.md", "LIBRARY_FACTS.md", "UPBIT_CHANNELS.md",
                     "UPBIT_TRADING.md",
                     "STYLE.md"):
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
