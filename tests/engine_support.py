"""Helpers for the engine tests: a fast in-process simulator, a store, a runner.

Time is made fast by configuration (a simulator whose executions last a few
hundredths of a second, tiny retry and poll intervals), never by patching the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amc_tui.amc.client import AmcClient
from amc_tui.amc.connection import open_demo_client
from amc_tui.amc.simulator import (
    AmcSimulator,
    SimulatorConfig,
)
from amc_tui.domain import Batch, Instance, QuerySpec, TimeWindow
from amc_tui.engine.events import EngineEvent
from amc_tui.engine.instances import InstanceCatalog
from amc_tui.engine.runner import BatchRunner
from amc_tui.engine.validation import build_batch
from amc_tui.settings import EngineSettings
from amc_tui.store.history import HistoryStore

SQL = "SELECT campaign, SUM(impressions) AS impressions FROM dsp_impressions GROUP BY 1"
WINDOW = TimeWindow(start="2024-05-01T00:00:00", end="2024-05-08T00:00:00")


def fast_engine(**overrides: Any) -> EngineSettings:
    values: dict[str, Any] = {
        "max_concurrent_executions": 5,
        "retry_delay_base": 0.001,
        "poll_interval_min": 0.005,
        "poll_interval_max": 0.05,
    }
    values.update(overrides)
    return EngineSettings(**values)


def fast_simulator(**overrides: Any) -> SimulatorConfig:
    """No random faults; every execution lasts 0.02-0.05 s (simulated 20-50 s at 1000x)."""
    values: dict[str, Any] = {
        "time_scale": 1000.0,
        "duration_min": 20.0,
        "duration_max": 50.0,
        "failure_rate": 0.0,
        "retry_after": 0.0,
    }
    values.update(overrides)
    return SimulatorConfig.reliable(**values)


@dataclass
class EngineEnv:
    """A store, a simulator, a client to it and the demo instances, for one test."""

    store: HistoryStore
    sim: AmcSimulator
    client: AmcClient
    instances: list[Instance]
    lock_dir: Path
    events: list[EngineEvent] = field(default_factory=list)

    def ids(self, n: int) -> list[str]:
        return [i.instance_id for i in self.instances[:n]]

    async def new_batch(self, n: int, **options: Any) -> Batch:
        """A validated batch on the first ``n`` instances (:meth:`built_batch`), stored."""
        return await self.store.create_batch(self.built_batch(n, **options))

    def built_batch(
        self,
        n: int,
        *,
        query: QuerySpec | None = None,
        engine: EngineSettings | None = None,
        max_concurrency: int | None = None,
    ) -> Batch:
        """A validated batch on the first ``n`` instances, not stored."""
        batch, _ = build_batch(
            refs=self.ids(n),
            known=self.instances,
            query=query or QuerySpec(sql=SQL, time_window=WINDOW),
            engine=engine or fast_engine(max_batch_size=1000),
            profile="demo",
            max_concurrency=max_concurrency,
        )
        return batch

    def runner(self, engine: EngineSettings | None = None, **kwargs: Any) -> BatchRunner:
        kwargs.setdefault("lock_dir", self.lock_dir)
        runner = BatchRunner(self.store, self.client, engine or fast_engine(), **kwargs)
        runner.events.add_listener(self.events.append)
        return runner


Wrap = Callable[[AmcSimulator], Any]
"""Puts an ASGI app in front of the simulator (to watch or break calls in a test)."""


async def make_env(
    tmp_path: Path, store: HistoryStore, config: SimulatorConfig, *, wrap: Wrap | None = None
) -> EngineEnv:
    sim = AmcSimulator(config)
    client = open_demo_client(sim if wrap is None else wrap(sim))
    catalog = InstanceCatalog(store, profile="demo", advertiser_id="", api_url="")
    instances = await catalog.load(client)
    return EngineEnv(store, sim, client, instances, tmp_path / "locks")


async def wait_until(condition: Callable[[], bool], *, timeout: float = 20.0) -> None:
    """Wait (without a fixed sleep) until ``condition()`` holds; fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.002)
