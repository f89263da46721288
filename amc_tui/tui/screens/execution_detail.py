"""The execution detail: one execution's ids, times and every try at creating it.

Opened with ``enter`` on a dashboard row.  Each try shows when it started and ended,
what went wrong (the taxonomy's category and short message) and the wait chosen
before the next try.  It re-reads the store when the execution changes; details that
are not for the screen (server bodies) are in the log file, which it names.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from amc_tui.domain import Attempt, Execution
from amc_tui.output import format_duration, iso_utc, shown_error
from amc_tui.tui.format import execution_state
from amc_tui.tui.messages import BatchUpdated


class ExecutionDetailScreen(ModalScreen[None]):
    """One execution of a batch; ``escape`` closes it."""

    HELP_TITLE = "Execution detail"
    BINDINGS = [Binding("escape,q,enter", "close", "Close", id="detail-close")]

    DEFAULT_CSS = """
    ExecutionDetailScreen .dialog { width: 96; height: auto; max-height: 100%; }
    ExecutionDetailScreen #detail-body { height: auto; max-height: 20; }
    """

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
        store = self.app.services.store  # type: ignore[attr-defined]
        self.execution = await store.get_execution(self.execution_id)
        self.attempts = await store.list_attempts(self.execution_id)
        self.show()

    def show(self) -> None:
        ex = self.execution
        if ex is None:
            self.query_one("#detail-fields", Static).update("This execution is not in the history")
            return
        fields = Table.grid(padding=(0, 2))
        fields.add_column(style="bold", no_wrap=True)
        fields.add_column()
        fields.add_row("Instance", f"{ex.instance_name} ({ex.instance_id})")
        fields.add_row("Instance UUID", str(ex.instance_uuid))
        fields.add_row("State", execution_state(ex.status))
        fields.add_row("AMC execution", ex.amc_execution_id or "-")
        fields.add_row("Batch", ex.batch_id)
        fields.add_row("Created", iso_utc(ex.created_at) or "-")
        fields.add_row("Submitted", iso_utc(ex.submitted_at) or "-")
        fields.add_row("Finished", iso_utc(ex.finished_at) or "-")
        error = shown_error(ex)
        if error:
            fields.add_row("Error", Text(error, style="red"))
            log_file = self.app.settings.paths.log_file  # type: ignore[attr-defined]
            fields.add_row("Details", f"in the log file {log_file}")
        self.query_one("#detail-fields", Static).update(fields)
        self.query_one("#detail-attempts", Static).update(self.attempts_table())

    def attempts_table(self) -> Table | Text:
        if not self.attempts:
            return Text("\nNo tries at creating it yet.", style="dim")
        table = Table(title="Tries at creating it", title_justify="left", expand=True)
        table.add_column("#", no_wrap=True)
        table.add_column("Started", no_wrap=True)
        table.add_column("Took", no_wrap=True)
        table.add_column("Outcome")
        table.add_column("Wait after", no_wrap=True)
        for attempt in self.attempts:
            took = (
                format_duration((attempt.finished_at - attempt.started_at).total_seconds())
                if attempt.finished_at
                else "…"
            )
            if attempt.error_category is None:
                outcome = Text("accepted" if attempt.finished_at else "waiting for AMC")
            else:
                outcome = Text(
                    f"{attempt.error_category.value}: {attempt.error_message or ''}", style="red"
                )
            wait = format_duration(attempt.retry_delay) if attempt.retry_delay else "-"
            started = iso_utc(attempt.started_at) or "-"
            table.add_row(str(attempt.number), started, took, outcome, wait)
        return table

    def action_close(self) -> None:
        self.dismiss(None)
