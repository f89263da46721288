"""What the execution tasks of one running batch share, and how they record changes.

:class:`BatchRun` holds the batch, its executions as last written, the batch's own
slots, the durations of finished siblings (for polling) and the cancel and interrupt
flags.  :class:`Recorder` is the one way an execution's state changes: written to
the store first, emitted as an :class:`~amc_tui.engine.events.ExecutionChanged`
after the write returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from amc_tui.amc.models import AmcExecution
from amc_tui.domain import Batch, Execution, ExecutionStatus
from amc_tui.engine.events import EventHub, ExecutionChanged
from amc_tui.engine.polling import SiblingDurations
from amc_tui.errors import USER_MESSAGES, ErrorCategory
from amc_tui.store.history import HistoryStore


class Stopped(Exception):
    """The batch is being cancelled; a wait between tries ends early."""


@dataclass
class BatchRun:
    """What a running batch shares between its execution tasks."""

    batch: Batch
    clock: Callable[[], float]
    slots: asyncio.Semaphore
    """The batch's own limit (``max_concurrency``), inside the process-wide one."""
    executions: dict[int, Execution] = field(default_factory=dict)
    siblings: SiblingDurations = field(default_factory=SiblingDurations)
    cancel_requested: bool = False
    interrupted: bool = False
    cancel_event: asyncio.Event = field(default_factory=asyncio.Event)
    parked: set[asyncio.Task[None]] = field(default_factory=set)
    """Tasks of UNKNOWN executions keeping their slots until the batch ends."""

    @property
    def id(self) -> str:
        return self.batch.id

    async def pause(self, seconds: float) -> bool:
        """Wait ``seconds``; True at once if a cancel is (or becomes) requested."""
        if self.cancel_requested:
            return True
        try:
            await asyncio.wait_for(self.cancel_event.wait(), timeout=max(0.0, seconds))
        except TimeoutError:
            return False
        return True


class Recorder:
    """Writes an execution's changes to the store, then tells the listeners."""

    def __init__(self, store: HistoryStore, events: EventHub) -> None:
        self.store = store
        self.events = events

    def changed(self, run: BatchRun, updated: Execution, previous: ExecutionStatus) -> None:
        """Note a change already written; emit it if the status moved."""
        run.executions[updated.id or 0] = updated
        if updated.status is not previous:
            self.events.emit(ExecutionChanged(run.id, updated, previous))

    async def move(
        self,
        run: BatchRun,
        ex: Execution,
        status: ExecutionStatus,
        *,
        amc_execution_id: str | None = None,
        category: ErrorCategory | None = None,
        message: str | None = None,
    ) -> Execution:
        assert ex.id is not None
        updated = await self.store.transition_execution(
            ex.id,
            status,
            amc_execution_id=amc_execution_id,
            error_category=category,
            error_message=message,
        )
        self.changed(run, updated, ex.status)
        return updated


def failure_message(made: AmcExecution) -> str:
    """The operator's message for an execution AMC reports FAILED.

    A fixed sentence (DESIGN section 4); AMC's own ``failureReason`` goes to the log,
    with the execution id, for whoever investigates.
    """
    return USER_MESSAGES[ErrorCategory.QUERY_FAILED]
