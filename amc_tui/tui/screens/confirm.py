"""The confirm screen: what will run, where, over which time window; then launch.

The query comes from the library (:mod:`amc_tui.query_library`: your ``.sql`` files,
then the demo queries; picking one fills the SQL, which stays editable), from SQL
typed in the text area, or from a saved workflow id.  The time window is a preset
(AMC's default lagged week, or one of AMC's relative windows) or an explicit start and
end.  Parameters are ``KEY=VALUE`` pairs.  A summary says what will happen (instances,
concurrency, the retry policy) with warnings (sandbox and standard instances mixed, a
large batch, demo mode).

Every field is checked with the same validation the command line uses
(:mod:`amc_tui.engine.validation`); a problem is shown beside its field and nothing
is stored or sent.  ``ctrl+s`` launches from anywhere, ``enter`` from a one-line
field; ``escape`` goes back.
"""

from __future__ import annotations

import logging

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Header, Input, Label, Select, Static, TextArea

from amc_tui.domain import Batch, Instance, InstanceType, QuerySpec, TimeWindow, TimeWindowType
from amc_tui.engine.retry import RetryPolicy
from amc_tui.engine.validation import build_batch, build_query, build_time_window, check_name
from amc_tui.errors import AmcTuiError, InputError
from amc_tui.output import format_duration
from amc_tui.param_input import merge_params, parse_param_option
from amc_tui.query_library import LibraryQuery, load_library
from amc_tui.tui.format import clip
from amc_tui.tui.screens.base import AmcScreen
from amc_tui.tui.widgets.running_bar import RunningBar

log = logging.getLogger(__name__)

TYPED_SQL = "typed"
WORKFLOW = "workflow"
DEFAULT_WINDOW = "default"
LARGE_BATCH = 50
WINDOW_CHOICES = [
    ("7 days ending 14 days ago (AMC's data lag)", DEFAULT_WINDOW),
    ("Most recent day", TimeWindowType.MOST_RECENT_DAY.value),
    ("Most recent week", TimeWindowType.MOST_RECENT_WEEK.value),
    ("Current month", TimeWindowType.CURRENT_MONTH.value),
    ("Previous month", TimeWindowType.PREVIOUS_MONTH.value),
    ("All data", TimeWindowType.ALL.value),
    ("Explicit start and end", TimeWindowType.EXPLICIT.value),
]


class ConfirmScreen(AmcScreen):
    """Check and launch a batch on ``instances`` (a ``query`` given prefills a rerun)."""

    HELP_TITLE = "Confirm the batch"
    HELP = (
        "Choose the query (a library query fills the SQL, which you may edit; or type "
        "SQL; or name a saved workflow), the time window and parameters, then launch with "
        "ctrl+s (or enter in a one-line field). Problems are shown beside their field and "
        "nothing is sent until all are fixed. tab moves between fields; escape goes back."
    )

    BINDINGS = [
        Binding("ctrl+s", "launch", "Launch", id="confirm-launch", priority=True),
        Binding("escape", "back", "Back", id="confirm-back"),
    ]

    DEFAULT_CSS = """
    ConfirmScreen #form { height: 1fr; padding: 0 1; }
    ConfirmScreen Label { margin-top: 1; text-style: bold; }
    ConfirmScreen #sql { height: 8; }
    ConfirmScreen #dates { height: auto; }
    ConfirmScreen #dates Input { width: 1fr; }
    ConfirmScreen #summary { margin-top: 1; height: auto; }
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

    # --- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        self.library, self.library_problems = load_library(self.services.settings.paths.queries_dir)
        sources = [(q.label, f"lib:{i}") for i, q in enumerate(self.library)]
        sources += [("Type SQL", TYPED_SQL), ("Saved workflow id", WORKFLOW)]
        yield Header()
        yield Static(self._title(), classes="title-line")
        with VerticalScroll(id="form"):
            yield Label("Query")
            yield Select(sources, allow_blank=False, value=TYPED_SQL, id="source")
            yield TextArea(id="sql", soft_wrap=True, show_line_numbers=False)
            yield Input(placeholder="saved workflow id", id="workflow", classes="hidden")
            yield Static("", id="query-error", classes="field-error")
            if self.library_problems:
                yield Static(
                    "Left out of the library: " + "; ".join(self.library_problems),
                    classes="warning-text",
                )
            yield Label("Time window")
            yield Select(WINDOW_CHOICES, allow_blank=False, value=DEFAULT_WINDOW, id="window")
            with Horizontal(id="dates", classes="hidden"):
                yield Input(placeholder="start YYYY-MM-DDTHH:MM:SS", id="start")
                yield Input(placeholder="end YYYY-MM-DDTHH:MM:SS", id="end")
            yield Static("", id="window-error", classes="field-error")
            yield Label("Parameters (KEY=VALUE, separated by commas)")
            yield Input(placeholder="e.g. brand=Acme, min_impressions=100", id="params")
            yield Static("", id="params-error", classes="field-error")
            yield Label("Batch name (optional)")
            yield Input(self.initial_name, placeholder="a name for the history", id="name")
            yield Static("", id="name-error", classes="field-error")
            yield Static("", id="summary")
            yield Static("", id="warnings", classes="warning-text")
            yield Static("", id="launch-error", classes="field-error")
        yield RunningBar()
        yield Footer()

    def _title(self) -> str:
        n = len(self.instances)
        return f"New batch on {n} instance{'s' if n != 1 else ''}"

    def on_mount(self) -> None:
        if self.initial_query is not None:
            self._prefill(self.initial_query)
        else:
            remembered = self.services.ui_state.get("last_query")
            for index, query in enumerate(self.library):
                if query.label == remembered:
                    self.query_one("#source", Select).value = f"lib:{index}"
        self.refresh_summary()
        self.query_one("#source", Select).focus()

    def _prefill(self, query: QuerySpec) -> None:
        if query.workflow_id is not None:
            self.query_one("#source", Select).value = WORKFLOW
            self.query_one("#workflow", Input).value = query.workflow_id
        else:
            self.query_one("#sql", TextArea).text = query.sql or ""
        window = query.time_window
        if window.type is TimeWindowType.EXPLICIT and window.start and window.end:
            self.query_one("#window", Select).value = TimeWindowType.EXPLICIT.value
            self.query_one("#start", Input).value = window.start.strftime("%Y-%m-%dT%H:%M:%S")
            self.query_one("#end", Input).value = window.end.strftime("%Y-%m-%dT%H:%M:%S")
        elif window.type is not TimeWindowType.EXPLICIT:
            self.query_one("#window", Select).value = window.type.value
        self.query_one("#params", Input).value = ", ".join(
            f"{k}={v}" for k, v in query.parameters.items()
        )

    # --- reacting to the fields ---------------------------------------------------------

    @on(Select.Changed, "#source")
    def source_changed(self, event: Select.Changed) -> None:
        value = str(event.value)
        workflow = value == WORKFLOW
        self.query_one("#sql", TextArea).set_class(workflow, "hidden")
        self.query_one("#workflow", Input).set_class(not workflow, "hidden")
        if value.startswith("lib:"):
            self.query_one("#sql", TextArea).text = self.library[int(value[4:])].sql
        self.query_one("#query-error", Static).update("")

    @on(Select.Changed, "#window")
    def window_changed(self, event: Select.Changed) -> None:
        explicit = event.value == TimeWindowType.EXPLICIT.value
        self.query_one("#dates").set_class(not explicit, "hidden")
        self.query_one("#window-error", Static).update("")
        self.refresh_summary()

    @on(Input.Changed)
    def input_changed(self, event: Input.Changed) -> None:
        error_ids = {
            "start": "#window-error",
            "end": "#window-error",
            "params": "#params-error",
            "name": "#name-error",
            "workflow": "#query-error",
        }
        target = error_ids.get(event.input.id or "")
        if target is not None:
            self.query_one(target, Static).update("")
        self.refresh_summary()

    @on(Input.Submitted)
    async def input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self.action_launch()

    # --- what will happen ---------------------------------------------------------------

    def refresh_summary(self) -> None:
        engine = self.services.settings.engine
        names = [clip(i.name, 28) for i in self.instances[:3]]
        more = len(self.instances) - len(names)
        listed = ", ".join(names) + (f" (+{more} more)" if more > 0 else "")
        at_once = min(engine.max_concurrent_executions, len(self.instances))
        retries = engine.max_retry_attempts
        waits = [engine.retry_delay_base * 2**n for n in range(min(retries, 3))]
        wait_text = ", ".join(format_duration(w) for w in waits) + (" …" if retries > 3 else "")
        tries = RetryPolicy.from_settings(engine).max_attempts
        retry_text = (
            f"Transient errors (throttling, 5xx, timeouts) are retried: up to {tries} tries "
            f"per create, waiting {wait_text}; other errors are not retried."
            if retries
            else "Nothing is retried (max_retry_attempts = 0)."
        )
        lines = [
            f"Will run on {len(self.instances)}: {listed}.",
            f"At most {at_once} executions in flight at once; the rest wait their turn.",
            retry_text,
            f"Time window: {self._window_text()}.",
        ]
        self.query_one("#summary", Static).update("\n".join(lines))
        self.query_one("#warnings", Static).update("\n".join(self.warnings()))

    def _window_text(self) -> str:
        value = str(self.query_one("#window", Select).value)
        if value == DEFAULT_WINDOW:
            window = TimeWindow.default()
            assert window.start is not None and window.end is not None
            return f"{window.start:%Y-%m-%d} to {window.end:%Y-%m-%d} (AMC's data lag)"
        if value == TimeWindowType.EXPLICIT.value:
            start = self.query_one("#start", Input).value.strip() or "?"
            end = self.query_one("#end", Input).value.strip() or "?"
            return f"{start} to {end}"
        return dict((v, k) for k, v in WINDOW_CHOICES)[value].lower()

    def warnings(self) -> list[str]:
        found = []
        types = {i.instance_type for i in self.instances}
        if InstanceType.SANDBOX in types and InstanceType.STANDARD in types:
            sandbox = sum(1 for i in self.instances if i.instance_type is InstanceType.SANDBOX)
            found.append(
                f"⚠ Sandbox and standard instances are mixed ({sandbox} sandbox): "
                "sandbox data is synthetic."
            )
        if len(self.instances) > LARGE_BATCH:
            found.append(f"⚠ A large batch: {len(self.instances)} executions; AMC may throttle.")
        if self.services.settings.demo:
            found.append("⚠ Demo: runs on the embedded AMC simulator, not on AMC.")
        return found

    # --- launching ----------------------------------------------------------------------

    def _errors_cleared(self) -> None:
        for error_id in ("query", "window", "params", "name", "launch"):
            self.query_one(f"#{error_id}-error", Static).update("")

    def _fail(self, field: str, message: str) -> None:
        self.query_one(f"#{field}-error", Static).update(f"✘ {message}")
        self.notify(message, title="Not launched", severity="error")

    def build_query(self) -> QuerySpec | None:
        """The query from the fields, or None with every problem shown by its field."""
        ok = True
        window: TimeWindow | None = None
        value = str(self.query_one("#window", Select).value)
        try:
            if value == TimeWindowType.EXPLICIT.value:
                start = self.query_one("#start", Input).value.strip() or None
                end = self.query_one("#end", Input).value.strip() or None
                if start is None and end is None:
                    raise InputError("Give a start and an end (YYYY-MM-DDTHH:MM:SS)")
                window = build_time_window(start, end)
            elif value != DEFAULT_WINDOW:
                window = build_time_window(None, None, value)
        except InputError as error:
            self._fail("window", _field_words(error.user_message))
            ok = False
        params: list[tuple[str, str]] = []
        try:
            text = self.query_one("#params", Input).value
            params = [
                parse_param_option(p.strip(), option="parameter")
                for p in text.split(",")
                if p.strip()
            ]
            parameters = merge_params({}, params)
        except InputError as error:
            self._fail("params", error.user_message)
            ok = False
            parameters = {}
        try:
            check_name(self.query_one("#name", Input).value)
        except InputError as error:
            self._fail("name", _field_words(error.user_message))
            ok = False
        source = str(self.query_one("#source", Select).value)
        try:
            if source == WORKFLOW:
                workflow = self.query_one("#workflow", Input).value
                if not workflow.strip():
                    raise InputError("Give the saved workflow's id")
                query = build_query(workflow_id=workflow, time_window=window, parameters=parameters)
            else:
                sql = self.query_one("#sql", TextArea).text
                query = build_query(sql=sql, time_window=window, parameters=parameters)
        except InputError as error:
            self._fail("query", _field_words(error.user_message))
            return None
        return query if ok else None

    async def action_launch(self) -> None:
        if self.launching:
            return
        if self.amc_app.read_only:
            self.notify("Read-only: batches cannot be launched", severity="error")
            return
        self._errors_cleared()
        query = self.build_query()
        if query is None:
            return
        self.launching = True
        try:
            batch = await self._build_batch(query)
            if batch is None:
                return
            source = str(self.query_one("#source", Select).value)
            if source.startswith("lib:"):
                self.services.ui_state.set("last_query", self.library[int(source[4:])].label)
            app = self.amc_app
            app.pop_screen()
            await app.launch(batch)
        finally:
            self.launching = False

    async def _build_batch(self, query: QuerySpec) -> Batch | None:
        settings = self.services.settings
        try:
            known = await self.services.instances()
            batch, _ = build_batch(
                refs=[i.instance_id for i in self.instances],
                known=known,
                query=query,
                engine=settings.engine,
                profile=settings.profile_name,
                name=self.query_one("#name", Input).value,
            )
        except AmcTuiError as error:
            log.error("%s", error.log_text())
            self._fail("launch", error.user_message)
            return None
        return batch

    def action_back(self) -> None:
        self.app.pop_screen()


def _field_words(message: str) -> str:
    """The validation's messages name command-line options; here they name fields."""
    return (
        message.replace("--start", "start")
        .replace("--end", "end")
        .replace("--name", "name")
        .replace("--sql-file or --workflow-id", "SQL or a workflow id")
        .replace("--workflow-id", "workflow id")
    )
