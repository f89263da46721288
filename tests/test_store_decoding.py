"""What the store's write path rests on for its speed (docs/performance.md, section 1).

- Executions and attempts are built from rows without pydantic's validation
  (:mod:`amc_tui.store.codec`): for every status, and every optional value present or
  absent, the model built must equal the one pydantic validates from the same row,
  field by field and type by type.
- A write of a group costs a fixed, small number of statements: counted here from
  SQLite's own trace of the worker's connection.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from store_support import stored_batch
from test_store_group_commit import ids_of, worker_held

from amc_tui.domain import Attempt, Execution, ExecutionStatus
from amc_tui.errors import ErrorCategory
from amc_tui.store import HistoryStore
from amc_tui.store.codec import ATTEMPT_COLUMNS, EXECUTION_COLUMNS
from amc_tui.store.schema import load_migrations

S = ExecutionStatus
BURST = 20


def raw_rows(conn: sqlite3.Connection, sql: str, *params: object) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def validated_execution(row: dict[str, Any]) -> Execution:
    """The execution pydantic validates from a row (an unknown category is INTERNAL)."""
    values = dict(row)
    if values["error_category"] not in {c.value for c in ErrorCategory} | {None}:
        values["error_category"] = ErrorCategory.INTERNAL
    return Execution.model_validate(values)


def assert_same_model(built: Execution | Attempt, validated: Execution | Attempt) -> None:
    assert built == validated
    assert built.model_fields_set == validated.model_fields_set
    assert built.model_dump() == validated.model_dump()
    assert built.model_dump_json() == validated.model_dump_json()
    for name in type(validated).model_fields:
        assert type(getattr(built, name)) is type(getattr(validated, name)), name


async def test_executions_built_from_rows_equal_validated_ones(store: HistoryStore) -> None:
    statuses = list(S)
    batch = await stored_batch(store, [f"instance {n}" for n in range(2 * len(statuses))])
    ids = ids_of(batch)
    other = sqlite3.connect(store.path, isolation_level=None)
    try:
        # Every status twice: once with every optional value set, once with none.
        for index, status in enumerate(statuses):
            full, bare = ids[2 * index], ids[2 * index + 1]
            other.execute(
                "UPDATE executions SET status = ?, amc_execution_id = ?, attempts = ?,"
                " error_category = ?, error_message = ?, submitted_at = ?, finished_at = ?"
                " WHERE id = ?",
                (
                    status.value,
                    f"amc-{full}",
                    3,
                    # A category this amc-tui does not know reads as INTERNAL.
                    "from-a-newer-amc-tui" if index == 0 else ErrorCategory.THROTTLED.value,
                    "it failed",
                    "2026-01-02T03:04:05.000006Z",
                    "2026-01-02T03:04:07.123456Z",
                    full,
                ),
            )
            other.execute("UPDATE executions SET status = ? WHERE id = ?", (status.value, bare))
        rows = raw_rows(other, "SELECT * FROM executions WHERE batch_id = ?", batch.id)
    finally:
        other.close()

    stored = {e.id: e for e in await store.list_executions(batch.id)}
    assert len(rows) == len(stored) == 2 * len(statuses)
    for row in rows:
        assert_same_model(stored[row["id"]], validated_execution(row))
    assert {e.status for e in stored.values()} == set(statuses)
    # Each model has its own set of fields (pydantic adds to it on assignment).
    first, second = stored[ids[0]], stored[ids[1]]
    assert first.model_fields_set is not second.model_fields_set


async def test_the_engine_writes_return_what_pydantic_would_validate(
    store: HistoryStore,
) -> None:
    batch = await stored_batch(store, ["a", "b"])
    first, second = ids_of(batch)
    execution, attempt = await store.start_attempt(first)
    failed_try = await store.finish_attempt(
        first,
        attempt.number,
        error_category=ErrorCategory.THROTTLED,
        error_message="throttled",
        retry_delay=2,
    )
    _, retry = await store.start_attempt(first)
    pending = await store.finish_attempt(
        first, retry.number, new_status=S.PENDING, amc_execution_id="amc-1"
    )
    running = await store.transition_execution(first, S.RUNNING)
    failed = await store.transition_execution(
        first, S.FAILED, error_category=ErrorCategory.QUERY_FAILED, error_message="bad SQL"
    )
    begun = await store.begin_attempt(second)
    ended = await store.end_attempt(second, begun.number, retry_delay=0.5)

    other = sqlite3.connect(store.path)
    try:
        executions = {
            r["id"]: r
            for r in raw_rows(
                other,
                f"SELECT {EXECUTION_COLUMNS} FROM executions",
            )
        }
        attempts = raw_rows(
            other,
            f"SELECT {ATTEMPT_COLUMNS} FROM attempts ORDER BY execution_id, number",
        )
    finally:
        other.close()

    assert_same_model(failed, validated_execution(executions[first]))
    for returned in (execution, failed_try, pending, running):
        assert type(returned) is Execution
        assert returned.id == first
    assert [a.number for a in (attempt, retry, begun)] == [1, 2, 1]
    stored_attempts = [
        *await store.list_attempts(first),
        *await store.list_attempts(second),
    ]
    assert len(stored_attempts) == len(attempts) == 3
    for built, row in zip(stored_attempts, attempts, strict=True):
        assert_same_model(built, Attempt.model_validate(row))
    assert_same_model(ended, Attempt.model_validate(attempts[2]))
    # The attempts returned when begun equal the rows as they were then.
    assert attempt.started_at == stored_attempts[0].started_at
    assert (begun.number, begun.started_at, begun.finished_at) == (
        1,
        stored_attempts[2].started_at,
        None,
    )


def test_a_row_is_decoded_by_position_in_the_tables_order() -> None:
    """``SELECT *`` and :data:`EXECUTION_COLUMNS` give the same row to the decoder."""
    conn = sqlite3.connect(":memory:")
    try:
        for migration in load_migrations():
            for statement in migration.statements():
                conn.execute(statement)
        star = [d[1] for d in conn.execute("PRAGMA table_info(executions)")]
    finally:
        conn.close()
    assert star[:14] == [c.strip() for c in EXECUTION_COLUMNS.split(",")]


async def statements_of_a_burst(store: HistoryStore, make_write: Any, ids: list[int]) -> list[str]:
    """The SQL the worker ran for a burst of writes (one per id) held to one group."""
    seen: list[str] = []

    def trace(conn: sqlite3.Connection) -> None:
        conn.set_trace_callback(seen.append)

    await store._read(trace)
    try:
        async with worker_held(store):
            tasks = [asyncio.create_task(make_write(i)) for i in ids]
        await asyncio.gather(*tasks)
    finally:
        await store._read(lambda conn: conn.set_trace_callback(None))
    return [" ".join(s.split()) for s in seen]


def kinds(statements: list[str]) -> list[str]:
    return [s.split(" ")[0].upper() for s in statements]


async def test_a_group_of_writes_runs_few_statements_per_write(store: HistoryStore) -> None:
    batch = await stored_batch(store, [f"instance {n:02d}" for n in range(BURST)])
    ids = ids_of(batch)
    commits = store.commit_count

    started = await statements_of_a_burst(store, store.start_attempt, ids)
    # One BEGIN and one COMMIT for the group; the writes, all of one kind, are merged
    # (amc_tui.store.coalesce) in one savepoint: ONE UPDATE (returning the executions)
    # and the attempts' INSERTs (one executemany, nothing read back).
    assert kinds(started) == [
        "BEGIN",
        "SAVEPOINT",
        "UPDATE",
        *["INSERT"] * BURST,
        "RELEASE",
        "COMMIT",
    ]
    assert not [s for s in started if s.startswith("INSERT") and "RETURNING" in s.upper()]

    async def to_pending(execution_id: int) -> Execution:
        return await store.finish_attempt(
            execution_id, 1, new_status=S.PENDING, amc_execution_id=f"amc-{execution_id}"
        )

    finished = await statements_of_a_burst(store, to_pending, ids)
    # ONE UPDATE of the executions, then the attempts ended (one executemany).
    assert kinds(finished) == [
        "BEGIN",
        "SAVEPOINT",
        "UPDATE",
        *["UPDATE"] * BURST,
        "RELEASE",
        "COMMIT",
    ]

    async def to_running(execution_id: int) -> Execution:
        return await store.transition_execution(execution_id, S.RUNNING)

    moved = await statements_of_a_burst(store, to_running, ids)
    assert kinds(moved) == ["BEGIN", "SAVEPOINT", "UPDATE", "RELEASE", "COMMIT"]
    assert store.commit_count == commits + 3
