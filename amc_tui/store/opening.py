"""Opening the history file on the calling thread, for a one-shot command.

:func:`open_connection` is the whole opening sequence of the store: the location
made ready (:func:`~amc_tui.store.database.prepare_location`), a journal a crashed
writer left rolled back, the header checked, the file inspected through a read-only
connection (another application's file, a newer amc-tui's, a damaged one: refused and
left untouched), then the read-write connection (SQLite version checked, WAL,
``synchronous=FULL``) and the migrations.  The store's worker runs it on its thread
(:mod:`amc_tui.store.worker`); it lives here, free of asyncio and threads, so that
``amc-tui history`` can also run it on the main thread and read the file without
starting either.

Every SQLite failure becomes a :class:`~amc_tui.errors.StoreError` naming the file
(:func:`~amc_tui.store.database.translate_error`), the original as ``__cause__``.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from amc_tui.store.database import (
    DEFAULT_BUSY_TIMEOUT,
    StoreConnection,
    check_header,
    connect_read_only,
    connect_read_write,
    has_journal,
    is_busy,
    needs_writer_to_recover,
    prepare_location,
    recover_after_crash,
    translate_error,
)
from amc_tui.store.schema import inspect, latest_version, load_migrations, migrate


def open_connection(
    path: Path, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
) -> tuple[StoreConnection, Path]:
    """Check, open and migrate the history file at ``path``; the connection and the
    absolute path.  The connection belongs to the calling thread; close it when done.

    While another process creates or converts the file, SQLite may answer "busy"
    without waiting (switching to WAL takes an exclusive lock); opening is idempotent,
    so it is tried again until the busy timeout has passed.
    """
    path = path.expanduser().absolute()
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            return _try_open(path, busy_timeout), path
        except sqlite3.Error as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise translate_error(exc, path, busy_timeout) from exc
        import random  # here: only a busy file needs it

        time.sleep(random.uniform(0.005, 0.05))  # noqa: S311 (jitter, not secrecy)


def _try_open(path: Path, busy_timeout: float) -> StoreConnection:
    prepare_location(path)
    if has_journal(path):
        # A rollback journal beside the file: a write was cut off.  The header is only
        # worth judging once SQLite has put the old pages back.
        recover_after_crash(path, busy_timeout)
    check_header(path)
    migrations = load_migrations()
    try:
        _inspect(path, busy_timeout, latest_version(migrations))
    except sqlite3.Error as exc:
        if not needs_writer_to_recover(exc):
            raise
        # A process died in the middle of a write: only a read-write connection may
        # roll its journal back (SQLite's own recovery); then look again.
        recover_after_crash(path, busy_timeout)
        _inspect(path, busy_timeout, latest_version(migrations))
    conn = connect_read_write(path, busy_timeout)
    try:
        migrate(conn, path, migrations)
    except BaseException:
        conn.close()
        raise
    return conn


def _inspect(path: Path, busy_timeout: float, latest: int) -> None:
    probe = connect_read_only(path, busy_timeout)
    try:
        inspect(probe, path, latest)
    finally:
        probe.close()
