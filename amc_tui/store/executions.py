"""The SQL of executions and their attempts, as plain synchronous functions.

Each function takes the store's connection and runs on the store's worker thread
(:class:`~amc_tui.store.history.HistoryStore` calls them; nothing else should).  Every
write runs inside one :func:`~amc_tui.store.database.write_transaction`, so a state
change is checked against the state machine (:data:`~amc_tui.domain.EXECUTION_TRANSITIONS`)
and applied whole or not at all; the worker commits it (:mod:`amc_tui.store.worker`).
The engine's writes are few statements each (the check is in the UPDATE's WHERE
clause, the row comes back with RETURNING), since they are the store's busiest path.

The engine's combined writes live here too: :func:`start_attempt` (move to SUBMITTING
and begin an attempt) and :func:`finish_attempt` (end an attempt and maybe move the
execution), each one transaction, so one state change costs one commit.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Collection
from datetime import datetime
from typing import cast

from amc_tui.domain import (
    EXECUTION_TRANSITIONS,
    Attempt,
    Execution,
    ExecutionStatus,
    check_execution_transition,
    utc_now,
)
from amc_tui.errors import ErrorCategory, StoreError
from amc_tui.store.codec import (
    ATTEMPT_COLUMNS,
    EXECUTION_COLUMNS,
    new_attempt,
    row_to_attempt,
    row_to_execution,
    to_db_time,
)
from amc_tui.store.database import write_transaction

# --- reads -----------------------------------------------------------------------------

# The columns are named (constants of the codec, which decodes by position).
_SELECT = f"SELECT {EXECUTION_COLUMNS} FROM executions"  # noqa: S608 (constant column names)
_SELECT_ONE = f"{_SELECT} WHERE id = ?"
_SELECT_ATTEMPTS = f"SELECT {ATTEMPT_COLUMNS} FROM attempts"  # noqa: S608 (constant column names)
_LIST_ATTEMPTS = f"{_SELECT_ATTEMPTS} WHERE execution_id = ? ORDER BY number"
_SELECT_ATTEMPT = f"{_SELECT_ATTEMPTS} WHERE execution_id = ? AND number = ?"


def get_execution(conn: sqlite3.Connection, execution_id: int) -> Execution | None:
    row = conn.execute(_SELECT_ONE, (execution_id,)).fetchone()
    return None if row is None else row_to_execution(row)


def find_execution(conn: sqlite3.Connection, amc_execution_id: str) -> Execution | None:
    row = conn.execute(
        f"{_SELECT} WHERE amc_execution_id = ? ORDER BY id DESC LIMIT 1",
        (amc_execution_id,),
    ).fetchone()
    return None if row is None else row_to_execution(row)


# A batch's executions are always listed by instance name.
_BY_NAME = "ORDER BY instance_name COLLATE NOCASE, instance_name, id"
_LIST_ALL = f"{_SELECT} WHERE batch_id = ? {_BY_NAME}"
_IN_JSON = "IN (SELECT value FROM json_each(?))"
_LIST_IN = f"{_SELECT} WHERE batch_id = ? AND status {_IN_JSON} {_BY_NAME}"


def latest_by_instance(
    conn: sqlite3.Connection, instance_uuids: Collection[str]
) -> dict[str, Execution]:
    """Each instance's most recent execution (of any batch), by instance UUID text."""
    latest: dict[str, Execution] = {}
    for instance_uuid in instance_uuids:
        row = conn.execute(
            f"{_SELECT} WHERE instance_uuid = ? ORDER BY created_at DESC LIMIT 1",
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
    return [row_to_attempt(r) for r in conn.execute(_LIST_ATTEMPTS, (execution_id,))]


def _get_attempt(conn: sqlite3.Connection, execution_id: int, number: int) -> Attempt:
    row = conn.execute(_SELECT_ATTEMPT, (execution_id, number)).fetchone()
    return row_to_attempt(row)


def _stored(conn: sqlite3.Connection, execution_id: int) -> Execution:
    execution = get_execution(conn, execution_id)
    assert execution is not None
    return execution


# --- the steps writes are made of (inside a transaction) -------------------------------
#
# On the engine's path each step is one statement: the state machine is checked in the
# UPDATE's WHERE clause (the statuses a move may start from, taken from
# EXECUTION_TRANSITIONS), and RETURNING gives the row back.  Only when no row matched
# is the stored status read, to raise the error the check would have raised.


def _status_of(conn: sqlite3.Connection, execution_id: int) -> tuple[ExecutionStatus, int]:
    """The stored status and attempt count; StoreError for an unknown execution."""
    row = conn.execute(
        "SELECT status, attempts FROM executions WHERE id = ?", (execution_id,)
    ).fetchone()
    if row is None:
        raise StoreError(f"There is no execution {execution_id} in the history")
    return ExecutionStatus(row["status"]), int(row["attempts"])


def _refused(conn: sqlite3.Connection, execution_id: int, new_status: ExecutionStatus) -> Exception:
    """Why no row matched a move to ``new_status``: an unknown execution, or a move the
    state machine does not allow (raised from here)."""
    old, _ = _status_of(conn, execution_id)
    check_execution_transition(old, new_status)
    return StoreError(f"Execution {execution_id} could not be moved from {old} to {new_status}")


def _sql_list(statuses: Collection[ExecutionStatus]) -> str:
    return ", ".join(f"'{s.value}'" for s in sorted(statuses)) or "NULL"


def _sources(new_status: ExecutionStatus) -> list[ExecutionStatus]:
    """The statuses an execution may move to ``new_status`` from."""
    return [old for old, news in EXECUTION_TRANSITIONS.items() if new_status in news]


def moved_columns(
    new_status: ExecutionStatus, with_amc_id: bool, with_category: bool, with_message: bool
) -> tuple[list[str], list[tuple[str, bool]]]:
    """What a move sets besides ``status`` and ``updated_at``: the columns set to its
    time, and each optional column with whether a value is given (in argument order)."""
    times = []
    if new_status is ExecutionStatus.SUBMITTING:
        times.append("submitted_at")
    if new_status.is_terminal:
        times.append("finished_at")
    optional = [
        ("amc_execution_id", with_amc_id),
        ("error_category", with_category),
        ("error_message", with_message),
    ]
    return times, optional


@functools.cache
def _move_sql(
    new_status: ExecutionStatus, with_amc_id: bool, with_category: bool, with_message: bool
) -> str:
    """The UPDATE of one move, setting only the columns it changes.

    (Measured a little cheaper for SQLite than one statement for every move that keeps
    the other columns with CASE and coalesce().)  The flags say which optional values
    are given; the parameters are the status, the time (once per time column), each
    value given, then the execution id.  The WHERE clause allows only the statuses the
    state machine lets the move start from; it returns the updated row, or no row.
    """
    times, optional = moved_columns(new_status, with_amc_id, with_category, with_message)
    columns = ["status", "updated_at", *times, *(name for name, given in optional if given)]
    sets = ", ".join(f"{name} = ?" for name in columns)
    sources = _sql_list(_sources(new_status))
    return (
        f"UPDATE executions SET {sets} "  # noqa: S608 (column names and statuses: constants)
        f"WHERE id = ? AND status IN ({sources}) RETURNING {EXECUTION_COLUMNS}"
    )


def _move(
    conn: sqlite3.Connection,
    execution_id: int,
    new_status: ExecutionStatus,
    amc_execution_id: str | None,
    error_category: ErrorCategory | None,
    error_message: str | None,
    now: str,
) -> sqlite3.Row:
    """Apply ``old -> new_status`` if the state machine allows it; the updated row.

    ``submitted_at`` is set on entering SUBMITTING and ``finished_at`` on entering a
    terminal status; the AMC id and the error are set when given (None keeps them).
    """
    sql = _move_sql(
        new_status,
        amc_execution_id is not None,
        error_category is not None,
        error_message is not None,
    )
    params: list[object] = [new_status.value, now]
    if new_status is ExecutionStatus.SUBMITTING:
        params.append(now)
    if new_status.is_terminal:
        params.append(now)
    if amc_execution_id is not None:
        params.append(amc_execution_id)
    if error_category is not None:
        params.append(error_category.value)
    if error_message is not None:
        params.append(error_message)
    params.append(execution_id)
    rows = conn.execute(sql, params).fetchall()
    if not rows:
        raise _refused(conn, execution_id, new_status)
    return cast(sqlite3.Row, rows[0])


_START_TEMPLATE = """
UPDATE executions SET
    status = '{submitting}',
    updated_at = ?,
    submitted_at = CASE WHEN status = '{submitting}' THEN submitted_at ELSE ? END,
    attempts = attempts + 1
WHERE id = ? AND status IN ({sources})
RETURNING {columns}
"""
_START = _START_TEMPLATE.format(
    submitting=ExecutionStatus.SUBMITTING.value,
    columns=EXECUTION_COLUMNS,
    sources=_sql_list({ExecutionStatus.SUBMITTING, *_sources(ExecutionStatus.SUBMITTING)}),
)
"""SUBMITTING (entered, or kept by a retry) with one attempt more, in one statement."""

_COUNT_ATTEMPT = "UPDATE executions SET attempts = attempts + 1, updated_at = ? WHERE id = ?"

_ADD_ATTEMPT = "INSERT INTO attempts (execution_id, number, started_at) VALUES (?, ?, ?)"


def _add_attempt(
    conn: sqlite3.Connection, execution_id: int, number: int, started: datetime, now: str
) -> Attempt:
    """Insert attempt ``number`` (already counted on the execution), started now
    (``started``, stored as ``now``); the attempt is known without reading it back."""
    conn.execute(_ADD_ATTEMPT, (execution_id, number, now))
    return new_attempt(number, started)


_CLOSE_ATTEMPT = """
UPDATE attempts SET finished_at = ?, error_category = ?, error_message = ?, retry_delay = ?
WHERE execution_id = ? AND number = ? AND finished_at IS NULL
"""


def _close_attempt(
    conn: sqlite3.Connection,
    execution_id: int,
    number: int,
    error_category: ErrorCategory | None,
    error_message: str | None,
    retry_delay: float | None,
    now: str,
) -> None:
    """Mark attempt ``number`` ended; StoreError if the execution or the attempt is
    unknown, or the attempt already ended."""
    closed = conn.execute(
        _CLOSE_ATTEMPT,
        (
            now,
            error_category.value if error_category else None,
            error_message,
            retry_delay,
            execution_id,
            number,
        ),
    ).rowcount
    if closed == 1:
        return
    _status_of(conn, execution_id)  # an unknown execution is named as such
    row = conn.execute(
        "SELECT finished_at FROM attempts WHERE execution_id = ? AND number = ?",
        (execution_id, number),
    ).fetchone()
    if row is None:
        raise StoreError(f"Execution {execution_id} has no attempt {number} in the history")
    raise StoreError(f"Attempt {number} of execution {execution_id} has already ended")


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
        row = _move(
            conn, execution_id, new_status, amc_execution_id, error_category, error_message, now
        )
        return row_to_execution(row)


def begin_attempt(conn: sqlite3.Connection, execution_id: int) -> Attempt:
    started = utc_now()
    now = to_db_time(started)
    with write_transaction(conn):
        _, attempts = _status_of(conn, execution_id)
        conn.execute(_COUNT_ATTEMPT, (now, execution_id))
        return _add_attempt(conn, execution_id, attempts + 1, started, now)


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
    started = utc_now()
    now = to_db_time(started)
    with write_transaction(conn):
        rows = conn.execute(_START, (now, now, execution_id)).fetchall()
        if not rows:
            raise _refused(conn, execution_id, ExecutionStatus.SUBMITTING)
        execution = row_to_execution(rows[0])
        return execution, _add_attempt(conn, execution_id, execution.attempts, started, now)


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
        _close_attempt(conn, execution_id, number, error_category, error_message, retry_delay, now)
        if new_status is None:
            return _stored(conn, execution_id)
        row = _move(
            conn, execution_id, new_status, amc_execution_id, error_category, error_message, now
        )
        return row_to_execution(row)


_CANCEL_QUEUED = """
UPDATE executions SET status = ?, updated_at = ?, finished_at = ?
WHERE batch_id = ? AND status = ?
RETURNING id
"""

_LIST_IDS = f"{_SELECT} WHERE id {_IN_JSON} {_BY_NAME}"


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
