"""The SQL of batches and the history page, as plain synchronous functions.

Each function takes the store's connection and runs on the store's worker thread
(:class:`~amc_tui.store.history.HistoryStore` calls them; nothing else should).
Writes run inside one :func:`~amc_tui.store.database.write_transaction` each, so
a state change is checked against the state machine and applied whole or not at all;
the worker commits it (:mod:`amc_tui.store.worker`).  Counts for the history page are
computed in SQL from the ``executions_by_batch`` covering index; executions are never
loaded for them.  That page query lives in :mod:`amc_tui.store.summaries`, which also
reads it as plain rows (for ``amc-tui history``).  Executions and attempts are in
:mod:`amc_tui.store.executions`.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from amc_tui.domain import (
    TERMINAL_BATCH_STATUSES,
    Batch,
    BatchStatus,
    BatchSummary,
    ExecutionStatus,
    check_batch_transition,
    utc_now,
)
from amc_tui.errors import IllegalTransitionError, StoreError
from amc_tui.store.codec import (
    query_to_json,
    row_to_batch,
    row_to_summary,
    to_db_time,
    to_db_time_or_none,
)
from amc_tui.store.database import read_transaction, write_transaction
from amc_tui.store.executions import list_executions
from amc_tui.store.summaries import SUMMARY_COLUMNS, UNFINISHED, page_query
from amc_tui.store.summaries import unfinished_batch_ids as unfinished_batch_ids

# --- batches ---------------------------------------------------------------------------

_INSERT_BATCH = """
INSERT INTO batches (id, name, profile, status, query, max_concurrency, created_at,
                     started_at, finished_at, cancel_requested)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

_INSERT_EXECUTION = """
INSERT INTO executions (batch_id, instance_uuid, instance_id, instance_name, status,
                        amc_execution_id, attempts, error_category, error_message,
                        created_at, updated_at, submitted_at, finished_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def create_batch(conn: sqlite3.Connection, batch: Batch) -> Batch:
    """Insert ``batch`` and its executions in one transaction; return it as stored."""
    if batch.status is not BatchStatus.PENDING:
        raise IllegalTransitionError(
            f"A new batch must be {BatchStatus.PENDING}, not {batch.status}"
        )
    for execution in batch.executions:
        if execution.status is not ExecutionStatus.QUEUED:
            raise IllegalTransitionError(
                f"A new execution must be {ExecutionStatus.QUEUED}, not {execution.status}"
            )
        if execution.batch_id != batch.id:
            raise ValueError(
                f"execution on {execution.instance_id} belongs to batch {execution.batch_id}, "
                f"not {batch.id}"
            )
    with write_transaction(conn):
        if conn.execute("SELECT 1 FROM batches WHERE id = ?", (batch.id,)).fetchone():
            raise StoreError(f"A batch with id {batch.id} is already in the history")
        conn.execute(
            _INSERT_BATCH,
            (
                batch.id,
                batch.name,
                batch.profile,
                batch.status.value,
                query_to_json(batch.query),
                batch.max_concurrency,
                to_db_time(batch.created_at),
                to_db_time_or_none(batch.started_at),
                to_db_time_or_none(batch.finished_at),
                int(batch.cancel_requested),
            ),
        )
        for e in batch.executions:
            conn.execute(
                _INSERT_EXECUTION,
                (
                    batch.id,
                    str(e.instance_uuid),
                    e.instance_id,
                    e.instance_name,
                    e.status.value,
                    e.amc_execution_id,
                    e.attempts,
                    e.error_category.value if e.error_category else None,
                    e.error_message,
                    to_db_time(e.created_at),
                    to_db_time(e.updated_at),
                    to_db_time_or_none(e.submitted_at),
                    to_db_time_or_none(e.finished_at),
                ),
            )
        stored = get_batch(conn, batch.id)
    assert stored is not None
    return stored


def get_batch(conn: sqlite3.Connection, batch_id: str) -> Batch | None:
    with read_transaction(conn):
        row = conn.execute("SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone()
        if row is None:
            return None
        executions = list_executions(conn, batch_id, None)
    return row_to_batch(row, executions)


_SUMMARY_ONE = (
    SUMMARY_COLUMNS
    + "FROM batches AS b LEFT JOIN executions AS e ON e.batch_id = b.id "
    + "WHERE b.id = ? GROUP BY b.id"
)


def get_summary(conn: sqlite3.Connection, batch_id: str) -> BatchSummary | None:
    row = conn.execute(_SUMMARY_ONE, (batch_id,)).fetchone()
    return None if row is None else row_to_summary(row)


def list_batches(
    conn: sqlite3.Connection,
    limit: int,
    before: datetime | None,
    status: BatchStatus | None,
    search: str | None = None,
) -> list[BatchSummary]:
    """One page of the history, newest first, with counts (see
    :func:`amc_tui.store.summaries.page_query`)."""
    sql, params = page_query(limit, to_db_time_or_none(before), status, search)
    return [row_to_summary(r) for r in conn.execute(sql, params)]


def transition_batch(
    conn: sqlite3.Connection, batch_id: str, new_status: BatchStatus
) -> BatchSummary:
    now = to_db_time(utc_now())
    with write_transaction(conn):
        row = conn.execute("SELECT status FROM batches WHERE id = ?", (batch_id,)).fetchone()
        if row is None:
            raise StoreError(f"There is no batch {batch_id} in the history")
        check_batch_transition(BatchStatus(row["status"]), new_status)
        conn.execute(
            """
            UPDATE batches SET
                status = ?,
                started_at = CASE WHEN ? THEN coalesce(started_at, ?) ELSE started_at END,
                finished_at = CASE WHEN ? THEN ? ELSE finished_at END
            WHERE id = ?
            """,
            (
                new_status.value,
                new_status is BatchStatus.RUNNING,
                now,
                new_status in TERMINAL_BATCH_STATUSES,
                now,
                batch_id,
            ),
        )
        summary = get_summary(conn, batch_id)
    assert summary is not None
    return summary


def request_cancel(conn: sqlite3.Connection, batch_id: str) -> bool:
    with write_transaction(conn):
        row = conn.execute("SELECT status FROM batches WHERE id = ?", (batch_id,)).fetchone()
        if row is None or BatchStatus(row["status"]).is_terminal:
            return False
        conn.execute("UPDATE batches SET cancel_requested = 1 WHERE id = ?", (batch_id,))
        return True


def is_cancel_requested(conn: sqlite3.Connection, batch_id: str) -> bool:
    row = conn.execute("SELECT cancel_requested FROM batches WHERE id = ?", (batch_id,)).fetchone()
    return bool(row is not None and row["cancel_requested"])


# --- recovery ---------------------------------------------------------------------------


def mark_interrupted(conn: sqlite3.Connection, batch_id: str) -> BatchSummary | None:
    """A batch whose process is gone becomes ``interrupted``; None if it was not unfinished.

    In the same transaction its SUBMITTING executions become UNKNOWN: the process
    died between writing SUBMITTING and hearing AMC's answer, so whether AMC made
    the execution is unknown until a resume asks (DESIGN section 3).
    """
    now = to_db_time(utc_now())
    with write_transaction(conn):
        row = conn.execute("SELECT status FROM batches WHERE id = ?", (batch_id,)).fetchone()
        if row is None or row["status"] not in UNFINISHED:
            return None
        check_batch_transition(BatchStatus(row["status"]), BatchStatus.INTERRUPTED)
        conn.execute(
            "UPDATE executions SET status = ?, updated_at = ? WHERE batch_id = ? AND status = ?",
            (
                ExecutionStatus.UNKNOWN.value,
                now,
                batch_id,
                ExecutionStatus.SUBMITTING.value,
            ),
        )
        conn.execute(
            "UPDATE batches SET status = ? WHERE id = ?",
            (BatchStatus.INTERRUPTED.value, batch_id),
        )
        return get_summary(conn, batch_id)
