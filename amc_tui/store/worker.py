"""The store's worker: one thread, one connection, and writes committed in groups.

:class:`StoreWorker` owns the history file's read-write connection and the one thread
that makes every SQLite call on it.  It opens the file on that thread (checked by
:mod:`amc_tui.store.database`, migrated by :mod:`amc_tui.store.schema`), runs each
read as it comes, and runs writes in groups (group commit):

- A write is queued; if no group is already waiting to start, one is scheduled on
  the thread.  A group takes every write queued when it starts, so the writes that
  arrive while the thread is busy (with a group or a read) share the next group.
- A group of one write needs no savepoint: its own
  :func:`~amc_tui.store.database.write_transaction` is its transaction, so a write
  alone costs what it did before writes were grouped.
- A larger group is one ``BEGIN IMMEDIATE`` ... ``COMMIT`` (``synchronous=FULL``).
  Each write runs in its own ``SAVEPOINT`` (which the write's own
  :func:`~amc_tui.store.database.write_transaction` uses rather than nesting another):
  a write that raises is rolled back alone and only its awaiter gets the exception;
  the others are committed.  The engine's writes (a
  :class:`~amc_tui.store.coalesce.MergeableWrite` each) to distinct executions, one
  after the other in the group, share one savepoint and run merged, one statement per
  kind (:mod:`amc_tui.store.coalesce`), each still answered alone; if the merged
  writes raise, they are undone and run one by one.
- Every awaiter is answered only after the group's ``COMMIT`` returned, so a write
  is never reported before it is on disk.  The answers of a group reach the event
  loop in one callback (one wake-up of the loop per group, not one per write).  If
  ``BEGIN`` or ``COMMIT`` fails, each write of the group fails with a
  :class:`~amc_tui.errors.StoreError`.  A group whose writes all failed is rolled
  back instead of committed.
- If SQLite abandons the transaction midway (a full disk, an I/O error), the write
  that hit it and those already run in the group fail with a StoreError; the writes
  not yet run go on in a new transaction.

Cancelling the task that awaits a write: a write is started when its group takes it,
and from then on it runs to its end (committed or rolled back with its group) and
only its answer is lost; a write still queued is dropped.  Nothing is half-written.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar, cast

from amc_tui.errors import StoreError
from amc_tui.store import coalesce
from amc_tui.store.database import (
    RELEASE_SQL,
    ROLLBACK_TO_SQL,
    SAVEPOINT_SQL,
    StoreConnection,
    commit,
    translate_error,
)
from amc_tui.store.opening import open_connection

T = TypeVar("T")

Work = Callable[[sqlite3.Connection], T]
"""What the worker runs: a function of the connection."""

_Opened = tuple[StoreConnection, int, Path]


def _open_connection(path: Path, busy_timeout: float) -> _Opened:
    """Check, open and migrate the file at ``path``, on the worker thread
    (:func:`~amc_tui.store.opening.open_connection`).

    Returns the connection, the worker thread's ident and the absolute path.
    """
    conn, path = open_connection(path, busy_timeout)
    return conn, threading.get_ident(), path


def _close_opened(future: Future[_Opened]) -> None:
    """Close the connection ``future`` opened, if it did (on the worker thread)."""
    if not future.cancelled() and future.exception() is None:
        future.result()[0].close()


@dataclass(slots=True, eq=False)
class _Write:
    """A write asked for: its work, and the future its awaiter waits on in ``loop``."""

    work: Work[Any]
    loop: asyncio.AbstractEventLoop
    waiter: asyncio.Future[Any]
    answered: bool = False


_Answer = tuple[asyncio.Future[Any], object, BaseException | None]


def _settle(answers: list[_Answer]) -> None:
    """Hand a group's answers to their awaiters (on their event loop, in one callback)."""
    for waiter, result, error in answers:
        if waiter.done():  # its awaiter was cancelled: only the answer is lost
            continue
        if error is None:
            waiter.set_result(result)
        else:
            waiter.set_exception(error)


class StoreWorker:
    """The connection and its thread; see the module docstring for how writes run."""

    def __init__(
        self,
        path: Path,
        conn: StoreConnection,
        executor: ThreadPoolExecutor,
        busy_timeout: float,
        worker_thread: int,
    ) -> None:
        """Use :meth:`open`; this only assembles a connection opened on ``executor``'s
        one thread (whose ident is ``worker_thread``)."""
        self.path = path
        self.busy_timeout = busy_timeout
        self.worker_thread = worker_thread
        self._conn = conn
        self._executor = executor
        self._closed = False
        self._lock = threading.Lock()
        self._queue: list[_Write] = []
        self._group_scheduled = False
        self._commits_before = conn.commits  # the migrations'

    @classmethod
    async def open(cls, path: Path, busy_timeout: float) -> Self:
        """Open (creating, checking and migrating) the file on a new worker thread."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="amc-tui-store")
        future = executor.submit(_open_connection, path, busy_timeout)
        try:
            conn, ident, absolute = await asyncio.wrap_future(future)
        except BaseException:
            # Cancelled while opening: the worker closes what it opened, then stops.
            executor.submit(_close_opened, future)
            executor.shutdown(wait=False)
            raise
        return cls(absolute, conn, executor, busy_timeout, ident)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def commit_count(self) -> int:
        """Write transactions committed since :meth:`open` (migrations not counted)."""
        return self._conn.commits - self._commits_before

    async def close(self) -> None:
        """Run what is already queued, close the connection, stop the thread."""
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.wrap_future(self._executor.submit(self._guard, self._conn.close))
        finally:
            self._executor.shutdown(wait=False)

    # --- reads and writes ---------------------------------------------------------------

    async def read(self, work: Work[T]) -> T:
        """Run ``work`` on the thread, alone; SQLite errors become StoreError."""
        self._check_open()
        conn = self._conn
        return await asyncio.wrap_future(self._executor.submit(self._guard, lambda: work(conn)))

    async def write(self, work: Work[T]) -> T:
        """Run ``work`` in the next group; answered once that group is committed.

        ``work`` must make its changes inside
        :func:`~amc_tui.store.database.write_transaction` (or none at all).
        """
        self._check_open()
        loop = asyncio.get_running_loop()
        write = _Write(work, loop, loop.create_future())
        with self._lock:
            self._queue.append(write)
            schedule, self._group_scheduled = not self._group_scheduled, True
        if schedule:
            self._executor.submit(self._run_queued)
        try:
            return cast(T, await write.waiter)
        except asyncio.CancelledError:
            with self._lock, contextlib.suppress(ValueError):
                self._queue.remove(write)  # still queued: dropped; else it runs to its end
            raise

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"The history file {self.path} is closed")

    def _guard(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (on the worker thread), turning SQLite errors into StoreError."""
        try:
            return fn()
        except sqlite3.Error as exc:
            raise self._store_error(exc) from exc

    def _store_error(self, exc: sqlite3.Error) -> StoreError:
        error = translate_error(exc, self.path, self.busy_timeout)
        error.__cause__ = exc
        return error

    def _error_of(self, exc: Exception) -> Exception:
        """What the awaiter of a write that raised ``exc`` gets."""
        return self._store_error(exc) if isinstance(exc, sqlite3.Error) else exc

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        """End the transaction, if one is open, without keeping anything of it."""
        with contextlib.suppress(sqlite3.Error):
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    # --- group commit (on the worker thread) --------------------------------------------

    def _run_queued(self) -> None:
        """Take every queued write (a cancelled one is no longer queued); run them as one group."""
        with self._lock:
            group, self._queue = self._queue, []
            self._group_scheduled = False
        try:
            if len(group) == 1:
                self._run_alone(group[0])
                return
            left = group
            while left:
                left = self._run_group(left)
        except BaseException as exc:
            # Not an error of a write (those are answered) but of the worker itself.
            self._rollback(self._conn)
            error = StoreError(f"The history file {self.path} could not be written")
            error.__cause__ = exc
            self._answer([], [(w, error) for w in group if not w.answered])
            raise

    def _run_alone(self, write: _Write) -> None:
        """Run one write in its own transaction (its write_transaction's) and answer it."""
        conn = self._conn
        try:
            result = write.work(conn)
        except Exception as exc:
            self._rollback(conn)
            self._answer([], [(write, self._error_of(exc))])
            return
        if conn.in_transaction:  # a write that did not end its transaction: undo it
            self._rollback(conn)
            error = StoreError(f"A write to the history file {self.path} was left unfinished")
            self._answer([], [(write, error)])
        else:
            self._answer([(write, result)], [])

    def _run_group(self, group: list[_Write]) -> list[_Write]:
        """Run ``group`` in one transaction and answer each write after it ends.

        Returns the writes not run because SQLite abandoned the transaction midway.
        """
        conn = self._conn
        done: list[tuple[_Write, object]] = []
        failed: list[tuple[_Write, BaseException]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._answer([], [(w, self._store_error(exc)) for w in group])
            return []
        units = [[group[i] for i in unit] for unit in coalesce.plan([w.work for w in group])]
        index = 0
        while index < len(units):
            unit = units[index]
            index += 1
            try:
                conn.execute(SAVEPOINT_SQL)
                outcomes = self._run_unit(conn, unit)
                conn.execute(RELEASE_SQL)
            except Exception as exc:
                if not self._undo_write(conn):
                    # The transaction is gone, and with it the writes already run.
                    failed.append((unit[0], self._error_of(exc)))
                    failed.extend((w, self._lost_with(exc)) for w in unit[1:])
                    failed.extend((w, self._lost_with(exc)) for w, _ in done)
                    self._answer([], failed)
                    return [w for rest in units[index:] for w in rest]
                if len(unit) == 1:
                    failed.append((unit[0], self._error_of(exc)))
                else:  # merged writes undone: run them one by one instead
                    units[index:index] = [[w] for w in unit]
                continue
            for write, (result, error) in zip(unit, outcomes, strict=True):
                if error is None:
                    done.append((write, result))
                else:
                    failed.append((write, self._error_of(error)))
        self._end_group(conn, done, failed)
        return []

    @staticmethod
    def _run_unit(conn: StoreConnection, unit: list[_Write]) -> list[coalesce.Outcome]:
        """Run one write, or several merged (:mod:`~amc_tui.store.coalesce`), in the
        savepoint just opened; each one's result or error (the savepoint stays)."""
        if len(unit) > 1:
            return coalesce.run_merged(conn, [cast(coalesce.MergeableWrite, w.work) for w in unit])
        conn.savepoint_unused = True  # the write's write_transaction works in it
        try:
            return [(unit[0].work(conn), None)]
        finally:
            conn.savepoint_unused = False

    def _undo_write(self, conn: sqlite3.Connection) -> bool:
        """Roll back to the failed write's savepoint; False if the transaction is lost."""
        if not conn.in_transaction:
            return False
        try:
            conn.execute(ROLLBACK_TO_SQL)
            conn.execute(RELEASE_SQL)
        except sqlite3.Error:
            self._rollback(conn)
            return False
        return True

    def _end_group(
        self,
        conn: sqlite3.Connection,
        done: list[tuple[_Write, object]],
        failed: list[tuple[_Write, BaseException]],
    ) -> None:
        """Commit what succeeded (or roll back when nothing did), then answer all."""
        if not done:
            self._rollback(conn)
        else:
            try:
                commit(conn)
            except sqlite3.Error as exc:
                self._rollback(conn)
                failed = failed + [(w, self._store_error(exc)) for w, _ in done]
                done = []
        self._answer(done, failed)

    def _lost_with(self, cause: BaseException) -> StoreError:
        """The error of a write undone because another write lost the transaction."""
        if isinstance(cause, sqlite3.Error):
            return self._store_error(cause)
        error = StoreError(f"The history file {self.path} could not be written")
        error.__cause__ = cause
        return error

    @staticmethod
    def _answer(
        done: list[tuple[_Write, object]], failed: list[tuple[_Write, BaseException]]
    ) -> None:
        """Answer these writes: one callback on their awaiters' event loop, not one each."""
        by_loop: dict[asyncio.AbstractEventLoop, list[_Answer]] = {}
        for write, result in done:
            write.answered = True
            by_loop.setdefault(write.loop, []).append((write.waiter, result, None))
        for write, error in failed:
            write.answered = True
            by_loop.setdefault(write.loop, []).append((write.waiter, None, error))
        for loop, answers in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(_settle, answers)
