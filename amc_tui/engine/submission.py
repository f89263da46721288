"""Creating an execution on AMC, and settling one whose create answer was lost.

- **Submit**: tries through tenacity (transient errors only, exponential waits with
  jitter, at least ``Retry-After``; ``CancelledError`` never retried).  Each try is an
  attempt in the store, begun (with SUBMITTING, write-ahead) before the create call and
  ended with its error category and the wait chosen; the AMC id is written with the
  answer.  A try whose answer may have been lost after AMC acted on it (no answer, or
  an accepted create whose answer cannot be read) is looked up with the list call
  before anything else (an unreadable list answer is asked for again, like a transient
  error), so a retry never makes a second execution; an accepted create that cannot
  be found is left UNKNOWN for a resume to settle.  Refused credentials
  stop the whole batch (:class:`~amc_tui.errors.CredentialsError` is raised): no other
  execution could be created either, and asking again would only repeat the refusal.
- **Reconcile** (resume): an execution left SUBMITTING or UNKNOWN is looked up with
  the list call; the execution AMC made for it is adopted, otherwise it is submitted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from amc_tui.amc.client import AmcClient, create_body
from amc_tui.amc.models import AmcExecution
from amc_tui.domain import Execution, ExecutionStatus
from amc_tui.engine.events import AttemptFailed
from amc_tui.engine.retry import RetryPolicy, call_with_retries, is_retryable
from amc_tui.engine.run_state import BatchRun, Recorder, Stopped, failure_message
from amc_tui.errors import (
    AmcTuiError,
    CredentialsError,
    ErrorCategory,
    IllegalTransitionError,
    LostAnswerError,
    NotFoundError,
    ProtocolError,
    TransientError,
    gave_up_message,
)

log = logging.getLogger(__name__)

LOOKUP_MARGIN = timedelta(minutes=2)
"""How far before a try the list call looks for what it made (clock skew with AMC)."""


@dataclass
class _Try:
    number: int = 0
    started_at: datetime | None = None
    error: AmcTuiError | None = None


def _may_have_made_it(error: AmcTuiError) -> bool:
    """Whether AMC may have made the execution although the create call failed."""
    if isinstance(error, TransientError):
        return error.may_have_taken_effect
    return isinstance(error, LostAnswerError)


class _UnreadableList(TransientError):
    """A list answer that could not be read, during a look-up: it is asked for again
    (a garbled page must not be taken for "nothing made", nor end the look-up)."""

    category = ErrorCategory.PROTOCOL


class _LookupFailed(Exception):
    """The list call that would settle a lost answer could not be made."""

    def __init__(self, error: AmcTuiError) -> None:
        super().__init__(error.user_message)
        self.error = error


class Submitter:
    """Creates executions on AMC for a :class:`BatchRun`, recording every try."""

    def __init__(self, recorder: Recorder, client: AmcClient, retry: RetryPolicy) -> None:
        self.recorder = recorder
        self.client = client
        self.retry = retry

    async def submit(self, run: BatchRun, ex: Execution) -> Execution:
        """Create the execution on AMC, trying again after transient errors."""
        assert ex.id is not None
        current = _Try()
        body = create_body(run.batch.query, ex.instance_id)

        async def one_try() -> AmcExecution:
            nonlocal ex
            if run.cancel_requested:
                raise Stopped
            before = ex.status
            ex, attempt = await self.recorder.store.start_attempt(ex.id or 0)
            self.recorder.changed(run, ex, before)
            current.number, current.started_at, current.error = (
                attempt.number,
                attempt.started_at,
                None,
            )
            try:
                return await self.client.create_execution(ex.instance_id, run.batch.query)
            except AmcTuiError as error:
                current.error = error
                if _may_have_made_it(error):
                    made = await self.find_made(run, ex, body, since=attempt.started_at)
                    if made is not None:
                        log.info(
                            "%s: the lost create answer was found: %s",
                            ex.instance_id,
                            made.execution_id,
                        )
                        return made
                raise

        async def wait_then_retry(delay: float) -> None:
            error = current.error
            assert error is not None
            await self._end_try(run, ex, current, error, retry_in=delay)
            if await run.pause(delay):
                raise Stopped

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return self.retry.delay_after(state.attempt_number, error)

        retrying = AsyncRetrying(
            sleep=wait_then_retry,
            stop=stop_after_attempt(self.retry.max_attempts),
            wait=wait,
            retry=retry_if_exception(is_retryable),
            reraise=True,
        )
        try:
            made: AmcExecution = await retrying(one_try)
        except Stopped:
            return await self._dropped_by_cancel(run, ex)
        except IllegalTransitionError:
            if run.cancel_requested:  # cancelled while QUEUED, between our checks
                return run.executions.get(ex.id, ex)
            raise
        except _LookupFailed as failed:
            lost = LostAnswerError(detail=f"the list call failed: {failed.error.log_text()}")
            return await self._finish_try(run, ex, current, ExecutionStatus.UNKNOWN, error=lost)
        except AmcTuiError as error:
            if error is not current.error:
                raise  # not from AMC (the store, say): the batch stops
            if isinstance(error, CredentialsError):
                await self._end_try(run, ex, current, error, retry_in=None)
                raise  # left SUBMITTING: the runner makes it UNKNOWN, a resume settles it
            if isinstance(error, LostAnswerError):  # made on AMC, but not found yet
                return await self._finish_try(
                    run, ex, current, ExecutionStatus.UNKNOWN, error=error
                )
            workflow_id = run.batch.query.workflow_id
            if isinstance(error, NotFoundError) and workflow_id is not None:
                # The instance is known (it is in the profile): the workflow is not.
                error = NotFoundError(
                    f"Workflow {workflow_id!r} was not found on this instance",
                    detail=error.detail,
                )
            return await self._finish_try(run, ex, current, ExecutionStatus.FAILED, error=error)
        return await self._finish_try(run, ex, current, made.status, made=made)

    async def _end_try(
        self,
        run: BatchRun,
        ex: Execution,
        current: _Try,
        error: AmcTuiError,
        *,
        retry_in: float | None,
    ) -> None:
        """Record a failed try (and the wait before the next), then say so."""
        assert ex.id is not None
        await self.recorder.store.finish_attempt(
            ex.id,
            current.number,
            error_category=error.category,
            error_message=error.user_message,
            retry_delay=retry_in,
        )
        self._attempt_failed(run, ex, current.number, error, retry_in)

    def _attempt_failed(
        self, run: BatchRun, ex: Execution, number: int, error: AmcTuiError, retry_in: float | None
    ) -> None:
        log.warning(
            "%s: try %d of %d failed: %s%s",
            ex.instance_id,
            number,
            self.retry.max_attempts,
            error.log_text(),
            f"; retrying in {retry_in:.1f} s" if retry_in is not None else "",
        )
        self.recorder.events.emit(
            AttemptFailed(
                run.id,
                ex.id or 0,
                ex.instance_id,
                number,
                self.retry.max_attempts,
                error.category,
                error.user_message,
                retry_in,
            )
        )

    async def _finish_try(
        self,
        run: BatchRun,
        ex: Execution,
        current: _Try,
        status: ExecutionStatus,
        *,
        made: AmcExecution | None = None,
        error: AmcTuiError | None = None,
    ) -> Execution:
        """End the last try and move the execution, in one write."""
        assert ex.id is not None
        message = error.user_message if error is not None else None
        if error is not None and error.transient and status is ExecutionStatus.FAILED:
            message = gave_up_message(error.category, current.number, error.user_message)
        if made is not None and status is ExecutionStatus.FAILED:
            log.warning(
                "%s: %s failed on AMC: %s", ex.instance_id, made.execution_id, made.failure_reason
            )
            message = failure_message(made)
        updated = await self.recorder.store.finish_attempt(
            ex.id,
            current.number,
            new_status=status,
            amc_execution_id=made.execution_id if made is not None else None,
            error_category=(error.category if error is not None else None)
            or (ErrorCategory.QUERY_FAILED if status is ExecutionStatus.FAILED else None),
            error_message=message,
        )
        if error is not None:
            self._attempt_failed(run, ex, current.number, error, None)
        self.recorder.changed(run, updated, ex.status)
        return updated

    async def _dropped_by_cancel(self, run: BatchRun, ex: Execution) -> Execution:
        """A cancel came between tries: nothing exists on AMC, so just drop it."""
        latest = run.executions.get(ex.id or 0, ex)
        if latest.status.is_terminal or latest.status is ExecutionStatus.QUEUED:
            return latest
        return await self.recorder.move(run, latest, ExecutionStatus.CANCELLED)

    # --- finding what a lost answer made ---------------------------------------------

    async def find_made(
        self, run: BatchRun, ex: Execution, body: dict[str, object], *, since: datetime
    ) -> AmcExecution | None:
        """The execution AMC made for ``ex`` at or after ``since``, if any.

        Candidates are listed on the instance, must match the create body, and must
        not already belong to another execution in the store.  Raises
        :class:`_LookupFailed` when AMC cannot be asked.
        """

        async def list_once() -> list[AmcExecution]:
            try:
                return await self.client.list_executions(
                    ex.instance_id,
                    min_creation_time=since - LOOKUP_MARGIN,
                    workflow_id=run.batch.query.workflow_id,
                )
            except ProtocolError as garbled:
                raise _UnreadableList(detail=garbled.detail) from None

        try:
            listed = await call_with_retries(
                list_once, self.retry, what=f"look up executions on {ex.instance_id}"
            )
        except CredentialsError:
            raise  # not a failed look-up: the batch stops
        except AmcTuiError as error:
            raise _LookupFailed(error) from error
        floor = since - LOOKUP_MARGIN
        candidates = [
            item
            for item in listed
            if item.matches(body) and (item.create_time is None or item.create_time >= floor)
        ]
        candidates.sort(key=lambda item: item.create_time or since)
        for item in candidates:
            owner = await self.recorder.store.find_execution_by_amc_id(item.execution_id)
            if owner is None or owner.id == ex.id:
                return item
        return None

    async def reconcile(self, run: BatchRun, ex: Execution) -> Execution | None:
        """Settle an execution left SUBMITTING or UNKNOWN: adopt what AMC made, or not.

        Returns it adopted (with AMC's id and status), or UNKNOWN when AMC made nothing
        for it (to be submitted), or None when AMC could not be asked (it stays UNKNOWN).
        """
        assert ex.id is not None
        attempts = await self.recorder.store.list_attempts(ex.id)
        last = attempts[-1] if attempts else None
        since = (last.started_at if last else None) or ex.submitted_at or run.batch.created_at
        body = create_body(run.batch.query, ex.instance_id)
        try:
            made = await self.find_made(run, ex, body, since=since)
        except _LookupFailed:
            log.warning("%s: cannot settle %s now; it stays UNKNOWN", ex.instance_id, ex.status)
            if ex.status is ExecutionStatus.SUBMITTING:
                await self.recorder.move(run, ex, ExecutionStatus.UNKNOWN)
            return None
        open_try = last is not None and last.finished_at is None
        if made is not None:
            log.info(
                "%s: adopting %s, made before the process ended", ex.instance_id, made.execution_id
            )
            if open_try and last is not None:
                current = _Try(last.number, last.started_at)
                return await self._finish_try(run, ex, current, made.status, made=made)
            return await self.recorder.move(
                run, ex, made.status, amc_execution_id=made.execution_id
            )
        if open_try and last is not None:
            await self.recorder.store.finish_attempt(
                ex.id,
                last.number,
                error_category=ErrorCategory.LOST_ANSWER,
                error_message="The process ended before AMC answered; nothing was made",
            )
        if ex.status is ExecutionStatus.SUBMITTING:
            ex = await self.recorder.move(run, ex, ExecutionStatus.UNKNOWN)
        return ex
