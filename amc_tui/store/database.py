"""Opening the history file safely, and speaking to SQLite from then on.

This module owns everything between a path and a ready :class:`sqlite3.Connection`:

- the data directory (created with mode 0700) and the file (created with mode 0600
  before SQLite touches it, so its ``-wal`` and ``-shm`` companions, which SQLite
  creates with the database file's mode, are private too);
- the checks made before anything is written: a file that is not SQLite, is
  truncated, belongs to another application or to a newer amc-tui is refused with a
  :class:`~amc_tui.errors.StoreError` naming it, and is never modified: those checks
  read the header bytes and then use a *read-only* connection;
- the connection settings (WAL, ``synchronous=FULL``, busy timeout, foreign keys,
  autocommit mode), the ``BEGIN IMMEDIATE`` write transaction and the savepoint
  a write runs in when it shares a transaction;
- turning :class:`sqlite3.Error` into :class:`~amc_tui.errors.StoreError`.

The schema and its migrations live in :mod:`amc_tui.store.schema`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from amc_tui.errors import StoreError

DEFAULT_BUSY_TIMEOUT = 10.0
"""Seconds a write waits for another process's write to end before giving up."""

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100

DIR_MODE = 0o700
FILE_MODE = 0o600


def prepare_location(path: Path) -> bool:
    """Make sure ``path``'s directory exists and ``path`` is a file we may open.

    Creates the directory (mode 0700) when missing, and an empty database file
    (mode 0600) when the file is missing.  Returns whether the file was created.
    Raises :class:`StoreError` naming the path otherwise.
    """
    directory = path.parent
    if not directory.is_dir():
        try:
            directory.mkdir(parents=True, mode=DIR_MODE)
            os.chmod(directory, DIR_MODE)  # mkdir's mode is filtered by the umask
        except FileExistsError:
            if not directory.is_dir():
                raise StoreError(
                    f"The history directory {directory} exists and is not a directory"
                ) from None
        except OSError as exc:
            raise StoreError(
                f"The history directory {directory} cannot be created ({exc.strerror})",
                detail=str(exc),
            ) from exc
    if path.is_dir():
        raise StoreError(f"The history file {path} is a directory")
    if path.exists():
        return False
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    except FileExistsError:
        return False  # another process made it first: it is checked like any file
    except OSError as exc:
        raise StoreError(
            f"The history file {path} cannot be created ({exc.strerror})", detail=str(exc)
        ) from exc
    os.close(fd)
    return True


def check_header(path: Path) -> None:
    """Refuse a file that cannot be an SQLite database, by its bytes alone.

    An empty file is an empty database (SQLite's own rule).  Anything shorter than
    SQLite's 100-byte header, or without its magic string, is not a database.  A
    file shorter than the size its header promises is truncated; that is only
    checked when no ``-wal`` file exists, since in WAL mode the newest pages may
    live in the WAL and the main file may legitimately be shorter.
    """
    wal = Path(f"{path}-wal")
    wal_in_use = _nonempty(wal)
    try:
        with path.open("rb") as handle:
            header = handle.read(HEADER_SIZE)
            size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        raise StoreError(
            f"The history file {path} cannot be read ({exc.strerror})", detail=str(exc)
        ) from exc
    if not header:
        return
    if len(header) < HEADER_SIZE or not header.startswith(SQLITE_MAGIC):
        raise StoreError(
            f"The history file {path} is not an SQLite database "
            "(its header is missing or damaged); it was left untouched"
        )
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    change_counter = int.from_bytes(header[24:28], "big")
    page_count = int.from_bytes(header[28:32], "big")
    valid_for = int.from_bytes(header[92:96], "big")
    expected = page_size * page_count
    if (
        page_count
        and change_counter == valid_for
        and size < expected
        and not wal_in_use
        and not _nonempty(wal)
    ):
        raise StoreError(
            f"The history file {path} is truncated ({size} bytes; its header says "
            f"{expected}); it was left untouched"
        )


def _nonempty(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def connect_read_only(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """A connection that cannot change the file: used to inspect it before trusting it."""
    uri = path.resolve().as_uri() + "?mode=ro"
    return sqlite3.connect(
        uri, uri=True, timeout=busy_timeout, isolation_level=None, check_same_thread=True
    )


_NEEDS_WRITER = frozenset(
    {
        getattr(sqlite3, "SQLITE_READONLY_ROLLBACK", 776),  # a hot journal to roll back
        getattr(sqlite3, "SQLITE_READONLY_RECOVERY", 264),  # a WAL index to rebuild
        getattr(sqlite3, "SQLITE_READONLY_CANTINIT", 1288),  # no -shm a reader may map
    }
)


def needs_writer_to_recover(exc: sqlite3.Error) -> bool:
    """Whether a read-only connection failed only because a crash left work to undo."""
    return getattr(exc, "sqlite_errorcode", None) in _NEEDS_WRITER


def has_journal(path: Path) -> bool:
    """Whether a non-empty rollback journal lies beside ``path`` (a cut-off write)."""
    return _nonempty(Path(f"{path}-journal"))


def recover_after_crash(path: Path, busy_timeout: float) -> None:
    """Let SQLite roll back what a dead process left half-written (a read-write open).

    Only the file's own journal is used; nothing of ours is written.
    """
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        conn.close()


class StoreConnection(sqlite3.Connection):
    """The store's connection: it counts the write transactions it committed.

    ``commits`` grows by one at each successful ``COMMIT`` of :func:`write_transaction`
    and of the worker's group transactions (:mod:`amc_tui.store.worker`).

    ``savepoint_unused`` is True from the moment the worker opens the savepoint a write
    of a group runs in until something uses it: the write's first
    :func:`write_transaction` then works in that savepoint instead of opening another
    one inside it (the same undo, two statements fewer per write).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commits = 0
        self.savepoint_unused = False


def commit(conn: sqlite3.Connection) -> None:
    """``COMMIT``, counted on a :class:`StoreConnection`."""
    conn.execute("COMMIT")
    if isinstance(conn, StoreConnection):
        conn.commits += 1


MIN_SQLITE = (3, 35, 0)
"""The oldest SQLite the store runs on: its writes use ``UPDATE ... RETURNING``."""


def check_sqlite_version(version: tuple[int, int, int] = sqlite3.sqlite_version_info) -> None:
    """Refuse, with a message naming both versions, an SQLite too old for the store."""
    if version < MIN_SQLITE:
        raise StoreError(
            f"amc-tui needs SQLite {'.'.join(map(str, MIN_SQLITE))} or newer; this Python "
            f"has SQLite {'.'.join(map(str, version))} (use a newer Python build)"
        )


def connect_read_write(path: Path, busy_timeout: float) -> StoreConnection:
    """The store's connection, configured as the store requires.

    Autocommit mode (``isolation_level=None``): nothing opens a transaction but
    :func:`write_transaction` and the worker's group of writes.  WAL, so readers never
    wait for the writer; ``synchronous=FULL``, so a committed write survives a power
    cut; foreign keys on.
    """
    check_sqlite_version()
    conn = sqlite3.connect(
        path, timeout=busy_timeout, isolation_level=None, factory=StoreConnection
    )
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(
                f"The history file {path} cannot use write-ahead logging (journal mode {mode})"
            )
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        # Make the -wal and -shm files exist now, then make sure they are private even
        # if the database file was made by someone else with a looser mode.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        for suffix in ("-wal", "-shm"):
            _make_private(Path(f"{path}{suffix}"))
    except BaseException:
        conn.close()
        raise
    return conn


def _make_private(path: Path) -> None:
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, mode & 0o700)


SAVEPOINT = "amc_tui_write"
"""The name of the savepoint a write runs in when a transaction is already open."""


SAVEPOINT_SQL = f"SAVEPOINT {SAVEPOINT}"
RELEASE_SQL = f"RELEASE {SAVEPOINT}"
ROLLBACK_TO_SQL = f"ROLLBACK TO {SAVEPOINT}"


def write_transaction(conn: sqlite3.Connection) -> WriteTransaction:
    """One write, all or nothing: ``with write_transaction(conn): ...``.

    Outside a transaction: ``BEGIN IMMEDIATE`` ... ``COMMIT``, ``ROLLBACK`` on any
    exception.  Taking the write lock at the start means the reads inside see the state
    the writes will apply to, and a busy database is noticed before any work is done.
    With ``synchronous=FULL`` the write is on disk when this block ends.

    Inside a transaction (the store's worker runs a group of writes in one, see
    :mod:`amc_tui.store.worker`): a ``SAVEPOINT``, released at the end and rolled back
    to on any exception, so the write is still undone alone; it becomes durable
    with the enclosing ``COMMIT``.  When the worker has just opened the write's own
    savepoint (:attr:`StoreConnection.savepoint_unused`), that one is used: rolled back
    to on an exception, released by the worker.  If SQLite has abandoned the whole
    transaction (a full disk or an I/O error rolls it back), there is nothing left to
    undo and the exception simply propagates; ``conn.in_transaction`` is then False.
    """
    return WriteTransaction(conn)


class WriteTransaction:
    """The context manager :func:`write_transaction` returns (a class: it is cheaper
    than a generator on the store's busiest path)."""

    __slots__ = ("_conn", "_mode")

    _OWN, _NESTED, _WORKERS = 0, 1, 2

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._mode = self._OWN

    def __enter__(self) -> sqlite3.Connection:
        conn = self._conn
        if not conn.in_transaction:
            conn.execute("BEGIN IMMEDIATE")
            self._mode = self._OWN
        elif isinstance(conn, StoreConnection) and conn.savepoint_unused:
            conn.savepoint_unused = False
            self._mode = self._WORKERS
        else:
            conn.execute(SAVEPOINT_SQL)
            self._mode = self._NESTED
        return conn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        conn, mode = self._conn, self._mode
        if exc_type is None:
            if mode == self._OWN:
                commit(conn)
            elif mode == self._NESTED:
                conn.execute(RELEASE_SQL)
            return
        if not conn.in_transaction:
            return
        if mode == self._OWN:
            conn.execute("ROLLBACK")
        else:
            conn.execute(ROLLBACK_TO_SQL)
            if mode == self._NESTED:
                conn.execute(RELEASE_SQL)


@contextlib.contextmanager
def read_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One snapshot for several reads (``BEGIN`` ... ``COMMIT``), unless already in one."""
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` means another connection holds a lock we need."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in _BUSY_CODES


_DAMAGED_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_UNWRITABLE_CODES = frozenset(
    {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH}
)


def translate_error(exc: sqlite3.Error, path: Path, busy_timeout: float) -> StoreError:
    """A :class:`StoreError` naming ``path`` for an error SQLite raised.

    Classified on SQLite's (primary) result code, never on the message text.  The
    caller raises it ``from exc`` so the original stays as ``__cause__``.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    detail = f"{getattr(exc, 'sqlite_errorname', type(exc).__name__)}: {exc}"
    if primary in _BUSY_CODES:
        message = (
            f"The history file {path} is locked by another program (waited {busy_timeout:g} s)"
        )
    elif primary in _DAMAGED_CODES:
        message = f"The history file {path} is damaged or is not an SQLite database"
    elif primary in _UNWRITABLE_CODES:
        message = f"The history file {path} cannot be opened for writing"
    elif primary == sqlite3.SQLITE_FULL:
        message = f"The disk holding the history file {path} is full"
    elif primary == sqlite3.SQLITE_IOERR:
        message = f"The history file {path} could not be read or written (I/O error)"
    elif isinstance(exc, sqlite3.IntegrityError):
        message = f"The history file {path} refused a write that breaks its rules ({exc})"
    else:
        message = f"The history file {path} could not be used ({exc})"
    return StoreError(message, detail=detail)
