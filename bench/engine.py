"""Benchmarks of the batch engine (issue 3); plain Python, prints its figures.

    python bench/engine.py            # all three
    python bench/engine.py makespan   # or: polls, throughput

1. **makespan**: 100 executions, concurrency 5, each lasting T = 15 simulated minutes
   in the simulator's scaled time, every engine interval scaled alike.  Reports the
   makespan over the ideal ``ceil(100 / 5) * T`` (target <= 1.05).
2. **polls**: status calls per execution in the same run (target <= 20), against a
   fixed 5-second poll like the web app this replaces (900 / 5 = 180 calls).
3. **throughput**: 1,000 executions on a zero-latency simulator, concurrency 50:
   wall time, CPU time, and store commits per execution state change (target <= 1).

It uses the real runner, the real SQLite store (``synchronous=FULL``) in a temporary
directory, and the embedded simulator in-process; nothing is mocked.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from amc_tui.amc.connection import open_demo_client
from amc_tui.amc.simulator import AmcSimulator, SimulatorConfig
from amc_tui.amc.simulator.config import SimInstance
from amc_tui.amc.simulator.demo_data import demo_instances
from amc_tui.domain import ExecutionStatus, QuerySpec, TimeWindow
from amc_tui.engine.events import EngineEvent, ExecutionChanged
from amc_tui.engine.instances import InstanceCatalog
from amc_tui.engine.runner import BatchRunner
from amc_tui.engine.validation import build_batch
from amc_tui.settings import EngineSettings
from amc_tui.store.history import HistoryStore

T_SIMULATED = 900.0  # 15 minutes
SQL = "SELECT campaign, SUM(impressions) FROM dsp_impressions GROUP BY 1"
WINDOW = TimeWindow(start="2024-05-01T00:00:00", end="2024-05-08T00:00:00")


@dataclass
class RunResult:
    wall: float
    cpu: float
    status_calls: list[int]
    changes: int
    commits: int
    succeeded: int
    max_in_flight: int


def many_instances(n: int) -> list[SimInstance]:
    """``n`` instances of the demo account (the demo set, repeated under new ids)."""
    base = [i for i in demo_instances() if i.advertiser_id == SimulatorConfig().advertiser_id]
    made = []
    for k in range(n):
        template = base[k % len(base)]
        made.append(
            template.model_copy(
                update={
                    "instance_id": f"amcbench{k:05d}",
                    "instance_name": f"{template.instance_name} #{k}",
                }
            )
        )
    return made


async def run_batch(
    n: int, concurrency: int, sim_config: SimulatorConfig, engine: EngineSettings
) -> RunResult:
    with tempfile.TemporaryDirectory(prefix="amc-tui-bench-") as tmp:
        sim = AmcSimulator(sim_config)
        store = await HistoryStore.open(Path(tmp) / "history.db")
        async with store, open_demo_client(sim) as client:
            catalog = InstanceCatalog(store, profile="bench", advertiser_id="", api_url="")
            known = await catalog.load(client)
            batch, _ = build_batch(
                refs=[i.instance_id for i in known[:n]],
                known=known,
                query=QuerySpec(sql=SQL, time_window=WINDOW),
                engine=engine,
                profile="bench",
                max_concurrency=concurrency,
            )
            batch = await store.create_batch(batch)
            runner = BatchRunner(store, client, engine, lock_dir=Path(tmp) / "locks")
            changes = 0

            def count(event: EngineEvent) -> None:
                nonlocal changes
                if isinstance(event, ExecutionChanged):
                    changes += 1

            runner.events.add_listener(count)
            commits_before = store.commit_count
            wall, cpu = time.perf_counter(), time.process_time()
            final = await runner.run(batch.id)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            commits = store.commit_count - commits_before
        calls = [
            sim.stats.status_calls_per_execution.get(ex.amc_execution_id or "", 0)
            for ex in final.executions
        ]
        succeeded = sum(1 for ex in final.executions if ex.status is ExecutionStatus.SUCCEEDED)
        return RunResult(wall, cpu, calls, changes, commits, succeeded, sim.stats.max_in_flight)


def scaled(scale: float, *, poll_min: float, poll_max: float, **extra: object) -> EngineSettings:
    return EngineSettings(
        max_concurrent_executions=int(extra.pop("concurrency", 5)),  # type: ignore[call-overload]
        max_batch_size=1000,
        retry_delay_base=2.0 / scale,
        poll_interval_min=poll_min / scale,
        poll_interval_max=poll_max / scale,
    )


def sim_config(scale: float, n: int, duration: float) -> SimulatorConfig:
    return SimulatorConfig.reliable(
        time_scale=scale,
        duration_min=duration,
        duration_max=duration,
        failure_rate=0.0,
        instances=many_instances(n),
    )


async def bench_makespan_and_polls(real_t: float) -> None:
    scale = T_SIMULATED / real_t
    n, concurrency = 100, 5
    ideal = math.ceil(n / concurrency) * real_t
    engine = scaled(scale, poll_min=2.0, poll_max=60.0)
    result = await run_batch(n, concurrency, sim_config(scale, n, T_SIMULATED), engine)
    ratio = result.wall / ideal
    print(
        f"1. makespan: 100 executions x T={T_SIMULATED:.0f} simulated s "
        f"(time scale {scale:.0f}: T = {real_t:.2f} s real), concurrency 5"
    )
    print(
        f"   makespan {result.wall:.2f} s, ideal {ideal:.2f} s, ratio {ratio:.3f} "
        f"(target <= 1.05) {'OK' if ratio <= 1.05 else 'MISSED'}; "
        f"max in flight {result.max_in_flight}; succeeded {result.succeeded}/{n}"
    )
    mean = statistics.mean(result.status_calls)
    print(
        f"2. status calls per execution: mean {mean:.1f}, median "
        f"{statistics.median(result.status_calls):.0f}, max {max(result.status_calls)} "
        f"(target <= 20) {'OK' if mean <= 20 else 'MISSED'}"
    )
    fixed_poll = T_SIMULATED / 5.0  # the web app polled every 5 seconds
    print(
        f"   baseline, a fixed 5 s poll: {fixed_poll:.0f} calls per execution; amc-tui makes "
        f"{mean / fixed_poll:.3f}x the calls"
    )


async def bench_throughput() -> None:
    n, concurrency, scale = 1000, 50, 1000.0
    engine = scaled(scale, poll_min=2.0, poll_max=60.0, concurrency=concurrency)
    config = sim_config(scale, n, 5.0)  # 5 simulated seconds: 5 ms real
    result = await run_batch(n, concurrency, config, engine)
    per_change = result.commits / max(1, result.changes)
    print(f"3. throughput: {n} executions, concurrency {concurrency}, zero-latency simulator")
    print(
        f"   wall {result.wall:.2f} s, CPU {result.cpu:.2f} s, "
        f"{result.changes} state changes, {result.commits} store commits: "
        f"{per_change:.2f} commits per change (target <= 1) "
        f"{'OK' if per_change <= 1 else 'MISSED'}; succeeded {result.succeeded}/{n}; "
        f"max in flight {result.max_in_flight}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("which", nargs="*", help="makespan, polls, throughput (default: all)")
    parser.add_argument(
        "--real-t",
        type=float,
        default=1.0,
        help="real seconds one 15-minute execution takes (default 1)",
    )
    args = parser.parse_args(argv)
    which = set(args.which) or {"makespan", "throughput"}
    unknown = which - {"makespan", "polls", "throughput"}
    if unknown:
        parser.error(f"unknown benchmark {sorted(unknown)[0]!r}")
    if {"makespan", "polls"} & which:
        asyncio.run(bench_makespan_and_polls(args.real_t))
    if "throughput" in which:
        asyncio.run(bench_throughput())
    return 0


if __name__ == "__main__":
    sys.exit(main())
