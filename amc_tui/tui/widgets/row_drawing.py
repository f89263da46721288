"""RowDrawing: a FixedTable that draws its one-line rows of text with fewer layers than
DataTable.

Textual's :class:`~textual.widgets.DataTable` draws every cell through Rich's
``Styled(Padding(...))`` wrapping and its line-cutting pass, applies the row's and
the cursor's styles to each segment through two generators, and works out, for every
line it draws, the styles of headers, row labels and fixed columns whether the table
has them or not.  A dashboard's first frame draws some 200 cells cold (each instance
name, AMC id and message is new), which made that frame take tens of milliseconds;
the history's and the instances' first frames as many (the dashboard's table is a
:class:`~amc_tui.tui.widgets.live_table.LiveTable`, which extends this; the history's,
the instances' and the result preview's tables are ones of these).

For a body cell holding one line of text, :class:`RowDrawing` gives the same segments
(styles and metadata included) a shorter way: a text with one style that fits is laid
out directly (:func:`laid_out_plainly`; any other goes through Rich, once per text and
width), and the styles are applied in one pass.  For a body row of a table with a row
cursor, no fixed column and no row label, the line is put together without the work
for those.  The table's own style, which Textual works out up the DOM for every line
drawn, is worked out once per drawing.  Anything else is drawn by DataTable as before.
``tests/test_tui_table_paths.py`` compares each cell with DataTable's, and
``tests/test_tui_dashboard_load.py`` whole lines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets.data_table import RowKey

from amc_tui.tui.widgets.table import FixedTable

TEXT_CACHE_SIZE = 2000
"""Texts laid out kept (by text and width): some 240 cells on a 120x40 screen."""

SegmentLines = list[list[Segment]]


def laid_out_plainly(
    text: Text, width: int, get_style: Callable[[str], Style], pad_style: Style
) -> list[Segment] | None:
    """The segments Rich lays one line of ``text`` out in, padded to ``width`` cells,
    for a text Rich lays out plainly: one style, no span, nothing to wrap, cut or
    justify (else None).  Rich's own way costs some 50 µs a cell, most of a cold frame of
    the dashboard; a test compares the two on texts of every kind.
    """
    plain = text.plain
    if not plain or text.spans or text.justify is not None or not plain.isprintable():
        return None
    used = cell_len(plain)
    if used > width:
        return None
    style = text.style
    if isinstance(style, str):
        line = [Segment(plain, get_style(style) if style else None)]
    else:
        line = [Segment(plain, style or None)]
    if used < width:
        line.append(Segment(" " * (width - used), pad_style))
    return line


class RowDrawing(FixedTable):
    """See the module docstring."""

    def __init__(self, **options: Any) -> None:
        """``options`` are DataTable's (``id``, ``cursor_type``, ``zebra_stripes``...)."""
        # Set before DataTable.__init__, whose watchers clear the caches.
        self._texts: LRUCache[tuple[object, ...], list[Segment]] = LRUCache(TEXT_CACHE_SIZE)
        self._row_styles: dict[tuple[object, ...], Style] = {}
        self._style_of_pass: Style | None = None
        super().__init__(**options)

    @property
    def rich_style(self) -> Style:
        """Textual's, worked out (up the DOM) once per drawing rather than once a line."""
        if self._style_of_pass is not None:
            return self._style_of_pass
        return super().rich_style

    def render_lines(self, crop: Region) -> list[Strip]:
        self._style_of_pass = super().rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._style_of_pass = None

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        """A body cell holding one line of text the short way (:meth:`_render_text_cell`);
        any other cell (the header, a row label, anything but a text) as DataTable does."""
        row_key = self._row_locations.get_key(row_index)
        if row_key is not None and self._column_locations.get_key(column_index) is not None:
            lines = self._render_text_cell(
                row_key, row_index, column_index, base_style, width, cursor, hover
            )
            if lines is not None:
                return lines
        return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)

    def _render_text_cell(
        self,
        row_key: RowKey,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool,
        hover: bool,
    ) -> SegmentLines | None:
        """A one-line body cell holding text, rendered as DataTable renders it, with
        fewer layers of Rich in between (the ``Styled(Padding(...))`` wrapping, and a
        second pass cutting the result into lines); None for any other cell.

        DataTable renders every cell through that wrapping; for one line of text the
        result is the text's line, padded, between the padding, under the row's and
        the cursor's styles: the same segments, at a fraction of the cost.
        """
        padding = self.cell_padding
        if row_index < self.fixed_rows or column_index < self.fixed_columns:
            return None
        if width - 2 * padding <= 0 or self.rows[row_key].height != 1:
            return None
        cell = self._get_row_renderables(row_index).cells[column_index]
        if not isinstance(cell, Text):
            return None
        component_style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            False,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        pre_style = base_style + Style.from_meta({"row": row_index, "column": column_index})
        pre_style += component_style
        # The text's own segments depend on the text and the width only, not on the
        # row: many cells of a dashboard read the same ("· QUEUED", "-", "").
        text_key = (
            cell.plain,
            cell.style,
            tuple(cell.spans),
            cell.justify,
            cell.overflow,
            cell.no_wrap,
            cell.tab_size,
            width,
            padding,
        )
        line = self._texts.get(text_key)
        if line is None:
            console = self.app.console
            pad_style = console.get_style("none")
            line = laid_out_plainly(cell, width - 2 * padding, console.get_style, pad_style)
            if line is None:
                options = (
                    self.app.console_options.update_dimensions(width, 1)
                    .update(no_wrap=True)
                    .update_width(width - 2 * padding)
                )
                (line,) = console.render_lines(cell, options, style=pad_style, pad=True)
            if padding:
                line = [Segment(" " * padding, pad_style), *line, Segment(" " * padding, pad_style)]
            self._texts.set(text_key, line)
        # Segment.apply_style's result, without its two generators.
        return [
            [
                Segment(text, (pre_style + style) + post_style, None)
                if not control
                else Segment(text, None, control)
                for text, style, control in line
            ]
        ]

    def _render_line_in_row(
        self,
        row_key: RowKey,
        line_no: int,
        base_style: Style,
        cursor_location: Coordinate,
        hover_location: Coordinate,
    ) -> tuple[SegmentLines, SegmentLines]:
        """DataTable's line of a body row, for a row cursor with no fixed column and no
        row label, without DataTable's work for those (the header's style, worked out
        for every line) or for other cursors (the table's background, read up the DOM)."""
        row_index = self._row_locations.get(row_key)
        if (
            row_index is None
            or self.fixed_columns
            or (self._labelled_row_exists and self.show_row_labels)
            or self.cursor_type != "row"
        ):
            return super()._render_line_in_row(
                row_key, line_no, base_style, cursor_location, hover_location
            )
        on_cursor = row_index == cursor_location.row
        on_hover = row_index == hover_location.row
        row_style = self._get_row_style(row_index, base_style)
        render_cell = self._render_cell
        row: SegmentLines = []
        used = self._row_label_column_width
        for column_index, column in enumerate(self.ordered_columns):
            width = column.get_render_width(self)
            used += width
            row.append(
                render_cell(
                    row_index, column_index, row_style, width, cursor=on_cursor, hover=on_hover
                )[line_no]
            )
        extend_style, _ = self._get_styles_to_render_cell(
            False,
            False,
            False,
            on_hover,
            on_cursor,
            self.show_cursor,
            self._show_hover_cursor,
            False,
            False,
        )
        extend_style = row_style + extend_style
        extend_style += Style.from_meta({"row": row_index, "column": 0, "out_of_bounds": True})
        row.append([Segment(" " * max(0, self.size.width - used), extend_style)])
        return [], row

    def _get_row_style(self, row_index: int, base_style: Style) -> Style:
        # DataTable works the style of a row out again (walking the DOM) each time a
        # row is rendered; it depends on the kind of row only.
        if row_index == -1:
            kind = "header"
        elif row_index < self.fixed_rows:
            kind = "fixed"
        elif self.zebra_stripes:
            kind = "odd" if row_index % 2 else "even"
        else:
            return base_style
        key = (kind, base_style, self._pseudo_class_state)
        style = self._row_styles.get(key)
        if style is None:
            style = self._row_styles[key] = super()._get_row_style(row_index, base_style)
        return style

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._texts.clear()
        self._row_styles.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._texts.clear()
        self._row_styles.clear()
