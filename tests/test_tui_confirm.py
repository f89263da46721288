"""The confirm screen: the summary, the library, launching, and every refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from engine_support import fast_simulator
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static, TextArea
from tui_support import make_app, wait_for

from amc_tui.amc.simulator import SimInstance
from amc_tui.amc.simulator.demo_data import demo_instances
from amc_tui.domain import (
    BatchStatus,
    Instance,
    InstanceType,
    QuerySpec,
    TimeWindow,
    TimeWindowType,
)
from amc_tui.errors import StoreError
from amc_tui.store.history import HistoryStore
from amc_tui.tui.app import AmcApp
from amc_tui.tui.screens.confirm import ConfirmScreen
from amc_tui.tui.screens.dashboard import DashboardScreen
from amc_tui.tui.screens.dialogs import QuitScreen
from amc_tui.tui.screens.instances import InstancesScreen

AppPilot = Pilot[Any]
SIZES = [(80, 24), (120, 40)]


async def demo_instances_of(app: AmcApp, pilot: AppPilot) -> list[Instance]:
    await wait_for(pilot, lambda: app.ready and isinstance(app.screen, InstancesScreen))
    return await app.services.instances()


async def open_confirm(
    app: AmcApp, pilot: AppPilot, instances: list[Instance] | int = 3, **kw: Any
) -> ConfirmScreen:
    known = await demo_instances_of(app, pilot)
    if isinstance(instances, int):
        standard = [i for i in known if i.instance_type is InstanceType.STANDARD]
        instances = standard[:instances]
    screen = ConfirmScreen(instances, **kw)
    await app.push_screen(screen)
    await wait_for(pilot, lambda: app.screen is screen)
    await pilot.pause()
    return screen


def text_of(screen: ConfirmScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def notices(app: AmcApp) -> list[str]:
    return [n.message for n in app._notifications]


async def stored_query(app: AmcApp) -> tuple[str, QuerySpec]:
    (summary,) = await app.services.store.list_batches()
    batch = await app.services.store.get_batch(summary.id)
    assert batch is not None
    return batch.name, batch.query


async def test_summary_names_the_instances_concurrency_and_retries(tmp_path: Path) -> None:
    app = make_app(tmp_path, max_concurrent_executions=2, max_retry_attempts=3)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(app, pilot, 3)
        summary = text_of(screen, "#summary")
        assert summary.startswith("3 instances: ")
        assert screen.instances[0].name in summary
        assert "At most 2 at once" in summary
        assert "retried up to 3 times" in summary and "permanent errors are not" in summary
        assert "Time window: " in summary and "(AMC's data lag)" in summary
        warnings = text_of(screen, "#warnings")
        assert "Demo: runs on the embedded simulator" in warnings
        assert "mixed" not in warnings and "large batch" not in warnings


async def test_mixing_sandbox_and_standard_warns(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        known = await demo_instances_of(app, pilot)
        sandbox = [i for i in known if i.instance_type is InstanceType.SANDBOX]
        standard = [i for i in known if i.instance_type is InstanceType.STANDARD]
        screen = await open_confirm(app, pilot, standard[:2] + sandbox[:1])
        assert "Sandbox and standard instances mixed (1 sandbox)" in text_of(screen, "#warnings")


async def test_a_big_batch_warns_and_lists_only_what_fits(tmp_path: Path) -> None:
    many = [SimInstance(instance_id=f"amcbig{n:06d}", instance_name=f"Shop {n}") for n in range(60)]
    app = make_app(tmp_path, simulator=fast_simulator(instances=many + demo_instances()))
    async with app.run_test(size=(80, 24)) as pilot:
        known = await demo_instances_of(app, pilot)
        screen = await open_confirm(app, pilot, [i for i in known if "Shop" in i.name])
        summary = text_of(screen, "#summary")
        assert summary.startswith("60 instances: Shop 0, Shop 1")
        assert "more)" in summary.splitlines()[0] and len(summary.splitlines()[0]) <= 78
        assert "A large batch: 60 executions" in text_of(screen, "#warnings")


async def test_a_library_query_fills_the_sql_and_ctrl_s_launches(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(app, pilot, 3)
        labels = [str(label) for label, _ in screen.query_one("#source", Select)._options]
        assert "reach_frequency (demo)" in labels
        demo = next(i for i, q in enumerate(screen.library) if q.name == "reach_frequency")
        screen.query_one("#source", Select).value = f"lib:{demo}"
        sql = screen.query_one("#sql", TextArea)
        await wait_for(pilot, lambda: sql.text == screen.library[demo].sql)
        sql.focus()
        sql.move_cursor(sql.document.end)
        await pilot.press("space", "enter")  # it stays editable; enter starts a new line
        assert sql.text.endswith(" \n") and isinstance(app.screen, ConfirmScreen)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        dashboard = app.screen
        assert isinstance(dashboard, DashboardScreen)
        (summary,) = await app.services.store.list_batches()
        assert dashboard.batch_id == summary.id and summary.counts.total == 3
        _, query = await stored_query(app)
        assert query.sql == sql.text
        await pilot.press("escape")  # the confirm screen is gone: back to the instances
        await wait_for(pilot, lambda: isinstance(app.screen, InstancesScreen))
        again = await open_confirm(app, pilot, 1)  # the library query is remembered
        assert again.query_one("#source", Select).value == f"lib:{demo}"


async def test_ctrl_s_typed_in_a_burst_launches_every_character_typed_before_it(
    tmp_path: Path,
) -> None:
    """SQL and ctrl+s arriving at once (pasted, or over a slow SSH link): the launch reads
    the SQL box after every character typed before ctrl+s has reached it."""
    app = make_app(tmp_path)
    typed = "SELECT campaign, impressions FROM sponsored_ads_traffic"
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(app, pilot, 2)
        screen.query_one("#sql", TextArea).focus()
        await pilot.pause()
        for char in typed:
            app.post_message(events.Key(KEY_OF.get(char, char), char))
        app.post_message(events.Key("ctrl+s", None))
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), what="launch")
        _, query = await stored_query(app)
        assert query.sql == typed
        await pilot.pause(0.3)  # the dashboard composed before the app closes


async def test_ctrl_q_typed_right_after_ctrl_s_asks_about_the_batch_launched(
    tmp_path: Path,
) -> None:
    """ctrl+s then ctrl+q in one burst: the quit waits for the launch under way, then asks
    about the batch, rather than quitting at once with the launch dropped."""
    slow = fast_simulator(time_scale=10.0, duration_min=300, duration_max=300)
    app = make_app(tmp_path, simulator=slow)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(app, pilot, 2, query=QuerySpec(sql="SELECT 1"))
        assert screen.query_one("#sql", TextArea).text == "SELECT 1"
        app.post_message(events.Key("ctrl+s", None))
        app.post_message(events.Key("ctrl+q", None))
        app.post_message(events.Key("ctrl+q", None))  # pressed again while it waits
        await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen), what="the question")
        await pilot.pause(0.2)
        (summary,) = await app.services.store.list_batches()
        asking = app.screen
        assert isinstance(asking, QuitScreen)
        assert [live.id for live in asking.running] == [summary.id]
        assert sum(isinstance(s, QuitScreen) for s in app.screen_stack) == 1
        await pilot.press("c")
        await wait_for(pilot, lambda: not app.is_running, timeout=30, what="exit")

    async with await HistoryStore.open(app.settings.paths.history_db) as store:
        stored = await store.get_batch(summary.id)
    assert stored is not None and stored.status is BatchStatus.CANCELLED


KEY_OF = {" ": "space", ",": "comma", "_": "underscore"}


async def refused(app: AmcApp, pilot: AppPilot, screen: ConfirmScreen, field: str) -> str:
    await pilot.pause()  # let the fields' Changed messages land first
    await pilot.press("ctrl+s")
    error = screen.query_one(f"#{field}-error", Static)
    await wait_for(pilot, lambda: text_of(screen, f"#{field}-error") != "", what=field)
    assert error.display and app.screen is screen
    assert await app.services.store.list_batches() == []
    assert any("Not launched" in (n.title or "") for n in app._notifications)
    return text_of(screen, f"#{field}-error")


def explicit(screen: ConfirmScreen, start: str, end: str) -> None:
    screen.query_one("#window", Select).value = TimeWindowType.EXPLICIT.value
    screen.query_one("#start", Input).value = start
    screen.query_one("#end", Input).value = end


REFUSALS: dict[str, tuple[str, str, str]] = {
    # case: (field, what to set, the words expected beside the field)
    "empty_sql": ("query", "", "The SQL is empty"),
    "start_after_end": ("window", "2026-11-08T00:00:00|2026-11-01T00:00:00", "is not before end"),
    "bad_date_format": ("window", "2026-11-01|2026-11-08T00:00:00", "start '2026-11-01' is not"),
    "missing_end": ("window", "2026-11-01T00:00:00|", "Give the end"),
    "bad_parameter": ("params", "brand=Acme\nnovalue", "line 2: parameter 'novalue'"),
    "repeated_parameter": ("params", "k=1\nk=2", "parameter k: given more than once"),
    "control_character": ("name", "bad\x07name", "control characters are not allowed"),
    "empty_workflow": ("query", "   ", "Give the saved workflow's id"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
async def test_each_bad_field_is_refused_beside_it_and_nothing_is_stored(
    tmp_path: Path, case: str
) -> None:
    field, value, expected = REFUSALS[case]
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(app, pilot, 2)
        if case != "empty_sql":
            screen.query_one("#sql", TextArea).text = "SELECT 1"
        if field == "window":
            explicit(screen, *value.split("|"))
        elif field == "params":
            screen.query_one("#params", TextArea).text = value
        elif field == "name":
            screen.query_one("#name", Input).value = value
        elif case == "empty_workflow":
            screen.query_one("#source", Select).value = "workflow"
            screen.query_one("#workflow", Input).value = value
        assert expected in await refused(app, pilot, screen, field)
        others = {"query", "window", "params", "name", "launch"} - {field}
        assert all(text_of(screen, f"#{other}-error") == "" for other in others)


async def test_fixing_the_fields_launches_a_workflow_with_parameters(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(app, pilot, 2)
        screen.query_one("#params", TextArea).text = "novalue"
        await refused(app, pilot, screen, "params")
        screen.query_one("#source", Select).value = "workflow"
        screen.query_one("#workflow", Input).value = "wf-weekly"
        explicit(screen, "2026-11-01T00:00:00", "2026-11-08T00:00:00")
        screen.query_one("#params", TextArea).text = "asins=B01,B02\n\nbrand = Acme Inc"
        screen.query_one("#name", Input).value = "  weekly  "
        await pilot.pause()
        assert text_of(screen, "#params-error") == ""  # an edit clears the field's error
        screen.query_one("#name", Input).focus()
        await pilot.press("enter")  # enter in a one-line field launches
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        name, query = await stored_query(app)
        assert name == "weekly" and query.workflow_id == "wf-weekly" and query.sql is None
        assert query.parameters == {"asins": "B01,B02", "brand": "Acme Inc"}
        assert query.time_window == TimeWindow(
            start="2026-11-01T00:00:00", end="2026-11-08T00:00:00"
        )


async def test_a_field_is_checked_when_focus_leaves_it(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(app, pilot, 1)
        screen.query_one("#params", TextArea).focus()
        await pilot.press("n", "o", "p", "e", "tab")
        await wait_for(pilot, lambda: "expected KEY=VALUE" in text_of(screen, "#params-error"))
        assert app.screen is screen and await app.services.store.list_batches() == []


async def test_a_rerun_is_prefilled_and_launches_the_same_query(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        known = await demo_instances_of(app, pilot)
        kept, dropped = known[0].instance_id, known[5].instance_id
        query = QuerySpec(
            sql="SELECT 42",
            time_window=TimeWindow(
                start="2026-10-01T00:00:00", end="2026-10-02T00:00:00", timezone="Europe/Berlin"
            ),
            parameters={"k": "v", "list": "a, b"},
            instance_parameters={kept: {"k": "w"}, dropped: {"k": "x"}},
        )
        screen = await open_confirm(app, pilot, known[:2], query=query, name="again")
        assert screen.query_one("#sql", TextArea).text == "SELECT 42"
        assert screen.query_one("#window", Select).value == TimeWindowType.EXPLICIT.value
        assert screen.query_one("#start", Input).value == "2026-10-01T00:00:00"
        assert screen.query_one("#end", Input).value == "2026-10-02T00:00:00"
        assert screen.query_one("#params", TextArea).text == "k=v\nlist=a, b"
        assert screen.query_one("#name", Input).value == "again"
        assert "overrides for 1 instance(s)" in text_of(screen, "#summary")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        name, launched = await stored_query(app)
        assert name == "again"
        assert launched.model_copy(update={"instance_parameters": {}}) == query.model_copy(
            update={"instance_parameters": {}}
        )
        assert launched.instance_parameters == {kept: {"k": "w"}}  # only this batch's


async def test_a_rerun_of_a_relative_window_keeps_it(tmp_path: Path) -> None:
    query = QuerySpec(
        workflow_id="wf-weekly", time_window=TimeWindow(type=TimeWindowType.MOST_RECENT_WEEK)
    )
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(app, pilot, 1, query=query)
        assert screen.query_one("#workflow", Input).value == "wf-weekly"
        assert "most recent week (AMC's relative window)" in text_of(screen, "#summary")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        _, launched = await stored_query(app)
        assert launched == query


async def test_your_queries_come_before_the_demo_ones(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    queries_dir = app.settings.paths.queries_dir
    queries_dir.mkdir(parents=True)
    (queries_dir / "my_weekly.sql").write_text("SELECT 'mine'")
    (queries_dir / "broken.sql").write_bytes(b"\xff\xfe not text")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(app, pilot, 1)
        labels = [str(label) for label, _ in screen.query_one("#source", Select)._options]
        assert labels[0] == "my_weekly" and labels[1].endswith("(demo)")
        assert "broken.sql: not UTF-8 text" in text_of(screen, "#library-problems")
        assert "1 query file(s) left out of the library" in text_of(screen, "#warnings")
        screen.query_one("#source", Select).value = "lib:0"
        await wait_for(pilot, lambda: screen.query_one("#sql", TextArea).text == "SELECT 'mine'")


async def test_a_store_failure_brings_the_form_back_unlaunched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(app, pilot, 2, name="kept")
        screen.query_one("#sql", TextArea).text = "SELECT 'kept'"

        async def refuse(batch: object) -> object:
            raise StoreError("The history store could not be used")

        monkeypatch.setattr(app.services.store, "create_batch", refuse)
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(
            pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen is not screen
        )
        again = app.screen
        assert isinstance(again, ConfirmScreen)
        assert again.query_one("#sql", TextArea).text == "SELECT 'kept'"
        assert again.query_one("#name", Input).value == "kept"
        assert "Not launched: The history store" in text_of(again, "#launch-error")
        assert app.live == {}


async def test_read_only_refuses_to_launch(tmp_path: Path) -> None:
    app = make_app(tmp_path, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        screen = ConfirmScreen([])
        await app.push_screen(screen)
        await wait_for(pilot, lambda: app.screen is screen)
        screen.query_one("#sql", TextArea).text = "SELECT 1"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "Read-only: batches cannot be launched" in notices(app))
        assert app.screen is screen and await app.services.store.list_batches() == []


async def test_escape_goes_back_but_first_closes_an_open_list(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_confirm(app, pilot, 1)
        below = app.screen_stack[-2]
        window = screen.query_one("#window", Select)
        window.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: window.expanded)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not window.expanded)
        assert app.screen is screen
        screen.query_one("#sql", TextArea).focus()
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is below)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_field_and_the_summary_fit_the_screen(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        known = await demo_instances_of(app, pilot)
        screen = await open_confirm(app, pilot, known)  # mixed: the most warnings
        screen.query_one("#window", Select).value = TimeWindowType.EXPLICIT.value
        await pilot.pause()
        width, height = size
        box = screen.query_one("#summary-box").region
        assert box.bottom <= height - 1 and box.right <= width  # above the footer
        assert "24 instances" in text_of(screen, "#summary")
        form = screen.query_one("#form").region
        seen = []
        for _ in range(8):
            focused = app.focused
            assert focused is not None
            seen.append(focused.id)
            await wait_for(
                pilot, lambda f=focused: form.contains_region(f.region), what=str(focused)
            )
            await pilot.press("tab")
        assert {"source", "sql", "window", "start", "end", "params", "name"} <= set(seen)
