"""The TUI finishes, when it starts, the result downloads a crash or a quit cut short."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from engine_support import fast_simulator
from textual.pilot import Pilot
from tui_support import make_app, new_batch, tui_settings

from amc_tui.amc.simulator import AmcSimulator
from amc_tui.domain import BatchStatus
from amc_tui.store.results import ResultStatus


async def eventually(pilot: Pilot[Any], probe: Callable[[], Awaitable[bool]]) -> None:
    """Let the app run until the async ``probe()`` holds; fail after 20 s."""
    deadline = time.monotonic() + 20
    while not await probe():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        await pilot.pause(0.02)


async def test_a_download_left_unfinished_is_finished_when_the_app_starts(
    tmp_path: Path,
) -> None:
    settings = tui_settings(tmp_path)
    sim = AmcSimulator(fast_simulator(result_rows=500))  # AMC outlives both app runs
    first = make_app(tmp_path, settings=settings, sim=sim, offer_resume=False)
    async with first.run_test() as pilot:
        batch = await new_batch(first, 2)
        await first.launch(batch)
        store = first.services.store

        async def completed() -> bool:
            summary = await store.get_batch_summary(batch.id)
            return summary is not None and summary.status is BatchStatus.COMPLETED

        await eventually(pilot, completed)
        stored = await store.get_batch(batch.id)
        assert stored is not None
        unfinished, untouched = (ex.id or 0 for ex in stored.executions)
        await store.results.start(unfinished)  # what a process killed mid-download leaves

    second = make_app(tmp_path, settings=settings, sim=sim, offer_resume=False)
    async with second.run_test() as pilot:
        results = second.services.store.results

        async def downloaded() -> bool:
            got = await results.get(unfinished)
            return got is not None and got.status is ResultStatus.DOWNLOADED

        await eventually(pilot, downloaded)
        assert await results.get(untouched) is None  # never asked for: not fetched
        assert len(list((settings.paths.results_dir / batch.id).glob("*/*.csv"))) == 1
