"""The app starts on the simulator, shows the home screen, and quits cleanly."""

from __future__ import annotations

from pathlib import Path

from tui_support import make_app, wait_for

from amc_tui.tui.screens.help import HelpScreen
from amc_tui.tui.screens.history import HistoryScreen
from amc_tui.tui.screens.instances import InstancesScreen


async def test_starts_on_instances_and_quits_with_ctrl_q(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, InstancesScreen))
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, InstancesScreen))
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running)
    assert app.return_code == 0


async def test_read_only_starts_on_history_without_a_runner(tmp_path: Path) -> None:
    app = make_app(tmp_path, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        assert app.services.runner is None
        assert app.services.client is None
