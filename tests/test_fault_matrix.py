"""Fault matrix, AMC throttling and server errors: whole batches through the real runner,
store and client against the in-process simulator.

Each case asserts how the batch and its executions ended and with which messages,
how many calls of each kind were made, that the concurrency limit held and that no
instance got two executions; then it records the outcome for ``docs/reliability.md``.
The socket-level faults (dropped connections, timeouts) are in
``test_fault_matrix_socket.py``; odd answers in ``test_fault_matrix_answers.py``; the
token endpoint in ``test_fault_matrix_token.py``.
"""

from __future__ import annotations

import email.utils
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from engine_support import EngineEnv, fast_simulator, make_env
from fault_support import (
    CallLog,
    ended,
    failed_tries,
    messages,
    poll_failures,
    run_batch,
    statuses,
)

from amc_tui.amc.simulator import AmcSimulator
from amc_tui.domain import BatchStatus, ExecutionStatus
from amc_tui.errors import USER_MESSAGES, ErrorCategory, gave_up_message
from amc_tui.store.history import HistoryStore

pytestmark = pytest.mark.reliability

S = ExecutionStatus


@pytest.fixture
async def env(tmp_path: Path, store: HistoryStore) -> AsyncIterator[EngineEnv]:
    made = await make_env(tmp_path, store, fast_simulator())
    yield made
    await made.client.aclose()


def script_each(env: EngineEnv, n: int, script: list[str]) -> list[str]:
    """Give each of the first ``n`` instances the same create script."""
    ids = env.ids(n)
    for instance_id in ids:
        env.sim.config.instance_scripts[instance_id] = list(script)  # type: ignore[arg-type]
    return ids


# --- 429 storms ------------------------------------------------------------------------


async def test_429_storm_with_retry_after_seconds(env: EngineEnv) -> None:
    n, retry_after = 6, 0.2
    env.sim.config.retry_after = retry_after
    script_each(env, n, ["429", "429", "ok"])
    run = await run_batch(env, n, limit=3)

    assert run.final.status is BatchStatus.COMPLETED
    assert statuses(run.final) == [S.SUCCEEDED] * n and messages(run.final) == {None}
    assert [ex.attempts for ex in run.final.executions] == [3] * n
    for ex in run.final.executions:
        tries = await env.store.list_attempts(ex.id or 0)
        for before, after in itertools.pairwise(tries):
            assert before.retry_delay is not None and before.retry_delay >= retry_after
            assert (after.started_at - before.started_at).total_seconds() >= retry_after
    stats = env.sim.stats
    assert stats.requests["POST create"] == 3 * n and stats.responses[429] == 2 * n
    assert stats.requests["GET list"] == 0  # a 429 made nothing: no look-up needed
    assert failed_tries(env, ErrorCategory.THROTTLED) == 2 * n
    run.check_and_record(
        f"429 storm: the first 2 creates on each of {n} instances, Retry-After {retry_after:g} s",
        f"{ended(run.final)}; every retry waited at least Retry-After; no list call "
        "(a 429 makes nothing)",
    )


async def test_429_storm_with_retry_after_as_an_http_date(
    tmp_path: Path, store: HistoryStore
) -> None:
    log: list[CallLog] = []

    def wrap(sim: AmcSimulator) -> CallLog:
        log.append(CallLog(sim))
        return log[0]

    env = await make_env(
        tmp_path, store, fast_simulator(retry_after=1.5, retry_after_as_date=True), wrap=wrap
    )
    n = 4
    ids = script_each(env, n, ["429", "ok"])
    try:
        run = await run_batch(env, n, limit=4)
    finally:
        await env.client.aclose()

    assert run.final.status is BatchStatus.COMPLETED
    assert statuses(run.final) == [S.SUCCEEDED] * n
    for instance_id in ids:
        (first_at, first, header), (arrived, second, _) = log[0].creates_on(instance_id)
        assert (first, second) == (429, 200)
        assert header is not None
        not_before = email.utils.parsedate_to_datetime(header).timestamp()
        assert not_before - first_at > 1.0  # a date in whole seconds, 2 s ahead, cut
        assert arrived >= not_before - 0.01, "retried before the Retry-After date"
    assert env.sim.stats.requests["POST create"] == 2 * n
    run.check_and_record(
        f"429 on the first create of each of {n} instances, Retry-After as an HTTP date",
        f"{ended(run.final)}; no retry came before the date the server gave",
    )


async def test_a_429_storm_that_outlasts_the_tries(env: EngineEnv) -> None:
    n, stormy = 4, 2
    env.sim.config.retry_after = 0.05
    throttled = script_each(env, stormy, ["429"] * 10)
    run = await run_batch(env, n, limit=2, max_retry_attempts=2)

    assert run.final.status is BatchStatus.PARTIAL
    by_instance = {ex.instance_id: ex for ex in run.final.executions}
    for instance_id, ex in by_instance.items():
        if instance_id in throttled:
            assert (ex.status, ex.attempts) == (S.FAILED, 3)
            assert ex.error_category is ErrorCategory.THROTTLED
            assert ex.error_message == gave_up_message(ErrorCategory.THROTTLED, 3)
        else:
            assert (ex.status, ex.error_message) == (S.SUCCEEDED, None)
    stats = env.sim.stats
    assert stats.requests["POST create"] == 3 * stormy + (n - stormy)
    assert stats.requests["GET list"] == 0
    assert sum(stats.executions_made_per_instance.values()) == n - stormy
    run.check_and_record(
        f"429 on every create of {stormy} of {n} instances (3 tries allowed)",
        f"{ended(run.final)}; the throttled ones say "
        f"'{gave_up_message(ErrorCategory.THROTTLED, 3)}'",
    )


async def test_a_429_storm_on_status_calls(env: EngineEnv) -> None:
    n, storm = 4, 8
    env.sim.config.operation_scripts["GET status"] = ["429"] * storm
    run = await run_batch(env, n, limit=4)

    assert run.final.status is BatchStatus.COMPLETED
    assert statuses(run.final) == [S.SUCCEEDED] * n and messages(run.final) == {None}
    assert poll_failures(env, ErrorCategory.THROTTLED) == storm
    assert env.sim.stats.responses[429] == storm
    assert env.sim.stats.requests["POST create"] == n
    run.check_and_record(
        f"429 on the first {storm} status calls",
        f"{ended(run.final)}; polling went on after each ({storm} failed polls, none "
        "failed an execution)",
    )


# --- server errors ---------------------------------------------------------------------


@pytest.mark.parametrize("status", ["500", "502", "503", "504"])
async def test_a_5xx_burst_then_recovery(env: EngineEnv, status: str) -> None:
    n = 4
    script_each(env, n, [status, status, "ok"])
    run = await run_batch(env, n, limit=2)

    assert run.final.status is BatchStatus.COMPLETED
    assert statuses(run.final) == [S.SUCCEEDED] * n and messages(run.final) == {None}
    assert [ex.attempts for ex in run.final.executions] == [3] * n
    stats = env.sim.stats
    assert stats.responses[int(status)] == 2 * n
    assert stats.requests["POST create"] == 3 * n
    # A 5xx may have made the execution: the list call is asked before each retry.
    assert stats.requests["GET list"] == 2 * n
    assert failed_tries(env, ErrorCategory.SERVER_ERROR) == 2 * n
    run.check_and_record(
        f"HTTP {status} on the first 2 creates of each of {n} instances",
        f"{ended(run.final)}; one list call before each retry found nothing made, "
        "so each was created once",
    )


async def test_5xx_that_never_recovers(env: EngineEnv) -> None:
    n = 3
    script_each(env, n, ["503"] * 10)
    run = await run_batch(env, n, limit=3, max_retry_attempts=3)

    assert run.final.status is BatchStatus.FAILED
    assert statuses(run.final) == [S.FAILED] * n
    assert messages(run.final) == {gave_up_message(ErrorCategory.SERVER_ERROR, 4)}
    assert {ex.error_category for ex in run.final.executions} == {ErrorCategory.SERVER_ERROR}
    stats = env.sim.stats
    assert stats.requests["POST create"] == 4 * n and stats.requests["GET list"] == 4 * n
    assert sum(stats.executions_made_per_instance.values()) == 0
    assert stats.requests["GET status"] == 0
    run.check_and_record(
        "HTTP 503 on every create, for good (4 tries allowed)",
        f"{ended(run.final)}: '{gave_up_message(ErrorCategory.SERVER_ERROR, 4)}'; "
        "nothing made on AMC",
    )


async def test_a_504_after_the_execution_was_made(env: EngineEnv) -> None:
    n = 4
    script_each(env, n, ["lost", "ok"])
    run = await run_batch(env, n, limit=2)

    assert run.final.status is BatchStatus.COMPLETED
    assert statuses(run.final) == [S.SUCCEEDED] * n
    assert [ex.attempts for ex in run.final.executions] == [1] * n
    assert {ex.amc_execution_id for ex in run.final.executions} == set(env.sim.executions)
    stats = env.sim.stats
    assert stats.requests["POST create"] == n and stats.requests["GET list"] == n
    run.check_and_record(
        f"HTTP 504 from each of {n} creates after AMC made the execution",
        f"{ended(run.final)}; the list call found each execution, which was adopted "
        "instead of created again",
    )


async def test_a_5xx_burst_on_status_calls(env: EngineEnv) -> None:
    n, burst = 4, 6
    env.sim.config.operation_scripts["GET status"] = ["502", "503", "500"] * (burst // 3)
    run = await run_batch(env, n, limit=4)

    assert run.final.status is BatchStatus.COMPLETED
    assert statuses(run.final) == [S.SUCCEEDED] * n and messages(run.final) == {None}
    assert poll_failures(env, ErrorCategory.SERVER_ERROR) == burst
    assert env.sim.stats.requests["POST create"] == n
    assert env.sim.stats.requests["GET status"] > burst
    run.check_and_record(
        f"HTTP 500/502/503 on the first {burst} status calls",
        f"{ended(run.final)}; polling went on after each; "
        f"{USER_MESSAGES[ErrorCategory.SERVER_ERROR]!r} shown as a passing poll failure",
    )
