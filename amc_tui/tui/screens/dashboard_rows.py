"""How an execution looks as a row of the dashboard's table: its columns, their widths, its cells.

The widths are fixed for the screen's width (the table never measures its cells);
every cell that comes from AMC or the store (instance, AMC execution id, message) is
:class:`~rich.text.Text`, never markup.
"""

from __future__ import annotations

from rich.text import Text

from amc_tui.domain import Execution, ExecutionStatus
from amc_tui.output import format_duration
from amc_tui.tui.format import clip, execution_state, since
from amc_tui.tui.live import Row
from amc_tui.tui.services import Clock

COLUMNS = ("state", "instance", "try", "time", "amc_id", "message")
LABELS = {
    "state": "State",
    "instance": "Instance",
    "try": "Try",
    "time": "Time",
    "amc_id": "AMC execution",
    "message": "Message",
}


def column_widths(total_width: int) -> dict[str, int]:
    """Widths that fill ``total_width`` columns.

    Each cell has one space each side, and the table keeps two columns for its
    scrollbar.  The AMC execution id (a UUID) is shown whole when there is room, else
    by its first 8 characters, like a short commit hash.
    """
    fixed = {"state": 12, "try": 3, "time": 7}
    free = max(36, total_width - 2 - 2 * len(COLUMNS) - sum(fixed.values()))
    amc_id = 36 if free >= 110 else 8
    instance = max(14, (free - amc_id) * 60 // 100)
    message = max(8, free - amc_id - instance)
    return {**fixed, "instance": instance, "amc_id": amc_id, "message": message}


def heading(key: str, widths: dict[str, int]) -> str:
    """The column's heading; a short one for the AMC id shown by its first characters."""
    return "AMC id" if key == "amc_id" and widths[key] < 13 else LABELS[key]


def row_cells(row: Row, widths: dict[str, int], max_attempts: int, now: Clock) -> tuple[Text, ...]:
    """The row's cells, in :data:`COLUMNS` order, for the content ``widths``."""
    ex = row.execution
    return (
        execution_state(ex.status),
        Text(clip(ex.instance_name or ex.instance_id, widths["instance"])),
        Text(try_cell(ex, max_attempts)),  # Text, not str: no markup to look for
        Text(time_cell(ex, now)),
        Text((ex.amc_execution_id or "-")[: widths["amc_id"]]),  # AMC's: not markup
        Text(clip(row.note, widths["message"]), style=note_style(ex)),
    )


def try_cell(ex: Execution, max_attempts: int) -> str:
    """``2/4``: the try it is on, of the most it may have; ``-`` before the first."""
    if ex.attempts == 0:
        return "-"
    return f"{ex.attempts}/{max_attempts}"


def time_cell(ex: Execution, now: Clock) -> str:
    """The time in the current state (``now`` is read for that only), or the run time
    once finished."""
    if ex.status.is_terminal:
        start = ex.submitted_at or ex.created_at
        end = ex.finished_at or ex.updated_at
        return format_duration((end - start).total_seconds())
    return since(ex.updated_at, now())


def note_style(ex: Execution) -> str:
    if ex.status is ExecutionStatus.FAILED:
        return "red"
    if ex.status is ExecutionStatus.UNKNOWN:
        return "magenta"
    return ""
