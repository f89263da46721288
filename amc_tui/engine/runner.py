"""BatchRunner: runs stored batches with at most N executions in flight.

One runner serves a whole process (the headless command line, or the TUI with several
batches at once).  It owns the process-wide semaphore: an execution holds a slot from
the moment it becomes SUBMITTING until it is final, so AMC never has more than N of
this process's executions PENDING or RUNNING, and a freed slot is taken at once by the
next QUEUED execution.  A batch's own ``max_concurrency`` limits it further.

:meth:`BatchRunner.add` stores a new batch with its lock already taken (so no other
process, starting up, takes it for an orphan).  :meth:`BatchRunner.run` takes a stored
batch (new, or ``interrupted`` for a resume), holds its lock (:mod:`amc_tui.engine.locks`)
while it runs, drives every unfinished
execution with :class:`~amc_tui.engine.execution.ExecutionDriver`, and ends the batch
in the status DESIGN section 3 derives.  :meth:`cancel` cancels it (queued executions
without a call, in-flight ones on AMC); a cancel asked by another process through the
store is noticed within ``cancel_watch_interval`` seconds.  :meth:`interrupt` stops
it without cancelling anything on AMC and leaves it ``interrupted``, to be resumed;
:meth:`stopped` waits for the last writes before the store may close.

Events (:mod:`amc_tui.engine.events`) follow every committed change.  Nothing here
imports Textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from amc_tui.amc.client import AmcClient
from amc_tui.domain import (
    Batch,
    BatchCounts,
    BatchStatus,
    Execution,
    ExecutionStatus,
    derive_batch_status,
)
from amc_tui.engine.events import (
    BatchFinished,
    BatchStarted,
    CancelRequested,
    EventHub,
)
from amc_tui.engine.execution import ExecutionDriver
from amc_tui.engine.locks import BatchBusyError, BatchLock
from amc_tui.engine.polling import PollSchedule
from amc_tui.engine.retry import RetryPolicy
from amc_tui.engine.run_state import BatchRun
from amc_tui.errors import InputError
from amc_tui.settings import EngineSettings
from amc_tui.store.history import HistoryStore

log = logging.getLogger(__name__)

_ORDER = {
    # Executions already on AMC take their slots first, then the unsettled, then the new.
    ExecutionStatus.PENDING: 0,
    ExecutionStatus.RUNNING: 0,
    ExecutionStatus.SUBMITTING: 1,
    ExecutionStatus.UNKNOWN: 1,
    ExecutionStatus.QUEUED: 2,
}


TASKS_AT_ONCE = 100
"""Executions given their task in one turn of the event loop.  A batch's tasks all start
at once (each then waits for a slot); a thousand made in one turn held the event loop,
and the keys pressed meanwhile, for 30-40 ms."""


class BatchRunner:
    """Runs batches from the store against AMC; one per process."""

    def __init__(
        self,
        store: HistoryStore,
        client: AmcClient,
        engine: EngineSettings,
        *,
        lock_dir: Path | None = None,
        max_concurrency: int | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        cancel_watch_interval: float = 1.0,
    ) -> None:
        self.store = store
        self.limit = max_concurrency or engine.max_concurrent_executions
        self.events = EventHub()
        self.driver = ExecutionDriver(
            store,
            client,
            self.events,
            retry=retry or RetryPolicy.from_settings(engine),
            schedule=PollSchedule(engine.poll_interval_min, engine.poll_interval_max),
        )
        self._slots = asyncio.Semaphore(self.limit)
        self._lock_dir = lock_dir
        self._clock = clock
        self._watch_interval = cancel_watch_interval
        self._runs: dict[str, BatchRun] = {}
        self._tasks: dict[str, list[asyncio.Task[None]]] = {}
        self._claimed: dict[str, BatchLock] = {}
        self._settling: set[asyncio.Future[Batch]] = set()

    @property
    def running(self) -> list[str]:
        """Ids of the batches this runner is running now."""
        return list(self._runs)

    # --- running ----------------------------------------------------------------------

    async def run(self, batch_id: str) -> Batch:
        """Run (or resume) the stored batch until it ends; return it as stored.

        A batch already finished is returned as it is.  Raises
        :class:`~amc_tui.engine.locks.BatchBusyError` if another process runs it,
        :class:`InputError` for an unknown batch, and a store error that stopped it
        (the batch is then left ``interrupted`` when that can still be written).
        """
        lock = self._claimed.pop(batch_id, None)
        if lock is None and self._lock_dir is not None:
            lock = BatchLock(self._lock_dir, batch_id)
            await _acquire(lock)
        try:
            return await self._run_locked(batch_id)
        finally:
            if lock is not None:
                lock.release()

    async def add(self, batch: Batch) -> Batch:
        """Store a new batch owned by this runner from its first instant; :meth:`run` it next.

        The batch's lock is taken before it is stored, so another process starting up
        never takes a batch that is about to run for one whose process is gone.
        """
        lock = BatchLock(self._lock_dir, batch.id) if self._lock_dir is not None else None
        if lock is not None:
            lock.acquire()
        try:
            stored = await self.store.create_batch(batch)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        if lock is not None:
            self._claimed[batch.id] = lock
        return stored

    async def leave_unrun(self, batch_id: str) -> None:
        """Give up a batch :meth:`add` stored and nobody :meth:`run`: it is marked
        ``interrupted`` (resumable, nothing of it on AMC) under its lock, then the lock
        is released."""
        lock = self._claimed.pop(batch_id, None)
        try:
            await self.store.mark_interrupted(batch_id)
        finally:
            if lock is not None:
                lock.release()

    async def _run_locked(self, batch_id: str) -> Batch:
        if batch_id in self._runs:
            raise InputError(f"Batch {batch_id} is already running in this process")
        batch = await self.store.get_batch(batch_id)
        if batch is None:
            raise InputError(f"No batch {batch_id!r} in the history")
        if batch.status.is_terminal:
            return batch
        resumed = batch.status is not BatchStatus.PENDING
        if batch.status is BatchStatus.RUNNING:
            # We hold its lock, so whoever ran it is gone: it was interrupted.
            await self.store.mark_interrupted(batch_id)
            batch = await self.store.get_batch(batch_id) or batch
        await self.store.transition_batch(batch_id, BatchStatus.RUNNING)
        run = BatchRun(
            batch=batch,
            clock=self._clock,
            executions={ex.id or 0: ex for ex in batch.executions},
            slots=asyncio.Semaphore(min(batch.max_concurrency, self.limit)),
            cancel_requested=batch.cancel_requested,
        )
        if run.cancel_requested:
            run.cancel_event.set()
        self._runs[batch_id] = run
        self.events.emit(BatchStarted(batch_id, len(batch.executions), resumed))
        failure: BaseException | None = None
        try:
            try:
                if run.cancel_requested:
                    await self._cancel_queued(run)
                failure = await self._drive_all(run)
            except asyncio.CancelledError:
                run.interrupted = True
                await self._settle_shielded(run)
                raise
            final = await self._settle_shielded(run)
        finally:
            # Still listed while it settles, so that stopped() waits for the last write.
            del self._runs[batch_id]
        if failure is not None:
            raise failure
        return final

    async def _settle_shielded(self, run: BatchRun) -> Batch:
        """:meth:`_settle`, carried to its end even if the awaiting task is cancelled."""
        settling = asyncio.ensure_future(self._settle(run))
        self._settling.add(settling)
        settling.add_done_callback(self._settling.discard)
        return await asyncio.shield(settling)

    async def _drive_all(self, run: BatchRun) -> BaseException | None:
        pending = [ex for ex in run.executions.values() if not ex.status.is_terminal]
        pending.sort(key=lambda ex: _ORDER.get(ex.status, 2))
        tasks: list[asyncio.Task[None]] = []
        self._tasks[run.id] = tasks
        watcher = asyncio.create_task(self._watch_cancel(run))
        try:
            for start in range(0, len(pending), TASKS_AT_ONCE):
                if start:
                    await asyncio.sleep(0)  # the event loop's other work gets a turn
                if run.interrupted:  # stopped meanwhile: the rest stay queued
                    break
                part = pending[start : start + TASKS_AT_ONCE]
                tasks.extend(asyncio.create_task(self._guarded(run, ex)) for ex in part)
            results = await asyncio.gather(*tasks, return_exceptions=True)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            self._tasks.pop(run.id, None)
        for result in results:
            if isinstance(result, Exception):
                return result
        return None

    async def _guarded(self, run: BatchRun, ex: Execution) -> None:
        """Drive one execution in a slot; an unexpected error stops the whole batch."""
        if run.cancel_requested and ex.status is ExecutionStatus.QUEUED:
            return
        try:
            async with run.slots, self._slots:
                current = run.executions.get(ex.id or 0, ex)
                if run.interrupted or current.status.is_terminal:
                    return
                await self.driver.drive(run, current)
                if run.executions.get(ex.id or 0, current).status is ExecutionStatus.UNKNOWN:
                    # It may be running on AMC: its slot stays taken until the batch ends.
                    await self._park_slot(run)
        except Exception:
            log.exception("%s: stopping batch %s", ex.instance_id, run.id)
            self._stop_tasks(run, keep=asyncio.current_task())
            raise

    async def _park_slot(self, run: BatchRun) -> None:
        """Keep both slots of an UNKNOWN execution until every other task has ended.

        Whether AMC made it is not known, so it counts as in flight: the batch goes on
        with one slot fewer (never more than N on AMC) and ends ``interrupted``, for a
        resume to settle it.
        """
        me = asyncio.current_task()
        if me is not None:
            run.parked.add(me)
        parked_here = sum(len(r.parked) for r in self._runs.values())
        if len(run.parked) >= min(run.batch.max_concurrency, self.limit) or (
            parked_here >= self.limit
        ):
            # Every slot is held by an execution AMC may or may not have made: nothing
            # more can be sent within the limit.  Stop; a resume settles them first.
            log.warning(
                "batch %s: %d executions unsettled hold every slot; stopping for a resume",
                run.id,
                len(run.parked),
            )
            self._stop_tasks(run)
        while True:
            # Parked tasks wait for the others too, so they are not waited for.
            busy = [t for t in self._tasks.get(run.id, []) if not t.done() and t not in run.parked]
            if not busy:
                return
            await asyncio.wait(busy, timeout=0.1, return_when=asyncio.FIRST_COMPLETED)

    async def _settle(self, run: BatchRun) -> Batch:
        """Give the batch its final status from the store's view of its executions."""
        batch = await self.store.get_batch(run.id)
        assert batch is not None
        statuses = [ex.status for ex in batch.executions]
        if run.interrupted or not all(s.is_terminal for s in statuses):
            for ex in batch.executions:
                if ex.status is ExecutionStatus.SUBMITTING and ex.id is not None:
                    # The create may or may not have reached AMC: a resume asks.
                    await self.store.transition_execution(ex.id, ExecutionStatus.UNKNOWN)
            status = BatchStatus.INTERRUPTED
        else:
            # A cancel asked through the store counts even if the watcher had not seen it.
            asked = run.cancel_requested or batch.cancel_requested
            status = derive_batch_status(statuses, cancel_requested=asked)
        await self.store.transition_batch(run.id, status)
        final = await self.store.get_batch(run.id)
        assert final is not None
        self.events.emit(BatchFinished(run.id, status, BatchCounts.of(statuses)))
        log.info("batch %s ended %s", run.id, status)
        return final

    # --- cancelling and interrupting -------------------------------------------------

    async def cancel(self, batch_id: str) -> bool:
        """Cancel the batch (idempotent).  False if it is unknown or already finished.

        Run here: queued executions are cancelled at once, in-flight ones on AMC.
        Not run here: the cancel is recorded in the store for the process that runs
        it (or for the next resume) to carry out.
        """
        run = self._runs.get(batch_id)
        if run is None:
            return await self.store.request_cancel(batch_id)
        if run.cancel_requested:
            return True
        run.cancel_requested = True
        await self.store.request_cancel(batch_id)
        self.events.emit(CancelRequested(batch_id))
        run.cancel_event.set()
        await self._cancel_queued(run)
        return True

    async def _cancel_queued(self, run: BatchRun) -> None:
        # Only QUEUED executions are cancelled here, so that is where each came from.
        for updated in await self.store.cancel_queued(run.id):
            self.driver.recorder.changed(run, updated, ExecutionStatus.QUEUED)

    def interrupt(self, batch_id: str | None = None) -> None:
        """Stop running the batch (every batch if None) without cancelling on AMC.

        Submissions stop at once; executions on AMC keep running there; the batch ends
        ``interrupted`` and a resume picks it up.
        """
        for run in list(self._runs.values()):
            if batch_id is None or run.id == batch_id:
                run.interrupted = True
                self._stop_tasks(run)

    async def stopped(self) -> None:
        """Wait until no batch runs here and every last write of a run cut short is done.

        A run whose task was cancelled (an app shutting down cancels its workers)
        writes its final status in a shielded task; closing the store before that
        ends would lose it, so whoever closes the store waits here first.
        """
        while self._runs or self._settling:
            if self._settling:
                await asyncio.gather(*self._settling, return_exceptions=True)
            else:
                await asyncio.sleep(0.01)

    def _stop_tasks(self, run: BatchRun, keep: asyncio.Task[object] | None = None) -> None:
        run.interrupted = True
        for task in self._tasks.get(run.id, []):
            if task is not keep:
                task.cancel()

    async def _watch_cancel(self, run: BatchRun) -> None:
        """Notice a cancel asked through the store by another process."""
        while not run.cancel_requested:
            await asyncio.sleep(self._watch_interval)
            try:
                asked = await self.store.is_cancel_requested(run.id)
            except Exception:
                log.exception("checking batch %s for a cancel", run.id)
                continue
            if asked and not run.cancel_requested:
                log.info("batch %s: cancel asked by another process", run.id)
                await self.cancel(run.id)


LOCK_PATIENCE = 1.0
"""Seconds :meth:`BatchRunner.run` waits for a lock held only for a moment (another
process checking, at its start, whether the batch still has an owner)."""


async def _acquire(lock: BatchLock) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LOCK_PATIENCE
    while True:
        try:
            lock.acquire()
            return
        except BatchBusyError:
            if loop.time() >= deadline:
                raise
        await asyncio.sleep(0.05)
