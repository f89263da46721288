"""The state file's format: :class:`StoredFile` and :class:`StoredExecution` (pydantic).

An execution is stored with wall-clock times only (``created_wall``,
``cancel_requested_wall``): readings of a monotonic clock mean nothing in another
process.  :meth:`StoredExecution.record` turns one back into an :class:`ExecutionRecord`
in the clock of the process that reads it.  :mod:`.persistence` reads and writes them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from amc_tui.amc.simulator.records import ExecutionRecord, Outcome
from amc_tui.amc.simulator.validation import CreateRequest


class StoredExecution(BaseModel):
    """One :class:`ExecutionRecord` as the file holds it: wall-clock times only."""

    model_config = ConfigDict(extra="forbid")

    execution_id: str = Field(min_length=1)
    instance_id: str
    seq: int = Field(ge=1)
    created_wall: AwareDatetime
    time_scale: float = Field(gt=0)
    pending_seconds: float
    duration_seconds: float
    outcome: Outcome
    request: CreateRequest
    failure_reason: str | None = None
    cancel_delay: float = 0.0
    publish_delay: float = 0.0
    cancel_requested_wall: AwareDatetime | None = None

    @classmethod
    def of(cls, record: ExecutionRecord) -> StoredExecution:
        asked = record.cancel_requested_clock
        return cls(
            execution_id=record.execution_id,
            instance_id=record.instance_id,
            seq=record.seq,
            created_wall=record.created_wall,
            time_scale=record.time_scale,
            pending_seconds=record.pending_seconds,
            duration_seconds=record.duration_seconds,
            outcome=record.outcome,
            request=record.request,
            failure_reason=record.failure_reason,
            cancel_delay=record.cancel_delay,
            publish_delay=record.publish_delay,
            cancel_requested_wall=None if asked is None else record.wall_at(asked),
        )

    def record(self, now: float, now_wall: datetime) -> ExecutionRecord:
        """The record in the clock of a process that reads ``now`` at ``now_wall``."""
        created_wall = self.created_wall.astimezone(UTC)
        created_clock = now - (now_wall - created_wall).total_seconds()
        record = ExecutionRecord(
            execution_id=self.execution_id,
            instance_id=self.instance_id,
            seq=self.seq,
            created_clock=created_clock,
            created_wall=created_wall,
            time_scale=self.time_scale,
            pending_seconds=self.pending_seconds,
            duration_seconds=self.duration_seconds,
            outcome=self.outcome,
            request=self.request,
            failure_reason=self.failure_reason,
            cancel_delay=self.cancel_delay,
            publish_delay=self.publish_delay,
        )
        self.apply_cancel(record)
        return record

    def apply_cancel(self, record: ExecutionRecord) -> None:
        """Give ``record`` (of this execution, in any clock) the cancel recorded here."""
        if self.cancel_requested_wall is not None:
            since_create = self.cancel_requested_wall - record.created_wall
            record.cancel_requested_clock = record.created_clock + since_create.total_seconds()


class StoredFile(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    next_seq: int = Field(default=1, ge=1)
    executions: list[StoredExecution] = Field(default_factory=list)
