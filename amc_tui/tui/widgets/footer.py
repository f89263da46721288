"""KeysFooter: Textual's footer, rebuilt only when the keys it shows change.

Textual's :class:`~textual.widgets.Footer` recomposes (removes and re-creates, then
restyles, every key widget) each time the screen says its bindings may have changed:
on every focus change and every ``refresh_bindings()``, so several times while a
screen opens.  Each rebuild costs a dozen new widgets, about 20 ms on this project's
2-core machine.  This footer rebuilds at most once per refresh, and not at all when the
keys it would show (key, label, action, enabled, tooltip) are the ones already shown.

It also shows its keys from its first composition.  Textual's footer starts empty and
builds its keys at the screen's first bindings signal, just after the screen's first
frame: a second build of every key widget in each screen's first moments (28-34 ms
while a dashboard opened, holding back the keys pressed then).  It looks again once
the screen has mounted and rebuilds only if the keys differ: keys a focused widget
adds are hidden ones (a table's cursor keys), so the first build usually stands.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


class KeysFooter(Footer):
    """See the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[Hashable, ...] | None = None
        self._renewing = False
        self._rebuilding = False

    def _keys(self) -> tuple[Hashable, ...]:
        """What the footer would show for the screen's bindings now: the bindings it
        shows (``show``, and the command palette's key)."""
        app = self.app
        palette = self.show_command_palette and app.ENABLE_COMMAND_PALETTE
        return tuple(
            (key, binding.description, binding.action, binding.group, enabled, tooltip)
            for key, (_node, binding, enabled, tooltip) in self.screen.active_bindings.items()
            if binding.show or (palette and key == app.COMMAND_PALETTE_BINDING)
        )

    def compose(self) -> ComposeResult:
        self._bindings_ready = True
        self._shown = self._keys()
        yield from super().compose()

    def on_mount(self) -> None:
        # Footer.on_mount (subscribing to the screen's bindings signal) runs as well.
        # A screen may enable keys differently once it is mounted (its check_action):
        # look once more after the first refresh, and rebuild only if that changed.
        self._renewing = True
        self.call_after_refresh(self._renew)

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if self._renewing or not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self._renewing = True
            self.call_after_refresh(self._renew)

    @property
    def settled(self) -> bool:
        """No rebuild is due or under way (tests wait for it)."""
        return not self._renewing and not self._rebuilding

    async def _renew(self) -> None:
        self._renewing = False
        if self.is_attached and self._keys() != self._shown:
            self._rebuilding = True
            try:
                await self.recompose()
            finally:
                self._rebuilding = False
