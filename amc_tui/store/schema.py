"""The schema of the history file: what makes a file ours, and its migrations.

A history file is ours when its ``PRAGMA application_id`` is :data:`APPLICATION_ID`.
Its ``PRAGMA user_version`` is the number of the last migration applied.
Migrations are the numbered files ``NNNN_name.sql`` in ``amc_tui/store/migrations/``
(read with :mod:`importlib.resources`), applied in order, each in one
``BEGIN IMMEDIATE`` transaction that also sets ``user_version`` (and, for the first,
``application_id``).  The version is read again inside that transaction, so two
processes opening a fresh file at once never both apply a migration.

:func:`inspect` decides, through a read-only connection, whether a file may be used:
a foreign database (another application id, or tables but no id) or one from a newer
amc-tui is refused with a :class:`~amc_tui.errors.StoreError` naming it.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from amc_tui.errors import StoreError
from amc_tui.store.database import read_transaction, write_transaction

APPLICATION_ID = 0x414D4354
"""``PRAGMA application_id`` of amc-tui history files: the bytes ``AMCT``."""

EXPECTED_TABLES = frozenset({"instances", "batches", "executions", "attempts"})
"""Tables every amc-tui history file has from schema 1 on."""

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    """One numbered SQL file."""

    number: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """The file's statements, split where SQLite itself sees a complete one."""
        statements: list[str] = []
        pending = ""
        for line in self.sql.splitlines(keepends=True):
            pending += line
            if sqlite3.complete_statement(pending):
                if _has_code(pending):
                    statements.append(pending.strip())
                pending = ""
        if _has_code(pending):
            raise ValueError(f"migration {self.name} ends with an incomplete statement")
        return statements


def _has_code(text: str) -> bool:
    """Whether ``text`` holds more than whitespace, ``;`` and ``--`` comments."""
    for line in text.splitlines():
        code = line.split("--", 1)[0].strip().strip(";").strip()
        if code:
            return True
    return False


def load_migrations() -> list[Migration]:
    """Every migration shipped with amc-tui, in order; numbered 1, 2, ... without gaps."""
    folder = resources.files("amc_tui.store").joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.number)
    numbers = [m.number for m in found]
    if numbers != list(range(1, len(found) + 1)):
        raise RuntimeError(f"amc-tui's migrations are not numbered 1..n: {numbers}")
    return found


def latest_version(migrations: list[Migration] | None = None) -> int:
    """The schema version this amc-tui writes: the number of its last migration."""
    migrations = load_migrations() if migrations is None else migrations
    return migrations[-1].number if migrations else 0


@dataclass(frozen=True)
class FileState:
    """What :func:`inspect` found in a file it accepted."""

    application_id: int
    user_version: int
    tables: frozenset[str]

    @property
    def is_fresh(self) -> bool:
        return self.application_id == 0 and self.user_version == 0 and not self.tables


def _read_state(conn: sqlite3.Connection) -> FileState:
    """The file's identity, read from one snapshot (one transaction).

    Read in separate transactions, a migration committed by another process between
    the reads would make a fresh file look like a foreign one.
    """
    with read_transaction(conn):
        application_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        user_version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    return FileState(application_id, user_version, frozenset(str(r[0]) for r in rows))


def check_state(state: FileState, path: Path, latest: int) -> None:
    """Raise :class:`StoreError` naming ``path`` unless amc-tui may use this file."""
    if state.is_fresh:
        return
    if state.application_id != APPLICATION_ID:
        if state.application_id != 0:
            what = f"application id {state.application_id:#010x}"
        elif state.tables:
            what = "tables " + ", ".join(sorted(state.tables))
        else:
            what = f"user version {state.user_version}"
        raise StoreError(
            f"The history file {path} is an SQLite database of another application "
            f"({what}); it was left untouched"
        )
    if state.user_version > latest:
        raise StoreError(
            f"The history file {path} was written by a newer amc-tui (schema version "
            f"{state.user_version}; this one knows up to {latest}); it was left untouched"
        )


def inspect(conn: sqlite3.Connection, path: Path, latest: int) -> FileState:
    """Read ``conn``'s (read-only) file and refuse it unless it is fresh or ours.

    Beyond :func:`check_state`, a file of ours must have the tables of schema 1.
    """
    state = _read_state(conn)
    check_state(state, path, latest)
    missing = EXPECTED_TABLES - state.tables if state.user_version >= 1 else frozenset()
    if missing:
        raise StoreError(
            f"The history file {path} is damaged: table(s) {', '.join(sorted(missing))} "
            "are missing; it was left untouched"
        )
    return state


def migrate(conn: sqlite3.Connection, path: Path, migrations: list[Migration]) -> int:
    """Apply the migrations ``conn``'s file lacks, each in its own transaction.

    Returns the schema version reached.  A failing migration is rolled back whole and
    raised as a :class:`StoreError` naming the file and the migration.
    """
    latest = latest_version(migrations)
    for migration in migrations:
        if int(conn.execute("PRAGMA user_version").fetchone()[0]) >= migration.number:
            continue
        with write_transaction(conn):
            # Another process may have migrated since we looked: look again, locked.
            state = _read_state(conn)
            check_state(state, path, latest)
            if state.user_version >= migration.number:
                continue
            if state.user_version != migration.number - 1:
                raise StoreError(
                    f"The history file {path} is at schema version {state.user_version}, "
                    f"which cannot be migrated by {migration.name}"
                )
            try:
                for statement in migration.statements():
                    conn.execute(statement)
            except (sqlite3.Error, ValueError) as exc:
                raise StoreError(
                    f"Migration {migration.name} of the history file {path} failed; "
                    "nothing was changed",
                    detail=str(exc),
                ) from exc
            if state.application_id == 0:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID:d}")
            conn.execute(f"PRAGMA user_version = {migration.number:d}")
    return int(conn.execute("PRAGMA user_version").fetchone()[0])
