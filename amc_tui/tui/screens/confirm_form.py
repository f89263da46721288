"""The confirm screen's form: its fields, one a line after their names, and the choices
of its pickers.

The query's source (a library query, typed SQL or a saved workflow id) with the SQL or
the workflow id; the time window with the start and end of an explicit one; the
parameters; the name.  Under each part, its error line (``#<part>-error``, empty until
a check fails).  The rows of fields the current choices do not use are hidden
(``.hidden``); the screen shows them as the choices change.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, TextArea

from amc_tui.domain import TimeWindowType
from amc_tui.query_library import LibraryQuery

TYPED_SQL = "typed"
WORKFLOW = "workflow"
DEFAULT_WINDOW = "default"
TIME_PLACEHOLDER = "YYYY-MM-DDTHH:MM:SS"
WINDOW_CHOICES = [
    ("Default: 7 days ending 14 days ago", DEFAULT_WINDOW),
    ("Most recent day", TimeWindowType.MOST_RECENT_DAY.value),
    ("Most recent week", TimeWindowType.MOST_RECENT_WEEK.value),
    ("Current month", TimeWindowType.CURRENT_MONTH.value),
    ("Previous month", TimeWindowType.PREVIOUS_MONTH.value),
    ("All data", TimeWindowType.ALL.value),
    ("Explicit start/end", TimeWindowType.EXPLICIT.value),
]


def compose_form(
    library: list[LibraryQuery], library_problems: list[str], name: str
) -> ComposeResult:
    """The form (``#form``), for the screen's ``compose``: the library's queries to pick
    from, what was left out of the library, and the batch's name to start with."""
    sources = [(q.label, f"lib:{i}") for i, q in enumerate(library)]
    sources += [("Type SQL", TYPED_SQL), ("Saved workflow id", WORKFLOW)]
    with VerticalScroll(id="form"):
        yield _row("Query", _pick(sources, TYPED_SQL, "source"))
        hint = "type SQL, or pick a library query above"
        sql = TextArea(id="sql", soft_wrap=True, compact=True, placeholder=hint)
        yield _row("SQL", sql, row_id="sql-row")
        workflow = Input(placeholder="saved workflow id", id="workflow", compact=True)
        yield _row("Workflow", workflow, row_id="workflow-row", hidden=True)
        yield Static(id="query-error", classes="field-error")
        if library_problems:
            problems = "⚠ Left out of the library: " + "; ".join(library_problems)
            yield Static(Text(problems), id="library-problems", classes="warning-text")
        yield _row("Window", _pick(WINDOW_CHOICES, DEFAULT_WINDOW, "window"))
        start = Input(placeholder=TIME_PLACEHOLDER, id="start", compact=True)
        end = Input(placeholder=TIME_PLACEHOLDER, id="end", compact=True)
        end_label = Label("End", classes="end-label")
        yield _row("Start", start, end_label, end, row_id="dates", hidden=True)
        yield Static(id="window-error", classes="field-error")
        params = TextArea(id="params", compact=True, placeholder="KEY=VALUE, one a line")
        yield _row("Params", params)
        yield Static(id="params-error", classes="field-error")
        hint = "optional, for the history"
        yield _row("Name", Input(name, placeholder=hint, id="name", compact=True))
        yield Static(id="name-error", classes="field-error")


def _row(label: str, *fields: Widget, row_id: str | None = None, hidden: bool = False) -> Widget:
    """A form line: the field's name, then the field(s)."""
    return Horizontal(Label(label), *fields, id=row_id, classes="row hidden" if hidden else "row")


def _pick(options: list[tuple[str, str]], value: str, select_id: str) -> Select[str]:
    return Select(options, allow_blank=False, value=value, id=select_id, compact=True)
