"""The instances table: its widget, its columns and their widths, an instance's cells,
and whether the filter's text matches an instance.

The widths are fixed for the screen's width (the table never measures its cells); below
``WIDE_FROM`` columns the type is abbreviated (STD/SBX), and the filter matches that
too.  Every cell that comes from AMC is :class:`~rich.text.Text`, never markup.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.binding import Binding

from amc_tui.domain import Execution, Instance, InstanceType
from amc_tui.tui.format import clip, execution_state, since
from amc_tui.tui.widgets.row_drawing import RowDrawing

COLUMNS = ("mark", "name", "amc_id", "type", "region", "result")
LABELS = ("Sel", "Name", "AMC id", "Type", "Region", "Last result")
MARK_ON = "[x]"
MARK_OFF = "[ ]"
WIDE_FROM = 100
"""From this many columns the type is spelled out and ages say "ago"."""
SHORT_TYPE = {InstanceType.STANDARD: "STD", InstanceType.SANDBOX: "SBX"}


class InstancesTable(RowDrawing):
    """The instances: ``enter`` goes on to the query of a new batch (a plain table's
    ``enter`` selects the row).  A binding of the table, not a priority one of the
    screen: a priority binding runs as soon as the app reads the key, ahead of the
    ``space`` and arrows typed before it, so a quick ``space down space enter`` went
    on with fewer instances than were chosen, or none.  In the filter box, ``enter``
    is the box's."""

    BINDINGS = [Binding("enter", "screen.next", "Next", id="instances-next")]


def column_widths(total_width: int) -> dict[str, int]:
    """Widths for a table ``total_width`` columns wide.

    Each cell has one space each side, and two columns are kept for the scrollbar.
    The name takes what the others leave; below ``WIDE_FROM`` columns the type is
    abbreviated (STD/SBX) and the region and result are narrower.
    """
    wide = total_width >= WIDE_FROM
    fixed = {
        "mark": len(MARK_ON),
        "amc_id": 12,
        "type": 8 if wide else 4,
        "region": 9 if wide else 6,
        "result": 24 if wide else 18,
    }
    free = total_width - 2 - 2 * len(COLUMNS) - sum(fixed.values())
    return {**fixed, "name": max(12, free)}


def heading(key: str, label: str, widths: dict[str, int]) -> str:
    """The column's heading: its label, the result's saying ", age" where "ago" has no room."""
    if key == "result" and widths[key] < len(label) + 11:  # no room for "ago"
        return label + ", age"
    return label


def matches(instance: Instance, needle: str) -> bool:
    """Whether the filter text is in the name, AMC id, region or type (any case)."""
    kind = instance.instance_type
    fields = (instance.name, instance.instance_id, instance.region, kind, SHORT_TYPE[kind])
    return not needle or any(needle in field.casefold() for field in fields)


def row_cells(
    instance: Instance, widths: dict[str, int], mark: Text, result: Text
) -> tuple[Text, ...]:
    """The row's cells, in :data:`COLUMNS` order, for the content ``widths``; the mark
    (:func:`mark_cell`) and the last result (:func:`result_cell`) are given."""
    return (
        mark,
        # Text, never str: a str cell is Rich markup, and these come from AMC.
        Text(clip(instance.name, widths["name"])),
        Text(clip(instance.instance_id, widths["amc_id"])),
        type_cell(instance, widths["type"]),
        Text(clip(instance.region or "-", widths["region"])),
        result,
    )


def mark_cell(selected: bool) -> Text:
    """``[x]`` for a selected instance, ``[ ]`` for another."""
    return Text(MARK_ON if selected else MARK_OFF, style="bold green" if selected else "dim")


def type_cell(instance: Instance, width: int) -> Text:
    kind = instance.instance_type
    label = kind.value if width >= len(kind.value) else SHORT_TYPE[kind]
    return Text(clip(label, width), style="yellow" if kind is InstanceType.SANDBOX else "")


def result_cell(execution: Execution | None, now: datetime, width: int) -> Text:
    """``✔ SUCCEEDED 3m 05s ago`` (state by symbol and colour, then its age); ``-``."""
    if execution is None:
        return Text("-", style="dim")
    text = execution_state(execution.status)
    age = since(execution.updated_at, now)
    with_ago = f" {age} ago"
    text.append(with_ago if len(text) + len(with_ago) <= width else f" {age}", style="dim")
    text.truncate(width, overflow="ellipsis")
    return text
