"""A separate process writing to one history file, for the multi-process store test.

Usage: ``python tests/store_worker.py DB_PATH START_AT COUNT TAG WORKERS``.  Waits
until the wall-clock time ``START_AT`` (so that the workers open a fresh file at the
same moment), creates a batch of ``COUNT`` executions, waits until ``WORKERS``
batches exist (so that all workers write at once), drives each execution through two
attempts and ``QUEUED -> SUBMITTING -> PENDING -> RUNNING -> SUCCEEDED``, completes
the batch and prints its id.  Any error makes it exit non-zero with the traceback on stderr.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from pathlib import Path

from amc_tui.domain import Batch, BatchStatus, Execution, ExecutionStatus, QuerySpec
from amc_tui.errors import ErrorCategory
from amc_tui.store import HistoryStore


async def work(path: Path, count: int, tag: str, workers: int) -> str:
    async with await HistoryStore.open(path) as store:
        batch = Batch(name=f"worker {tag}", query=QuerySpec(sql="SELECT 1"))
        batch.executions = [
            Execution(
                batch_id=batch.id,
                instance_uuid=uuid.uuid4(),
                instance_id=f"amc{tag}{i:03d}",
                instance_name=f"{tag} instance {i:03d}",
            )
            for i in range(count)
        ]
        stored = await store.create_batch(batch)
        deadline = time.monotonic() + 20
        while len(await store.list_batches()) < workers:
            if time.monotonic() > deadline:
                raise TimeoutError("the other workers never created their batches")
            await asyncio.sleep(0.002)
        await store.transition_batch(stored.id, BatchStatus.RUNNING)
        for execution in stored.executions:
            assert execution.id is not None
            await store.transition_execution(execution.id, ExecutionStatus.SUBMITTING)
            first = await store.begin_attempt(execution.id)
            await store.end_attempt(
                execution.id,
                first.number,
                error_category=ErrorCategory.THROTTLED,
                error_message="throttled",
                retry_delay=0.01,
            )
            second = await store.begin_attempt(execution.id)
            await store.end_attempt(execution.id, second.number)
            await store.transition_execution(
                execution.id,
                ExecutionStatus.PENDING,
                amc_execution_id=f"{tag}-{execution.instance_id}",
            )
            await store.transition_execution(execution.id, ExecutionStatus.RUNNING)
            await store.transition_execution(execution.id, ExecutionStatus.SUCCEEDED)
        await store.transition_batch(stored.id, BatchStatus.COMPLETED)
        return stored.id


def main(argv: list[str]) -> int:
    path, start_at, count, tag = Path(argv[1]), float(argv[2]), int(argv[3]), argv[4]
    workers = int(argv[5])
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)
    print(asyncio.run(work(path, count, tag, workers)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
