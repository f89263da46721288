"""One execution's life inside a running batch: submit, follow, cancel.

:class:`ExecutionDriver` takes one execution from wherever the store says it is to a
final state: settling it if it was left SUBMITTING or UNKNOWN, submitting it
(:mod:`amc_tui.engine.submission`), then following it on AMC.  Every change is written
to the store first and emitted after the write returned (:class:`Recorder`).

- **Follow**: polls with the waits of :mod:`amc_tui.engine.polling`; transient errors
  while polling are reported and polling goes on.  Refused credentials stop the batch
  (the execution keeps running on AMC; a resume follows it again).
- **Cancel**: ``PUT {"status": "CANCELLED"}``, then polling until AMC confirms; an
  execution that finished meanwhile keeps its real final state.
"""

from __future__ import annotations

import asyncio
import logging

from amc_tui.amc.client import AmcClient
from amc_tui.domain import Execution, ExecutionStatus, utc_now
from amc_tui.engine.events import EventHub, PollFailed
from amc_tui.engine.polling import PollSchedule
from amc_tui.engine.retry import RetryPolicy, call_with_retries
from amc_tui.engine.run_state import BatchRun, Recorder, failure_message
from amc_tui.engine.submission import Submitter
from amc_tui.errors import (
    AmcTuiError,
    CredentialsError,
    ErrorCategory,
    InvalidRequestError,
    ProtocolError,
    TransientError,
)
from amc_tui.store.history import HistoryStore

log = logging.getLogger(__name__)


class ExecutionDriver:
    """Drives the executions of the batches one :class:`BatchRunner` runs."""

    def __init__(
        self,
        store: HistoryStore,
        client: AmcClient,
        events: EventHub,
        *,
        retry: RetryPolicy,
        schedule: PollSchedule,
    ) -> None:
        self.recorder = Recorder(store, events)
        self.submitter = Submitter(self.recorder, client, retry)
        self.client = client
        self.retry = retry
        self.schedule = schedule

    async def drive(self, run: BatchRun, ex: Execution) -> None:
        """Take ``ex`` to a final state (or as far as a cancel or interrupt lets it)."""
        if ex.status in (ExecutionStatus.SUBMITTING, ExecutionStatus.UNKNOWN):
            settled = await self.submitter.reconcile(run, ex)
            if settled is None:
                return  # AMC could not be asked: it stays UNKNOWN for a later resume
            ex = settled
        fresh = False
        if ex.status in (ExecutionStatus.QUEUED, ExecutionStatus.UNKNOWN):
            if run.cancel_requested:
                if ex.status is ExecutionStatus.UNKNOWN:  # settled: nothing on AMC
                    await self.recorder.move(run, ex, ExecutionStatus.CANCELLED)
                return
            ex = await self.submitter.submit(run, ex)
            fresh = True
        if ex.status.is_on_amc:
            await self.follow(run, ex, fresh=fresh)

    # --- following --------------------------------------------------------------------

    async def follow(self, run: BatchRun, ex: Execution, *, fresh: bool = True) -> Execution:
        """Poll ``ex`` until AMC reports it finished, cancelling it if asked.

        Its age counts from now when it was just created (``fresh``), else from when
        it was submitted (a resumed batch).
        """
        assert ex.id is not None and ex.amc_execution_id is not None
        started = run.clock()
        if not fresh and ex.submitted_at is not None:
            started -= max(0.0, (utc_now() - ex.submitted_at).total_seconds())
        seen_active = 0.0
        cancel_sent_at: float | None = None
        while True:
            age = run.clock() - started
            if run.cancel_requested and cancel_sent_at is None:
                await self._cancel_on_amc(run, ex)
                cancel_sent_at = run.clock()  # then ask at once whether it took
            elif cancel_sent_at is not None:
                # Until AMC confirms: from the minimum interval, growing.
                await asyncio.sleep(self.schedule.by_age(run.clock() - cancel_sent_at))
            elif await run.pause(self.schedule.next_delay(age, run.siblings)):
                continue  # a cancel came while waiting: send it first
            try:
                now = await self.client.get_execution(ex.instance_id, ex.amc_execution_id)
            except (TransientError, ProtocolError) as error:
                log.warning(
                    "%s: polling %s: %s", ex.instance_id, ex.amc_execution_id, error.log_text()
                )
                self.recorder.events.emit(
                    PollFailed(run.id, ex.id, ex.instance_id, error.category, error.user_message)
                )
                continue
            except CredentialsError:
                raise  # the batch stops; the execution runs on, for a resume to follow
            except AmcTuiError as error:
                log.error(
                    "%s: polling %s: %s", ex.instance_id, ex.amc_execution_id, error.log_text()
                )
                return await self.recorder.move(
                    run,
                    ex,
                    ExecutionStatus.FAILED,
                    category=error.category,
                    message=error.user_message,
                )
            age = run.clock() - started
            status = now.status
            if status.is_terminal:
                if status is not ExecutionStatus.CANCELLED:
                    run.siblings.add(seen_active, age)
                failed = status is ExecutionStatus.FAILED
                if failed:
                    log.warning(
                        "%s: %s failed on AMC: %s",
                        ex.instance_id,
                        now.execution_id,
                        now.failure_reason,
                    )
                return await self.recorder.move(
                    run,
                    ex,
                    status,
                    category=ErrorCategory.QUERY_FAILED if failed else None,
                    message=failure_message(now) if failed else None,
                )
            seen_active = age
            if status is not ex.status and status is ExecutionStatus.RUNNING:
                ex = await self.recorder.move(run, ex, status)

    async def _cancel_on_amc(self, run: BatchRun, ex: Execution) -> None:
        assert ex.amc_execution_id is not None
        try:
            await call_with_retries(
                lambda: self.client.cancel_execution(ex.instance_id, ex.amc_execution_id or ""),
                self.retry,
                what=f"cancel {ex.amc_execution_id} on {ex.instance_id}",
            )
        except InvalidRequestError:
            log.info(
                "%s: %s had already finished when cancelled", ex.instance_id, ex.amc_execution_id
            )
        except AmcTuiError as error:
            log.error(
                "%s: cancel of %s failed: %s", ex.instance_id, ex.amc_execution_id, error.log_text()
            )
