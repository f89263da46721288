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
        """(key, description) for each active binding of the screen, once per action."""
        found: list[tuple[str, str]] = []
        seen: set[str] = set()
        for key, active in self.target.active_bindings.items():
            binding = active.binding
            if not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            found.append((self.app.get_key_display(binding) or key, binding.description))
        return found

    def keys_table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, description in self.entries():
            table.add_row(key, Text(description))
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
            yield Static("escape: close   ctrl+p: command palette", classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)
