"""The history screen: every batch, newest first, read from the store a page at a time.

A page of 100 when the screen opens, the next when the cursor nears the end, so
thousands of batches open as fast as a hundred.  ``/`` searches ids and names through
the store (debounced; an exclusive worker, so a stale answer never wins).  ``enter``
opens a batch's dashboard, ``e`` exports its executions and ``m`` merges its results
into one CSV (both in :mod:`.history_export`), ``R`` reruns it, ``u`` resumes an
interrupted one.  Rows follow :class:`~amc_tui.tui.messages.BatchUpdated`;
batches launched meanwhile go on top when the screen shows again.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from amc_tui.domain import BatchStatus, BatchSummary
from amc_tui.errors import AmcTuiError
from amc_tui.tui.messages import BatchUpdated, DownloadUpdated
from amc_tui.tui.screens.base import AmcScreen, taken_down
from amc_tui.tui.screens.history_export import MergeProgress, export_executions, start_merge
from amc_tui.tui.screens.history_rows import COLUMNS, HEADINGS, column_widths, row_cells, took
from amc_tui.tui.widgets.footer import KeysFooter
from amc_tui.tui.widgets.row_drawing import RowDrawing
from amc_tui.tui.widgets.running_bar import RunningBar
from amc_tui.tui.widgets.title_bar import TitleBar

log = logging.getLogger(__name__)

PAGE_SIZE = 100
LOAD_WITHIN = 10
"""Read the next page when the cursor is this close to the last loaded row."""
FILTER_DELAY = 0.25


class HistoryScreen(AmcScreen):
    """Every batch, newest first; see the module docstring."""

    # The table, not the search box first: focus moving to the table after the first
    # frame made Textual restyle both and draw the whole table again (30-60 ms).
    AUTO_FOCUS = "#history-table"
    HELP_TITLE = "History"
    HELP = (
        "Every batch, newest first; more are read from the history as the cursor nears "
        "the end. / searches ids and names in the whole history (escape returns to the "
        "table; escape again clears the search). enter opens a batch's dashboard; e "
        "exports its executions to a .csv or .json file; m downloads its results (what "
        "is missing) and merges them into one .csv file; R runs its query again as a new "
        "batch; u resumes a batch left interrupted; g reloads. Read-only mode refuses R "
        "and u, and merges only results already downloaded."
    )

    BINDINGS = [
        Binding("enter", "open", "Open", id="history-open", show=False),
        Binding("slash", "filter", "Filter", id="history-filter"),
        Binding("e", "export", "Export", id="history-export"),
        Binding("m", "merge", "Merge results", id="history-merge", show=False),
        Binding("R", "rerun", "Rerun", id="history-rerun"),
        Binding("u", "resume", "Resume", id="history-resume"),
        Binding("g,ctrl+r", "reload", "Reload", id="history-reload", show=False),
        Binding("escape", "back", "Back", id="history-back"),
        Binding("q", "app.quit", "Quit", id="history-quit", show=False),
    ]

    DEFAULT_CSS = """
    HistoryScreen #history-filter-line { height: 1; padding: 0 1; display: none; }
    HistoryScreen #history-filter-line.-shown { display: block; }
    HistoryScreen #history-filter-label { width: auto; padding-right: 1; }
    HistoryScreen #history-filter { width: 1fr; height: 1; border: none; padding: 0; }
    HistoryScreen #history-table { margin-left: 1; scrollbar-size-vertical: 1; }
    HistoryScreen #history-status { height: 1; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, first_page: list[BatchSummary] | None = None) -> None:
        """``first_page``: the newest batches, read already (the screen then opens
        with its rows in its first frame); else the screen reads them when mounted."""
        super().__init__()
        self._first_page = first_page
        self._read_on_resume = first_page is None
        self.summaries: list[BatchSummary] = []
        """The loaded rows, newest first (what the table shows)."""
        self.search = ""
        """The search the rows were read with."""
        self.exhausted = False
        self.loaded = False
        self.widths = column_widths(80)
        self._generation = 0
        self._loading_more = False
        self._stale: set[str] = set()
        self._refreshing = False
        self._filter_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with Horizontal(id="history-filter-line"):
            yield Static("Search:", id="history-filter-label")
            yield Input(placeholder="part of a batch id or name", id="history-filter")
        yield RowDrawing(id="history-table", cursor_type="row", zebra_stripes=True, cell_padding=0)
        yield MergeProgress()
        yield Static("Loading…", id="history-status")
        yield RunningBar()
        yield KeysFooter()

    @property
    def table(self) -> DataTable[object]:
        return self.query_one("#history-table", DataTable)

    @property
    def filter_box(self) -> Input:
        return self.query_one("#history-filter", Input)

    def on_mount(self) -> None:
        self.widths = column_widths(self.app.size.width)
        for key, heading in zip(COLUMNS, HEADINGS, strict=True):
            gap = 0 if key == "counts" else 1
            self.table.add_column(heading, key=key, width=self.widths[key] + gap)
        self.table.focus()
        if self._first_page is None:
            self.load_first_page()
        else:
            self._generation += 1
            self.took_first_page(self._first_page, "")
            self._first_page = None
        self.set_interval(1.0, self.tick)

    # --- rows -------------------------------------------------------------------------

    def cells(self, summary: BatchSummary) -> list[Text]:
        return row_cells(summary, self.widths, self.amc_app.now())

    def show_rows(self, summaries: list[BatchSummary], *, keep: str | None) -> None:
        """Replace every row, the cursor staying on ``keep`` when it is still shown."""
        self.summaries = []
        self.table.clear()
        self.add_rows(summaries)
        if keep is not None and keep in self.table.rows:
            self.table.move_cursor(row=self.table.get_row_index(keep))

    def add_rows(self, summaries: list[BatchSummary]) -> None:
        for summary in summaries:
            if summary.id not in self.table.rows:
                self.summaries.append(summary)
                self.table.add_row(*self.cells(summary), key=summary.id)
        self.show_status()

    def update_row(self, summary: BatchSummary) -> None:
        if summary.id not in self.table.rows:
            return
        self.summaries = [summary if s.id == summary.id else s for s in self.summaries]
        for key, value in zip(COLUMNS, self.cells(summary), strict=True):
            self.table.update_cell(summary.id, key, value)

    def tick(self) -> None:
        """Redraw the run time of running batches."""
        now = self.amc_app.now()
        for summary in self.summaries:
            if summary.status is BatchStatus.RUNNING and summary.id in self.table.rows:
                self.table.update_cell(summary.id, "took", took(summary, now))

    def failed(self, error: AmcTuiError) -> None:
        log.error("%s", error.log_text())
        if not taken_down(self):
            self.query_one("#history-status", Static).update(Text(error.user_message))

    def show_status(self) -> None:
        shown = len(self.summaries)
        found = f" matching “{self.search}”" if self.search else ""
        if shown == 0:
            text = f"No batch{found}" if self.search else "No batches yet"
        elif self.exhausted:
            text = f"all {shown} shown{found}"
        else:
            text = f"{shown} shown{found} · more below"
        self.query_one("#history-status", Static).update(Text(text))  # no markup: typed text

    # --- loading ----------------------------------------------------------------------

    @work(exclusive=True, group="history-page")
    async def load_first_page(self) -> None:
        """Read the first page again.  A new search replaces the rows; otherwise new
        batches go on top, the rest are renewed and the cursor keeps its batch."""
        self._generation += 1
        search = self.filter_box.value.strip()
        try:
            page = await self.services.store.list_batches(limit=PAGE_SIZE, search=search or None)
        except AmcTuiError as error:
            return self.failed(error)
        if taken_down(self):
            return
        self._generation += 1  # a next page read meanwhile belongs to the old rows
        self.took_first_page(page, search)

    def took_first_page(self, page: list[BatchSummary], search: str) -> None:
        """Show the first page read with ``search`` (see :meth:`load_first_page`)."""
        fresh = {s.id: s for s in page}
        rows = [fresh.pop(s.id, s) for s in self.summaries] if search == self.search else []
        if len(fresh) == len(page):  # nothing in common: start afresh
            self.exhausted, rows = len(page) < PAGE_SIZE, []
        self.search, self.loaded = search, True
        if fresh or not rows:
            self.show_rows(list(fresh.values()) + rows, keep=self.highlighted_id())
        else:  # the same batches: renew them in place (no jump back from a dialog)
            for summary in page:
                self.update_row(summary)
        self.refresh_bindings()
        # Batches that had not ended may have moved on (run elsewhere, or here unseen).
        self._stale.update(s.id for s in rows if not s.status.is_terminal)
        self.refresh_stale_rows()

    @work(group="history-more")
    async def load_next_page(self) -> None:
        """Read the batches older than the last row (one page), unless already reading."""
        if self._loading_more or self.exhausted or not self.summaries:
            return
        self._loading_more = True
        generation, last = self._generation, self.summaries[-1].created_at
        # Batches created at the very same moment as the last row come again (and are
        # skipped), so none of them is lost between two pages.
        ties = sum(1 for s in self.summaries if s.created_at == last)
        try:
            page = await self.services.store.list_batches(
                limit=PAGE_SIZE + ties,
                before=last + timedelta(microseconds=1),
                search=self.search or None,
            )
        except AmcTuiError as error:
            return self.failed(error)
        finally:
            self._loading_more = False
        if taken_down(self):
            return
        if generation != self._generation:  # the rows were read again meanwhile
            return self.load_if_near_end()
        self.exhausted = len(page) < PAGE_SIZE + ties
        self.add_rows(page)
        self.load_if_near_end()

    def load_if_near_end(self) -> None:
        if self.table.cursor_row >= self.table.row_count - LOAD_WITHIN:
            self.load_next_page()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.load_if_near_end()

    def on_screen_resume(self) -> None:
        if self.loaded and self._read_on_resume:  # batches launched meanwhile go on top
            self.load_first_page()
        self._read_on_resume = True  # (not on the first showing of a page read already)

    def on_batch_updated(self, message: BatchUpdated) -> None:
        # AmcScreen.on_batch_updated (the running bar) runs too: Textual calls the
        # handler of every class along the MRO, so no super() call here.
        if message.batch_id in self.table.rows:
            self._stale.add(message.batch_id)
            self.refresh_stale_rows()

    @work(group="history-rows")
    async def refresh_stale_rows(self) -> None:
        """Re-read the rows whose batches changed; updates arriving meanwhile coalesce."""
        if self._refreshing:
            return
        self._refreshing = True
        try:
            while self._stale:
                batch_id = self._stale.pop()
                summary = await self.services.store.get_batch_summary(batch_id)
                if taken_down(self):
                    return
                if summary is not None:
                    self.update_row(summary)
        except AmcTuiError as error:
            log.error("%s", error.log_text())
        finally:
            self._refreshing = False

    # --- filter -----------------------------------------------------------------------

    def action_filter(self) -> None:
        self.query_one("#history-filter-line").add_class("-shown")
        self.filter_box.focus()
        self.refresh_bindings()

    @on(Input.Changed, "#history-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY, self.apply_filter)

    def apply_filter(self) -> None:
        """Read the rows again if the search text changed since they were read."""
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        if self.filter_box.value.strip() != self.search:
            self.load_first_page()

    @on(Input.Submitted, "#history-filter")
    def filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.apply_filter()
        self.table.focus()

    def clear_filter(self) -> None:
        self.filter_box.value = ""
        self.query_one("#history-filter-line").remove_class("-shown")
        self.apply_filter()
        self.table.focus()

    def action_back(self) -> None:
        """From the filter box to the table (an empty box hides); then clear; then back."""
        box = self.filter_box
        if box.has_focus and box.value.strip():
            self.apply_filter()
            self.table.focus()
        elif box.has_focus or box.value or self.search:
            self.clear_filter()
        elif self.has_screen_below():
            self.app.pop_screen()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``escape`` is offered only when it has something to do."""
        if action == "back" and self.is_mounted:
            box = self.filter_box
            return box.has_focus or bool(box.value or self.search) or self.has_screen_below()
        return True

    def has_screen_below(self) -> bool:
        """Whether escape has a screen to go back to (not the app's default one)."""
        stack = self.app.screen_stack
        return self in stack and stack.index(self) > 1

    # --- actions ----------------------------------------------------------------------

    def highlighted_id(self) -> str | None:
        row = self.table.cursor_row  # the rows are self.summaries, in the same order
        return self.summaries[row].id if 0 <= row < len(self.summaries) else None

    async def action_open(self) -> None:
        batch_id = self.highlighted_id()
        if batch_id is not None:
            await self.amc_app.open_batch(batch_id)

    async def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        await self.action_open()

    def action_reload(self) -> None:
        self.load_first_page()

    async def action_rerun(self) -> None:
        batch_id = self.highlighted_id()
        if self.amc_app.read_only:  # said before the instances are looked at
            self.notify("Read-only: batches cannot be launched", severity="error")
        elif batch_id is not None:
            await self.amc_app.rerun(batch_id, only_failed=False)

    async def action_resume(self) -> None:
        batch_id = self.highlighted_id()
        if batch_id is None:
            return
        try:
            summary = await self.services.store.get_batch_summary(batch_id)  # fresh, not the row
        except AmcTuiError as error:
            return self.failed(error)
        if summary is None:
            return
        self.update_row(summary)
        if summary.status is not BatchStatus.INTERRUPTED:
            self.notify(
                f"Only an interrupted batch can be resumed (this one is {summary.status.value})",
                severity="warning",
            )
            return
        if await self.amc_app.resume(batch_id):
            await self.amc_app.open_batch(batch_id)

    def action_export(self) -> None:
        if (batch_id := self.highlighted_id()) is not None:
            self.run_worker(export_executions(self, batch_id), group="history-export")

    def action_merge(self) -> None:
        if (batch_id := self.highlighted_id()) is not None:
            start_merge(self, batch_id)

    def on_download_updated(self, message: DownloadUpdated) -> None:
        for progress in self.query(MergeProgress):  # none while the screen is taken down
            progress.take(message.update)
