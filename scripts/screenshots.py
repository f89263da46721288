"""Regenerate ``screenshots/*.svg`` from the real app on the embedded simulator.

    python scripts/screenshots.py [--out screenshots] [--size 100x30]

It runs amc-tui (the same ``AmcApp`` the ``amc-tui`` command starts) in a throwaway
data dir, on the demo simulator made quicker (executions take seconds, not minutes),
and drives it with the keyboard as an operator would: pick instances, confirm, watch
the dashboard, open a succeeded execution (its result downloaded and previewed) and a
failed one, the history, the help, the command palette, quit with a batch running,
and the resume offer the next start makes.  Nothing is
drawn by hand; each picture is Textual's own SVG export of the screen at that moment,
so they vary a little from run to run (times, which executions fail).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable

from amc_tui.amc.simulator import AmcSimulator, SimulatorConfig
from amc_tui.domain import ExecutionStatus
from amc_tui.settings import Settings, ensure_data_dir, load_settings
from amc_tui.tui.app import AmcApp

# The demo simulator, quicker: executions last 2-10 s, and some fail or are throttled.
SIMULATOR = SimulatorConfig(time_scale=90.0, seed=11, failure_rate=0.12, throttle_rate=0.05)


async def wait_for(pilot: Pilot[Any], condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: timed out waiting for {what}")
        await pilot.pause(0.05)


def screen_name(app: AmcApp) -> str:
    return type(app.screen).__name__


class Camera:
    """Saves the app's screen as ``NAME.svg`` in the output folder."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.saved: list[Path] = []

    async def shoot(self, pilot: Pilot[Any], name: str) -> None:
        app = pilot.app
        await pilot.pause(0.3)
        for widget in app.screen.query("Input, TextArea"):
            widget.cursor_blink = False  # type: ignore[attr-defined]
        await pilot.pause()
        path = Path(app.save_screenshot(filename=f"{name}.svg", path=str(self.out)))
        self.saved.append(path)
        print(f"screenshots: {path}")


async def open_succeeded_detail(pilot: Pilot[Any]) -> None:
    """On the dashboard: arrow to the first succeeded row, open it, wait for its preview."""
    app = pilot.app
    table = app.screen.query_one("#executions", DataTable)
    rows = [" ".join(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)]
    target = next(i for i, row in enumerate(rows) if "SUCCEEDED" in row)
    step = "down" if target > table.cursor_row else "up"
    for _ in range(abs(target - table.cursor_row)):
        await pilot.press(step)
    await pilot.press("enter")
    await wait_for(pilot, lambda: screen_name(app) == "ExecutionDetailScreen", "detail")
    await wait_for(pilot, lambda: app.screen.preview is not None, "the result preview")  # type: ignore[attr-defined]


async def first_run(
    settings: Settings, sim: AmcSimulator, size: tuple[int, int], cam: Camera
) -> None:
    app = AmcApp(settings, simulator=sim)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "InstancesScreen", "the home screen")
        await wait_for(pilot, lambda: app.screen.query("DataTable").first().row_count > 0, "rows")
        # Pick every instance but the last few, with the keyboard.
        await pilot.press("a")
        for _ in range(3):
            await pilot.press("ctrl+end" if _ == 0 else "up", "space")
        await cam.shoot(pilot, "instances")

        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmScreen", "the confirm screen")
        # The query list has the focus: open it, pick the fourth query (reach_frequency).
        await pilot.press("enter", "down", "down", "down", "enter")
        await pilot.pause(0.3)
        await cam.shoot(pilot, "confirm")

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen_name(app) == "DashboardScreen", "the dashboard")
        batch_id = app.screen.batch_id  # type: ignore[attr-defined]
        live = app.live[batch_id]

        def halfway() -> bool:
            counts = live.counts()
            return counts.succeeded >= counts.total // 3 and counts.in_flight > 0

        await wait_for(pilot, halfway, "a third of the batch done")
        await cam.shoot(pilot, "dashboard")
        await wait_for(pilot, lambda: live.is_finished, "the batch's end")
        await pilot.pause(1.0)
        await cam.shoot(pilot, "dashboard-finished")

        await open_succeeded_detail(pilot)
        await cam.shoot(pilot, "execution-result")
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "DashboardScreen", "dashboard again")

        failed = [r for r in live.rows.values() if r.status is ExecutionStatus.FAILED]
        if failed:
            await pilot.press("f")
            await pilot.pause()
            await pilot.press("enter")
            await wait_for(pilot, lambda: screen_name(app) == "ExecutionDetailScreen", "detail")
            await cam.shoot(pilot, "execution-detail")
            await pilot.press("escape")
            await pilot.press("f")

        await pilot.press("question_mark")
        await wait_for(pilot, lambda: screen_name(app) == "HelpScreen", "help")
        await cam.shoot(pilot, "help")
        await pilot.press("escape")

        await pilot.press("escape")  # back to the instances screen
        await wait_for(pilot, lambda: screen_name(app) == "InstancesScreen", "home again")
        await pilot.press("h")
        await wait_for(pilot, lambda: screen_name(app) == "HistoryScreen", "history")
        await cam.shoot(pilot, "history")
        await pilot.press("escape")

        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: screen_name(app) == "CommandPalette", "palette")
        await cam.shoot(pilot, "command-palette")
        await pilot.press("escape")

        # A second batch, left running on AMC when we quit.
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmScreen", "confirm again")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen_name(app) == "DashboardScreen", "second dashboard")
        await pilot.pause(1.0)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: screen_name(app) == "QuitScreen", "the quit dialog")
        await cam.shoot(pilot, "quit")
        await pilot.press("l")
        await wait_for(pilot, lambda: not app.is_running, "the app to quit")


async def second_run(
    settings: Settings, sim: AmcSimulator, size: tuple[int, int], cam: Camera
) -> None:
    app = AmcApp(settings, simulator=sim)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "ResumeOfferScreen", "the resume offer")
        await cam.shoot(pilot, "resume-offer")
        await pilot.press("r")
        await wait_for(pilot, lambda: screen_name(app) == "DashboardScreen", "the resumed batch")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: screen_name(app) == "QuitScreen", "the quit dialog")
        await pilot.press("c")
        await wait_for(pilot, lambda: not app.is_running, "the app to quit")


async def main(out: Path, size: tuple[int, int]) -> None:
    logging.disable(logging.CRITICAL)  # the engine's warnings would land on the terminal
    with tempfile.TemporaryDirectory(prefix="amc-tui-screenshots-") as scratch:
        home = Path(scratch)
        config = home / "config.toml"  # empty: not the operator's own config
        config.write_text("")
        settings = load_settings(config=config, data_dir=home / "data", demo=True, env={})
        ensure_data_dir(settings.paths)
        sim = AmcSimulator(SIMULATOR)  # one AMC for both runs, as in life
        cam = Camera(out)
        await first_run(settings, sim, size, cam)
        await second_run(settings, sim, size, cam)
    print(f"screenshots: {len(cam.saved)} pictures in {out}")


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "screenshots")
    parser.add_argument("--size", type=parse_size, default=(100, 30), help="WIDTHxHEIGHT")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(args.out, args.size))
    sys.exit(0)
