"""HistoryStore: the asynchronous face of the history file.

Every batch, execution and attempt amc-tui runs is kept here, in one SQLite file,
so that history survives crashes and another process can watch a running batch.
The store owns one connection and one worker thread: every SQLite call runs on that
thread, and the event loop only awaits its result, so it never blocks.  Each write is
one ``BEGIN IMMEDIATE`` transaction, committed (``synchronous=FULL``) before the
awaited method returns; callers emit their events only after that.

Opening checks the file before writing to it (:mod:`amc_tui.store.database`) and
migrates it (:mod:`amc_tui.store.schema`); the SQL itself is in
:mod:`amc_tui.store.queries` and :mod:`amc_tui.store.instances`.  Every failure is a
:class:`~amc_tui.errors.StoreError` naming the file, with SQLite's own error as
``__cause__``; an illegal state change is an
:class:`~amc_tui.errors.IllegalTransitionError` and changes nothing.

If the task awaiting a write is cancelled, a write the worker has already started runs
to its end (committed or rolled back whole) and only its result is lost; one still
waiting its turn is dropped.  Either way nothing is half-written.
"""

from __future__ import annotations

import asyncio
import functools
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Concatenate, ParamSpec, Self, TypeVar

from amc_tui.domain import (
    Attempt,
    Batch,
    BatchStatus,
    BatchSummary,
    Execution,
    ExecutionStatus,
    Instance,
)
from amc_tui.errors import ErrorCategory, StoreError
from amc_tui.store import instances as instance_queries
from amc_tui.store import queries
from amc_tui.store.database import (
    DEFAULT_BUSY_TIMEOUT,
    check_header,
    connect_read_only,
    connect_read_write,
    is_busy,
    prepare_location,
    translate_error,
)
from amc_tui.store.instances import InstanceInput, validated_instance
from amc_tui.store.schema import inspect, latest_version, load_migrations, migrate

P = ParamSpec("P")
T = TypeVar("T")


_Opened = tuple[sqlite3.Connection, int, Path]


def _open_connection(path: Path, busy_timeout: float) -> _Opened:
    """Check, open and migrate the file at ``path``, on the worker thread.

    Returns the connection, the worker thread's ident and the absolute path.  While
    another process creates or converts the file, SQLite may answer "busy" without
    waiting (switching to WAL takes an exclusive lock); opening is idempotent, so it
    is simply tried again until the busy timeout has passed.
    """
    path = path.expanduser().absolute()
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            return _try_open(path, busy_timeout), threading.get_ident(), path
        except sqlite3.Error as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise translate_error(exc, path, busy_timeout) from exc
        time.sleep(random.uniform(0.005, 0.05))  # noqa: S311 (jitter, not secrecy)


def _try_open(path: Path, busy_timeout: float) -> sqlite3.Connection:
    prepare_location(path)
    check_header(path)
    migrations = load_migrations()
    probe = connect_read_only(path, busy_timeout)
    try:
        inspect(probe, path, latest_version(migrations))
    finally:
        probe.close()
    conn = connect_read_write(path, busy_timeout)
    try:
        migrate(conn, path, migrations)
    except BaseException:
        conn.close()
        raise
    return conn


def _close_opened(future: Future[_Opened]) -> None:
    """Close the connection ``future`` opened, if it did (on the worker thread)."""
    if not future.cancelled() and future.exception() is None:
        future.result()[0].close()


class HistoryStore:
    """The history of batches, in one SQLite file; open it with :meth:`open`.

    ``async with await HistoryStore.open(path) as store: ...`` closes it at the end.
    """

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        executor: ThreadPoolExecutor,
        busy_timeout: float,
        worker_thread: int,
    ) -> None:
        """Use :meth:`open`; this only assembles an already opened store."""
        self._path = path
        self._conn: sqlite3.Connection | None = conn
        self._executor = executor
        self._busy_timeout = busy_timeout
        self._worker_thread = worker_thread

    # --- life cycle ---------------------------------------------------------------------

    @classmethod
    async def open(cls, path: Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Self:
        """Open (creating, checking and migrating) the history file at ``path``.

        The directory is created with mode 0700 and a new file with mode 0600.
        Raises :class:`StoreError` naming the file if it is not an SQLite database, is
        damaged, belongs to another application or to a newer amc-tui (the file is
        then left exactly as it was), or cannot be created or written.
        """
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="amc-tui-store")
        future = executor.submit(_open_connection, Path(path), busy_timeout)
        try:
            conn, ident, absolute = await asyncio.wrap_future(future)
        except BaseException:
            # Cancelled while opening: the worker closes what it opened, then stops.
            executor.submit(_close_opened, future)
            executor.shutdown(wait=False)
            raise
        return cls(absolute, conn, executor, busy_timeout, ident)

    @property
    def path(self) -> Path:
        """The history file."""
        return self._path

    @property
    def worker_thread(self) -> int:
        """``threading.get_ident()`` of the one thread that runs all SQLite calls."""
        return self._worker_thread

    @property
    def closed(self) -> bool:
        return self._conn is None

    async def close(self) -> None:
        """Close the connection (SQLite checkpoints the WAL) and stop the worker."""
        conn, self._conn = self._conn, None
        if conn is None:
            return

        try:
            await asyncio.wrap_future(self._executor.submit(self._guard, conn.close))
        finally:
            self._executor.shutdown(wait=False)

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

    def _guard(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (on the worker thread), turning SQLite errors into StoreError."""
        try:
            return fn()
        except sqlite3.Error as exc:
            raise translate_error(exc, self._path, self._busy_timeout) from exc

    async def _run(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        conn = self._conn
        if conn is None:
            raise StoreError(f"The history file {self._path} is closed")
        call = functools.partial(fn, conn, *args, **kwargs)
        return await asyncio.wrap_future(self._executor.submit(self._guard, call))

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
        return await self._run(instance_queries.upsert_instances, profile, checked)

    async def list_instances(
        self, profile: str, *, include_inactive: bool = False
    ) -> list[Instance]:
        """``profile``'s instances sorted by name; inactive ones only if asked for."""
        return await self._run(instance_queries.list_instances, profile, include_inactive)

    # --- batches ------------------------------------------------------------------------

    async def create_batch(self, batch: Batch) -> Batch:
        """Store a new PENDING ``batch`` and its QUEUED executions, all or nothing.

        Returns the batch as stored: execution ids filled, executions ordered by
        instance name.  A batch id already present raises :class:`StoreError`; a batch
        or execution in another status raises ``IllegalTransitionError``.
        """
        return await self._run(queries.create_batch, batch)

    async def get_batch(self, batch_id: str) -> Batch | None:
        """The batch with its executions (ordered by instance name), or None."""
        return await self._run(queries.get_batch, batch_id)

    async def get_batch_summary(self, batch_id: str) -> BatchSummary | None:
        """The batch's history row (counts, no executions), or None."""
        return await self._run(queries.get_summary, batch_id)

    async def list_batches(
        self,
        *,
        limit: int = 50,
        before: datetime | None = None,
        status: BatchStatus | None = None,
    ) -> list[BatchSummary]:
        """Up to ``limit`` batches, newest first, with counts computed in SQL.

        ``before`` pages on: only batches created strictly before it.  ``status``
        keeps only batches in that status.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        return await self._run(queries.list_batches, limit, before, status)

    async def transition_batch(self, batch_id: str, new_status: BatchStatus) -> BatchSummary:
        """Move the batch to ``new_status`` if the state machine allows it.

        Sets ``started_at`` when it first runs and ``finished_at`` when it ends.
        Raises ``IllegalTransitionError`` (nothing changed) for a move not allowed and
        :class:`StoreError` for an unknown batch.
        """
        return await self._run(queries.transition_batch, batch_id, new_status)

    async def request_cancel(self, batch_id: str) -> bool:
        """Mark the batch for cancelling; False if it is unknown or already finished."""
        return await self._run(queries.request_cancel, batch_id)

    async def is_cancel_requested(self, batch_id: str) -> bool:
        """Whether a cancel was requested for the batch (False if it is unknown)."""
        return await self._run(queries.is_cancel_requested, batch_id)

    # --- executions and attempts --------------------------------------------------------

    async def get_execution(self, execution_id: int) -> Execution | None:
        return await self._run(queries.get_execution, execution_id)

    async def find_execution_by_amc_id(self, amc_execution_id: str) -> Execution | None:
        """The (newest) execution AMC knows as ``amc_execution_id``, or None."""
        return await self._run(queries.find_execution, amc_execution_id)

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
        return await self._run(
            queries.transition_execution,
            execution_id,
            new_status,
            amc_execution_id,
            error_category,
            error_message,
        )

    async def begin_attempt(self, execution_id: int) -> Attempt:
        """Start the execution's next attempt (numbered from 1) and count it."""
        return await self._run(queries.begin_attempt, execution_id)

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
        return await self._run(
            queries.end_attempt, execution_id, number, error_category, error_message, retry_delay
        )

    async def list_attempts(self, execution_id: int) -> list[Attempt]:
        """The execution's attempts, by number."""
        return await self._run(queries.list_attempts, execution_id)
