"""The history screen's ``m``: a batch's results downloaded and merged into one CSV.

Batches run for real on the fast in-process simulator (whose result rows hold commas,
quotes and UTF-8 text); every test waits on conditions (notices, workers, files).
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from engine_support import fast_simulator
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Input, Static
from tui_support import make_app, new_batch, tui_settings, wait_for

from amc_tui.amc.simulator import AmcSimulator
from amc_tui.domain import Batch, BatchStatus, ExecutionStatus
from amc_tui.engine.download_progress import DownloadPhase, DownloadUpdate
from amc_tui.engine.result_files import result_directory
from amc_tui.tui.app import AmcApp
from amc_tui.tui.screens.dialogs import ConfirmDialog, PromptScreen
from amc_tui.tui.screens.help import HelpScreen
from amc_tui.tui.screens.history import HistoryScreen
from amc_tui.tui.screens.history_export import MergeProgress

MERGE_GROUP = "history-merge"


async def eventually(pilot: Pilot[Any], probe: Callable[[], Awaitable[bool]]) -> None:
    """Let the app run until the async ``probe()`` holds; fail after 20 s."""
    deadline = time.monotonic() + 20
    while not await probe():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        await pilot.pause(0.02)


def notices(app: AmcApp) -> list[str]:
    return [n.message for n in app._notifications]


def errors(app: AmcApp) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "error"]


def merging(app: AmcApp) -> bool:
    return any(w.group == MERGE_GROUP and not w.is_finished for w in app.workers)


async def run_batch(pilot: Pilot[Any], app: AmcApp, n: int, name: str = "reach") -> Batch:
    """A batch of ``n`` instances run to its end here; as stored at its end."""
    await wait_for(pilot, lambda: app.ready and len(app.screen_stack) > 1, what="home")
    batch = await new_batch(app, n, name=name)
    await app.launch(batch)
    store = app.services.store

    async def ended() -> bool:
        summary = await store.get_batch_summary(batch.id)
        return summary is not None and summary.status.is_terminal

    await eventually(pilot, ended)
    stored = await store.get_batch(batch.id)
    assert stored is not None and stored.status is BatchStatus.COMPLETED
    return stored


async def open_history(pilot: Pilot[Any], app: AmcApp, rows: int) -> HistoryScreen:
    if not isinstance(app.screen, HistoryScreen):
        await app.push_screen(HistoryScreen())
    screen = app.screen
    assert isinstance(screen, HistoryScreen)
    await wait_for(pilot, lambda: screen.table.row_count == rows, what=f"{rows} rows")
    return screen


async def merge_to(pilot: Pilot[Any], app: AmcApp, path: Path) -> PromptScreen:
    await pilot.press("m")
    await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen), what="the prompt")
    prompt = app.screen
    assert isinstance(prompt, PromptScreen)
    prompt.query_one(Input).value = str(path)
    await pilot.press("enter")
    return prompt


async def expected_rows(app: AmcApp, batch: Batch) -> list[list[str]]:
    """The per-instance files' rows, each with instance_name and instance_id first."""
    results_dir = app.settings.paths.results_dir
    done = [ex for ex in batch.executions if ex.status is ExecutionStatus.SUCCEEDED]
    sets = await app.services.store.results.of_executions([ex.id or 0 for ex in done])
    header: list[str] | None = None
    rows: list[list[str]] = []
    for ex in done:
        for row in sets[ex.id or 0].data_files:
            path = result_directory(results_dir, ex) / row.name
            with path.open(newline="", encoding="utf-8") as handle:
                file_header, *records = list(csv.reader(handle))
            header = header or ["instance_name", "instance_id", *file_header]
            rows += [[ex.instance_name, ex.instance_id, *r] for r in records]
    assert header is not None
    return [header, *rows]


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


# --- merging ----------------------------------------------------------------------------


async def test_m_downloads_the_results_and_merges_them(tmp_path: Path) -> None:
    app = make_app(tmp_path, simulator=fast_simulator(result_files=2), offer_resume=False)
    out = tmp_path / "out"
    out.mkdir()
    async with app.run_test(size=(100, 30)) as pilot:
        batch = await run_batch(pilot, app, 3)
        screen = await open_history(pilot, app, 1)
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen), what="the prompt")
        prompt = app.screen
        assert isinstance(prompt, PromptScreen)
        assert prompt.query_one(Input).value == f"~/{batch.id}-results.csv"
        prompt.query_one(Input).value = str(out / "m.json")  # checked as typed: CSV only
        await pilot.press("enter")
        error = prompt.query_one("#prompt-error", Static)
        await wait_for(pilot, lambda: "must end in .csv" in str(error.render()))
        assert app.screen is prompt
        prompt.query_one(Input).value = str(out / "m.csv")
        await pilot.press("enter")

        target = out / "m.csv"
        await wait_for(pilot, lambda: not merging(app), what="the merge's end")
        rows = read_csv(target)
        assert rows == await expected_rows(app, batch)
        assert len(rows) == 1 + 3 * 2 * 25  # 3 instances, 2 files of 25 rows each
        assert rows[0][:3] == ["instance_name", "instance_id", "campaign"]
        values = [v for row in rows[1:] for v in row]
        assert any("," in v for v in values) and any('"' in v for v in values)
        assert any(not v.isascii() for v in values)
        merged = f"Merged 150 rows from 3 instances into {target}"
        await wait_for(pilot, lambda: merged in notices(app), what="the notice")
        assert not errors(app)
        assert not screen.query_one(MergeProgress).display  # the progress line is gone

        await pilot.press("m")  # the next default is in the folder used last
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        assert app.screen.query_one(Input).value == str(out / f"{batch.id}-results.csv")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)

        await pilot.press("e")  # the executions' export is still there
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        app.screen.query_one(Input).value = str(out / "b.json")
        await pilot.press("enter")
        await wait_for(pilot, lambda: f"Exported 3 executions to {out / 'b.json'}" in notices(app))
        assert json.loads((out / "b.json").read_text(encoding="utf-8"))["batch_id"] == batch.id


async def test_the_merge_goes_on_when_the_operator_leaves(tmp_path: Path) -> None:
    # Download URLs answered slowly: the download is under way when escape is pressed.
    slow = fast_simulator(operation_latency={"GET downloadUrls": 1.0})
    app = make_app(tmp_path, simulator=slow, offer_resume=False)
    target = tmp_path / "m.csv"
    async with app.run_test(size=(80, 24)) as pilot:
        batch = await run_batch(pilot, app, 2)
        below = app.screen
        screen = await open_history(pilot, app, 1)
        await merge_to(pilot, app, target)
        progress = screen.query_one(MergeProgress)
        await wait_for(pilot, lambda: progress.display, what="the progress line")
        assert f"Results of {batch.id}: 0 of 2 instances downloaded" in str(progress.render())
        await pilot.press("m")  # one merge at a time on a screen
        busy = f"The results of {batch.id} are being merged; wait for it to end"
        await wait_for(pilot, lambda: busy in notices(app), what="a warning")
        assert app.screen is screen
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is below, what="back")
        await wait_for(pilot, lambda: not merging(app), what="the merge's end")
        merged = f"Merged 50 rows from 2 instances into {target}"
        await wait_for(pilot, lambda: merged in notices(app), what="the notice")
        assert read_csv(target) == await expected_rows(app, batch)
        assert app.is_running and not errors(app)


async def test_an_existing_file_is_replaced_only_once_confirmed(tmp_path: Path) -> None:
    app = make_app(tmp_path, offer_resume=False)
    target = tmp_path / "m.csv"
    target.write_text("mine")
    async with app.run_test(size=(80, 24)) as pilot:
        batch = await run_batch(pilot, app, 2)
        screen = await open_history(pilot, app, 1)
        await merge_to(pilot, app, target)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="a question")
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog) and "Overwrite" in dialog.question
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is screen and not merging(app))
        assert target.read_text() == "mine"
        assert not (app.settings.paths.results_dir / batch.id).exists()  # nothing fetched

        await merge_to(pilot, app, target)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="a question")
        await pilot.press("y")
        await wait_for(pilot, lambda: not merging(app), what="the merge's end")
        assert read_csv(target) == await expected_rows(app, batch)


async def test_columns_that_differ_stop_the_merge_naming_the_instance(tmp_path: Path) -> None:
    app = make_app(tmp_path, offer_resume=False)
    target = tmp_path / "m.csv"
    async with app.run_test(size=(80, 24)) as pilot:
        batch = await run_batch(pilot, app, 3)
        downloads = app.services.downloads
        assert downloads is not None
        outcomes = await downloads.download_batch(batch.id)
        # The second instance's file gets another header of the same size: the
        # downloader takes it for whole (it checks sizes) and keeps it.
        odd = outcomes[1].execution
        (data,) = outcomes[1].data_files
        text = data.path.read_bytes()
        assert text.startswith(b"campaign,")
        data.path.write_bytes(b"CAMPAIGN," + text[len(b"campaign,") :])

        await open_history(pilot, app, 1)
        await merge_to(pilot, app, target)
        await wait_for(pilot, lambda: not merging(app), what="the merge's end")
        (message,) = errors(app)
        assert message.startswith("Cannot merge: the result of")
        assert f"{odd.instance_name} ({odd.instance_id})" in message
        assert "lacks campaign and adds CAMPAIGN" in message
        assert not target.exists()
        assert not [n for n in notices(app) if n.startswith("Merged")]
        assert not list(tmp_path.glob("*.tmp")) and sorted(tmp_path.glob("m*")) == []


async def test_a_failed_download_stops_the_merge_naming_the_instance(tmp_path: Path) -> None:
    broken = fast_simulator(operation_scripts={"GET downloadUrls": ["malformed"] * 50})
    app = make_app(tmp_path, simulator=broken, offer_resume=False)
    target = tmp_path / "m.csv"
    async with app.run_test(size=(80, 24)) as pilot:
        batch = await run_batch(pilot, app, 2)
        await open_history(pilot, app, 1)
        await merge_to(pilot, app, target)
        await wait_for(pilot, lambda: not merging(app), what="the merge's end")
        first = batch.executions[0]
        (message,) = errors(app)
        assert message.startswith(f"Results of {first.instance_name} ({first.instance_id}): ")
        assert message.endswith("(and 1 more problem)")
        assert not target.exists()


async def test_a_batch_that_has_not_ended_is_refused(tmp_path: Path) -> None:
    app = make_app(tmp_path, offer_resume=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready and len(app.screen_stack) > 1, what="home")
        store = app.services.store
        batch = await store.create_batch(await new_batch(app, 2))
        await store.transition_batch(batch.id, BatchStatus.RUNNING)
        screen = await open_history(pilot, app, 1)
        await pilot.press("m")
        await wait_for(pilot, lambda: bool(errors(app)), what="a refusal")
        assert errors(app) == [
            f"Batch {batch.id} is running; 2 executions have no results yet (and 1 more problem)"
        ]
        assert app.screen is screen and not merging(app)  # no question was asked
        assert not (app.settings.paths.results_dir / batch.id).exists()


# --- read-only --------------------------------------------------------------------------


async def test_read_only_merges_only_what_is_on_disk(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path)
    sim = AmcSimulator(fast_simulator())
    first = make_app(tmp_path, settings=settings, sim=sim, offer_resume=False)
    async with first.run_test(size=(80, 24)) as pilot:
        whole = await run_batch(pilot, first, 2, name="whole")
        half = await run_batch(pilot, first, 2, name="half")
        downloads = first.services.downloads
        assert downloads is not None
        await downloads.download_batch(whole.id)
        await downloads.download(half.executions[0])
        expected = await expected_rows(first, whole)

    target = tmp_path / "m.csv"
    app = make_app(tmp_path, settings=settings, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_history(pilot, app, 2)
        assert screen.highlighted_id() == half.id
        await pilot.press("m")
        await wait_for(pilot, lambda: bool(errors(app)), what="a refusal")
        missing = half.executions[1]
        assert errors(app) == [
            f"Results of {missing.instance_name} ({missing.instance_id}): not on disk, "
            "and results cannot be downloaded in read-only mode"
        ]
        assert app.screen is screen

        await pilot.press("down")
        await merge_to(pilot, app, target)
        await wait_for(pilot, lambda: not merging(app), what="the merge's end")
        merged = f"Merged 50 rows from 2 instances into {target}"
        await wait_for(pilot, lambda: merged in notices(app), what="the notice")
        assert read_csv(target) == expected


# --- the keys and the progress line -----------------------------------------------------


async def test_the_help_lists_the_merge_key(tmp_path: Path) -> None:
    app = make_app(tmp_path, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_history(pilot, app, 0)
        entries = HelpScreen(app.screen).entries()  # the history, on top
        assert ("m", "Merge results") in entries and ("e", "Export") in entries
        assert "m downloads its results" in screen.HELP


class ProgressApp(App[None]):
    def compose(self) -> ComposeResult:
        yield MergeProgress()


def update(execution_id: int, phase: DownloadPhase, done: int, batch: str = "batch_x") -> Any:
    return DownloadUpdate(batch, execution_id, phase, bytes_done=done)


async def test_the_progress_line_counts_instances_and_bytes() -> None:
    app = ProgressApp()
    async with app.run_test() as pilot:
        line = app.query_one(MergeProgress)
        assert not line.display
        line.start("batch_x", 3)
        assert line.display and line.busy
        line.take(update(1, DownloadPhase.DOWNLOADED, 1500))
        line.take(update(2, DownloadPhase.DOWNLOADING, 500))
        line.take(update(3, DownloadPhase.WAITING, 0))
        line.take(update(4, DownloadPhase.DOWNLOADED, 10**9, batch="batch_y"))  # not this one
        shown = "Results of batch_x: 1 of 3 instances downloaded, 1 waiting · 2.0 KB"
        await wait_for(pilot, lambda: str(line.render()) == shown, what="the progress")
        line.finish()
        assert not line.display and not line.busy
