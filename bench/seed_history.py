"""A big history file for the benchmarks: years of an operator's batches.

    python bench/seed_history.py OUT.db [--batches 10000] [--executions 500000]

The file is made by the real store (:class:`~amc_tui.store.history.HistoryStore` creates
and migrates it), then filled in one transaction with plain ``executemany`` (the
benchmarks measure reading it, not how fast it was written).  What it holds:

- ``batches`` finished batches, one a day going back from now, the newest of which has
  ``big`` executions (the batch the benchmarks open in the dashboard);
- ``executions`` executions in all, spread over the other batches at random (1 to 2x
  the mean), on a pool of 300 instances with stable UUIDs, mostly SUCCEEDED, some FAILED
  (with an error message), a few CANCELLED, each with an AMC execution id;
- one attempt per execution, two or three for one in ten.

Deterministic for a given seed.  :func:`seeded` keeps a copy per size in a cache folder
so that repeated runs skip the filling (a few seconds for the full size).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from amc_tui.domain import QuerySpec, TimeWindow
from amc_tui.store.codec import query_to_json, to_db_time
from amc_tui.store.history import HistoryStore

INSTANCES = 300
BIG_BATCH_ID = "batch_BIGBATCH"
SQL = "SELECT campaign, SUM(impressions) AS impressions FROM dsp_impressions GROUP BY 1"


@dataclass(frozen=True)
class Seeded:
    path: Path
    batches: int
    executions: int
    big_batch_id: str
    big_executions: int


def _batch_sizes(rng: random.Random, batches: int, executions: int, big: int) -> list[int]:
    """Sizes of the batches, newest first: ``big`` then the rest summing to the total."""
    rest = executions - big
    others = batches - 1
    if others <= 0:
        return [executions]
    mean = rest / others
    sizes = [max(1, round(rng.uniform(0.1, 1.9) * mean)) for _ in range(others)]
    # Adjust to the exact total, one execution at a time on random batches.
    diff = rest - sum(sizes)
    while diff != 0:
        k = rng.randrange(others)
        if diff > 0:
            sizes[k] += 1
            diff -= 1
        elif sizes[k] > 1:
            sizes[k] -= 1
            diff += 1
    return [big, *sizes]


def _fill(path: Path, batches: int, executions: int, big: int, seed: int) -> None:
    rng = random.Random(seed)
    pool = [
        (str(uuid.UUID(int=rng.getrandbits(128), version=4)), f"amc{k:05d}", f"Advertiser {k}")
        for k in range(INSTANCES)
    ]
    query = query_to_json(
        QuerySpec(
            sql=SQL, time_window=TimeWindow(start="2024-05-01T00:00:00", end="2024-05-08T00:00:00")
        )
    )
    now = datetime.now(UTC).replace(microsecond=0)
    batch_rows = []
    execution_rows = []
    attempt_rows = []
    execution_id = 0
    for n, size in enumerate(_batch_sizes(rng, batches, executions, big)):
        batch_id = BIG_BATCH_ID if n == 0 else f"batch_{n:08d}"
        created = now - timedelta(days=n, minutes=30)
        finished = created + timedelta(minutes=rng.randint(5, 90))
        if size <= len(pool):
            chosen = rng.sample(pool, size)
        else:  # more executions than the pool: instances of their own
            chosen = [
                (str(uuid.UUID(int=rng.getrandbits(128), version=4)), f"amcbig{k:05d}", f"Big {k}")
                for k in range(size)
            ]
        created_text, finished_text = to_db_time(created), to_db_time(finished)
        submitted_texts = [to_db_time(created + timedelta(seconds=s)) for s in range(60)]
        failed = 0
        for k, (instance_uuid, instance_id, name) in enumerate(chosen):
            execution_id += 1
            roll = rng.random()
            status, category, message = "SUCCEEDED", None, None
            if roll < 0.04:
                status, category, message = "FAILED", "query", "Query failed: column not found"
                failed += 1
            elif roll < 0.05:
                status = "CANCELLED"
            tries = rng.choice((2, 3)) if roll > 0.9 else 1
            submitted = submitted_texts[k % 60]
            execution_rows.append(
                (
                    execution_id,
                    batch_id,
                    instance_uuid,
                    instance_id,
                    name,
                    status,
                    str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    tries,
                    category,
                    message,
                    created_text,
                    finished_text,
                    submitted,
                    finished_text,
                )
            )
            for number in range(1, tries + 1):
                last = number == tries
                attempt_rows.append(
                    (
                        execution_id,
                        number,
                        submitted,
                        finished_text if last else submitted,
                        None if last else "throttled",
                        None if last else "AMC is throttling requests (429)",
                        None if last else 2.0 * number,
                    )
                )
        status = "partial" if failed else "completed"
        batch_rows.append(
            (
                batch_id,
                f"weekly report {n}" if n else "the big one",
                "",
                status,
                query,
                5,
                to_db_time(created),
                to_db_time(created),
                to_db_time(finished),
                0,
            )
        )
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.executemany(
                "INSERT INTO batches (id, name, profile, status, query, max_concurrency,"
                " created_at, started_at, finished_at, cancel_requested)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                batch_rows,
            )
            conn.executemany(
                "INSERT INTO executions (id, batch_id, instance_uuid, instance_id, instance_name,"
                " status, amc_execution_id, attempts, error_category, error_message, created_at,"
                " updated_at, submitted_at, finished_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                execution_rows,
            )
            conn.executemany(
                "INSERT INTO attempts (execution_id, number, started_at, finished_at,"
                " error_category, error_message, retry_delay) VALUES (?, ?, ?, ?, ?, ?, ?)",
                attempt_rows,
            )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def seed(path: Path, *, batches: int, executions: int, big: int = 1000, seed: int = 6) -> Seeded:
    """Make the history file at ``path`` (which must not exist)."""
    if path.exists():
        raise FileExistsError(f"{path} exists already")
    if not 1 <= big <= executions or batches < 1 or executions - big < batches - 1:
        raise ValueError("need 1 <= big <= executions and one execution per other batch")

    async def create() -> None:
        async with await HistoryStore.open(path):
            pass

    asyncio.run(create())
    _fill(path, batches, executions, big, seed)
    return Seeded(path, batches, executions, BIG_BATCH_ID, big)


def seeded(
    target: Path, cache: Path | None, *, batches: int, executions: int, big: int = 1000
) -> Seeded:
    """A fresh copy at ``target`` of the seeded file, filled once per size in ``cache``."""
    if cache is None:
        return seed(target, batches=batches, executions=executions, big=big)
    cache.mkdir(parents=True, exist_ok=True)
    kept = cache / f"history-{batches}-{executions}-{big}.db"
    if not kept.exists():
        partial = kept.with_suffix(".partial")
        for stale in cache.glob(partial.name + "*"):
            stale.unlink()
        seed(partial, batches=batches, executions=executions, big=big)
        partial.rename(kept)
    shutil.copyfile(kept, target)
    return Seeded(target, batches, executions, BIG_BATCH_ID, big)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--batches", type=int, default=10_000)
    parser.add_argument("--executions", type=int, default=500_000)
    parser.add_argument("--big", type=int, default=1000, help="executions of the newest batch")
    args = parser.parse_args()
    made = seed(args.out, batches=args.batches, executions=args.executions, big=args.big)
    print(f"{made.path}: {made.batches} batches, {made.executions} executions")


if __name__ == "__main__":
    main()
