"""The history screen: newest first, read a page at a time, search, open, export, rerun,
resume, rows kept current; at 80x24 and 120x40.

Batches are written straight into the store (before the app starts, through the same
history file) so that hundreds of them take a moment; the app then runs for real on
the fast in-process simulator and every test waits on conditions.
"""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from store_support import make_batch
from textual.coordinate import Coordinate
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static
from tui_support import make_app, new_batch, tui_settings, wait_for

from amc_tui.domain import BatchStatus, utc_now
from amc_tui.engine.locks import BatchLock
from amc_tui.settings import Settings
from amc_tui.store.history import HistoryStore
from amc_tui.tui.app import AmcApp
from amc_tui.tui.screens.confirm import ConfirmScreen
from amc_tui.tui.screens.dashboard import DashboardScreen
from amc_tui.tui.screens.dialogs import ConfirmDialog, PromptScreen
from amc_tui.tui.screens.history import HistoryScreen, column_widths


async def fill(
    settings: Settings,
    n: int,
    *,
    names: list[str] | None = None,
    same_moment: bool = False,
    interrupted: bool = False,
) -> list[str]:
    """``n`` batches of two executions, a minute apart, oldest first; their ids."""
    start = utc_now() - timedelta(days=1)
    ids = []
    async with await HistoryStore.open(settings.paths.history_db) as store:
        for i in range(n):
            created = start if same_moment else start + timedelta(minutes=i)
            name = names[i] if names else f"batch number {i}"
            batch = await store.create_batch(make_batch(["a", "b"], name=name, created_at=created))
            if interrupted:
                await store.transition_batch(batch.id, BatchStatus.RUNNING)
                await store.transition_batch(batch.id, BatchStatus.INTERRUPTED)
            ids.append(batch.id)
    return ids


def history(app: AmcApp) -> HistoryScreen:
    screen = app.screen
    assert isinstance(screen, HistoryScreen), type(screen).__name__
    return screen


def table(app: AmcApp) -> DataTable[object]:
    return app.screen.query_one("#history-table", DataTable)


def row_ids(app: AmcApp) -> list[str]:
    t = table(app)
    return [
        str(t.coordinate_to_cell_key(Coordinate(i, 0)).row_key.value) for i in range(t.row_count)
    ]


def cell(app: AmcApp, batch_id: str, column: str) -> str:
    return str(table(app).get_cell(batch_id, column))


def status_line(app: AmcApp) -> str:
    return str(app.screen.query_one("#history-status", Static).render())


def notices(app: AmcApp) -> list[str]:
    return [n.message for n in app._notifications]


async def on_history_with_rows(pilot: Pilot[Any], app: AmcApp, rows: int) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), what="history")
    await wait_for(pilot, lambda: table(app).row_count == rows, what=f"{rows} rows")


async def push_history(pilot: Pilot[Any], app: AmcApp, rows: int) -> HistoryScreen:
    await app.push_screen(HistoryScreen())
    await on_history_with_rows(pilot, app, rows)
    return history(app)


# --- rows and pages ---------------------------------------------------------------------


async def test_newest_first_and_read_a_page_at_a_time(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path)
    ids = await fill(settings, 350)
    app = make_app(tmp_path, settings=settings, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_history_with_rows(pilot, app, 100)
        assert row_ids(app) == ids[::-1][:100]
        assert status_line(app) == "100 shown · more below"
        await pilot.press("ctrl+end")  # the cursor reaches the end: the next page
        await wait_for(pilot, lambda: table(app).row_count == 200, what="second page")
        assert table(app).cursor_row == 99  # the cursor stays where it was
        for _ in range(10):
            await pilot.press("ctrl+end")
            await pilot.pause(0.05)
        await wait_for(pilot, lambda: table(app).row_count == 350, what="every page")
        await wait_for(pilot, lambda: status_line(app) == "all 350 shown")
        assert row_ids(app) == ids[::-1]


async def test_a_page_never_stops_the_table_at_a_moment_shared_by_batches(
    tmp_path: Path,
) -> None:
    settings = tui_settings(tmp_path)
    ids = await fill(settings, 130, same_moment=True)
    app = make_app(tmp_path, settings=settings, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_history_with_rows(pilot, app, 100)
        await pilot.press("ctrl+end")
        await wait_for(pilot, lambda: table(app).row_count == 130, what="the rest")
        assert sorted(row_ids(app)) == sorted(ids)
        await wait_for(pilot, lambda: status_line(app) == "all 130 shown")


async def test_cells_fit_the_screen(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path)
    (batch_id,) = await fill(settings, 1, names=["A very long batch name " * 5])
    for size in ((80, 24), (120, 40)):
        app = make_app(tmp_path, settings=settings, read_only=True)
        async with app.run_test(size=size) as pilot:
            await on_history_with_rows(pilot, app, 1)
            t = table(app)
            used = sum(column.get_render_width(t) for column in t.columns.values())
            assert used <= size[0] - 2  # the left margin and the scrollbar
            assert cell(app, batch_id, "id") == batch_id
            assert cell(app, batch_id, "name").endswith("…")
            # Stored pending with nobody holding it: the start marked it interrupted.
            assert cell(app, batch_id, "status") == "‖ interrupted"
            assert cell(app, batch_id, "counts") == "✔0 ✘0 /2"
            assert len(cell(app, batch_id, "created")) == (16 if size[0] >= 100 else 11)
    assert column_widths(80)["name"] >= 15


async def test_brackets_in_names_searches_and_paths_are_text_not_markup(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path)
    (batch_id,) = await fill(settings, 1, names=["[/] [bold]Q4"])
    target = tmp_path / "[b] report.csv"
    target.write_text("old")
    app = make_app(tmp_path, settings=settings, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_history_with_rows(pilot, app, 1)
        assert cell(app, batch_id, "name") == "[/] [bold]Q4"
        await pilot.press("slash", *"[/", "enter")
        await wait_for(pilot, lambda: status_line(app) == "all 1 shown matching “[/”")
        prompt = await export_to(pilot, app, str(tmp_path / "[/]x.txt"))
        error = prompt.query_one("#prompt-error", Static)
        await wait_for(pilot, lambda: "[/]x.txt: the name must end in" in str(error.render()))
        prompt.query_one(Input).value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_for(pilot, lambda: f"Exported 2 executions to {target}" in notices(app))
        assert app.is_running


async def test_a_running_batch_shows_its_time_so_far(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path)
    (batch_id,) = await fill(settings, 1)
    async with await HistoryStore.open(settings.paths.history_db) as store:
        started = (await store.transition_batch(batch_id, BatchStatus.RUNNING)).started_at
    assert started is not None
    now = [started + timedelta(seconds=90)]
    app = make_app(tmp_path, settings=settings, read_only=True, clock=lambda: now[0])
    owner = BatchLock(settings.paths.lock_dir, batch_id)  # another process runs it
    with owner:
        async with app.run_test(size=(80, 24)) as pilot:
            await on_history_with_rows(pilot, app, 1)
            assert cell(app, batch_id, "took") == "1m 30s"
            assert cell(app, batch_id, "status") == "▶ running"
            now[0] = started + timedelta(minutes=2, seconds=30)
            await wait_for(pilot, lambda: cell(app, batch_id, "took") == "2m 30s", what="a tick")


# --- search -----------------------------------------------------------------------------


async def test_search_goes_through_the_store(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path)
    names = [f"weekly {i}" for i in range(150)] + ["Brand lift Q4"]
    ids = await fill(settings, 151, names=names)
    app = make_app(tmp_path, settings=settings, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_history_with_rows(pilot, app, 100)
        await pilot.press("slash", *"weekly 3")
        # "weekly 3" and "weekly 30".."39": found among all 150, not only the first page.
        await wait_for(pilot, lambda: table(app).row_count == 11, what="search results")
        assert status_line(app) == "all 11 shown matching “weekly 3”"
        assert history(app).filter_box.has_focus
        await pilot.press("escape")  # back to the table; the search stays
        await wait_for(pilot, lambda: table(app).has_focus)
        assert table(app).row_count == 11
        await pilot.press("escape")  # again: the search is cleared
        await wait_for(pilot, lambda: table(app).row_count == 100, what="search cleared")
        assert history(app).search == "" and history(app).filter_box.value == ""
        await pilot.press("slash", *"BRAND", "enter")
        await wait_for(pilot, lambda: row_ids(app) == [ids[-1]], what="found by name")
        assert table(app).has_focus
        await pilot.press("slash", "ctrl+u", *"nothing like it")
        await wait_for(pilot, lambda: status_line(app) == "No batch matching “nothing like it”")
        await pilot.press("escape", "escape", "escape")  # read-only: history is home
        await wait_for(pilot, lambda: table(app).row_count == 100)
        assert isinstance(app.screen, HistoryScreen)


# --- open, rerun, resume ----------------------------------------------------------------


async def test_enter_opens_the_dashboard_and_escape_comes_back(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path)
    ids = await fill(settings, 3)
    app = make_app(tmp_path, settings=settings, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_history_with_rows(pilot, app, 3)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        screen = app.screen
        assert isinstance(screen, DashboardScreen) and screen.batch_id == ids[1]
        await pilot.press("escape")
        await on_history_with_rows(pilot, app, 3)
        assert history(app).highlighted_id() == ids[1]


async def test_R_reruns_the_batch_as_a_new_one(tmp_path: Path) -> None:
    app = make_app(tmp_path, offer_resume=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready and len(app.screen_stack) > 1)
        await app.services.store.create_batch(await new_batch(app, 4))
        await push_history(pilot, app, 1)
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen) and len(confirm.instances) == 4


async def test_u_resumes_an_interrupted_batch_and_refuses_others(tmp_path: Path) -> None:
    app = make_app(tmp_path, offer_resume=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready and len(app.screen_stack) > 1)
        store = app.services.store
        done = await store.create_batch(await new_batch(app, 1, name="done"))
        await store.transition_batch(done.id, BatchStatus.RUNNING)
        await store.transition_batch(done.id, BatchStatus.COMPLETED)
        stopped = await store.create_batch(await new_batch(app, 3, name="stopped"))
        await store.transition_batch(stopped.id, BatchStatus.RUNNING)
        await store.transition_batch(stopped.id, BatchStatus.INTERRUPTED)
        screen = await push_history(pilot, app, 2)

        await pilot.press("down", "u")  # the older one: completed
        message = "Only an interrupted batch can be resumed (this one is completed)"
        await wait_for(pilot, lambda: message in notices(app))
        assert app.screen is screen

        await pilot.press("up", "u")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        dashboard = app.screen
        assert isinstance(dashboard, DashboardScreen) and dashboard.batch_id == stopped.id

        async def ended() -> bool:
            summary = await store.get_batch_summary(stopped.id)
            return summary is not None and summary.status.is_terminal

        for _ in range(1500):
            if await ended():
                break
            await pilot.pause(0.02)
        assert await ended(), "the resumed batch never ended"
        # The history below the dashboard catches up with the batch once shown again.
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await wait_for(
            pilot, lambda: "completed" in str(screen.table.get_cell(stopped.id, "status"))
        )
        assert str(screen.table.get_cell(stopped.id, "counts")) == "✔3 ✘0 /3"


async def test_a_batch_launched_meanwhile_is_on_top_when_coming_back(tmp_path: Path) -> None:
    app = make_app(tmp_path, offer_resume=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready and len(app.screen_stack) > 1)
        store = app.services.store
        first = await store.create_batch(await new_batch(app, 1, name="first"))
        second = await store.create_batch(await new_batch(app, 1, name="second"))
        screen = await push_history(pilot, app, 2)
        await pilot.press("down")  # on "first"
        new = await new_batch(app, 2, name="launched")
        await app.launch(new)
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await wait_for(pilot, lambda: app.live[new.id].status.is_terminal, what="batch end")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await wait_for(pilot, lambda: row_ids(app) == [new.id, second.id, first.id])
        assert screen.highlighted_id() == first.id
        assert "completed" in cell(app, new.id, "status")


async def test_read_only_starts_on_history_and_refuses_resume_and_rerun(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path)
    (batch_id,) = await fill(settings, 1, interrupted=True)
    app = make_app(tmp_path, settings=settings, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_history_with_rows(pilot, app, 1)
        assert len(app.screen_stack) == 2  # the home screen
        assert cell(app, batch_id, "status") == "‖ interrupted"
        await pilot.press("u")
        await wait_for(pilot, lambda: "Read-only: batches cannot be resumed" in notices(app))
        await pilot.press("R")
        await wait_for(pilot, lambda: "Read-only: batches cannot be launched" in notices(app))
        assert isinstance(app.screen, HistoryScreen)
        summary = await app.services.store.get_batch_summary(batch_id)
        assert summary is not None and summary.status is BatchStatus.INTERRUPTED
        assert app.live.get(batch_id) is None or not app.live[batch_id].here
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="q quits")


# --- export -----------------------------------------------------------------------------


async def export_to(pilot: Pilot[Any], app: AmcApp, path: str) -> PromptScreen:
    await pilot.press("e")
    await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
    prompt = app.screen
    assert isinstance(prompt, PromptScreen)
    prompt.query_one(Input).value = path
    await pilot.press("enter")
    return prompt


async def test_export_to_csv_and_json(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path)
    (batch_id,) = await fill(settings, 1)
    app = make_app(tmp_path, settings=settings, read_only=True)
    out = tmp_path / "out"
    out.mkdir()
    async with app.run_test(size=(80, 24)) as pilot:
        await on_history_with_rows(pilot, app, 1)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        prompt = app.screen
        assert isinstance(prompt, PromptScreen)
        assert prompt.question == f"Export {batch_id} to (.csv or .json):"
        assert prompt.query_one(Input).value == f"~/amc-tui-{batch_id}.csv"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))

        await export_to(pilot, app, str(out / "b.json"))
        done = f"Exported 2 executions to {out / 'b.json'}"
        await wait_for(pilot, lambda: done in notices(app), what="exported notice")
        document = json.loads((out / "b.json").read_text(encoding="utf-8"))
        assert document["batch_id"] == batch_id and len(document["executions"]) == 2

        await export_to(pilot, app, str(out / "b.csv"))
        await wait_for(pilot, lambda: (out / "b.csv").exists())
        with (out / "b.csv").open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert rows[0][:3] == ["batch_id", "batch_name", "batch_status"]
        assert len(rows) == 3 and {r[0] for r in rows[1:]} == {batch_id}

        await pilot.press("e")  # the next default is in the folder used last
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        assert app.screen.query_one(Input).value == str(out / f"amc-tui-{batch_id}.csv")
        await pilot.press("escape")


async def test_export_asks_before_overwriting_and_refuses_bad_names(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path)
    await fill(settings, 1)
    app = make_app(tmp_path, settings=settings, read_only=True)
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.csv").write_text("mine")
    async with app.run_test(size=(80, 24)) as pilot:
        await on_history_with_rows(pilot, app, 1)
        await export_to(pilot, app, str(out / "b.csv"))
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog) and "Overwrite" in dialog.question
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.pause(0.1)
        assert (out / "b.csv").read_text() == "mine"

        await export_to(pilot, app, str(out / "b.csv"))
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_for(pilot, lambda: (out / "b.csv").read_text().startswith("batch_id,"))

        prompt = await export_to(pilot, app, str(out / "b.txt"))
        error = prompt.query_one("#prompt-error", Static)
        await wait_for(pilot, lambda: "must end in .csv or .json" in str(error.render()))
        assert app.screen is prompt
        prompt.query_one(Input).value = str(out / "nowhere" / "b.csv")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "does not exist" in str(error.render()))
        prompt.query_one(Input).value = str(out)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "is a directory" in str(error.render()))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        assert sorted(p.name for p in out.iterdir()) == ["b.csv"]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_footer_names_the_keys(tmp_path: Path, size: tuple[int, int]) -> None:
    settings = tui_settings(tmp_path)
    await fill(settings, 1)
    app = make_app(tmp_path, settings=settings, read_only=True)
    async with app.run_test(size=size) as pilot:
        await on_history_with_rows(pilot, app, 1)
        shown = {
            b.binding.description
            for b in app.screen.active_bindings.values()
            if b.binding.show and b.enabled
        }
        assert {"Filter", "Export", "Rerun", "Resume"} <= shown
        assert "Back" not in shown  # nothing to go back to in read-only mode


async def test_escape_goes_back_when_opened_from_another_screen(tmp_path: Path) -> None:
    app = make_app(tmp_path, offer_resume=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready and len(app.screen_stack) > 1)
        below = app.screen
        await push_history(pilot, app, 0)
        await wait_for(pilot, lambda: status_line(app) == "No batches yet")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is below)


@pytest.mark.parametrize("key", ["g", "ctrl+r"])
async def test_reload_puts_new_batches_on_top_and_keeps_the_cursor(
    tmp_path: Path, key: str
) -> None:
    settings = tui_settings(tmp_path)
    ids = await fill(settings, 3)
    app = make_app(tmp_path, settings=settings, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_history_with_rows(pilot, app, 3)
        await pilot.press("down")
        newer = await app.services.store.create_batch(make_batch(["a"], name="newer"))
        await app.services.store.transition_batch(ids[0], BatchStatus.CANCELLED)
        await pilot.press(key)
        await wait_for(pilot, lambda: table(app).row_count == 4, what="the new batch")
        assert row_ids(app) == [newer.id, *ids[::-1]]
        assert history(app).highlighted_id() == ids[1]
        await wait_for(pilot, lambda: cell(app, ids[0], "status") == "⊘ cancelled")


@pytest.mark.parametrize("read_ends", ["once the screen is gone", "while it is taken down"])
async def test_leaving_while_a_page_is_read_does_not_break_the_app(
    tmp_path: Path, read_ends: str
) -> None:
    # Back on the history, a read of the first page starts; escape leaves the screen
    # before the read ends.  The read's end must not touch the gone screen, nor the one
    # being taken down: Textual removes a screen's widgets before it cancels its workers.
    settings = tui_settings(tmp_path)
    await fill(settings, 3)
    app = make_app(tmp_path, settings=settings, offer_resume=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready and len(app.screen_stack) > 1, what="home")
        await pilot.press("h")
        await on_history_with_rows(pilot, app, 3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        store = app.services.store
        reads = store.list_batches
        ended: list[bool] = []

        async def read(*args: Any, **kwargs: Any) -> Any:
            screen = next(s for s in app.screen_stack if isinstance(s, HistoryScreen))
            the_table = screen.query_one("#history-table", DataTable)
            page = await reads(*args, **kwargs)
            if read_ends == "once the screen is gone":
                await asyncio.sleep(0.3)
            while the_table.is_attached:
                await asyncio.sleep(0)
            ended.append(True)
            return page

        store.list_batches = read  # type: ignore[method-assign]
        await pilot.press("escape")  # back on the history: its first page is read again
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.press("escape")
        await pilot.pause(0.6)
        if read_ends == "while it is taken down":
            assert ended  # the read did end in between
        assert not isinstance(app.screen, HistoryScreen | DashboardScreen)
        assert app.return_code is None  # still running: no worker failed
