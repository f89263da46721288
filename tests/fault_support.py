"""Helpers for the fault matrix: a simulator on a real port, a client without a token,
one batch run end to end, and what the simulator counted, checked and recorded.

The engine, the store and the client are the real ones; only the simulator's knobs
make the faults (see :mod:`amc_tui.amc.simulator.config`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine_support import EngineEnv, fast_engine
from process_support import socket_client
from reliability import record

from amc_tui.amc.connection import open_demo_client
from amc_tui.amc.simulator import (
    AmcSimulator,
    SimulatorConfig,
)
from amc_tui.amc.simulator.server import ThreadedServer
from amc_tui.domain import Batch, BatchCounts, ExecutionStatus
from amc_tui.engine.events import AttemptFailed, PollFailed
from amc_tui.engine.instances import InstanceCatalog
from amc_tui.errors import ErrorCategory
from amc_tui.settings import HttpSettings
from amc_tui.store.history import HistoryStore

CALL_KINDS = ("POST token", "POST create", "GET status", "GET list", "PUT cancel")
"""The calls a batch makes, as the simulator counts them."""


def calls(sim: AmcSimulator) -> dict[str, int]:
    """The batch's calls by kind (kinds never made left out)."""
    counted = sim.stats.requests
    return {kind: counted[kind] for kind in CALL_KINDS if counted[kind]}


def count_from_now(sim: AmcSimulator) -> None:
    """Forget the setup's calls (logging in, listing instances): count the batch's only."""
    sim.stats.requests.clear()
    sim.stats.responses.clear()
    sim.stats.token_requests = 0
    sim.stats.unauthorized = 0


def assert_no_duplicates(sim: AmcSimulator) -> None:
    """No instance got two executions on AMC."""
    made = sim.stats.executions_made_per_instance
    assert all(count == 1 for count in made.values()), dict(made)


def statuses(batch: Batch) -> list[ExecutionStatus]:
    return [ex.status for ex in batch.executions]


def messages(batch: Batch) -> set[str | None]:
    return {ex.error_message for ex in batch.executions}


def ended(batch: Batch) -> str:
    """How the batch ended, in words: "completed, 6 of 6 succeeded"."""
    counts = BatchCounts.of(statuses(batch))
    parts = [f"{counts.succeeded} of {counts.total} succeeded"]
    others = ((counts.failed, "failed"), (counts.unknown, "unknown"), (counts.queued, "queued"))
    parts += [f"{n} {what}" for n, what in others if n]
    return f"batch {batch.status}: " + ", ".join(parts)


def poll_failures(env: EngineEnv, category: ErrorCategory) -> int:
    """Status calls that failed with ``category`` (polling went on after each)."""
    return sum(1 for e in env.events if isinstance(e, PollFailed) and e.category is category)


def failed_tries(env: EngineEnv, category: ErrorCategory) -> int:
    """Create tries that failed with ``category``."""
    return sum(1 for e in env.events if isinstance(e, AttemptFailed) and e.category is category)


@dataclass(frozen=True)
class Run:
    """One batch run end to end, and the limit it ran under."""

    env: EngineEnv
    final: Batch
    limit: int
    seconds: float
    """How long the run took (real time)."""

    @property
    def sim(self) -> AmcSimulator:
        return self.env.sim

    def check_and_record(self, fault: str, outcome: str, *, group: str = "AMC") -> None:
        """The limit held and nothing was made twice; then note the fault for the table."""
        assert self.sim.stats.max_in_flight <= self.limit
        assert_no_duplicates(self.sim)
        record(
            fault,
            outcome,
            calls=calls(self.sim),
            max_in_flight=self.sim.stats.max_in_flight,
            limit=self.limit,
            group=group,
        )


async def run_batch(env: EngineEnv, n: int, *, limit: int = 3, **engine: Any) -> Run:
    """Store a batch on the first ``n`` instances and run it to its end (calls counted
    from its start)."""
    settings = fast_engine(max_concurrent_executions=limit, **engine)
    batch = await env.new_batch(n)
    count_from_now(env.sim)
    started = time.monotonic()
    final = await env.runner(settings).run(batch.id)
    return Run(env, final, limit, time.monotonic() - started)


@dataclass
class CallLog:
    """An ASGI app in front of the simulator noting each call: when it came (wall
    clock), its method and path, and the status and ``Retry-After`` it got."""

    sim: AmcSimulator
    calls: list[tuple[float, str, str, int, str | None]] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.sim(scope, receive, send)
            return
        arrived = time.time()

        async def noting(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = {k.decode(): v.decode() for k, v in message.get("headers", [])}
                entry = (arrived, scope["method"], scope["path"], message["status"])
                self.calls.append((*entry, headers.get("retry-after")))
            await send(message)

        await self.sim(scope, receive, noting)

    def creates_on(self, instance_id: str) -> list[tuple[float, int, str | None]]:
        """(arrival, status, Retry-After) of each create on one instance, in order."""
        path = f"/amc/reporting/{instance_id}/workflowExecutions"
        return [(t, status, ra) for t, m, p, status, ra in self.calls if m == "POST" and p == path]


def renew_client(env: EngineEnv, http: HttpSettings | None = None) -> None:
    """Give ``env`` a client that holds no token yet (its first call logs in)."""
    env.client = open_demo_client(env.sim, http)


@asynccontextmanager
async def served_env(
    tmp_path: Path,
    store: HistoryStore,
    config: SimulatorConfig,
    *,
    timeout: float = 5.0,
    knobs: Mapping[str, Any] | None = None,
    logged_in: bool = True,
) -> AsyncIterator[EngineEnv]:
    """An engine environment whose simulator is served by uvicorn on a free port.

    The instances are loaded first; ``knobs`` are then set on the running simulator,
    so the faults hit the batch, not the setup.  With ``logged_in=False`` the batch
    gets a client that holds no token yet.
    """
    sim = AmcSimulator(config)
    http = HttpSettings(timeout=timeout, connect_timeout=5.0)
    with ThreadedServer(sim) as server:
        client = socket_client(server.base_url, http)
        env: EngineEnv | None = None
        try:
            catalog = InstanceCatalog(store, profile="demo", advertiser_id="", api_url="")
            instances = await catalog.load(client)
            if not logged_in:
                await client.aclose()
                client = socket_client(server.base_url, http)
            for name, value in (knobs or {}).items():
                setattr(sim.config, name, value)
            env = EngineEnv(store, sim, client, instances, tmp_path / "locks")
            yield env
        finally:
            await (env.client if env is not None else client).aclose()
