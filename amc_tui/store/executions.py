"""The SQL of executions and their attempts, as plain synchronous functions.

Each function takes the store's connection and runs on the store's worker thread
(:class:`~amc_tui.store.history.HistoryStore` calls them; nothing else should).  Every
write runs inside one :func:`~amc_tui.store.database.write_transaction`, so a state
change is checked against the state machine (:data:`~amc_tui.domain.EXECUTION_TRANSITIONS`)
and applied whole or not at all; the worker commits it (:mod:`amc_tui.store.worker`).

The engine's combined writes live here too: :func:`start_attempt` (move to SUBMITTING
and begin an attempt) and :func:`finish_attempt` (end an attempt and maybe move the
execution), each one transaction, so one state change costs one commit.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection

from amc_tui.domain import (
    Attempt,
    Execution,
    ExecutionStatus,
    check_execution_transition,
    utc_now,
)
from amc_tui.errors import ErrorCategory, StoreError
from amc_tui.store.codec import row_to_attempt, row_to_execution, to_db_time
from amc_tui.store.database import write_transaction

# --- reads -----------------------------------------------------------------------------


def get_execution(conn: sqlite3.Connection, execution_id: int) -> Execution | None:
    row = conn.execute("SELECT * FROM executions WHERE id = ?", (execution_id,)).fetchone()
    return None if row is None else row_to_execution(row)


def find_execution(conn: sqlite3.Connection, amc_execution_id: str) -> Execution | None:
    row = conn.execute(
        "SELECT * FROM executions WHERE amc_execution_id = ? ORDER BY id DESC LIMIT 1",
        (amc_execution_id,),
    ).fetchone()
    return None if row is None else row_to_execution(row)


# A batch's executions are always listed by instance name.
_LIST_ALL = """
SELECT * FROM executions WHERE batch_id = ?
ORDER BY instance_name COLLATE NOCASE, instance_name, id
"""
_LIST_IN = """
SELECT * FROM executions WHERE batch_id = ? AND status IN (SELECT value FROM json_each(?))
ORDER BY instance_name COLLATE NOCASE, instance_name, id
"""


def latest_by_instance(
    conn: sqlite3.Connection, instance_uuids: Collection[str]
) -> dict[str, Execution]:
    """Each instance's most recent execution (of any batch), by instance UUID text."""
    latest: dict[str, Execution] = {}
    for instance_uuid in instance_uuids:
        row = conn.execute(
            "SELECT * FROM executions WHERE instance_uuid = ? ORDER BY created_at DESC LIMIT 1",
            (instance_uuid,),
        ).fetchone()
        if row is not None:
            latest[instance_uuid] = row_to_execution(row)
    return latest


def list_executions(
    conn: sqlite3.Connection, batch_id: str, statuses: Collection[ExecutionStatus] | None
) -> list[Execution]:
    """The batch's executions (only those in ``statuses``, if given), by instance name."""
    if statuses is None:
        rows = conn.execute(_LIST_ALL, (batch_id,))
    else:
        wanted = json.dumps(sorted(ExecutionStatus(s).value for s in statuses))
        rows = conn.execute(_LIST_IN, (batch_id, wanted))
    return [row_to_execution(r) for r in rows]


def list_attempts(conn: sqlite3.Connection, execution_id: int) -> list[Attempt]:
    return [
        row_to_attempt(r)
        for r in conn.execute(
            "SELECT * FROM attempts WHERE execution_id = ? ORDER BY number", (execution_id,)
        )
    ]


def _get_attempt(conn: sqlite3.Connection, execution_id: int, number: int) -> Attempt:
    row = conn.execute(
        "SELECT * FROM attempts WHERE execution_id = ? AND number = ?", (execution_id, number)
    ).fetchone()
    return row_to_attempt(row)


def _stored(conn: sqlite3.Connection, execution_id: int) -> Execution:
    execution = get_execution(conn, execution_id)
    assert execution is not None
    return execution


# --- the steps writes are made of (inside a transaction) -------------------------------


def _status_of(conn: sqlite3.Connection, execution_id: int) -> tuple[ExecutionStatus, int]:
    """The stored status and attempt count; StoreError for an unknown execution."""
    row = conn.execute(
        "SELECT status, attempts FROM executions WHERE id = ?", (execution_id,)
    ).fetchone()
    if row is None:
        raise StoreError(f"There is no execution {execution_id} in the history")
    return ExecutionStatus(row["status"]), int(row["attempts"])


_MOVE = """
UPDATE executions SET
    status = ?,
    updated_at = ?,
    submitted_at = CASE WHEN ? THEN ? ELSE submitted_at END,
    finished_at = CASE WHEN ? THEN ? ELSE finished_at END,
    amc_execution_id = coalesce(?, amc_execution_id),
    error_category = coalesce(?, error_category),
    error_message = coalesce(?, error_message)
WHERE id = ?
"""


def _move(
    conn: sqlite3.Connection,
    execution_id: int,
    new_status: ExecutionStatus,
    amc_execution_id: str | None,
    error_category: ErrorCategory | None,
    error_message: str | None,
    now: str,
) -> None:
    """Check ``old -> new_status`` against the state machine, then apply it."""
    old, _ = _status_of(conn, execution_id)
    check_execution_transition(old, new_status)
    conn.execute(
        _MOVE,
        (
            new_status.value,
            now,
            new_status is ExecutionStatus.SUBMITTING,
            now,
            new_status.is_terminal,
            now,
            amc_execution_id,
            error_category.value if error_category else None,
            error_message,
            execution_id,
        ),
    )


def _add_attempt(conn: sqlite3.Connection, execution_id: int, now: str) -> int:
    """Insert the execution's next attempt and count it; return its number."""
    number = _status_of(conn, execution_id)[1] + 1
    conn.execute(
        "INSERT INTO attempts (execution_id, number, started_at) VALUES (?, ?, ?)",
        (execution_id, number, now),
    )
    conn.execute(
        "UPDATE executions SET attempts = ?, updated_at = ? WHERE id = ?",
        (number, now, execution_id),
    )
    return number


def _close_attempt(
    conn: sqlite3.Connection,
    execution_id: int,
    number: int,
    error_category: ErrorCategory | None,
    error_message: str | None,
    retry_delay: float | None,
    now: str,
) -> None:
    """Mark attempt ``number`` ended; StoreError if it is unknown or already ended."""
    row = conn.execute(
        "SELECT finished_at FROM attempts WHERE execution_id = ? AND number = ?",
        (execution_id, number),
    ).fetchone()
    if row is None:
        raise StoreError(f"Execution {execution_id} has no attempt {number} in the history")
    if row["finished_at"] is not None:
        raise StoreError(f"Attempt {number} of execution {execution_id} has already ended")
    conn.execute(
        """
        UPDATE attempts SET finished_at = ?, error_category = ?, error_message = ?,
                            retry_delay = ?
        WHERE execution_id = ? AND number = ?
        """,
        (
            now,
            error_category.value if error_category else None,
            error_message,
            retry_delay,
            execution_id,
            number,
        ),
    )


# --- writes ----------------------------------------------------------------------------


def transition_execution(
    conn: sqlite3.Connection,
    execution_id: int,
    new_status: ExecutionStatus,
    amc_execution_id: str | None,
    error_category: ErrorCategory | None,
    error_message: str | None,
) -> Execution:
    now = to_db_time(utc_now())
    with write_transaction(conn):
        _move(conn, execution_id, new_status, amc_execution_id, error_category, error_message, now)
        return _stored(conn, execution_id)


def begin_attempt(conn: sqlite3.Connection, execution_id: int) -> Attempt:
    now = to_db_time(utc_now())
    with write_transaction(conn):
        return _get_attempt(conn, execution_id, _add_attempt(conn, execution_id, now))


def end_attempt(
    conn: sqlite3.Connection,
    execution_id: int,
    number: int,
    error_category: ErrorCategory | None,
    error_message: str | None,
    retry_delay: float | None,
) -> Attempt:
    now = to_db_time(utc_now())
    with write_transaction(conn):
        _close_attempt(conn, execution_id, number, error_category, error_message, retry_delay, now)
        return _get_attempt(conn, execution_id, number)


def start_attempt(conn: sqlite3.Connection, execution_id: int) -> tuple[Execution, Attempt]:
    """SUBMITTING (unless it already is: a retry), then the next attempt, at once."""
    now = to_db_time(utc_now())
    with write_transaction(conn):
        status, _ = _status_of(conn, execution_id)
        if status is not ExecutionStatus.SUBMITTING:
            _move(conn, execution_id, ExecutionStatus.SUBMITTING, None, None, None, now)
        number = _add_attempt(conn, execution_id, now)
        return _stored(conn, execution_id), _get_attempt(conn, execution_id, number)


def finish_attempt(
    conn: sqlite3.Connection,
    execution_id: int,
    number: int,
    new_status: ExecutionStatus | None,
    amc_execution_id: str | None,
    error_category: ErrorCategory | None,
    error_message: str | None,
    retry_delay: float | None,
) -> Execution:
    """End attempt ``number`` and, if ``new_status`` is given, move the execution."""
    now = to_db_time(utc_now())
    with write_transaction(conn):
        _status_of(conn, execution_id)  # an unknown execution is named as such
        _close_attempt(conn, execution_id, number, error_category, error_message, retry_delay, now)
        if new_status is not None:
            _move(
                conn,
                execution_id,
                new_status,
                amc_execution_id,
                error_category,
                error_message,
                now,
            )
        return _stored(conn, execution_id)


_CANCEL_QUEUED = """
UPDATE executions SET status = ?, updated_at = ?, finished_at = ?
WHERE batch_id = ? AND status = ?
RETURNING id
"""

_LIST_IDS = """
SELECT * FROM executions WHERE id IN (SELECT value FROM json_each(?))
ORDER BY instance_name COLLATE NOCASE, instance_name, id
"""


def cancel_queued(conn: sqlite3.Connection, batch_id: str) -> list[Execution]:
    """Every QUEUED execution of the batch becomes CANCELLED; return those, by name."""
    check_execution_transition(ExecutionStatus.QUEUED, ExecutionStatus.CANCELLED)
    now = to_db_time(utc_now())
    with write_transaction(conn):
        if conn.execute("SELECT 1 FROM batches WHERE id = ?", (batch_id,)).fetchone() is None:
            raise StoreError(f"There is no batch {batch_id} in the history")
        cancelled = ExecutionStatus.CANCELLED.value
        queued = ExecutionStatus.QUEUED.value
        ids = [
            int(row[0])
            for row in conn.execute(_CANCEL_QUEUED, (cancelled, now, now, batch_id, queued))
        ]
        if not ids:
            return []
        return [row_to_execution(r) for r in conn.execute(_LIST_IDS, (json.dumps(ids),))]
