"""AmcScreen: what every full screen of the app shares.

A header (title, profile or demo, read-only), the running-batches bar and the footer;
``HELP`` text for the help screen; typed access to the app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual.screen import Screen

from amc_tui.tui.messages import BatchUpdated
from amc_tui.tui.widgets.running_bar import RunningBar

if TYPE_CHECKING:
    from amc_tui.tui.app import AmcApp
    from amc_tui.tui.services import TuiServices


def taken_down(screen: Screen[Any]) -> bool:
    """Whether ``screen`` has left the screen stack (it is being removed, or is gone).

    A screen's worker that resumes from an await must ask this before it touches a
    widget: Textual removes a popped screen's widgets first and cancels its workers only
    after, so in between a ``query_one`` finds nothing and the worker's error would end
    the app.
    """
    return screen not in screen.app.screen_stack


class AmcScreen(Screen[None]):
    """A full screen of amc-tui (dialogs are ``ModalScreen`` instead)."""

    HELP: ClassVar[str] = ""
    """A few sentences for the help screen about what this screen is for."""

    HELP_TITLE: ClassVar[str] = ""

    @property
    def amc_app(self) -> AmcApp:
        return cast("AmcApp", self.app)

    @property
    def services(self) -> TuiServices:
        return self.amc_app.services

    def on_batch_updated(self, message: BatchUpdated) -> None:
        for bar in self.query(RunningBar):
            bar.refresh_bar()
