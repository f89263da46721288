"""A table answers its own key bindings where the key arrives (issue 6: keys under load).

Textual checks a focused widget's non-priority bindings only once the key has bubbled
through every ancestor back to the app, one queued message per step; ``FixedTable``
runs its own binding at once.  What runs must be what Textual would run: the app's
priority bindings first, then the table's own, and a key the table does not bind goes
on up as before.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen

from amc_tui.tui.widgets.table import FixedTable


class Nested(Screen[None]):
    """A table two containers deep; the screen notes every key that reaches it."""

    BINDINGS = [Binding("up", "noted('screen up')"), Binding("x", "noted('screen x')")]

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []
        self.actions: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(), Vertical():
            yield FixedTable(id="table", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(FixedTable)
        table.add_column("n", key="n", width=4)
        table.add_plain_rows([(str(n), (str(n),)) for n in range(10)])
        table.focus()

    def on_key(self, event: object) -> None:
        self.keys.append(getattr(event, "key", "?"))

    def action_noted(self, what: str) -> None:
        self.actions.append(what)


class NestedApp(App[None]):
    BINDINGS = [Binding("home", "noted('app home')", priority=True)]

    def __init__(self) -> None:
        super().__init__()
        self.actions: list[str] = []

    def on_mount(self) -> None:
        self.push_screen(Nested())

    def action_noted(self, what: str) -> None:
        self.actions.append(what)


async def test_a_table_answers_its_own_keys_without_the_key_bubbling_up() -> None:
    app = NestedApp()
    async with app.run_test(size=(40, 20)) as pilot:
        screen = app.screen
        assert isinstance(screen, Nested)
        table = screen.query_one(FixedTable)
        await pilot.press("down", "down", "down", "up")
        assert table.cursor_row == 2
        # The table's binding for "up" came first, before the screen's, as in Textual.
        assert screen.actions == []
        assert screen.keys == []  # no key went past the table

        await pilot.press("x")  # not the table's: it bubbles to the screen's binding
        assert screen.keys == ["x"]
        assert screen.actions == ["screen x"]

        await pilot.press("home")  # the app's priority binding wins over the table's
        assert app.actions == ["app home"]
        assert table.cursor_row == 2
