"""FixedTable: a DataTable whose columns all have a width, so new rows are not measured.

Textual's :class:`~textual.widgets.DataTable` measures every cell of every new row
when it is next idle, to widen auto-width columns.  Columns given a ``width`` never
use that measure, yet it is still taken: for a dashboard of 1,000 executions, 6,000
renders of cell text, which held the screen's first frame back by a large fraction of
a second.  This table skips the measuring while every column has a fixed width (and
rows are one line high, as ``add_row`` makes them by default); a column without a
width brings the normal behaviour back.

:meth:`FixedTable.add_plain_rows` adds many one-line rows at once.  ``add_row`` does,
for each row, work meant for one: it sorts the columns again, sets the cursor again
(a reactive, with its validation and watchers) and schedules an idle check; for
1,000 rows that was about a third of the time a dashboard took to open.

When it has the focus, the table also runs the binding a key selects where the key
arrives: its own (the cursor keys, page up and down…), its screen's or the app's.
Textual checks those only once the key has bubbled up through every ancestor back
to the app: each step is a message that waits its turn behind everything else ready
on the event loop, which, with a batch running, made a cursor move wait several turns
for nothing.  The binding run is the one Textual would run (the app checks priority
bindings before handing the key on; after them, the first enabled binding from the
focused widget up), and every key takes the same path, so keys typed in a burst keep
their order.  A key no binding takes bubbles up as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import zip_longest

from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import CellType, DuplicateKey, Row, RowKey


class FixedTable(DataTable[object]):
    """See the module docstring."""

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        new_rows = list(new_rows)
        fixed = all(not column.auto_width for column in self.columns.values())
        rows = [self.rows[key] for key in new_rows if key in self.rows]
        if fixed and all(row.height == 1 and row.label is None for row in rows):
            new_rows = []  # nothing to measure; the table's size is still computed again
        super()._update_dimensions(new_rows)

    async def _on_key(self, event: events.Key) -> None:
        if await self.run_binding(event.key):
            event.stop()
            event.prevent_default()  # Widget._on_key would look for a key_ method

    async def run_binding(self, key: str) -> bool:
        """Run the enabled, non-priority binding the app would run for ``key`` once it
        had bubbled up (this table's, its screen's or the app's); False if there is
        none, or it declined."""
        if not self.has_focus:
            return False
        active = self.screen.active_bindings.get(key)
        if active is None or active.binding.priority or not active.enabled:
            return False
        return await self.app.run_action(active.binding.action, active.node)

    def add_plain_rows(self, rows: Sequence[tuple[str, Sequence[CellType]]]) -> None:
        """Add ``(key, cells)`` rows at the bottom, each one line high and without a
        label: the table ends as ``add_row(*cells, key=key)`` for each would leave it.

        Raises :class:`~textual.widgets.data_table.DuplicateKey` or ``ValueError``
        (more cells than columns), adding nothing, if a row is refused.
        """
        columns = self.ordered_columns
        keys = [RowKey(key) for key, _ in rows]
        if len(set(keys)) < len(keys) or any(key in self._row_locations for key in keys):
            raise DuplicateKey("a row key given already exists (or is given twice)")
        if any(len(cells) > len(columns) for _, cells in rows):
            raise ValueError("More values provided than there are columns.")
        if not rows:
            return
        was_empty = self.row_count == 0
        index = self.row_count
        for row_key, (_, cells) in zip(keys, rows, strict=True):
            self._row_locations[row_key] = index
            index += 1
            self._data[row_key] = {column.key: cell for column, cell in zip_longest(columns, cells)}
            self.rows[row_key] = Row(row_key, 1, None, False)
        self._new_rows.update(keys)
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        if was_empty and columns and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()
        self._update_count += 1
        self.check_idle()
