"""The history screen: every batch, newest first, loaded a page at a time.

The first page (100 batches) comes from the store when the screen opens, the next
when the cursor nears the end, so thousands of batches open as fast as a hundred.
``/`` filters by id or name through the store (so it searches every batch, not only
the loaded ones).  ``enter`` opens a batch's dashboard (live if it runs, here or in
another process), ``e`` exports it to CSV or JSON, ``R`` reruns it as a new batch,
``u`` resumes an interrupted one.  Rows of batches run here follow their events.
"""

from __future__ import annotations

import logging

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static

from amc_tui.domain import BatchStatus, BatchSummary, ExecutionStatus
from amc_tui.errors import AmcTuiError
from amc_tui.export import check_export_path, export_batch
from amc_tui.output import format_duration
from amc_tui.tui.format import EXECUTION_LOOK, batch_state, clip
from amc_tui.tui.messages import BatchUpdated
from amc_tui.tui.screens.base import AmcScreen
from amc_tui.tui.widgets.running_bar import RunningBar

log = logging.getLogger(__name__)

PAGE = 100
NEAR_END = 10
FILTER_DELAY = 0.25


def counts_cell(summary: BatchSummary) -> Text:
    """``✔12 ✘1 /24`` (cancelled only when some were)."""
    counts = summary.counts
    text = Text()
    parts = [("SUCCEEDED", counts.succeeded), ("FAILED", counts.failed)]
    if counts.cancelled:
        parts.append(("CANCELLED", counts.cancelled))
    for status, number in parts:
        symbol, colour = EXECUTION_LOOK[ExecutionStatus(status)]
        text.append(f"{symbol}{number} ", style=colour)
    text.append(f"/{counts.total}")
    return text


class HistoryScreen(AmcScreen):
    """Every batch, newest first; see the module docstring."""

    HELP_TITLE = "History"
    HELP = (
        "Every batch this machine ran, newest first; more load as you scroll down. "
        "/ searches ids and names in the whole history. enter opens the batch's "
        "dashboard; e exports it (.csv or .json by the name you type); R runs the same "
        "query again as a new batch; u resumes a batch left interrupted."
    )

    BINDINGS = [
        Binding("enter", "open", "Open", id="history-open", show=False),
        Binding("slash", "filter", "Filter", id="history-filter"),
        Binding("e", "export", "Export", id="history-export"),
        Binding("R", "rerun", "Rerun", id="history-rerun"),
        Binding("u", "resume", "Resume", id="history-resume"),
        Binding("g", "reload", "Reload", id="history-reload", show=False),
        Binding("escape", "back", "Back", id="history-back"),
        Binding("q", "quit_app", "Quit", id="history-quit", show=False),
    ]

    DEFAULT_CSS = """
    HistoryScreen #history-filter { height: 1; border: none; padding: 0 1; display: none; }
    HistoryScreen #history-filter.-shown { display: block; }
    HistoryScreen #history-status { height: 1; padding: 0 1; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.summaries: list[BatchSummary] = []
        self.search = ""
        self.exhausted = False
        self.loading_more = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="/ search by batch id or name", id="history-filter")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield Static("Loading…", id="history-status")
        yield RunningBar()
        yield Footer()

    @property
    def table(self) -> DataTable[object]:
        return self.query_one("#history-table", DataTable)

    def on_mount(self) -> None:
        wide = self.app.size.width >= 100
        free = self.app.size.width - 2 - 2 * (6 if wide else 5)
        fixed = {"id": 14, "created": 16 if wide else 11, "status": 13, "counts": 12}
        if wide:
            fixed["took"] = 8
        name = max(10, free - sum(fixed.values()))
        self.widths = {**fixed, "name": name}
        table = self.table
        table.add_column("Batch", key="id", width=fixed["id"])
        table.add_column("Name", key="name", width=name)
        table.add_column("Created", key="created", width=fixed["created"])
        if wide:
            table.add_column("Took", key="took", width=fixed["took"])
        table.add_column("Status", key="status", width=fixed["status"])
        table.add_column("Executions", key="counts", width=fixed["counts"])
        table.focus()
        self.reload()

    # --- loading ----------------------------------------------------------------------

    def cells(self, summary: BatchSummary) -> list[Text | str]:
        created = summary.created_at.astimezone()
        cells: list[Text | str] = [
            summary.id,
            clip(summary.name or "-", self.widths["name"]),
            created.strftime("%Y-%m-%d %H:%M" if "took" in self.widths else "%m-%d %H:%M"),
        ]
        if "took" in self.widths:
            start = summary.started_at
            end = summary.finished_at or (
                self.amc_app.now() if summary.status is BatchStatus.RUNNING else None
            )
            took = (end - start).total_seconds() if start and end else None
            cells.append(format_duration(took))
        cells += [batch_state(summary.status), counts_cell(summary)]
        return cells

    @work(exclusive=True, group="history-load")
    async def reload(self, keep: str | None = None) -> None:
        """Read the first page again (after a filter change, a return to the screen)."""
        try:
            page = await self.services.store.list_batches(limit=PAGE, search=self.search or None)
        except AmcTuiError as error:
            log.error("%s", error.log_text())
            self.set_status(error.user_message)
            return
        table = self.table
        keep = keep or self.highlighted_id()
        table.clear()
        self.summaries = []
        self.exhausted = len(page) < PAGE
        self.add(page)
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))

    def add(self, page: list[BatchSummary]) -> None:
        for summary in page:
            if summary.id not in self.table.rows:
                self.summaries.append(summary)
                self.table.add_row(*self.cells(summary), key=summary.id)
        self.refresh_status()

    @work(exclusive=True, group="history-more")
    async def load_more(self) -> None:
        if self.exhausted or not self.summaries or self.loading_more:
            return
        self.loading_more = True
        try:
            page = await self.services.store.list_batches(
                limit=PAGE, before=self.summaries[-1].created_at, search=self.search or None
            )
        except AmcTuiError as error:
            log.error("%s", error.log_text())
            self.set_status(error.user_message)
            return
        finally:
            self.loading_more = False
        self.exhausted = len(page) < PAGE
        self.add(page)

    def refresh_status(self) -> None:
        shown = len(self.summaries)
        if shown == 0:
            text = f"No batch matches {self.search!r}" if self.search else "No batches yet"
        else:
            more = "more below" if not self.exhausted else "all shown"
            found = f" matching {self.search!r}" if self.search else ""
            text = f"{shown} batches{found} · {more} · enter opens · e exports · u resumes"
        self.set_status(text)

    def set_status(self, text: str) -> None:
        self.query_one("#history-status", Static).update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row >= self.table.row_count - NEAR_END:
            self.load_more()

    def on_screen_resume(self) -> None:
        if self.summaries or self.exhausted:
            self.reload()

    @on(BatchUpdated)
    async def batch_row_changed(self, message: BatchUpdated) -> None:
        if message.batch_id not in self.table.rows:
            return
        summary = await self.services.store.get_batch_summary(message.batch_id)
        if summary is None or message.batch_id not in self.table.rows:
            return
        for index, old in enumerate(self.summaries):
            if old.id == summary.id:
                self.summaries[index] = summary
        columns = [c.value for c in self.table.columns]
        for column, value in zip(columns, self.cells(summary), strict=True):
            self.table.update_cell(summary.id, str(column), value)

    # --- filter -------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#history-filter", Input)
        box.add_class("-shown")
        box.focus()

    @on(Input.Changed, "#history-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.search = event.value.strip()
        self.set_timer(FILTER_DELAY, self._apply_filter)

    def _apply_filter(self) -> None:
        box = self.query_one("#history-filter", Input)
        if box.value.strip() == self.search:
            self.reload()

    @on(Input.Submitted, "#history-filter")
    def filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()

    # --- actions ------------------------------------------------------------------------

    def highlighted_id(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key) if key is not None else None

    def highlighted(self) -> BatchSummary | None:
        batch_id = self.highlighted_id()
        return next((s for s in self.summaries if s.id == batch_id), None)

    async def action_open(self) -> None:
        batch_id = self.highlighted_id()
        if batch_id is not None:
            await self.amc_app.open_batch(batch_id)

    async def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        await self.action_open()

    async def action_rerun(self) -> None:
        batch_id = self.highlighted_id()
        if batch_id is not None:
            await self.amc_app.rerun(batch_id, only_failed=False)

    async def action_resume(self) -> None:
        summary = self.highlighted()
        if summary is None:
            return
        if summary.status is not BatchStatus.INTERRUPTED:
            self.notify(
                f"Only an interrupted batch can be resumed (this one is {summary.status.value})",
                severity="warning",
            )
            return
        if await self.amc_app.resume(summary.id):
            await self.amc_app.open_batch(summary.id)

    def action_export(self) -> None:
        from amc_tui.tui.screens.dialogs import ConfirmDialog, PromptScreen

        summary = self.highlighted()
        if summary is None:
            return

        def problem(text: str) -> str | None:
            try:
                check_export_path(text, overwrite=True)
            except AmcTuiError as error:
                return error.user_message
            return None

        def chosen(path: str | None) -> None:
            if not path:
                return
            try:
                check_export_path(path)
            except AmcTuiError:  # it exists (the rest was checked in the prompt)

                def overwrite(yes: bool | None) -> None:
                    if yes:
                        self.export(summary.id, path, overwrite=True)

                self.app.push_screen(
                    ConfirmDialog(f"{path} exists. Overwrite it?", yes="Overwrite", no="Keep"),
                    overwrite,
                )
                return
            self.export(summary.id, path, overwrite=False)

        self.app.push_screen(
            PromptScreen(
                f"Export {summary.id} to (.csv or .json):",
                value=f"~/amc-tui-{summary.id}.csv",
                check=problem,
            ),
            chosen,
        )

    @work(group="history-export")
    async def export(self, batch_id: str, path: str, *, overwrite: bool) -> None:
        batch = await self.services.store.get_batch(batch_id)
        if batch is None:
            self.notify(f"No batch {batch_id} in the history", severity="error")
            return
        try:
            result = export_batch(batch, path, overwrite=overwrite)
        except AmcTuiError as error:
            self.notify(error.user_message, title="Not exported", severity="error")
            return
        self.notify(f"Exported {result.rows} executions to {result.path}")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Read-only: no rerun or resume.  Back only when there is a screen to go back to."""
        if action in ("rerun", "resume") and self.amc_app.read_only:
            return False
        if action == "back":
            box = self.query("#history-filter")
            filtering = bool(box) and (box.first().has_focus or bool(box.first(Input).value))
            return filtering or len(self.app.screen_stack) > 2
        return True

    def action_reload(self) -> None:
        self.reload()

    def action_back(self) -> None:
        box = self.query_one("#history-filter", Input)
        if box.has_focus or box.value:
            box.value = ""
            box.remove_class("-shown")
            self.table.focus()
            return
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()

    async def action_quit_app(self) -> None:
        await self.amc_app.action_quit()
