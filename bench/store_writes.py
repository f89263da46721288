"""The history store's write path: state changes per second (issue 6, target 1).

    python bench/store_writes.py [--executions 300] [--bursts 5,50,200] [--runs 3]

Every figure is a number of execution **state changes** per second, a change being
one of the four an execution makes on a clean run, with ``synchronous=FULL``:

1. QUEUED -> SUBMITTING, with its first attempt row (``start_attempt``);
2. SUBMITTING -> PENDING with the AMC id, ending that attempt (``finish_attempt``);
3. PENDING -> RUNNING (``transition_execution``);
4. RUNNING -> SUCCEEDED (``transition_execution``).

- **baseline**: a plain ``sqlite3`` loop on a file with our schema and pragmas (made
  by opening a HistoryStore once; WAL, ``synchronous=FULL``, foreign keys on) making
  those changes as UPDATEs and INSERTs, one committed transaction per change;
- **sequential**: the real HistoryStore, one awaited change at a time (it cannot beat
  one commit per change: each write waits for its own commit);
- **burst N**: the real HistoryStore with N tasks in flight (as the engine at
  concurrency N), each driving its executions through the store's real API.  Reports
  changes/s, store commits per change, process CPU time per change (all threads) and
  the ratio to the baseline.

- **floor, burst N** (``--floor``, on by default): the same N tasks through the same
  calls, but the store's worker answers every write of a group at once without running
  it (no SQL, no commit): the cost of the tasks, of ``asyncio`` and of handing writes
  to the worker thread and answers back, alone.  Not a store: it shows how much of a
  change's time is left for SQLite, and the best ratio any SQL could reach here.

Each run measures every case right after a baseline of its own, each on a fresh file,
and a case's ratio is taken to that baseline: the machine this was written on is
shared, and its speed moves by a third from one second to the next, so a baseline
measured once per run, several cases earlier, made the ratios of the later cases a
lottery.  (The baseline's own work is unchanged.)  ``--runs`` runs, and the medians
of the rates and of the per-pair ratios are printed.  The target: under
bursts, at least 5x the baseline.  Files live in a temporary directory
(``--dir``, default the system's, printed) which should be on the file system of the
data directory: the baseline's cost is mostly that of its fsync, printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from amc_tui.domain import Batch, Execution, ExecutionStatus, QuerySpec, utc_now
from amc_tui.store.codec import to_db_time
from amc_tui.store.history import HistoryStore

S = ExecutionStatus
CHANGES_PER_EXECUTION = 4
TARGET = 5.0


@dataclass
class Figure:
    changes: int
    seconds: float
    commits: int
    cpu: float  # process CPU seconds (every thread)

    @property
    def rate(self) -> float:
        return self.changes / self.seconds


def new_batch(executions: int) -> Batch:
    batch = Batch(name="bench", query=QuerySpec(sql="SELECT 1"))
    batch.executions = [
        Execution(
            batch_id=batch.id,
            instance_uuid=uuid.uuid4(),
            instance_id=f"amcbench{i:05d}",
            instance_name=f"instance {i:05d}",
        )
        for i in range(executions)
    ]
    return batch


async def stored_ids(path: Path, executions: int) -> list[int]:
    """Create the file (schema, pragmas) with one batch of QUEUED executions."""
    async with await HistoryStore.open(path) as store:
        batch = await store.create_batch(new_batch(executions))
    return [e.id for e in batch.executions if e.id is not None]


# --- the baseline: a plain sqlite3 loop, one commit per change --------------------------


def baseline(path: Path, ids: list[int]) -> Figure:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        move = "UPDATE executions SET status = ?, updated_at = ? WHERE id = ?"
        finish = "UPDATE executions SET status = ?, updated_at = ?, finished_at = ? WHERE id = ?"
        began, cpu = time.perf_counter(), time.process_time()
        for execution_id in ids:
            now = to_db_time(utc_now())
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "UPDATE executions SET status = 'SUBMITTING', updated_at = ?, submitted_at = ?,"
                " attempts = attempts + 1 WHERE id = ?",
                (now, now, execution_id),
            )
            conn.execute(
                "INSERT INTO attempts (execution_id, number, started_at) VALUES (?, 1, ?)",
                (execution_id, now),
            )
            conn.execute("COMMIT")
            now = to_db_time(utc_now())
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "UPDATE attempts SET finished_at = ? WHERE execution_id = ? AND number = 1",
                (now, execution_id),
            )
            conn.execute(
                "UPDATE executions SET status = 'PENDING', updated_at = ?, amc_execution_id = ?"
                " WHERE id = ?",
                (now, f"amc-{execution_id}", execution_id),
            )
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(move, (S.RUNNING.value, to_db_time(utc_now()), execution_id))
            conn.execute("COMMIT")
            now = to_db_time(utc_now())
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(finish, (S.SUCCEEDED.value, now, now, execution_id))
            conn.execute("COMMIT")
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    finally:
        conn.close()
    changes = len(ids) * CHANGES_PER_EXECUTION
    return Figure(changes, seconds, changes, cpu)


# --- ours: the real HistoryStore ---------------------------------------------------------


async def drive(store: HistoryStore, execution_id: int) -> None:
    """One execution's clean run, through the calls the engine makes."""
    _, attempt = await store.start_attempt(execution_id)
    await store.finish_attempt(
        execution_id,
        attempt.number,
        new_status=S.PENDING,
        amc_execution_id=f"amc-{execution_id}",
    )
    await store.transition_execution(execution_id, S.RUNNING)
    await store.transition_execution(execution_id, S.SUCCEEDED)


async def drive_all(store: HistoryStore, ids: list[int], in_flight: int) -> tuple[float, float]:
    """``in_flight`` tasks, each driving the next execution not yet taken; the wall
    seconds and the process's CPU seconds they took."""
    todo = iter(ids)

    async def task() -> None:
        for execution_id in todo:
            await drive(store, execution_id)

    began, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(task() for _ in range(in_flight)))
    return time.perf_counter() - began, time.process_time() - cpu


async def ours(path: Path, ids: list[int], in_flight: int) -> Figure:
    """The executions driven through the real store, ``in_flight`` at a time."""
    async with await HistoryStore.open(path) as store:
        commits = store.commit_count
        seconds, cpu = await drive_all(store, ids, in_flight)
        commits = store.commit_count - commits
        final = await store.list_executions(store_batch_id(path))
    if any(e.status is not S.SUCCEEDED for e in final) or len(final) != len(ids):
        raise RuntimeError("the bench did not bring every execution to SUCCEEDED")
    return Figure(len(ids) * CHANGES_PER_EXECUTION, seconds, commits, cpu)


class AnswerAtOnce:
    """While in effect, the store's worker answers each write without running it
    (``start_attempt`` with an attempt numbered 1, the others with None): the floor case.
    """

    def __enter__(self) -> None:
        from amc_tui.store import worker
        from amc_tui.store.coalesce import Kind, MergeableWrite

        self._saved = worker.StoreWorker._run_queued

        def answer_at_once(self: worker.StoreWorker) -> None:
            with self._lock:
                group, self._queue = self._queue, []
                self._group_scheduled = False
            answers: list[tuple[Any, object]] = []
            for write in group:
                work = write.work
                start = isinstance(work, MergeableWrite) and work.kind is Kind.START
                answers.append((write, (None, SimpleNamespace(number=1)) if start else None))
            self._answer(answers, [])

        worker.StoreWorker._run_queued = answer_at_once  # type: ignore[method-assign]

    def __exit__(self, *exc: object) -> None:
        from amc_tui.store import worker

        worker.StoreWorker._run_queued = self._saved  # type: ignore[method-assign]


async def floor(path: Path, ids: list[int], in_flight: int) -> Figure:
    """``in_flight`` tasks driving the executions through a store answering at once."""
    async with await HistoryStore.open(path) as store:
        with AnswerAtOnce():
            seconds, cpu = await drive_all(store, ids, in_flight)
    return Figure(len(ids) * CHANGES_PER_EXECUTION, seconds, 0, cpu)


def store_batch_id(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("SELECT id FROM batches").fetchone()[0])
    finally:
        conn.close()


def fsync_latency(directory: Path, count: int = 200) -> float:
    """Median seconds of one 4 KiB write + fsync of a file in ``directory``."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        times = []
        for _ in range(count):
            began = time.perf_counter()
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
            times.append(time.perf_counter() - began)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(times)


# --- running the cases ---------------------------------------------------------------------

Case = Callable[[Path, list[int]], Figure]


def run_once(directory: Path, executions: int, case: Case) -> Figure:
    """``case`` on a fresh file of ``executions`` QUEUED executions."""
    path = directory / f"case-{time.monotonic_ns()}.db"
    ids = asyncio.run(stored_ids(path, executions))
    try:
        return case(path, ids)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def store_case(in_flight: int) -> Case:
    return lambda path, ids: asyncio.run(ours(path, ids, in_flight))


def floor_case(in_flight: int) -> Case:
    return lambda path, ids: asyncio.run(floor(path, ids, in_flight))


def median_figure(figures: list[Figure]) -> Figure:
    return sorted(figures, key=lambda f: f.rate)[len(figures) // 2]


def describe(label: str, figures: list[Figure], ratios: list[float] | None) -> str:
    fig = median_figure(figures)
    line = (
        f"  {label:<38} {fig.rate:8.0f} changes/s, {fig.commits / fig.changes:.3f} commits/change,"
        f" {fig.cpu / fig.changes * 1e6:4.0f} us CPU/change"
    )
    return line if ratios is None else f"{line}, {statistics.median(ratios):5.2f}x baseline"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--executions", type=int, default=300, help="executions per run (4 changes each)"
    )
    parser.add_argument(
        "--bursts", default="5,50,200", help="tasks in flight, comma-separated (default 5,50,200)"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of every case; medians kept")
    parser.add_argument("--dir", type=Path, default=None, help="where the files go (default: tmp)")
    parser.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure the floor: the largest burst through a store answering at once",
    )
    args = parser.parse_args(argv)
    bursts = [int(b) for b in args.bursts.split(",") if b.strip()]
    cases: dict[str, Case] = {"sequential (1 in flight)": store_case(1)}
    cases.update({f"burst of {b} in flight": store_case(b) for b in bursts})
    floor_label = f"floor, burst of {max(bursts)}" if args.floor and bursts else None
    if floor_label is not None:
        cases[floor_label] = floor_case(max(bursts))
    with tempfile.TemporaryDirectory(prefix="amc-tui-bench-", dir=args.dir) as tmp:
        directory = Path(tmp)
        print(
            f"store write path: {args.executions} executions x {CHANGES_PER_EXECUTION} state "
            f"changes = {args.executions * CHANGES_PER_EXECUTION} changes per run; WAL, "
            f"synchronous=FULL; medians of {args.runs} runs, each case measured right after "
            "a baseline of its own (its ratio is taken to that baseline)"
        )
        print(
            f"files in {directory} (device {os.stat(directory).st_dev}); one 4 KiB write + "
            f"fsync there: {fsync_latency(directory) * 1e6:.0f} us; "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        bases: list[Figure] = []
        figures: dict[str, list[Figure]] = {label: [] for label in cases}
        ratios: dict[str, list[float]] = {label: [] for label in cases}
        for _ in range(args.runs):
            for label, case in cases.items():
                base = run_once(directory, args.executions, baseline)
                fig = run_once(directory, args.executions, case)
                bases.append(base)
                figures[label].append(fig)
                ratios[label].append(fig.rate / base.rate)
        print(describe("baseline, sqlite3 loop, 1 commit/change", bases, None))
        for label in cases:
            if label != floor_label:
                print(describe(f"HistoryStore, {label}", figures[label], ratios[label]))
        print(
            "  (sequential: each change awaits its own commit, so one commit per change is "
            "its floor; a burst of N shares a commit among at most N changes)"
        )
        if floor_label is not None:
            fig = median_figure(figures[floor_label])
            print(describe(f"no store: {floor_label}", figures[floor_label], ratios[floor_label]))
            print(
                f"  (the tasks, asyncio and the hand-off to the worker thread alone, no SQL: "
                f"{fig.seconds / fig.changes * 1e6:.1f} us a change; a store at {TARGET:g}x "
                f"this run's baseline has "
                f"{statistics.median(b.seconds / b.changes for b in bases) / TARGET * 1e6:.1f}"
                " us a change in all)"
            )
        for burst in bursts:
            ratio = statistics.median(ratios[f"burst of {burst} in flight"])
            verdict = "met" if ratio >= TARGET else "not met"
            print(f"target >= {TARGET:g}x the baseline, burst of {burst}: {ratio:.2f}x, {verdict}")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
