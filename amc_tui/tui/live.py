"""LiveBatch: one batch as the TUI shows it, kept current without polling AMC.

A batch run by this process is updated from the runner's events
(:meth:`LiveBatch.apply`); one run by another process, or finished, from a fresh read
of the store (:meth:`LiveBatch.merge`).  Both return the ids of the executions whose
rows changed, so a dashboard redraws only those.  Each row keeps a short note (the
taxonomy's fixed messages: a retry and its wait, a polling hiccup, the final error).
The counts by state are kept as the rows change, so the header and the running bar
read them in constant time however many rows there are.  Nothing here imports textual.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from amc_tui.domain import Batch, BatchCounts, BatchStatus, Execution, ExecutionStatus
from amc_tui.engine.events import (
    AttemptFailed,
    BatchFinished,
    BatchStarted,
    CancelRequested,
    EngineEvent,
    ExecutionChanged,
    PollFailed,
)
from amc_tui.output import format_duration, shown_error

IN_FLIGHT = (ExecutionStatus.SUBMITTING, ExecutionStatus.PENDING, ExecutionStatus.RUNNING)
"""The states ``BatchCounts.in_flight`` counts (every state it has no field of its own for)."""


@dataclass
class Row:
    """One execution and the note shown beside it."""

    execution: Execution
    note: str = ""

    @property
    def status(self) -> ExecutionStatus:
        return self.execution.status


def _note_for(execution: Execution) -> str:
    return shown_error(execution) or ""


class LiveBatch:
    """A batch's header and rows; see the module docstring."""

    def __init__(self, batch: Batch, *, here: bool) -> None:
        self.batch = batch
        self.here = here
        self.status = batch.status
        self.cancel_requested = batch.cancel_requested
        self.started_at = batch.started_at
        self.finished_at = batch.finished_at
        self.rows: dict[int, Row] = {ex.id or 0: Row(ex, _note_for(ex)) for ex in batch.executions}
        self._by_status = Counter(row.status for row in self.rows.values())

    @property
    def id(self) -> str:
        return self.batch.id

    @property
    def name(self) -> str:
        return self.batch.name

    @property
    def order(self) -> list[int]:
        """Execution ids in display order (by instance name, as stored)."""
        return list(self.rows)

    @property
    def is_finished(self) -> bool:
        return self.status.is_terminal or self.status is BatchStatus.INTERRUPTED

    def counts(self) -> BatchCounts:
        """The rows counted by state (kept as they change: no walk over the rows)."""
        by = self._by_status
        return BatchCounts(
            total=sum(by.values()),
            succeeded=by[ExecutionStatus.SUCCEEDED],
            failed=by[ExecutionStatus.FAILED],
            cancelled=by[ExecutionStatus.CANCELLED],
            unknown=by[ExecutionStatus.UNKNOWN],
            queued=by[ExecutionStatus.QUEUED],
            in_flight=sum(by[status] for status in IN_FLIGHT),
        )

    def _set_execution(self, row: Row, execution: Execution) -> None:
        self._by_status[row.execution.status] -= 1
        self._by_status[execution.status] += 1
        row.execution = execution

    # --- updates ----------------------------------------------------------------------

    def apply(self, event: EngineEvent, now: datetime) -> set[int]:
        """Apply one of the runner's events; the ids of the rows it changed."""
        if isinstance(event, ExecutionChanged):
            ex = event.execution
            row = self.rows.get(ex.id or 0)
            if row is None:
                return set()
            self._set_execution(row, ex)
            if ex.status.is_terminal or ex.status in (
                ExecutionStatus.PENDING,
                ExecutionStatus.RUNNING,
            ):
                row.note = _note_for(ex)
            if self.status is BatchStatus.PENDING:
                self.status = BatchStatus.RUNNING
            return {ex.id or 0}
        if isinstance(event, AttemptFailed):
            row = self.rows.get(event.execution_id)
            if row is None:
                return set()
            if event.retry_in is None:
                row.note = event.message
            else:
                row.note = f"{event.message} (retry in {format_duration(event.retry_in)})"
            return {event.execution_id}
        if isinstance(event, PollFailed):
            row = self.rows.get(event.execution_id)
            if row is None:
                return set()
            row.note = f"{event.message} (still polling)"
            return {event.execution_id}
        if isinstance(event, CancelRequested):
            self.cancel_requested = True
        elif isinstance(event, BatchStarted):
            self.status = BatchStatus.RUNNING
            self.started_at = self.started_at or now
            self.finished_at = None
        elif isinstance(event, BatchFinished):
            self.status = event.status
            self.finished_at = now if event.status.is_terminal else None
        return set()

    def merge(self, batch: Batch) -> set[int]:
        """Take a fresh read of the batch from the store; the ids of the rows it changed."""
        self.batch = batch
        self.status = batch.status
        self.cancel_requested = batch.cancel_requested
        self.started_at = batch.started_at
        self.finished_at = batch.finished_at
        changed: set[int] = set()
        for ex in batch.executions:
            key = ex.id or 0
            row = self.rows.get(key)
            if row is None:
                self.rows[key] = Row(ex, _note_for(ex))
                self._by_status[ex.status] += 1
                changed.add(key)
            elif _differs(row.execution, ex):
                self._set_execution(row, ex)
                row.note = _note_for(ex)
                changed.add(key)
        return changed

    # --- time -------------------------------------------------------------------------

    def elapsed(self, now: datetime) -> float | None:
        """Seconds since the batch started (to its end, once it ended)."""
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else now
        return max(0.0, (end - self.started_at).total_seconds())

    def time_left(self, now: datetime) -> float | None:
        """A rough estimate of the seconds left, from the pace so far (None: no basis)."""
        if self.is_finished:
            return 0.0
        elapsed = self.elapsed(now)
        counts = self.counts()
        done = counts.succeeded + counts.failed + counts.cancelled
        if elapsed is None or done == 0 or elapsed <= 0:
            return None
        return elapsed * (counts.total - done) / done

    def has_failures(self) -> bool:
        """Whether any execution did not succeed (failed or unknown), from the counts:
        asked for each key press and footer drawing, it must not walk the rows."""
        by = self._by_status
        return by[ExecutionStatus.FAILED] + by[ExecutionStatus.UNKNOWN] > 0

    def failed_ids(self) -> list[str]:
        """AMC instance ids of the executions that did not succeed (failed or unknown)."""
        return [
            row.execution.instance_id
            for row in self.rows.values()
            if row.status in (ExecutionStatus.FAILED, ExecutionStatus.UNKNOWN)
        ]


def _differs(old: Execution, new: Execution) -> bool:
    return (old.status, old.attempts, old.amc_execution_id, old.updated_at) != (
        new.status,
        new.attempts,
        new.amc_execution_id,
        new.updated_at,
    )
