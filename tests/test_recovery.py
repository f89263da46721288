"""Batches left behind by a dead process: found by their lock at start-up, marked
interrupted, and resumed by one process only.

A "dead process" is a batch stored ``running`` (or ``pending``) whose lock nobody
holds; a live one is a batch whose lock is held, here through a second file
descriptor, which ``flock`` treats exactly like another process.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from engine_support import SQL, WINDOW, EngineEnv, fast_engine, fast_simulator, make_env
from process_support import amc_cli

from amc_tui.domain import Batch, BatchStatus, ExecutionStatus, QuerySpec
from amc_tui.engine.events import BatchStarted
from amc_tui.engine.locks import BatchBusyError, BatchLock
from amc_tui.engine.recovery import open_recovered, recover_orphans
from amc_tui.engine.runner import BatchRunner
from amc_tui.engine.validation import build_batch
from amc_tui.store.history import HistoryStore

S = ExecutionStatus


@pytest.fixture
async def env(tmp_path: Path, store: HistoryStore) -> AsyncIterator[EngineEnv]:
    made = await make_env(tmp_path, store, fast_simulator())
    yield made
    await made.client.aclose()


async def left_running(env: EngineEnv, n: int = 3) -> str:
    """A batch as a killed process leaves it: running, one execution mid-create."""
    batch = await env.new_batch(n)
    await env.store.transition_batch(batch.id, BatchStatus.RUNNING)
    first = batch.executions[0]
    assert first.id is not None
    await env.store.start_attempt(first.id)
    return batch.id


def unstored(env: EngineEnv, n: int) -> Batch:
    batch, _ = build_batch(
        refs=env.ids(n),
        known=env.instances,
        query=QuerySpec(sql=SQL, time_window=WINDOW),
        engine=fast_engine(),
        profile="demo",
    )
    return batch


async def test_a_batch_whose_owner_is_gone_becomes_interrupted(env: EngineEnv) -> None:
    batch_id = await left_running(env)
    recovered = await recover_orphans(env.store, env.lock_dir)
    assert [s.id for s in recovered] == [batch_id]
    batch = await env.store.get_batch(batch_id)
    assert batch is not None and batch.status is BatchStatus.INTERRUPTED
    # The create's answer is unknown: a resume asks AMC before anything else.
    assert [ex.status for ex in batch.executions].count(S.UNKNOWN) == 1
    assert [ex.status for ex in batch.executions].count(S.QUEUED) == 2
    assert await recover_orphans(env.store, env.lock_dir) == []  # once is enough


async def test_a_batch_whose_lock_is_held_is_left_alone_however_old(env: EngineEnv) -> None:
    batch_id = await left_running(env)
    with BatchLock(env.lock_dir, batch_id):  # another live process runs it
        assert await recover_orphans(env.store, env.lock_dir) == []
    summary = await env.store.get_batch_summary(batch_id)
    assert summary is not None and summary.status is BatchStatus.RUNNING


async def test_a_pending_batch_left_by_a_dead_process_is_recovered(env: EngineEnv) -> None:
    orphan = await env.new_batch(2)  # stored, never started, no owner
    runner = env.runner()
    batch = unstored(env, 2)
    added = await runner.add(batch)  # stored by a live runner: locked from the start
    recovered = await recover_orphans(env.store, env.lock_dir)
    assert [s.id for s in recovered] == [orphan.id]
    summary = await env.store.get_batch_summary(added.id)
    assert summary is not None and summary.status is BatchStatus.PENDING
    finished = await runner.run(added.id)
    assert finished.status is BatchStatus.COMPLETED


async def test_finished_and_interrupted_batches_are_not_touched(env: EngineEnv) -> None:
    done = await env.new_batch(2)
    await env.runner().run(done.id)
    stopped = await env.new_batch(2)
    await env.store.transition_batch(stopped.id, BatchStatus.INTERRUPTED)
    assert await recover_orphans(env.store, env.lock_dir) == []
    for batch_id, status in (
        (done.id, BatchStatus.COMPLETED),
        (stopped.id, BatchStatus.INTERRUPTED),
    ):
        summary = await env.store.get_batch_summary(batch_id)
        assert summary is not None and summary.status is status


async def test_an_unusable_lock_dir_skips_recovery_without_stopping(env: EngineEnv) -> None:
    batch_id = await left_running(env)
    blocked = env.lock_dir.parent / "not-a-dir"
    blocked.write_text("a file where the lock dir should be")
    assert await recover_orphans(env.store, blocked / "locks") == []
    summary = await env.store.get_batch_summary(batch_id)
    assert summary is not None and summary.status is BatchStatus.RUNNING


async def test_open_recovered_opens_and_recovers(env: EngineEnv) -> None:
    batch_id = await left_running(env)
    store, recovered = await open_recovered(env.store.path, env.lock_dir)
    async with store:
        assert [s.id for s in recovered] == [batch_id]
        summary = await store.get_batch_summary(batch_id)
        assert summary is not None and summary.status is BatchStatus.INTERRUPTED


async def test_resume_settles_every_state_and_makes_nothing_twice(env: EngineEnv) -> None:
    batch_id = await left_running(env, n=4)
    runner = env.runner()
    # One execution already on AMC before the "crash": the resume polls it.
    batch = await env.store.get_batch(batch_id)
    assert batch is not None
    on_amc = batch.executions[1]
    assert on_amc.id is not None
    made = await env.client.create_execution(on_amc.instance_id, batch.query)
    await env.store.start_attempt(on_amc.id)
    await env.store.finish_attempt(
        on_amc.id, 1, new_status=S.PENDING, amc_execution_id=made.execution_id
    )
    await recover_orphans(env.store, env.lock_dir)
    final = await runner.run(batch_id)
    assert final.status is BatchStatus.COMPLETED
    assert {ex.status for ex in final.executions} == {S.SUCCEEDED}
    assert next(ex for ex in final.executions if ex.id == on_amc.id).amc_execution_id == (
        made.execution_id
    )
    assert all(n == 1 for n in env.sim.stats.executions_made_per_instance.values())
    again = await env.runner().run(batch_id)  # a second resume: nothing left to do
    assert again.status is BatchStatus.COMPLETED
    assert sum(env.sim.stats.executions_made_per_instance.values()) == 4


async def test_two_resumes_at_once_only_one_wins(env: EngineEnv, tmp_path: Path) -> None:
    batch_id = await left_running(env, n=5)
    await recover_orphans(env.store, env.lock_dir)
    # A second "process": its own store connection and runner on the same files.
    async with await HistoryStore.open(env.store.path) as other_store:
        runners = [
            env.runner(),
            BatchRunner(other_store, env.client, fast_engine(), lock_dir=env.lock_dir),
        ]
        started: list[int] = []
        for n, runner in enumerate(runners):
            runner.events.add_listener(
                lambda event, n=n: started.append(n) if isinstance(event, BatchStarted) else None
            )
        results = await asyncio.gather(*(r.run(batch_id) for r in runners), return_exceptions=True)
    # One ran it; the other found it busy, or (had it waited out the first) already ended.
    assert len(started) == 1, results
    loser = results[1 - started[0]]
    assert isinstance(loser, BatchBusyError) or loser.status is BatchStatus.COMPLETED, loser
    winner = results[started[0]]
    assert not isinstance(winner, BaseException) and winner.status is BatchStatus.COMPLETED
    assert sorted(env.sim.stats.executions_made_per_instance.values()) == [1] * 5


async def test_a_resume_while_another_process_runs_the_batch_is_refused(env: EngineEnv) -> None:
    batch_id = await left_running(env)
    with BatchLock(env.lock_dir, batch_id), pytest.raises(BatchBusyError) as refused:
        await env.runner().run(batch_id)
    assert f"Batch {batch_id} is being run by process" in str(refused.value)
    assert env.sim.stats.requests["POST create"] == 0


async def test_history_on_the_command_line_shows_and_names_the_recovered_batch(
    env: EngineEnv, tmp_path: Path
) -> None:
    batch_id = await left_running(env)
    data_dir = env.store.path.parent
    env_vars = {**os.environ, "AMC_TUI_DATA_DIR": str(data_dir)}
    listed = await asyncio.to_thread(amc_cli, "history", "--json", env=env_vars)
    assert listed.returncode == 0, listed.stderr
    (shown,) = [b for b in json.loads(listed.stdout) if b["batch_id"] == batch_id]
    assert shown["status"] == "interrupted"
    assert f"batch {batch_id} was left unfinished by a process that has ended" in listed.stderr
    assert f"amc-tui resume {batch_id}" in listed.stderr
    again = await asyncio.to_thread(amc_cli, "history", "--json", env=env_vars)
    assert batch_id not in again.stderr  # said once, when it was recovered
