"""The dashboard on the embedded simulator: run to the end, cancel, detail, retry failed.

Every test drives the real app (``App.run_test``) with the real runner and store on an
in-process simulator made fast by configuration, and waits on conditions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine_support import fast_simulator
from textual.widgets import DataTable
from tui_support import make_app, new_batch, wait_for

from amc_tui.domain import BatchStatus, ExecutionStatus
from amc_tui.tui.app import AmcApp
from amc_tui.tui.screens.confirm import ConfirmScreen
from amc_tui.tui.screens.dashboard import DashboardScreen
from amc_tui.tui.screens.dialogs import ConfirmDialog
from amc_tui.tui.screens.execution_detail import ExecutionDetailScreen


def rows_text(app: AmcApp) -> list[str]:
    table = app.screen.query_one("#executions", DataTable)
    return [" ".join(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)]


def dashboard(app: AmcApp) -> DashboardScreen:
    screen = app.screen
    assert isinstance(screen, DashboardScreen), type(screen).__name__
    return screen


def notices(app: AmcApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_a_batch_runs_to_completion_on_the_dashboard(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        batch = await new_batch(app, 6)
        await app.launch(batch)
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert dashboard(app).batch_id == batch.id
        await wait_for(pilot, lambda: app.live[batch.id].status.is_terminal, what="batch end")
        await pilot.pause()

        rows = rows_text(app)
        assert len(rows) == 6
        assert all("✔ SUCCEEDED" in row for row in rows), rows
        # Every row names its AMC execution, as the store has it.
        stored = await app.services.store.get_batch(batch.id)
        assert stored is not None and stored.status is BatchStatus.COMPLETED
        for ex in stored.executions:
            assert any(str(ex.amc_execution_id)[:8] in row for row in rows)
        title = str(app.screen.query_one("#batch-title").render())
        assert batch.id in title and "completed" in title
        assert "6/6 done" in str(app.screen.query_one("#progress-text").render())
        assert any(
            ("completed" in text and batch.id in text) or "weekly reach" in text
            for text in notices(app)
        )


async def test_rows_follow_events_not_a_poll_of_the_store(tmp_path: Path) -> None:
    app = make_app(tmp_path, simulator=fast_simulator(duration_min=300, duration_max=300))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        batch = await new_batch(app, 3)
        reads: list[str] = []
        store = app.services.store
        original = store.get_batch

        async def counting(batch_id: str) -> Any:
            reads.append(batch_id)
            return await original(batch_id)

        store.get_batch = counting  # type: ignore[method-assign]
        await app.launch(batch)
        await wait_for(pilot, lambda: app.live[batch.id].status.is_terminal, what="batch end")
        # The runner reads the batch when it starts and settles it; the screen never does.
        assert len(reads) <= 3, reads


async def test_cancel_asks_first_then_cancels_on_amc(tmp_path: Path) -> None:
    # Executions last about 30 s: the batch is surely still running when we cancel.
    slow = fast_simulator(time_scale=10.0, duration_min=300, duration_max=300)
    app = make_app(tmp_path, simulator=slow)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        batch = await new_batch(app, 8)
        await app.launch(batch)
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        live = app.live[batch.id]
        await wait_for(
            pilot,
            lambda: (
                live.counts().in_flight == 5
                and any(r.execution.amc_execution_id for r in live.rows.values())
            ),
            what="5 in flight",
        )
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")  # keep running
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert not live.cancel_requested

        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_for(pilot, lambda: live.status.is_terminal, timeout=30, what="cancelled")

        stored = await app.services.store.get_batch(batch.id)
        assert stored is not None
        assert stored.status is BatchStatus.CANCELLED
        statuses = {ex.status for ex in stored.executions}
        assert statuses <= {ExecutionStatus.CANCELLED, ExecutionStatus.SUCCEEDED}
        # The queued ones were never sent.
        sent = [ex for ex in stored.executions if ex.amc_execution_id]
        assert len(sent) == 5
        await pilot.pause()
        assert all("CANCELLED" in row for row in rows_text(app))


async def test_a_failed_execution_shows_its_tries_in_the_detail(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        batch = await new_batch(app, 4)
        target = batch.executions[0].instance_id
        sim = app._simulator
        sim.config.instance_scripts[target] = ["503", "503", "403"]  # type: ignore[attr-defined]
        await app.launch(batch)
        await wait_for(pilot, lambda: app.live[batch.id].status.is_terminal, what="batch end")
        await pilot.pause()

        await pilot.press("f")  # failures only
        await wait_for(pilot, lambda: len(rows_text(app)) == 1)
        assert "✘ FAILED" in rows_text(app)[0]
        assert "Access denied" in rows_text(app)[0]

        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExecutionDetailScreen))
        detail = app.screen
        assert isinstance(detail, ExecutionDetailScreen)
        await wait_for(pilot, lambda: len(detail.attempts) == 3, what="3 tries loaded")
        categories = [a.error_category.value if a.error_category else None for a in detail.attempts]
        assert categories[0] == categories[1] != categories[2]
        assert detail.attempts[0].retry_delay is not None
        assert detail.attempts[2].retry_delay is None
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("f")
        await wait_for(pilot, lambda: len(rows_text(app)) == 4)


async def test_r_retries_only_the_failed_instances_as_a_new_batch(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        batch = await new_batch(app, 5)
        failing = {batch.executions[1].instance_id, batch.executions[3].instance_id}
        for instance_id in failing:
            app._simulator.config.instance_scripts[instance_id] = ["400"]  # type: ignore[attr-defined]
        await app.launch(batch)
        await wait_for(pilot, lambda: app.live[batch.id].status.is_terminal, what="batch end")
        assert app.live[batch.id].status is BatchStatus.PARTIAL

        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert {i.instance_id for i in confirm.instances} == failing
        assert confirm.initial_query == batch.query


async def test_escape_leaves_the_batch_running_and_the_bar_names_it(tmp_path: Path) -> None:
    slow = fast_simulator(time_scale=10.0, duration_min=300, duration_max=300)
    app = make_app(tmp_path, simulator=slow)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        batch = await new_batch(app, 3, name="bar test")
        await app.launch(batch)
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, DashboardScreen))
        bar = app.screen.query_one("RunningBar")
        await wait_for(pilot, lambda: "bar test" in str(bar.render()), what="running bar")
        assert batch.id in app.services.runner.running  # type: ignore[union-attr]
        await app.cancel(batch.id)
        await wait_for(pilot, lambda: app.live[batch.id].status.is_terminal, timeout=30)


async def test_the_bar_names_a_launched_batch_before_its_run_begins(tmp_path: Path) -> None:
    """The dashboard of a batch just launched has its running bar from its first frame:
    a bar appearing a moment later (once the runner's worker starts) would make Textual
    lay out and draw the whole screen again, keys waiting meanwhile."""
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        held: list[str] = []
        start = app.runs._start
        app.runs._start = held.append  # type: ignore[method-assign]  # begins when told
        batch = await new_batch(app, 2, name="early bar")
        await app.launch(batch)
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.pause()
        runner = app.services.runner
        assert runner is not None and batch.id not in runner.running and held == [batch.id]
        bar = app.screen.query_one("RunningBar")
        assert bar.has_class("-active")
        assert "early bar 0/2" in str(bar.render())
        start(held[0])
        await wait_for(pilot, lambda: app.live[batch.id].status.is_terminal, what="batch end")
        # The runner lists the batch until its last write is done, a moment after the
        # end is told; then nothing is shown as started here.
        await wait_for(pilot, lambda: batch.id not in runner.running, what="run over")
        assert app.runs.started_here() == []
        await wait_for(pilot, lambda: not bar.has_class("-active"), what="the bar hidden")


async def test_names_with_markup_brackets_are_shown_as_text(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        batch = await new_batch(app, 2, name="[/] [bold]weird[/bold]")
        await app.launch(batch)
        await wait_for(pilot, lambda: app.live[batch.id].status.is_terminal, what="batch end")
        await pilot.pause()
        assert "[/] [bold]weird" in str(app.screen.query_one("#batch-title").render())
        await wait_for(pilot, lambda: any("[/] [bold]weird" in text for text in notices(app)))
