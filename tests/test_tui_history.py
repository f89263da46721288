"""The history screen: newest first, lazy pages, search, open, export, rerun, resume."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from store_support import make_batch
from test_tui_dashboard import new_batch, notices
from textual.widgets import DataTable, Input
from tui_support import make_app, tui_settings, wait_for

from amc_tui.domain import BatchStatus, utc_now
from amc_tui.store.history import HistoryStore
from amc_tui.tui.app import AmcApp
from amc_tui.tui.screens.confirm import ConfirmScreen
from amc_tui.tui.screens.dashboard import DashboardScreen
from amc_tui.tui.screens.dialogs import ConfirmDialog, PromptScreen
from amc_tui.tui.screens.history import HistoryScreen


async def fill(path: Path, n: int, *, names: list[str] | None = None) -> list[str]:
    """``n`` batches, one minute apart, oldest first; their ids."""
    start = utc_now() - timedelta(days=1)
    ids = []
    async with await HistoryStore.open(path) as store:
        for i in range(n):
            name = names[i] if names else f"batch number {i}"
            batch = make_batch(["a", "b"], name=name, created_at=start + timedelta(minutes=i))
            ids.append((await store.create_batch(batch)).id)
    return ids


def history(app: AmcApp) -> HistoryScreen:
    screen = app.screen
    assert isinstance(screen, HistoryScreen), type(screen).__name__
    return screen


def table(app: AmcApp) -> DataTable[object]:
    return app.screen.query_one("#history-table", DataTable)


async def test_newest_first_and_loaded_a_page_at_a_time(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path)
    ids = await fill(settings.paths.history_db, 350)
    app = make_app(tmp_path, settings=settings, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await wait_for(pilot, lambda: table(app).row_count > 0)
        assert table(app).row_count == 100
        first = table(app).coordinate_to_cell_key((0, 0)).row_key.value
        assert first == ids[-1]
        await pilot.press("ctrl+end")
        await wait_for(pilot, lambda: table(app).row_count == 200, what="second page")
        for _ in range(3):
            await pilot.press("ctrl+end")
            await pilot.pause(0.05)
        await wait_for(pilot, lambda: table(app).row_count == 350, what="every page")
        assert history(app).exhausted
        assert [s.id for s in history(app).summaries] == ids[::-1]


async def test_search_goes_through_the_store(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path)
    names = [f"weekly {i}" for i in range(150)] + ["Brand lift Q4"]
    ids = await fill(settings.paths.history_db, 151, names=names)
    app = make_app(tmp_path, settings=settings, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 100)
        await pilot.press("slash")
        await pilot.press(*"weekly 3")
        # "weekly 3", "weekly 30".."39": found among all 150, not only the first page.
        await wait_for(pilot, lambda: table(app).row_count == 11, what="search results")
        await pilot.press("escape")
        await wait_for(pilot, lambda: table(app).row_count == 100, what="search cleared")
        assert history(app).search == ""
        await pilot.press("slash", *"brand")
        await wait_for(pilot, lambda: table(app).row_count == 1)
        assert history(app).summaries[0].id == ids[-1]


async def test_enter_opens_the_dashboard(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path)
    ids = await fill(settings.paths.history_db, 3)
    app = make_app(tmp_path, settings=settings, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 3)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        screen = app.screen
        assert isinstance(screen, DashboardScreen) and screen.batch_id == ids[1]
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))


async def export_to(app: AmcApp, pilot: object, path: str) -> PromptScreen:
    await pilot.press("e")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))  # type: ignore[arg-type]
    prompt = app.screen
    assert isinstance(prompt, PromptScreen)
    prompt.query_one(Input).value = path
    await pilot.press("enter")  # type: ignore[attr-defined]
    return prompt


async def test_export_to_csv_and_json_asks_before_overwriting(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path)
    ids = await fill(settings.paths.history_db, 1)
    app = make_app(tmp_path, settings=settings, read_only=True)
    out = tmp_path / "out"
    out.mkdir()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 1)
        await export_to(app, pilot, str(out / "b.json"))
        await wait_for(pilot, lambda: (out / "b.json").exists())
        assert json.loads((out / "b.json").read_text())["batch_id"] == ids[0]
        await wait_for(pilot, lambda: any("Exported 2 executions" in n for n in notices(app)))

        await export_to(app, pilot, str(out / "b.csv"))
        await wait_for(pilot, lambda: (out / "b.csv").exists())
        assert len((out / "b.csv").read_text().splitlines()) == 3

        (out / "b.csv").write_text("mine")
        await export_to(app, pilot, str(out / "b.csv"))
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        assert (out / "b.csv").read_text() == "mine"

        prompt = await export_to(app, pilot, str(out / "b.txt"))
        error = prompt.query_one("#prompt-error")
        await wait_for(pilot, lambda: "must end in .csv or .json" in str(error.render()))
        prompt.query_one(Input).value = str(out / "nowhere" / "b.csv")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "does not exist" in str(error.render()))
        await pilot.press("escape")
        assert sorted(p.name for p in out.iterdir()) == ["b.csv", "b.json"]


async def test_u_resumes_an_interrupted_batch_and_refuses_others(tmp_path: Path) -> None:
    app = make_app(tmp_path, offer_resume=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready and len(app.screen_stack) > 1)
        store = app.services.store
        done = await store.create_batch(await new_batch(app, 1, name="done"))
        await store.transition_batch(done.id, BatchStatus.RUNNING)
        await store.transition_batch(done.id, BatchStatus.CANCELLED)
        stopped = await store.create_batch(await new_batch(app, 3, name="stopped"))
        await store.transition_batch(stopped.id, BatchStatus.RUNNING)
        await store.transition_batch(stopped.id, BatchStatus.INTERRUPTED)
        await app.push_screen(HistoryScreen())
        await wait_for(pilot, lambda: table(app).row_count == 2)

        await pilot.press("down", "u")  # the older one: cancelled
        await wait_for(pilot, lambda: any("Only an interrupted" in n for n in notices(app)))
        assert isinstance(app.screen, HistoryScreen)

        await pilot.press("up", "u")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await wait_for(pilot, lambda: app.live[stopped.id].status.is_terminal, timeout=30)
        final = await store.get_batch(stopped.id)
        assert final is not None and final.status is BatchStatus.COMPLETED


async def test_R_reruns_the_batch_as_a_new_one(tmp_path: Path) -> None:
    app = make_app(tmp_path, offer_resume=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready and len(app.screen_stack) > 1)
        batch = await app.services.store.create_batch(await new_batch(app, 4))
        await app.push_screen(HistoryScreen())
        await wait_for(pilot, lambda: table(app).row_count == 1)
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert len(confirm.instances) == 4
        assert confirm.initial_query == batch.query


async def test_read_only_has_no_resume_or_rerun(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path)
    (batch_id,) = await fill(settings.paths.history_db, 1)
    async with await HistoryStore.open(settings.paths.history_db) as store:
        await store.transition_batch(batch_id, BatchStatus.RUNNING)
        await store.transition_batch(batch_id, BatchStatus.INTERRUPTED)
    app = make_app(tmp_path, settings=settings, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 1)
        described = {b.binding.description for b in app.screen.active_bindings.values()}
        assert "Resume" not in described and "Rerun" not in described
        assert "Export" in described
        await pilot.press("u", "R")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        summary = await app.services.store.get_batch_summary(batch_id)
        assert summary is not None and summary.status is BatchStatus.INTERRUPTED
