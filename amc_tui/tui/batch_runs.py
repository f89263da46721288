"""BatchRuns: the batches this process runs, each in a Textual worker (group ``batches``).

A new batch is stored and started; an interrupted one is resumed here unless another
amc-tui process runs it (it holds the batch's lock) or it has ended meanwhile.  A
cancel is carried out by the runner for a batch run here, sent through the store to
the process that runs one elsewhere, or carried out here by resuming a batch nobody
runs.  Each batch shown has its :class:`~amc_tui.tui.live.LiveBatch` in the app's
``live`` (:meth:`BatchRuns.track`), marked ``here`` while this process runs it; the
end of a run here is announced (a notice and the bell).  When the app quits, the
batches run here are cancelled or left running on AMC, and their runs waited for; a
batch launched a moment before, whose run has not begun, counts as run here (cancelled
like the others, or, when left, never begun and marked ``interrupted``).
Read-only mode refuses to resume or cancel.  The app's ``track``, ``launch``,
``resume`` and ``cancel`` come here: screens never drive the runner themselves.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from textual.notifications import SeverityLevel
from textual.worker import Worker

from amc_tui.domain import Batch, BatchStatus
from amc_tui.engine.events import BatchFinished
from amc_tui.engine.locks import is_owned_elsewhere
from amc_tui.errors import AmcTuiError
from amc_tui.tui.live import LiveBatch

if TYPE_CHECKING:
    from amc_tui.tui.app import AmcApp

log = logging.getLogger(__name__)

LAUNCH_WORKER = "launch"
"""The name of the worker that hands a confirmed batch over: stores it, starts it and
shows its dashboard (:mod:`amc_tui.tui.screens.confirm`)."""

FINISH_SEVERITY: dict[BatchStatus, SeverityLevel] = {
    BatchStatus.COMPLETED: "information",
    BatchStatus.PARTIAL: "warning",
    BatchStatus.FAILED: "error",
    BatchStatus.CANCELLED: "warning",
    BatchStatus.INTERRUPTED: "warning",
}


class BatchRuns:
    """See the module docstring."""

    def __init__(self, app: AmcApp) -> None:
        self.app = app
        self._leaving = False  # the app is leaving its batches: none begins now

    def running_here(self) -> list[LiveBatch]:
        """The batches this process is running now, oldest first."""
        app = self.app
        runner = app.services.runner if app.ready else None
        if runner is None:
            return []
        return [app.live[b] for b in runner.running if b in app.live]

    def started_here(self) -> list[LiveBatch]:
        """:meth:`running_here`, then the batches launched here whose run has not begun
        yet (its worker starts a moment after the dashboard opens): what the running
        bar shows, so that it is there from the dashboard's first frame instead of
        appearing a moment later and making Textual lay out and draw the screen again."""
        running = self.running_here()
        ids = {live.id for live in running}
        return running + [
            live
            for live in self.app.live.values()
            if live.here and live.id not in ids and not live.status.is_terminal
        ]

    def launching(self) -> list[Worker[object]]:
        """The launches under way: a batch confirmed (``ctrl+s``) and not yet stored
        and started, which :meth:`started_here` cannot list yet."""
        return [
            worker
            for worker in self.app.workers
            if worker.name == LAUNCH_WORKER and not worker.is_finished and not worker.is_cancelled
        ]

    async def track(self, batch_id: str) -> LiveBatch | None:
        """The batch's live state, read from the store if not yet known."""
        app = self.app
        live = app.live.get(batch_id)
        runner = app.services.runner
        here = runner is not None and batch_id in runner.running
        if live is not None and (here or live.here):
            return live
        batch = await app.services.store.get_batch(batch_id)
        if batch is None:
            return None
        if live is None:
            live = app.live[batch_id] = LiveBatch(batch, here=here)
        else:
            live.merge(batch)
        return live

    async def start_new(self, batch: Batch) -> Batch:
        """Store a validated new batch and start running it; the batch as stored."""
        runner = self.app.services.runner
        assert runner is not None
        stored = await runner.add(batch)
        self.app.live[stored.id] = LiveBatch(stored, here=True)
        self._start(stored.id)
        return stored

    async def resume(self, batch_id: str) -> bool:
        """Resume an interrupted batch here; False (and a message) if it cannot be."""
        app = self.app
        if app.read_only:
            app.notify("Read-only: batches cannot be resumed", severity="error")
            return False
        if is_owned_elsewhere(app.settings.paths.lock_dir, batch_id):
            app.notify(
                f"{batch_id} is being run by another amc-tui process",
                severity="error",
                markup=False,
            )
            return False
        batch = await app.services.store.get_batch(batch_id)
        if batch is None or batch.status.is_terminal:
            app.notify(
                f"{batch_id} has already ended; nothing to resume", severity="warning", markup=False
            )
            return False
        if batch_id in (app.services.runner.running if app.services.runner else []):
            return True
        live = app.live.get(batch_id)
        if live is None:
            app.live[batch_id] = LiveBatch(batch, here=True)
        else:  # a dashboard may be showing it: keep the same object, now fed by events
            live.merge(batch)
            live.here = True
        self._start(batch_id)
        return True

    async def cancel(self, batch_id: str) -> None:
        """Cancel the batch: here, through the store for another process, or settle it."""
        app = self.app
        if app.read_only:
            app.notify("Read-only: batches cannot be cancelled", severity="error")
            return
        runner = app.services.runner
        assert runner is not None
        if batch_id in runner.running:
            await runner.cancel(batch_id)
            return
        await app.services.store.request_cancel(batch_id)
        if is_owned_elsewhere(app.settings.paths.lock_dir, batch_id):
            app.notify(f"Cancel of {batch_id} sent to the process running it", markup=False)
            return
        # Nobody runs it (interrupted): run it here to carry the cancel out on AMC.
        await self.resume(batch_id)

    async def cancel_all(self) -> None:
        """Cancel every batch run here (queued executions at once, those in flight on
        AMC); :meth:`stopped` waits for the runs to end.  A batch whose run has not
        begun gets the cancel through the store and begins cancelled."""
        runner = self.app.services.runner
        assert runner is not None
        for live in self.started_here():
            await runner.cancel(live.id)

    async def leave_all(self) -> None:
        """Stop running the batches here without cancelling them on AMC (each ends
        ``interrupted``, for a resume), and wait until every run has written its end.
        A batch launched here whose run has not begun is not begun: it is marked
        ``interrupted`` at once, with nothing of it on AMC."""
        self._leaving = True
        runner = self.app.services.runner
        if runner is not None:
            runner.interrupt(None)
            await self.stopped()

    async def stopped(self) -> None:
        """Wait until no batch runs here, nor is about to (its worker has not called
        the runner yet), and every run has written its end."""
        runner = self.app.services.runner
        assert runner is not None
        while any(self._may_run(worker) for worker in self.app.workers):
            if self._leaving:  # a run that began since the last look stops too
                runner.interrupt(None)
            await asyncio.sleep(0.01)
        await runner.stopped()

    @staticmethod
    def _may_run(worker: Worker[object]) -> bool:
        """Whether a batch's worker may still call the runner.  A cancelled one (the
        app cancels its workers when it exits) may not: if it had not begun, it never
        will (Textual then leaves its state as it was), and if it had, what is left of
        its run the runner waits for itself."""
        return worker.group == "batches" and not worker.is_finished and not worker.is_cancelled

    def _start(self, batch_id: str) -> None:
        self.app.run_worker(
            self._run(batch_id),
            name=f"batch {batch_id}",
            group="batches",
            exit_on_error=False,
        )

    async def _run(self, batch_id: str) -> None:
        app = self.app
        runner = app.services.runner
        assert runner is not None
        try:
            if self._leaving:
                log.info("batch %s: not begun, the app is leaving its batches", batch_id)
                await runner.leave_unrun(batch_id)
            else:
                await runner.run(batch_id)
        except AmcTuiError as error:
            log.error("batch %s: %s", batch_id, error.log_text())
            app.notify(
                error.user_message, title=f"Batch {batch_id}", severity="error", markup=False
            )
        except Exception:
            log.exception("batch %s stopped by an unexpected error", batch_id)
            app.notify(
                "The batch stopped on an unexpected error; details in "
                f"{app.settings.paths.log_file}",
                title=f"Batch {batch_id}",
                severity="error",
                markup=False,
            )
        live = app.live.get(batch_id)
        if live is not None:
            live.here = False

    # --- the end of a batch -------------------------------------------------------------

    def announce_later(self, live: LiveBatch, event: BatchFinished) -> None:
        """For :class:`~amc_tui.tui.updates.LiveUpdates`, called from the runner's
        listener: the notice is made in the app's own turn."""
        self.app.call_later(self._announce_end, live, event)

    def _announce_end(self, live: LiveBatch, event: BatchFinished) -> None:
        counts = event.counts
        label = live.name or live.id
        text = (
            f"{label}: {event.status.value} — {counts.succeeded} succeeded, "
            f"{counts.failed} failed, {counts.cancelled} cancelled of {counts.total}"
        )
        self.app.notify(
            text, title="Batch finished", severity=FINISH_SEVERITY[event.status], markup=False
        )
        self.app.bell()
