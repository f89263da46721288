"""Fault matrix, faults only a real connection has: dropped connections and answers
slower than the client's timeout.  The simulator is served by uvicorn on a free port
(``httpx.ASGITransport`` can neither reset a connection nor time out); the runner, the
store and the client are the real ones (see ``test_fault_matrix.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_support import fast_simulator
from fault_support import (
    ended,
    failed_tries,
    messages,
    poll_failures,
    run_batch,
    served_env,
    statuses,
)

from amc_tui.domain import BatchStatus, ExecutionStatus
from amc_tui.errors import ErrorCategory
from amc_tui.store.history import HistoryStore

pytestmark = [pytest.mark.reliability, pytest.mark.socket]

S = ExecutionStatus
TIMEOUT = 0.8
"""The client's read timeout here: long enough for any normal answer on a busy machine."""
SLOW = 2 * TIMEOUT
"""How long a slow answer is held: well past the timeout."""


# --- dropped connections ---------------------------------------------------------------


async def test_creates_dropped_before_amc_acted(tmp_path: Path, store: HistoryStore) -> None:
    n = 4
    async with served_env(tmp_path, store, fast_simulator()) as env:
        for instance_id in env.ids(n):
            env.sim.config.instance_scripts[instance_id] = ["reset", "ok"]
        run = await run_batch(env, n, limit=2)

    assert run.final.status is BatchStatus.COMPLETED
    assert statuses(run.final) == [S.SUCCEEDED] * n and messages(run.final) == {None}
    assert [ex.attempts for ex in run.final.executions] == [2] * n
    stats = env.sim.stats
    assert stats.dropped_connections == n
    assert failed_tries(env, ErrorCategory.NETWORK) == n
    # No answer: it may have taken effect, so the list call is asked before the retry.
    assert stats.requests["POST create"] == 2 * n and stats.requests["GET list"] == n
    run.check_and_record(
        f"Connection dropped on the first create of each of {n} instances, before AMC acted",
        f"{ended(run.final)}; the list call showed nothing was made, so each was created "
        "again, once",
    )


async def test_creates_dropped_after_amc_acted(tmp_path: Path, store: HistoryStore) -> None:
    n = 4
    async with served_env(tmp_path, store, fast_simulator()) as env:
        for instance_id in env.ids(n):
            env.sim.config.instance_scripts[instance_id] = ["reset_after_create", "ok"]
        env.sim.config.operation_scripts["GET list"] = ["reset"]  # and one look-up too
        run = await run_batch(env, n, limit=2)

    assert run.final.status is BatchStatus.COMPLETED
    assert statuses(run.final) == [S.SUCCEEDED] * n and messages(run.final) == {None}
    assert [ex.attempts for ex in run.final.executions] == [1] * n
    assert {ex.amc_execution_id for ex in run.final.executions} == set(env.sim.executions)
    stats = env.sim.stats
    assert stats.dropped_connections == n + 1
    assert stats.requests["POST create"] == n
    assert stats.requests["GET list"] == n + 1  # the dropped look-up was asked again
    run.check_and_record(
        f"Connection dropped on each of {n} creates after AMC made the execution, and on "
        "one look-up",
        f"{ended(run.final)}; every execution was found with the list call (the dropped "
        "one asked again) and adopted, none created twice",
    )


async def test_status_calls_dropped(tmp_path: Path, store: HistoryStore) -> None:
    n, burst = 4, 6
    async with served_env(
        tmp_path,
        store,
        fast_simulator(),
        knobs={"operation_scripts": {"GET status": ["reset"] * burst}},
    ) as env:
        run = await run_batch(env, n, limit=4)

    assert run.final.status is BatchStatus.COMPLETED
    assert statuses(run.final) == [S.SUCCEEDED] * n and messages(run.final) == {None}
    assert poll_failures(env, ErrorCategory.NETWORK) == burst
    assert env.sim.stats.dropped_connections == burst
    assert env.sim.stats.requests["POST create"] == n
    run.check_and_record(
        f"Connection dropped on the first {burst} status calls",
        f"{ended(run.final)}; polling went on after each",
    )


# --- answers slower than the timeout ----------------------------------------------------


async def test_create_answers_slower_than_the_timeout(tmp_path: Path, store: HistoryStore) -> None:
    n = 4
    knobs = {"operation_latency": {"POST create": SLOW}}
    async with served_env(tmp_path, store, fast_simulator(), timeout=TIMEOUT, knobs=knobs) as env:
        run = await run_batch(env, n, limit=4)

    assert run.final.status is BatchStatus.COMPLETED
    assert statuses(run.final) == [S.SUCCEEDED] * n and messages(run.final) == {None}
    assert [ex.attempts for ex in run.final.executions] == [1] * n
    assert run.seconds >= TIMEOUT  # every create was waited for, then given up on
    stats = env.sim.stats
    # A look-up follows only a create that got no answer: one per create.
    assert stats.requests["POST create"] == n and stats.requests["GET list"] == n
    run.check_and_record(
        f"Every create answered after {SLOW:g} s, the client timeout being {TIMEOUT:g} s",
        f"{ended(run.final)}; each timed-out create was found with the list call and "
        "adopted, none created twice",
    )


async def test_status_answers_slower_than_the_timeout(tmp_path: Path, store: HistoryStore) -> None:
    n, burst = 3, 3
    knobs = {"operation_scripts": {"GET status": ["slow"] * burst}, "slow_answer_seconds": SLOW}
    async with served_env(tmp_path, store, fast_simulator(), timeout=TIMEOUT, knobs=knobs) as env:
        run = await run_batch(env, n, limit=3)

    assert run.final.status is BatchStatus.COMPLETED
    assert statuses(run.final) == [S.SUCCEEDED] * n and messages(run.final) == {None}
    assert poll_failures(env, ErrorCategory.TIMEOUT) == burst
    assert env.sim.stats.requests["POST create"] == n
    run.check_and_record(
        f"The first {burst} status answers held {SLOW:g} s, the client timeout being {TIMEOUT:g} s",
        f"{ended(run.final)}; each timeout counted as a failed poll and polling went on",
    )
