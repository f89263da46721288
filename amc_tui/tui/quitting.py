"""Quitting: what ``ctrl+q`` does while batches run here (or were just launched).

With nothing run here, the app exits.  Otherwise :class:`~amc_tui.tui.screens.dialogs.
QuitScreen` asks: cancel the batches (on AMC too, waited for), leave them running on AMC
(each ends ``interrupted``, for a resume), or stay.  The question is asked only once the
keys typed before ``ctrl+q`` have been acted on (:class:`~amc_tui.tui.messages.QuitAsked`),
and once a launch under way has stored and started its batch, so ``ctrl+s`` ``ctrl+q``
typed in one go asks about that batch.  A second ``ctrl+q`` while it asks does nothing.
"""

from __future__ import annotations

import contextlib
from functools import partial
from typing import TYPE_CHECKING

from textual.worker import Worker, WorkerCancelled, WorkerFailed

from amc_tui.tui.messages import QuitAsked

if TYPE_CHECKING:
    from amc_tui.tui.app import AmcApp

FALLBACK = 1.0
"""Seconds after ``ctrl+q`` when the app decides even if :class:`QuitAsked` never came
back (its widget went away with the keys it still had: escape closing a dialog, say)."""


class Quitting:
    """See the module docstring; the app's ``action_quit`` and ``on_quit_asked`` come here."""

    def __init__(self, app: AmcApp) -> None:
        self.app = app

    def ask(self) -> None:
        """``ctrl+q``: send :class:`QuitAsked` the way keys go, and decide when it is back."""
        app = self.app
        asked = QuitAsked()
        (app.focused or app.screen).post_message(asked)
        app.set_timer(FALLBACK, partial(self.decide, asked))

    async def decide(self, asked: QuitAsked) -> None:
        """Exit, or ask what to do with the batches run here (once per ``ctrl+q``)."""
        from amc_tui.tui.screens.dialogs import QuitScreen

        if asked.decided:
            return
        asked.decided = True
        app = self.app
        if isinstance(app.screen, QuitScreen):
            return  # already asking
        launching = app.runs.launching()
        if launching:
            app.run_worker(self._once_launched(launching), group="ui")
            return
        running = app.runs.started_here()
        if not running:
            app.exit(0)
            return
        await app.push_screen(QuitScreen(running), self._chosen)

    async def _once_launched(self, launching: list[Worker[object]]) -> None:
        for worker in launching:
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await worker.wait()
        self.ask()

    async def _chosen(self, choice: str | None) -> None:
        app = self.app
        if choice == "cancel":
            await app.runs.cancel_all()
            app.notify("Cancelling on AMC before leaving…")
            await app.runs.stopped()
            app.exit(0)
        elif choice == "leave":
            await app.runs.leave_all()
            app.exit(0)
