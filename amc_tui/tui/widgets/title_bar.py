"""TitleBar: the line at the top of every screen, drawn by one widget.

Textual's :class:`~textual.widgets.Header` is a widget of three (the icon, the title,
the clock's space), each composed, styled and laid out as the screen opens: 8-12 ms of
the 1,000-execution dashboard's opening on this project's 2-core machine, and the same
on every other screen.  This bar looks the same (the icon in its 8 cells on the left,
the title and sub-title centred between it and the clock's 10 cells on the right, the
sub-title dimmed) and is one widget that renders one line.  A click on the icon opens
the command palette, as the header's does, and the icon is lit while the mouse is on it.
"""

from __future__ import annotations

from textual import events
from textual.content import Content
from textual.widget import Widget

ICON = "⭘"
ICON_CELLS = 8
"""The icon's place on the left (one cell of padding each side of the icon)."""
CLOCK_CELLS = 10
"""The clock's place on the right (left blank, as the header leaves it without a clock)."""


class TitleBar(Widget, can_focus=False):
    """See the module docstring."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"title-bar--icon-lit"}
    DEFAULT_CSS = """
    TitleBar {
        dock: top;
        width: 100%;
        height: 1;
        background: $panel;
        color: $foreground;
        & > .title-bar--icon-lit {
            background: $foreground 10%;
        }
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._icon_lit = False

    def on_mount(self) -> None:
        for node in (self.app, self.screen):
            self.watch(node, "title", self._title_changed, init=False)
            self.watch(node, "sub_title", self._title_changed, init=False)

    def _title_changed(self) -> None:
        self.refresh()

    @property
    def title(self) -> Content:
        """The screen's title and sub-title (else the app's), as the app formats them."""
        screen, app = self.screen, self.app
        title = screen.title if screen.title is not None else app.title
        sub_title = screen.sub_title if screen.sub_title is not None else app.sub_title
        return app.format_title(title, sub_title)

    def render(self) -> Content:
        middle = max(0, self.size.width - ICON_CELLS - CLOCK_CELLS)
        icon = Content(f" {ICON}").pad_right(ICON_CELLS - 2)
        if self._icon_lit:
            icon = icon.stylize(self.get_visual_style("title-bar--icon-lit"))
        # Centred by hand: Content.center pads the right by the whole width.
        title = self.title.rstrip().truncate(middle, ellipsis=True)
        left = (middle - title.cell_length) // 2
        title = title.pad(left, middle - title.cell_length - left)
        return Content.assemble(icon, title, " " * CLOCK_CELLS)

    def _light_icon(self, lit: bool) -> None:
        if lit != self._icon_lit:
            self._icon_lit = lit
            self.refresh()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self._light_icon(event.x < ICON_CELLS)

    def on_leave(self, event: events.Leave) -> None:
        self._light_icon(False)

    async def on_click(self, event: events.Click) -> None:
        if event.x < ICON_CELLS and self.app.ENABLE_COMMAND_PALETTE:
            event.stop()
            await self.run_action("app.command_palette")
