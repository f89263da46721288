"""RunningBar: one line above the footer naming the batches running in this process
(and one launched here whose run is about to begin:
:meth:`~amc_tui.tui.batch_runs.BatchRuns.started_here`).

It is redrawn when a batch changes (:class:`~amc_tui.tui.messages.BatchUpdated`
reaches its screen, up to 20 times a second) and once a second for the elapsed times;
it reads the app's in-memory live batches, never the store.  A redraw that would show
the same text is skipped, and a new text is drawn without a new layout of the screen
(the bar is one line high, shown or hidden by a class).  A bar whose screen is hidden
under another full screen is not redrawn (Textual would repaint the whole screen on
top for it) until its screen is shown again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static

from amc_tui.domain import ExecutionStatus
from amc_tui.tui.format import EXECUTION_LOOK

if TYPE_CHECKING:
    from amc_tui.tui.app import AmcApp


class RunningBar(Static):
    """``▶ 2 running: batch_ab12 12/40 · weekly reach 3/24`` (hidden when none)."""

    DEFAULT_CSS = """
    RunningBar { height: 1; display: none; padding: 0 1; }
    RunningBar.-active { display: block; }
    """

    def on_mount(self) -> None:
        self.refresh_bar()
        self.set_interval(1.0, self.refresh_bar)
        self.app.screen_change_signal.subscribe(self, self._screen_changed)

    def _screen_changed(self, _screen: Screen[object]) -> None:
        if self.is_attached:
            self.refresh_bar()

    def refresh_bar(self) -> None:
        app = cast("AmcApp", self.app)
        if not app.is_visible(self.screen):
            return  # redrawn when its screen is shown again (see _screen_changed)
        running = app.runs.started_here() if app.ready else []
        if bool(running) != self.has_class("-active"):
            self.set_class(bool(running), "-active")
        text = Text()
        if running:
            symbol, colour = EXECUTION_LOOK[ExecutionStatus.RUNNING]
            text = Text(f"{symbol} {len(running)} running: ", style=f"bold {colour}")
            for index, live in enumerate(running):
                counts = live.counts()
                done = counts.succeeded + counts.failed + counts.cancelled
                if index:
                    text.append(" · ")
                text.append(f"{live.name or live.id} {done}/{counts.total}")
        shown = self.content
        if isinstance(shown, Text) and (shown.plain, shown.spans) == (text.plain, text.spans):
            return
        self.update(text, layout=False)
