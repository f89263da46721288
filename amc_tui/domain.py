"""The domain model: what a batch is, and the state machines it moves through.

Pydantic models for :class:`Instance`, :class:`TimeWindow`, :class:`QuerySpec`,
:class:`Batch`, :class:`Execution` and :class:`Attempt`.  The statuses of DESIGN
section 3 and their transition tables (:class:`ExecutionStatus`,
:class:`BatchStatus`, :func:`check_execution_transition`,
:func:`check_batch_transition`...) live in :mod:`amc_tui.states`, which has no
pydantic, and are re-exported here: import them from either.

This module knows nothing of HTTP, SQLite or the screen.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from amc_tui.errors import ErrorCategory
from amc_tui.states import (
    BATCH_TRANSITIONS,
    EXECUTION_TRANSITIONS,
    TERMINAL_BATCH_STATUSES,
    TERMINAL_EXECUTION_STATUSES,
    BatchStatus,
    ExecutionStatus,
    can_transition_batch,
    can_transition_execution,
    check_batch_transition,
    check_execution_transition,
    derive_batch_status,
)

__all__ = [
    "AMC_TIME_FORMAT",
    "BATCH_TRANSITIONS",
    "DATA_LAG",
    "EXECUTION_TRANSITIONS",
    "TERMINAL_BATCH_STATUSES",
    "TERMINAL_EXECUTION_STATUSES",
    "Attempt",
    "Batch",
    "BatchCounts",
    "BatchStatus",
    "BatchSummary",
    "Execution",
    "ExecutionStatus",
    "Instance",
    "InstanceType",
    "ParameterValues",
    "QuerySpec",
    "TimeWindow",
    "TimeWindowType",
    "can_transition_batch",
    "can_transition_execution",
    "check_batch_transition",
    "check_execution_transition",
    "derive_batch_status",
    "new_batch_id",
    "parse_amc_time",
    "parse_uuid",
    "utc_now",
]

AMC_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
"""AMC's time window format: no zone suffix (a trailing ``Z`` gives empty results)."""

DATA_LAG = timedelta(days=14)
"""AMC data arrives about two weeks late; default windows end this long ago."""


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def new_batch_id() -> str:
    """A fresh, unguessable batch id: ``batch_`` + ``secrets.token_urlsafe(6)``."""
    return "batch_" + secrets.token_urlsafe(6)


def parse_uuid(value: str) -> uuid.UUID | None:
    """``value`` as a UUID when it is one (checked with :class:`uuid.UUID`), else None."""
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


def parse_amc_time(value: str, *, field: str = "time") -> datetime:
    """Parse ``YYYY-MM-DDTHH:MM:SS`` (AMC's format, no zone) into a naive datetime.

    Raises ``ValueError`` naming ``field`` and the value otherwise.
    """
    try:
        return datetime.strptime(value, AMC_TIME_FORMAT)
    except (ValueError, TypeError):
        raise ValueError(
            f"{field} {value!r} is not in the form YYYY-MM-DDTHH:MM:SS (no time zone suffix)"
        ) from None


# --- instances -------------------------------------------------------------------------


class InstanceType(StrEnum):
    STANDARD = "STANDARD"
    SANDBOX = "SANDBOX"


class Instance(BaseModel):
    """One AMC instance known to a profile.

    ``uuid`` is amc-tui's own stable id for it; ``instance_id`` is AMC's id
    (``amcxxxxxx``).  Either may be used to name it.
    """

    model_config = ConfigDict(frozen=True)

    uuid: uuid.UUID
    instance_id: str = Field(min_length=1, max_length=200)
    name: str = Field(max_length=500)
    instance_type: InstanceType = InstanceType.STANDARD
    region: str = ""
    profile: str = ""
    advertiser_id: str = ""


# --- the query -------------------------------------------------------------------------


class TimeWindowType(StrEnum):
    EXPLICIT = "EXPLICIT"
    MOST_RECENT_DAY = "MOST_RECENT_DAY"
    MOST_RECENT_WEEK = "MOST_RECENT_WEEK"
    CURRENT_MONTH = "CURRENT_MONTH"
    PREVIOUS_MONTH = "PREVIOUS_MONTH"
    ALL = "ALL"


class TimeWindow(BaseModel):
    """The time window of a query.  EXPLICIT windows carry naive start and end times."""

    model_config = ConfigDict(frozen=True)

    type: TimeWindowType = TimeWindowType.EXPLICIT
    start: datetime | None = None
    end: datetime | None = None
    timezone: str = Field(default="America/New_York", min_length=1, max_length=64)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse_time(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_amc_time(value)
        return value

    @field_validator("start", "end")
    @classmethod
    def _naive(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            raise ValueError("times are sent to AMC without a zone; give the zone in timezone")
        return value.replace(microsecond=0)  # AMC's format has whole seconds

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.type is TimeWindowType.EXPLICIT:
            if self.start is None or self.end is None:
                raise ValueError("an EXPLICIT time window needs both a start and an end")
            if self.start >= self.end:
                raise ValueError(
                    f"start {self.start.strftime(AMC_TIME_FORMAT)} is not before "
                    f"end {self.end.strftime(AMC_TIME_FORMAT)}"
                )
        elif self.start is not None or self.end is not None:
            raise ValueError(f"a {self.type} time window takes no start or end")
        return self

    @classmethod
    def default(cls, *, days: int = 7, now: datetime | None = None) -> TimeWindow:
        """``days`` whole days ending at midnight :data:`DATA_LAG` ago (AMC's data lag)."""
        today = (now or utc_now()).replace(tzinfo=None)
        end = (today - DATA_LAG).replace(hour=0, minute=0, second=0, microsecond=0)
        return cls(start=end - timedelta(days=days), end=end)

    def amc_fields(self) -> dict[str, str]:
        """The create-body fields for this window, in AMC's format."""
        fields = {"timeWindowType": self.type.value}
        if self.type is TimeWindowType.EXPLICIT:
            assert self.start is not None and self.end is not None
            fields["timeWindowStart"] = self.start.strftime(AMC_TIME_FORMAT)
            fields["timeWindowEnd"] = self.end.strftime(AMC_TIME_FORMAT)
            fields["timeWindowTimeZone"] = self.timezone
        return fields


ParameterValues = dict[str, str]


class QuerySpec(BaseModel):
    """What to run: a saved workflow or ad hoc SQL, over a time window, with parameters.

    ``instance_parameters`` maps an AMC instance id to overrides merged over
    ``parameters`` for that instance only.
    """

    model_config = ConfigDict(frozen=True)

    workflow_id: str | None = Field(default=None, min_length=1, max_length=200)
    sql: str | None = Field(default=None, max_length=200_000)
    time_window: TimeWindow = Field(default_factory=TimeWindow.default)
    parameters: ParameterValues = Field(default_factory=dict)
    instance_parameters: dict[str, ParameterValues] = Field(default_factory=dict)

    @field_validator("sql")
    @classmethod
    def _sql_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("the SQL is empty")
        return value

    @field_validator("parameters")
    @classmethod
    def _parameter_names(cls, value: ParameterValues) -> ParameterValues:
        for key in value:
            if not key or len(key) > 200:
                raise ValueError(f"parameter name {key!r} must have 1 to 200 characters")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.workflow_id is None) == (self.sql is None):
            raise ValueError("give exactly one of a saved workflow id or ad hoc SQL")
        return self

    def parameters_for(self, instance_id: str) -> ParameterValues:
        """The base parameters with this instance's overrides merged over them."""
        merged = dict(self.parameters)
        merged.update(self.instance_parameters.get(instance_id, {}))
        return merged


# --- a batch and its executions --------------------------------------------------------


class Attempt(BaseModel):
    """One try at creating an execution on AMC."""

    number: int = Field(ge=1)
    started_at: datetime
    finished_at: datetime | None = None
    error_category: ErrorCategory | None = None
    error_message: str | None = None
    retry_delay: float | None = None
    """Seconds waited before the next attempt, when one followed."""


class Execution(BaseModel):
    """One query run on one instance within a batch."""

    id: int | None = None
    batch_id: str
    instance_uuid: uuid.UUID
    instance_id: str
    instance_name: str
    status: ExecutionStatus = ExecutionStatus.QUEUED
    amc_execution_id: str | None = None
    attempts: int = 0
    error_category: ErrorCategory | None = None
    error_message: str | None = None
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    submitted_at: datetime | None = None
    finished_at: datetime | None = None


class BatchCounts(BaseModel):
    """Executions of a batch counted by outcome, as in the ``--json`` contract."""

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    unknown: int = 0
    queued: int = 0
    in_flight: int = 0

    @classmethod
    def of(cls, statuses: Iterable[ExecutionStatus]) -> BatchCounts:
        counts = cls()
        for status in statuses:
            counts.total += 1
            if status is ExecutionStatus.SUCCEEDED:
                counts.succeeded += 1
            elif status is ExecutionStatus.FAILED:
                counts.failed += 1
            elif status is ExecutionStatus.CANCELLED:
                counts.cancelled += 1
            elif status is ExecutionStatus.UNKNOWN:
                counts.unknown += 1
            elif status is ExecutionStatus.QUEUED:
                counts.queued += 1
            else:
                counts.in_flight += 1
        return counts


class Batch(BaseModel):
    """One query launched on many instances."""

    id: str = Field(default_factory=new_batch_id, pattern=r"^batch_[A-Za-z0-9_-]{8}$")
    name: str = Field(default="", max_length=200)
    profile: str = ""
    status: BatchStatus = BatchStatus.PENDING
    query: QuerySpec
    max_concurrency: int = Field(default=5, ge=1, le=1000)
    created_at: datetime = Field(default_factory=utc_now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cancel_requested: bool = False
    executions: list[Execution] = Field(default_factory=list)

    def counts(self) -> BatchCounts:
        return BatchCounts.of(e.status for e in self.executions)


class BatchSummary(BaseModel):
    """A batch without its executions, with their counts: one row of the history."""

    id: str
    name: str = ""
    profile: str = ""
    status: BatchStatus
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cancel_requested: bool = False
    counts: BatchCounts = Field(default_factory=BatchCounts)
