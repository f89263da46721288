"""The dashboard under load: what ``bench/dashboard_load.py``'s figures rest on.

A burst of events (a few hundred executions on a zero-latency simulator) ends with
every row of the table equal to the store; the screens are told of changes fewer
times than there are events, and none is lost between two tellings; a key pressed in
the burst is answered while it goes on; a screen hidden under the dashboard is told
nothing, not even the end, until it is shown again (then all it missed at once); the
table redraws only the rows that changed.  No test here measures a time.
"""

from __future__ import annotations

import gc
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

from engine_support import fast_simulator
from rich.text import Text
from textual import events
from textual.coordinate import Coordinate
from textual.message import Message
from textual.screen import Screen
from tui_support import OneTable, live_table, make_app, new_batch, wait_for

from amc_tui.amc.simulator import SimulatorConfig
from amc_tui.amc.simulator.config import SimInstance
from amc_tui.domain import (
    Batch,
    BatchCounts,
    BatchStatus,
    Execution,
    ExecutionStatus,
    QuerySpec,
    utc_now,
)
from amc_tui.engine.events import ExecutionChanged
from amc_tui.tui.app import AmcApp
from amc_tui.tui.collector import YOUNG_THRESHOLD
from amc_tui.tui.format import execution_state
from amc_tui.tui.live import LiveBatch
from amc_tui.tui.messages import BatchUpdated
from amc_tui.tui.screen_news import ScreenNews
from amc_tui.tui.screens.dashboard import DashboardScreen
from amc_tui.tui.screens.instances import InstancesScreen
from amc_tui.tui.widgets.live_table import LiveTable
from amc_tui.tui.widgets.table import FixedTable

BURST = 300


def load_simulator(n: int) -> SimulatorConfig:
    """A fault-free simulator of ``n`` instances whose executions last 5 ms."""
    instances = [
        SimInstance(instance_id=f"amcload{k:04d}", instance_name=f"Load {k:04d}") for k in range(n)
    ]
    return fast_simulator(
        duration_min=5.0, duration_max=5.0, instances=instances, instances_page_size=100
    )


def burst_app(tmp_path: Path, **options: Any) -> AmcApp:
    return make_app(
        tmp_path,
        simulator=load_simulator(BURST),
        max_batch_size=BURST,
        max_concurrent_executions=50,
        **options,
    )


def dashboard(app: AmcApp) -> DashboardScreen:
    screen = app.screen
    assert isinstance(screen, DashboardScreen), type(screen).__name__
    return screen


def differences(screen: DashboardScreen, stored: Batch, max_attempts: int) -> list[str]:
    """Where the dashboard's rows and header differ from the stored batch."""
    table = screen.table
    found = [] if table.row_count == len(stored.executions) else ["row count"]
    for ex in stored.executions:
        state, _name, tries, _time, amc, _note = (str(c) for c in table.get_row(str(ex.id)))
        want_try = "-" if ex.attempts == 0 else f"{ex.attempts}/{max_attempts}"
        want_amc = ex.amc_execution_id or "-"
        if state != execution_state(ex.status).plain:
            found.append(f"{ex.id}: state {state!r} for {ex.status.value}")
        if tries != want_try:
            found.append(f"{ex.id}: try {tries!r} for {want_try}")
        if len(amc) < min(8, len(want_amc)) or not want_amc.startswith(amc):
            found.append(f"{ex.id}: AMC id {amc!r} for {want_amc}")
    counts = stored.counts()
    if f"{counts.succeeded}/{counts.total} done" not in str(
        screen.query_one("#progress-text").render()
    ):
        found.append("header")
    return found


# --- a real burst -----------------------------------------------------------------------


async def test_a_burst_ends_with_every_row_equal_to_the_store_told_in_few_messages(
    tmp_path: Path,
) -> None:
    app = burst_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        app.updates.interval = 0.2  # coalescing does not depend on the machine's speed
        batch = await new_batch(app, BURST)
        await app.launch(batch)
        live = app.live[batch.id]
        await wait_for(pilot, lambda: live.status.is_terminal, timeout=120, what="batch end")
        await pilot.pause()
        stored = await app.services.store.get_batch(batch.id)
        assert stored is not None and stored.status is BatchStatus.COMPLETED
        assert differences(dashboard(app), stored, app.services.max_attempts) == []
        assert app.updates.events >= 3 * BURST  # submitting, pending, succeeded at least
        assert 2 * app.updates.flushes < app.updates.events
        assert not app.updates.pending


async def test_a_key_pressed_in_a_burst_is_answered_while_it_goes_on(tmp_path: Path) -> None:
    app = burst_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        batch = await new_batch(app, BURST)
        await app.launch(batch)
        live = app.live[batch.id]
        table = dashboard(app).table
        await wait_for(pilot, lambda: app.updates.events > 50, what="the burst under way")
        assert table.cursor_row == 0
        app.post_message(events.Key("down", None))
        await wait_for(pilot, lambda: table.cursor_row == 1, what="the key's effect")
        answered_at = app.updates.events
        assert not live.is_finished, "the key was answered only once the burst was over"
        await wait_for(pilot, lambda: live.status.is_terminal, timeout=120, what="batch end")
        assert app.updates.events > answered_at


async def test_a_screen_under_the_dashboard_is_told_nothing_until_shown(tmp_path: Path) -> None:
    """Not even the end: the instances screen re-reads every instance's results on it,
    which must not happen under the dashboard at the moment the batch ends."""
    app = burst_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        await wait_for(pilot, lambda: isinstance(app.screen, InstancesScreen))
        instances = app.screen
        to_instances = told(instances)
        batch = await new_batch(app, BURST)
        await app.launch(batch)
        to_dashboard = told(dashboard(app))
        live = app.live[batch.id]
        await wait_for(pilot, lambda: live.status.is_terminal, timeout=120, what="batch end")
        await wait_for(pilot, lambda: any(m.finished for m in to_dashboard), what="the end")
        await pilot.pause()
        assert to_instances == []
        assert len(to_dashboard) > 1 and to_dashboard[-1].finished

        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is instances, what="back on instances")
        await wait_for(pilot, lambda: bool(to_instances), what="the instances told")
    assert [m.finished for m in to_instances] == [True]
    assert len(to_instances[0].execution_ids) == BURST  # every row it was not told of before


def told(screen: Screen[Any]) -> list[BatchUpdated]:
    """The BatchUpdated messages the app posts to ``screen`` from now on."""
    messages: list[BatchUpdated] = []
    post = screen.post_message

    def spy(message: Message) -> bool:
        if isinstance(message, BatchUpdated):
            messages.append(message)
        return post(message)

    screen.post_message = spy  # type: ignore[method-assign]
    return messages


def test_an_end_missed_while_hidden_survives_an_update_told_before_the_screen_change() -> None:
    """A screen shown again may be told of a change before the screen-change signal
    hands it what it missed: the batch's end it missed must come with that change."""

    class Shown:
        def __init__(self) -> None:
            self.styles = SimpleNamespace(background=SimpleNamespace(a=1.0))
            self.got: list[BatchUpdated] = []

        def post_message(self, message: BatchUpdated) -> bool:
            self.got.append(message)
            return True

    under, top = Shown(), Shown()
    app = SimpleNamespace(screen_stack=[under, top])
    news = ScreenNews(app)  # type: ignore[arg-type]
    news.tell("batch_1", frozenset({1}), finished=True)
    assert under.got == [] and [m.finished for m in top.got] == [True]

    app.screen_stack = [under]  # the top screen is gone; the signal has not come yet
    news.tell("batch_1", frozenset({2}), finished=False)
    news.screen_changed(under)  # type: ignore[arg-type]
    assert [(set(m.execution_ids), m.finished) for m in under.got] == [({1, 2}, True)]


# --- events between two tellings (fed to the app's own listener) -----------------------


async def stored_dashboard(app: AmcApp, pilot: Any, n: int) -> tuple[LiveBatch, DashboardScreen]:
    """The dashboard of a stored batch of ``n`` executions, ended (so that nothing runs
    it and the screen does not watch the store): events are then fed by hand."""
    store = app.services.store
    batch = await store.create_batch(await new_batch(app, n))
    await store.transition_batch(batch.id, BatchStatus.RUNNING)
    await store.transition_batch(batch.id, BatchStatus.COMPLETED)
    await app.open_batch(batch.id)
    await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), what="dashboard")
    return app.live[batch.id], dashboard(app)


def moved(ex: Execution, status: ExecutionStatus, **fields: Any) -> ExecutionChanged:
    return ExecutionChanged(
        batch_id=ex.batch_id,
        execution=ex.model_copy(update={"status": status, "updated_at": utc_now(), **fields}),
        previous=ex.status,
    )


async def test_no_change_is_lost_between_two_tellings(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        live, screen = await stored_dashboard(app, pilot, 4)
        first, second, third = (live.rows[k].execution for k in live.order[:3])
        flushes = app.updates.flushes
        # All in one turn of the event loop: the first is told at once, the rest
        # together once the interval is up.
        app.updates.on_event(moved(first, ExecutionStatus.SUBMITTING, attempts=1))
        app.updates.on_event(moved(second, ExecutionStatus.SUBMITTING, attempts=1))
        app.updates.on_event(
            moved(first, ExecutionStatus.PENDING, attempts=1, amc_execution_id="amc-first-0001")
        )
        app.updates.on_event(moved(first, ExecutionStatus.FAILED, attempts=2))
        app.updates.on_event(moved(third, ExecutionStatus.CANCELLED))
        assert app.updates.pending
        await wait_for(pilot, lambda: not app.updates.pending, what="the second telling")
        await pilot.pause()
        assert app.updates.flushes == flushes + 2
        states = {k: str(screen.table.get_row(str(k))[0]) for k in live.order}
        assert states[first.id] == "✘ FAILED"  # its last state, not one on the way
        assert str(screen.table.get_row(str(first.id))[2]) == f"2/{app.services.max_attempts}"
        assert states[second.id] == "↑ SUBMITTING"
        assert states[third.id] == "⊘ CANCELLED"
        assert live.counts() == BatchCounts.of(r.status for r in live.rows.values())


async def test_a_hidden_screen_is_told_what_it_missed_when_shown_again(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, InstancesScreen))
        instances = app.screen
        to_instances = told(instances)
        live, screen = await stored_dashboard(app, pilot, 3)
        to_dashboard = told(screen)
        rows = [live.rows[k].execution for k in live.order]
        for ex in rows:
            app.updates.on_event(moved(ex, ExecutionStatus.SUBMITTING, attempts=1))
        await wait_for(pilot, lambda: not app.updates.pending)
        assert to_instances == []
        assert {k for m in to_dashboard for k in m.execution_ids} == {ex.id for ex in rows}
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is instances, what="back on instances")
        assert [(m.batch_id, set(m.execution_ids), m.finished) for m in to_instances] == [
            (live.id, {ex.id for ex in rows}, False)
        ]


async def test_the_clocks_tick_in_sight_and_are_set_as_rows_come_into_sight(
    tmp_path: Path,
) -> None:
    """A second's tick sets the clocks of the rows in sight only (a thousand waiting
    rows each second took 40-50 ms); a row scrolled into sight shows its clock at once."""
    now = [utc_now()]
    app = burst_app(tmp_path, clock=lambda: now[0])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        live, screen = await stored_dashboard(app, pilot, 120)
        table = screen.table
        await wait_for(pilot, lambda: table.row_count == 120, what="every row")
        first, last = live.order[0], live.order[-1]
        assert not live.rows[last].status.is_terminal  # waiting: its clock runs

        def clock(execution_id: int) -> str:
            return str(table.get_cell(str(execution_id), "time"))

        now[0] += timedelta(minutes=5)
        screen.tick()
        await pilot.pause()
        assert clock(first) == screen.time_text(live.rows[first].execution) == "5m 00s"
        assert clock(last) != "5m 00s"  # out of sight: not set
        assert len(table.keys_in_sight()) < 60

        table.scroll_end(animate=False)
        await wait_for(pilot, lambda: clock(last) == "5m 00s", what="the clock in sight")
        assert str(last) in table.keys_in_sight()


# --- the live batch's counts ------------------------------------------------------------


def test_the_counts_follow_every_change_and_fresh_read() -> None:
    from store_support import make_batch

    batch = make_batch(["a", "b", "c", "d"])
    for n, ex in enumerate(batch.executions, start=1):
        ex.id = n
    live = LiveBatch(batch, here=True)
    now = utc_now()
    steps = [
        (1, ExecutionStatus.SUBMITTING),
        (1, ExecutionStatus.PENDING),
        (2, ExecutionStatus.SUBMITTING),
        (1, ExecutionStatus.SUCCEEDED),
        (2, ExecutionStatus.FAILED),
        (3, ExecutionStatus.CANCELLED),
    ]
    for execution_id, status in steps:
        live.apply(moved(live.rows[execution_id].execution, status), now)
        assert live.counts() == BatchCounts.of(r.status for r in live.rows.values())
    fresh = batch.model_copy(deep=True)
    fresh.executions[3].status = ExecutionStatus.UNKNOWN
    fresh.executions[3].updated_at = utc_now()
    live.merge(fresh)
    assert live.counts() == BatchCounts.of(ex.status for ex in fresh.executions)
    assert live.counts().unknown == 1


# --- the table ---------------------------------------------------------------------------


def fill_table(table: FixedTable) -> None:
    for key, width in (("state", 12), ("name", 20), ("try", 3), ("note", 10)):
        table.add_column(key.title(), key=key, width=width)
    for n in range(100):
        table.add_row(
            Text("· QUEUED", style="bright_black"), Text(f"instance {n}"), "-", "", key=str(n)
        )


def lines(table: FixedTable) -> list[list[tuple[str, object]]]:
    return [
        [(segment.text, segment.style) for segment in table.render_line(y)]
        for y in range(table.size.height)
    ]


async def drawn(kind: type[FixedTable]) -> list[list[list[tuple[str, object]]]]:
    """What a table of ``kind`` shows after each of a series of changes."""
    app = OneTable(kind)
    shown = []
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.table
        fill_table(table)

        def change(rows: dict[str, dict[str, Any]]) -> None:
            if isinstance(table, LiveTable):
                table.update_rows(rows)
                return
            for key, cells in rows.items():
                for column, value in cells.items():
                    table.update_cell(key, column, value)

        async def look() -> None:
            await pilot.pause()
            shown.append(lines(table))

        await look()
        change({"1": {"state": Text("▶ RUNNING", style="blue"), "try": "1/4"}})
        await look()
        change({"2": {"note": Text("oops", style="red")}, "90": {"try": "2/4"}})
        await look()
        table.move_cursor(row=2)
        await look()
        table._show_hover_cursor = True  # the mouse over row 4, as a mouse move sets it
        table.hover_coordinate = Coordinate(4, 1)
        await look()
        change({"2": {"note": Text("oops", style="magenta")}})  # same text, new style
        await look()
        table.scroll_to(y=80, animate=False)
        await look()
        change({"90": {"state": Text("✔ SUCCEEDED", style="green")}})
        await look()
        table.add_row(Text("· QUEUED"), Text("late"), "-", "", key="100")
        await look()
        table.blur()
        await look()
        table.scroll_to(y=95, animate=False)
        table.add_plain_rows([(str(n), (Text("· QUEUED"), Text(f"new {n}"))) for n in (101, 102)])
        await look()
        await pilot.resize_terminal(60, 24)  # narrower: the lines are cut anew
        await look()
    return shown


async def test_the_live_table_draws_what_a_plain_table_draws() -> None:
    live, plain = await drawn(LiveTable), await drawn(FixedTable)
    assert len(live) == len(plain) == 12
    for step, (mine, theirs) in enumerate(zip(live, plain, strict=True)):
        assert mine == theirs, f"step {step}"
    assert live[1] != live[0] and live[7] != live[6]  # the changes were in sight
    assert live[4] != live[3]  # the row under the mouse looks different


async def test_a_change_out_of_sight_renders_no_line_again() -> None:
    async with live_table((80, 24)) as (pilot, live):
        fill_table(live)
        await pilot.pause()
        lines(live)
        misses = live._lines.misses
        live.update_rows({"95": {"try": "1/4"}})  # row 95 is far below the first 19
        lines(live)
        assert live._lines.misses == misses
        assert live.rows_redrawn == 1
        live.update_rows({"3": {"try": "1/4"}})  # in sight: its line only is drawn again
        lines(live)
        assert live._lines.misses == misses + 1
        live.update_rows({"3": {"try": "1/4"}})  # the same value: nothing to redraw
        assert live.rows_redrawn == 2


async def test_rows_added_below_draw_no_row_in_sight_again() -> None:
    # A dashboard adds most of its rows after its first frame, in parts: each part
    # changes the table's virtual size (a Resize event).  The rows in sight stay drawn.
    async with live_table((80, 24)) as (pilot, live):
        fill_table(live)
        await pilot.pause()
        before = lines(live)
        line_misses, cell_misses = live._lines.misses, live._cells.misses
        more = [(str(n), (Text("· QUEUED"), Text(f"more {n}"))) for n in range(100, 350)]
        live.add_plain_rows(more)
        await pilot.pause()
        assert live.row_count == 350
        assert lines(live) == before
        assert (live._lines.misses, live._cells.misses) == (line_misses, cell_misses)
        await pilot.resize_terminal(70, 24)  # narrower: lines cut anew, from the cells kept
        await pilot.pause()
        lines(live)
        assert live._lines.misses > line_misses
        assert live._cells.misses == cell_misses


# --- the collector ------------------------------------------------------------------------


async def test_the_collector_is_tuned_while_the_app_runs_and_restored_after(
    tmp_path: Path,
) -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready and app.collector.active)
        screen = app.screen
        assert isinstance(screen, InstancesScreen)
        await wait_for(pilot, lambda: screen.table.row_count > 0, what="instances loaded")
        assert gc.get_threshold()[0] >= YOUNG_THRESHOLD
        assert gc.get_freeze_count() > frozen
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen


# --- the first frame ------------------------------------------------------------------------


async def test_the_rows_in_sight_come_first_and_the_others_just_after(tmp_path: Path) -> None:
    app = burst_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready, what="ready")
        stored = await app.services.store.create_batch(await new_batch(app, BURST))
        live = await app.track(stored.id)
        assert live is not None
        live.here = True  # as if run here: the screen does not re-read the store
        await app.open_batch(stored.id)
        screen = dashboard(app)
        first = screen.table.row_count
        assert first == 24  # the screen's height: every row the table can show
        # A change to a row not in the table yet: drawn as it is when that row comes.
        later = stored.executions[100]
        assert later.id is not None
        changed = live.apply(moved(later, ExecutionStatus.SUBMITTING), utc_now())
        screen.update_rows(frozenset(changed))
        assert screen.table.row_count == first  # no rebuild
        await wait_for(pilot, lambda: screen.table.row_count == BURST, what="every row")
        keys = [screen.table.coordinate_to_cell_key((n, 0)).row_key.value for n in range(BURST)]
        assert keys == [str(ex.id) for ex in stored.executions]
        assert str(screen.table.get_cell(str(later.id), "state")) == str(
            execution_state(ExecutionStatus.SUBMITTING)
        )


def test_has_failures_follows_the_counts_as_executions_change() -> None:
    """Asked at each key press and footer drawing, it reads the counts kept as rows
    change, and agrees with the walk over the rows (``failed_ids``) at every step."""
    batch = Batch(name="b", query=QuerySpec(sql="SELECT 1"))
    batch.executions = [
        Execution(
            id=i + 1,
            batch_id=batch.id,
            instance_uuid=uuid4(),
            instance_id=f"amcinst{i:04d}",
            instance_name=f"instance {i}",
        )
        for i in range(3)
    ]
    live = LiveBatch(batch, here=True)
    now = utc_now()
    assert not live.has_failures()
    first, second, _ = batch.executions
    steps = [
        (first, ExecutionStatus.SUBMITTING, False),
        (first, ExecutionStatus.FAILED, True),
        (second, ExecutionStatus.SUBMITTING, True),
        (second, ExecutionStatus.UNKNOWN, True),
    ]
    for ex, status, expected in steps:
        current = live.rows[ex.id or 0].execution
        live.apply(moved(current, status, attempts=1), now)
        assert live.has_failures() is expected
        assert live.has_failures() is bool(live.failed_ids())
    assert sorted(live.failed_ids()) == ["amcinst0000", "amcinst0001"]
