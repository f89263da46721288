"""What the engine state machine (tests/test_engine_state_machine.py) sees from outside.

- :class:`Ledger`: the test's own bookkeeping: the batches it started (each with a tag
  sent as a query parameter, so every execution AMC holds can be traced to its batch),
  which process and which run of its batch made each execution on AMC, how many
  creates AMC received per batch and instance, and every broken rule noticed.
- :class:`Gate`: an ASGI app in front of the simulator, one per emulated process.  At
  each create it checks, against the history file as it is on disk at that instant,
  that the execution was written SUBMITTING with its attempt counted first, and after
  it that the executions in flight stay within the limits.  It can make AMC's list
  call fail, and it is how a crash cuts the process off: once ``dead``, no request of
  that process reaches AMC (nor is answered), as when the process is gone.
- :class:`Process`: one emulated amc-tui process (store, gate, client, runner and its
  runs), how it is killed, and how to wait until it is quiet.
- :class:`EventChecks`: checks every event a runner emits against the state tables,
  the store and AMC.
- Small helpers: the transitive closure of the state tables, and closing the lock
  files' descriptors the way the kernel does when a process dies.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from amc_tui.amc.client import AmcClient
from amc_tui.amc.simulator import AmcSimulator, ExecutionRecord
from amc_tui.domain import (
    BATCH_TRANSITIONS,
    EXECUTION_TRANSITIONS,
    Batch,
    BatchCounts,
    BatchStatus,
    ExecutionStatus,
)
from amc_tui.engine.events import BatchFinished, BatchStarted, EngineEvent, ExecutionChanged
from amc_tui.engine.runner import BatchRunner
from amc_tui.store.history import HistoryStore

ENDED = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
TAG = "sm_batch"
"""The query parameter that names the test's batch in every create body."""

S = TypeVar("S")


def reachable(table: Mapping[S, frozenset[S]]) -> dict[S, frozenset[S]]:
    """Each state's reflexive-transitive successors under ``table``."""
    closure: dict[S, frozenset[S]] = {}
    for start in table:
        seen = {start}
        todo = [start]
        while todo:
            for nxt in table[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        closure[start] = frozenset(seen)
    return closure


def close_lock_fds(lock_dir: Path) -> int:
    """Close every descriptor of this process open on a file in ``lock_dir``.

    What the kernel does to a killed process's files; closing drops their flocks.
    Returns how many were closed.
    """
    prefix = str(lock_dir.resolve()) + os.sep
    closed = 0
    for entry in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{entry}")
        except OSError:
            continue
        if target.startswith(prefix):
            os.close(int(entry))
            closed += 1
    return closed


@dataclass
class BatchInfo:
    """A batch the test started, and what the test knows about it."""

    id: str
    tag: str
    cap: int
    """min(its max_concurrency, the process limit): its executions' slots."""
    epoch: int = 0
    """How many runs of it were started (a new run, or a resume)."""
    attended: bool = False
    """A live runner is running it (from its start until it ends, is interrupted or
    its process crashes)."""
    status: BatchStatus = BatchStatus.PENDING
    """The last status the test saw (events, run results, recovery)."""


@dataclass(frozen=True)
class Made:
    """Who made one execution on AMC: which batch, process and run of the batch."""

    batch_id: str
    generation: int
    epoch: int


class Ledger:
    """The test's bookkeeping, shared by every process it emulates."""

    def __init__(self, sim: AmcSimulator, clock: Callable[[], float], limit: int) -> None:
        self.sim = sim
        self.clock = clock
        self.limit = limit
        self.batches: dict[str, BatchInfo] = {}
        self.by_tag: dict[str, str] = {}
        self.made: dict[str, Made] = {}
        self.creates: Counter[tuple[str, str]] = Counter()
        self.violations: list[str] = []
        self.generation = 0
        self.fail_lists = False
        self.cut_short = False
        """A run ended before its batch did (crash, interrupt, unsettled executions):
        its executions may go on running on AMC in nobody's slot."""
        self.cancel_when_one_ends: dict[str, Callable[[], Awaitable[None]]] = {}
        """Per batch, a cancel to make before AMC's next answer that one of its executions
        finished reaches the runner."""
        self._db: sqlite3.Connection | None = None

    # --- the history file, read as another process would ---------------------------

    def open_reader(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)

    def close_reader(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _query(self, sql: str, *args: object) -> list[Any]:
        assert self._db is not None
        return self._db.execute(sql, args).fetchall()

    def stored_rows(self, batch_id: str) -> dict[str, tuple[str, int]]:
        """instance id -> (status, attempts) of the batch's executions, as committed."""
        sql = "SELECT instance_id, status, attempts FROM executions WHERE batch_id = ?"
        return {instance: (status, n) for instance, status, n in self._query(sql, batch_id)}

    def stored_status(self, execution_id: int) -> str | None:
        rows = self._query("SELECT status FROM executions WHERE id = ?", execution_id)
        return str(rows[0][0]) if rows else None

    def stored_ids(self, batch_id: str) -> set[int]:
        return {r[0] for r in self._query("SELECT id FROM executions WHERE batch_id = ?", batch_id)}

    def stored_batch_status(self, batch_id: str) -> BatchStatus:
        return BatchStatus(self._query("SELECT status FROM batches WHERE id = ?", batch_id)[0][0])

    def stored_batches(self, statuses: set[str]) -> set[str]:
        """Ids of the batches stored in one of ``statuses``."""
        return {
            b for b, status in self._query("SELECT id, status FROM batches") if status in statuses
        }

    def stored_executions(self, statuses: set[str]) -> set[int]:
        """Ids of the executions stored in one of ``statuses``."""
        rows = self._query("SELECT id, status FROM executions")
        return {execution_id for execution_id, status in rows if status in statuses}

    # --- executions on AMC ----------------------------------------------------------

    def tag_of(self, record: ExecutionRecord) -> str | None:
        return record.request.parameter_values.get(TAG)

    def records_of(self, batch_id: str) -> list[ExecutionRecord]:
        tag = self.batches[batch_id].tag
        return [r for r in self.sim.executions.values() if self.tag_of(r) == tag]

    def note_new_records(self, generation: int) -> None:
        """Attribute every execution AMC made that the ledger has not seen yet."""
        for record in self.sim.executions.values():
            if record.execution_id in self.made:
                continue
            batch_id = self.by_tag.get(self.tag_of(record) or "")
            if batch_id is None:
                self.violations.append(f"AMC holds {record.execution_id} of no known batch")
                continue
            info = self.batches[batch_id]
            self.made[record.execution_id] = Made(batch_id, generation, info.epoch)

    def note_create(self, batch_id: str, instance_id: str) -> None:
        """A create for the batch reached AMC: it must have been written ahead."""
        self.creates[(batch_id, instance_id)] += 1
        row = self.stored_rows(batch_id).get(instance_id)
        if row is None:
            self.violations.append(f"create for {instance_id} of {batch_id}: not in the store")
            return
        status, attempts = row
        if status != "SUBMITTING":
            self.violations.append(
                f"create for {instance_id} of {batch_id} while stored {status}, not SUBMITTING"
            )
        if attempts < self.creates[(batch_id, instance_id)]:
            self.violations.append(
                f"create number {self.creates[(batch_id, instance_id)]} for {instance_id} "
                f"of {batch_id}, but only {attempts} attempts stored before it"
            )

    def check_in_flight(self, batch_id: str, generation: int) -> None:
        """After a create for the batch: the executions on AMC stay within the limits.

        The batch's own limit counts all of its executions on AMC: those of earlier runs
        take its slots first when it resumes, and one left UNKNOWN keeps its slot until
        the run ends.  The process limit counts what this process made in the current
        run of a batch it runs, but for an UNKNOWN one (its slot is freed when its batch
        stops, a moment before the test sees the run end); an interrupted batch's
        executions go on running on AMC with nobody's slot.
        """
        now = self.clock()
        in_flight = [r for r in self.sim.executions.values() if r.is_in_flight(now)]
        mine = [r for r in in_flight if self.tag_of(r) == self.batches[batch_id].tag]
        if len(mine) > self.batches[batch_id].cap:
            self.violations.append(
                f"{len(mine)} executions of {batch_id} in flight on AMC; "
                f"its limit is {self.batches[batch_id].cap}"
            )
        unknown: dict[str, set[str]] = {}
        process = []
        for record in in_flight:
            made = self.made.get(record.execution_id)
            if made is None or made.generation != generation:
                continue
            owner = self.batches[made.batch_id]
            if not owner.attended or made.epoch != owner.epoch:
                continue
            if made.batch_id not in unknown:
                rows = self.stored_rows(made.batch_id)
                unknown[made.batch_id] = {i for i, (s, _) in rows.items() if s == "UNKNOWN"}
            if record.instance_id not in unknown[made.batch_id]:
                process.append(record)
        if len(process) > self.limit:
            self.violations.append(
                f"{len(process)} executions of this process in flight; the limit is {self.limit}"
            )


async def _forever() -> None:
    await asyncio.Event().wait()


Receive = Any
Send = Any
Scope = dict[str, Any]


class Gate:
    """The way one emulated process reaches the simulator (see the module docstring)."""

    def __init__(self, sim: AmcSimulator, ledger: Ledger, generation: int) -> None:
        self.sim = sim
        self.ledger = ledger
        self.generation = generation
        self.dead = False
        self.death: str | None = None
        """How it died: "before" or "after" a create (None: not at a create)."""
        self.in_progress = 0
        self.activity = 0
        """Bumped by every request but a status poll, and by a poll whose answer moved."""
        self.crash_at: tuple[str, int] | None = None
        """("before" | "after", n): die at the n-th next create, before AMC sees it or
        after AMC made it (its answer then never arrives)."""
        self._polled: dict[str, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.sim(scope, receive, send)
            return
        if self.dead:
            await _forever()
        self.in_progress += 1
        try:
            await self._route(scope, receive, send)
        finally:
            self.in_progress -= 1

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        parts = scope["path"].strip("/").split("/")
        method = scope["method"]
        executions = len(parts) >= 4 and parts[:2] == ["amc", "reporting"]
        executions = executions and parts[3] == "workflowExecutions"
        if executions and len(parts) == 5 and method == "GET":
            await self._status(parts[4], scope, receive, send)
            return
        self.activity += 1
        if executions and len(parts) == 4 and method == "POST":
            await self._create(parts[2], scope, receive, send)
            return
        if executions and len(parts) == 4 and method == "GET" and self.ledger.fail_lists:
            body = json.dumps({"code": "503", "details": "list unavailable"}).encode()
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.sim(scope, receive, send)

    def _next_create_dies(self) -> str | None:
        if self.crash_at is None:
            return None
        when, left = self.crash_at
        if left > 1:
            self.crash_at = (when, left - 1)
            return None
        self.crash_at = None
        return when

    async def _create(self, instance_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        dies = self._next_create_dies()
        if dies == "before":
            self.dead, self.death = True, "before AMC saw a create"
            await _forever()
        try:
            tag = json.loads(body).get("parameterValues", {}).get(TAG)
        except (ValueError, AttributeError):
            tag = None
        batch_id = self.ledger.by_tag.get(tag or "")
        if batch_id is None:
            self.ledger.violations.append(f"a create for {instance_id} names no known batch")
        else:
            self.ledger.note_create(batch_id, instance_id)

        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await _forever()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def swallow(message: dict[str, Any]) -> None:
            return None

        await self.sim(scope, replay, swallow if dies == "after" else send)
        self.ledger.note_new_records(self.generation)
        if batch_id is not None:
            self.ledger.check_in_flight(batch_id, self.generation)
        if dies == "after":
            self.dead, self.death = True, "after AMC made an execution"
            await _forever()

    async def _status(self, execution_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        messages: list[dict[str, Any]] = []

        async def hold(message: dict[str, Any]) -> None:
            messages.append(message)

        await self.sim(scope, receive, hold)
        if messages[0]["status"] == 200:
            body = b"".join(m.get("body", b"") for m in messages[1:])
            status = str(json.loads(body).get("status"))
            if self._polled.get(execution_id) != status:
                self._polled[execution_id] = status
                self.activity += 1
            made = self.ledger.made.get(execution_id)
            late = self.ledger.cancel_when_one_ends
            if made is not None and status in ENDED and made.batch_id in late:
                await late.pop(made.batch_id)()
        for message in messages:
            await send(message)


@dataclass
class Process:
    """One emulated amc-tui process: its store, its way to AMC, its runner, its runs."""

    generation: int
    store: HistoryStore
    gate: Gate
    client: AmcClient
    runner: BatchRunner
    tasks: dict[str, asyncio.Task[Batch]] = field(default_factory=dict)
    killed: bool = False

    async def kill(self, lock_dir: Path, timeout: float) -> None:
        """End the process as ``kill -9`` would (the test module's docstring says how)."""
        self.gate.dead = True  # from now on nothing reaches AMC, nothing is answered
        self.killed = True
        await self.store.close()  # nothing more is written
        for task in self.tasks.values():
            task.cancel()
        if self.tasks:
            _, pending = await asyncio.wait(self.tasks.values(), timeout=timeout)
            assert not pending, "the killed runner's tasks did not end"
        for task in self.tasks.values():  # what they died of (the closed store) is moot
            _ = task.cancelled() or task.exception()
        close_lock_fds(lock_dir)
        await self.client.aclose()

    async def wait_quiet(self, quiet: float, timeout: float) -> None:
        """Wait until its gate died, none of its runs is left, or for ``quiet`` seconds it
        wrote nothing and called AMC for nothing but status polls that found no change."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        mark: tuple[int, int, int] | None = None
        quiet_since = loop.time()
        while not self.gate.dead:
            if all(task.done() for task in self.tasks.values()):
                await asyncio.sleep(0)  # let the runs' done callbacks run
                return
            now = loop.time()
            current = (self.gate.activity, self.store.commit_count, self.gate.in_progress)
            if current != mark or self.gate.in_progress:
                mark, quiet_since = current, now
            elif now - quiet_since >= quiet:
                return
            assert now < deadline, "the engine never went quiet"
            await asyncio.sleep(0.002)

    async def stop(self, timeout: float) -> None:
        """Stop it in an orderly way (the end of an example)."""
        self.killed = True
        self.runner.interrupt()
        if self.tasks:
            await asyncio.wait(self.tasks.values(), timeout=timeout)
        if not self.store.closed:
            await self.store.close()
        await self.client.aclose()


EXECUTION_PATHS = reachable(EXECUTION_TRANSITIONS)
BATCH_PATHS = reachable(BATCH_TRANSITIONS)


class EventChecks:
    """A runner's listener: each event is checked as it is emitted.

    - ``ExecutionChanged``: the move is in ``EXECUTION_TRANSITIONS``, starts where this
      runner's last event for the execution (in this run of its batch) left it, and the
      store already holds that state or a later one (committed, then emitted);
    - ``BatchFinished``: the batch goes from running to a status the table allows; when
      that status is final, the counts it carries are the stored ones and AMC has
      none of the batch's executions still running.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.last: dict[int, ExecutionStatus] = {}

    def __call__(self, event: EngineEvent) -> None:
        ledger = self.ledger
        if isinstance(event, BatchStarted):
            ids = ledger.stored_ids(event.batch_id)
            self.last = {k: v for k, v in self.last.items() if k not in ids}
            ledger.batches[event.batch_id].status = BatchStatus.RUNNING
        elif isinstance(event, BatchFinished):
            self._finished(event)
        elif isinstance(event, ExecutionChanged):
            ex, old = event.execution, event.previous
            assert ex.id is not None
            if ex.status not in EXECUTION_TRANSITIONS[old]:
                ledger.violations.append(f"event: execution {ex.id} went {old} -> {ex.status}")
            last = self.last.get(ex.id)
            if last is not None and last is not old:
                ledger.violations.append(
                    f"event: execution {ex.id} went {old} -> {ex.status}, but was {last}"
                )
            self.last[ex.id] = ex.status
            stored = ledger.stored_status(ex.id)
            if stored is None or ExecutionStatus(stored) not in EXECUTION_PATHS[ex.status]:
                ledger.violations.append(
                    f"event: execution {ex.id} is {ex.status} but the store has {stored}"
                )

    def _finished(self, event: BatchFinished) -> None:
        ledger, batch_id = self.ledger, event.batch_id
        if event.status not in BATCH_TRANSITIONS[BatchStatus.RUNNING]:
            ledger.violations.append(f"{batch_id} finished running as {event.status}")
        ledger.batches[batch_id].status = event.status
        if not event.status.is_terminal:
            ledger.cut_short = True
            return
        stored = BatchCounts.of(
            ExecutionStatus(s) for s, _ in ledger.stored_rows(batch_id).values()
        )
        if event.counts != stored:
            ledger.violations.append(f"{batch_id} finished with {event.counts}, stored {stored}")
        now = ledger.clock()
        running = [r.execution_id for r in ledger.records_of(batch_id) if r.is_in_flight(now)]
        if running:
            ledger.violations.append(f"{batch_id} ended {event.status}; AMC still runs {running}")
