"""Conversions between the domain models and the rows of the history file.

Timestamps are stored as ISO-8601 UTC text of fixed width
(``YYYY-MM-DDTHH:MM:SS.ffffffZ``) so that text order is time order, and come back as
timezone-aware UTC datetimes.  A naive datetime given to the store is taken to be
UTC already.  Also here: :class:`InstanceRecord`, the input of
:meth:`~amc_tui.store.history.HistoryStore.upsert_instances`.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime

from pydantic import ValidationError

from amc_tui.domain import (
    Attempt,
    Batch,
    BatchCounts,
    BatchStatus,
    BatchSummary,
    Execution,
    ExecutionStatus,
    QuerySpec,
)
from amc_tui.errors import ErrorCategory, StoreError


def to_db_time(value: datetime) -> str:
    """``value`` as fixed-width ISO-8601 UTC text; naive values are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def to_db_time_or_none(value: datetime | None) -> str | None:
    return None if value is None else to_db_time(value)


def from_db_time(text: str) -> datetime:
    """A timezone-aware UTC datetime from stored text."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def from_db_time_or_none(text: str | None) -> datetime | None:
    return None if text is None else from_db_time(text)


def _category(value: str | None) -> ErrorCategory | None:
    if value is None:
        return None
    try:
        return ErrorCategory(value)
    except ValueError:
        return ErrorCategory.INTERNAL  # a category a newer amc-tui knows and we do not


# --- batches, executions, attempts -----------------------------------------------------


def row_to_execution(row: sqlite3.Row) -> Execution:
    return Execution(
        id=row["id"],
        batch_id=row["batch_id"],
        instance_uuid=uuid.UUID(row["instance_uuid"]),
        instance_id=row["instance_id"],
        instance_name=row["instance_name"],
        status=ExecutionStatus(row["status"]),
        amc_execution_id=row["amc_execution_id"],
        attempts=row["attempts"],
        error_category=_category(row["error_category"]),
        error_message=row["error_message"],
        created_at=from_db_time(row["created_at"]),
        updated_at=from_db_time(row["updated_at"]),
        submitted_at=from_db_time_or_none(row["submitted_at"]),
        finished_at=from_db_time_or_none(row["finished_at"]),
    )


def row_to_attempt(row: sqlite3.Row) -> Attempt:
    return Attempt(
        number=row["number"],
        started_at=from_db_time(row["started_at"]),
        finished_at=from_db_time_or_none(row["finished_at"]),
        error_category=_category(row["error_category"]),
        error_message=row["error_message"],
        retry_delay=row["retry_delay"],
    )


def query_to_json(query: QuerySpec) -> str:
    return query.model_dump_json()


def query_from_json(text: str, batch_id: str) -> QuerySpec:
    try:
        return QuerySpec.model_validate_json(text)
    except ValidationError as exc:
        raise StoreError(
            f"The stored query of batch {batch_id} cannot be read", detail=str(exc)
        ) from exc


def row_to_batch(row: sqlite3.Row, executions: list[Execution]) -> Batch:
    return Batch(
        id=row["id"],
        name=row["name"],
        profile=row["profile"],
        status=BatchStatus(row["status"]),
        query=query_from_json(row["query"], row["id"]),
        max_concurrency=row["max_concurrency"],
        created_at=from_db_time(row["created_at"]),
        started_at=from_db_time_or_none(row["started_at"]),
        finished_at=from_db_time_or_none(row["finished_at"]),
        cancel_requested=bool(row["cancel_requested"]),
        executions=executions,
    )


def row_to_summary(row: sqlite3.Row) -> BatchSummary:
    """A summary from a row of :data:`amc_tui.store.queries.SUMMARY_SELECT`."""
    return BatchSummary(
        id=row["id"],
        name=row["name"],
        profile=row["profile"],
        status=BatchStatus(row["status"]),
        created_at=from_db_time(row["created_at"]),
        started_at=from_db_time_or_none(row["started_at"]),
        finished_at=from_db_time_or_none(row["finished_at"]),
        cancel_requested=bool(row["cancel_requested"]),
        counts=BatchCounts(
            total=row["total"],
            succeeded=row["succeeded"],
            failed=row["failed"],
            cancelled=row["cancelled"],
            unknown=row["unknown"],
            queued=row["queued"],
            in_flight=row["in_flight"],
        ),
    )
