"""What was downloaded for each succeeded execution: result sets and their files.

``result_sets`` holds one row per execution whose results were asked for (status
``downloading``, ``downloaded`` or ``failed``, with the number of data files AMC
listed); ``result_files`` one row per file from the moment its download starts.  A
file is ``downloading`` while its bytes go to ``NAME.part`` (its ``size`` is then what
the server announced, its ``etag`` lets a resume ask for the rest of the same object),
and ``done`` once ``NAME`` is whole: ``size`` and ``sha256`` then describe it.  A row is
only ever marked ``done`` after the file was renamed into place, so the store never
claims a file that is not whole.

:class:`ResultRecords` is the asynchronous face (``HistoryStore.results``); the SQL
functions below run on the store's worker thread, each write in one
:func:`~amc_tui.store.database.write_transaction`.  Nothing here imports Textual.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Concatenate, ParamSpec, TypeVar

from amc_tui.domain import utc_now
from amc_tui.errors import ErrorCategory, StoreError
from amc_tui.store.database import write_transaction
from amc_tui.store.times import from_db_time, from_db_time_or_none, to_db_time
from amc_tui.store.worker import StoreWorker

P = ParamSpec("P")
T = TypeVar("T")


class ResultStatus(StrEnum):
    """Where an execution's result download stands."""

    DOWNLOADING = "downloading"
    DOWNLOADED = "downloaded"
    FAILED = "failed"


class FileKind(StrEnum):
    """A result's CSV data, or AMC's description of it."""

    DATA = "data"
    METADATA = "metadata"


@dataclass(frozen=True)
class ResultFile:
    """One file of a result, as recorded."""

    execution_id: int
    kind: FileKind
    number: int
    name: str
    done: bool
    etag: str | None
    size: int | None
    sha256: str | None
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class ResultSet:
    """An execution's result download and its files (data files first, by number)."""

    execution_id: int
    status: ResultStatus
    files: int | None
    error_category: ErrorCategory | None
    error_message: str | None
    updated_at: datetime
    recorded: tuple[ResultFile, ...] = ()

    @property
    def data_files(self) -> list[ResultFile]:
        return [f for f in self.recorded if f.kind is FileKind.DATA]

    @property
    def size(self) -> int:
        """Bytes of the files whole on disk."""
        return sum(f.size or 0 for f in self.recorded if f.done)


# --- SQL ----------------------------------------------------------------------------

_SET_COLUMNS = "execution_id, status, files, error_category, error_message, updated_at"
_FILE_COLUMNS = (
    "execution_id, kind, number, name, status, etag, size, sha256, started_at, finished_at"
)
_FILE_ORDER = "ORDER BY execution_id, kind, number"


def _row_to_file(row: sqlite3.Row) -> ResultFile:
    return ResultFile(
        execution_id=row[0],
        kind=FileKind(row[1]),
        number=row[2],
        name=row[3],
        done=row[4] == "done",
        etag=row[5],
        size=row[6],
        sha256=row[7],
        started_at=from_db_time(row[8]),
        finished_at=from_db_time_or_none(row[9]),
    )


def _row_to_set(row: sqlite3.Row, files: list[ResultFile]) -> ResultSet:
    return ResultSet(
        execution_id=row[0],
        status=ResultStatus(row[1]),
        files=row[2],
        error_category=ErrorCategory(row[3]) if row[3] else None,
        error_message=row[4],
        updated_at=from_db_time(row[5]),
        recorded=tuple(files),
    )


def get_sets(conn: sqlite3.Connection, execution_ids: list[int]) -> dict[int, ResultSet]:
    """The result sets of the given executions (those that have one)."""
    found: dict[int, ResultSet] = {}
    for start in range(0, len(execution_ids), 500):
        part = execution_ids[start : start + 500]
        marks = ",".join("?" * len(part))
        files: dict[int, list[ResultFile]] = {}
        rows = conn.execute(
            f"SELECT {_FILE_COLUMNS} FROM result_files "  # noqa: S608 (constant columns, ? marks)
            f"WHERE execution_id IN ({marks}) {_FILE_ORDER}",
            part,
        )
        for row in rows:
            files.setdefault(row[0], []).append(_row_to_file(row))
        sets = conn.execute(
            f"SELECT {_SET_COLUMNS} FROM result_sets "  # noqa: S608 (constant columns, ? marks)
            f"WHERE execution_id IN ({marks})",
            part,
        )
        for row in sets:
            found[row[0]] = _row_to_set(row, files.get(row[0], []))
    return found


def unfinished_sets(conn: sqlite3.Connection) -> list[int]:
    """Executions whose download was started and neither finished nor failed."""
    rows = conn.execute(
        "SELECT execution_id FROM result_sets WHERE status = 'downloading' ORDER BY execution_id"
    )
    return [row[0] for row in rows]


def start_set(conn: sqlite3.Connection, execution_id: int, now: str) -> None:
    with write_transaction(conn):
        _require_execution(conn, execution_id)
        conn.execute(
            "INSERT INTO result_sets (execution_id, status, updated_at) "
            "VALUES (?, 'downloading', ?) "
            "ON CONFLICT (execution_id) DO UPDATE SET status = 'downloading', "
            "error_category = NULL, error_message = NULL, updated_at = excluded.updated_at",
            (execution_id, now),
        )


def set_file_count(conn: sqlite3.Connection, execution_id: int, files: int, now: str) -> None:
    with write_transaction(conn):
        conn.execute(
            "UPDATE result_sets SET files = ?, updated_at = ? WHERE execution_id = ?",
            (files, now, execution_id),
        )


def end_set(
    conn: sqlite3.Connection,
    execution_id: int,
    status: ResultStatus,
    error: tuple[ErrorCategory, str] | None,
    now: str,
) -> None:
    category, message = error if error else (None, None)
    with write_transaction(conn):
        changed = conn.execute(
            "UPDATE result_sets SET status = ?, error_category = ?, error_message = ?, "
            "updated_at = ? WHERE execution_id = ?",
            (status.value, category, message, now, execution_id),
        ).rowcount
        if not changed:
            raise StoreError(f"No result download was started for execution {execution_id}")


def start_file(
    conn: sqlite3.Connection,
    execution_id: int,
    kind: FileKind,
    number: int,
    name: str,
    etag: str | None,
    size: int | None,
    now: str,
) -> None:
    with write_transaction(conn):
        _require_execution(conn, execution_id)
        conn.execute(
            "INSERT INTO result_files (execution_id, kind, number, name, status, etag, size, "
            "started_at) VALUES (?, ?, ?, ?, 'downloading', ?, ?, ?) "
            "ON CONFLICT (execution_id, kind, number) DO UPDATE SET name = excluded.name, "
            "status = 'downloading', etag = excluded.etag, size = excluded.size, "
            "sha256 = NULL, started_at = excluded.started_at, finished_at = NULL",
            (execution_id, kind.value, number, name, etag, size, now),
        )


def finish_file(
    conn: sqlite3.Connection,
    execution_id: int,
    kind: FileKind,
    number: int,
    size: int,
    sha256: str,
    now: str,
) -> None:
    with write_transaction(conn):
        changed = conn.execute(
            "UPDATE result_files SET status = 'done', size = ?, sha256 = ?, finished_at = ? "
            "WHERE execution_id = ? AND kind = ? AND number = ?",
            (size, sha256, now, execution_id, kind.value, number),
        ).rowcount
        if not changed:
            raise StoreError(f"No download of {kind} file {number} of execution {execution_id}")


def forget_files(conn: sqlite3.Connection, execution_id: int) -> None:
    """Drop the execution's file rows (AMC listed other files this time)."""
    with write_transaction(conn):
        conn.execute("DELETE FROM result_files WHERE execution_id = ?", (execution_id,))


def _require_execution(conn: sqlite3.Connection, execution_id: int) -> None:
    if conn.execute("SELECT 1 FROM executions WHERE id = ?", (execution_id,)).fetchone() is None:
        raise StoreError(f"No execution {execution_id} in the history")


# --- the asynchronous face ----------------------------------------------------------


class ResultRecords:
    """The store's result records (``HistoryStore.results``)."""

    def __init__(self, worker: StoreWorker) -> None:
        self._worker = worker

    async def _read(
        self, fn: Callable[Concatenate[sqlite3.Connection, P], T], *a: P.args, **k: P.kwargs
    ) -> T:
        return await self._worker.read(lambda conn: fn(conn, *a, **k))

    async def _write(
        self, fn: Callable[Concatenate[sqlite3.Connection, P], T], *a: P.args, **k: P.kwargs
    ) -> T:
        return await self._worker.write(lambda conn: fn(conn, *a, **k))

    async def get(self, execution_id: int) -> ResultSet | None:
        """The execution's result set with its files, or None if never asked for."""
        return (await self._read(get_sets, [execution_id])).get(execution_id)

    async def of_executions(self, execution_ids: list[int]) -> dict[int, ResultSet]:
        """Result sets by execution id, for those of ``execution_ids`` that have one."""
        return await self._read(get_sets, list(execution_ids))

    async def unfinished(self) -> list[int]:
        """Ids of the executions whose download a stop or a crash cut short."""
        return await self._read(unfinished_sets)

    async def start(self, execution_id: int) -> None:
        """The execution's download begins (again): status ``downloading``, no error."""
        await self._write(start_set, execution_id, _now())

    async def count_files(self, execution_id: int, files: int) -> None:
        """AMC listed ``files`` data files for the execution."""
        await self._write(set_file_count, execution_id, files, _now())

    async def end(
        self,
        execution_id: int,
        status: ResultStatus,
        error: tuple[ErrorCategory, str] | None = None,
    ) -> None:
        """The download ended: ``downloaded``, or ``failed`` with ``error`` (category, text)."""
        await self._write(end_set, execution_id, status, error, _now())

    async def start_file(
        self,
        execution_id: int,
        kind: FileKind,
        number: int,
        name: str,
        *,
        etag: str | None,
        size: int | None,
    ) -> None:
        """A file's bytes start going to ``NAME.part`` (``etag``/``size`` as announced)."""
        await self._write(start_file, execution_id, kind, number, name, etag, size, _now())

    async def finish_file(
        self, execution_id: int, kind: FileKind, number: int, *, size: int, sha256: str
    ) -> None:
        """The file is whole under its name: record its size and SHA-256."""
        if size < 0 or len(sha256) != 64:
            raise StoreError(f"Not a file's size and SHA-256: {size}, {sha256!r}")
        await self._write(finish_file, execution_id, kind, number, size, sha256, _now())

    async def forget_files(self, execution_id: int) -> None:
        await self._write(forget_files, execution_id)


def _now() -> str:
    return to_db_time(utc_now())
