"""Write-ahead and unknown outcomes, watched from the simulator's side of the wire.

An ASGI app in front of the simulator looks at the history file (through its own
SQLite connection, as another process would) at the moment AMC receives a create,
and can make AMC's list call fail, so that a lost create answer cannot be settled.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from engine_support import EngineEnv, fast_engine, fast_simulator, make_env

from amc_tui import output
from amc_tui.amc.simulator import AmcSimulator
from amc_tui.domain import BatchStatus, ExecutionStatus
from amc_tui.errors import ErrorCategory
from amc_tui.store.history import HistoryStore

S = ExecutionStatus


class Watcher:
    """Forwards to the simulator; records the store's view of each create as it arrives."""

    def __init__(self, sim: AmcSimulator, db: Path) -> None:
        self.sim = sim
        self.db = db
        self.seen_at_create: list[tuple[str, str, int, int]] = []
        self.fail_lists = False

    def store_row(self, instance_id: str) -> tuple[str, str, int, int]:
        with sqlite3.connect(self.db) as conn:
            status, attempts, begun = conn.execute(
                "SELECT e.status, e.attempts, COUNT(a.id) FROM executions e "
                "LEFT JOIN attempts a ON a.execution_id = e.id WHERE e.instance_id = ? "
                "GROUP BY e.id",
                (instance_id,),
            ).fetchone()
        return instance_id, status, attempts, begun

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        parts = path.strip("/").split("/")
        is_executions = scope["type"] == "http" and path.endswith("/workflowExecutions")
        if is_executions and scope["method"] == "POST":
            self.seen_at_create.append(self.store_row(parts[2]))
        if is_executions and scope["method"] == "GET" and self.fail_lists:
            body = json.dumps({"code": "503", "details": "list unavailable"}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.sim(scope, receive, send)


@pytest.fixture
async def watched(tmp_path: Path, store: HistoryStore) -> AsyncIterator[tuple[EngineEnv, Watcher]]:
    holder: list[Watcher] = []

    def wrap(sim: AmcSimulator) -> Watcher:
        holder.append(Watcher(sim, store.path))
        return holder[0]

    env = await make_env(tmp_path, store, fast_simulator(), wrap=wrap)
    yield env, holder[0]
    await env.client.aclose()


async def test_submitting_and_the_attempt_are_on_disk_before_amc_hears_of_it(
    watched: tuple[EngineEnv, Watcher],
) -> None:
    env, watcher = watched
    target = env.ids(1)[0]
    env.sim.config.instance_scripts[target] = ["503", "ok"]
    batch = await env.new_batch(3)
    final = await env.runner().run(batch.id)
    assert final.status is BatchStatus.COMPLETED
    # Every create found its execution SUBMITTING with the try already counted.
    assert len(watcher.seen_at_create) == 4
    for instance_id, status, attempts, begun in watcher.seen_at_create:
        assert status == "SUBMITTING", instance_id
        assert attempts == begun >= 1
    tries = [row[2] for row in watcher.seen_at_create if row[0] == target]
    assert tries == [1, 2]


async def test_an_unsettled_lost_answer_leaves_the_batch_resumable(
    watched: tuple[EngineEnv, Watcher],
) -> None:
    env, watcher = watched
    target = env.ids(1)[0]
    env.sim.config.instance_scripts[target] = ["lost"]  # AMC made it; the answer is lost
    watcher.fail_lists = True  # and AMC cannot be asked what it made
    batch = await env.new_batch(2)
    first = await env.runner(fast_engine(max_retry_attempts=2)).run(batch.id)

    assert first.status is BatchStatus.INTERRUPTED
    lost = next(ex for ex in first.executions if ex.instance_id == target)
    assert lost.status is S.UNKNOWN
    assert lost.error_category is ErrorCategory.LOST_ANSWER
    assert env.sim.stats.creates_per_instance[target] == 1  # never created twice blind

    watcher.fail_lists = False
    resumed = await env.runner().run(batch.id)
    assert resumed.status is BatchStatus.COMPLETED
    adopted = next(ex for ex in resumed.executions if ex.instance_id == target)
    assert adopted.amc_execution_id in env.sim.executions
    assert env.sim.stats.executions_made_per_instance[target] == 1
    document = output.batch_json(resumed)
    assert all(item["error"] is None for item in document["executions"])
