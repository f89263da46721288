"""Fault matrix, odd answers from AMC: undocumented fields, bodies that are not JSON,
answers missing what they must carry.  Whole batches through the real runner, store
and client against the in-process simulator (see ``test_fault_matrix.py``).

Extra fields are tolerated; an answer that cannot be read gives the PROTOCOL category
(polling goes on) or, for a create AMC accepted, a look-up instead of a second create.
Never a crash: every run ends with a batch status.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from engine_support import EngineEnv, fast_engine, fast_simulator, make_env
from fault_support import (
    ended,
    messages,
    poll_failures,
    run_batch,
    statuses,
)

from amc_tui.domain import BatchStatus, ExecutionStatus
from amc_tui.errors import USER_MESSAGES, ErrorCategory
from amc_tui.store.history import HistoryStore

pytestmark = pytest.mark.reliability

S = ExecutionStatus


@pytest.fixture
async def env(tmp_path: Path, store: HistoryStore) -> AsyncIterator[EngineEnv]:
    made = await make_env(tmp_path, store, fast_simulator())
    yield made
    await made.client.aclose()


async def test_undocumented_fields_everywhere_are_ignored(env: EngineEnv) -> None:
    n = 5
    env.sim.config.extra_answer_fields = True
    env.sim.config.create_answer_shape = "nested"
    env.sim.config.instance_scripts[env.ids(1)[0]] = ["lost"]  # the list answer is read too
    run = await run_batch(env, n, limit=3)

    assert run.final.status is BatchStatus.COMPLETED
    assert statuses(run.final) == [S.SUCCEEDED] * n and messages(run.final) == {None}
    assert {ex.amc_execution_id for ex in run.final.executions} == set(env.sim.executions)
    stats = env.sim.stats
    assert stats.requests["POST create"] == n and stats.requests["GET list"] == 1
    assert poll_failures(env, ErrorCategory.PROTOCOL) == 0
    run.check_and_record(
        "Undocumented fields in every answer (create, status, list, token)",
        f"{ended(run.final)}; the extra fields were ignored, no poll failed",
    )


@pytest.mark.parametrize("shape", ["malformed", "incomplete"])
async def test_unreadable_status_answers(env: EngineEnv, shape: str) -> None:
    n, burst = 4, 6
    env.sim.config.operation_scripts["GET status"] = [shape] * burst  # type: ignore[list-item]
    run = await run_batch(env, n, limit=4)

    assert run.final.status is BatchStatus.COMPLETED
    assert statuses(run.final) == [S.SUCCEEDED] * n and messages(run.final) == {None}
    assert poll_failures(env, ErrorCategory.PROTOCOL) == burst
    assert env.sim.stats.requests["POST create"] == n
    what = "not JSON" if shape == "malformed" else "JSON without workflowExecutionId or status"
    run.check_and_record(
        f"The first {burst} status answers {what}",
        f"{ended(run.final)}; each counted as a failed poll "
        f"({USER_MESSAGES[ErrorCategory.PROTOCOL]!r}) and polling went on",
    )


@pytest.mark.parametrize("shape", ["malformed", "incomplete"])
async def test_unreadable_create_answers_are_looked_up(env: EngineEnv, shape: str) -> None:
    n = 4
    env.sim.config.operation_scripts["POST create"] = [shape] * n  # type: ignore[list-item]
    run = await run_batch(env, n, limit=2)

    assert run.final.status is BatchStatus.COMPLETED
    assert statuses(run.final) == [S.SUCCEEDED] * n and messages(run.final) == {None}
    assert [ex.attempts for ex in run.final.executions] == [1] * n
    assert {ex.amc_execution_id for ex in run.final.executions} == set(env.sim.executions)
    stats = env.sim.stats
    assert stats.requests["POST create"] == n and stats.requests["GET list"] == n
    what = "not JSON" if shape == "malformed" else "JSON without workflowExecutionId"
    run.check_and_record(
        f"Each create accepted (200) but its answer {what}, no Location header",
        f"{ended(run.final)}; each execution was found with the list call and adopted, "
        "none created twice",
    )


def lose_a_create(env: EngineEnv, create: str) -> str:
    """The first instance's create makes its execution but its answer is lost: a 504
    ("lost") or a 200 whose body is not JSON ("malformed")."""
    target = env.ids(1)[0]
    if create == "lost":
        env.sim.config.instance_scripts[target] = ["lost"]
    else:
        env.sim.config.instance_scripts[target] = ["ok"]
        env.sim.config.operation_scripts["POST create"] = ["malformed"]
    return target


@pytest.mark.parametrize("create", ["malformed", "lost"])
async def test_a_lost_create_answer_then_an_unreadable_list(env: EngineEnv, create: str) -> None:
    n = 3
    target = lose_a_create(env, create)
    env.sim.config.operation_scripts["GET list"] = ["incomplete"]  # no "executions" key
    run = await run_batch(env, n, limit=1)

    assert run.final.status is BatchStatus.COMPLETED
    assert statuses(run.final) == [S.SUCCEEDED] * n and messages(run.final) == {None}
    adopted = run.final.executions[0]
    assert (adopted.instance_id, adopted.attempts) == (target, 1)
    assert {ex.amc_execution_id for ex in run.final.executions} == set(env.sim.executions)
    stats = env.sim.stats
    assert stats.requests["POST create"] == n and stats.requests["GET list"] == 2
    what = "HTTP 504 after AMC made it" if create == "lost" else "a 200 that is not JSON"
    run.check_and_record(
        f"A create got {what}; the first list answer had no 'executions'",
        f"{ended(run.final)}; the garbled list answer was not taken for 'nothing made': "
        "the list was asked again and the execution adopted",
    )


async def test_a_lost_create_answer_and_a_list_that_stays_unreadable(env: EngineEnv) -> None:
    n, tries = 3, 4
    target = lose_a_create(env, "lost")
    env.sim.config.operation_scripts["GET list"] = ["incomplete"] * tries
    # All at once (fewer slots: see the next test, where the unknown one keeps its slot).
    run = await run_batch(env, n, limit=n, max_retry_attempts=tries - 1)

    assert run.final.status is BatchStatus.INTERRUPTED
    lost = run.final.executions[0]
    assert (lost.instance_id, lost.status) == (target, S.UNKNOWN)
    assert lost.error_category is ErrorCategory.LOST_ANSWER
    assert lost.error_message == USER_MESSAGES[ErrorCategory.LOST_ANSWER]
    assert statuses(run.final)[1:] == [S.SUCCEEDED] * (n - 1)
    first = Counter(env.sim.stats.requests)
    assert first["POST create"] == n and first["GET list"] == tries
    outcome = ended(run.final)

    resumed = await env.runner(fast_engine(max_concurrent_executions=n)).run(run.final.id)
    assert resumed.status is BatchStatus.COMPLETED
    assert resumed.executions[0].amc_execution_id in env.sim.executions
    on_resume = env.sim.stats.requests - first
    assert on_resume["POST create"] == 0  # adopted, not created again
    assert on_resume["GET list"] == 1
    run.check_and_record(
        f"HTTP 504 from a create after AMC made it; {tries} list answers without 'executions'",
        f"{outcome}: that execution was left UNKNOWN "
        f"({USER_MESSAGES[ErrorCategory.LOST_ANSWER]!r}), not created again; a resume "
        "adopted it (calls of both runs)",
    )


@pytest.mark.parametrize("limit", [1, 2])
async def test_an_unsettled_create_keeps_its_slot(env: EngineEnv, limit: int) -> None:
    n, tries = 3, 4
    target = lose_a_create(env, "lost")
    env.sim.config.operation_scripts["GET list"] = ["incomplete"] * tries
    run = await run_batch(env, n, limit=limit, max_retry_attempts=tries - 1)

    # AMC may be running the unknown one: it counts as in flight until the batch ends.
    assert run.final.status is BatchStatus.INTERRUPTED
    lost = run.final.executions[0]
    assert (lost.instance_id, lost.status) == (target, S.UNKNOWN)
    rest = statuses(run.final)[1:]
    if limit == 1:  # its slot was the only one: nothing more could be sent
        assert rest == [S.QUEUED] * (n - 1)
        assert env.sim.stats.requests["POST create"] == 1
    else:  # the others ran in the slot left
        assert rest == [S.SUCCEEDED] * (n - 1)
    outcome = ended(run.final)
    resumed = await env.runner(fast_engine(max_concurrent_executions=limit)).run(run.final.id)
    assert resumed.status is BatchStatus.COMPLETED
    assert resumed.executions[0].amc_execution_id in env.sim.executions
    run.check_and_record(
        f"a create's answer lost and the list unreadable, with {limit} slot(s) for {n}",
        f"{outcome}: the unsettled execution kept its slot "
        + ("and the batch stopped, nothing more sent" if limit == 1 else "while the others ran")
        + "; a resume adopted it and finished the batch (calls of both runs)",
    )
