"""KeysFooter: Textual's footer, rebuilt only when the keys it shows change.

Textual's :class:`~textual.widgets.Footer` recomposes (removes and re-creates, then
restyles, every key widget) each time the screen says its bindings may have changed:
on every focus change and every ``refresh_bindings()``, so several times while a
screen opens.  Each rebuild costs a dozen new widgets, about 20 ms on this project's
2-core machine.  This footer rebuilds at most once per refresh, and not at all when the
keys it would show (key, label, action, enabled, tooltip) are the ones already shown.
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

    def _keys(self) -> tuple[Hashable, ...]:
        """What the footer would show for the screen's bindings now."""
        return tuple(
            (binding.key, binding.description, binding.action, binding.show, enabled, tooltip)
            for _node, binding, enabled, tooltip in self.screen.active_bindings.values()
        )

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._shown = self._keys()
        yield from super().compose()

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if self._renewing or not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self._renewing = True
            self.call_after_refresh(self._renew)

    async def _renew(self) -> None:
        self._renewing = False
        if self.is_attached and self._keys() != self._shown:
            await self.recompose()
