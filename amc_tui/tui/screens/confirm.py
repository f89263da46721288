"""The confirm screen: what will run, where, over which time window; then launch.

The query comes from the library (:mod:`amc_tui.query_library`; picking one fills the
SQL, which stays editable), from SQL typed in the text area (plain text: no syntax
extras needed), or from a saved workflow id.  The time window is a preset (AMC's
lagged week, or a relative AMC window) or an explicit start and end; parameters are
``KEY=VALUE``, one a line (the form's layout: :mod:`.confirm_form`).  The summary
under the form, always in view, says what will happen (instances, concurrency,
retries, window) and warns (sandbox and standard mixed, a large batch, library files
left out, demo mode); its words are made in :mod:`.confirm_summary`.

Fields are checked with the command line's validation (:mod:`amc_tui.engine.validation`)
when focus leaves them and on launch; a problem is shown beside its field and nothing
is stored or sent.  ``ctrl+s`` launches from anywhere, ``enter`` from a one-line field;
``escape`` goes back.  A rerun's query is kept exactly (per-instance parameters and
time zone too) unless edited.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Select, Static, TextArea

from amc_tui.domain import Batch, Instance, QuerySpec, TimeWindow, TimeWindowType
from amc_tui.engine.validation import build_batch, build_query, build_time_window, check_name
from amc_tui.errors import AmcTuiError, InputError
from amc_tui.param_input import merge_params, parse_param_option
from amc_tui.query_library import LibraryQuery, load_library
from amc_tui.tui.batch_runs import LAUNCH_WORKER
from amc_tui.tui.screens.base import AmcScreen
from amc_tui.tui.screens.confirm_form import (
    DEFAULT_WINDOW,
    TIME_PLACEHOLDER,
    WORKFLOW,
    compose_form,
)
from amc_tui.tui.screens.confirm_summary import batch_warnings, summary_lines, window_text
from amc_tui.tui.widgets.footer import KeysFooter
from amc_tui.tui.widgets.running_bar import RunningBar
from amc_tui.tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from amc_tui.tui.app import AmcApp

log = logging.getLogger(__name__)
T = TypeVar("T")

REMEMBERED_QUERY = "last_query"
ERROR_FIELDS = ("query", "window", "params", "name", "launch")
ERROR_OF = {"start": "window", "end": "window", "params": "params", "name": "name"}
ERROR_OF |= {"workflow": "query", "sql": "query"}
"""Which error line a field's edits clear."""
OPTION_WORDS = (
    ("--sql-file or --workflow-id", "SQL or a workflow id"),
    ("--workflow-id", "workflow id"),
    ("--param", "parameter"),
    *((f"--{option}", option) for option in ("start", "end", "name", "window")),
)
"""The validation's messages name command-line options; here they name fields."""


class ConfirmScreen(AmcScreen):
    """Check and launch a batch on ``instances`` (a ``query`` given prefills a rerun)."""

    # The query picker, not the form's scroll box (the first that takes focus): focus
    # moved after the first frame made Textual draw the screen again.
    AUTO_FOCUS = "#source"
    HELP_TITLE = "Confirm the batch"
    HELP = (
        "Choose the query (a library query fills the SQL, which you may edit; or type SQL; "
        "or give a saved workflow id), the time window, parameters (KEY=VALUE, one a line) "
        "and an optional name; the summary at the bottom says what will happen. ctrl+s "
        "launches from anywhere; enter launches from a one-line field (start, end, workflow "
        "id, name) and starts a new line in the SQL and parameters. Problems are shown "
        "beside their field and nothing is sent until all are fixed. tab moves between "
        "fields; escape goes back (or closes an open list)."
    )

    BINDINGS = [
        Binding("ctrl+s", "launch", "Launch", id="confirm-launch"),
        Binding("escape", "back", "Back", id="confirm-back"),
    ]

    DEFAULT_CSS = """
    ConfirmScreen #form { height: 1fr; padding: 0 1; }
    ConfirmScreen .row { height: auto; }
    ConfirmScreen .row > Label { width: 9; color: $text-muted; }
    ConfirmScreen .row.-current > Label { color: $accent; text-style: bold; }
    ConfirmScreen .row > Input, ConfirmScreen .row > Select { width: 1fr; }
    ConfirmScreen #dates > Label.end-label { width: 5; padding-left: 1; }
    ConfirmScreen TextArea { padding: 0; }
    ConfirmScreen #sql { height: 5; }
    ConfirmScreen #params { height: 3; }
    ConfirmScreen #form .field-error, ConfirmScreen #library-problems { margin-left: 9; }
    ConfirmScreen #summary-box { height: auto; padding: 0 1; border-top: solid $primary; }
    ConfirmScreen .hidden { display: none; }
    """

    def __init__(
        self, instances: list[Instance], *, query: QuerySpec | None = None, name: str = ""
    ) -> None:
        super().__init__()
        self.instances = instances
        self.initial_query = query
        self.initial_name = name
        self.library: list[LibraryQuery] = []
        self.library_problems: list[str] = []
        self.launching = False
        self.problems: list[str] = []
        """What the last launch attempt refused."""
        self._prefilled_params = ""

    # --- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        self.library, self.library_problems = load_library(self.services.settings.paths.queries_dir)
        n = len(self.instances)
        yield TitleBar()
        yield Static(f"New batch on {n} instance{'s' if n != 1 else ''}", classes="title-line")
        yield from compose_form(self.library, self.library_problems, self.initial_name)
        with Vertical(id="summary-box"):
            yield Static(id="summary")
            yield Static(id="warnings", classes="warning-text")
            yield Static(id="launch-error", classes="field-error")
        yield RunningBar()
        yield KeysFooter()

    def on_mount(self) -> None:
        for field in ERROR_FIELDS:
            self.show_error(field, "")
        if self.initial_query is not None:
            self._prefill(self.initial_query)
        else:
            remembered = self.services.ui_state.get(REMEMBERED_QUERY)
            for index, query in enumerate(self.library):
                if query.label == remembered:
                    self.query_one("#source", Select).value = f"lib:{index}"
        self.refresh_summary()
        self.query_one("#source", Select).focus()

    def on_resize(self, event: events.Resize) -> None:
        """The SQL gets the rows the screen has beyond 24 (5 at 80x24)."""
        self.query_one("#sql", TextArea).styles.height = max(5, event.size.height - 19)
        self.refresh_summary()

    def _prefill(self, query: QuerySpec) -> None:
        if query.workflow_id is not None:
            self.query_one("#source", Select).value = WORKFLOW
            self.query_one("#workflow", Input).value = query.workflow_id
        else:
            self.query_one("#sql", TextArea).text = query.sql or ""
        window = query.time_window
        self.query_one("#window", Select).value = window.type.value
        if window.start is not None and window.end is not None:
            self.query_one("#start", Input).value = window.start.strftime("%Y-%m-%dT%H:%M:%S")
            self.query_one("#end", Input).value = window.end.strftime("%Y-%m-%dT%H:%M:%S")
        self._prefilled_params = "\n".join(f"{k}={v}" for k, v in query.parameters.items())
        self.query_one("#params", TextArea).text = self._prefilled_params

    # --- reacting to the fields ---------------------------------------------------------

    @on(Select.Changed, "#source")
    def source_changed(self, event: Select.Changed) -> None:
        value = str(event.value)
        self.query_one("#sql-row").set_class(value == WORKFLOW, "hidden")
        self.query_one("#workflow-row").set_class(value != WORKFLOW, "hidden")
        if value.startswith("lib:"):
            self.query_one("#sql", TextArea).text = self.library[int(value[4:])].sql
        self.show_error("query", "")

    @on(Select.Changed, "#window")
    def window_changed(self, event: Select.Changed) -> None:
        explicit = event.value == TimeWindowType.EXPLICIT.value
        self.query_one("#dates").set_class(not explicit, "hidden")
        self.show_error("window", "")
        self.refresh_summary()

    @on(Input.Changed)
    @on(TextArea.Changed)
    def field_changed(self, event: Input.Changed | TextArea.Changed) -> None:
        widget = event.input if isinstance(event, Input.Changed) else event.text_area
        if (field := ERROR_OF.get(widget.id or "")) is not None:
            self.show_error(field, "")
        self.refresh_summary()

    @on(events.DescendantFocus)
    def field_entered(self, event: events.DescendantFocus) -> None:
        """The focused field's name is highlighted (``:focus-within`` is not restyled)."""
        for row in self.query(".row"):
            row.set_class(row in event.widget.ancestors, "-current")

    @on(events.DescendantBlur)
    def field_left(self, event: events.DescendantBlur) -> None:
        """Check a field as focus leaves it (the window once both times are given)."""
        if self.launching or not self.is_attached:
            return
        field = event.widget.id or ""
        dates = [self.query_one(f"#{f}", Input).value.strip() for f in ("start", "end")]
        if field in ("start", "end") and all(dates):
            self._attempt("window", self.time_window)
        elif field == "params":
            self._attempt("params", self.parameters)
        elif field == "name":
            self._attempt("name", lambda: check_name(self.query_one("#name", Input).value))

    @on(Input.Submitted)
    async def input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self.action_launch()

    # --- what will happen ---------------------------------------------------------------

    def refresh_summary(self) -> None:
        settings = self.services.settings
        window = window_text(str(self.query_one("#window", Select).value), self.time_window)
        overrides = len(self.instance_parameters())
        lines = summary_lines(
            self.instances, settings.engine, self.app.size.width, window, overrides
        )
        warnings = batch_warnings(self.instances, self.library_problems, settings.demo)
        # Text, never str: instance names come from AMC and a str would be markup.
        self.query_one("#summary", Static).update(Text("\n".join(lines)))
        self.query_one("#warnings", Static).update(Text("\n".join(warnings)))

    # --- the fields, checked ------------------------------------------------------------

    def show_error(self, field: str, message: str) -> None:
        """Show ``message`` beside ``field`` (an empty message hides the line)."""
        error = self.query_one(f"#{field}-error", Static)
        error.update(Text(f"✘ {message}") if message else "")  # messages quote typed text
        error.display = bool(message)

    def _attempt(self, field: str, step: Callable[[], T]) -> T | None:
        """``step()``, or None with its InputError shown beside ``field``."""
        try:
            return step()
        except InputError as error:
            message = error.user_message
            for option, words in OPTION_WORDS:
                message = message.replace(option, words)
            self.show_error(field, message)
            self.problems.append(message)
            return None

    def time_window(self) -> TimeWindow:
        """The window chosen, or an InputError naming what is wrong."""
        value = str(self.query_one("#window", Select).value)
        if value == DEFAULT_WINDOW:
            return TimeWindow.default(now=self.amc_app.now())
        if value != TimeWindowType.EXPLICIT.value:
            return build_time_window(None, None, value)
        start = self.query_one("#start", Input).value.strip()
        end = self.query_one("#end", Input).value.strip()
        for what, given in (("start", start), ("end", end)):
            if not given:
                raise InputError(f"Give the {what} ({TIME_PLACEHOLDER})")
        window = build_time_window(start, end)
        before = self.initial_query.time_window if self.initial_query else None
        if before is not None and (before.start, before.end) == (window.start, window.end):
            return before  # a rerun's window, its time zone included
        return window

    def parameters(self) -> dict[str, str]:
        """The ``KEY=VALUE`` lines, or an InputError naming the line."""
        text = self.query_one("#params", TextArea).text
        if self.initial_query is not None and text == self._prefilled_params:
            return dict(self.initial_query.parameters)  # a rerun's values, kept exactly
        pairs = []
        for number, line in enumerate(text.splitlines(), start=1):
            try:
                if line.strip():  # blanks around "=" are layout here, not part of the value
                    key, value = parse_param_option(line.strip(), option="parameter")
                    pairs.append((key, value.strip()))
            except InputError as error:
                raise InputError(f"line {number}: {error.user_message}") from None
        return merge_params({}, pairs)

    def instance_parameters(self) -> dict[str, dict[str, str]]:
        """A rerun's per-instance overrides, for the instances of this batch only."""
        ids = {i.instance_id for i in self.instances}
        before = self.initial_query.instance_parameters if self.initial_query else {}
        return {k: v for k, v in before.items() if k in ids}

    def query_spec(self, window: TimeWindow, parameters: dict[str, str]) -> QuerySpec:
        """The query of the chosen source, or an InputError naming what is wrong."""
        sql: str | None = self.query_one("#sql", TextArea).text
        workflow: str | None = None
        if str(self.query_one("#source", Select).value) == WORKFLOW:
            sql, workflow = None, self.query_one("#workflow", Input).value.strip()
            if not workflow:
                raise InputError("Give the saved workflow's id")
        return build_query(
            sql=sql,
            workflow_id=workflow,
            time_window=window,
            parameters=parameters,
            instance_parameters=self.instance_parameters(),
        )

    def collect_query(self) -> QuerySpec | None:
        """The query from the fields, or None with every problem shown by its field."""
        window = self._attempt("window", self.time_window)
        parameters = self._attempt("params", self.parameters)
        name = self._attempt("name", lambda: check_name(self.query_one("#name", Input).value))
        query = self._attempt(
            "query", lambda: self.query_spec(window or TimeWindow.default(), parameters or {})
        )
        return None if window is None or parameters is None or name is None else query

    # --- launching ----------------------------------------------------------------------

    async def action_launch(self) -> None:
        if self.launching:
            return
        if self.amc_app.read_only:
            self.notify("Read-only: batches cannot be launched", severity="error")
            return
        for field in ERROR_FIELDS:
            self.show_error(field, "")
        self.problems = []
        query = self.collect_query()
        batch = await self._build_batch(query) if query is not None else None
        if batch is None:
            problems = self.problems or ["see the fields"]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            self.notify(problems[0] + more, title="Not launched", severity="error", markup=False)
            return
        self.launching = True
        source = str(self.query_one("#source", Select).value)
        if source.startswith("lib:"):
            self.services.ui_state.set(REMEMBERED_QUERY, self.library[int(source[4:])].label)
        # The app runs the hand-over, as this screen goes away: escape from the
        # dashboard then returns to the instances.
        self.app.run_worker(self._hand_over(self.amc_app, batch), name=LAUNCH_WORKER, group="ui")

    async def _build_batch(self, query: QuerySpec) -> Batch | None:
        settings = self.services.settings
        try:
            batch, _ = build_batch(
                refs=[i.instance_id for i in self.instances],
                known=await self.services.instances(),
                query=query,
                engine=settings.engine,
                profile=settings.profile_name,
                name=self.query_one("#name", Input).value,
            )
        except AmcTuiError as error:
            log.error("%s", error.log_text())
            self.show_error("launch", error.user_message)
            self.problems.append(error.user_message)
            return None
        return batch

    async def _hand_over(self, app: AmcApp, batch: Batch) -> None:
        """This screen gives way to the batch's dashboard; if the batch could not be
        stored, a confirm screen comes back with the same query and the reason."""
        if app.screen is self:
            await app.pop_screen()
        try:
            await app.launch(batch)
        except AmcTuiError as error:
            log.error("launching %s: %s", batch.id, error.log_text())
            message = error.user_message
            if batch.id in app.live:  # stored and started: only the dashboard is missing
                app.notify(f"{batch.id} started, but: {message}", severity="error", markup=False)
                return
            again = ConfirmScreen(self.instances, query=batch.query, name=batch.name)
            await app.push_screen(again)
            again.show_error("launch", f"Not launched: {message}")
            app.notify(message, title="Not launched", severity="error", markup=False)

    def action_back(self) -> None:
        self.app.pop_screen()
