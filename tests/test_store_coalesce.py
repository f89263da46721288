"""The engine's writes merged in a commit group (amc_tui.store.coalesce).

A group of writes of one kind runs as one statement per kind; a write the state
machine refuses gets its own error and changes nothing while the others succeed; two
writes to one execution keep their order; and what merged writes return and leave in
the file is what the same writes one by one return and leave.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from store_support import stored_batch
from test_store_decoding import kinds, statements_of_a_burst
from test_store_group_commit import ids_of, worker_held

from amc_tui.domain import ExecutionStatus
from amc_tui.errors import ErrorCategory, IllegalTransitionError, StoreError
from amc_tui.store import HistoryStore

S = ExecutionStatus
NAMES = [f"instance {n:02d}" for n in range(8)]
TIME_COLUMNS = ("updated_at", "submitted_at", "finished_at", "started_at")
RANDOM = ("created_at", "batch_id", "instance_uuid")  # differ by file
# Of a time, only whether it is set is compared (its value differs by run).


def file_contents(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The executions and attempts of the file, without what differs by file."""
    conn = sqlite3.connect(path)
    try:
        tables = {}
        for table, order in (("executions", "id"), ("attempts", "execution_id, number")):
            cursor = conn.execute(f"SELECT * FROM {table} ORDER BY {order}")
            names = [d[0] for d in cursor.description]
            keep = [i for i, n in enumerate(names) if n not in RANDOM]
            timed = {i for i, n in enumerate(names) if n in TIME_COLUMNS}
            tables[table] = [
                tuple(row[i] is not None if i in timed else row[i] for i in keep) for row in cursor
            ]
        return tables
    finally:
        conn.close()


Step = Callable[[HistoryStore, int], Awaitable[Any]]


async def run_steps(store: HistoryStore, steps: list[tuple[Step, int]], merged: bool) -> list[Any]:
    """Each step's result or exception: all in one held group, or one at a time."""
    if not merged:
        results: list[Any] = []
        for step, execution_id in steps:
            try:
                results.append(await step(store, execution_id))
            except Exception as exc:
                results.append(exc)
        return results
    async with worker_held(store):
        tasks = [asyncio.create_task(step(store, i)) for step, i in steps]
    return list(await asyncio.gather(*tasks, return_exceptions=True))


def comparable(result: Any) -> Any:
    """A result with its times left out; an exception as its type and message."""
    if isinstance(result, BaseException):
        return (type(result), str(result))
    if isinstance(result, tuple):
        return tuple(comparable(r) for r in result)
    values = result.model_dump()
    for name in RANDOM:
        values.pop(name, None)
    for name in TIME_COLUMNS:
        if name in values:
            values[name] = values[name] is not None
    return values


async def both_ways(tmp_path: Path, plan: Callable[[list[int]], list[tuple[Step, int]]]) -> Any:
    """Run the steps merged and one by one, on two equal files; both outcomes."""
    outcomes = []
    for merged in (True, False):
        path = tmp_path / f"{'merged' if merged else 'alone'}.db"
        async with await HistoryStore.open(path) as store:
            ids = ids_of(await stored_batch(store, NAMES))
            results = await run_steps(store, plan(ids), merged)
        outcomes.append(([comparable(r) for r in results], file_contents(path)))
    return outcomes


def start(store: HistoryStore, i: int) -> Awaitable[Any]:
    return store.start_attempt(i)


def to(status: ExecutionStatus, **given: Any) -> Step:
    return lambda store, i: store.transition_execution(i, status, **given)


def finish(status: ExecutionStatus, **given: Any) -> Step:
    return lambda store, i: store.finish_attempt(i, 1, new_status=status, **given)


async def test_a_group_of_one_kind_runs_one_update(store: HistoryStore) -> None:
    ids = ids_of(await stored_batch(store, NAMES))
    await asyncio.gather(*(store.start_attempt(i) for i in ids))
    for i in ids:
        await store.finish_attempt(i, 1, new_status=S.PENDING, amc_execution_id=f"a{i}")
    seen = await statements_of_a_burst(
        store, lambda i: store.transition_execution(i, S.RUNNING), ids
    )
    assert kinds(seen).count("UPDATE") == 1
    assert "json_each" in next(s for s in seen if s.startswith("UPDATE"))
    assert all(e.status is S.RUNNING for e in await store.list_executions(await batch_id(store)))


async def batch_id(store: HistoryStore) -> str:
    return (await store.list_batches())[0].id


async def test_a_refused_write_in_a_merged_group_fails_alone(tmp_path: Path) -> None:
    def plan(ids: list[int]) -> list[tuple[Step, int]]:
        # ids[2] is QUEUED: RUNNING is refused; 999 is unknown.
        return [
            (to(S.CANCELLED), ids[0]),
            (to(S.RUNNING), ids[2]),
            (to(S.CANCELLED), ids[1]),
            (to(S.CANCELLED), 999),
        ]

    merged, alone = await both_ways(tmp_path, plan)
    assert merged == alone
    results = merged[0]
    assert results[1][0] is IllegalTransitionError
    assert results[3][0] is StoreError
    assert results[0]["status"] is S.CANCELLED
    assert results[2]["status"] is S.CANCELLED


async def test_two_writes_to_one_execution_in_a_group_keep_their_order(tmp_path: Path) -> None:
    def plan(ids: list[int]) -> list[tuple[Step, int]]:
        return [
            (start, ids[0]),
            (start, ids[1]),
            (finish(S.PENDING, amc_execution_id="x"), ids[0]),  # after its start
            (to(S.RUNNING), ids[0]),
            (to(S.SUCCEEDED), ids[0]),
            (to(S.CANCELLED), ids[2]),
            (to(S.CANCELLED), ids[2]),  # the second one is refused
        ]

    merged, alone = await both_ways(tmp_path, plan)
    assert merged == alone
    assert merged[0][4]["status"] is S.SUCCEEDED
    assert merged[0][6][0] is IllegalTransitionError


@pytest.mark.parametrize("target", list(ExecutionStatus))
async def test_merged_results_equal_those_one_by_one_for_every_status(
    tmp_path: Path, target: ExecutionStatus
) -> None:
    def plan(ids: list[int]) -> list[tuple[Step, int]]:
        first = [(start, i) for i in ids[:6]]  # ids[6:] stay QUEUED
        given = {
            "amc_execution_id": "amc-1",
            "error_category": ErrorCategory.THROTTLED,
            "error_message": "slow down",
        }
        return [
            *first,
            (to(target), ids[0]),
            (to(target, **given), ids[1]),
            (finish(target), ids[2]),
            (finish(target, **given), ids[3]),
            (to(target, amc_execution_id="amc-4"), ids[4]),
            (finish(target, error_message="only this"), ids[5]),
            (to(target), ids[6]),
            (to(target, **given), ids[7]),
        ]

    merged, alone = await both_ways(tmp_path, plan)
    assert merged == alone


async def test_an_unknown_attempt_in_a_merged_group_fails_alone(tmp_path: Path) -> None:
    """The merged writes are undone and run one by one (MergeFailed): same outcome."""

    def ninth(store: HistoryStore, i: int) -> Awaitable[Any]:
        return store.finish_attempt(i, 9, new_status=S.PENDING, amc_execution_id="x")

    def plan(ids: list[int]) -> list[tuple[Step, int]]:
        starts = [(start, i) for i in ids[:3]]
        return [
            *starts,
            (finish(S.PENDING, amc_execution_id="a"), ids[0]),
            (ninth, ids[1]),
            (finish(S.PENDING, amc_execution_id="c"), ids[2]),
        ]

    merged, alone = await both_ways(tmp_path, plan)
    assert merged == alone
    assert merged[0][4] == (StoreError, "Execution 2 has no attempt 9 in the history")
    assert merged[0][5]["amc_execution_id"] == "c"
