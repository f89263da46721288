"""Conversions between the domain models and the rows of the history file.

Timestamps are stored as ISO-8601 UTC text of fixed width
(``YYYY-MM-DDTHH:MM:SS.ffffffZ``) so that text order is time order, and come back as
timezone-aware UTC datetimes.  A naive datetime given to the store is taken to be
UTC already.  Also here: :class:`InstanceRecord`, the input of
:meth:`~amc_tui.store.history.HistoryStore.upsert_instances`.
"""

from __future__ import annotations

import dataclasses
import functools
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from amc_tui.domain import (
    Attempt,
    Batch,
    BatchStatus,
    BatchSummary,
    Execution,
    ExecutionStatus,
    QuerySpec,
)
from amc_tui.errors import ErrorCategory, StoreError
from amc_tui.store.summaries import row_to_summary_row
from amc_tui.store.times import from_db_time as from_db_time
from amc_tui.store.times import from_db_time_or_none as from_db_time_or_none
from amc_tui.store.times import to_db_time as to_db_time
from amc_tui.store.times import to_db_time_or_none as to_db_time_or_none

M = TypeVar("M", bound=BaseModel)


def _category(value: str | None) -> ErrorCategory | None:
    if value is None:
        return None
    try:
        return ErrorCategory(value)
    except ValueError:
        return ErrorCategory.INTERNAL  # a category a newer amc-tui knows and we do not


# --- batches, executions, attempts -----------------------------------------------------
#
# Executions and attempts are decoded on the store's busiest path (every state change
# returns its updated execution), so they are built from the row's values without
# pydantic's validation: each value is converted here to the field's type, and the
# file's CHECK constraints and the state machine are what make the values valid (a
# test checks the result equals the validated model for every status).  Any other
# model is validated as usual.

EXECUTION_COLUMNS = (
    "id, batch_id, instance_uuid, instance_id, instance_name, status, amc_execution_id,"
    " attempts, error_category, error_message, created_at, updated_at, submitted_at,"
    " finished_at"
)
"""The columns :func:`row_to_execution` reads, in its order (the table's own)."""

ATTEMPT_COLUMNS = "number, started_at, finished_at, error_category, error_message, retry_delay"
"""The columns :func:`row_to_attempt` reads, in its order."""


def _trustable(model: type[BaseModel]) -> frozenset[str]:
    """``model``'s fields, once checked that :func:`_trusted` can build it."""
    if model.__private_attributes__ or model.model_config.get("extra") == "allow":
        raise TypeError(f"{model.__name__} cannot be built from trusted rows")
    return frozenset(model.model_fields)


_STATUSES = {s.value: s for s in ExecutionStatus}
_EXECUTION_FIELDS = _trustable(Execution)
_ATTEMPT_FIELDS = _trustable(Attempt)

# Immutable values repeated from row to row (an instance's UUID, an execution's
# creation time) are parsed once; the caches are bounded, so they never grow past this.
_parsed_uuid = functools.lru_cache(maxsize=4096)(uuid.UUID)
_parsed_time = functools.lru_cache(maxsize=4096)(from_db_time)


def _time_or_none(text: str | None) -> datetime | None:
    return None if text is None else _parsed_time(text)


def _category_or_none(value: str | None) -> ErrorCategory | None:
    return None if value is None else _category(value)


_set_attribute = object.__setattr__


def _trusted(model: type[M], fields: frozenset[str], values: dict[str, Any]) -> M:
    """A ``model`` holding ``values`` (one per field, already of the field's type).

    What ``model.model_construct`` does for a model with neither defaults left to fill,
    extra fields nor private attributes, at a quarter of its cost.
    """
    built = model.__new__(model)
    _set_attribute(built, "__dict__", values)
    _set_attribute(built, "__pydantic_fields_set__", set(fields))
    _set_attribute(built, "__pydantic_extra__", None)
    _set_attribute(built, "__pydantic_private__", None)
    return built


def row_to_execution(row: Sequence[Any]) -> Execution:
    """The execution of a row of :data:`EXECUTION_COLUMNS` (or ``SELECT *``)."""
    (
        id_,
        batch_id,
        instance_uuid,
        instance_id,
        instance_name,
        status,
        amc_execution_id,
        attempts,
        error_category,
        error_message,
        created_at,
        updated_at,
        submitted_at,
        finished_at,
    ) = row[:14]
    values = {
        "id": int(id_),
        "batch_id": batch_id,
        "instance_uuid": _parsed_uuid(instance_uuid),
        "instance_id": instance_id,
        "instance_name": instance_name,
        "status": _STATUSES.get(status) or ExecutionStatus(status),
        "amc_execution_id": amc_execution_id,
        "attempts": int(attempts),
        "error_category": _category_or_none(error_category),
        "error_message": error_message,
        "created_at": _parsed_time(created_at),
        "updated_at": _parsed_time(updated_at),
        "submitted_at": _time_or_none(submitted_at),
        "finished_at": _time_or_none(finished_at),
    }
    return _trusted(Execution, _EXECUTION_FIELDS, values)


def row_to_attempt(row: Sequence[Any]) -> Attempt:
    """The attempt of a row of :data:`ATTEMPT_COLUMNS`."""
    number, started_at, finished_at, error_category, error_message, retry_delay = row[:6]
    return new_attempt(
        int(number),
        _parsed_time(started_at),
        _time_or_none(finished_at),
        _category_or_none(error_category),
        error_message,
        None if retry_delay is None else float(retry_delay),
    )


def new_attempt(
    number: int,
    started_at: datetime,
    finished_at: datetime | None = None,
    error_category: ErrorCategory | None = None,
    error_message: str | None = None,
    retry_delay: float | None = None,
) -> Attempt:
    """An attempt from values of the right types (as stored, or as just written)."""
    values = {
        "number": number,
        "started_at": started_at,
        "finished_at": finished_at,
        "error_category": error_category,
        "error_message": error_message,
        "retry_delay": retry_delay,
    }
    return _trusted(Attempt, _ATTEMPT_FIELDS, values)


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
    """A summary from a row of :data:`amc_tui.store.queries.SUMMARY_SELECT` (read as
    ``amc-tui history`` reads it, then validated as the model)."""
    return BatchSummary.model_validate(dataclasses.asdict(row_to_summary_row(row)))
