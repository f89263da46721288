"""The engine's combined writes, list_executions and commit_count of the history store."""

from __future__ import annotations

import pytest
from store_support import stored_batch

from amc_tui.domain import Batch, BatchStatus, Execution, ExecutionStatus
from amc_tui.errors import ErrorCategory, IllegalTransitionError, StoreError
from amc_tui.store import HistoryStore, InstanceRecord

S = ExecutionStatus

# The legal road from QUEUED to each status.
ROADS: dict[ExecutionStatus, list[ExecutionStatus]] = {
    S.QUEUED: [],
    S.SUBMITTING: [S.SUBMITTING],
    S.UNKNOWN: [S.SUBMITTING, S.UNKNOWN],
    S.PENDING: [S.SUBMITTING, S.PENDING],
    S.RUNNING: [S.SUBMITTING, S.PENDING, S.RUNNING],
    S.SUCCEEDED: [S.SUBMITTING, S.PENDING, S.RUNNING, S.SUCCEEDED],
    S.FAILED: [S.SUBMITTING, S.FAILED],
    S.CANCELLED: [S.CANCELLED],
}


async def execution_in(store: HistoryStore, status: ExecutionStatus, name: str = "a") -> int:
    created = await stored_batch(store, [name])
    execution_id = created.executions[0].id
    assert execution_id is not None
    for step in ROADS[status]:
        await store.transition_execution(execution_id, step)
    return execution_id


def ids(executions: list[Execution]) -> list[int | None]:
    return [e.id for e in executions]


# --- start_attempt ---------------------------------------------------------------------


async def test_start_attempt_from_queued_submits_and_begins_attempt_one(
    store: HistoryStore,
) -> None:
    execution_id = await execution_in(store, S.QUEUED)
    before = await store.get_execution(execution_id)
    assert before is not None and before.submitted_at is None

    execution, attempt = await store.start_attempt(execution_id)

    assert execution.status is S.SUBMITTING and execution.attempts == 1
    assert execution.submitted_at is not None and execution.updated_at >= before.updated_at
    assert attempt.number == 1 and attempt.finished_at is None
    assert attempt.started_at == execution.submitted_at
    assert await store.get_execution(execution_id) == execution
    assert await store.list_attempts(execution_id) == [attempt]


async def test_start_attempt_while_submitting_is_a_retry(store: HistoryStore) -> None:
    execution_id = await execution_in(store, S.QUEUED)
    first, one = await store.start_attempt(execution_id)
    await store.finish_attempt(execution_id, one.number, retry_delay=0.5)

    again, two = await store.start_attempt(execution_id)

    assert again.status is S.SUBMITTING and again.attempts == 2 and two.number == 2
    assert again.submitted_at == first.submitted_at  # still the first submission
    assert [a.number for a in await store.list_attempts(execution_id)] == [1, 2]


async def test_start_attempt_from_unknown_submits_again(store: HistoryStore) -> None:
    execution_id = await execution_in(store, S.QUEUED)
    first, _ = await store.start_attempt(execution_id)
    await store.transition_execution(execution_id, S.UNKNOWN)

    again, attempt = await store.start_attempt(execution_id)

    assert again.status is S.SUBMITTING and again.attempts == 2 and attempt.number == 2
    assert first.submitted_at is not None and again.submitted_at is not None
    assert again.submitted_at >= first.submitted_at


@pytest.mark.parametrize(
    "status", [S.PENDING, S.RUNNING, S.SUCCEEDED, S.FAILED, S.CANCELLED], ids=str
)
async def test_start_attempt_is_refused_elsewhere_and_changes_nothing(
    store: HistoryStore, status: ExecutionStatus
) -> None:
    execution_id = await execution_in(store, status)
    before = await store.get_execution(execution_id)
    commits = store.commit_count

    with pytest.raises(IllegalTransitionError):
        await store.start_attempt(execution_id)

    assert await store.get_execution(execution_id) == before
    assert before is not None and before.attempts == 0
    assert await store.list_attempts(execution_id) == []
    assert store.commit_count == commits


async def test_start_attempt_on_unknown_execution(store: HistoryStore) -> None:
    with pytest.raises(StoreError, match="no execution 4242"):
        await store.start_attempt(4242)


# --- finish_attempt --------------------------------------------------------------------


async def test_finish_attempt_without_status_only_ends_the_attempt(store: HistoryStore) -> None:
    execution_id = await execution_in(store, S.QUEUED)
    execution, attempt = await store.start_attempt(execution_id)

    after = await store.finish_attempt(
        execution_id,
        attempt.number,
        error_category=ErrorCategory.THROTTLED,
        error_message="AMC is throttling requests; retrying",
        retry_delay=1.5,
    )

    assert after == execution  # status, error and times of the execution untouched
    [ended] = await store.list_attempts(execution_id)
    assert ended.finished_at is not None and ended.finished_at >= ended.started_at
    assert ended.error_category is ErrorCategory.THROTTLED
    assert ended.error_message == "AMC is throttling requests; retrying"
    assert ended.retry_delay == 1.5


async def test_finish_attempt_with_status_moves_the_execution(store: HistoryStore) -> None:
    execution_id = await execution_in(store, S.QUEUED)
    _, attempt = await store.start_attempt(execution_id)

    pending = await store.finish_attempt(
        execution_id, attempt.number, new_status=S.PENDING, amc_execution_id="exec-9"
    )

    assert pending.status is S.PENDING and pending.amc_execution_id == "exec-9"
    assert pending.finished_at is None and pending.error_category is None
    assert await store.get_execution(execution_id) == pending
    [ended] = await store.list_attempts(execution_id)
    assert ended.finished_at is not None and ended.error_category is None


async def test_finish_attempt_into_a_terminal_status(store: HistoryStore) -> None:
    execution_id = await execution_in(store, S.QUEUED)
    _, attempt = await store.start_attempt(execution_id)

    failed = await store.finish_attempt(
        execution_id,
        attempt.number,
        new_status=S.FAILED,
        error_category=ErrorCategory.FORBIDDEN,
        error_message="Access denied for this instance",
    )

    assert failed.status is S.FAILED and failed.finished_at is not None
    assert failed.error_category is ErrorCategory.FORBIDDEN
    assert failed.error_message == "Access denied for this instance"
    [ended] = await store.list_attempts(execution_id)
    assert ended.finished_at == failed.finished_at
    assert ended.error_category is ErrorCategory.FORBIDDEN


async def test_finish_attempt_with_illegal_status_leaves_the_attempt_open(
    store: HistoryStore,
) -> None:
    execution_id = await execution_in(store, S.QUEUED)
    _, attempt = await store.start_attempt(execution_id)
    before = await store.get_execution(execution_id)
    commits = store.commit_count

    with pytest.raises(IllegalTransitionError):
        await store.finish_attempt(
            execution_id,
            attempt.number,
            new_status=S.QUEUED,
            amc_execution_id="sneaky",
            error_message="should not be stored",
            retry_delay=3.0,
        )

    assert await store.get_execution(execution_id) == before
    assert await store.list_attempts(execution_id) == [attempt]  # not ended
    assert store.commit_count == commits
    # The attempt can still be ended properly.
    done = await store.finish_attempt(execution_id, attempt.number, new_status=S.PENDING)
    assert done.status is S.PENDING


async def test_finish_attempt_misuse(store: HistoryStore) -> None:
    execution_id = await execution_in(store, S.QUEUED)
    before = await store.get_execution(execution_id)
    with pytest.raises(StoreError, match="no attempt 1"):
        await store.finish_attempt(execution_id, 1, new_status=S.SUBMITTING)
    assert await store.get_execution(execution_id) == before  # not moved either

    _, attempt = await store.start_attempt(execution_id)
    await store.finish_attempt(execution_id, attempt.number)
    with pytest.raises(StoreError, match="already ended"):
        await store.finish_attempt(execution_id, attempt.number, new_status=S.PENDING)
    current = await store.get_execution(execution_id)
    assert current is not None and current.status is S.SUBMITTING
    with pytest.raises(StoreError, match="no execution 4242"):
        await store.finish_attempt(4242, 1)


# --- cancel_queued and list_executions -------------------------------------------------


async def _mixed_batch(store: HistoryStore) -> Batch:
    """Five executions named out of order: two QUEUED, one each SUBMITTING, PENDING,
    SUCCEEDED."""
    created = await stored_batch(store, ["delta", "Alpha", "echo", "charlie", "Bravo"])
    by_name = {e.instance_name: e.id for e in created.executions}
    roads = {"Bravo": S.SUBMITTING, "charlie": S.PENDING, "echo": S.SUCCEEDED}
    for name, status in roads.items():
        execution_id = by_name[name]
        assert execution_id is not None
        for step in ROADS[status]:
            await store.transition_execution(execution_id, step)
    return created


async def test_cancel_queued_touches_only_queued_executions(store: HistoryStore) -> None:
    created = await _mixed_batch(store)
    other = await stored_batch(store, ["zulu"])
    before = {e.id: e for e in await store.list_executions(created.id)}
    commits = store.commit_count

    cancelled = await store.cancel_queued(created.id)

    assert store.commit_count == commits + 1
    assert [e.instance_name for e in cancelled] == ["Alpha", "delta"]
    for execution in cancelled:
        assert execution.status is S.CANCELLED and execution.finished_at is not None
        assert execution.updated_at >= before[execution.id].updated_at
    after = {e.id: e for e in await store.list_executions(created.id)}
    for execution_id, execution in after.items():
        if execution.instance_name in ("Alpha", "delta"):
            assert execution == next(c for c in cancelled if c.id == execution_id)
        else:
            assert execution == before[execution_id]
    assert [e.status for e in await store.list_executions(other.id)] == [S.QUEUED]
    assert await store.cancel_queued(created.id) == []
    with pytest.raises(StoreError, match="no batch batch_missing1"):
        await store.cancel_queued("batch_missing1")


async def test_list_executions_by_name_and_status(store: HistoryStore) -> None:
    created = await _mixed_batch(store)
    await stored_batch(store, ["another batch"])

    everything = await store.list_executions(created.id)
    assert [e.instance_name for e in everything] == ["Alpha", "Bravo", "charlie", "delta", "echo"]
    assert everything == (await store.get_batch(created.id) or created).executions

    queued = await store.list_executions(created.id, {S.QUEUED})
    assert [e.instance_name for e in queued] == ["Alpha", "delta"]
    on_amc = await store.list_executions(created.id, [S.PENDING, S.SUBMITTING, S.RUNNING])
    assert [(e.instance_name, e.status) for e in on_amc] == [
        ("Bravo", S.SUBMITTING),
        ("charlie", S.PENDING),
    ]
    assert await store.list_executions(created.id, (S.FAILED,)) == []
    assert await store.list_executions(created.id, []) == []
    assert await store.list_executions("batch_missing1") == []


# --- commit_count ----------------------------------------------------------------------


async def test_commit_count_is_one_per_write_and_none_per_read(store: HistoryStore) -> None:
    assert store.commit_count == 0  # the migrations of a fresh file are not counted
    created = await stored_batch(store, ["a", "b"])
    assert store.commit_count == 1
    one, two = (e.id for e in created.executions)
    assert one is not None and two is not None
    _, attempt = await store.start_attempt(one)
    assert store.commit_count == 2
    await store.finish_attempt(one, attempt.number, new_status=S.PENDING)
    assert store.commit_count == 3
    await store.transition_execution(one, S.RUNNING)
    assert store.commit_count == 4
    await store.begin_attempt(two)
    assert store.commit_count == 5
    await store.end_attempt(two, 1)
    assert store.commit_count == 6
    await store.transition_batch(created.id, BatchStatus.RUNNING)
    assert store.commit_count == 7
    assert await store.request_cancel(created.id)
    assert store.commit_count == 8
    await store.cancel_queued(created.id)
    assert store.commit_count == 9
    await store.upsert_instances("p", [InstanceRecord(instance_id="amc1", name="one")])
    assert store.commit_count == 10

    await store.get_batch(created.id)
    await store.get_batch_summary(created.id)
    await store.list_batches()
    await store.list_executions(created.id)
    await store.list_attempts(one)
    await store.get_execution(one)
    await store.find_execution_by_amc_id("nothing")
    await store.is_cancel_requested(created.id)
    await store.list_instances("p")
    assert store.commit_count == 10
    with pytest.raises(IllegalTransitionError):
        await store.transition_execution(one, S.QUEUED)
    assert store.commit_count == 10


async def test_commit_count_starts_at_zero_on_reopen(store: HistoryStore) -> None:
    await stored_batch(store, ["a"])
    assert store.commit_count == 1
    async with await HistoryStore.open(store.path) as again:
        assert again.commit_count == 0
        assert len(await again.list_batches()) == 1
