"""The instances screen: listing, filtering, selecting, the batch limit, going on.

Every test drives the real app on the in-process demo simulator (24 instances) through
key presses, and waits on conditions.  Textual 8 has no public reader for the
notifications shown, so :func:`notices` reads the app's collection of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine_support import SQL, WINDOW, fast_simulator
from textual import events
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static
from tui_support import make_app, wait_for

from amc_tui.amc.simulator import AmcSimulator
from amc_tui.amc.simulator.config import DEMO_CLIENT_SECRET
from amc_tui.engine.validation import build_batch, build_query
from amc_tui.tui.app import AmcApp
from amc_tui.tui.screens.confirm import ConfirmScreen
from amc_tui.tui.screens.dashboard import DashboardScreen
from amc_tui.tui.screens.history import HistoryScreen
from amc_tui.tui.screens.instances import NOTHING_SELECTED, READ_ONLY, InstancesScreen

DEMO_COUNT = 24


async def loaded(pilot: Pilot[Any], app: AmcApp, loads: int = 1) -> InstancesScreen:
    """The instances screen once ``loads`` loads of it have ended."""

    def done() -> bool:
        screen = app.screen
        return isinstance(screen, InstancesScreen) and screen.load_count >= loads

    await wait_for(pilot, done, what=f"{loads} load(s) of the instances")
    screen = app.screen
    assert isinstance(screen, InstancesScreen)
    return screen


def table(screen: InstancesScreen) -> DataTable[object]:
    return screen.query_one("#instances", DataTable)


def names(screen: InstancesScreen) -> list[str]:
    rows = table(screen)
    return [str(rows.get_row_at(index)[1]) for index in range(rows.row_count)]


def cell(screen: InstancesScreen, instance_id: str, column: str) -> str:
    return str(table(screen).get_cell(instance_id, column))


def counter(screen: InstancesScreen) -> str:
    return str(screen.query_one("#selection-counter", Static).render())


def status(screen: InstancesScreen) -> str:
    return str(screen.query_one("#instances-status", Static).render())


def notices(app: AmcApp) -> list[str]:
    return [notification.message for notification in app._notifications]


def ids_at(screen: InstancesScreen, *rows: int) -> set[str]:
    return {screen.shown[row].instance_id for row in rows}


async def type_text(pilot: Pilot[Any], text: str) -> None:
    await pilot.press(*["space" if char == " " else char for char in text])


async def test_lists_every_instance_and_filters_as_you_type(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot, app)
        rows = table(screen)
        assert rows.row_count == DEMO_COUNT
        assert rows.has_focus
        # Every column fits: no horizontal scrolling at 80 columns.
        assert rows.virtual_size.width <= rows.scrollable_content_region.width
        assert "Bluefin Pet Supplies US" in names(screen)

        await pilot.press("slash")
        await wait_for(pilot, lambda: screen.filter_input.has_focus, what="filter focus")
        await type_text(pilot, "sandbox")  # has a and n: typed, not selecting
        await wait_for(pilot, lambda: rows.row_count == 3, what="3 sandbox rows")
        assert all("Sandbox" in name for name in names(screen))
        assert screen.selected_ids == set()
        assert "filter shows 3 of 24" in counter(screen)

        await pilot.press("escape")  # back to the table, filter kept
        await wait_for(pilot, lambda: rows.has_focus, what="table focus")
        assert rows.row_count == 3
        assert screen.filter_input.value == "sandbox"

        await pilot.press("escape")  # on the table: clears the filter
        await wait_for(pilot, lambda: rows.row_count == DEMO_COUNT, what="every row back")
        assert screen.filter_input.value == ""

        await pilot.press("slash")
        await type_text(pilot, "AMC9FC")  # an AMC id, any case
        await wait_for(pilot, lambda: rows.row_count == 1, what="1 row by AMC id")
        assert names(screen) == ["Acme Outdoor Sandbox"]
        await pilot.press("enter")  # enter in the filter returns to the table too
        await wait_for(pilot, lambda: rows.has_focus, what="table focus after enter")
        assert isinstance(app.screen, InstancesScreen)


async def test_space_a_n_and_i_select_and_the_counter_follows(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot, app)
        rows = table(screen)
        first = screen.shown[0].instance_id
        assert counter(screen) == "0 selected (max 100)"

        await pilot.press("space")
        await wait_for(pilot, lambda: screen.selected_ids == {first}, what="first selected")
        assert counter(screen) == "1 selected (max 100)"
        assert cell(screen, first, "mark") == "[x]"
        await pilot.press("space")
        await wait_for(pilot, lambda: not screen.selected_ids, what="first unselected")
        assert cell(screen, first, "mark") == "[ ]"
        await pilot.press("space")

        # a, i and n act on the rows shown; the hidden selection stays.
        await pilot.press("slash", *"sandbox", "enter")
        await wait_for(pilot, lambda: rows.row_count == 3 and rows.has_focus, what="filter")
        sandboxes = {i.instance_id for i in screen.shown}
        await pilot.press("a")
        await wait_for(pilot, lambda: len(screen.selected_ids) == 4, what="a")
        assert screen.selected_ids == sandboxes | {first}
        assert counter(screen) == "4 selected (max 100), 1 hidden · filter shows 3 of 24"
        await pilot.press("i")
        await wait_for(pilot, lambda: screen.selected_ids == {first}, what="i")
        await pilot.press("i")
        await wait_for(pilot, lambda: len(screen.selected_ids) == 4, what="i again")
        await pilot.press("n")
        await wait_for(pilot, lambda: screen.selected_ids == {first}, what="n")

        await pilot.press("escape")
        await wait_for(pilot, lambda: rows.row_count == DEMO_COUNT, what="filter cleared")
        assert counter(screen) == "1 selected (max 100)"
        await pilot.press("i")
        await wait_for(pilot, lambda: len(screen.selected_ids) == 23, what="i on every row")
        assert first not in screen.selected_ids
        assert counter(screen) == "23 selected (max 100)"


async def test_selecting_past_the_batch_limit_is_refused(tmp_path: Path) -> None:
    app = make_app(tmp_path, max_batch_size=3)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot, app)
        assert counter(screen) == "0 selected (max 3)"
        await pilot.press("a")
        wanted = "Cannot select 24 instances: a batch has at most 3"
        await wait_for(pilot, lambda: wanted in notices(app), what="refusal of a")
        assert screen.selected_ids == set()
        assert counter(screen) == "0 selected (max 3)"

        await pilot.press("space", "down", "space", "down", "space")
        await wait_for(pilot, lambda: len(screen.selected_ids) == 3, what="3 selected")
        await pilot.press("down", "space")
        wanted = "Cannot select 4 instances: a batch has at most 3"
        await wait_for(pilot, lambda: wanted in notices(app), what="refusal of a 4th")
        assert screen.selected_ids == ids_at(screen, 0, 1, 2)
        assert counter(screen) == "3 selected (max 3)"


async def test_enter_with_nothing_selected_stays(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: NOTHING_SELECTED in notices(app), what="refusal")
        assert isinstance(app.screen, InstancesScreen)


async def test_keys_typed_in_a_burst_go_on_with_every_row_chosen(tmp_path: Path) -> None:
    """space, arrows and enter sent at once (a slow SSH link delivers them so): enter
    runs after the selections typed before it, not ahead of them."""
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot, app)
        for key in ("space", "down", "space", "down", "space", "enter"):
            app.post_message(events.Key(key, " " if key == "space" else None))
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert [i.instance_id for i in confirm.instances] == [
            i.instance_id for i in screen.shown[:3]
        ]
        await pilot.pause(0.3)  # the confirm screen composed before the app closes


async def test_enter_goes_on_and_the_selection_is_remembered(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot, app)
        # Select the third row, then the first: the batch keeps the table's order.
        await pilot.press("down", "down", "space", "up", "up", "space")
        chosen = [screen.shown[0].instance_id, screen.shown[2].instance_id]
        await wait_for(pilot, lambda: screen.selected_ids == set(chosen), what="2 selected")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert [i.instance_id for i in confirm.instances] == chosen

    again = make_app(tmp_path)  # the same data dir
    async with again.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot, again)
        assert screen.selected_ids == set(chosen)
        assert [cell(screen, i, "mark") for i in chosen] == ["[x]", "[x]"]
        assert counter(screen) == "2 selected (max 100)"


async def test_refresh_keeps_the_selection_of_instances_still_there(tmp_path: Path) -> None:
    sim = AmcSimulator(fast_simulator())
    app = make_app(tmp_path, sim=sim)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot, app)
        await pilot.press("space", "down", "space")
        kept, gone = screen.shown[0].instance_id, screen.shown[1].instance_id
        await wait_for(pilot, lambda: len(screen.selected_ids) == 2, what="2 selected")
        sim.config.instances = [i for i in sim.config.instances if i.instance_id != gone]

        await pilot.press("r")
        screen = await loaded(pilot, app, loads=2)
        assert table(screen).row_count == DEMO_COUNT - 1
        assert screen.selected_ids == {kept}
        assert counter(screen) == "1 selected (max 100)"


async def test_last_result_shows_each_instances_latest_execution(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot, app)
        ran = screen.shown[:2]
        idle = screen.shown[5].instance_id
        assert cell(screen, ran[0].instance_id, "result") == "-"
        batch, _ = build_batch(
            refs=[i.instance_id for i in ran],
            known=screen.instances,
            query=build_query(sql=SQL, time_window=WINDOW),
            engine=app.settings.engine,
            profile=app.settings.profile_name,
        )
        await app.launch(batch)
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), what="dashboard")
        await wait_for(pilot, lambda: app.live[batch.id].is_finished, what="batch end")
        await pilot.pause(0.2)
        # Not re-read under the dashboard: the instances screen learns of the end, and
        # reads every instance's results again, once it is shown.
        assert not {i.uuid for i in ran} & set(screen.latest)

        app.pop_screen()
        await wait_for(pilot, lambda: app.screen is screen, what="back on instances")
        for instance in ran:
            await wait_for(
                pilot,
                lambda i=instance: cell(screen, i.instance_id, "result").startswith("✔ SUCCEEDED"),
                what=f"result of {instance.name}",
            )
        assert cell(screen, idle, "result") == "-"


async def test_a_load_error_is_shown_and_r_retries(tmp_path: Path) -> None:
    sim = AmcSimulator(fast_simulator(client_secret="not-the-demo-secret"))
    app = make_app(tmp_path, sim=sim)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot, app)
        assert table(screen).row_count == 0
        assert screen.load_error
        await wait_for(pilot, lambda: screen.load_error in notices(app), what="the notice")
        assert screen.load_error in status(screen)

        sim.config.client_secret = DEMO_CLIENT_SECRET
        await pilot.press("r")
        screen = await loaded(pilot, app, loads=2)
        assert screen.load_error is None
        assert table(screen).row_count == DEMO_COUNT


async def test_columns_follow_the_width(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot, app)
        await pilot.press("slash", *"sandbox", "enter")
        await wait_for(pilot, lambda: table(screen).row_count == 3, what="3 sandbox rows")
        sandbox = screen.shown[0].instance_id
        assert cell(screen, sandbox, "type") == "SBX"

        await pilot.resize_terminal(120, 40)
        await wait_for(pilot, lambda: cell(screen, sandbox, "type") == "SANDBOX", what="relayout")
        rows = table(screen)
        assert rows.row_count == 3
        assert rows.virtual_size.width <= rows.scrollable_content_region.width


async def test_h_opens_history_and_q_quits(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await loaded(pilot, app)
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), what="history")
        app.pop_screen()
        await wait_for(pilot, lambda: app.screen is screen, what="back on instances")
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="exit")
    assert app.return_code == 0


async def test_read_only_refuses_to_go_on(tmp_path: Path) -> None:
    app = make_app(tmp_path, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), what="history")
        await app.push_screen(InstancesScreen())
        await loaded(pilot, app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: READ_ONLY in notices(app), what="read-only refusal")
        assert isinstance(app.screen, InstancesScreen)
        assert not app.screen.query_one("#filter", Input).has_focus
