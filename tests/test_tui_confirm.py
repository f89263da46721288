"""The confirm screen: the summary, the library, launching, and every refusal."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Select, Static, TextArea
from tui_support import make_app, wait_for

from amc_tui.domain import BatchStatus, InstanceType, QuerySpec, TimeWindow
from amc_tui.tui.app import AmcApp
from amc_tui.tui.screens.confirm import ConfirmScreen
from amc_tui.tui.screens.dashboard import DashboardScreen


async def open_confirm(app: AmcApp, pilot: object, n: int = 3, **kw: object) -> ConfirmScreen:
    await wait_for(pilot, lambda: app.ready and len(app.screen_stack) > 1)  # type: ignore[arg-type]
    instances = await app.services.instances()
    standard = [i for i in instances if i.instance_type is InstanceType.STANDARD]
    screen = ConfirmScreen(standard[:n], **kw)  # type: ignore[arg-type]
    await app.push_screen(screen)
    await wait_for(pilot, lambda: app.screen is screen)  # type: ignore[arg-type]
    return screen


def text_of(screen: ConfirmScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_summary_names_the_instances_concurrency_and_retries(tmp_path: Path) -> None:
    app = make_app(tmp_path, max_concurrent_executions=2, max_retry_attempts=3)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(app, pilot, 3)
        summary = text_of(screen, "#summary")
        assert "Will run on 3" in summary
        assert "At most 2 executions in flight" in summary
        assert "up to 4 tries" in summary
        assert "Demo" in text_of(screen, "#warnings")
        assert "mixed" not in text_of(screen, "#warnings")


async def test_mixing_sandbox_and_standard_and_a_big_batch_warn(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready and len(app.screen_stack) > 1)
        instances = await app.services.instances()
        screen = ConfirmScreen(instances * 3)  # the screen only warns; 72 > 50
        await app.push_screen(screen)
        await wait_for(pilot, lambda: app.screen is screen)
        warnings = text_of(screen, "#warnings")
        assert "Sandbox and standard instances are mixed" in warnings
        assert "A large batch" in warnings


async def test_a_library_query_fills_the_sql_and_ctrl_s_launches(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(app, pilot, 3)
        labels = [label for label, _ in screen.query_one("#source", Select)._options]
        demo = next(i for i, q in enumerate(screen.library) if q.name == "reach_frequency")
        screen.query_one("#source", Select).value = f"lib:{demo}"
        await wait_for(pilot, lambda: screen.query_one("#sql", TextArea).text.strip() != "")
        assert screen.query_one("#sql", TextArea).text == screen.library[demo].sql
        assert any("reach_frequency (demo)" in str(label) for label in labels)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        stored = await app.services.store.list_batches()
        assert len(stored) == 1 and stored[0].counts.total == 3
        batch = await app.services.store.get_batch(stored[0].id)
        assert batch is not None and batch.query.sql == screen.library[demo].sql
        await wait_for(pilot, lambda: app.live[batch.id].status.is_terminal)
        assert app.live[batch.id].status is BatchStatus.COMPLETED


async def refused(app: AmcApp, pilot: object, screen: ConfirmScreen, field: str) -> str:
    await pilot.pause()  # type: ignore[attr-defined]  # let the fields' Changed land first
    await pilot.press("ctrl+s")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: text_of(screen, f"#{field}-error") != "")  # type: ignore[arg-type]
    assert app.screen is screen
    assert await app.services.store.list_batches() == []
    return text_of(screen, f"#{field}-error")


async def test_every_bad_field_is_refused_beside_it_and_nothing_is_stored(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(app, pilot, 2)
        assert "The SQL is empty" in await refused(app, pilot, screen, "query")

        screen.query_one("#sql", TextArea).text = "SELECT 1"
        screen.query_one("#window", Select).value = "EXPLICIT"
        await pilot.pause()
        screen.query_one("#start", Input).value = "2026-11-08T00:00:00"
        screen.query_one("#end", Input).value = "2026-11-01T00:00:00"
        assert "is not before end" in await refused(app, pilot, screen, "window")

        screen.query_one("#start", Input).value = "2026-11-01"
        assert "start" in await refused(app, pilot, screen, "window")
        screen.query_one("#start", Input).value = "2026-11-01T00:00:00"
        screen.query_one("#end", Input).value = "2026-11-08T00:00:00"

        screen.query_one("#params", Input).value = "brand=Acme, novalue"
        assert "novalue" in await refused(app, pilot, screen, "params")
        screen.query_one("#params", Input).value = "brand=Acme"

        screen.query_one("#name", Input).value = "bad\x07name"
        assert "control characters" in await refused(app, pilot, screen, "name")
        screen.query_one("#name", Input).value = "ok"

        screen.query_one("#source", Select).value = "workflow"
        await pilot.pause()
        assert "workflow" in await refused(app, pilot, screen, "query")

        screen.query_one("#workflow", Input).value = "wf-weekly"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        (summary,) = await app.services.store.list_batches()
        batch = await app.services.store.get_batch(summary.id)
        assert batch is not None and batch.name == "ok"
        assert batch.query.workflow_id == "wf-weekly"
        assert batch.query.parameters == {"brand": "Acme"}
        assert str(batch.query.time_window.start) == "2026-11-01 00:00:00"


async def test_a_rerun_is_prefilled_and_launches_the_same_query(tmp_path: Path) -> None:
    query = QuerySpec(
        sql="SELECT 42",
        time_window=TimeWindow(start="2026-10-01T00:00:00", end="2026-10-02T00:00:00"),
        parameters={"k": "v"},
    )
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(app, pilot, 2, query=query, name="again")
        assert screen.query_one("#sql", TextArea).text == "SELECT 42"
        assert screen.query_one("#start", Input).value == "2026-10-01T00:00:00"
        assert screen.query_one("#params", Input).value == "k=v"
        screen.query_one("#name", Input).focus()
        await pilot.press("enter")  # enter in a one-line field launches
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        (summary,) = await app.services.store.list_batches()
        batch = await app.services.store.get_batch(summary.id)
        assert batch is not None
        assert batch.query.sql == query.sql
        assert batch.query.time_window == query.time_window
        assert batch.query.parameters == query.parameters
        assert batch.name == "again"


async def test_your_queries_come_before_the_demo_ones(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    queries_dir = app.settings.paths.queries_dir
    queries_dir.mkdir(parents=True)
    (queries_dir / "my_weekly.sql").write_text("SELECT 'mine'")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(app, pilot, 1)
        assert screen.library[0].name == "my_weekly"
        assert screen.library[0].origin == "yours"


async def test_escape_goes_back(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(app, pilot, 1)
        below = app.screen_stack[-2]
        screen.query_one("#name", Input).focus()
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is below)
