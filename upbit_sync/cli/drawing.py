"""What the commands draw while they run: a live table (``stream --format table``, the demo) and a status
line (``record``).

On a terminal, rich draws them (``Live`` with a ``Table``, ``Progress``): redrawn in place, other lines
printed above. Elsewhere (a pipe, a file), or where rich is not installed, they are plain lines. rich
is imported here alone, and only to draw on a terminal: piping never loads it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from .output import PRINT_LOCK, say
from .text import table

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live
    from rich.progress import Progress, TaskID
    from rich.text import Text

_SIGNED = re.compile(r"[+-][\d.,]+%")  # a change such as +1.25%: green up, red down


@dataclass(frozen=True)
class Board:
    """One drawing of a live table: what the plain lines and rich's Table are both made from."""

    title: str
    headers: tuple[str, ...]
    numeric: tuple[bool, ...]  # per column: a number, right-aligned
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)  # lines under the table (the newest events)
    empty: str = "waiting for data..."  # shown instead of a table without rows


def board_lines(board: Board) -> list[str]:
    """A board as plain lines: the title, the table, the notes, each after a blank line, and a blank
    line that ends the drawing."""
    lines = [board.title, ""]
    lines += table(board.headers, board.rows, numeric=board.numeric) if board.rows else [board.empty]
    if board.notes:
        lines += ["", *board.notes]
    return [*lines, ""]


class Screen(Protocol):
    """Where a live table is shown: ``show`` draws the newest board, ``say`` adds a line (from any
    thread), ``close`` leaves the last drawing as it is."""

    def say(self, text: str) -> None: ...

    def show(self, board: Board) -> None: ...

    def close(self) -> None: ...


class PlainScreen:
    """A screen that is a stream of lines: each board printed whole by one print, as ``render`` writes it."""

    def __init__(self, render: Callable[[Board], list[str]] = board_lines) -> None:
        self.render = render

    def say(self, text: str) -> None:
        say(text)

    def show(self, board: Board) -> None:
        say("\n".join(self.render(board)))

    def close(self) -> None:
        pass


class LiveScreen:
    """rich's Live on a terminal: the board redrawn in place, the lines said printed above it.

    Never refreshed by a thread of rich's own (``auto_refresh=False``): each ``show`` draws."""

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = console if console is not None else Console(highlight=False)
        self._live: Live = Live(console=self.console, auto_refresh=False, redirect_stdout=False,
                                redirect_stderr=False)

    def say(self, text: str) -> None:
        with PRINT_LOCK:  # soft-wrapped: a long line stays one line, as the terminal folds it
            self.console.print(_text(text), soft_wrap=True)

    def show(self, board: Board) -> None:
        drawing = rich_board(board)
        with PRINT_LOCK:
            self._live.start()
            self._live.update(drawing, refresh=True)

    def close(self) -> None:
        with PRINT_LOCK:
            self._live.stop()


def screen(render: Callable[[Board], list[str]] = board_lines) -> Screen:
    """A LiveScreen when stdout is a terminal and rich is installed; plain lines written by ``render``
    otherwise."""
    if sys.stdout.isatty():
        try:
            return LiveScreen()
        except ImportError:
            pass
    return PlainScreen(render)


def rich_board(board: Board) -> RenderableType:
    """A board as rich draws it: the title in bold, a table with its numbers right-aligned and changes
    in colour, the notes under it."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[RenderableType] = [Text(board.title, style="bold")]
    if board.rows:
        drawn = Table(box=box.SIMPLE_HEAD, header_style="bold", show_edge=False, pad_edge=False)
        for header, right in zip(board.headers, board.numeric, strict=True):
            drawn.add_column(header, justify="right" if right else "left", no_wrap=True)
        for row in board.rows:
            drawn.add_row(*(_cell(cell) for cell in row))
        parts.append(drawn)
    else:
        parts += [Text(""), Text(board.empty, style="dim")]
    if board.notes:
        parts += [Text(""), *(_text(note) for note in board.notes)]
    return Group(*parts)


def _cell(cell: str) -> Text:
    from rich.text import Text

    if _SIGNED.fullmatch(cell):
        return Text(cell, style="green" if cell.startswith("+") else "red")
    return Text(cell)


def _text(line: str) -> Text:
    """A line as it is: never read as rich markup (a title may hold ``[...]``) or emoji codes."""
    from rich.text import Text

    return Text(line)


# ---- the status line of `record` ---------------------------------------------------------------------


class Status(Protocol):
    """A status line on stderr: ``show`` replaces it, ``pulse`` keeps it alive between two, ``say``
    adds a line above it, ``close`` leaves the last one."""

    def show(self, line: str) -> None: ...

    def pulse(self) -> None: ...

    def say(self, line: str) -> None: ...

    def close(self) -> None: ...


class PlainStatus:
    """Each status a line of its own on stderr (a log keeps them all)."""

    def show(self, line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def pulse(self) -> None:
        pass

    def say(self, line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


class RichStatus:
    """rich's Progress on a terminal's stderr: a spinner, the status and the time it has run, redrawn in
    place on each ``show`` and ``pulse`` (no refresh thread of rich's own)."""

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = console if console is not None else Console(stderr=True, highlight=False)
        self._progress: Progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}", markup=False), TimeElapsedColumn(),
            console=self.console, auto_refresh=False, redirect_stdout=False, redirect_stderr=False)
        self._task: TaskID | None = None

    def show(self, line: str) -> None:
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(line, total=None)
        else:
            self._progress.update(self._task, description=line)
        self._progress.refresh()

    def pulse(self) -> None:
        if self._task is not None:
            self._progress.refresh()

    def say(self, line: str) -> None:
        self.console.print(_text(line), soft_wrap=True)

    def close(self) -> None:
        self._progress.stop()


def status_line() -> Status:
    """A RichStatus when stderr is a terminal and rich is installed; plain lines otherwise."""
    if sys.stderr.isatty():
        try:
            return RichStatus()
        except ImportError:
            pass
    return PlainStatus()
