"""BatchRunner against the in-process simulator: the limit, retries, cancel, resume.

Each scenario asserts on what the simulator counted as well as on the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from engine_support import EngineEnv, fast_engine, fast_simulator, make_env, wait_until

from amc_tui.amc.simulator.config import SimInstance
from amc_tui.domain import Batch, BatchStatus, ExecutionStatus, QuerySpec
from amc_tui.engine.events import (
    AttemptFailed,
    BatchFinished,
    BatchStarted,
    CancelRequested,
    ExecutionChanged,
    PollFailed,
)
from amc_tui.engine.locks import BatchBusyError, BatchLock
from amc_tui.engine.runner import TASKS_AT_ONCE, BatchRunner
from amc_tui.errors import ErrorCategory, InputError, gave_up_message
from amc_tui.store.history import HistoryStore

S = ExecutionStatus


@pytest.fixture
async def env(tmp_path: Path, store: HistoryStore) -> AsyncIterator[EngineEnv]:
    made = await make_env(tmp_path, store, fast_simulator())
    yield made
    await made.client.aclose()


# --- the limit --------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 5, 7])
async def test_never_more_than_n_in_flight_and_every_slot_used(env: EngineEnv, limit: int) -> None:
    # Long enough (0.3 s) that even a slow machine has every slot busy at once.
    env.sim.config.duration_min = env.sim.config.duration_max = 300.0
    n = 3 * limit + 1
    batch = await env.new_batch(n, max_concurrency=limit)
    final = await env.runner(fast_engine(max_concurrent_executions=limit)).run(batch.id)

    assert final.status is BatchStatus.COMPLETED
    assert [ex.status for ex in final.executions] == [S.SUCCEEDED] * n
    assert env.sim.stats.max_in_flight <= limit
    assert env.sim.stats.max_in_flight == limit  # freed slots are refilled
    made = env.sim.stats.executions_made_per_instance
    assert len(made) == n and set(made.values()) == {1}


async def test_a_large_batch_makes_its_tasks_in_parts_and_runs_whole(
    tmp_path: Path, store: HistoryStore
) -> None:
    """Its executions' tasks come TASKS_AT_ONCE per turn of the event loop (a thousand
    in one turn held the screen's keys back), and every one runs, in order."""
    n = 2 * TASKS_AT_ONCE + 50
    instances = [
        SimInstance(instance_id=f"amcpart{k:04d}", instance_name=f"Part {k:04d}") for k in range(n)
    ]
    config = fast_simulator(
        instances=instances, instances_page_size=100, duration_min=5.0, duration_max=5.0
    )
    big = await make_env(tmp_path, store, config)
    counts: list[int] = []

    def guarded() -> int:
        coros = (task.get_coro() for task in asyncio.all_tasks())
        return sum(1 for c in coros if getattr(c, "__qualname__", "").endswith("_guarded"))

    async def count_tasks() -> None:
        """Each turn of the event loop, until the last part is made."""
        while not counts or counts[-1] <= 2 * TASKS_AT_ONCE:
            counts.append(guarded())
            await asyncio.sleep(0)

    counter = asyncio.create_task(count_tasks())
    try:
        batch = await big.new_batch(n)
        final = await big.runner(fast_engine(max_concurrent_executions=20)).run(batch.id)
    finally:
        counter.cancel()
        await big.client.aclose()

    assert [ex.status for ex in final.executions] == [S.SUCCEEDED] * n
    assert TASKS_AT_ONCE in counts and 2 * TASKS_AT_ONCE in counts  # a turn between parts
    assert max(counts) <= n
    submitted = [ex.submitted_at for ex in final.executions]
    assert all(when is not None for when in submitted)
    assert submitted[0] <= submitted[-1]  # type: ignore[operator]


async def test_process_limit_holds_across_two_batches(env: EngineEnv) -> None:
    runner = env.runner(fast_engine(max_concurrent_executions=3))
    first, second = await env.new_batch(8), await env.new_batch(8)
    results = await asyncio.gather(runner.run(first.id), runner.run(second.id))
    assert [b.status for b in results] == [BatchStatus.COMPLETED] * 2
    assert env.sim.stats.max_in_flight <= 3


# --- retries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "category"),
    [
        ("429", ErrorCategory.THROTTLED),
        ("500", ErrorCategory.SERVER_ERROR),
        ("502", ErrorCategory.SERVER_ERROR),
        ("503", ErrorCategory.SERVER_ERROR),
        ("504", ErrorCategory.SERVER_ERROR),
    ],
)
async def test_transient_errors_retried_the_configured_times_then_failed(
    env: EngineEnv, script: str, category: ErrorCategory
) -> None:
    target = env.ids(1)[0]
    env.sim.config.instance_scripts[target] = [script] * 10
    batch = await env.new_batch(2)
    final = await env.runner(fast_engine(max_retry_attempts=3)).run(batch.id)

    failed = next(ex for ex in final.executions if ex.instance_id == target)
    assert failed.status is S.FAILED
    assert failed.error_message == gave_up_message(category, 4)
    assert failed.attempts == 4  # the first try and three retries
    assert env.sim.stats.creates_per_instance[target] == 4
    attempts = await env.store.list_attempts(failed.id or 0)
    assert [a.error_category for a in attempts] == [category] * 4
    delays = [a.retry_delay for a in attempts]
    assert delays[3] is None and all(d is not None and d > 0 for d in delays[:3])
    assert delays[0] < delays[1] < delays[2]  # exponential
    assert final.status is BatchStatus.PARTIAL
    retries = [e for e in env.events if isinstance(e, AttemptFailed) and e.retry_in is not None]
    assert len(retries) == 3
    # A 5xx may have made the execution: the list call is asked before each retry.
    lookups = env.sim.stats.requests["GET list"]
    assert lookups == (0 if script == "429" else 4)


async def test_a_transient_error_then_success(env: EngineEnv) -> None:
    target = env.ids(1)[0]
    env.sim.config.instance_scripts[target] = ["503", "429", "ok"]
    batch = await env.new_batch(1)
    final = await env.runner().run(batch.id)
    ex = final.executions[0]
    assert (ex.status, ex.attempts, final.status) == (S.SUCCEEDED, 3, BatchStatus.COMPLETED)
    assert env.sim.stats.executions_made_per_instance[target] == 1
    attempts = await env.store.list_attempts(ex.id or 0)
    assert attempts[-1].error_category is None and attempts[-1].finished_at is not None


@pytest.mark.parametrize(
    ("script", "category"),
    [
        ("400", ErrorCategory.INVALID_REQUEST),
        ("sql_error", ErrorCategory.INVALID_REQUEST),
        ("403", ErrorCategory.FORBIDDEN),
    ],
)
async def test_permanent_errors_are_tried_once(
    env: EngineEnv, script: str, category: ErrorCategory
) -> None:
    target = env.ids(1)[0]
    env.sim.config.instance_scripts[target] = [script, "ok", "ok"]
    batch = await env.new_batch(1)
    final = await env.runner().run(batch.id)
    ex = final.executions[0]
    assert (ex.status, ex.attempts) == (S.FAILED, 1)
    assert ex.error_category is category
    assert env.sim.stats.creates_per_instance[target] == 1
    assert final.status is BatchStatus.FAILED


async def test_an_unknown_saved_workflow_is_named(env: EngineEnv) -> None:
    batch = await env.new_batch(1, query=QuerySpec(workflow_id="no-such-workflow"))
    final = await env.runner().run(batch.id)
    ex = final.executions[0]
    assert ex.status is S.FAILED and ex.error_category is ErrorCategory.NOT_FOUND
    assert ex.error_message == "Workflow 'no-such-workflow' was not found on this instance"


async def test_retry_after_is_respected(env: EngineEnv) -> None:
    env.sim.config.retry_after = 0.3
    target = env.ids(1)[0]
    env.sim.config.instance_scripts[target] = ["429", "ok"]
    batch = await env.new_batch(1)
    final = await env.runner(fast_engine(retry_delay_base=0.001)).run(batch.id)
    attempts = await env.store.list_attempts(final.executions[0].id or 0)
    assert attempts[0].retry_delay is not None and attempts[0].retry_delay >= 0.3
    waited = (attempts[1].started_at - attempts[0].started_at).total_seconds()
    assert waited >= 0.3


async def test_a_lost_create_answer_makes_no_duplicate(env: EngineEnv) -> None:
    target = env.ids(1)[0]
    env.sim.config.instance_scripts[target] = ["lost", "ok", "ok"]
    batch = await env.new_batch(1)
    final = await env.runner().run(batch.id)
    ex = final.executions[0]
    assert ex.status is S.SUCCEEDED
    assert env.sim.stats.creates_per_instance[target] == 1
    assert env.sim.stats.executions_made_per_instance[target] == 1
    assert ex.amc_execution_id in env.sim.executions
    assert ex.attempts == 1


async def test_failed_on_amc_keeps_the_reason(env: EngineEnv) -> None:
    target = env.ids(1)[0]
    env.sim.config.instance_scripts[target] = ["fail"]
    batch = await env.new_batch(1)
    final = await env.runner().run(batch.id)
    ex = final.executions[0]
    assert ex.status is S.FAILED and ex.error_category is ErrorCategory.QUERY_FAILED
    assert ex.error_message is not None and ex.error_message.startswith("The query failed on AMC")
    assert final.status is BatchStatus.FAILED


async def test_per_instance_parameters_are_merged(env: EngineEnv) -> None:
    a, b = env.ids(2)
    query = QuerySpec(
        sql="SELECT 1 FROM dsp_impressions",
        parameters={"brand": "Acme", "days": "7"},
        instance_parameters={b: {"brand": "Acme EU"}},
    )
    batch = await env.new_batch(2, query=query)
    await env.runner().run(batch.id)
    sent = {r.instance_id: dict(r.request.parameter_values) for r in env.sim.executions.values()}
    assert sent[a] == {"brand": "Acme", "days": "7"}
    assert sent[b] == {"brand": "Acme EU", "days": "7"}


# --- events -----------------------------------------------------------------------------


async def test_events_follow_committed_changes_in_order(env: EngineEnv) -> None:
    runner = env.runner()
    seen: list[tuple[int, S, S]] = []
    stored_then: list[S] = []

    async def watch() -> None:
        async for event in runner.events.subscribe():
            if isinstance(event, ExecutionChanged):
                seen.append((event.execution.id or 0, event.previous, event.execution.status))
                stored = await env.store.get_execution(event.execution.id or 0)
                assert stored is not None
                stored_then.append(stored.status)
            if isinstance(event, BatchFinished):
                return

    watcher = asyncio.create_task(watch())
    batch = await env.new_batch(3)
    await runner.run(batch.id)
    await asyncio.wait_for(watcher, 10)

    order = [S.QUEUED, S.SUBMITTING, S.PENDING, S.RUNNING, S.SUCCEEDED]
    for ex in batch.executions:
        path = [(old, new) for eid, old, new in seen if eid == ex.id]
        assert path[0][0] is S.QUEUED and path[-1][1] is S.SUCCEEDED
        assert all(order.index(old) < order.index(new) for old, new in path)
    # When an event arrives, the store already holds that state (or a later one).
    for (_, _, new), stored in zip(seen, stored_then, strict=True):
        assert order.index(stored) >= order.index(new)
    kinds = [type(e) for e in env.events]
    assert kinds[0] is BatchStarted and kinds[-1] is BatchFinished


# --- cancel -----------------------------------------------------------------------------


async def _running_batch(
    env: EngineEnv, n: int = 12
) -> tuple[BatchRunner, str, asyncio.Task[Batch]]:
    env.sim.config.duration_min = env.sim.config.duration_max = 100_000.0  # ~100 s
    batch = await env.new_batch(n)
    runner = env.runner()
    task = asyncio.create_task(runner.run(batch.id))
    await wait_until(lambda: env.sim.stats.max_in_flight == 5 and env.sim.stats.in_flight() == 5)
    return runner, batch.id, task


async def test_cancel_mid_run_leaves_nothing_on_amc(env: EngineEnv) -> None:
    runner, batch_id, task = await _running_batch(env)
    assert await runner.cancel(batch_id)
    assert await runner.cancel(batch_id)  # idempotent
    final = await asyncio.wait_for(task, 20)

    assert final.status is BatchStatus.CANCELLED
    assert env.sim.stats.in_flight() == 0
    assert env.sim.stats.requests["POST create"] == 5  # queued ones were never sent
    assert env.sim.stats.requests["PUT cancel"] == 5
    statuses = [ex.status for ex in final.executions]
    assert statuses == [S.CANCELLED] * 12
    assert sum(1 for e in env.events if isinstance(e, CancelRequested)) == 1


async def test_an_execution_finished_before_the_cancel_keeps_its_state(env: EngineEnv) -> None:
    batch = await env.new_batch(3)
    runner = env.runner()
    env.sim.config.instance_scripts[env.ids(1)[0]] = ["ok"]
    task = asyncio.create_task(runner.run(batch.id))
    await wait_until(
        lambda: any(
            isinstance(e, ExecutionChanged) and e.execution.status is S.SUCCEEDED
            for e in env.events
        )
    )
    env.sim.config.duration_min = env.sim.config.duration_max = 100_000.0
    await runner.cancel(batch.id)
    final = await asyncio.wait_for(task, 20)
    assert final.status is BatchStatus.CANCELLED
    assert S.SUCCEEDED in [ex.status for ex in final.executions]
    assert env.sim.stats.in_flight() == 0


async def test_cancel_from_another_connection_is_noticed(env: EngineEnv) -> None:
    _, batch_id, task = await _running_batch(env)
    async with await HistoryStore.open(env.store.path) as other:
        assert await other.request_cancel(batch_id)
    loop = asyncio.get_running_loop()
    asked = loop.time()
    await wait_until(lambda: any(isinstance(e, CancelRequested) for e in env.events))
    assert loop.time() - asked < 2.0
    final = await asyncio.wait_for(task, 20)
    assert final.status is BatchStatus.CANCELLED
    assert env.sim.stats.in_flight() == 0


# --- interrupt and resume ---------------------------------------------------------------


async def test_interrupt_leaves_amc_running_then_resume_finishes(env: EngineEnv) -> None:
    runner, batch_id, task = await _running_batch(env)
    runner.interrupt(batch_id)
    interrupted = await asyncio.wait_for(task, 20)
    assert interrupted.status is BatchStatus.INTERRUPTED
    assert env.sim.stats.in_flight() == 5  # left running on AMC
    assert env.sim.stats.requests["PUT cancel"] == 0

    env.sim.config.duration_min = env.sim.config.duration_max = 20.0
    for record in env.sim.executions.values():  # let the long ones end soon
        record.duration_seconds = record.pending_seconds = 0.0
    resumed = await env.runner().run(batch_id)
    assert resumed.status is BatchStatus.COMPLETED
    made = env.sim.stats.executions_made_per_instance
    assert sum(made.values()) == 12 and set(made.values()) == {1}
    assert any(isinstance(e, BatchStarted) and e.resumed for e in env.events)


async def test_resume_adopts_an_execution_made_before_the_process_died(env: EngineEnv) -> None:
    batch = await env.new_batch(1)
    ex = batch.executions[0]
    # The process wrote its intent, AMC made the execution, the answer never arrived.
    await env.store.start_attempt(ex.id or 0)
    made = await env.client.create_execution(ex.instance_id, batch.query)
    final = await env.runner().run(batch.id)
    assert final.executions[0].amc_execution_id == made.execution_id
    assert final.executions[0].status is S.SUCCEEDED
    assert env.sim.stats.executions_made_per_instance[ex.instance_id] == 1


async def test_resume_submits_when_nothing_was_made(env: EngineEnv) -> None:
    batch = await env.new_batch(1)
    ex = batch.executions[0]
    await env.store.start_attempt(ex.id or 0)
    final = await env.runner().run(batch.id)
    assert final.executions[0].status is S.SUCCEEDED
    assert env.sim.stats.executions_made_per_instance[ex.instance_id] == 1
    attempts = await env.store.list_attempts(ex.id or 0)
    assert attempts[0].error_category is ErrorCategory.LOST_ANSWER
    assert len(attempts) == 2


async def test_a_batch_held_by_a_lock_is_refused(env: EngineEnv) -> None:
    batch = await env.new_batch(1)
    with BatchLock(env.lock_dir, batch.id), pytest.raises(BatchBusyError):
        await env.runner().run(batch.id)
    stored = await env.store.get_batch(batch.id)
    assert stored is not None and stored.status is BatchStatus.PENDING


async def test_a_batch_added_and_never_run_can_be_left_interrupted(env: EngineEnv) -> None:
    # What the TUI does with a batch launched a moment before the operator quits,
    # leaving the batches: its run never begins.
    batch = env.built_batch(2)
    runner = env.runner()
    await runner.add(batch)  # stored, and its lock taken
    with pytest.raises(BatchBusyError):
        BatchLock(env.lock_dir, batch.id).acquire()
    await runner.leave_unrun(batch.id)
    left = await env.store.get_batch(batch.id)
    assert left is not None and left.status is BatchStatus.INTERRUPTED
    assert {ex.status for ex in left.executions} == {S.QUEUED}
    with BatchLock(env.lock_dir, batch.id):  # free: a resume may take it
        pass
    assert sum(env.sim.stats.executions_made_per_instance.values()) == 0


async def test_unknown_and_finished_batches(env: EngineEnv) -> None:
    with pytest.raises(InputError, match="batch_nothere"):
        await env.runner().run("batch_nothere")
    batch = await env.new_batch(1)
    runner = env.runner()
    await runner.run(batch.id)
    calls = sum(env.sim.stats.requests.values())
    again = await runner.run(batch.id)
    assert again.status is BatchStatus.COMPLETED
    assert sum(env.sim.stats.requests.values()) == calls


# --- faults while polling, and cancelling a batch nobody runs ---------------------------


async def test_polling_rides_out_transient_errors(env: EngineEnv) -> None:
    env.sim.config.server_error_rate = 0.3
    env.sim.config.throttle_rate = 0.2
    batch = await env.new_batch(10)
    final = await env.runner(fast_engine(max_retry_attempts=8)).run(batch.id)
    poll_failures = [e for e in env.events if isinstance(e, PollFailed)]
    assert poll_failures  # status calls failed...
    assert final.status is BatchStatus.COMPLETED  # ...and polling went on regardless
    made = env.sim.stats.executions_made_per_instance
    assert set(made.values()) == {1} and len(made) == 10  # 5xx on create: no duplicates
    assert env.sim.stats.max_in_flight <= 5


async def test_cancelling_an_interrupted_batch_cancels_on_amc(env: EngineEnv) -> None:
    runner, batch_id, task = await _running_batch(env)
    runner.interrupt(batch_id)
    assert (await asyncio.wait_for(task, 20)).status is BatchStatus.INTERRUPTED
    assert env.sim.stats.in_flight() == 5

    later = env.runner()
    assert await later.cancel(batch_id)  # nobody runs it: recorded in the store
    final = await later.run(batch_id)  # the run carries the cancel out
    assert final.status is BatchStatus.CANCELLED
    assert env.sim.stats.in_flight() == 0
    assert env.sim.stats.requests["POST create"] == 5
    assert [ex.status for ex in final.executions] == [S.CANCELLED] * 12


async def test_waiting_for_amc_to_confirm_a_cancel_does_not_hammer_it(env: EngineEnv) -> None:
    runner, batch_id, task = await _running_batch(env, n=5)
    env.sim.config.cancel_delay = 400.0  # AMC confirms 0.4 s after the cancel
    calls_before = sum(env.sim.stats.status_calls_per_execution.values())
    await runner.cancel(batch_id)
    final = await asyncio.wait_for(task, 20)
    assert final.status is BatchStatus.CANCELLED
    per_execution = (sum(env.sim.stats.status_calls_per_execution.values()) - calls_before) / 5
    # Polls back off from the minimum interval; a busy loop would make thousands.
    assert 1 <= per_execution <= 60


async def test_cancelling_an_unsettled_batch_sends_nothing(env: EngineEnv) -> None:
    batch = await env.new_batch(2)
    first = batch.executions[0]
    await env.store.start_attempt(first.id or 0)  # died mid-create; AMC made nothing
    runner = env.runner()
    assert await runner.cancel(batch.id)
    final = await runner.run(batch.id)
    assert final.status is BatchStatus.CANCELLED
    assert [ex.status for ex in final.executions] == [S.CANCELLED, S.CANCELLED]
    assert env.sim.stats.requests["POST create"] == 0
    assert env.sim.stats.requests["GET list"] == 1  # asked AMC before deciding


async def test_a_resume_beaten_to_the_batch_says_nothing_to_resume(
    env: EngineEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    # `amc-tui resume` read the batch unfinished, then waited for its lock while another
    # process finished it: it must not say it is resuming, and must end with the batch.
    from amc_tui.batch_commands import drive_batch

    stale = await env.new_batch(3)
    finished = await env.runner().run(stale.id)  # the other process
    assert finished.status is BatchStatus.COMPLETED
    code = await drive_batch(env.runner(), stale, as_json=True)
    err = capsys.readouterr().err
    assert code == 0
    assert f"batch {stale.id} already ended completed; nothing to resume" in err
    assert "resuming" not in err and "running 3 executions" not in err


async def test_a_run_says_what_it_starts(
    env: EngineEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    from amc_tui.batch_commands import drive_batch

    batch = await env.new_batch(3)
    assert await drive_batch(env.runner(), batch, as_json=True) == 0
    err = capsys.readouterr().err
    assert f"batch {batch.id}: running 3 executions" in err
    assert "nothing to resume" not in err
