"""The execution detail shows the result: download, progress, preview, retry, pager.

The app runs on the fast in-process simulator (``App.run_test``) with the real
downloader and store; tests wait on conditions, never on sleeps.  Under ``run_test``
the terminal cannot be handed to a pager (``App.suspend`` is not supported there), so
that path is checked for its notice, the pager's command line on its own, and the
pager itself on a real pseudo-terminal (:func:`test_p_runs_the_pager_on_a_real_terminal`).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_support import fast_simulator
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, ProgressBar
from tui_seed import fixed_clock, seeded_in_utc
from tui_support import body_cells_drawn_by_datatable, make_app, new_batch, tui_settings, wait_for

from amc_tui.domain import ExecutionStatus
from amc_tui.engine.download_progress import DownloadPhase, DownloadUpdate
from amc_tui.engine.result_files import result_directory
from amc_tui.settings import Settings
from amc_tui.store.history import HistoryStore
from amc_tui.store.results import FileKind, ResultStatus
from amc_tui.tui.app import AmcApp
from amc_tui.tui.messages import DownloadUpdated
from amc_tui.tui.screens.dashboard import DashboardScreen
from amc_tui.tui.screens.execution_detail import ExecutionDetailScreen, pager_command
from amc_tui.tui.widgets.download_status import DownloadStatus
from amc_tui.tui.widgets.result_preview import (
    NEWLINE_MARK,
    PREVIEW_ROWS,
    ResultPreview,
    cell_text,
    read_preview,
)


def detail_of(app: AmcApp) -> ExecutionDetailScreen:
    screen = app.screen
    assert isinstance(screen, ExecutionDetailScreen), type(screen).__name__
    return screen


def status_text(app: AmcApp) -> str:
    return detail_of(app).query_one(DownloadStatus).text


def table_cells(app: AmcApp) -> tuple[list[str], list[list[str]]]:
    table: DataTable[Any] = detail_of(app).query_one(ResultPreview).table
    header = [column.label.plain for column in table.ordered_columns]
    rows = [
        [Text(c).plain if isinstance(c, str) else c.plain for c in table.get_row_at(i)]
        for i in range(table.row_count)
    ]
    return header, rows


def notices(app: AmcApp) -> list[str]:
    return [n.message for n in app._notifications]


async def run_batch(app: AmcApp, pilot: Pilot[Any], n: int = 1) -> list[int]:
    """Run a batch on ``n`` instances to its end; its execution ids (by instance order)."""
    await wait_for(pilot, lambda: app.ready)
    batch = await new_batch(app, n)
    await app.launch(batch)
    await wait_for(pilot, lambda: app.live[batch.id].status.is_terminal, what="batch end")
    stored = await app.services.store.get_batch(batch.id)
    assert stored is not None
    return [ex.id for ex in stored.executions if ex.id is not None]


async def open_detail(app: AmcApp, pilot: Pilot[Any], execution_id: int) -> ExecutionDetailScreen:
    execution = await app.services.store.get_execution(execution_id)
    assert execution is not None
    await app.push_screen(ExecutionDetailScreen(execution.batch_id, execution_id))
    await wait_for(pilot, lambda: isinstance(app.screen, ExecutionDetailScreen))
    return detail_of(app)


async def previewed(app: AmcApp, pilot: Pilot[Any]) -> ExecutionDetailScreen:
    """Run a one-execution batch, open its detail and wait for the result's preview."""
    (execution_id,) = await run_batch(app, pilot)
    detail = await open_detail(app, pilot, execution_id)
    await wait_for(pilot, lambda: detail.preview is not None, what="the preview")
    return detail


# --- download and preview --------------------------------------------------------------


async def test_a_succeeded_execution_downloads_and_previews_its_result(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        (execution_id,) = await run_batch(app, pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert await app.services.store.results.get(execution_id) is None
        await pilot.press("enter")  # the dashboard's only row
        detail = detail_of(app)
        await wait_for(pilot, lambda: detail.preview is not None, what="the preview")

        # Downloaded through the app's downloader, recorded, and said so.
        recorded = await app.services.store.results.get(execution_id)
        assert recorded is not None and recorded.status is ResultStatus.DOWNLOADED
        (data,) = [f for f in detail.files if f.kind is FileKind.DATA]
        assert data.path.is_file()
        text = status_text(app)
        assert "Downloaded: 1 data file and metadata" in text
        assert data.path.parent.name in text

        # The table is the CSV on disk, parsed with csv, cell for cell.
        with data.path.open(encoding="utf-8-sig", newline="") as file:
            expected = list(csv.reader(file))
        header, rows = table_cells(app)
        assert header == expected[0]
        assert rows == expected[1 : 1 + PREVIEW_ROWS]
        values = {value for row in rows for value in row}
        assert any("," in v and '"' in v for v in values), "a value with a comma and quotes"
        assert any(not v.isascii() for v in values), "a UTF-8 value"
        caption = str(detail.query_one("#preview-caption").render())
        assert f"All {len(expected) - 1} rows of {data.path.name}" in caption
        # Arrows move in the table; enter still closes the detail.
        assert app.focused is detail.query_one(ResultPreview).table
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_the_preview_is_drawn_without_datatable_s_cell_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The preview's values are texts its table (a ``RowDrawing``) lays out the short way,
    as the dashboard's and the history's: DataTable's own path draws only the header."""
    body_cells = body_cells_drawn_by_datatable(monkeypatch, "preview-table")
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        detail = await previewed(app, pilot)
        table = detail.query_one(ResultPreview).table
        await wait_for(pilot, lambda: table.row_count > 0, what="the preview's rows")
        await pilot.pause()
        _, rows = table_cells(app)
        assert rows and rows[0][0][:5] in table.render_line(1).text
        assert body_cells == []


async def test_the_preview_reads_only_the_first_rows_and_keeps_values_on_one_line(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path, simulator=fast_simulator(result_rows=120))
    async with app.run_test(size=(100, 30)) as pilot:
        detail = await previewed(app, pilot)
        (data,) = [f for f in detail.files if f.kind is FileKind.DATA]
        with data.path.open(encoding="utf-8", newline="") as file:
            expected = list(csv.reader(file))
        header, rows = table_cells(app)
        assert header == expected[0]
        assert len(rows) == PREVIEW_ROWS < len(expected) - 1
        assert rows == [[cell_text(v) for v in row] for row in expected[1 : 1 + PREVIEW_ROWS]]
        assert any(NEWLINE_MARK in v for row in rows for v in row), "a value with a newline"
        assert all("\n" not in v for row in rows for v in row)
        caption = str(detail.query_one("#preview-caption").render())
        assert caption.startswith(f"First {PREVIEW_ROWS} rows of")


def test_read_preview_reads_the_head_of_a_file_with_a_bom_and_markup(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    lines = ['name,"note, with comma"\r\n', '[red]x,"say ""hi"""\r\n'] + [
        f"row{n},é{n}\r\n" for n in range(100_000)
    ]
    path.write_text("\ufeff" + "".join(lines), encoding="utf-8", newline="")
    preview = read_preview(path, limit=3, budget=10_000)
    assert preview.header == ["name", "note, with comma"]
    assert preview.rows == [["[red]x", 'say "hi"'], ["row0", "é0"], ["row1", "é1"]]
    assert preview.more
    # A budget smaller than the file: the read stops early, and says there is more.
    tiny = read_preview(path, limit=1_000_000, budget=500)
    assert 0 < len(tiny.rows) < 100 and tiny.more

    empty = tmp_path / "empty.csv"
    empty.write_text("a,b\r\n", encoding="utf-8")
    assert read_preview(empty).empty and read_preview(empty).header == ["a", "b"]
    latin = tmp_path / "latin.csv"
    latin.write_bytes("a\r\ncaf\xe9\r\n".encode("latin-1"))
    assert read_preview(latin).error == "The file is not UTF-8 text"


async def test_markup_in_values_is_shown_as_typed(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        detail = await previewed(app, pilot)
        preview = detail.query_one(ResultPreview)
        path = detail.data_files[0].path
        path.write_text('campaign,clicks\r\n"[red]x[/red] [bold]",3\r\n', encoding="utf-8")
        await detail.show_preview()
        table = preview.table
        cell = table.get_row_at(0)[0]
        assert isinstance(cell, Text) and cell.plain == "[red]x[/red] [bold]"
        assert not cell.spans
        # The column is as wide as the value once the table has measured it again.
        await wait_for(
            pilot, lambda: "[red]x[/red] [bold]" in str(table.render_line(1).text), what="row"
        )


async def test_an_empty_result_says_so(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        detail = await previewed(app, pilot)
        detail.data_files[0].path.write_text("campaign,clicks\r\n", encoding="utf-8")
        await detail.show_preview()
        caption = str(detail.query_one("#preview-caption").render())
        assert "The result is empty" in caption and "no rows" in caption
        # The columns are still worth seeing.
        header, rows = table_cells(app)
        assert header == ["campaign", "clicks"] and rows == []


# --- progress and failure --------------------------------------------------------------


async def test_progress_shows_bytes_and_the_bar(tmp_path: Path) -> None:
    # AMC takes its time to list the files: the detail is still "downloading" meanwhile.
    slow = fast_simulator(operation_latency={"GET downloadUrls": 30.0})
    app = make_app(tmp_path, simulator=slow)
    async with app.run_test(size=(100, 30)) as pilot:
        (execution_id,) = await run_batch(app, pilot)
        detail = await open_detail(app, pilot, execution_id)
        await wait_for(pilot, lambda: detail.download_state is DownloadPhase.DOWNLOADING)
        assert "Asking AMC for the result files" in status_text(app)
        execution = detail.execution
        assert execution is not None
        bar = detail.query_one("#result-bar", ProgressBar)
        assert not bar.display

        update = DownloadUpdate(
            batch_id=execution.batch_id,
            execution_id=execution_id,
            phase=DownloadPhase.DOWNLOADING,
            file=2,
            files=3,
            file_bytes=1_500_000,
            file_size=6_000_000,
            bytes_done=2_700_000,
        )
        detail.post_message(DownloadUpdated(update))
        await wait_for(pilot, lambda: "file 2 of 3" in status_text(app), what="progress")
        assert "1.5 MB of 6.0 MB" in status_text(app)
        assert "2.7 MB in all so far" in status_text(app)
        assert bar.display and bar.total == 6_000_000 and bar.progress == 1_500_000
        assert bar.percentage == pytest.approx(0.25)

        # Another execution's update changes nothing.
        other = DownloadUpdate(execution.batch_id, execution_id + 1, DownloadPhase.WAITING)
        detail.post_message(DownloadUpdated(other))
        # A size not announced: the bar is indeterminate.
        unknown = DownloadUpdate(
            execution.batch_id, execution_id, DownloadPhase.DOWNLOADING, 1, 3, 4_000, None, 4_000
        )
        detail.post_message(DownloadUpdated(unknown))
        await wait_for(pilot, lambda: "4.0 KB of ?" in status_text(app), what="unknown size")
        assert bar.total is None
        assert "file 1 of 3" in status_text(app)

        waiting = DownloadUpdate(execution.batch_id, execution_id, DownloadPhase.WAITING)
        detail.post_message(DownloadUpdated(waiting))
        await wait_for(pilot, lambda: "Waiting for AMC to publish" in status_text(app))
        assert not bar.display


async def test_a_failed_download_shows_why_and_r_tries_again(tmp_path: Path) -> None:
    # Every try at listing the files answers 500 (4 tries: the first and 3 retries).
    failing = fast_simulator(operation_scripts={"GET downloadUrls": ["500"] * 4})
    app = make_app(tmp_path, simulator=failing)
    async with app.run_test(size=(100, 30)) as pilot:
        (execution_id,) = await run_batch(app, pilot)
        detail = await open_detail(app, pilot, execution_id)
        await wait_for(pilot, lambda: detail.download_state is DownloadPhase.FAILED)
        recorded = await app.services.store.results.get(execution_id)
        assert recorded is not None and recorded.status is ResultStatus.FAILED
        assert recorded.error_message
        text = status_text(app)
        assert f"Download failed: {recorded.error_message}" in text
        assert "r: try again" in text
        status = detail.query_one("#result-status")
        assert "red" in str(status.render().spans[0].style)  # type: ignore[union-attr]
        assert "r: download again" in str(detail.query_one("#detail-hint").render())
        assert detail.preview is None

        await pilot.press("r")  # the script is used up: this time AMC answers
        await wait_for(pilot, lambda: detail.preview is not None, what="the preview")
        assert detail.download_state is DownloadPhase.DOWNLOADED
        assert "Downloaded" in status_text(app)
        recorded = await app.services.store.results.get(execution_id)
        assert recorded is not None and recorded.status is ResultStatus.DOWNLOADED
        assert "r: download again" not in str(detail.query_one("#detail-hint").render())


async def test_a_failed_execution_has_no_result_and_starts_no_download(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        batch = await new_batch(app, 1)
        app._simulator.config.instance_scripts[batch.executions[0].instance_id] = ["400"]  # type: ignore[attr-defined]
        await app.launch(batch)
        await wait_for(pilot, lambda: app.live[batch.id].status.is_terminal, what="batch end")
        stored = await app.services.store.get_batch(batch.id)
        assert stored is not None
        (execution,) = stored.executions
        assert execution.status is ExecutionStatus.FAILED and execution.id is not None
        detail = await open_detail(app, pilot, execution.id)
        await wait_for(pilot, lambda: detail.execution is not None, what="loaded")
        await pilot.pause()
        assert not detail.query_one(DownloadStatus).display
        assert not detail.query_one(ResultPreview).display
        assert detail.download_state is None
        assert app.services.downloads is not None
        assert not app.services.downloads.is_downloading(execution.id)
        assert await app.services.store.results.get(execution.id) is None
        # p and r are not keys of this detail.
        keys = {a.binding.id for a in detail.active_bindings.values()}
        assert "detail-close" in keys and not {"detail-pager", "detail-retry"} & keys
        assert str(detail.query_one("#detail-hint").render()) == "escape: close"


async def test_read_only_shows_what_is_on_disk_and_downloads_nothing(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path)
    first = make_app(tmp_path, settings=settings)
    async with first.run_test(size=(100, 30)) as pilot:
        done, not_fetched = await run_batch(first, pilot, n=2)
        detail = await open_detail(first, pilot, done)
        await wait_for(pilot, lambda: detail.preview is not None, what="the preview")
        rows = table_cells(first)

    reader = make_app(tmp_path, settings=settings, read_only=True)
    async with reader.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: reader.ready and len(reader.screen_stack) > 1)
        assert reader.services.downloads is None
        detail = await open_detail(reader, pilot, done)
        await wait_for(pilot, lambda: detail.preview is not None, what="the preview")
        assert "Downloaded: 1 data file" in status_text(reader)
        assert table_cells(reader) == rows
        await pilot.press("escape")

        detail = await open_detail(reader, pilot, not_fetched)
        await wait_for(pilot, lambda: detail.download_state is not None, what="store read")
        assert "Not downloaded (read-only" in status_text(reader)
        assert not detail.query_one(ResultPreview).display
        assert await reader.services.store.results.get(not_fetched) is None


# --- the pager -------------------------------------------------------------------------


def test_the_pager_command_is_split_as_a_shell_would() -> None:
    paths = [Path("/r/1.csv"), Path("/r/my file.csv")]
    assert pager_command(None, paths) == ["less", "/r/1.csv", "/r/my file.csv"]
    assert pager_command("  ", paths[:1]) == ["less", "/r/1.csv"]
    assert pager_command("less -S -R", paths[:1]) == ["less", "-S", "-R", "/r/1.csv"]
    assert pager_command("'/opt/my pager' --x", paths[:1]) == ["/opt/my pager", "--x", "/r/1.csv"]
    with pytest.raises(ValueError):
        pager_command("less 'unclosed", paths)


async def test_p_without_a_terminal_to_hand_over_says_where_the_files_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAGER", sys.executable)  # a command that exists
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        detail = await previewed(app, pilot)
        await pilot.press("p")
        name = detail.data_files[0].path.name
        await wait_for(pilot, lambda: any("cannot take over" in n for n in notices(app)))
        assert any(name in n for n in notices(app))
        assert isinstance(app.screen, ExecutionDetailScreen)


async def test_p_names_a_pager_that_cannot_be_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAGER", "no-such-pager-here -R")
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await previewed(app, pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: any("no-such-pager-here" in n for n in notices(app)))


# --- snapshot --------------------------------------------------------------------------

RESULT_CSV = (
    "campaign,impressions,reach,avg_frequency\r\n"
    '"Spring Sale, ""Outdoor Gear"" – Größe M",120400,48211,2.5\r\n'  # noqa: RUF001
    "春の新生活キャンペーン,98012,40017,2.45\r\n"
    '"Gift Guide:\n""Top 10"", under $25",51230,20117,2.55\r\n'
    "[red]Always-on[/red] | Brand Defense,40110,21800,1.84\r\n"
    "Café Crème Launch,30555,15002,2.04\r\n"
)


async def _seed_result(settings: Settings, batch_id: str) -> None:
    """A downloaded result (CSV and metadata) for the batch's first execution."""
    async with await HistoryStore.open(settings.paths.history_db) as store:
        batch = await store.get_batch(batch_id)
        assert batch is not None
        execution = min(batch.executions, key=lambda ex: (ex.instance_name.lower(), ex.id))
        assert execution.id is not None
        directory = result_directory(settings.paths.results_dir, execution)
        directory.mkdir(parents=True)
        await store.results.start(execution.id)
        await store.results.count_files(execution.id, 1)
        files = [
            (FileKind.DATA, "1.csv", RESULT_CSV.encode()),
            (FileKind.METADATA, "metadata.json", b'{"files": 1}'),
        ]
        for kind, name, body in files:
            (directory / name).write_bytes(body)
            await store.results.start_file(execution.id, kind, 1, name, etag=None, size=len(body))
            digest = hashlib.sha256(body).hexdigest()
            await store.results.finish_file(execution.id, kind, 1, size=len(body), sha256=digest)
        await store.results.end(execution.id, ResultStatus.DOWNLOADED)


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    with seeded_in_utc(tmp_path, monkeypatch) as settings:
        asyncio.run(_seed_result(settings, "batch_demo0003"))
        yield settings


@pytest.mark.parametrize(
    "size", [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
)
def test_execution_detail_with_a_result_preview(
    snap_compare: Any, tmp_path: Path, seeded: Settings, size: tuple[int, int]
) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, AmcApp)
        await wait_for(pilot, lambda: app.ready and len(app.screen_stack) > 1, what="home")
        await app.open_batch("batch_demo0003")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        dashboard = app.screen
        assert isinstance(dashboard, DashboardScreen)
        await wait_for(pilot, lambda: dashboard.table.row_count == 6, what="rows")
        await pilot.press("enter")  # the first row: the execution with the result
        await wait_for(pilot, lambda: isinstance(app.screen, ExecutionDetailScreen))
        detail = detail_of(app)
        await wait_for(pilot, lambda: detail.preview is not None, what="the preview")
        assert app.services.downloads is not None
        await pilot.pause()

    app = make_app(tmp_path, settings=seeded, clock=fixed_clock, offer_resume=False)
    assert snap_compare(app, terminal_size=size, run_before=steps)


# --- the pager on a real terminal ------------------------------------------------------

PAGER_SCRIPT = """\
import json, os, sys
with open(os.environ["PAGER_ARGV_FILE"], "w") as out:
    json.dump(sys.argv[1:], out)
    out.write("\\n")
    json.dump([os.isatty(0), os.isatty(1)], out)
"""


@pytest.mark.socket
def test_p_runs_the_pager_on_a_real_terminal(tmp_path: Path) -> None:
    from process_support import AMC_TUI, SimulatorProcess, amc_cli, home_on, simulated_instances
    from pty_support import PtySession

    knobs = {
        "time_scale": 1000.0,
        "duration_min": 20.0,
        "duration_max": 40.0,
        "failure_rate": 0.0,
        "throttle_rate": 0.0,
        "server_error_rate": 0.0,
        "lost_answer_rate": 0.0,
        "instances": simulated_instances(["amcpager00001"], "Pager test"),
    }
    with SimulatorProcess(tmp_path / "simulator", **knobs) as simulator:
        home = home_on(tmp_path, simulator.base_url, poll_interval_min=0.05)
        sql = tmp_path / "q.sql"
        sql.write_text("SELECT campaign FROM dsp_impressions")
        ran = amc_cli("run", "--sql-file", str(sql), "--all-instances", "--json", env=home.env)
        assert ran.returncode == 0, ran.stderr
        pager = tmp_path / "pager.py"
        pager.write_text(PAGER_SCRIPT)
        argv_file = tmp_path / "pager-argv.json"
        env = {
            **home.env,
            "PAGER": f"{sys.executable} {pager} --extra-arg",
            "PAGER_ARGV_FILE": str(argv_file),
        }
        session = PtySession([*AMC_TUI], env)
        try:
            session.wait_for_text("Pager test 00")
            session.wait_until_quiet()
            session.send("h")  # the history
            session.wait_for_text("completed")
            session.wait_until_quiet()
            session.send("\r")  # the batch's dashboard
            session.wait_for_text("1/1 done")
            session.wait_until_quiet()
            session.send("\r")  # the execution's detail: its result downloads
            session.wait_for_text("p: open in pager")
            session.wait_for_text("All 25 rows of 1.csv")
            session.wait_until_quiet()
            drawn = len(session.screen_text())
            session.send("p")
            deadline = time.monotonic() + 30
            while not argv_file.exists() or not argv_file.read_text().endswith("]"):
                assert time.monotonic() < deadline, session.screen_text()[-2000:]
                time.sleep(0.05)
            # Back from the pager, the app draws its screen again and still answers keys.
            session.wait_until_quiet()
            assert "open in pager" in session.screen_text()[drawn:]
            session.send("\x1b")
            session.wait_for_text("1/1 done")
            assert session.proc.poll() is None
        finally:
            session.close()
    argv_line, tty_line = argv_file.read_text().splitlines()
    argv = json.loads(argv_line)
    data = home.data_dir / "results"
    (csv_file,) = data.glob("*/amcpager00001/1.csv")
    assert argv == ["--extra-arg", str(csv_file)]
    assert tty_line == "[true, true]", "the pager had the terminal"
