"""The execution detail: one execution's ids, times, tries, and its result.

Opened with ``enter`` on a dashboard row.  Each try shows when it started and ended,
what went wrong (the taxonomy's category and short message) and the wait chosen
before the next try.  It re-reads the store when the execution changes; details that
are not for the screen (server bodies) are in the log file, which it names.

For a SUCCEEDED execution the dialog grows to the whole terminal: its results are
downloaded (or the download under way joined) through the app's
:class:`~amc_tui.engine.downloads.ResultDownloader`, the "Result" section follows the
download (:class:`~amc_tui.tui.widgets.download_status.DownloadStatus`), and the
first rows of the first data file are shown
(:class:`~amc_tui.tui.widgets.result_preview.ResultPreview`).  ``p`` opens the data
files in ``$PAGER`` with the app suspended; ``r`` tries a failed download again.  In
read-only mode nothing is downloaded: the section shows what is on disk.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich import box
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from amc_tui.domain import Attempt, Execution, ExecutionStatus
from amc_tui.engine.download_progress import DownloadPhase
from amc_tui.engine.downloads import ResultOutcome
from amc_tui.engine.result_files import LocalFile, files_on_disk, result_directory
from amc_tui.errors import AmcTuiError
from amc_tui.export import home_relative
from amc_tui.output import format_duration, shown_error
from amc_tui.store.results import FileKind, ResultStatus
from amc_tui.tui.format import execution_state
from amc_tui.tui.messages import BatchUpdated, DownloadUpdated
from amc_tui.tui.screens.base import taken_down
from amc_tui.tui.widgets.download_status import DownloadStatus
from amc_tui.tui.widgets.result_preview import Preview, ResultPreview, read_preview

if TYPE_CHECKING:
    from amc_tui.tui.app import AmcApp

log = logging.getLogger(__name__)

DEFAULT_PAGER = "less"


def pager_command(pager: str | None, paths: Sequence[Path]) -> list[str]:
    """The pager's argv for ``paths``: ``$PAGER`` split as a shell would (``less``
    when unset or blank), then the paths.  ValueError if ``$PAGER`` cannot be split."""
    words = shlex.split(pager or "") or [DEFAULT_PAGER]
    return [*words, *(str(path) for path in paths)]


class ExecutionDetailScreen(ModalScreen[None]):
    """One execution of a batch; ``escape`` closes it."""

    HELP_TITLE = "Execution detail"
    BINDINGS = [
        # Priority: the preview table takes enter for itself otherwise.
        Binding("escape,q,enter", "close", "Close", id="detail-close", priority=True),
        Binding("p", "pager", "Open in pager", id="detail-pager"),
        Binding("r", "download", "Download again", id="detail-retry"),
    ]

    def __init__(self, batch_id: str, execution_id: int) -> None:
        super().__init__()
        self.batch_id = batch_id
        self.execution_id = execution_id
        self.execution: Execution | None = None
        self.attempts: list[Attempt] = []
        self.files: list[LocalFile] = []
        """The result's whole files on disk (data, then metadata), once known."""
        self.download_state: DownloadPhase | None = None
        """None until a download is asked for (or, read-only, the store was read)."""
        self.preview: Preview | None = None
        self._download_asked = False

    @property
    def amc_app(self) -> AmcApp:
        return cast("AmcApp", self.app)

    @property
    def has_results(self) -> bool:
        return self.execution is not None and self.execution.status is ExecutionStatus.SUCCEEDED

    @property
    def data_files(self) -> list[LocalFile]:
        return [f for f in self.files if f.kind is FileKind.DATA]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="detail-dialog"):
            with VerticalScroll(id="detail-body"):
                yield Static("Loading…", id="detail-fields")
                yield Static("", id="detail-attempts")
            yield DownloadStatus(id="detail-result")
            yield ResultPreview(id="detail-preview")
            yield Static("escape: close", id="detail-hint", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(DownloadStatus).display = False
        self.query_one(ResultPreview).display = False
        self.load()

    def on_batch_updated(self, message: BatchUpdated) -> None:
        if message.batch_id == self.batch_id and self.execution_id in message.execution_ids:
            self.load()

    def on_download_updated(self, message: DownloadUpdated) -> None:
        update = message.update
        if update.execution_id != self.execution_id or self.download_state is None:
            return
        # The end (downloaded or failed) comes from the outcome the worker awaits.
        if self.download_state is DownloadPhase.DOWNLOADING and update.phase in (
            DownloadPhase.WAITING,
            DownloadPhase.DOWNLOADING,
            DownloadPhase.STOPPED,
        ):
            self.query_one(DownloadStatus).show_update(update)
            if update.phase is DownloadPhase.STOPPED:
                self._set_download_state(DownloadPhase.STOPPED)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pager":
            return self.has_results
        if action == "download":
            return self.download_state in (DownloadPhase.FAILED, DownloadPhase.STOPPED)
        return True

    @work(exclusive=True, group="detail-load")
    async def load(self) -> None:
        store = self.amc_app.services.store
        self.execution = await store.get_execution(self.execution_id)
        self.attempts = await store.list_attempts(self.execution_id)
        if taken_down(self):
            return
        self.show()
        if self.has_results and not self._download_asked:
            self._download_asked = True
            self.query_one("#detail-dialog").add_class("-with-result")
            self.query_one(DownloadStatus).display = True
            self.refresh_bindings()
            if self.amc_app.services.downloads is None:
                self.read_disk()
            else:
                self.download()

    def show(self) -> None:
        ex = self.execution
        if ex is None:
            self.query_one("#detail-fields", Static).update("This execution is not in the history")
            return
        fields = Table.grid(padding=(0, 2))
        fields.add_column(style="bold", no_wrap=True)
        fields.add_column(overflow="fold")
        # Values are Text, never str: a str cell is Rich markup, and they come from AMC.
        fields.add_row("Instance", Text(f"{ex.instance_name} ({ex.instance_id})"))
        fields.add_row("Instance UUID", str(ex.instance_uuid))
        fields.add_row("State", execution_state(ex.status))
        fields.add_row("AMC execution", Text(ex.amc_execution_id or "-"))
        fields.add_row("Batch", Text(ex.batch_id))
        fields.add_row("Created", _when(ex.created_at))
        fields.add_row("Submitted", _when(ex.submitted_at))
        fields.add_row("Finished", _when(ex.finished_at))
        error = shown_error(ex)
        if error:
            fields.add_row("Error", Text(error, style="red"))
            log_file = self.amc_app.settings.paths.log_file
            fields.add_row("Details", Text(f"in the log file {home_relative(log_file)}"))
        self.query_one("#detail-fields", Static).update(fields)
        self.query_one("#detail-attempts", Static).update(self.attempts_table())

    # --- the result -------------------------------------------------------------------

    def _set_download_state(self, state: DownloadPhase) -> None:
        self.download_state = state
        keys = ["escape: close"]
        if self.has_results:
            keys.append("p: open in pager")
        if state in (DownloadPhase.FAILED, DownloadPhase.STOPPED):
            keys.append("r: download again")
        self.query_one("#detail-hint", Static).update(" · ".join(keys))
        self.refresh_bindings()

    @work(exclusive=True, group="detail-download")
    async def download(self) -> None:
        """Download the results (or join the download under way), then the preview."""
        downloads = self.amc_app.services.downloads
        execution = self.execution
        if downloads is None or execution is None:
            return
        self._set_download_state(DownloadPhase.DOWNLOADING)
        self.query_one(DownloadStatus).show_starting()
        try:
            outcome: ResultOutcome | str = await downloads.download(execution)
        except AmcTuiError as error:
            log.warning("results of %s: %s", execution.instance_id, error.log_text())
            outcome = error.user_message
        except Exception:
            log.exception("results of %s: unexpected error", execution.instance_id)
            outcome = f"unexpected error; details in {self.amc_app.settings.paths.log_file}"
        if taken_down(self):
            return
        status = self.query_one(DownloadStatus)
        if isinstance(outcome, str) or outcome.status is not ResultStatus.DOWNLOADED:
            message = outcome if isinstance(outcome, str) else outcome.error or "unknown error"
            self._set_download_state(DownloadPhase.FAILED)
            status.show_failed(message)
            return
        self.files = list(outcome.files)
        self._set_download_state(DownloadPhase.DOWNLOADED)
        status.show_downloaded(self.files, outcome.directory)
        await self.show_preview()

    @work(exclusive=True, group="detail-download")
    async def read_disk(self) -> None:
        """Read-only: show what the store records on disk, and its preview."""
        execution = self.execution
        if execution is None:
            return
        results = await self.amc_app.services.store.results.get(self.execution_id)
        results_dir = self.amc_app.settings.paths.results_dir
        files = await asyncio.to_thread(files_on_disk, results_dir, execution, results)
        if taken_down(self):
            return
        self.files = files
        # Nothing on disk, read-only: no download will come (WAITING offers no retry).
        self._set_download_state(DownloadPhase.DOWNLOADED if files else DownloadPhase.WAITING)
        directory = result_directory(results_dir, execution)
        self.query_one(DownloadStatus).show_on_disk(files, results, directory)
        if files:
            await self.show_preview()

    async def show_preview(self) -> None:
        """Read the first rows of the first data file (in a thread) and show them."""
        widget = self.query_one(ResultPreview)
        data = self.data_files
        if not data:
            widget.display = True
            widget.show_message("AMC listed no data file for this result")
            return
        preview = await asyncio.to_thread(read_preview, data[0].path)
        if taken_down(self):
            return
        self.preview = preview
        widget.display = True
        widget.show(preview, files=len(data))
        if widget.table.display:
            widget.table.focus()

    def action_download(self) -> None:
        if self.amc_app.services.downloads is None:
            self.notify("Read-only: results are not downloaded", severity="error")
            return
        self.download()

    # --- the pager --------------------------------------------------------------------

    def action_pager(self) -> None:
        data = self.data_files
        if not data:
            self.notify("The result is not on disk yet", severity="warning")
            return
        try:
            argv = pager_command(os.environ.get("PAGER"), [f.path for f in data])
        except ValueError as error:
            self.notify(f"PAGER is not a command ({error})", severity="error", markup=False)
            return
        if shutil.which(argv[0]) is None:
            self.notify(
                f"Cannot start the pager {argv[0]!r}: no such command (set PAGER)",
                severity="error",
                markup=False,
            )
            return
        self.run_pager(argv, [f.path for f in data])

    @work(exclusive=True, group="detail-pager")
    async def run_pager(self, argv: list[str], paths: list[Path]) -> None:
        """Run the pager on the terminal, the app suspended (its loop runs on, unseen)."""
        app = self.app
        try:
            with app.suspend(), app.batch_update():
                # batch_update: nothing is drawn while the terminal is the pager's.
                code = await _run_until_done(argv)
        except SuspendNotSupported:
            files = " ".join(home_relative(path) for path in paths)
            self.notify(
                f"The pager cannot take over this terminal; the files are {files}",
                severity="warning",
                markup=False,
            )
            return
        except OSError as error:
            self.notify(
                f"Cannot start the pager {shlex.join(argv[:1])}: {error.strerror or error}",
                severity="error",
                markup=False,
            )
            return
        if code not in (0, None):
            self.notify(f"The pager {argv[0]!r} ended with code {code}", severity="warning")

    def attempts_table(self) -> Table | Text:
        if not self.attempts:
            return Text("\nNo tries at creating it yet.", style="dim")
        table = Table(
            title="Tries at creating it",
            title_justify="left",
            title_style="bold",
            box=box.SIMPLE_HEAD,
            expand=True,
            padding=(0, 1),
        )
        table.add_column("#", no_wrap=True)
        table.add_column("Started", no_wrap=True)
        table.add_column("Took", no_wrap=True)
        table.add_column("Wait", no_wrap=True)
        table.add_column("Outcome", ratio=1, overflow="fold")
        for attempt in self.attempts:
            took = (
                format_duration((attempt.finished_at - attempt.started_at).total_seconds())
                if attempt.finished_at
                else "…"
            )
            if attempt.error_category is None:
                outcome = Text("accepted" if attempt.finished_at else "waiting for AMC")
            else:
                outcome = Text(attempt.error_message or attempt.error_category.value, style="red")
            wait = format_duration(attempt.retry_delay) if attempt.retry_delay else "-"
            started = attempt.started_at.astimezone().strftime("%H:%M:%S")
            table.add_row(str(attempt.number), started, took, wait, outcome)
        return table

    def action_close(self) -> None:
        self.dismiss(None)


async def _run_until_done(argv: list[str]) -> int | None:
    """Run ``argv`` on the app's terminal and wait for it; stopped if we are cancelled."""
    process = await asyncio.create_subprocess_exec(*argv)
    try:
        return await process.wait()
    except asyncio.CancelledError:
        if process.returncode is None:
            process.terminate()
        raise


def _when(moment: datetime | None) -> str:
    """``2026-11-28 12:00:45`` in local time; ``-`` if unknown."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment is not None else "-"
