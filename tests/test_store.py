"""Tests of the history store (amc_tui.store): files, schema, state changes, safety."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import re
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import pytest

from amc_tui.domain import (
    Batch,
    BatchStatus,
    Execution,
    ExecutionStatus,
    Instance,
    InstanceType,
    QuerySpec,
    TimeWindow,
)
from amc_tui.errors import ErrorCategory, IllegalTransitionError, InputError, StoreError
from amc_tui.store import HistoryStore, InstanceRecord
from amc_tui.store.schema import APPLICATION_ID, Migration, migrate

TABLES = {"instances", "batches", "executions", "attempts"}


def latest_migration_number() -> int:
    folder = resources.files("amc_tui.store").joinpath("migrations")
    numbers = [
        int(m.group(1))
        for entry in folder.iterdir()
        if (m := re.match(r"^(\d{4})_\w+\.sql$", entry.name))
    ]
    assert numbers, "no migration files found"
    return max(numbers)


def pragma(path: Path, name: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"PRAGMA {name}").fetchone()[0])
    finally:
        conn.close()


def tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return {r[0] for r in rows}
    finally:
        conn.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_batch(names: list[str], **fields: object) -> Batch:
    batch = Batch(query=QuerySpec(sql="SELECT 1"), **fields)
    batch.executions = [
        Execution(
            batch_id=batch.id,
            instance_uuid=uuid.uuid4(),
            instance_id=f"amc{i:04d}",
            instance_name=name,
        )
        for i, name in enumerate(names)
    ]
    return batch


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[HistoryStore]:
    opened = await HistoryStore.open(tmp_path / "data" / "history.db")
    yield opened
    await opened.close()


async def stored_batch(store: HistoryStore, names: list[str], **fields: object) -> Batch:
    return await store.create_batch(make_batch(names, **fields))


# --- the file ------------------------------------------------------------------------


async def test_fresh_file_is_created_private_and_migrated(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    path = data_dir / "history.db"
    async with await HistoryStore.open(path) as store:
        assert store.path == path
        for suffix in ("-wal", "-shm"):
            companion = Path(f"{path}{suffix}")
            if companion.exists():
                assert stat.S_IMODE(companion.stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tables(path) >= TABLES
    assert pragma(path, "user_version") == latest_migration_number()
    assert pragma(path, "application_id") == APPLICATION_ID
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        indexes = {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
    finally:
        conn.close()
    assert {"batches_by_created", "batches_by_status", "executions_by_batch"} <= indexes
    assert "executions_by_amc_id" in indexes


async def test_reopen_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    async with await HistoryStore.open(path) as store:
        created = await stored_batch(store, ["one", "two"])
    version = pragma(path, "user_version")
    conn = sqlite3.connect(path)
    schema = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    conn.close()
    for _ in range(2):
        async with await HistoryStore.open(path) as store:
            assert await store.get_batch(created.id) == created
    assert pragma(path, "user_version") == version
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall() == (
        schema
    )
    conn.close()


async def test_connection_settings(store: HistoryStore) -> None:
    def settings(conn: sqlite3.Connection) -> tuple[object, ...]:
        names = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        values = tuple(conn.execute(f"PRAGMA {name}").fetchone()[0] for name in names)
        return (*values, conn.isolation_level, threading.get_ident())

    journal, synchronous, foreign_keys, busy, isolation, thread = await store._run(settings)
    assert (journal, synchronous, foreign_keys, busy) == ("wal", 2, 1, 10_000)
    assert isolation is None
    assert thread == store.worker_thread != threading.get_ident()


async def test_status_checks_list_exactly_the_enum_values(store: HistoryStore) -> None:
    conn = sqlite3.connect(store.path, isolation_level=None)
    try:
        for status in BatchStatus:
            conn.execute(
                "INSERT INTO batches (id, status, query, max_concurrency, created_at) "
                "VALUES (?, ?, '{}', 1, 'x')",
                (f"b-{status}", status.value),
            )
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                "INSERT INTO batches (id, status, query, max_concurrency, created_at) "
                "VALUES ('b-bad', 'bogus', '{}', 1, 'x')"
            )
        for execution_status in ExecutionStatus:
            conn.execute(
                "INSERT INTO executions (batch_id, instance_uuid, instance_id, status, "
                "created_at, updated_at) VALUES ('b-pending', ?, 'amc', ?, 'x', 'x')",
                (execution_status.value, execution_status.value),
            )
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                "INSERT INTO executions (batch_id, instance_uuid, instance_id, status, "
                "created_at, updated_at) VALUES ('b-pending', 'u', 'amc', 'DONE', 'x', 'x')"
            )
    finally:
        conn.close()


def test_failed_migration_is_rolled_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    conn = sqlite3.connect(path, isolation_level=None)
    good = Migration(1, "0001_one.sql", "CREATE TABLE a (x);\n-- done\n")
    bad = Migration(2, "0002_two.sql", "CREATE TABLE b (x);\nINSERT INTO missing VALUES (1);\n")
    try:
        with pytest.raises(StoreError, match=r"0002_two\.sql") as caught:
            migrate(conn, path, [good, bad])
        assert str(path) in str(caught.value)
        assert isinstance(caught.value.__cause__, sqlite3.Error)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert names == {"a"}
        assert not conn.in_transaction
    finally:
        conn.close()


# --- batches, executions, attempts ---------------------------------------------------


async def test_batch_round_trip(store: HistoryStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    query = QuerySpec(
        workflow_id="wf-1",
        time_window=TimeWindow(start=datetime(2024, 1, 1), end=datetime(2024, 1, 8)),
        parameters={"a": "1"},
        instance_parameters={"amc0001": {"a": "2"}},
    )
    batch = Batch(
        name="weekly",
        profile="eu",
        query=query,
        max_concurrency=7,
        created_at=datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=plus_two),
    )
    batch.executions = [
        Execution(batch_id=batch.id, instance_uuid=uuid.uuid4(), instance_id=f"amc{i}", **kw)
        for i, kw in enumerate(
            [{"instance_name": "zeta"}, {"instance_name": "Alpha"}, {"instance_name": "mid"}]
        )
    ]
    created = await store.create_batch(batch)

    assert [e.instance_name for e in created.executions] == ["Alpha", "mid", "zeta"]
    assert all(e.id is not None for e in created.executions)
    assert len({e.id for e in created.executions}) == 3
    assert created.query == query
    assert (created.name, created.profile, created.max_concurrency) == ("weekly", "eu", 7)
    assert created.created_at == batch.created_at
    assert created.created_at.utcoffset() == timedelta(0)
    by_uuid = {e.instance_uuid: e for e in batch.executions}
    for execution in created.executions:
        original = by_uuid[execution.instance_uuid]
        assert execution.instance_id == original.instance_id
        assert execution.created_at == original.created_at
        assert execution.created_at.tzinfo is not None
        assert execution.status is ExecutionStatus.QUEUED
    assert await store.get_batch(created.id) == created

    execution = created.executions[0]
    assert execution.id is not None
    first = await store.begin_attempt(execution.id)
    assert first.number == 1 and first.finished_at is None
    assert first.started_at.tzinfo is not None
    ended = await store.end_attempt(
        execution.id,
        1,
        error_category=ErrorCategory.THROTTLED,
        error_message="slow down",
        retry_delay=2.5,
    )
    second = await store.begin_attempt(execution.id)
    assert second.number == 2
    attempts = await store.list_attempts(execution.id)
    assert attempts == [ended, second]
    assert ended.error_category is ErrorCategory.THROTTLED
    assert (ended.error_message, ended.retry_delay) == ("slow down", 2.5)
    assert ended.finished_at is not None and ended.finished_at >= ended.started_at
    reread = await store.get_execution(execution.id)
    assert reread is not None and reread.attempts == 2
    assert await store.get_execution(10_000) is None
    assert await store.get_batch("batch_missing1") is None


async def test_legal_chain_of_transitions(store: HistoryStore) -> None:
    created = await stored_batch(store, ["a", "b"])
    one, two = (e.id for e in created.executions)
    assert one is not None and two is not None

    submitting = await store.transition_execution(one, ExecutionStatus.SUBMITTING)
    assert submitting.submitted_at is not None and submitting.finished_at is None
    pending = await store.transition_execution(
        one, ExecutionStatus.PENDING, amc_execution_id="exec-1"
    )
    assert pending.amc_execution_id == "exec-1"
    running = await store.transition_execution(one, ExecutionStatus.RUNNING)
    assert running.amc_execution_id == "exec-1"  # None leaves it as it was
    done = await store.transition_execution(one, ExecutionStatus.SUCCEEDED)
    assert done.status is ExecutionStatus.SUCCEEDED
    assert done.finished_at is not None and done.submitted_at == submitting.submitted_at
    assert done.updated_at >= running.updated_at >= pending.updated_at >= submitting.updated_at
    assert await store.get_execution(one) == done
    assert await store.find_execution_by_amc_id("exec-1") == done

    await store.transition_execution(two, ExecutionStatus.SUBMITTING)
    unknown = await store.transition_execution(two, ExecutionStatus.UNKNOWN)
    assert unknown.finished_at is None
    await store.transition_execution(two, ExecutionStatus.SUBMITTING)
    failed = await store.transition_execution(
        two,
        ExecutionStatus.FAILED,
        error_category=ErrorCategory.FORBIDDEN,
        error_message="Access denied for this instance",
    )
    assert failed.error_category is ErrorCategory.FORBIDDEN
    assert failed.error_message == "Access denied for this instance"
    assert failed.finished_at is not None


async def test_illegal_transition_is_refused_and_changes_nothing(store: HistoryStore) -> None:
    created = await stored_batch(store, ["a"])
    execution_id = created.executions[0].id
    assert execution_id is not None
    before = await store.get_execution(execution_id)
    with pytest.raises(IllegalTransitionError):
        await store.transition_execution(
            execution_id,
            ExecutionStatus.RUNNING,
            amc_execution_id="sneaky",
            error_message="should not be stored",
        )
    assert await store.get_execution(execution_id) == before

    await store.transition_execution(execution_id, ExecutionStatus.CANCELLED)
    finished = await store.get_execution(execution_id)
    for status in ExecutionStatus:
        with pytest.raises(IllegalTransitionError):
            await store.transition_execution(execution_id, status)
    assert await store.get_execution(execution_id) == finished


async def test_unknown_ids_and_attempt_misuse(store: HistoryStore) -> None:
    with pytest.raises(StoreError, match="no execution 4242"):
        await store.transition_execution(4242, ExecutionStatus.SUBMITTING)
    with pytest.raises(StoreError):
        await store.begin_attempt(4242)
    with pytest.raises(StoreError):
        await store.transition_batch("batch_missing1", BatchStatus.RUNNING)
    assert await store.request_cancel("batch_missing1") is False
    assert await store.is_cancel_requested("batch_missing1") is False

    created = await stored_batch(store, ["a"])
    execution_id = created.executions[0].id
    assert execution_id is not None
    with pytest.raises(StoreError, match="no attempt 1"):
        await store.end_attempt(execution_id, 1)
    await store.begin_attempt(execution_id)
    await store.end_attempt(execution_id, 1)
    with pytest.raises(StoreError, match="already ended"):
        await store.end_attempt(execution_id, 1, error_message="again")
    assert [a.error_message for a in await store.list_attempts(execution_id)] == [None]


async def test_batch_transitions_and_counts(store: HistoryStore) -> None:
    base = datetime(2024, 5, 1, tzinfo=UTC)
    old = await stored_batch(store, ["a"], created_at=base, name="old")
    mid = await stored_batch(store, ["a", "b", "c", "d", "e"], created_at=base + timedelta(1))
    new = await stored_batch(store, [], created_at=base + timedelta(2), name="empty")

    running = await store.transition_batch(mid.id, BatchStatus.RUNNING)
    assert running.status is BatchStatus.RUNNING and running.started_at is not None
    ids = [e.id for e in mid.executions]
    assert all(i is not None for i in ids)
    a, b, c, d, _ = (i for i in ids if i is not None)
    for step in ("SUBMITTING", "PENDING", "SUCCEEDED"):
        await store.transition_execution(a, ExecutionStatus(step))
    for step in ("SUBMITTING", "FAILED"):
        await store.transition_execution(b, ExecutionStatus(step))
    await store.transition_execution(c, ExecutionStatus.CANCELLED)
    for step in ("SUBMITTING", "UNKNOWN"):
        await store.transition_execution(d, ExecutionStatus(step))

    summaries = await store.list_batches()
    assert [s.id for s in summaries] == [new.id, mid.id, old.id]
    counts = summaries[1].counts
    assert (counts.total, counts.succeeded, counts.failed, counts.cancelled) == (5, 1, 1, 1)
    assert (counts.unknown, counts.queued, counts.in_flight) == (1, 1, 0)
    assert summaries[0].counts.total == 0 and summaries[0].name == "empty"
    assert summaries[2].counts.queued == 1

    partial = await store.transition_batch(mid.id, BatchStatus.PARTIAL)
    assert partial.finished_at is not None and partial.started_at == running.started_at
    assert partial.counts == counts
    with pytest.raises(IllegalTransitionError):
        await store.transition_batch(mid.id, BatchStatus.RUNNING)
    assert (await store.get_batch_summary(mid.id)) == partial

    await store.transition_batch(old.id, BatchStatus.INTERRUPTED)
    assert [s.id for s in await store.list_batches(status=BatchStatus.PARTIAL)] == [mid.id]
    assert [s.id for s in await store.list_batches(status=BatchStatus.INTERRUPTED)] == [old.id]
    assert [s.id for s in await store.list_batches(limit=1)] == [new.id]
    page = await store.list_batches(before=base + timedelta(2))
    assert [s.id for s in page] == [mid.id, old.id]
    assert await store.list_batches(before=base + timedelta(1), status=BatchStatus.PARTIAL) == []
    with pytest.raises(ValueError):
        await store.list_batches(limit=0)


async def test_request_cancel(store: HistoryStore) -> None:
    created = await stored_batch(store, ["a"])
    assert await store.is_cancel_requested(created.id) is False
    assert await store.request_cancel(created.id) is True
    assert await store.is_cancel_requested(created.id) is True
    await store.transition_batch(created.id, BatchStatus.CANCELLED)
    other = await stored_batch(store, ["a"])
    await store.transition_batch(other.id, BatchStatus.COMPLETED)
    assert await store.request_cancel(other.id) is False
    assert await store.is_cancel_requested(other.id) is False


async def test_create_batch_refuses_what_is_not_new(store: HistoryStore) -> None:
    batch = make_batch(["a"])
    batch.executions[0].status = ExecutionStatus.RUNNING
    with pytest.raises(IllegalTransitionError):
        await store.create_batch(batch)
    with pytest.raises(IllegalTransitionError):
        await store.create_batch(make_batch(["a"], status=BatchStatus.RUNNING))
    assert await store.list_batches() == []


async def test_create_batch_duplicate_leaves_nothing_half_written(store: HistoryStore) -> None:
    first = await stored_batch(store, ["a", "b"])
    again = make_batch(["x", "y", "z"], name="second")
    again.id = first.id
    for execution in again.executions:
        execution.batch_id = first.id
    with pytest.raises(StoreError, match=first.id):
        await store.create_batch(again)
    assert await store.get_batch(first.id) == first

    twin = make_batch(["p", "q"])
    twin.executions[1].instance_uuid = twin.executions[0].instance_uuid
    with pytest.raises(StoreError) as caught:
        await store.create_batch(twin)
    assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
    assert await store.get_batch(twin.id) is None
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("SELECT count(*) FROM executions").fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM batches").fetchone()[0] == 1
    finally:
        conn.close()


# --- instances -----------------------------------------------------------------------


async def test_upsert_instances_keeps_uuids_and_marks_missing_inactive(
    store: HistoryStore,
) -> None:
    first = await store.upsert_instances(
        "default",
        [
            InstanceRecord("amc1", "Charlie", region="NA"),
            {"instance_id": "amc2", "name": "alpha", "instance_type": "SANDBOX"},
            InstanceRecord("amc3", "Bravo", advertiser_id="ADV"),
        ],
    )
    assert [i.name for i in first] == ["alpha", "Bravo", "Charlie"]
    assert all(i.profile == "default" for i in first)
    uuids = {i.instance_id: i.uuid for i in first}
    assert len(set(uuids.values())) == 3
    assert first[0].instance_type is InstanceType.SANDBOX
    await store.upsert_instances("other", [InstanceRecord("amc1", "Other one")])

    second = await store.upsert_instances(
        "default", [InstanceRecord("amc1", "Charlie renamed"), InstanceRecord("amc4", "Delta")]
    )
    assert [i.instance_id for i in second] == ["amc1", "amc4"]
    assert second[0].uuid == uuids["amc1"] and second[0].name == "Charlie renamed"
    assert second[0].region == ""
    everything = await store.list_instances("default", include_inactive=True)
    assert {i.instance_id for i in everything} == {"amc1", "amc2", "amc3", "amc4"}
    assert {i.instance_id: i.uuid for i in everything if i.instance_id != "amc4"} == uuids
    assert await store.list_instances("default") == second

    third = await store.upsert_instances("default", [InstanceRecord("amc2", "alpha")])
    assert [(i.instance_id, i.uuid) for i in third] == [("amc2", uuids["amc2"])]
    other = await store.list_instances("other")
    assert [i.name for i in other] == ["Other one"] and other[0].uuid != uuids["amc1"]

    with pytest.raises(InputError, match="instance_type"):
        await store.upsert_instances("default", [{"instance_id": "amc9", "instance_type": "X"}])
    assert await store.list_instances("default") == third

    # A domain Instance is accepted too; its uuid is not the store's to take.
    given = Instance(uuid=uuid.uuid4(), instance_id="amc2", name="alpha 2", profile="elsewhere")
    (kept,) = await store.upsert_instances("default", [given])
    assert (kept.uuid, kept.name, kept.profile) == (uuids["amc2"], "alpha 2", "default")


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


# --- files that must be refused and left alone ---------------------------------------


async def _real_file(path: Path, batches: int) -> bytes:
    async with await HistoryStore.open(path) as store:
        for _ in range(batches):
            await stored_batch(store, [f"instance {i}" for i in range(20)])
    return path.read_bytes()


async def assert_refused(path: Path, *words: str) -> None:
    before = digest(path)
    size = path.stat().st_size
    with pytest.raises(StoreError) as caught:
        await HistoryStore.open(path)
    message = str(caught.value)
    assert str(path) in message
    for word in words:
        assert word in message
    assert path.exists() and path.stat().st_size == size
    assert digest(path) == before


@pytest.mark.parametrize("kind", ["random", "magic_then_random", "short_header", "truncated"])
async def test_corrupt_file_is_refused_untouched(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "history.db"
    noise = random.Random(kind).randbytes(8192)
    if kind == "random":
        path.write_bytes(noise)
        await assert_refused(path, "not an SQLite database")
    elif kind == "magic_then_random":
        path.write_bytes(b"SQLite format 3\x00" + noise)
        await assert_refused(path, "damaged")
    elif kind == "short_header":
        real = await _real_file(tmp_path / "real.db", 0)
        path.write_bytes(real[:60])
        await assert_refused(path, "not an SQLite database")
    else:
        real = await _real_file(tmp_path / "real.db", 30)
        assert len(real) > 4 * 4096
        path.write_bytes(real[: len(real) // 2])
        await assert_refused(path, "truncated")


async def test_foreign_database_with_tables_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.execute("INSERT INTO users VALUES ('ann')")
    conn.commit()
    conn.close()
    await assert_refused(path, "another application", "users")


async def test_foreign_application_id_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 123456")
    conn.execute("CREATE TABLE batches (id TEXT)")
    conn.commit()
    conn.close()
    await assert_refused(path, "another application")


async def test_database_of_a_newer_amc_tui_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    await _real_file(path, 1)
    conn = sqlite3.connect(path)
    newer = latest_migration_number() + 1
    conn.execute(f"PRAGMA user_version = {newer}")
    conn.commit()
    conn.close()
    await assert_refused(path, "newer amc-tui", str(newer))
    assert pragma(path, "user_version") == newer


async def test_data_dir_under_a_regular_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file")
    path = blocker / "data" / "history.db"
    with pytest.raises(StoreError) as caught:
        await HistoryStore.open(path)
    assert str(blocker / "data") in str(caught.value)
    assert blocker.read_text() == "a file"


async def test_directory_in_place_of_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    path.mkdir()
    with pytest.raises(StoreError, match="is a directory") as caught:
        await HistoryStore.open(path)
    assert str(path) in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
async def test_read_only_data_dir_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "ro"
    data_dir.mkdir(mode=0o500)
    try:
        with pytest.raises(StoreError) as caught:
            await HistoryStore.open(data_dir / "history.db")
        assert str(data_dir / "history.db") in str(caught.value)
    finally:
        data_dir.chmod(0o700)
