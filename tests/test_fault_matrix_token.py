"""Fault matrix, the Login with Amazon token endpoint: failing for a while, failing for
good, refusing the credentials, timing out, dropping the connection, and tokens that
expire mid-run.  Whole batches through the real runner, store and client against the
simulator (see ``test_fault_matrix.py``).  Each batch starts with a client that holds
no token yet, so its first call logs in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from engine_support import EngineEnv, fast_engine, fast_simulator, make_env
from fault_support import (
    Run,
    calls,
    count_from_now,
    ended,
    failed_tries,
    messages,
    poll_failures,
    renew_client,
    run_batch,
    served_env,
    statuses,
)
from reliability import record

from amc_tui.amc.auth import LWA_ANSWER_UNREADABLE
from amc_tui.amc.simulator import DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN
from amc_tui.domain import BatchStatus, ExecutionStatus
from amc_tui.engine.events import AttemptFailed
from amc_tui.errors import CredentialsError, ErrorCategory
from amc_tui.store.history import HistoryStore

pytestmark = pytest.mark.reliability

S = ExecutionStatus
PROTOCOL = ErrorCategory.PROTOCOL
GROUP = "Token"


@pytest.fixture
async def env(tmp_path: Path, store: HistoryStore) -> AsyncIterator[EngineEnv]:
    made = await make_env(tmp_path, store, fast_simulator())
    await made.client.aclose()
    renew_client(made)
    yield made
    await made.client.aclose()


# --- transient ---------------------------------------------------------------------------


async def test_token_endpoint_fails_for_a_while(env: EngineEnv) -> None:
    n = 4
    env.sim.config.operation_scripts["POST token"] = ["429", "500", "503", "incomplete"]
    run = await run_batch(env, n, limit=2)

    assert run.final.status is BatchStatus.COMPLETED
    assert statuses(run.final) == [S.SUCCEEDED] * n and messages(run.final) == {None}
    assert sum(ex.attempts for ex in run.final.executions) == n + 4
    assert failed_tries(env, ErrorCategory.THROTTLED) == 1
    assert failed_tries(env, ErrorCategory.SERVER_ERROR) == 2
    garbled = [e for e in env.events if isinstance(e, AttemptFailed) and e.category is PROTOCOL]
    assert [e.message for e in garbled] == [LWA_ANSWER_UNREADABLE]
    assert garbled[0].retry_in is not None  # retried, not failed for good
    stats = env.sim.stats
    assert stats.requests["POST token"] == 5 and stats.token_requests == 2  # incomplete, ok
    assert stats.requests["POST create"] == n
    assert stats.requests["GET list"] == 0  # the creates never went out: nothing to look up
    run.check_and_record(
        "Token endpoint answers 429, 500, 503, then a 200 without access_token",
        f"{ended(run.final)}; each failed token call failed one create try, retried "
        "after the usual wait; no look-up (the create never went out)",
        group=GROUP,
    )


async def test_token_endpoint_down_for_good(env: EngineEnv) -> None:
    n, tries = 3, 3
    env.sim.config.operation_scripts["POST token"] = ["503"] * 50
    run = await run_batch(env, n, limit=3, max_retry_attempts=tries - 1)

    assert run.final.status is BatchStatus.FAILED
    assert statuses(run.final) == [S.FAILED] * n
    gave_up = "Login with Amazon had a server error; gave up after 3 tries"
    assert messages(run.final) == {gave_up}  # the token service named, not AMC
    stats = env.sim.stats
    assert stats.requests["POST token"] == n * tries  # bounded: the tries, no more
    assert stats.requests["POST create"] == 0 and stats.requests["GET list"] == 0
    run.check_and_record(
        "Token endpoint answers 503 for good (3 tries allowed)",
        f"{ended(run.final)}: '{gave_up}'; {n * tries} token calls in all, nothing sent to AMC",
        group=GROUP,
    )


# --- permanent ---------------------------------------------------------------------------


@pytest.mark.parametrize("refusal", ["invalid_grant", "invalid_client"])
async def test_credentials_refused_stop_the_batch(env: EngineEnv, refusal: str) -> None:
    n, limit = 12, 3
    env.sim.config.operation_latency["POST token"] = 0.02  # as over a network
    if refusal == "invalid_grant":  # 400: the refresh token was revoked
        env.sim.config.refresh_token = "Atzr|revoked-elsewhere"
    else:  # 401: the client secret was rotated
        env.sim.config.client_secret = "rotated-secret"
    batch = await env.new_batch(n)
    count_from_now(env.sim)
    started = time.monotonic()
    with pytest.raises(CredentialsError) as refused:
        await env.runner(fast_engine(max_concurrent_executions=limit)).run(batch.id)
    stopped = await env.store.get_batch(batch.id)
    assert stopped is not None

    assert str(refused.value) == "Login with Amazon refused the credentials"
    assert refusal in refused.value.detail  # LWA's code, for the log
    assert DEMO_CLIENT_SECRET not in refused.value.detail
    assert DEMO_REFRESH_TOKEN not in refused.value.detail
    assert stopped.status is BatchStatus.INTERRUPTED  # resumable once fixed
    assert S.FAILED not in statuses(stopped)
    assert set(statuses(stopped)) <= {S.QUEUED, S.UNKNOWN}
    queued = statuses(stopped).count(S.QUEUED)
    assert queued >= n - limit
    stats = env.sim.stats
    # No storm: those waiting for the refused call share its answer, none retries, and
    # the queued executions never ask (at most one call per execution in flight).
    assert 1 <= stats.requests["POST token"] <= limit
    assert stats.requests["POST create"] == 0
    run = Run(env, stopped, limit, time.monotonic() - started)
    run.check_and_record(
        f"Token endpoint refuses the credentials ({refusal})",
        "the batch stopped at once with CredentialsError (exit code 3) 'Login with Amazon "
        f"refused the credentials', left interrupted (resumable); {queued} of {n} "
        "executions never left the queue, no token call was retried, nothing sent to AMC",
        group=GROUP,
    )

    env.sim.config.refresh_token = DEMO_REFRESH_TOKEN
    env.sim.config.client_secret = DEMO_CLIENT_SECRET
    await env.client.aclose()
    renew_client(env)
    resumed = await env.runner(fast_engine(max_concurrent_executions=limit)).run(batch.id)
    assert resumed.status is BatchStatus.COMPLETED
    assert sum(env.sim.stats.executions_made_per_instance.values()) == n


async def test_callers_waiting_on_a_refused_token_call_share_its_answer(
    env: EngineEnv,
) -> None:
    env.sim.config.refresh_token = "Atzr|revoked-elsewhere"
    env.sim.config.operation_latency["POST token"] = 0.05  # long enough to be waited for
    count_from_now(env.sim)
    waiting = [env.client.tokens.get() for _ in range(5)]
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(outcome, CredentialsError) for outcome in outcomes)
    assert env.sim.stats.requests["POST token"] == 1
    env.sim.config.refresh_token = DEMO_REFRESH_TOKEN  # fixed where the operator can
    assert await env.client.tokens.get()  # a later call asks again
    assert env.sim.stats.requests["POST token"] == 2
    record(
        "Five callers waiting on one token call that is refused (invalid_grant)",
        "one token call; all five got CredentialsError from it; once the credentials "
        "were fixed, the next call asked again and got a token",
        calls=calls(env.sim),
        group=GROUP,
    )


# --- token expiry ------------------------------------------------------------------------


async def test_tokens_expiring_mid_run(env: EngineEnv) -> None:
    n, limit, ttl = 6, 3, 0.8
    # The endpoint announces an hour, but tokens die after ttl: AMC answers 401 and the
    # client must refresh on it, once for all the calls that hit the dead token.
    env.sim.config.token_ttl = ttl
    env.sim.config.announced_token_ttl = 3600.0
    env.sim.config.duration_min, env.sim.config.duration_max = 800.0, 1000.0  # 0.8-1 s
    run = await run_batch(env, n, limit=limit)

    assert run.final.status is BatchStatus.COMPLETED
    assert statuses(run.final) == [S.SUCCEEDED] * n and messages(run.final) == {None}
    assert poll_failures(env, ErrorCategory.CREDENTIALS) == 0
    stats = env.sim.stats
    refreshes = stats.requests["POST token"] - 1  # the first one logs in
    assert run.seconds > ttl and refreshes >= 1
    assert refreshes <= stats.unauthorized  # each refresh followed a 401
    assert refreshes <= run.seconds / ttl + 1  # once per token lifetime, no more
    assert stats.requests["POST create"] == n
    run.check_and_record(
        f"Tokens die after {ttl:g} s although the endpoint announced an hour",
        f"{ended(run.final)}; {stats.unauthorized} calls got 401, each token was "
        f"refreshed once ({refreshes} refreshes in {run.seconds:.1f} s), the calls were "
        "sent again",
        group=GROUP,
    )


# --- on a real port ------------------------------------------------------------------------


@pytest.mark.socket
@pytest.mark.parametrize("fault", ["slow", "reset"])
async def test_token_call_times_out_or_is_dropped(
    tmp_path: Path, store: HistoryStore, fault: str
) -> None:
    n, timeout = 3, 0.8
    knobs = {"slow_answer_seconds": 2 * timeout, "operation_scripts": {"POST token": [fault]}}
    async with served_env(
        tmp_path, store, fast_simulator(), timeout=timeout, knobs=knobs, logged_in=False
    ) as env:
        run = await run_batch(env, n, limit=3)

    category = ErrorCategory.TIMEOUT if fault == "slow" else ErrorCategory.NETWORK
    assert run.final.status is BatchStatus.COMPLETED
    assert statuses(run.final) == [S.SUCCEEDED] * n and messages(run.final) == {None}
    assert failed_tries(env, category) == 1
    stats = env.sim.stats
    assert stats.requests["POST token"] == 2 and stats.requests["GET list"] == 0
    assert stats.requests["POST create"] == n
    what = f"held past the {timeout:g} s timeout" if fault == "slow" else "dropped mid-answer"
    run.check_and_record(
        f"First token call {what}",
        f"{ended(run.final)}; the create try waiting for it failed and was retried, no look-up",
        group=GROUP,
    )
