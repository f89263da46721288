"""Batches, executions, attempts and instances in the history store."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from store_support import (
    make_batch,
    stored_batch,
)

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


async def test_history_search_matches_id_or_name_and_escapes_wildcards(store: HistoryStore) -> None:
    first = await store.create_batch(make_batch(["a"], name="weekly reach 100%"))
    second = await store.create_batch(make_batch(["a"], name="Brand_lift"))
    await store.create_batch(make_batch(["a"], name="other"))

    assert [s.id for s in await store.list_batches(search="REACH")] == [first.id]
    assert [s.id for s in await store.list_batches(search="100%")] == [first.id]
    # "_" and "%" are literal, not LIKE wildcards.
    assert [s.id for s in await store.list_batches(search="d_l")] == [second.id]
    assert await store.list_batches(search="0_%") == []
    assert [s.id for s in await store.list_batches(search=second.id)] == [second.id]


async def test_latest_by_instance_gives_each_instance_its_newest_execution(
    store: HistoryStore,
) -> None:
    older = make_batch(["x", "y"], name="older")
    newer = make_batch(["x"], name="newer")
    newer.executions[0].instance_uuid = older.executions[0].instance_uuid
    await store.create_batch(older)
    await store.create_batch(newer)
    x, y = (ex.instance_uuid for ex in older.executions)

    latest = await store.latest_by_instance([x, y, uuid.uuid4()])

    assert set(latest) == {x, y}
    assert latest[x].batch_id == newer.id
    assert latest[y].batch_id == older.id
