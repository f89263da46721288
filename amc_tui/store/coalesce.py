"""The engine's writes as data, and many of them run as one statement per kind.

The engine's busiest writes (:func:`~amc_tui.store.executions.transition_execution`,
:func:`~amc_tui.store.executions.start_attempt` and
:func:`~amc_tui.store.executions.finish_attempt` with a new status) reach the worker as
a :class:`MergeableWrite`: what to do, not a closure.  Called with the connection, one
runs exactly as before.  When a commit group holds several, the worker
(:mod:`amc_tui.store.worker`) hands them to :func:`run_merged`, which runs the writes of
one kind and target status as ONE ``UPDATE ... RETURNING`` over all their executions
(and one ``executemany`` for their attempt rows) instead of one statement and one
savepoint each: SQLite's cost per row is a fraction of its cost per statement.

Only writes to distinct executions are merged (:func:`plan` cuts the group before an
execution seen twice, and at every other write), so merging never reorders two writes
to one row.  A write whose row the merged UPDATE did not return (a move the state
machine refuses, an unknown execution) changed nothing; it is run again alone (in its
own savepoint, after the merged statements), so it gets exactly the answer it would
have had alone.  Anything unexpected raises :class:`MergeFailed` (or SQLite's error),
and the worker undoes the merged writes and runs them one by one.
"""

from __future__ import annotations

import enum
import functools
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from amc_tui.domain import Execution, ExecutionStatus, utc_now
from amc_tui.errors import ErrorCategory
from amc_tui.store import executions
from amc_tui.store.codec import EXECUTION_COLUMNS, new_attempt, row_to_execution, to_db_time


class Kind(enum.Enum):
    """Which of the engine's writes a :class:`MergeableWrite` is."""

    MOVE = "transition_execution"
    START = "start_attempt"
    FINISH = "finish_attempt"


@dataclass(slots=True, eq=False)
class MergeableWrite:
    """One of the engine's writes, as data; calling it runs it alone, as before."""

    kind: Kind
    execution_id: int
    new_status: ExecutionStatus
    amc_execution_id: str | None = None
    error_category: ErrorCategory | None = None
    error_message: str | None = None
    number: int = 0  # FINISH: the attempt ended
    retry_delay: float | None = None  # FINISH

    def __call__(self, conn: sqlite3.Connection) -> object:
        if self.kind is Kind.START:
            return executions.start_attempt(conn, self.execution_id)
        if self.kind is Kind.FINISH:
            return executions.finish_attempt(
                conn,
                self.execution_id,
                self.number,
                self.new_status,
                self.amc_execution_id,
                self.error_category,
                self.error_message,
                self.retry_delay,
            )
        return executions.transition_execution(
            conn,
            self.execution_id,
            self.new_status,
            self.amc_execution_id,
            self.error_category,
            self.error_message,
        )

    @property
    def key(self) -> tuple[Kind, ExecutionStatus, bool, bool, bool]:
        """Writes with the same key share one statement."""
        return (
            self.kind,
            self.new_status,
            self.amc_execution_id is not None,
            self.error_category is not None,
            self.error_message is not None,
        )


class MergeFailed(Exception):
    """The merged writes met something unexpected: undo them, run them one by one."""


def plan(works: Sequence[Callable[[sqlite3.Connection], Any]]) -> list[list[int]]:
    """Cut a group's writes (by index, in order) into units run one after the other.

    A unit of several indexes is a run of :class:`MergeableWrite` to distinct
    executions, to be merged; every other write is a unit alone.
    """
    units: list[list[int]] = []
    run: list[int] = []
    seen: set[int] = set()

    def flush() -> None:
        if len(run) > 1:
            units.append(run.copy())
        else:
            units.extend([i] for i in run)
        run.clear()
        seen.clear()

    for index, work in enumerate(works):
        if not isinstance(work, MergeableWrite):
            flush()
            units.append([index])
            continue
        if work.execution_id in seen:
            flush()
        run.append(index)
        seen.add(work.execution_id)
    flush()
    return units


Outcome = tuple[object, Exception | None]


def run_merged(conn: sqlite3.Connection, writes: Sequence[MergeableWrite]) -> list[Outcome]:
    """Run ``writes`` (to distinct executions) merged; each one's result or error.

    Must run inside the worker's transaction and savepoint: on an exception, the
    caller rolls back every write of ``writes``.
    """
    started = utc_now()
    now = to_db_time(started)
    by_key: dict[tuple[Kind, ExecutionStatus, bool, bool, bool], list[int]] = {}
    for index, write in enumerate(writes):
        by_key.setdefault(write.key, []).append(index)
    outcomes: dict[int, Outcome | None] = {}
    for indexes in by_key.values():
        same = [writes[i] for i in indexes]
        if same[0].kind is Kind.START:
            results = _start(conn, same, started, now)
        else:
            results = _move(conn, same, now)
        outcomes.update(zip(indexes, results, strict=True))
    # A write whose row the merged statement did not return (None) runs alone.
    return [outcomes[i] or _alone(conn, w) for i, w in enumerate(writes)]


def _alone(conn: sqlite3.Connection, write: MergeableWrite) -> Outcome:
    """Run ``write`` alone (its own write_transaction nests a savepoint)."""
    try:
        return write(conn), None
    except Exception as exc:
        if not conn.in_transaction:  # SQLite abandoned the transaction: all is lost
            raise
        return None, exc


def _ids(writes: Sequence[MergeableWrite]) -> str:
    return json.dumps([w.execution_id for w in writes])


def _returned(rows: list[sqlite3.Row]) -> dict[int, Execution]:
    executions_by_id: dict[int, Execution] = {}
    for row in rows:
        execution = row_to_execution(row)
        assert execution.id is not None
        executions_by_id[execution.id] = execution
    return executions_by_id


_START = executions._START.replace("WHERE id = ?", "WHERE id IN (SELECT value FROM json_each(?))")


def _start(
    conn: sqlite3.Connection, writes: Sequence[MergeableWrite], started: Any, now: str
) -> list[Outcome | None]:
    """SUBMITTING with one attempt more, then the attempt rows: two statements."""
    moved = _returned(conn.execute(_START, (now, now, _ids(writes))).fetchall())
    conn.executemany(executions._ADD_ATTEMPT, [(e.id, e.attempts, now) for e in moved.values()])
    results: list[Outcome | None] = []
    for write in writes:
        execution = moved.get(write.execution_id)
        if execution is None:
            results.append(None)
        else:
            results.append(((execution, new_attempt(execution.attempts, started)), None))
    return results


@functools.cache
def _move_sql(
    new_status: ExecutionStatus, with_amc_id: bool, with_category: bool, with_message: bool
) -> str:
    """The UPDATE of one move of many executions, each with its own optional values.

    Parameters: the status, the time, and a JSON array: of ``[id, amc id, error
    category, error message]`` if any optional value is given, else of the ids.
    """
    times, optional = executions.moved_columns(new_status, with_amc_id, with_category, with_message)
    sets = ["status = ?1", "updated_at = ?2", *(f"{name} = ?2" for name in times)]
    for position, (name, given) in enumerate(optional, start=1):
        if given:
            sets.append(f"{name} = json_extract(w.value, '$[{position}]')")
    sources = executions._sql_list(executions._sources(new_status))
    if any(given for _, given in optional):  # each row its own values: join the array
        rows = "FROM json_each(?3) AS w WHERE executions.id = json_extract(w.value, '$[0]')"
    else:  # only ids (measured cheaper than the join)
        rows = "WHERE id IN (SELECT value FROM json_each(?3))"
    return (
        f"UPDATE executions SET {', '.join(sets)} {rows} "  # noqa: S608 (constants)
        f"AND status IN ({sources}) RETURNING {EXECUTION_COLUMNS}"
    )


_CLOSE = executions._CLOSE_ATTEMPT


def _move(
    conn: sqlite3.Connection, writes: Sequence[MergeableWrite], now: str
) -> list[Outcome | None]:
    """The moves (and, for FINISH, the attempts ended): one statement each."""
    first = writes[0]
    _, with_amc, with_category, with_message = first.key[1:]
    sql = _move_sql(first.new_status, with_amc, with_category, with_message)
    if with_amc or with_category or with_message:
        values = json.dumps(
            [
                [
                    w.execution_id,
                    w.amc_execution_id,
                    w.error_category.value if w.error_category else None,
                    w.error_message,
                ]
                for w in writes
            ]
        )
    else:
        values = _ids(writes)
    moved = _returned(conn.execute(sql, (first.new_status.value, now, values)).fetchall())
    if first.kind is Kind.FINISH:
        closing = [
            (
                now,
                w.error_category.value if w.error_category else None,
                w.error_message,
                w.retry_delay,
                w.execution_id,
                w.number,
            )
            for w in writes
            if w.execution_id in moved
        ]
        if conn.executemany(_CLOSE, closing).rowcount != len(closing):
            raise MergeFailed("an attempt to end was unknown or already ended")
    return [(moved[w.execution_id], None) if w.execution_id in moved else None for w in writes]
