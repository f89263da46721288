"""ResultPreview: the first rows of a result CSV in a table, and reading only those rows.

:func:`read_preview` reads the header and at most ``limit`` rows of a data file with
the :mod:`csv` module (UTF-8, a byte-order mark tolerated), plus one row more to know
whether there are others: it never reads a whole file (results can be gigabytes), and
stops after :data:`READ_BUDGET` characters even if rows are huge.  It blocks: call it
in a thread (``asyncio.to_thread``).

:class:`ResultPreview` shows a :class:`Preview`: a caption (what is shown, from which
file) and a :class:`~amc_tui.tui.widgets.table.FixedTable` (each column as wide as its
widest cell) whose cells are Rich ``Text``, never markup (values come from AMC:
``[red]x`` shows as typed).  A value spanning lines is
shown on one (each line break as ``↵``), control characters as spaces, long values
cut with an ellipsis.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TextIO

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from amc_tui.output import terminal_text
from amc_tui.tui.format import clip
from amc_tui.tui.widgets.row_drawing import RowDrawing
from amc_tui.tui.widgets.table import FixedTable

PREVIEW_ROWS = 50
"""Rows shown in the preview."""
READ_BUDGET = 4_000_000
"""Most characters read for a preview, whatever the rows hold."""
CELL_WIDTH = 60
"""Longest value shown in a cell (longer ones end with an ellipsis)."""
NEWLINE_MARK = "↵"


@dataclass(frozen=True)
class Preview:
    """The first rows of one data file (or why there are none)."""

    path: Path
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    more: bool = False
    """Whether the file has rows after these."""
    error: str | None = None

    @property
    def empty(self) -> bool:
        return self.error is None and not self.rows


def _bounded_lines(file: TextIO, budget: int) -> Iterator[str]:
    """The file's lines, stopping once ``budget`` characters were read."""
    while budget > 0:
        line = file.readline(budget)
        if not line:
            return
        budget -= len(line)
        yield line


def read_preview(path: Path, limit: int = PREVIEW_ROWS, budget: int = READ_BUDGET) -> Preview:
    """The header and at most ``limit`` rows of the CSV at ``path`` (blocking)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            # Blank lines read as empty records: they are no rows.
            reader = (row for row in csv.reader(_bounded_lines(file, budget)) if row)
            header = next(reader, None)
            if header is None:
                return Preview(path)
            rows = list(islice(reader, limit))
            more = next(reader, None) is not None or file.read(1) != ""
    except UnicodeDecodeError:
        return Preview(path, error="The file is not UTF-8 text")
    except csv.Error as error:
        return Preview(path, error=f"The file is not CSV as expected ({error})")
    except OSError as error:
        return Preview(path, error=f"The file cannot be read ({error.strerror or error})")
    return Preview(path, header=header, rows=rows, more=more)


def cell_text(value: str) -> str:
    """``value`` on one line: line breaks as ``↵``, control characters as spaces, cut."""
    one_line = value.replace("\r\n", NEWLINE_MARK).replace("\n", NEWLINE_MARK)
    return clip(terminal_text(one_line.replace("\r", NEWLINE_MARK)), CELL_WIDTH)


def caption(preview: Preview, files: int = 1) -> Text:
    """What the table shows: ``First 50 rows of 1.csv``, ``All 3 rows…``, or why none."""
    name = preview.path.name
    where = f" of {name}" if files == 1 else f" of {name} (data file 1 of {files})"
    if preview.error is not None:
        return Text(f"No preview{where}: {preview.error}", style="red")
    if not preview.header:
        return Text(f"The result is empty: {name} has no columns", style="dim")
    if not preview.rows:
        return Text(f"The result is empty: {name} has no rows", style="dim")
    count = len(preview.rows)
    if preview.more:
        return Text(f"First {count} rows{where}")
    return Text(f"All {count} row{'s' if count != 1 else ''}{where}")


class ResultPreview(Vertical):
    """A caption and a table of a result's first rows (hidden until :meth:`show`)."""

    def compose(self) -> ComposeResult:
        yield Static("", id="preview-caption", classes="preview-caption")
        yield RowDrawing(id="preview-table", cursor_type="row", zebra_stripes=True)

    @property
    def table(self) -> FixedTable:
        return self.query_one("#preview-table", FixedTable)

    def show(self, preview: Preview, files: int = 1) -> None:
        """Draw ``preview`` (``files``: the result's data files, for the caption)."""
        self.query_one("#preview-caption", Static).update(caption(preview, files))
        table = self.table
        table.clear(columns=True)
        table.display = bool(preview.header) and preview.error is None
        if not table.display:
            return
        width = max([len(preview.header), *(len(row) for row in preview.rows)])
        labels = [*preview.header, *(f"column {n}" for n in range(len(preview.header), width))]
        rows = [[cell_text(value) for value in row] for row in preview.rows]
        # Each column as wide as its widest cell, given, not left for the table to
        # measure: a frame drawn before it measured kept the narrower columns (and a
        # FixedTable skips that measuring).
        for n, label in enumerate(labels):
            widest = max((cell_len(row[n]) for row in rows if n < len(row)), default=0)
            name = cell_text(label)
            table.add_column(Text(name, style="bold"), width=max(cell_len(name), widest))
        for row in rows:
            table.add_row(*(Text(value) for value in [*row, *([""] * (width - len(row)))]))

    def show_message(self, message: str, *, error: bool = False) -> None:
        """A line instead of a table (e.g. "No data file on disk")."""
        self.query_one("#preview-caption", Static).update(
            Text(message, style="red" if error else "dim")
        )
        self.table.clear(columns=True)
        self.table.display = False
