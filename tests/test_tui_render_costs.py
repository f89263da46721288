"""What keeps screens quick to open: the footer repainted, not rebuilt, when its keys change, the
tables not measuring cells whose width is fixed, the history's first page read before
its screen is shown.  (The times are measured by ``bench/history_scale.py``; these
tests assert the behaviour those times rest on.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from store_support import make_batch
from textual.app import App, ComposeResult
from textual.command import CommandPalette
from textual.screen import Screen
from textual.widgets import DataTable
from tui_support import body_cells_drawn_by_datatable, make_app, tui_settings, wait_for

from amc_tui.tui.app import AmcApp
from amc_tui.tui.screens.confirm import ConfirmScreen
from amc_tui.tui.screens.dialogs import (
    ConfirmDialog,
    PromptScreen,
    QuitScreen,
    ResumeOfferScreen,
)
from amc_tui.tui.screens.history import HistoryScreen
from amc_tui.tui.screens.instances import InstancesScreen
from amc_tui.tui.widgets.footer import KeysFooter
from amc_tui.tui.widgets.table import FixedTable
from amc_tui.tui.widgets.title_bar import TitleBar

# --- the footer -------------------------------------------------------------------------


def footer_line(footer: KeysFooter) -> str:
    return footer.render().plain


async def test_the_footer_is_one_line_repainted_not_rebuilt_when_the_keys_change(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path, read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), what="history")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await pilot.pause(0.3)
        footer = screen.query_one(KeysFooter)
        assert list(footer.children) == []  # no widget per key: nothing to rebuild
        keys = footer.keys
        assert "slash" in [k.key for k in keys]  # the footer shows the screen's keys
        assert footer_line(footer).startswith(" / Filter  e Export ")
        assert footer_line(footer).endswith("▏^p palette ")
        assert len(footer_line(footer)) == 100
        screen.action_filter()  # the filter box takes the focus: other keys apply
        await wait_for(pilot, lambda: footer.keys != keys, what="new keys")
        assert list(footer.children) == []
        shown = footer_line(footer)
        assert all(f" {k.display} {k.description} " in shown for k in footer.keys)


async def test_a_click_on_a_key_of_the_footer_presses_it(tmp_path: Path) -> None:
    app = make_app(tmp_path, read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), what="history")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await pilot.pause(0.3)
        footer = screen.query_one(KeysFooter)
        column = footer_line(footer).index("Filter")
        assert not screen.filter_box.has_focus
        await pilot.click(KeysFooter, offset=(column, 0))
        await wait_for(pilot, lambda: screen.filter_box.has_focus, what="the filter")


# --- the title bar ----------------------------------------------------------------------


async def test_the_title_bar_is_one_line_that_follows_the_title(tmp_path: Path) -> None:
    app = make_app(tmp_path, read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), what="history")
        bar = app.screen.query_one(TitleBar)
        assert list(bar.children) == []  # no widget for the icon, the title, the clock
        line = bar.render().plain
        assert len(line) == 100 and line.startswith(" ⭘      ")
        title = f"{app.title} — {app.sub_title}"
        assert line[8:90].strip() == title  # centred between the icon and the clock
        assert line.index(title) - 8 == (82 - len(title)) // 2
        app.sub_title = "another sub-title"
        await wait_for(pilot, lambda: "another sub-title" in bar.render().plain)


async def test_a_click_on_the_icon_opens_the_command_palette(tmp_path: Path) -> None:
    app = make_app(tmp_path, read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), what="history")
        await pilot.click(TitleBar, offset=(1, 0))
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")


# --- the tables -------------------------------------------------------------------------


class Tables(App[None]):
    def compose(self) -> ComposeResult:
        yield FixedTable(id="fixed")
        yield DataTable(id="plain")
        yield FixedTable(id="auto")


def fill(table: DataTable[Any], *, auto: bool) -> None:
    table.add_column("Name", key="name", width=None if auto else 10)
    table.add_column("State", key="state", width=8)
    for n in range(50):
        table.add_row(f"a rather long name {n}", "running")


async def test_a_table_of_fixed_columns_does_not_measure_its_rows() -> None:
    app = Tables()
    async with app.run_test(size=(120, 60)) as pilot:
        fixed = app.query_one("#fixed", FixedTable)
        plain = app.query_one("#plain", DataTable)
        auto = app.query_one("#auto", FixedTable)
        fill(fixed, auto=False)
        fill(plain, auto=False)
        fill(auto, auto=True)
        await pilot.pause(0.2)
        name = fixed.columns[next(iter(fixed.columns))]
        plain_name = plain.columns[next(iter(plain.columns))]
        auto_name = auto.columns[next(iter(auto.columns))]
        assert plain_name.content_width == len("a rather long name 49")  # Textual measured
        assert name.content_width == len("Name")  # not measured: the width is fixed
        assert auto_name.content_width == len("a rather long name 49")  # auto: measured
        # Same size and same cells as the plain table.
        assert fixed.virtual_size == plain.virtual_size
        assert fixed.get_row_at(49) == plain.get_row_at(49)
        assert fixed.row_count == 50


# --- the history ------------------------------------------------------------------------


async def test_h_reads_the_first_page_once_before_the_screen_shows(tmp_path: Path) -> None:
    from store_support import make_batch

    from amc_tui.store.history import HistoryStore

    settings = tui_settings(tmp_path)
    async with await HistoryStore.open(settings.paths.history_db) as store:
        for n in range(3):
            await store.create_batch(make_batch(["a"], name=f"batch {n}"))
    app = make_app(tmp_path, settings=settings, offer_resume=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, InstancesScreen), what="instances")
        store = app.services.store
        reads = []
        list_batches = store.list_batches

        async def counted(**kwargs: Any) -> Any:
            reads.append(kwargs)
            return await list_batches(**kwargs)

        store.list_batches = counted  # type: ignore[method-assign]
        shown_at_mount: list[int] = []
        on_mount = HistoryScreen.on_mount

        def mounted(screen: HistoryScreen) -> None:
            on_mount(screen)
            shown_at_mount.append(screen.table.row_count)

        HistoryScreen.on_mount = mounted  # type: ignore[method-assign]
        try:
            await pilot.press("h")
            await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), what="history")
            await pilot.pause(0.3)
        finally:
            HistoryScreen.on_mount = on_mount  # type: ignore[method-assign]
        assert shown_at_mount == [3]  # the rows are there when the screen is first drawn
        assert len(reads) == 1  # and not read again when the screen shows
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        assert screen.table.row_count == 3


# --- the focus from the first frame -----------------------------------------------------


async def _history(app: AmcApp) -> Screen[Any]:
    await app.services.store.create_batch(make_batch(["one", "two"]))
    return await app.history_screen()


async def _confirm(app: AmcApp) -> Screen[Any]:
    return ConfirmScreen((await app.services.instances())[:2])


async def _quit(app: AmcApp) -> Screen[Any]:
    return QuitScreen([])


async def _resume(app: AmcApp) -> Screen[Any]:
    return ResumeOfferScreen([])


async def _confirm_dialog(app: AmcApp) -> Screen[Any]:
    return ConfirmDialog("Cancel the batch?")


async def _prompt(app: AmcApp) -> Screen[Any]:
    return PromptScreen("File name")


@pytest.mark.parametrize(
    ("make", "focused"),
    [
        (_history, "#history-table"),
        (_confirm, "#source"),
        (_confirm_dialog, "#no"),
        (_quit, "#stay"),
        (_resume, "SelectionList"),
        (_prompt, "Input"),
    ],
)
async def test_a_screen_has_its_focus_from_its_first_frame(
    tmp_path: Path, make: Callable[[AmcApp], Awaitable[Screen[Any]]], focused: str
) -> None:
    """Each frame of a screen just put up is drawn with the focus where the screen keeps
    it, not first on the first widget that takes focus (a search box, a scroll box, the
    dialog's "yes"), moved a moment later: Textual would then restyle both widgets and
    draw the screen again (the history's table a second time: 30-60 ms)."""
    app = make_app(tmp_path, offer_resume=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.ready and len(app.screen_stack) > 1)
        screen = await make(app)
        drawn_with: list[object] = []
        draw = screen._compositor_refresh

        def frame() -> None:
            drawn_with.append(screen.focused)
            draw()

        screen._compositor_refresh = frame  # type: ignore[method-assign]
        await app.push_screen(screen)
        await wait_for(pilot, lambda: len(drawn_with) >= 2, what="two frames")
        await pilot.pause()
        wanted = screen.query_one(focused)
        assert screen.focused is wanted
        assert all(widget is wanted for widget in drawn_with), drawn_with


async def test_the_history_draws_its_rows_without_datatable_s_cell_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The history's cells are texts its table lays out the short way (``RowDrawing``):
    DataTable's own cell path draws only the header, so the first frame after ``h``
    costs a third."""
    body_cells = body_cells_drawn_by_datatable(monkeypatch, "history-table")
    app = make_app(tmp_path, offer_resume=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: app.ready and len(app.screen_stack) > 1)
        for n in range(3):
            await app.services.store.create_batch(make_batch(["a", "b"], name=f"weekly {n}"))
        await app.action_history()
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await wait_for(pilot, lambda: screen.table.row_count == 3, what="the rows")
        await pilot.pause()
        lines = [screen.table.render_line(y).text for y in range(1, 4)]
        assert all("weekly" in line for line in lines), lines
        assert body_cells == []


async def test_the_instances_are_drawn_without_datatable_s_cell_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the history's: the instances' cells are texts laid out the short way, on the
    first frame and on each one after ``space`` (a selection changes a cell, and a
    DataTable draws all its lines in sight again)."""
    body_cells = body_cells_drawn_by_datatable(monkeypatch, "instances")
    app = make_app(tmp_path, offer_resume=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: app.ready and len(app.screen_stack) > 1)
        screen = app.screen
        assert isinstance(screen, InstancesScreen)
        await wait_for(pilot, lambda: screen.table.row_count > 0, what="the instances")
        await pilot.press("space")
        await wait_for(pilot, lambda: "[x]" in screen.table.render_line(1).text, what="marked")
        assert body_cells == []
