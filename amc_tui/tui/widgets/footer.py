"""KeysFooter: the keys of the screen, drawn as one line of one widget.

Textual's :class:`~textual.widgets.Footer` is a container of one widget per key, which
it removes and re-creates (then restyles and lays out) each time the screen says its
bindings may have changed: on every focus change, so at least once as a screen opens.
On a screen opened under load (the dashboard of a running batch of 1,000 executions)
that rebuild took 17-34 ms of the event loop on this project's 2-core machine, and a
key pressed as the screen appeared waited for it.

This footer looks the same (each key, then its description; the command palette's
key on the right, after a thin bar; a disabled key dimmed) but is one widget that
renders one line of text: when the keys change it is only repainted.  A click on a
key presses it, as in Textual's footer.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

DIM = Style(dim=True)


@dataclass(frozen=True, slots=True)
class FooterKey:
    """One key as the footer shows it."""

    key: str
    """The key pressed by a click on it (the binding's first key)."""
    display: str
    description: str
    enabled: bool


class KeysFooter(Widget, can_focus=False):
    """See the module docstring."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {
        "keys-footer--key",
        "keys-footer--description",
        "keys-footer--bar",
    }
    DEFAULT_CSS = """
    KeysFooter {
        dock: bottom;
        width: 1fr;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        & > .keys-footer--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .keys-footer--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        & > .keys-footer--bar {
            color: $foreground 20%;
        }
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._places: list[tuple[int, int, FooterKey]] = []
        """Where each key was drawn: its first and past-last cell, and the key."""

    @property
    def keys(self) -> tuple[FooterKey, ...]:
        """The keys shown for the screen's bindings now, in order (one per action)."""
        return self._shown()[0]

    def _shown(self) -> tuple[tuple[FooterKey, ...], FooterKey | None]:
        """The keys, and the command palette's key (on the right) if the app has the
        palette: from one reading of the screen's bindings (made anew at each read)."""
        app = self.app
        active_bindings = self.screen.active_bindings
        shown: dict[str, FooterKey] = {}
        for _node, binding, enabled, _tooltip in active_bindings.values():
            if binding.show and binding.action not in shown:
                key = FooterKey(
                    binding.key, app.get_key_display(binding), binding.description, enabled
                )
                shown[binding.action] = key
        palette = None
        active = active_bindings.get(app.COMMAND_PALETTE_BINDING)
        if app.ENABLE_COMMAND_PALETTE and active is not None:
            binding = active.binding
            palette = FooterKey(
                binding.key, app.get_key_display(binding), binding.description, active.enabled
            )
        return tuple(shown.values()), palette

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen[object]) -> None:
        """The screen's keys may have changed: repaint (the line is made as it is drawn)."""
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self.refresh()

    def render(self) -> Text:
        key_style = self.get_component_rich_style("keys-footer--key")
        description_style = self.get_component_rich_style("keys-footer--description")
        places: list[tuple[int, int, FooterKey]] = []
        line = Text(no_wrap=True, overflow="crop", end="")

        def add(key: FooterKey, *, compact: bool) -> None:
            """`` key description `` (compact, as the palette's: ``key description``)."""
            start = line.cell_len
            dim = Style() if key.enabled else DIM
            line.append(key.display if compact else f" {key.display} ", key_style + dim)
            if key.description:
                text = f" {key.description}" if compact else f"{key.description} "
                line.append(text, description_style + dim)
            places.append((start, line.cell_len, key))

        keys, palette = self._shown()
        for key in keys:
            add(key, compact=False)
        if palette is not None:  # on the right: bar, key, description, a space
            width = self.size.width
            right = 1 + cell_len(palette.display) + 1 + cell_len(palette.description) + 1
            line.truncate(max(0, width - right))
            places = [place for place in places if place[1] <= line.cell_len]
            line.pad_right(max(0, width - right - line.cell_len))
            line.append("▏", self.get_component_rich_style("keys-footer--bar"))
            add(palette, compact=True)
            line.append(" ")
        self._places = places
        return line

    def on_mouse_down(self, event: events.MouseDown) -> None:
        for start, end, key in self._places:
            if start <= event.x < end:
                if key.enabled:
                    self.app.simulate_key(key.key)
                else:
                    self.app.bell()
                return
