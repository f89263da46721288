"""FixedTable: a DataTable whose columns all have a width, so new rows are not measured.

Textual's :class:`~textual.widgets.DataTable` measures every cell of every new row
when it is next idle, to widen auto-width columns.  Columns given a ``width`` never
use that measure, yet it is still taken: for a dashboard of 1,000 executions, 6,000
renders of cell text, which held the screen's first frame back by a large fraction of
a second.  This table skips the measuring while every column has a fixed width (and
rows are one line high, as ``add_row`` makes them by default); a column without a
width brings the normal behaviour back.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import DataTable
from textual.widgets.data_table import RowKey


class FixedTable(DataTable[object]):
    """See the module docstring."""

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        new_rows = list(new_rows)
        fixed = all(not column.auto_width for column in self.columns.values())
        rows = [self.rows[key] for key in new_rows if key in self.rows]
        if fixed and all(row.height == 1 and row.label is None for row in rows):
            new_rows = []  # nothing to measure; the table's size is still computed again
        super()._update_dimensions(new_rows)
