"""SVG snapshots of every screen at 80x24 and 120x40 (pytest-textual-snapshot).

The app runs on a fixed history (:mod:`tui_seed`), a fixed clock and ``TZ=UTC``, so
each picture is the same on every run.  After a deliberate change of a screen,
``pytest tests/test_tui_snapshots.py --snapshot-update`` rewrites the pictures; look
at them (``screenshots/`` has the README's) before committing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select, TextArea
from tui_seed import fixed_clock, seeded_in_utc
from tui_support import make_app, wait_for

from amc_tui.settings import Settings
from amc_tui.tui.app import AmcApp
from amc_tui.tui.screens.confirm import ConfirmScreen
from amc_tui.tui.screens.dashboard import DashboardScreen
from amc_tui.tui.screens.dialogs import QuitScreen, ResumeOfferScreen
from amc_tui.tui.screens.execution_detail import ExecutionDetailScreen
from amc_tui.tui.screens.help import HelpScreen
from amc_tui.tui.screens.history import HistoryScreen
from amc_tui.tui.screens.instances import InstancesScreen
from amc_tui.tui.widgets.footer import KeysFooter

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
Steps = Callable[[Pilot[Any]], Awaitable[None]]


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    with seeded_in_utc(tmp_path, monkeypatch) as settings:
        yield settings


def snapshot_app(tmp_path: Path, settings: Settings, **options: Any) -> AmcApp:
    options.setdefault("offer_resume", False)
    return make_app(tmp_path, settings=settings, clock=fixed_clock, **options)


def steady(steps: Steps | None = None) -> Steps:
    """Wait for the app, run ``steps``, then stop cursors blinking for a stable picture."""

    async def run(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, AmcApp)
        await wait_for(pilot, lambda: app.ready and len(app.screen_stack) > 1, what="home")
        if steps is not None:
            await steps(pilot)
        await pilot.pause()
        for widget in app.screen.query("Input, TextArea"):
            assert isinstance(widget, Input | TextArea)
            widget.cursor_blink = False
        await pilot.pause()

    return run


async def open_dashboard(pilot: Pilot[Any], batch_id: str) -> DashboardScreen:
    app = pilot.app
    assert isinstance(app, AmcApp)
    await app.open_batch(batch_id)
    await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
    screen = app.screen
    assert isinstance(screen, DashboardScreen)
    return screen


@pytest.mark.parametrize("size", SIZES)
def test_dashboard_of_a_running_batch(
    snap_compare: Any, tmp_path: Path, seeded: Settings, size: tuple[int, int]
) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await open_dashboard(pilot, "batch_demo0001")

    app = snapshot_app(tmp_path, seeded)
    assert snap_compare(app, terminal_size=size, run_before=steady(steps))


@pytest.mark.parametrize("size", SIZES)
def test_dashboard_failures_only_of_a_finished_batch(
    snap_compare: Any, tmp_path: Path, seeded: Settings, size: tuple[int, int]
) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        screen = await open_dashboard(pilot, "batch_demo0002")
        await pilot.press("f")
        await wait_for(pilot, lambda: screen.table.row_count == 2)

    app = snapshot_app(tmp_path, seeded)
    assert snap_compare(app, terminal_size=size, run_before=steady(steps))


@pytest.mark.parametrize("size", SIZES)
def test_execution_detail(
    snap_compare: Any, tmp_path: Path, seeded: Settings, size: tuple[int, int]
) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        screen = await open_dashboard(pilot, "batch_demo0002")
        await pilot.press("f")
        await wait_for(pilot, lambda: screen.table.row_count == 2)
        await pilot.press("enter")
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, ExecutionDetailScreen))
        detail = app.screen
        assert isinstance(detail, ExecutionDetailScreen)
        await wait_for(pilot, lambda: len(detail.attempts) == 3, what="tries")

    app = snapshot_app(tmp_path, seeded)
    assert snap_compare(app, terminal_size=size, run_before=steady(steps))


@pytest.mark.parametrize("size", SIZES)
def test_help_of_the_dashboard(
    snap_compare: Any, tmp_path: Path, seeded: Settings, size: tuple[int, int]
) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        dashboard = await open_dashboard(pilot, "batch_demo0003")
        # The dashboard's keys are in its footer (under the help, dimmed) before "?":
        # pressed earlier, the picture depended on which came first.
        footer = dashboard.query_one(KeysFooter)
        await wait_for(pilot, lambda: bool(footer.keys), what="footer keys")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))

    app = snapshot_app(tmp_path, seeded)
    assert snap_compare(app, terminal_size=size, run_before=steady(steps))


@pytest.mark.parametrize("size", SIZES)
def test_resume_offer_at_start(
    snap_compare: Any, tmp_path: Path, seeded: Settings, size: tuple[int, int]
) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ResumeOfferScreen))

    app = snapshot_app(tmp_path, seeded, offer_resume=True)
    assert snap_compare(app, terminal_size=size, run_before=steady(steps))


@pytest.mark.parametrize("size", SIZES)
def test_quit_dialog_with_a_batch_running(
    snap_compare: Any, tmp_path: Path, seeded: Settings, size: tuple[int, int]
) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, AmcApp)
        live = await app.track("batch_demo0001")
        assert live is not None
        await app.push_screen(QuitScreen([live]))
        await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen))

    app = snapshot_app(tmp_path, seeded)
    assert snap_compare(app, terminal_size=size, run_before=steady(steps))


async def home_with_selection(pilot: Pilot[Any]) -> InstancesScreen:
    """The instances screen, loaded, with the seed's remembered selection of three."""
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, InstancesScreen))
    screen = app.screen
    assert isinstance(screen, InstancesScreen)
    await wait_for(pilot, lambda: len(screen.selected_ids) == 3, what="remembered selection")
    return screen


@pytest.mark.parametrize("size", SIZES)
def test_instances_home_screen(
    snap_compare: Any, tmp_path: Path, seeded: Settings, size: tuple[int, int]
) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await home_with_selection(pilot)

    app = snapshot_app(tmp_path, seeded)
    assert snap_compare(app, terminal_size=size, run_before=steady(steps))


@pytest.mark.parametrize("size", SIZES)
def test_confirm_screen_with_a_library_query(
    snap_compare: Any, tmp_path: Path, seeded: Settings, size: tuple[int, int]
) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await home_with_selection(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        demo = next(i for i, q in enumerate(confirm.library) if q.name == "reach_frequency")
        confirm.query_one("#source", Select).value = f"lib:{demo}"
        await wait_for(pilot, lambda: confirm.query_one("#sql", TextArea).text != "")

    app = snapshot_app(tmp_path, seeded)
    assert snap_compare(app, terminal_size=size, run_before=steady(steps))


@pytest.mark.parametrize("size", SIZES)
def test_history_screen(
    snap_compare: Any, tmp_path: Path, seeded: Settings, size: tuple[int, int]
) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await wait_for(pilot, lambda: screen.table.row_count == 5, what="history rows")

    app = snapshot_app(tmp_path, seeded, read_only=True)
    assert snap_compare(app, terminal_size=size, run_before=steady(steps))
