"""The help screen (``?``): every key of the screen it was opened from.

It lists the active bindings of that screen (its own, the focused widget's and the
app's), each with its description, and the screen's ``HELP`` text if it has one.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    """The keys of ``screen``; ``escape``, ``q`` or ``?`` closes it."""

    BINDINGS = [
        Binding("escape,q,question_mark", "close", "Close", id="help-close"),
    ]

    def __init__(self, screen: Screen[object]) -> None:
        super().__init__()
        self.target = screen

    def entries(self) -> list[tuple[str, str]]:
        """(key, description): the screen's own keys (those with an id), then the app's."""
        own: list[tuple[str, str]] = []
        everywhere: list[tuple[str, str]] = []
        seen: set[str] = set()
        for key, active in self.target.active_bindings.items():
            binding = active.binding
            if not binding.description or binding.action in seen:
                continue
            if active.node is self.target and binding.id:
                group = own
            elif active.node is self.app:
                group = everywhere
            else:
                continue  # moving keys (the focused widget's, focus): summarised in one line
            seen.add(binding.action)
            group.append((self.app.get_key_display(binding) or key, binding.description))
        return own + everywhere

    def moving_keys(self) -> str:
        """The focused widget's keys (moving the cursor, scrolling), in one line."""
        keys = [
            self.app.get_key_display(active.binding) or key
            for key, active in self.target.active_bindings.items()
            if not (active.node is self.target and active.binding.id)
            and active.node is not self.app
        ]
        return " ".join(dict.fromkeys(keys))

    def keys_table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, description in self.entries():
            table.add_row(key, Text(description))
        moving = self.moving_keys()
        if moving:
            table.add_row("", "")
            table.add_row(Text("moving", style="dim"), Text(moving, style="dim"))
        return table

    def compose(self) -> ComposeResult:
        title = getattr(self.target, "HELP_TITLE", None) or type(self.target).__name__
        text = getattr(self.target, "HELP", "")
        with Vertical(classes="dialog dialog-wide help"):
            yield Static(Text(f"Keys: {title}", style="bold"), id="help-title")
            with VerticalScroll(id="help-body"):
                if text:
                    yield Static(text, id="help-text")
                yield Static(self.keys_table(), id="help-keys")
            yield Static("escape: close", classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)
