"""Group commit in the history store: writes that queue up share one durable commit.

The worker thread is held busy (by a read that waits for an event, or by another
connection holding the write lock) while writes are asked for, so that they queue up
deterministically; nothing here waits a fixed time for anything.  The last tests run
the real engine in a burst and look at each event's change from another connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from engine_support import fast_engine, fast_simulator, make_env, wait_until
from store_support import make_batch, stored_batch

from amc_tui.amc.simulator import SimulatorConfig
from amc_tui.amc.simulator.config import SimInstance
from amc_tui.amc.simulator.demo_data import demo_instances
from amc_tui.domain import Batch, ExecutionStatus
from amc_tui.engine.events import BatchStarted, EngineEvent, ExecutionChanged
from amc_tui.errors import IllegalTransitionError, StoreError
from amc_tui.store import HistoryStore
from amc_tui.store import executions as execution_queries
from amc_tui.store.database import write_transaction

S = ExecutionStatus
BURST = 50


@contextlib.asynccontextmanager
async def worker_held(store: HistoryStore) -> AsyncIterator[None]:
    """Keep the store's worker thread busy until the block ends.

    Every write asked for inside the block (by tasks created there) queues up behind
    the read holding the thread; when the block ends, the thread is let go.
    """
    release = threading.Event()

    def hold(conn: sqlite3.Connection) -> None:
        if not release.wait(timeout=60):
            raise TimeoutError("the test never let the worker go")

    held = asyncio.ensure_future(store._read(hold))
    await asyncio.sleep(0)  # the hold is now on the worker, ahead of any write
    try:
        yield
        await asyncio.sleep(0)  # every task made in the block has now asked for its write
    finally:
        release.set()
        await held


def ids_of(batch: Batch) -> list[int]:
    found = [e.id for e in batch.executions]
    assert None not in found
    return [i for i in found if i is not None]


def statuses_seen_by_another_connection(path: Path, batch_id: str) -> dict[int, str]:
    other = sqlite3.connect(path)
    try:
        rows = other.execute(
            "SELECT id, status FROM executions WHERE batch_id = ?", (batch_id,)
        ).fetchall()
        return {int(i): str(s) for i, s in rows}
    finally:
        other.close()


async def test_a_burst_of_writes_shares_one_commit(store: HistoryStore) -> None:
    batch = await stored_batch(store, [f"instance {n:02d}" for n in range(BURST)])
    commits = store.commit_count

    async with worker_held(store):
        tasks = [asyncio.create_task(store.start_attempt(i)) for i in ids_of(batch)]
    results = await asyncio.gather(*tasks)

    assert store.commit_count == commits + 1
    assert [(e.status, e.attempts, a.number) for e, a in results] == [(S.SUBMITTING, 1, 1)] * BURST
    seen = statuses_seen_by_another_connection(store.path, batch.id)
    assert seen == dict.fromkeys(ids_of(batch), "SUBMITTING")


async def test_writes_waiting_for_the_lock_share_commits(store: HistoryStore) -> None:
    """Public API only: another process holds the write lock while a burst arrives."""
    batch = await stored_batch(store, [f"instance {n:02d}" for n in range(BURST)])
    commits = store.commit_count
    blocker = sqlite3.connect(store.path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        tasks = [
            asyncio.create_task(store.transition_execution(i, S.SUBMITTING)) for i in ids_of(batch)
        ]
        await asyncio.sleep(0)  # every task has asked for its write; the first waits
        assert not any(t.done() for t in tasks)
        blocker.execute("COMMIT")
    finally:
        blocker.close()
    await asyncio.gather(*tasks)

    # The first group may have taken only the first writes before it blocked.
    assert 1 <= store.commit_count - commits <= 2 < BURST
    seen = statuses_seen_by_another_connection(store.path, batch.id)
    assert seen == dict.fromkeys(ids_of(batch), "SUBMITTING")


async def test_no_awaiter_is_answered_before_the_commit(store: HistoryStore) -> None:
    batch = await stored_batch(store, [f"instance {n:02d}" for n in range(BURST)])
    commits = store.commit_count
    reader = sqlite3.connect(store.path, isolation_level=None)

    async def write_then_look(execution_id: int) -> tuple[str, int]:
        await store.transition_execution(execution_id, S.SUBMITTING)
        row = reader.execute("SELECT status FROM executions WHERE id = ?", (execution_id,))
        return str(row.fetchone()[0]), store.commit_count

    try:
        async with worker_held(store):
            tasks = [asyncio.create_task(write_then_look(i)) for i in ids_of(batch)]
        seen = await asyncio.gather(*tasks)
    finally:
        reader.close()
    assert seen == [("SUBMITTING", commits + 1)] * BURST


async def test_a_failing_write_is_undone_alone(store: HistoryStore) -> None:
    batch = await stored_batch(store, [f"instance {n:02d}" for n in range(20)])
    good, illegal, victim = ids_of(batch)[:-2], ids_of(batch)[-2], ids_of(batch)[-1]
    stray = make_batch(["stray"])
    stray.executions[0].batch_id = "batch_elsewhere"
    duplicate = make_batch(["again"], id=batch.id)
    before = await store.get_batch(batch.id)
    commits = store.commit_count

    def half_then_fail(conn: sqlite3.Connection) -> None:
        """Changes something, then breaks a UNIQUE rule."""
        conn.execute("UPDATE executions SET error_message = 'half' WHERE id = ?", (victim,))
        insert = "INSERT INTO attempts (execution_id, number, started_at) VALUES (?, 1, 'x')"
        conn.execute(insert, (victim,))
        conn.execute(insert, (victim,))

    async with worker_held(store):
        first = [asyncio.create_task(store.start_attempt(i)) for i in good[:9]]
        failing = [
            asyncio.create_task(store.transition_execution(illegal, S.RUNNING)),
            asyncio.create_task(store.transition_execution(4242, S.SUBMITTING)),
            asyncio.create_task(store.create_batch(stray)),
            asyncio.create_task(store.create_batch(duplicate)),
            asyncio.create_task(store._write(half_then_fail)),
        ]
        last = [asyncio.create_task(store.start_attempt(i)) for i in good[9:]]
    answers = await asyncio.gather(*first, *failing, *last, return_exceptions=True)

    assert store.commit_count == commits + 1
    errors = answers[9:14]
    assert isinstance(errors[0], IllegalTransitionError)
    assert isinstance(errors[1], StoreError) and "no execution 4242" in str(errors[1])
    assert isinstance(errors[2], ValueError)
    assert isinstance(errors[3], StoreError) and "already in the history" in str(errors[3])
    assert isinstance(errors[4], StoreError)
    assert isinstance(errors[4].__cause__, sqlite3.IntegrityError)
    for answer in answers[:9] + answers[14:]:
        assert not isinstance(answer, BaseException)
    after = await store.get_batch(batch.id)
    assert before is not None and after is not None
    for old, new in zip(before.executions, after.executions, strict=True):
        if old.id in good:
            assert (new.status, new.attempts) == (S.SUBMITTING, 1)
        else:
            assert new == old  # the illegal move and the half-done write left no trace
    assert await store.list_attempts(victim) == []
    assert await store.get_batch(stray.id) is None
    assert [s.id for s in await store.list_batches()] == [batch.id]


async def test_a_write_that_loses_the_transaction(store: HistoryStore) -> None:
    """SQLite abandoning the transaction undoes the group's earlier writes, which then
    fail; the later ones go on in a new transaction."""
    batch = await stored_batch(store, [f"instance {n:02d}" for n in range(6)])
    earlier, later = ids_of(batch)[:3], ids_of(batch)[3:]
    commits = store.commit_count

    def lose_the_transaction(conn: sqlite3.Connection) -> None:
        conn.execute("ROLLBACK")  # what SQLITE_FULL or an I/O error does
        raise sqlite3.OperationalError("simulated loss")

    async with worker_held(store):
        tasks = [asyncio.create_task(store.start_attempt(i)) for i in earlier]
        tasks.append(asyncio.create_task(store._write(lose_the_transaction)))
        tasks += [asyncio.create_task(store.start_attempt(i)) for i in later]
    answers = await asyncio.gather(*tasks, return_exceptions=True)

    assert all(isinstance(a, StoreError) for a in answers[:4]), answers[:4]
    assert not any(isinstance(a, BaseException) for a in answers[4:]), answers[4:]
    seen = statuses_seen_by_another_connection(store.path, batch.id)
    assert seen == {
        **dict.fromkeys(earlier, "QUEUED"),
        **dict.fromkeys(later, "SUBMITTING"),
    }
    assert store.commit_count == commits + 1
    assert [await store.list_attempts(i) for i in earlier] == [[], [], []]


async def test_a_failed_commit_fails_every_write_of_the_group(store: HistoryStore) -> None:
    batch = await stored_batch(store, [f"instance {n:02d}" for n in range(10)])
    commits = store.commit_count

    def break_a_deferred_rule(conn: sqlite3.Connection) -> None:
        """Passes itself; only the COMMIT finds the foreign key broken."""
        conn.execute("PRAGMA defer_foreign_keys = ON")
        conn.execute(
            "INSERT INTO attempts (execution_id, number, started_at) VALUES (999999, 1, 'x')"
        )

    async with worker_held(store):
        tasks = [asyncio.create_task(store.start_attempt(i)) for i in ids_of(batch)[:5]]
        tasks.append(asyncio.create_task(store._write(break_a_deferred_rule)))
        tasks += [asyncio.create_task(store.start_attempt(i)) for i in ids_of(batch)[5:]]
    answers = await asyncio.gather(*tasks, return_exceptions=True)

    assert all(isinstance(a, StoreError) for a in answers), answers
    assert all(isinstance(a.__cause__, sqlite3.IntegrityError) for a in answers)
    assert store.commit_count == commits
    seen = statuses_seen_by_another_connection(store.path, batch.id)
    assert seen == dict.fromkeys(ids_of(batch), "QUEUED")
    # The worker goes on with the next write.
    execution, _ = await store.start_attempt(ids_of(batch)[0])
    assert execution.status is S.SUBMITTING and execution.attempts == 1
    assert store.commit_count == commits + 1


async def test_a_failed_begin_fails_every_write_of_the_group(tmp_path: Path) -> None:
    async with await HistoryStore.open(tmp_path / "h.db", busy_timeout=0.2) as store:
        batch = await stored_batch(store, ["a", "b", "c", "d"])
        blocker = sqlite3.connect(store.path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            answers = await asyncio.gather(
                *(store.start_attempt(i) for i in ids_of(batch)), return_exceptions=True
            )
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert all(isinstance(a, StoreError) and "locked" in str(a) for a in answers), answers
        assert store.commit_count == 1
        assert [e.status for e in await store.list_executions(batch.id)] == [S.QUEUED] * 4
        await store.start_attempt(ids_of(batch)[0])
        assert store.commit_count == 2


async def test_a_cancelled_write_still_queued_is_dropped(store: HistoryStore) -> None:
    batch = await stored_batch(store, ["a", "b"])
    dropped, kept = ids_of(batch)
    async with worker_held(store):
        cancelled = asyncio.create_task(store.transition_execution(dropped, S.SUBMITTING))
        other = asyncio.create_task(store.transition_execution(kept, S.SUBMITTING))
        await asyncio.sleep(0)  # both have asked for their write
        cancelled.cancel()
    assert (await other).status is S.SUBMITTING
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    seen = statuses_seen_by_another_connection(store.path, batch.id)
    assert seen == {dropped: "QUEUED", kept: "SUBMITTING"}


async def test_a_cancelled_write_already_started_runs_to_its_end(store: HistoryStore) -> None:
    batch = await stored_batch(store, ["a"])
    [execution_id] = ids_of(batch)
    started, go = threading.Event(), threading.Event()
    commits = store.commit_count

    def slow_write(conn: sqlite3.Connection) -> object:
        started.set()
        if not go.wait(timeout=60):
            raise TimeoutError("the test never let the write go on")
        return execution_queries.transition_execution(
            conn, execution_id, S.SUBMITTING, None, None, None
        )

    task = asyncio.create_task(store._write(slow_write))
    assert await asyncio.to_thread(started.wait, 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    go.set()
    # Reads run after the group on the same thread: the write has ended by then.
    execution = await store.get_execution(execution_id)
    assert execution is not None and execution.status is S.SUBMITTING
    assert store.commit_count == commits + 1


async def test_close_finishes_the_writes_already_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    store = await HistoryStore.open(path)
    batch = await stored_batch(store, [f"instance {n:02d}" for n in range(10)])
    tasks = [asyncio.create_task(store.start_attempt(i)) for i in ids_of(batch)]
    await asyncio.sleep(0)  # every task has asked for its write
    await store.close()
    assert all(e.status is S.SUBMITTING for e, _ in await asyncio.gather(*tasks))
    with pytest.raises(StoreError, match="closed"):
        await store.start_attempt(ids_of(batch)[0])
    seen = statuses_seen_by_another_connection(path, batch.id)
    assert seen == dict.fromkeys(ids_of(batch), "SUBMITTING")


async def test_a_write_transaction_undone_inside_a_group_write(store: HistoryStore) -> None:
    """A write's write_transaction works in the savepoint the worker opened for the
    write: when its block fails and the write goes on, only that block is undone."""
    batch = await stored_batch(store, [f"instance {n:02d}" for n in range(6)])
    undone, kept, *others = ids_of(batch)
    commits = store.commit_count

    def fail_one_block_then_go_on(conn: sqlite3.Connection) -> str:
        move = "UPDATE executions SET error_message = ? WHERE id = ?"
        with contextlib.suppress(ValueError), write_transaction(conn):
            conn.execute(move, ("undone", undone))
            raise ValueError("undo only this block")
        with write_transaction(conn):
            conn.execute(move, ("kept", kept))
        return "done"

    async with worker_held(store):
        tasks = [asyncio.create_task(store.start_attempt(i)) for i in others[:2]]
        tasks.append(asyncio.create_task(store._write(fail_one_block_then_go_on)))
        tasks += [asyncio.create_task(store.start_attempt(i)) for i in others[2:]]
    answers = await asyncio.gather(*tasks)

    assert answers[2] == "done"
    assert store.commit_count == commits + 1
    messages = {e.id: e.error_message for e in await store.list_executions(batch.id)}
    assert messages == {undone: None, kept: "kept", **dict.fromkeys(others, None)}
    seen = statuses_seen_by_another_connection(store.path, batch.id)
    assert seen == {undone: "QUEUED", kept: "QUEUED", **dict.fromkeys(others, "SUBMITTING")}


def many_instances(n: int) -> list[SimInstance]:
    """``n`` instances of the demo account (its instances repeated under new ids)."""
    account = SimulatorConfig().advertiser_id
    base = [i for i in demo_instances() if i.advertiser_id == account]
    return [
        base[k % len(base)].model_copy(
            update={"instance_id": f"amcburst{k:04d}", "instance_name": f"burst {k:04d}"}
        )
        for k in range(n)
    ]


async def test_engine_events_come_after_their_commit_in_a_burst(
    store: HistoryStore, tmp_path: Path
) -> None:
    """The real engine at concurrency 50.  Its writes are made to pile up behind a held
    worker (so they share commits), and each ExecutionChanged, at the moment it is
    emitted, is already visible to another connection: committed, then emitted."""
    n, concurrency = 100, 50
    env = await make_env(tmp_path, store, fast_simulator(instances=many_instances(n)))
    try:
        batch = await env.new_batch(n, max_concurrency=concurrency)
        runner = env.runner(fast_engine(max_concurrent_executions=concurrency))
        reader = sqlite3.connect(store.path, isolation_level=None)
        release = threading.Event()
        holds: list[asyncio.Future[None]] = []
        emitted: list[tuple[int, str, str]] = []

        def hold(conn: sqlite3.Connection) -> None:
            if not release.wait(timeout=60):
                raise TimeoutError("the test never let the worker go")

        def look(event: EngineEvent) -> None:
            if isinstance(event, BatchStarted) and not holds:
                holds.append(asyncio.ensure_future(store._read(hold)))
            elif isinstance(event, ExecutionChanged):
                execution_id = event.execution.id or 0
                row = reader.execute(
                    "SELECT status FROM executions WHERE id = ?", (execution_id,)
                ).fetchone()
                emitted.append((execution_id, event.execution.status.value, str(row[0])))

        runner.events.add_listener(look)
        commits = store.commit_count
        running = asyncio.create_task(runner.run(batch.id))
        try:
            # Every slot ends up waiting for a write behind the held worker.
            await wait_until(lambda: len(store._worker._queue) >= concurrency)
        finally:
            release.set()
        final = await running
        await asyncio.gather(*holds)
        reader.close()
    finally:
        await env.client.aclose()

    assert [e.status for e in final.executions] == [S.SUCCEEDED] * n
    late = [(i, status, stored) for i, status, stored in emitted if stored != status]
    assert not late, f"events emitted before their change was committed: {late[:5]}"
    assert {i for i, _, _ in emitted} == set(ids_of(batch))
    # The held writes shared one commit: fewer commits than changes.
    assert store.commit_count - commits < len(emitted)


def test_write_transaction_nests_as_a_savepoint() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        conn.execute("CREATE TABLE t (n INTEGER)")
        with write_transaction(conn):
            conn.execute("INSERT INTO t VALUES (1)")
        assert not conn.in_transaction  # alone, it is its own transaction, committed

        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (2)")
        with pytest.raises(ValueError), write_transaction(conn):
            conn.execute("INSERT INTO t VALUES (3)")
            raise ValueError("undo only me")
        assert conn.in_transaction  # the enclosing transaction goes on
        with write_transaction(conn):
            conn.execute("INSERT INTO t VALUES (4)")
        assert conn.in_transaction  # nested, it does not commit
        conn.execute("COMMIT")
        assert [r[0] for r in conn.execute("SELECT n FROM t ORDER BY n")] == [1, 2, 4]
    finally:
        conn.close()
