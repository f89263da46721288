"""How a batch looks as a row of the history table: its columns, their widths, its cells.

The widths are fixed for the screen's width (the table never measures its cells);
every cell read from the store is :class:`~rich.text.Text`, never markup.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from amc_tui.domain import BatchCounts, BatchStatus, BatchSummary, ExecutionStatus
from amc_tui.output import format_duration
from amc_tui.tui.format import EXECUTION_LOOK, batch_state, clip, local_time

COLUMNS = ("id", "name", "created", "took", "status", "counts")
HEADINGS = ("Batch", "Name", "Created", "Took", "Status", "Executions")


def column_widths(screen_width: int) -> dict[str, int]:
    """Content widths for the screen's width; the name gets what is left.

    Besides: a one-column margin on the left, one for the scrollbar, one space after
    every column but the last.  Below 100 columns the creation time has no year.
    """
    wide = screen_width >= 100
    fixed = {"id": 14, "created": 16 if wide else 11, "took": 7, "status": 13}
    fixed["counts"] = 16 if wide else 13
    name = screen_width - 2 - (len(COLUMNS) - 1) - sum(fixed.values())
    return {**fixed, "name": max(8, min(name, 60))}


def counts_cell(counts: BatchCounts) -> Text:
    """``✔12 ✘1 /24``: succeeded, failed, then cancelled and unknown when there are any."""
    parts = [(ExecutionStatus.SUCCEEDED, counts.succeeded), (ExecutionStatus.FAILED, counts.failed)]
    if counts.cancelled:
        parts.append((ExecutionStatus.CANCELLED, counts.cancelled))
    if counts.unknown:
        parts.append((ExecutionStatus.UNKNOWN, counts.unknown))
    text = Text()
    for status, number in parts:
        symbol, colour = EXECUTION_LOOK[status]
        text.append(f"{symbol}{number} ", style=colour)
    text.append(f"/{counts.total}")
    return text


def took(summary: BatchSummary, now: datetime) -> Text:
    """Run time: start (or creation) to finish, or so far for a running batch."""
    start = summary.started_at or summary.created_at
    if summary.finished_at is not None:
        return Text(format_duration((summary.finished_at - start).total_seconds()))
    if summary.status is BatchStatus.RUNNING:
        return Text(format_duration((now - start).total_seconds()))
    return Text("-")


def row_cells(summary: BatchSummary, widths: dict[str, int], now: datetime) -> list[Text]:
    """The row's cells, in :data:`COLUMNS` order, for the content ``widths``: texts, which
    the table lays out the short way (a ``str`` would be parsed as markup first)."""
    created = local_time(summary.created_at)
    return [
        Text(summary.id),  # read back from the store: text, whatever it holds
        Text(clip(summary.name or "-", widths["name"])),
        Text(created if widths["created"] >= len(created) else created[5:]),
        took(summary, now),
        batch_state(summary.status),
        counts_cell(summary.counts),
    ]
