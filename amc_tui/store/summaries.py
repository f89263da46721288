"""The history page's SQL, and its rows as plain typed values.

The page query (:func:`page_query`: batches newest first, their executions counted
in SQL from the ``executions_by_batch`` covering index) serves both readers of the
history: :func:`amc_tui.store.queries.list_batches` turns its rows into
:class:`~amc_tui.domain.BatchSummary` models for the TUI, and :func:`read_page`
turns them into :class:`SummaryRow` dataclasses for ``amc-tui history``, which must
start fast and so loads no pydantic.  The two carry the same values under the same
names (``tests/test_history_fast_path.py`` holds them to it), so
:mod:`amc_tui.output` formats either alike.

Like the rest of :mod:`amc_tui.store`, these are plain synchronous functions of a
connection; they raise :class:`sqlite3.Error` for the caller to translate.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from amc_tui.states import BatchStatus
from amc_tui.store.times import from_db_time, from_db_time_or_none

SUMMARY_COLUMNS = """
SELECT b.id, b.name, b.profile, b.status, b.created_at, b.started_at, b.finished_at,
       b.cancel_requested,
       count(e.id) AS total,
       coalesce(sum(e.status = 'SUCCEEDED'), 0) AS succeeded,
       coalesce(sum(e.status = 'FAILED'), 0) AS failed,
       coalesce(sum(e.status = 'CANCELLED'), 0) AS cancelled,
       coalesce(sum(e.status = 'UNKNOWN'), 0) AS unknown,
       coalesce(sum(e.status = 'QUEUED'), 0) AS queued,
       coalesce(sum(e.status IN ('SUBMITTING', 'PENDING', 'RUNNING')), 0) AS in_flight
"""
"""The columns of a history row (the batch, then its executions counted by status)."""

UNFINISHED = (BatchStatus.PENDING.value, BatchStatus.RUNNING.value)
"""The stored statuses of a batch someone may still be running (or an orphan)."""


def _page_sql(where: str) -> str:
    """The history-page query: the page of batches is chosen first, then counted."""
    return (
        SUMMARY_COLUMNS  # noqa: S608 (constant fragments only; values are parameters)
        + "FROM (SELECT * FROM batches "
        + where
        + " ORDER BY created_at DESC, id DESC LIMIT ?) AS b "
        + "LEFT JOIN executions AS e ON e.batch_id = b.id "
        + "GROUP BY b.id ORDER BY b.created_at DESC, b.id DESC"
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def page_query(
    limit: int,
    before: str | None = None,
    status: BatchStatus | None = None,
    search: str | None = None,
) -> tuple[str, list[object]]:
    """The SQL and parameters of one history page, newest first.

    ``before`` (a stored timestamp) pages on: only batches created strictly before
    it.  ``status`` keeps only batches in that status; ``search`` those whose id or
    name contains it (case-insensitive).
    """
    where: list[str] = []
    params: list[object] = []
    if status is not None:
        where.append("status = ?")
        params.append(status.value)
    if before is not None:
        where.append("created_at < ?")
        params.append(before)
    if search:
        pattern = f"%{_escape_like(search)}%"
        where.append("(id LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\')")
        params.extend([pattern, pattern])
    params.append(limit)
    return _page_sql(("WHERE " + " AND ".join(where)) if where else ""), params


def unfinished_batch_ids(conn: sqlite3.Connection) -> list[str]:
    """Ids of the batches stored ``pending`` or ``running``, oldest first."""
    rows = conn.execute(
        "SELECT id FROM batches WHERE status IN (?, ?) ORDER BY created_at, id", UNFINISHED
    )
    return [str(row[0]) for row in rows]


# --- plain rows -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SummaryCounts:
    """A batch's executions counted by status: the fields of
    :class:`~amc_tui.domain.BatchCounts`."""

    total: int
    succeeded: int
    failed: int
    cancelled: int
    unknown: int
    queued: int
    in_flight: int


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """One row of the history: the fields of :class:`~amc_tui.domain.BatchSummary`."""

    id: str
    name: str
    profile: str
    status: BatchStatus
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancel_requested: bool
    counts: SummaryCounts


def row_to_summary_row(row: sqlite3.Row) -> SummaryRow:
    """A :class:`SummaryRow` from a row of :data:`SUMMARY_COLUMNS`."""
    return SummaryRow(
        id=row["id"],
        name=row["name"],
        profile=row["profile"],
        status=BatchStatus(row["status"]),
        created_at=from_db_time(row["created_at"]),
        started_at=from_db_time_or_none(row["started_at"]),
        finished_at=from_db_time_or_none(row["finished_at"]),
        cancel_requested=bool(row["cancel_requested"]),
        counts=SummaryCounts(
            total=row["total"],
            succeeded=row["succeeded"],
            failed=row["failed"],
            cancelled=row["cancelled"],
            unknown=row["unknown"],
            queued=row["queued"],
            in_flight=row["in_flight"],
        ),
    )


def read_page(conn: sqlite3.Connection, limit: int) -> list[SummaryRow]:
    """The ``limit`` newest batches, newest first, as plain rows."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    sql, params = page_query(limit)
    return [row_to_summary_row(row) for row in conn.execute(sql, params)]
