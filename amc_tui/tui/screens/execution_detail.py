"""The execution detail: one execution's ids, times and every try at creating it.

Opened with ``enter`` on a dashboard row.  Each try shows when it started and ended,
what went wrong (the taxonomy's category and short message) and the wait chosen
before the next try.  It re-reads the store when the execution changes; details that
are not for the screen (server bodies) are in the log file, which it names.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich import box
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from amc_tui.domain import Attempt, Execution
from amc_tui.output import format_duration, shown_error
from amc_tui.tui.format import execution_state
from amc_tui.tui.messages import BatchUpdated
from amc_tui.tui.screens.base import taken_down

if TYPE_CHECKING:
    from amc_tui.tui.app import AmcApp


class ExecutionDetailScreen(ModalScreen[None]):
    """One execution of a batch; ``escape`` closes it."""

    HELP_TITLE = "Execution detail"
    BINDINGS = [Binding("escape,q,enter", "close", "Close", id="detail-close")]

    def __init__(self, batch_id: str, execution_id: int) -> None:
        super().__init__()
        self.batch_id = batch_id
        self.execution_id = execution_id
        self.execution: Execution | None = None
        self.attempts: list[Attempt] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            with VerticalScroll(id="detail-body"):
                yield Static("Loading…", id="detail-fields")
                yield Static("", id="detail-attempts")
            yield Static("escape: close", classes="dialog-hint")

    def on_mount(self) -> None:
        self.load()

    def on_batch_updated(self, message: BatchUpdated) -> None:
        if message.batch_id == self.batch_id and self.execution_id in message.execution_ids:
            self.load()

    @work(exclusive=True, group="detail-load")
    async def load(self) -> None:
        store = cast("AmcApp", self.app).services.store
        self.execution = await store.get_execution(self.execution_id)
        self.attempts = await store.list_attempts(self.execution_id)
        if not taken_down(self):
            self.show()

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
            log_file = cast("AmcApp", self.app).settings.paths.log_file
            fields.add_row("Details", Text(f"in the log file {_home(log_file)}"))
        self.query_one("#detail-fields", Static).update(fields)
        self.query_one("#detail-attempts", Static).update(self.attempts_table())

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


def _when(moment: datetime | None) -> str:
    """``2026-11-28 12:00:45`` in local time; ``-`` if unknown."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment is not None else "-"


def _home(path: Path) -> str:
    """The path with the home directory shown as ``~``."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)
