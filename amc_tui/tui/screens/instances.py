"""The instances screen (the home screen): pick the AMC instances for a new batch.

It owns the instance table's rows (selection mark, name, AMC id, type, region, last
result; their look is in :mod:`.instances_table`), the filter box, the selection and
its limit (``engine.max_batch_size``), and remembering the selection between runs
(:class:`~amc_tui.tui.ui_state.UiState`).  ``enter`` hands the chosen instances, in
table order, to ``AmcApp.new_batch``.  Instances are loaded in a worker (cached, or
from AMC when none are; ``r`` asks AMC again).  Last results are re-read from the
store when a batch finishes and when the screen is shown again.
"""

from __future__ import annotations

import logging
import uuid

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.widgets import DataTable, Input, Label, LoadingIndicator, Static

from amc_tui.domain import Execution, Instance
from amc_tui.errors import AmcTuiError
from amc_tui.tui.messages import BatchUpdated
from amc_tui.tui.screens.base import AmcScreen, taken_down
from amc_tui.tui.screens.instances_table import (
    COLUMNS,
    LABELS,
    InstancesTable,
    column_widths,
    heading,
    mark_cell,
    matches,
    result_cell,
    row_cells,
)
from amc_tui.tui.widgets.footer import KeysFooter
from amc_tui.tui.widgets.running_bar import RunningBar
from amc_tui.tui.widgets.title_bar import TitleBar

log = logging.getLogger(__name__)

AGE_REDRAW_SECONDS = 30.0
NOTHING_SELECTED = "Select at least one instance (space toggles, a selects all shown)"
READ_ONLY = "Read-only: batches cannot be launched"
FILTER_PLACEHOLDER = "press / to filter by name, AMC id, region or type"
HINT = "a/n/i: all/none/invert shown · r refresh · h history · ? all keys"


class InstancesScreen(AmcScreen):
    """Every instance of the profile, to pick the ones a new batch runs on."""

    HELP_TITLE = "Instances"
    HELP = (
        "Pick the AMC instances a new batch runs on, then press enter to choose the query. "
        "/ filters the list by name, AMC id, region or type (escape leaves the filter, a "
        "second escape clears it). a, n and i select all, none or the inverse of the rows "
        "shown; selections hidden by the filter stay, up to engine.max_batch_size per batch. "
        "The selection is remembered between runs; r asks AMC for the list again (type "
        "STD/SBX is STANDARD/SANDBOX)."
    )

    AUTO_FOCUS = "#instances"  # not the filter box first (its keys, then the table's)

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", id="instances-filter"),
        Binding("escape", "leave_filter", "Back to the list", id="instances-leave-filter"),
        Binding("escape", "clear_filter", "Clear the filter", id="instances-clear", show=False),
        Binding("space", "toggle_row", "Toggle", id="instances-toggle"),
        Binding("a", "select_shown", "All shown", id="instances-all"),
        Binding("n", "select_none", "None shown", id="instances-none", show=False),
        Binding("i", "invert_shown", "Invert shown", id="instances-invert", show=False),
        Binding("r", "refresh_instances", "Refresh from AMC", id="instances-refresh", show=False),
        Binding("h", "app.history", "History", id="instances-history", show=False),
        Binding("q", "app.quit", "Quit", id="instances-quit", show=False),
    ]

    DEFAULT_CSS = """
    InstancesScreen #filter-row { height: 1; padding: 0 1; }
    InstancesScreen #filter-label { width: auto; padding-right: 1; color: $text-muted; }
    InstancesScreen #filter { width: 1fr; }
    InstancesScreen #selection-counter { height: 1; padding: 0 1; text-style: bold; }
    InstancesScreen #instances { height: 1fr; }
    InstancesScreen #status-row { height: 1; padding: 0 1; }
    InstancesScreen #loading { width: 6; height: 1; display: none; }
    InstancesScreen #loading.-active { display: block; }
    InstancesScreen #instances-status { width: 1fr; color: $text-muted; }
    InstancesScreen #instances-status.-error { color: $error; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.instances: list[Instance] = []
        """Every instance of the profile, in the catalog's order."""
        self.shown: list[Instance] = []
        """The instances the filter lets through, in table order."""
        self.selected_ids: set[str] = set()
        """AMC instance ids of the selected instances (some may be hidden by the filter)."""
        self.latest: dict[uuid.UUID, Execution] = {}
        self.filter_text = ""
        self.loading_instances = False
        self.load_count = 0
        """How many loads have ended (successfully or not)."""
        self.load_error: str | None = None
        self._loaded_once = False
        self._widths: dict[str, int] = {}

    # --- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with Horizontal(id="filter-row"):
            yield Label("Filter", id="filter-label")
            yield Input(placeholder=FILTER_PLACEHOLDER, id="filter", compact=True)
        yield Static(id="selection-counter")
        yield InstancesTable(id="instances", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="status-row"):
            yield LoadingIndicator(id="loading")
            yield Static(id="instances-status")
        yield RunningBar()
        yield KeysFooter()

    @property
    def table(self) -> DataTable[object]:
        return self.query_one("#instances", DataTable)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#filter", Input)

    @property
    def max_batch_size(self) -> int:
        return self.services.settings.engine.max_batch_size

    def on_mount(self) -> None:
        self.layout_columns(self.app.size.width)
        self.refresh_counter()
        self.table.focus()
        self.set_interval(AGE_REDRAW_SECONDS, self.redraw_results)
        self.load_instances(refresh=False)

    def on_resize(self, event: events.Resize) -> None:
        self.layout_columns(event.size.width)

    def layout_columns(self, width: int) -> None:
        """(Re)build the columns when the screen width asks for other widths."""
        widths = column_widths(width)
        if widths == self._widths:
            return
        self._widths = widths
        table = self.table
        table.clear(columns=True)
        for key, label in zip(COLUMNS, LABELS, strict=True):
            table.add_column(heading(key, label, widths), key=key, width=widths[key])
        self.rebuild_rows()

    # --- rows -------------------------------------------------------------------------

    def rebuild_rows(self) -> None:
        """Fill the table with the instances the filter lets through."""
        table = self.table
        keep = self.highlighted_id()
        table.clear()
        needle = self.filter_text.strip().casefold()
        self.shown = [i for i in self.instances if matches(i, needle)]
        for instance in self.shown:
            table.add_row(*self.cells(instance), key=instance.instance_id)
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))
        self.refresh_counter()

    def cells(self, instance: Instance) -> tuple[Text, ...]:
        mark = self.mark(instance.instance_id)
        return row_cells(instance, self._widths, mark, self.result(instance))

    def mark(self, instance_id: str) -> Text:
        return mark_cell(instance_id in self.selected_ids)

    def result(self, instance: Instance) -> Text:
        return result_cell(
            self.latest.get(instance.uuid), self.amc_app.now(), self._widths["result"]
        )

    def redraw_results(self) -> None:
        """Redraw the "Last result" cells from what was last read (ages move on)."""
        table = self.table
        for instance in self.shown:
            if instance.instance_id in table.rows:
                table.update_cell(instance.instance_id, "result", self.result(instance))

    def highlighted_id(self) -> str | None:
        """The AMC id of the row under the cursor."""
        table = self.table
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return key if isinstance(key, str) else None

    def selected_instances(self) -> list[Instance]:
        """The selected instances in table order (those hidden by the filter too)."""
        return [i for i in self.instances if i.instance_id in self.selected_ids]

    # --- status lines -----------------------------------------------------------------

    def refresh_counter(self) -> None:
        text = f"{len(self.selected_ids)} selected (max {self.max_batch_size})"
        hidden = len(self.selected_ids - self.shown_ids())
        if hidden:
            text += f", {hidden} hidden"
        if self.filter_text.strip():
            text += f" · filter shows {len(self.shown)} of {len(self.instances)}"
        self.query_one("#selection-counter", Static).update(text)

    def set_status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#instances-status", Static)
        status.set_class(error, "-error")
        status.update(Text(f"✘ {text}") if error else text)

    # --- loading ----------------------------------------------------------------------

    def show_loading(self, loading: bool) -> None:
        # Not the table's own loading overlay: that takes the focus off the table.
        self.loading_instances = loading
        self.query_one("#loading", LoadingIndicator).set_class(loading, "-active")

    @work(exclusive=True, group="instances-load")
    async def load_instances(self, refresh: bool) -> None:
        """Read the instances (from AMC when ``refresh``) and their last results."""
        self.show_loading(True)
        self.set_status("Asking AMC for the instances…" if refresh else "Loading instances…")
        try:
            instances = await self.services.instances(refresh=refresh)
            latest = await self.services.store.latest_by_instance([i.uuid for i in instances])
        except AmcTuiError as error:
            log.error("%s", error.log_text())
            if taken_down(self):
                return
            self.load_error = error.user_message
            # markup=False: a message may quote a path or a value ("[...]" is text).
            self.notify(error.user_message, title="Instances", severity="error", markup=False)
            self.set_status(f"{error.user_message} (r retries)", error=True)
        else:
            if taken_down(self):
                return
            self.load_error = None
            self.take_instances(instances, latest)
            self.set_status(HINT if instances else "No instances in this profile; r asks AMC")
        self.show_loading(False)
        self.load_count += 1

    def take_instances(self, instances: list[Instance], latest: dict[uuid.UUID, Execution]) -> None:
        """Show a fresh list: keep the selection of instances still present (on the first
        load, the one remembered from last time), within the batch limit."""
        present = {i.instance_id for i in instances}
        wanted = set(self.selected_ids)
        if not self._loaded_once:
            wanted |= set(self.services.ui_state.selection())
            self._loaded_once = True
        in_order = [i.instance_id for i in instances if i.instance_id in wanted & present]
        self.selected_ids = set(in_order[: self.max_batch_size])
        self.instances = instances
        self.latest = latest
        self.rebuild_rows()

    @work(exclusive=True, group="instances-results")
    async def reload_results(self) -> None:
        """Re-read each instance's latest execution (one store query)."""
        try:
            self.latest = await self.services.store.latest_by_instance(
                [i.uuid for i in self.instances]
            )
        except AmcTuiError as error:
            log.error("%s", error.log_text())
            return
        if not taken_down(self):
            self.redraw_results()

    def on_batch_updated(self, message: BatchUpdated) -> None:
        # No super() call: Textual runs AmcScreen.on_batch_updated (the running bar)
        # anyway, as it calls the handler of every class in the MRO.
        if message.finished and self.instances:
            self.reload_results()

    def on_screen_resume(self) -> None:
        if self.instances:  # back from a dashboard or history: results may be newer
            self.reload_results()

    # --- filter -----------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.filter_text = event.value
        self.rebuild_rows()
        self.refresh_bindings()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()

    def action_focus_filter(self) -> None:
        self.filter_input.focus()

    def action_leave_filter(self) -> None:
        """escape in the filter: back to the table, the filter kept."""
        self.table.focus()

    def action_clear_filter(self) -> None:
        """escape on the table while a filter is set: show every row again."""
        self.filter_input.value = ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Each key only where it applies (False also hides it from the footer)."""
        try:
            in_filter = self.filter_input.has_focus
        except NoMatches:  # not composed yet
            return True
        if action in ("focus_filter", "leave_filter", "next"):
            return in_filter == (action == "leave_filter")
        if action == "clear_filter":
            return not in_filter and bool(self.filter_input.value)
        return True

    # --- selection --------------------------------------------------------------------

    def change_selection(self, wanted: set[str]) -> bool:
        """Select ``wanted`` unless that makes the batch too big (then say so)."""
        limit = self.max_batch_size
        if len(wanted) > limit and not wanted <= self.selected_ids:
            refusal = f"Cannot select {len(wanted)} instances: a batch has at most {limit}"
            self.notify(refusal, severity="error")
            return False
        changed = wanted ^ self.selected_ids
        self.selected_ids = wanted
        table = self.table
        for instance_id in changed:
            if instance_id in table.rows:
                table.update_cell(instance_id, "mark", self.mark(instance_id))
        self.refresh_counter()
        return True

    def shown_ids(self) -> set[str]:
        return {i.instance_id for i in self.shown}

    def action_toggle_row(self) -> None:
        instance_id = self.highlighted_id()
        if instance_id is not None:
            self.change_selection(self.selected_ids ^ {instance_id})

    def action_select_shown(self) -> None:
        self.change_selection(self.selected_ids | self.shown_ids())

    def action_select_none(self) -> None:
        self.change_selection(self.selected_ids - self.shown_ids())

    def action_invert_shown(self) -> None:
        self.change_selection(self.selected_ids ^ self.shown_ids())

    # --- going on ---------------------------------------------------------------------

    def action_refresh_instances(self) -> None:
        if self.loading_instances:
            self.notify("Already loading the instances", severity="warning")
            return
        self.load_instances(refresh=True)

    async def action_next(self) -> None:
        """enter on the table: on to the query of a new batch with the selection."""
        if self.amc_app.read_only:
            self.notify(READ_ONLY, severity="error")
            return
        chosen = self.selected_instances()
        if not chosen:
            self.notify(NOTHING_SELECTED, severity="warning")
            return
        self.services.ui_state.remember_selection([i.instance_id for i in chosen])
        await self.amc_app.new_batch(chosen)
