"""A focused table runs the binding a key selects where the key arrives (issue 6: keys
under load).

Textual checks non-priority bindings only once the key has bubbled through every
ancestor back to the app, one queued message per step; ``FixedTable`` runs the binding
at once.  What runs must be what Textual would run: the app's priority bindings first,
then the first enabled binding from the table up (its own before its screen's), and
keys typed in a burst must keep their order whoever's binding they select.  A key no
binding takes goes on up as before.
"""

from __future__ import annotations

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen

from amc_tui.tui.widgets.table import FixedTable


class Nested(Screen[None]):
    """A table two containers deep; the screen notes every key that reaches it."""

    BINDINGS = [
        Binding("up", "noted('screen up')"),
        Binding("x", "noted('screen x')"),
        Binding("y", "noted('screen y')"),
        Binding("z", "noted('never')"),
    ]

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

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if parameters == ("never",) else True  # z: shown, but disabled


class NestedApp(App[None]):
    BINDINGS = [Binding("home", "noted('app home')", priority=True)]

    def __init__(self) -> None:
        super().__init__()
        self.actions: list[str] = []

    def on_mount(self) -> None:
        self.push_screen(Nested())

    def action_noted(self, what: str) -> None:
        self.actions.append(what)


async def test_a_table_runs_the_bindings_of_keys_where_they_arrive() -> None:
    app = NestedApp()
    async with app.run_test(size=(40, 20)) as pilot:
        screen = app.screen
        assert isinstance(screen, Nested)
        table = screen.query_one(FixedTable)
        await pilot.press("down", "down", "down", "up")
        await pilot.pause()
        assert table.cursor_row == 2
        # The table's binding for "up" came first, before the screen's, as in Textual.
        assert "screen up" not in screen.actions
        assert screen.keys == []  # no key went past the table

        await pilot.press("x")  # the screen's binding, run from the table
        assert screen.actions[-1] == "screen x"
        assert screen.keys == []

        await pilot.press("z")  # a disabled binding: the key goes on up, as before
        assert screen.keys == ["z"]
        assert "never" not in screen.actions

        await pilot.press("home")  # the app's priority binding wins over the table's
        assert app.actions == ["app home"]
        assert table.cursor_row == 2


async def test_keys_typed_in_a_burst_keep_their_order() -> None:
    """The screen's keys and the table's, sent at once as a terminal would over a slow
    link: each binding runs in the order its key came."""
    app = NestedApp()
    async with app.run_test(size=(40, 20)) as pilot:
        screen = app.screen
        assert isinstance(screen, Nested)
        await pilot.pause()
        screen.actions.clear()
        table = screen.query_one(FixedTable)
        seen: list[tuple[str, int]] = []
        screen.action_noted = lambda what: seen.append((what, table.cursor_row))  # type: ignore[method-assign]
        for key in ("x", "down", "y", "down", "x"):
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        await pilot.pause(0.2)
        # Where the cursor was when each screen key ran: after the downs sent before it.
        assert seen == [("screen x", 0), ("screen y", 1), ("screen x", 2)]
