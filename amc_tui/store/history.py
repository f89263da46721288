"""HistoryStore: the asynchronous face of the history file.

Every batch, execution and attempt amc-tui runs is kept here, in one SQLite file,
so that history survives crashes and another process can watch a running batch.
The store owns one connection and one worker thread (:mod:`amc_tui.store.worker`):
every SQLite call runs on that thread, and the event loop only awaits its result, so
it never blocks.  Each write is applied whole or not at all, and is committed
(``synchronous=FULL``) before the awaited method returns; callers emit their events
only after that.  Writes that arrive while the worker is busy share one commit (group
commit), each in its own savepoint, so a write that fails is undone alone and only
its caller sees the error.  The engine's own writes (moves, attempts started and
ended) go to the worker as data (:mod:`amc_tui.store.coalesce`), so that many of them
in one group run as one statement per kind.

Opening checks the file before writing to it (:mod:`amc_tui.store.database`) and
migrates it (:mod:`amc_tui.store.schema`); the SQL itself is in
:mod:`amc_tui.store.queries` (batches), :mod:`amc_tui.store.executions` (executions
and attempts) and :mod:`amc_tui.store.instances`.  Every failure is a
:class:`~amc_tui.errors.StoreError` naming the file, with SQLite's own error as
``__cause__``; an illegal state change is an
:class:`~amc_tui.errors.IllegalTransitionError` and changes nothing.

If the task awaiting a write is cancelled, a write the worker has already started runs
to its end (committed, or rolled back with its group) and only its result is lost;
one still waiting its turn is dropped.  Either way nothing is half-written.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Concatenate, ParamSpec, Self, TypeVar, cast

from amc_tui.domain import (
    Attempt,
    Batch,
    BatchStatus,
    BatchSummary,
    Execution,
    ExecutionStatus,
    Instance,
)
from amc_tui.errors import ErrorCategory
from amc_tui.store import executions, queries
from amc_tui.store import instances as instance_queries
from amc_tui.store.coalesce import Kind, MergeableWrite
from amc_tui.store.database import DEFAULT_BUSY_TIMEOUT
from amc_tui.store.instances import InstanceInput, validated_instance
from amc_tui.store.results import ResultRecords
from amc_tui.store.worker import StoreWorker

P = ParamSpec("P")
T = TypeVar("T")


class HistoryStore:
    """The history of batches, in one SQLite file; open it with :meth:`open`.

    ``async with await HistoryStore.open(path) as store: ...`` closes it at the end.
    """

    def __init__(self, worker: StoreWorker) -> None:
        """Use :meth:`open`; this only wraps an already opened worker."""
        self._worker = worker
        self.results = ResultRecords(worker)
        """What was downloaded of each execution's results (:mod:`amc_tui.store.results`)."""

    # --- life cycle ---------------------------------------------------------------------

    @classmethod
    async def open(cls, path: Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Self:
        """Open (creating, checking and migrating) the history file at ``path``.

        The directory is created with mode 0700 and a new file with mode 0600.
        Raises :class:`StoreError` naming the file if it is not an SQLite database, is
        damaged, belongs to another application or to a newer amc-tui (the file is
        then left exactly as it was), or cannot be created or written.
        """
        return cls(await StoreWorker.open(Path(path), busy_timeout))

    @property
    def path(self) -> Path:
        """The history file."""
        return self._worker.path

    @property
    def worker_thread(self) -> int:
        """``threading.get_ident()`` of the one thread that runs all SQLite calls."""
        return self._worker.worker_thread

    @property
    def closed(self) -> bool:
        return self._worker.closed

    @property
    def commit_count(self) -> int:
        """Write transactions this store object committed since it was opened.

        The migrations :meth:`open` may apply are not counted.  Writes that share a
        group commit count once together, and a group whose writes all failed is
        rolled back, not counted; so under a burst of writes this grows more slowly
        than the number of writes.
        """
        return self._worker.commit_count

    async def close(self) -> None:
        """Finish the writes already asked for, close the connection (SQLite
        checkpoints the WAL) and stop the worker."""
        await self._worker.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # --- plumbing -----------------------------------------------------------------------

    async def _read(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run the query ``fn`` on the worker thread, alone."""

        def work(conn: sqlite3.Connection) -> T:
            return fn(conn, *args, **kwargs)

        return await self._worker.read(work)

    async def _write(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run the write ``fn`` in the worker's next group; return once committed."""

        def work(conn: sqlite3.Connection) -> T:
            return fn(conn, *args, **kwargs)

        return await self._worker.write(work)

    # --- instances ----------------------------------------------------------------------

    async def upsert_instances(
        self, profile: str, instances: Sequence[InstanceInput]
    ) -> list[Instance]:
        """Record the instances AMC lists for ``profile`` now.

        Each item is an :class:`~amc_tui.store.instances.InstanceRecord`, a mapping with
        the same keys, or an :class:`Instance` (its uuid is ignored).  A known
        ``(profile, instance_id)`` keeps its UUID; a new one gets a fresh uuid4.  The
        profile's instances missing from ``instances`` are marked inactive, never
        deleted.  Returns the profile's active instances sorted by name.  An invalid
        item raises :class:`~amc_tui.errors.InputError` and nothing is written.
        """
        checked = [validated_instance(item, profile) for item in instances]
        return await self._write(instance_queries.upsert_instances, profile, checked)

    async def list_instances(
        self, profile: str, *, include_inactive: bool = False
    ) -> list[Instance]:
        """``profile``'s instances sorted by name; inactive ones only if asked for."""
        return await self._read(instance_queries.list_instances, profile, include_inactive)

    # --- batches ------------------------------------------------------------------------

    async def create_batch(self, batch: Batch) -> Batch:
        """Store a new PENDING ``batch`` and its QUEUED executions, all or nothing.

        Returns the batch as stored: execution ids filled, executions ordered by
        instance name.  A batch id already present raises :class:`StoreError`; a batch
        or execution in another status raises ``IllegalTransitionError``.
        """
        return await self._write(queries.create_batch, batch)

    async def get_batch(self, batch_id: str) -> Batch | None:
        """The batch with its executions (ordered by instance name), or None."""
        return await self._read(queries.get_batch, batch_id)

    async def get_batch_summary(self, batch_id: str) -> BatchSummary | None:
        """The batch's history row (counts, no executions), or None."""
        return await self._read(queries.get_summary, batch_id)

    async def list_batches(
        self,
        *,
        limit: int = 50,
        before: datetime | None = None,
        status: BatchStatus | None = None,
        search: str | None = None,
    ) -> list[BatchSummary]:
        """Up to ``limit`` batches, newest first, with counts computed in SQL.

        ``before`` pages on: only batches created strictly before it.  ``status``
        keeps only batches in that status; ``search`` only those whose id or name
        contains it (case-insensitive).
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        return await self._read(queries.list_batches, limit, before, status, search)

    async def transition_batch(self, batch_id: str, new_status: BatchStatus) -> BatchSummary:
        """Move the batch to ``new_status`` if the state machine allows it.

        Sets ``started_at`` when it first runs and ``finished_at`` when it ends.
        Raises ``IllegalTransitionError`` (nothing changed) for a move not allowed and
        :class:`StoreError` for an unknown batch.
        """
        return await self._write(queries.transition_batch, batch_id, new_status)

    async def request_cancel(self, batch_id: str) -> bool:
        """Mark the batch for cancelling; False if it is unknown or already finished."""
        return await self._write(queries.request_cancel, batch_id)

    async def is_cancel_requested(self, batch_id: str) -> bool:
        """Whether a cancel was requested for the batch (False if it is unknown)."""
        return await self._read(queries.is_cancel_requested, batch_id)

    async def unfinished_batch_ids(self) -> list[str]:
        """Ids of the batches stored ``pending`` or ``running`` (someone's, or orphans)."""
        return await self._read(queries.unfinished_batch_ids)

    async def mark_interrupted(self, batch_id: str) -> BatchSummary | None:
        """Mark a batch whose owner is gone ``interrupted`` (SUBMITTING -> UNKNOWN with it).

        Only for a batch whose lock the caller holds.  Returns None (and changes
        nothing) unless the batch was ``pending`` or ``running``.
        """
        return await self._write(queries.mark_interrupted, batch_id)

    # --- executions and attempts --------------------------------------------------------

    async def get_execution(self, execution_id: int) -> Execution | None:
        return await self._read(executions.get_execution, execution_id)

    async def list_executions(
        self, batch_id: str, statuses: Collection[ExecutionStatus] | None = None
    ) -> list[Execution]:
        """The batch's executions by instance name; only those in ``statuses`` if given.

        An unknown batch (or an empty ``statuses``) gives an empty list.
        """
        return await self._read(executions.list_executions, batch_id, statuses)

    async def latest_by_instance(
        self, instance_uuids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, Execution]:
        """Each given instance's most recent execution, if it ever ran one."""
        found = await self._read(executions.latest_by_instance, [str(u) for u in instance_uuids])
        return {uuid.UUID(key): value for key, value in found.items()}

    async def find_execution_by_amc_id(self, amc_execution_id: str) -> Execution | None:
        """The (newest) execution AMC knows as ``amc_execution_id``, or None."""
        return await self._read(executions.find_execution, amc_execution_id)

    async def transition_execution(
        self,
        execution_id: int,
        new_status: ExecutionStatus,
        *,
        amc_execution_id: str | None = None,
        error_category: ErrorCategory | None = None,
        error_message: str | None = None,
    ) -> Execution:
        """Move the execution to ``new_status`` if the state machine allows it.

        In one transaction: checks the move against the stored status, sets
        ``updated_at``, ``submitted_at`` on entering SUBMITTING, ``finished_at`` on
        entering a terminal status, and the AMC id and error given (None leaves the
        stored value as it is).  Returns the updated execution.  Raises
        ``IllegalTransitionError`` (nothing changed) for a move not allowed and
        :class:`StoreError` for an unknown execution.
        """
        write = MergeableWrite(
            Kind.MOVE, execution_id, new_status, amc_execution_id, error_category, error_message
        )
        return cast(Execution, await self._worker.write(write))

    async def begin_attempt(self, execution_id: int) -> Attempt:
        """Start the execution's next attempt (numbered from 1) and count it."""
        return await self._write(executions.begin_attempt, execution_id)

    async def end_attempt(
        self,
        execution_id: int,
        number: int,
        *,
        error_category: ErrorCategory | None = None,
        error_message: str | None = None,
        retry_delay: float | None = None,
    ) -> Attempt:
        """End attempt ``number``: with its error, and the wait before the next one."""
        return await self._write(
            executions.end_attempt, execution_id, number, error_category, error_message, retry_delay
        )

    async def list_attempts(self, execution_id: int) -> list[Attempt]:
        """The execution's attempts, by number."""
        return await self._read(executions.list_attempts, execution_id)

    # --- the engine's combined writes (one transaction, one commit, each) ----------------

    async def start_attempt(self, execution_id: int) -> tuple[Execution, Attempt]:
        """Move the execution to SUBMITTING and begin its next attempt, at once.

        From QUEUED or UNKNOWN the execution enters SUBMITTING (``submitted_at`` is set,
        as :meth:`transition_execution` does); already SUBMITTING, it stays so (a
        retry).  Then the next attempt begins, as :meth:`begin_attempt` does.  Returns
        the updated execution and the new attempt.  Any other status raises
        ``IllegalTransitionError`` and changes nothing; an unknown execution raises
        :class:`StoreError`.
        """
        write = MergeableWrite(Kind.START, execution_id, ExecutionStatus.SUBMITTING)
        return cast(tuple[Execution, Attempt], await self._worker.write(write))

    async def finish_attempt(
        self,
        execution_id: int,
        number: int,
        *,
        new_status: ExecutionStatus | None = None,
        amc_execution_id: str | None = None,
        error_category: ErrorCategory | None = None,
        error_message: str | None = None,
        retry_delay: float | None = None,
    ) -> Execution:
        """End attempt ``number`` and, if ``new_status`` is given, move the execution.

        The attempt gets its end time, the error given and ``retry_delay``, as
        :meth:`end_attempt` does.  With ``new_status``, the move is checked and applied
        as :meth:`transition_execution` does (the AMC id and the error given go on the
        execution too), in the same transaction.  Returns the updated execution.  A move
        not allowed raises ``IllegalTransitionError`` and changes nothing: the attempt
        is not ended either.  An unknown execution or attempt, or one already ended,
        raises :class:`StoreError`.
        """
        if new_status is None:
            return await self._write(
                executions.finish_attempt,
                execution_id,
                number,
                None,
                amc_execution_id,
                error_category,
                error_message,
                retry_delay,
            )
        write = MergeableWrite(
            Kind.FINISH,
            execution_id,
            new_status,
            amc_execution_id,
            error_category,
            error_message,
            number,
            retry_delay,
        )
        return cast(Execution, await self._worker.write(write))

    async def cancel_queued(self, batch_id: str) -> list[Execution]:
        """Move every QUEUED execution of the batch to CANCELLED, in one transaction.

        Returns those executions as updated, by instance name (empty if none was
        queued).  An unknown batch raises :class:`StoreError`.
        """
        return await self._write(executions.cancel_queued, batch_id)
