"""The store under concurrency: two processes, the event loop, the busy timeout."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from store_support import (
    latest_migration_number,
    pragma,
    stored_batch,
)

from amc_tui.domain import (
    BatchStatus,
    ExecutionStatus,
)
from amc_tui.errors import ErrorCategory, StoreError
from amc_tui.store import HistoryStore

# --- other processes and the event loop ----------------------------------------------


async def test_two_processes_write_the_same_fresh_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "history.db"
    worker = Path(__file__).with_name("store_worker.py")
    count = 25
    start_at = time.time() + 1.5  # both open the (not yet existing) file at this moment
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(worker),
            str(path),
            str(start_at),
            str(count),
            tag,
            "2",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for tag in ("x", "y")
    ]
    results = [await asyncio.wait_for(p.communicate(), timeout=60) for p in processes]
    for process, (_, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err.decode()
    batch_ids = [out.decode().strip() for out, _ in results]

    assert pragma(path, "user_version") == latest_migration_number()
    spans = []
    async with await HistoryStore.open(path) as store:
        summaries = {s.id: s for s in await store.list_batches()}
        assert set(summaries) == set(batch_ids)
        for batch_id, tag in zip(batch_ids, ("x", "y"), strict=True):
            summary = summaries[batch_id]
            assert summary.started_at is not None and summary.finished_at is not None
            spans.append((summary.started_at, summary.finished_at))
            assert summaries[batch_id].status is BatchStatus.COMPLETED
            assert summaries[batch_id].counts.succeeded == count
            batch = await store.get_batch(batch_id)
            assert batch is not None and len(batch.executions) == count
            for execution in batch.executions:
                assert execution.status is ExecutionStatus.SUCCEEDED
                assert execution.amc_execution_id == f"{tag}-{execution.instance_id}"
                assert execution.attempts == 2
                assert execution.id is not None
                attempts = await store.list_attempts(execution.id)
                assert [a.number for a in attempts] == [1, 2]
                assert attempts[0].error_category is ErrorCategory.THROTTLED
                assert all(a.finished_at is not None for a in attempts)
    (x_start, x_end), (y_start, y_end) = spans
    assert x_start < y_end and y_start < x_end, "the two processes did not write at once"


async def test_event_loop_runs_while_a_write_waits_for_the_lock(tmp_path: Path) -> None:
    async with await HistoryStore.open(tmp_path / "h.db") as store:
        assert store.worker_thread != threading.get_ident()
        created = await stored_batch(store, ["a"])
        execution_id = created.executions[0].id
        assert execution_id is not None
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        blocker = sqlite3.connect(store.path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        ticking = asyncio.create_task(ticker())
        write = asyncio.create_task(
            store.transition_execution(execution_id, ExecutionStatus.SUBMITTING)
        )
        await asyncio.sleep(0.4)
        assert not write.done()
        assert ticks >= 10
        blocker.execute("COMMIT")
        blocker.close()
        done = await asyncio.wait_for(write, timeout=5)
        ticking.cancel()
        assert done.status is ExecutionStatus.SUBMITTING


async def test_lock_held_past_the_busy_timeout_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    async with await HistoryStore.open(path, busy_timeout=0.2) as store:
        created = await stored_batch(store, ["a"])
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreError, match="locked") as caught:
                await store.request_cancel(created.id)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert str(path) in str(caught.value)
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        assert await store.request_cancel(created.id) is True


async def test_closed_store_refuses_calls(tmp_path: Path) -> None:
    store = await HistoryStore.open(tmp_path / "h.db")
    await store.close()
    await store.close()
    assert store.closed
    with pytest.raises(StoreError, match="closed"):
        await store.list_batches()
