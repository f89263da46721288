"""The tables' short paths give what Textual's DataTable gives (amc_tui.tui.widgets).

- ``FixedTable.add_plain_rows`` must leave the table as ``add_row`` for each row would:
  the same rows, cells, order, cursor and drawing.
- ``LiveTable`` renders a one-line text cell without Rich's ``Styled(Padding(...))``
  layers: each cell must come out as the same segments, styles and metadata included,
  whatever the text (cut off, wide characters, styled spans, right-justified, empty,
  square brackets), on the cursor's row or not, on odd and even rows.
"""

from __future__ import annotations

from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.style import Style
from rich.text import Span, Text
from textual.dom import DOMNode
from textual.geometry import Region
from textual.widgets import DataTable
from textual.widgets.data_table import DuplicateKey
from tui_support import OneTable, live_table

from amc_tui.tui.widgets.row_drawing import RowDrawing, laid_out_plainly
from amc_tui.tui.widgets.table import FixedTable

COLUMNS = (("state", 12), ("name", 14), ("try", 3), ("note", 9))


def awkward_rows() -> list[tuple[str, tuple[Any, ...]]]:
    values: list[tuple[Any, ...]] = [
        (Text("✔ SUCCEEDED", style="green"), Text("a name far too long to fit"), "1/3", ""),
        (Text("▶ RUNNING", style="bold blue"), Text("東京 instance 日本"), "2/3", Text("x")),
        (Text("✘ FAILED", style="red"), Text("right", justify="right"), "3/3", Text("[b]no[/b]")),
        (Text("· QUEUED"), Text("spans", spans=[]), "-", Text("oops", style="magenta")),
        (Text(""), Text.assemble(("two ", "red"), ("parts", "underline")), "", "[b]markup[/b]"),
        (
            Text("cut short here", overflow="ellipsis"),
            Text("tab\there", spans=[Span(0, 3, Style(bold=True))]),
            Text("1/3", style="green"),  # the same text as above, in another style
            Text("ends  "),
        ),
        (  # exactly as wide as their columns; a Style rather than its name
            Text("exactly 12 c", style=Style(italic=True)),
            Text("é", style="none"),
            Text("9", style=""),
            Text("9 chars!!"),
        ),
    ]
    return [(str(n), values[n % len(values)]) for n in range(40)]


def with_columns(table: FixedTable) -> FixedTable:
    for key, width in COLUMNS:
        table.add_column(key.title(), key=key, width=width)
    return table


def drawing(table: FixedTable) -> list[list[tuple[str, object]]]:
    return [
        [(segment.text, segment.style) for segment in table.render_line(y)]
        for y in range(table.size.height)
    ]


async def test_plain_rows_at_once_equal_rows_one_by_one() -> None:
    rows = awkward_rows()
    seen = []
    for at_once in (True, False):
        app = OneTable(FixedTable)
        async with app.run_test(size=(60, 24)) as pilot:
            table = with_columns(app.table)
            if at_once:
                table.add_plain_rows(rows[:1])  # into an empty table: the cursor appears
                table.add_plain_rows(rows[1:])
            else:
                for key, cells in rows:
                    table.add_row(*cells, key=key)
            await pilot.pause()
            table.move_cursor(row=3)
            await pilot.pause()
            seen.append(
                (
                    table.row_count,
                    [table.get_row_at(n) for n in range(table.row_count)],
                    [table.coordinate_to_cell_key((n, 0)).row_key.value for n in range(40)],
                    table.cursor_coordinate,
                    table.virtual_size,
                    drawing(table),
                )
            )
    at_once, one_by_one = seen
    assert at_once == one_by_one
    assert at_once[0] == 40 and at_once[3].row == 3


async def test_plain_rows_refuse_a_duplicate_key_and_add_nothing() -> None:
    app = OneTable(FixedTable)
    async with app.run_test(size=(60, 24)):
        table = with_columns(app.table)
        table.add_plain_rows(awkward_rows()[:3])
        with pytest.raises(DuplicateKey):
            table.add_plain_rows([("7", ("a",)), ("2", ("b",))])  # "2" is there
        with pytest.raises(DuplicateKey):
            table.add_plain_rows([("8", ("a",)), ("8", ("b",))])  # given twice
        with pytest.raises(ValueError, match="More values"):
            table.add_plain_rows([("9", ("a", "b", "c", "d", "e"))])
        assert table.row_count == 3


@pytest.mark.parametrize("cursor_row", [0, 3])
async def test_each_text_cell_renders_as_datatable_renders_it(cursor_row: int) -> None:
    async with live_table((60, 24)) as (pilot, table):
        with_columns(table)
        table.add_plain_rows(awkward_rows())
        table.move_cursor(row=cursor_row)
        await pilot.pause()
        checked = 0
        for row in range(10):
            row_key = table.coordinate_to_cell_key((row, 0)).row_key
            base = table._get_row_style(row, Style())
            for column, (_, width) in enumerate(COLUMNS):
                render_width = width + 2 * table.cell_padding
                for cursor in (False, True):
                    short = table._render_text_cell(
                        row_key, row, column, base, render_width, cursor, False
                    )
                    full = DataTable._render_cell(
                        table, row, column, base, render_width, cursor, False
                    )
                    assert short is not None, (row, column)
                    assert short == full, (row, column, cursor)
                    checked += 1
        assert checked == 10 * len(COLUMNS) * 2


PLAIN_TEXTS = [
    Text("abc"),
    Text("abc", style="red"),
    Text("abc", style="none"),
    Text("abc", style=Style()),
    Text("abc", style=Style(bold=True)),
    Text("abc", style="bold blue on red"),
    Text("· QUEUED", style="bright_black"),
    Text("日本語"),
    Text("e\u0301"),
    Text(" lead and trail "),
    Text("abc", overflow="ellipsis", no_wrap=True),
]


@pytest.mark.parametrize("width", [3, 6, 16, 30])
def test_a_plain_text_is_laid_out_as_rich_lays_it_out(width: int) -> None:
    console = Console(width=120, color_system="truecolor")
    pad_style = console.get_style("none")
    laid = 0
    for text in [*PLAIN_TEXTS, Text(""), Text("a", justify="left"), Text("tab\there")]:
        line = laid_out_plainly(text, width, console.get_style, pad_style)
        if line is None:  # not plain, or too wide: Rich lays it out
            continue
        options = console.options.update_dimensions(width, 1).update(no_wrap=True)
        (theirs,) = console.render_lines(text, options, style=pad_style, pad=True)
        assert line == theirs, (text, width)
        laid += 1
    assert laid == sum(cell_len(t.plain) <= width for t in PLAIN_TEXTS)


async def test_a_text_shown_in_many_rows_is_laid_out_once() -> None:
    # Rows differ in their styles (each cell's style names its row and column), not in
    # how a text's characters are cut and padded: that is done once per text and width.
    async with live_table((60, 24)) as (pilot, table):
        with_columns(table)
        same = (Text("· QUEUED"), Text("same"), Text("-"), Text(""))
        table.add_plain_rows([(str(n), same) for n in range(30)])
        await pilot.pause()
        drawing(table)
        assert len(table._texts) == len(same)  # 4 texts, in the ~19 rows in sight
        assert table._cells.misses >= 19 * len(same)  # yet each cell has its own styles


async def test_the_row_order_is_kept_while_only_cells_change() -> None:
    async with live_table((60, 24)) as (pilot, table):
        with_columns(table)
        table.add_plain_rows(awkward_rows())
        await pilot.pause()
        order = table.ordered_rows
        table.update_rows({"3": {"try": "2/3"}, "30": {"note": "changed"}})
        assert table.ordered_rows is order  # cells only: not listed again
        assert [row.key.value for row in order] == [str(n) for n in range(40)]
        table.sort("name", key=lambda name: str(name), reverse=True)  # rows move
        moved = table.ordered_rows
        assert moved is not order
        assert [row.key.value for row in moved] == [
            table.coordinate_to_cell_key((n, 0)).row_key.value for n in range(40)
        ]
        table.remove_row("0")
        assert len(table.ordered_rows) == 39


async def test_the_line_map_is_kept_while_only_cells_change_and_right_after_any_other() -> None:
    async with live_table((60, 24)) as (pilot, table):
        with_columns(table)
        table.add_plain_rows(awkward_rows())
        await pilot.pause()

        def datatable_map() -> list[tuple[object, int]]:
            return [
                (row.key, y)
                for row in DataTable.ordered_rows.fget(table)
                for y in range(row.height)
            ]  # type: ignore[attr-defined]

        offsets = table._y_offsets
        table.update_rows({"3": {"try": "2/3"}})
        assert table._y_offsets is offsets  # cells only: not made again
        changes = [
            lambda: table.sort("name", key=lambda name: str(name), reverse=True),
            lambda: table.remove_row("5"),
            lambda: table.add_row("x", "tall", height=3, key="tall"),
            lambda: table.add_plain_rows([("last", (Text("last"),))]),
        ]
        for change in changes:
            change()
            await pilot.pause()
            assert table._y_offsets == datatable_map()


async def test_a_drawing_works_the_table_style_out_once_not_once_a_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with live_table((60, 24)) as (pilot, table):
        with_columns(table)
        table.add_plain_rows(awkward_rows())
        await pilot.pause()
        walks: list[object] = []
        dom_style = DOMNode.rich_style

        def counted(node: DOMNode) -> Style:
            walks.append(node)
            return dom_style.fget(node)  # type: ignore[no-any-return, attr-defined]

        monkeypatch.setattr(DOMNode, "rich_style", property(counted))
        table._clear_caches()  # every line drawn anew
        strips = table.render_lines(Region(0, 0, table.size.width, table.size.height))
        assert len(strips) == table.size.height > 10
        assert walks.count(table) == 1
        assert table.rich_style == dom_style.fget(table)  # type: ignore[attr-defined]


@pytest.mark.parametrize("cursor_row", [0, 3])
@pytest.mark.parametrize("padding", [0, 1])
async def test_a_row_drawing_table_draws_what_a_plain_table_draws(
    cursor_row: int, padding: int
) -> None:
    """The history's table (a ``RowDrawing``, no cell padding) and the dashboard's base:
    every line the same segments as a ``FixedTable`` (DataTable's drawing) holding the
    same rows."""
    seen = []
    for kind in (FixedTable, RowDrawing):
        app = OneTable(kind)
        async with app.run_test(size=(60, 24)) as pilot:
            table = app.table
            table.cell_padding = padding
            with_columns(table)
            table.add_plain_rows(awkward_rows())
            table.move_cursor(row=cursor_row)
            await pilot.pause()
            seen.append(drawing(table))
    plain, short = seen
    assert short == plain
    assert len(plain) == 20 and any(segments for segments in plain)
