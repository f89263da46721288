"""The dashboard: one batch, live.

The header gives the batch's id, name and status, a progress bar, the counts by state,
the elapsed time and an estimate of the time left; below it one row per execution
(state by symbol and colour, instance, try n of m, time in state, AMC execution id, a
short message; made in :mod:`.dashboard_rows`).  A batch run here is updated from the
runner's events: the app tells the screen which rows changed, at most 20 times a
second (:class:`~amc_tui.tui.messages.BatchUpdated`), and the screen draws those rows
as they are now, and only those (:class:`~amc_tui.tui.widgets.live_table.LiveTable`);
one run by another process is re-read from the store once a second.  A one-second
tick redraws only the clocks.

Keys: ``c`` cancels (after a yes/no), ``enter`` opens an execution's detail, ``f``
shows failures only, ``r`` retries the failed ones as a new batch, ``escape`` goes
back while the batch keeps running.
"""

from __future__ import annotations

import logging

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, ProgressBar, Static

from amc_tui.domain import Execution, ExecutionStatus
from amc_tui.errors import AmcTuiError
from amc_tui.output import format_duration
from amc_tui.tui.format import batch_state, clip, counts_text
from amc_tui.tui.live import LiveBatch, Row
from amc_tui.tui.messages import BatchUpdated
from amc_tui.tui.screens.base import AmcScreen, taken_down
from amc_tui.tui.screens.dashboard_rows import (
    COLUMNS,
    column_widths,
    heading,
    row_cells,
    time_cell,
)
from amc_tui.tui.widgets.footer import KeysFooter
from amc_tui.tui.widgets.live_table import LiveTable
from amc_tui.tui.widgets.running_bar import RunningBar
from amc_tui.tui.widgets.title_bar import TitleBar

log = logging.getLogger(__name__)

ROWS_AT_ONCE = 100
"""Rows added in one go after the first frame (about 10 ms of work each time)."""

FAILURES = (ExecutionStatus.FAILED, ExecutionStatus.UNKNOWN)
STORE_WATCH_SECONDS = 1.0


class DashboardScreen(AmcScreen):
    """One batch's progress and executions; see the module docstring."""

    HELP_TITLE = "Dashboard"
    HELP = (
        "One batch, live. Rows change as AMC answers; enter opens an execution's tries; the "
        "batch keeps running if you go "
        "back. State symbols: · queued  ↑ submitting  ◔ pending  ▶ running  ✔ succeeded  "
        "✘ failed  ⊘ cancelled  ? unknown (settled on resume). Time is the time in the "
        "current state, or the run time once finished."
    )

    BINDINGS = [
        Binding("c", "cancel_batch", "Cancel batch", id="dashboard-cancel"),
        Binding("enter", "open_detail", "Detail", id="dashboard-detail", show=False),
        Binding("f", "toggle_failures", "Failures only", id="dashboard-failures"),
        Binding("r", "retry_failed", "Retry failed", id="dashboard-retry"),
        Binding("escape", "back", "Back", id="dashboard-back"),
    ]

    DEFAULT_CSS = """
    DashboardScreen #batch-title { height: 1; padding: 0 1; }
    DashboardScreen #progress-line { height: 1; padding: 0 1; }
    DashboardScreen #progress-line ProgressBar { width: 24; }
    DashboardScreen #progress-line Bar { width: 22; }
    DashboardScreen #progress-text { width: 1fr; padding-left: 1; }
    DashboardScreen #counts { height: 1; padding: 0 1; }
    DashboardScreen #executions { height: 1fr; }
    DashboardScreen #dashboard-hint { height: 1; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, batch_id: str) -> None:
        super().__init__()
        self.batch_id = batch_id
        self.failures_only = False
        self._widths = column_widths(80)
        self._max_attempts = 0
        self._to_add: list[int] = []
        """Rows not in the table yet: added just after the first frame."""

    # --- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static(id="batch-title")
        with Horizontal(id="progress-line"):
            yield ProgressBar(show_eta=False, show_percentage=False, id="progress")
            yield Static(id="progress-text")
        yield Static(id="counts")
        yield LiveTable(id="executions", cursor_type="row", zebra_stripes=True)
        yield Static(id="dashboard-hint")
        yield RunningBar()
        yield KeysFooter()

    @property
    def live(self) -> LiveBatch:
        return self.amc_app.live[self.batch_id]

    @property
    def table(self) -> LiveTable:
        return self.query_one("#executions", LiveTable)

    def on_mount(self) -> None:
        self._widths = column_widths(self.app.size.width)
        self._max_attempts = self.services.max_attempts
        for key in COLUMNS:
            self.table.add_column(heading(key, self._widths), key=key, width=self._widths[key])
        self.rebuild_rows(in_sight_first=True)
        self.refresh_header()
        self.set_interval(1.0, self.tick)
        self.watch(self.table, "scroll_y", self.refresh_clocks, init=False)
        if not self.live.here and not self.live.status.is_terminal:
            self.watch_store()
        self.table.focus()

    # --- rows -------------------------------------------------------------------------

    def shown(self, row: Row) -> bool:
        return not self.failures_only or row.status in FAILURES

    def rebuild_rows(self, *, in_sight_first: bool = False) -> None:
        """Fill the table from the live batch (on mount, and when the filter changes).

        With ``in_sight_first`` (on mount), only the rows the screen can show are added
        now, and the others just after the first frame: a batch of 1,000 executions is
        on screen in about two thirds of the time (``bench/dashboard_load.py``).  Until
        they are in, a change to one of them is not drawn: it is added as it is then.
        """
        table = self.table
        keep = self.highlighted_id()
        table.clear()
        rows = self.live.rows
        order = [i for i in self.live.order if self.shown(rows[i])]
        now = order[: self.app.size.height] if in_sight_first else order
        table.add_plain_rows([(str(i), self.cells(rows[i])) for i in now])
        self._to_add = order[len(now) :]
        if self._to_add:
            self.call_after_refresh(self._add_the_rest)
        if keep is not None and str(keep) in table.rows:
            table.move_cursor(row=table.get_row_index(str(keep)))
        self.refresh_hint()

    def _add_the_rest(self) -> None:
        """The rows left out of the first frame, in their state now, ``ROWS_AT_ONCE`` at
        a time: keys pressed meanwhile are answered between two parts."""
        if not self._to_add or not self.is_mounted:
            return
        part, self._to_add = self._to_add[:ROWS_AT_ONCE], self._to_add[ROWS_AT_ONCE:]
        rows = self.live.rows
        self.table.add_plain_rows([(str(i), self.cells(rows[i])) for i in part])
        if self._to_add:
            self.call_later(self._add_the_rest)

    def cells(self, row: Row) -> tuple[Text, ...]:
        return row_cells(row, self._widths, self._max_attempts, self.amc_app.now)

    def time_text(self, ex: Execution) -> str:
        return time_cell(ex, self.amc_app.now)

    def update_rows(self, execution_ids: frozenset[int] | set[int]) -> None:
        """Draw these rows as the live batch has them now (each once, however many
        times it changed since it was last drawn)."""
        table = self.table
        rows = self.live.rows
        present = table.rows
        changes: dict[str, dict[str, Text | str]] = {}
        missing = False
        for execution_id in execution_ids:
            row = rows.get(execution_id)
            if row is None:
                continue
            key = str(execution_id)
            if key in present and self.shown(row):
                changes[key] = dict(zip(COLUMNS, self.cells(row), strict=True))
            elif key in present or (self.shown(row) and execution_id not in self._to_add):
                missing = True  # a row enters or leaves the failures-only view
        if missing:
            self.rebuild_rows()
        else:
            table.update_rows(changes)

    def highlighted_id(self) -> int | None:
        table = self.table
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return int(key) if key is not None else None

    # --- header -----------------------------------------------------------------------

    def refresh_header(self) -> None:
        live = self.live
        now = self.amc_app.now()
        title = Text()
        title.append(live.id, style="bold")
        if live.name:
            title.append(f"  {clip(live.name, 40)}")  # Text.append: never markup
        title.append("  ")
        title.append_text(batch_state(live.status))
        if live.cancel_requested and not live.status.is_terminal:
            title.append("  cancelling…", style="yellow")
        if not live.here and not live.status.is_terminal:
            title.append("  (another process)", style="dim")
        self.show_line("#batch-title", title)

        counts = live.counts()
        done = counts.succeeded + counts.failed + counts.cancelled
        progress = self.query_one("#progress", ProgressBar)
        if (progress.total, progress.progress) != (max(1, counts.total), done):
            progress.update(total=max(1, counts.total), progress=done)
        timing = f"{done}/{counts.total} done · elapsed {format_duration(live.elapsed(now))}"
        if not live.is_finished:
            left = live.time_left(now)
            timing += f" · {'~' + format_duration(left) + ' left' if left else 'estimating…'}"
        self.show_line("#progress-text", timing)
        self.show_line("#counts", counts_text(counts))

    def show_line(self, selector: str, content: Text | str) -> None:
        """Show ``content`` in a one-line Static of the header, if it is new there.

        The header is redrawn up to 20 times a second while a batch runs; a line that
        did not change is left alone, and one that did is redrawn without a new layout
        of the screen (the lines' sizes are fixed by the CSS), once it has a first one.
        """
        line = self.query_one(selector, Static)
        shown = line.content
        if isinstance(content, Text) and isinstance(shown, Text):
            same = (content.plain, content.style, content.spans) == (
                shown.plain,
                shown.style,
                shown.spans,
            )
        else:
            same = type(content) is type(shown) and content == shown
        if not same:
            line.update(content, layout=not isinstance(shown, Text) and not shown)

    def refresh_hint(self) -> None:
        self.refresh_bindings()
        parts = []
        if self.failures_only:
            shown = self.table.row_count
            parts.append(f"failures only: {shown} of {len(self.live.rows)} (f shows all)")
        if self.live.is_finished and self.live.has_failures():
            parts.append("r retries the failed ones as a new batch")
        elif not self.live.is_finished and not self.amc_app.read_only:
            parts.append("c cancels · escape goes back, the batch keeps running")
        self.show_line("#dashboard-hint", " · ".join(parts))

    def tick(self) -> None:
        """Once a second: the header and the clocks."""
        self.refresh_header()
        self.refresh_clocks()

    def refresh_clocks(self) -> None:
        """The clocks of the rows in sight (rows in a final state do not change).

        Only those: a batch's first seconds have a thousand rows waiting, and setting
        every one's clock each second took 40-50 ms of the event loop.  A row coming
        into sight gets its clock as the table scrolls (this runs then too), and a row
        that changes gets it with its other cells.
        """
        rows = self.live.rows
        clocks: dict[str, dict[str, Text | str]] = {}
        for key in self.table.keys_in_sight():
            row = rows.get(int(key))
            if row is not None and not row.status.is_terminal:
                clocks[key] = {"time": Text(self.time_text(row.execution))}
        self.table.update_rows(clocks)

    # --- updates ----------------------------------------------------------------------

    def on_batch_updated(self, message: BatchUpdated) -> None:
        if message.batch_id != self.batch_id:
            return
        self.update_rows(message.execution_ids)
        self.refresh_header()
        if message.finished:
            self.refresh_hint()

    @work(exclusive=True, group="dashboard-watch")
    async def watch_store(self) -> None:
        """A batch run by another process: re-read it from the store until it ends."""
        import asyncio

        store = self.services.store
        while self.is_mounted:
            live = self.live
            if live.here or live.status.is_terminal:
                return
            try:
                batch = await store.get_batch(self.batch_id)
            except AmcTuiError as error:
                log.error("watching %s: %s", self.batch_id, error.log_text())
                batch = None
            if taken_down(self):
                return
            if batch is not None and not self.live.here:
                changed = live.merge(batch)
                self.update_rows(changed)
                self.refresh_header()
                self.refresh_hint()
            await asyncio.sleep(STORE_WATCH_SECONDS)

    # --- actions ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Read-only: no cancel or retry at all (False hides them).  Otherwise they show
        dimmed while they cannot apply (None): a finished batch, no failures."""
        if action in ("cancel_batch", "retry_failed") and self.amc_app.read_only:
            return False
        if not self.is_mounted or self.batch_id not in self.amc_app.live:
            return True
        if action == "cancel_batch":
            return None if self.live.status.is_terminal else True
        if action == "retry_failed":
            return True if self.live.has_failures() else None
        return True

    def action_cancel_batch(self) -> None:
        from amc_tui.tui.screens.dialogs import ConfirmDialog

        live = self.live
        if self.amc_app.read_only:
            self.notify("Read-only: batches cannot be cancelled", severity="error")
            return
        if live.status.is_terminal:
            self.notify(f"{live.id} has already ended ({live.status.value})", severity="warning")
            return
        counts = live.counts()

        async def answered(yes: bool | None) -> None:
            if yes:
                await self.amc_app.cancel(self.batch_id)
                self.refresh_header()

        self.app.push_screen(
            ConfirmDialog(
                f"Cancel batch {live.id}?\n\n{counts.queued} queued executions will not be "
                f"sent; {counts.in_flight} in flight will be cancelled on AMC. Executions "
                "that already finished keep their results.",
                yes="Cancel batch",
                no="Keep running",
            ),
            answered,
        )

    def action_open_detail(self) -> None:
        from amc_tui.tui.screens.execution_detail import ExecutionDetailScreen

        execution_id = self.highlighted_id()
        if execution_id is not None:
            self.app.push_screen(ExecutionDetailScreen(self.batch_id, execution_id))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_detail()

    def action_toggle_failures(self) -> None:
        self.failures_only = not self.failures_only
        self.rebuild_rows()

    async def action_retry_failed(self) -> None:
        if not self.live.failed_ids():
            self.notify("No failed executions to retry", severity="warning")
            return
        await self.amc_app.rerun(self.batch_id, only_failed=True)

    def action_back(self) -> None:
        self.app.pop_screen()
