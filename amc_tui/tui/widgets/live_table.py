"""LiveTable: a FixedTable whose rows change many times a second, each redrawn alone.

Textual's :class:`~textual.widgets.DataTable` keys every one of its render caches on
one counter that any change of any cell moves on, and refreshes the whole widget:
after a single ``update_cell``, even of a row out of sight, the next frame renders
every visible cell again through Rich.  At 120x40 that is some 240 cells, 50-70 ms
on the machine the benchmarks run on (``bench/dashboard_load.py``), so a dashboard
fed thousands of events a second could draw only a few frames a second and answer
keys late.

:meth:`LiveTable.update_rows` sets cells without that cost.  It keeps rendered lines
and rendered cells in caches of its own, keyed by a *version* of their row (for a
line) or of their cell (for a cell) that moves on only when that row or cell gets a
different value, by whether the cursor or the mouse is on that row, and by the rest
of what the look depends on; and it refreshes only the lines of the rows that
changed, and only if they are in sight.  So a frame renders again only the changed
cells of the visible rows that changed.

Rows added at the bottom with ``add_plain_rows`` and a new size keep these caches too
(neither changes a row already there; a line's key holds the table's width).  Every
other way of changing the table (``update_cell``, ``add_row``, ``sort``, ``clear``, a
style or theme change) moves Textual's counter or clears its caches as before, and
these caches are then dropped whole: those keep their normal behaviour.  Rows must be
one line high (as ``add_row`` makes them by default); a table with taller rows, fixed
rows or row labels refreshes the whole widget instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import events
from textual.cache import LRUCache
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets.data_table import CellDoesNotExist, CellType, ColumnKey, Row, RowKey

from amc_tui.tui.widgets.row_drawing import RowDrawing, SegmentLines

LINE_CACHE_SIZE = 500
"""Rendered lines kept: a screenful many times over (cursor on and off each row).  Kept
small: every cached segment is one more object for the garbage collector to walk."""
CELL_CACHE_SIZE = 2000
"""Rendered cells kept: some 240 on a 120x40 screen, several looks of each."""


def same_cell(old: object, new: object) -> bool:
    """Whether two cell values look the same (a Rich ``Text`` is compared with its
    styles: its own ``==`` ignores the base style)."""
    if isinstance(old, Text) and isinstance(new, Text):
        return (old.plain, old.style, old.spans, old.justify, old.overflow, old.no_wrap) == (
            new.plain,
            new.style,
            new.spans,
            new.justify,
            new.overflow,
            new.no_wrap,
        )
    return type(old) is type(new) and old == new


class LiveTable(RowDrawing):
    """See the module docstring."""

    def __init__(self, **options: Any) -> None:
        """``options`` are DataTable's (``id``, ``cursor_type``, ``zebra_stripes``...)."""
        # Set before DataTable.__init__, whose watchers clear the caches.
        self._lines: LRUCache[tuple[object, ...], Strip] = LRUCache(LINE_CACHE_SIZE)
        self._cells: LRUCache[tuple[object, ...], SegmentLines] = LRUCache(CELL_CACHE_SIZE)
        self._row_versions: dict[RowKey, int] = {}
        self._cell_versions: dict[tuple[RowKey, ColumnKey], int] = {}
        self._synced_count = 0
        self._own_counts = 0
        """Moves of Textual's counter made by update_rows (cells only: no row moved)."""
        self._ordered: tuple[tuple[int, int], list[Row]] | None = None
        self._offsets: tuple[tuple[int, int], list[tuple[RowKey, int]]] | None = None
        self.rows_redrawn = 0
        """Rows changed through :meth:`update_rows` so far (for tests and benchmarks)."""
        super().__init__(**options)

    # --- updates ----------------------------------------------------------------------

    def update_rows(self, changes: Mapping[str, Mapping[str, CellType]]) -> None:
        """Set cells, ``{row key: {column key: value}}``, and redraw the rows changed.

        A cell given the value it has already is left alone (a row none of whose cells
        changed is not redrawn).  Raises
        :class:`~textual.widgets.data_table.CellDoesNotExist`, changing nothing, if a
        row or a column is not in the table.
        """
        data = self._data
        for key, cells in changes.items():
            if RowKey(key) not in data:
                raise CellDoesNotExist(f"No row exists for row_key={key!r}.")
            for column in cells:
                if ColumnKey(column) not in self._column_locations:
                    raise CellDoesNotExist(f"No column exists for column_key={column!r}.")
        changed: list[RowKey] = []
        for key, cells in changes.items():
            row_key = RowKey(key)
            row = data[row_key]
            row_changed = False
            for column, value in cells.items():
                column_key = ColumnKey(column)
                if same_cell(row.get(column_key), value):
                    continue
                row[column_key] = value
                cell = (row_key, column_key)
                self._cell_versions[cell] = self._cell_versions.get(cell, 0) + 1
                row_changed = True
            if row_changed:
                self._row_versions[row_key] = self._row_versions.get(row_key, 0) + 1
                changed.append(row_key)
        if not changed:
            return
        # Textual's own caches must miss on these rows: move its counter on, and keep
        # ours (still right for every other row and cell) if nothing else had moved it.
        in_sync = self._update_count == self._synced_count
        self._update_count += 1
        self._own_counts += 1
        if in_sync:
            self._synced_count = self._update_count
        self.rows_redrawn += len(changed)
        self._refresh_rows(changed)

    def add_plain_rows(self, rows: Sequence[tuple[str, Sequence[CellType]]]) -> None:
        """:meth:`FixedTable.add_plain_rows`, keeping the rendered lines and cells.

        Rows added at the bottom change neither the place nor the look of the rows
        already there, so what is cached for them stays right (a cache key holds the
        row's index and the table's width: a scroll bar coming in is a miss).  Without
        this, each part of a dashboard's rows added after its first frame drew every
        row in sight again: 40-60 ms each time.
        """
        in_sync = self._update_count == self._synced_count
        super().add_plain_rows(rows)
        if in_sync:
            self._synced_count = self._update_count

    def _on_resize(self, event: events.Resize) -> None:
        """DataTable's own handler, without dropping our caches: a new size or a scroll
        bar coming in changes no row's cells, and a line's cache key holds the table's
        width and the part of the line drawn.

        (Textual calls the handler of each class along the MRO; ``prevent_default``
        keeps DataTable's, which moves its counter on, from running after this one.)
        """
        event.prevent_default()
        in_sync = self._update_count == self._synced_count
        self._update_count += 1  # DataTable's caches are keyed by it: they must miss
        if in_sync:
            self._synced_count = self._update_count

    @property
    def ordered_rows(self) -> list[Row]:
        """DataTable's rows in display order, kept while only cells change.

        DataTable lists them again, all of them, each time its counter moves, and
        update_rows moves it: at 20 updates a second, a list of 1,000 rows made again
        each time.  Cells set through update_rows change no row's place or height, so
        the list is kept until anything else moves the counter.
        """
        key = (self.row_count, self._update_count - self._own_counts)
        if self._ordered is None or self._ordered[0] != key:
            self._ordered = (key, super().ordered_rows)
        return self._ordered[1]

    def keys_in_sight(self, margin: int = 2) -> list[str]:
        """The keys of the rows the table shows now (its rows are one line high),
        with ``margin`` rows either side."""
        top = round(self.scroll_y)
        lines = max(0, self.size.height - self.header_height)
        ordered = self.ordered_rows[max(0, top - margin) : top + lines + margin]
        return [str(row.key.value) for row in ordered]

    @property
    def _y_offsets(self) -> list[tuple[RowKey, int]]:
        """DataTable's map of the table's lines to rows, kept as :attr:`ordered_rows` is
        (DataTable makes it again, a tuple per line, each time its counter moves)."""
        key = (self.row_count, self._update_count - self._own_counts)
        if self._offsets is None or self._offsets[0] != key:
            offsets = [(row.key, y) for row in self.ordered_rows for y in range(row.height)]
            self._offsets = (key, offsets)
        return self._offsets[1]

    def _refresh_rows(self, keys: list[RowKey]) -> None:
        if self.fixed_rows or self._labelled_row_exists:
            self.refresh()
            return
        header = self.header_height if self.show_header else 0
        window = self.window_region
        width = max(self.size.width, self.virtual_size.width)
        locations = self._row_locations
        rows = self.rows
        for row_key in keys:
            if rows[row_key].height != 1:
                self.refresh()
                return
            index = locations.get(row_key)
            if index is None:
                continue
            line = Region(0, header + index, width, 1)
            if window.overlaps(line):
                self.refresh(line.translate(-self.scroll_offset))

    # --- rendering --------------------------------------------------------------------

    def _check_sync(self) -> None:
        """Drop our caches if the table was changed by other means than update_rows."""
        if self._update_count != self._synced_count:
            self._lines.clear()
            self._cells.clear()
            self._synced_count = self._update_count

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        self._check_sync()
        try:
            row_key, line_no = self._get_offsets(y)
        except LookupError:
            return super()._render_line(y, x1, x2, base_style)
        row_index = self._row_locations.get(row_key)
        if row_index is None:  # the header
            return super()._render_line(y, x1, x2, base_style)
        key = (
            row_key,
            self._row_versions.get(row_key, 0),
            row_index,
            line_no,
            x1,
            x2,
            self.size.width,
            base_style,
            self._pointer_on(self.cursor_coordinate, row_index),
            self._pointer_on(self.hover_coordinate, row_index),
            self.cursor_type,
            self.show_cursor,
            self._show_hover_cursor,
            self._pseudo_class_state,
        )
        strip = self._lines.get(key)
        if strip is None:
            strip = super()._render_line(y, x1, x2, base_style)
            self._lines.set(key, strip)
        return strip

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        self._check_sync()
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        if row_key is None or column_key is None:  # the header, a row label
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        key = (
            row_key,
            column_key,
            self._cell_versions.get((row_key, column_key), 0),
            row_index,
            column_index,
            base_style,
            width,
            cursor,
            hover,
            self._show_hover_cursor,
            self._pseudo_class_state,
        )
        lines = self._cells.get(key)
        if lines is None:  # a text the short way (RowDrawing), any other cell as DataTable
            lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
            self._cells.set(key, lines)
        return lines

    def _pointer_on(self, where: Coordinate, row_index: int) -> object:
        """What of the cursor (or mouse) position the look of row ``row_index`` depends on."""
        kind = self.cursor_type
        if kind == "column":
            return where.column
        if kind in ("row", "cell") and where.row == row_index:
            return where
        return None

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        self._offsets = None  # a row's height may be measured here (auto height)
        super()._update_dimensions(new_rows)

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._offsets = None
        self._lines.clear()
        self._cells.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines.clear()
        self._cells.clear()
