"""Every read the screens and commands make reaches its rows through an index.

The history of an operator with years of batches (issue 6: 10,000 batches, 500,000
executions) stays fast only if no read walks a whole table.  :mod:`amc_tui.store.plans`
records the statements a read runs and asks SQLite for their plans; these tests run
the store's real read functions on a real history file and assert the plans.  Timings
are the benchmark's (``bench/history_scale.py``), not these tests'.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from store_support import make_batch

from amc_tui.domain import BatchStatus, ExecutionStatus, utc_now
from amc_tui.store import executions, queries
from amc_tui.store.database import connect_read_only
from amc_tui.store.history import HistoryStore
from amc_tui.store.plans import Plan, explain, plans_of

Read = Callable[[sqlite3.Connection], object]


@pytest.fixture
async def history_file(tmp_path: Path) -> tuple[Path, str]:
    """A small real history: 30 batches of three executions; the newest batch's id."""
    path = tmp_path / "history.db"
    newest = ""
    async with await HistoryStore.open(path) as store:
        for n in range(30):
            batch = make_batch(["a", "b", "c"], name=f"report {n}")
            batch.created_at = utc_now() - timedelta(days=30 - n)
            newest = (await store.create_batch(batch)).id
    return path, newest


def reads(batch_id: str) -> dict[str, Read]:
    now = utc_now()
    return {
        "history page 1": lambda c: queries.list_batches(c, 100, None, None),
        "history page n": lambda c: queries.list_batches(c, 100, now, None),
        "history by status": lambda c: queries.list_batches(c, 50, None, BatchStatus.FAILED),
        "history search": lambda c: queries.list_batches(c, 100, None, None, "report 2"),
        "one batch": lambda c: queries.get_batch(c, batch_id),
        "one summary": lambda c: queries.get_summary(c, batch_id),
        "failures only": lambda c: executions.list_executions(
            c, batch_id, [ExecutionStatus.FAILED, ExecutionStatus.UNKNOWN]
        ),
        "unfinished": queries.unfinished_batch_ids,
        "latest per instance": lambda c: executions.latest_by_instance(c, ["u1", "u2"]),
        "by AMC id": lambda c: executions.find_execution(c, "an-amc-id"),
        "attempts": lambda c: executions.list_attempts(c, 1),
        "one execution": lambda c: executions.get_execution(c, 1),
    }


def connect(path: Path) -> sqlite3.Connection:
    conn = connect_read_only(path, 5.0)
    conn.row_factory = sqlite3.Row
    return conn


@pytest.mark.parametrize("name", list(reads("x")))
def test_the_read_uses_indexes_only(history_file: tuple[Path, str], name: str) -> None:
    path, batch_id = history_file
    conn = connect(path)
    try:
        plans = plans_of(conn, reads(batch_id)[name])
    finally:
        conn.close()
    assert plans, f"{name} ran no SELECT"
    for plan in plans:
        assert plan.full_scans == [], plan.describe()
        assert any("INDEX" in step or "PRIMARY KEY" in step for step in plan.steps), plan.describe()


def test_the_history_page_counts_from_the_covering_index(
    history_file: tuple[Path, str],
) -> None:
    path, _ = history_file
    conn = connect(path)
    try:
        (plan,) = plans_of(conn, lambda c: queries.list_batches(c, 100, None, None))
    finally:
        conn.close()
    assert any("batches_by_created" in step for step in plan.steps), plan.describe()
    assert any("COVERING INDEX executions_by_batch" in step for step in plan.steps), plan.describe()


def test_a_read_of_a_whole_table_is_named(history_file: tuple[Path, str]) -> None:
    """The check can fail: a filter on a column without an index is a full scan."""
    path, _ = history_file
    conn = connect(path)
    try:
        plan = explain(conn, "SELECT * FROM executions WHERE error_message = 'boom'")
        joined = explain(
            conn,
            "SELECT b.id FROM batches AS b JOIN executions AS e ON e.batch_id = b.id "
            "WHERE e.error_message = 'boom'",
        )
        subquery = explain(
            conn, "SELECT * FROM (SELECT * FROM batches ORDER BY created_at DESC LIMIT 5) AS b"
        )
    finally:
        conn.close()
    assert plan.full_scans == ["executions"]
    assert "e" in joined.full_scans
    assert subquery.full_scans == []  # an ordered walk of an index, stopped by LIMIT


def test_plans_of_records_each_statement_with_its_values(
    history_file: tuple[Path, str],
) -> None:
    path, batch_id = history_file
    conn = connect(path)
    try:
        plans = plans_of(conn, lambda c: queries.get_batch(c, batch_id))
    finally:
        conn.close()
    assert [type(p) for p in plans] == [Plan, Plan]
    assert all(batch_id in p.sql for p in plans)
    assert "FROM batches" in plans[0].sql
    assert "FROM executions" in plans[1].sql
