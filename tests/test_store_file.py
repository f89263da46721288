"""The history file: creation, migrations, settings, and files refused untouched."""

from __future__ import annotations

import random
import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from fs_support import unwritable
from store_support import (
    TABLES,
    digest,
    latest_migration_number,
    pragma,
    stored_batch,
    tables,
)

from amc_tui.domain import (
    BatchStatus,
    ExecutionStatus,
)
from amc_tui.errors import StoreError
from amc_tui.store import HistoryStore
from amc_tui.store.schema import APPLICATION_ID, Migration, migrate

# --- the file ------------------------------------------------------------------------


async def test_fresh_file_is_created_private_and_migrated(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    path = data_dir / "history.db"
    async with await HistoryStore.open(path) as store:
        assert store.path == path
        for suffix in ("-wal", "-shm"):
            companion = Path(f"{path}{suffix}")
            if companion.exists():
                assert stat.S_IMODE(companion.stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tables(path) >= TABLES
    assert pragma(path, "user_version") == latest_migration_number()
    assert pragma(path, "application_id") == APPLICATION_ID
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        indexes = {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
    finally:
        conn.close()
    assert {"batches_by_created", "batches_by_status", "executions_by_batch"} <= indexes
    assert "executions_by_amc_id" in indexes


async def test_reopen_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    async with await HistoryStore.open(path) as store:
        created = await stored_batch(store, ["one", "two"])
    version = pragma(path, "user_version")
    conn = sqlite3.connect(path)
    schema = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    conn.close()
    for _ in range(2):
        async with await HistoryStore.open(path) as store:
            assert await store.get_batch(created.id) == created
    assert pragma(path, "user_version") == version
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall() == (
        schema
    )
    conn.close()


async def test_connection_settings(store: HistoryStore) -> None:
    def settings(conn: sqlite3.Connection) -> tuple[object, ...]:
        names = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        values = tuple(conn.execute(f"PRAGMA {name}").fetchone()[0] for name in names)
        return (*values, conn.isolation_level, threading.get_ident())

    journal, synchronous, foreign_keys, busy, isolation, thread = await store._read(settings)
    assert (journal, synchronous, foreign_keys, busy) == ("wal", 2, 1, 10_000)
    assert isolation is None
    assert thread == store.worker_thread != threading.get_ident()


async def test_status_checks_list_exactly_the_enum_values(store: HistoryStore) -> None:
    conn = sqlite3.connect(store.path, isolation_level=None)
    try:
        for status in BatchStatus:
            conn.execute(
                "INSERT INTO batches (id, status, query, max_concurrency, created_at) "
                "VALUES (?, ?, '{}', 1, 'x')",
                (f"b-{status}", status.value),
            )
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                "INSERT INTO batches (id, status, query, max_concurrency, created_at) "
                "VALUES ('b-bad', 'bogus', '{}', 1, 'x')"
            )
        for execution_status in ExecutionStatus:
            conn.execute(
                "INSERT INTO executions (batch_id, instance_uuid, instance_id, status, "
                "created_at, updated_at) VALUES ('b-pending', ?, 'amc', ?, 'x', 'x')",
                (execution_status.value, execution_status.value),
            )
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                "INSERT INTO executions (batch_id, instance_uuid, instance_id, status, "
                "created_at, updated_at) VALUES ('b-pending', 'u', 'amc', 'DONE', 'x', 'x')"
            )
    finally:
        conn.close()


def test_failed_migration_is_rolled_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    conn = sqlite3.connect(path, isolation_level=None)
    good = Migration(1, "0001_one.sql", "CREATE TABLE a (x);\n-- done\n")
    bad = Migration(2, "0002_two.sql", "CREATE TABLE b (x);\nINSERT INTO missing VALUES (1);\n")
    try:
        with pytest.raises(StoreError, match=r"0002_two\.sql") as caught:
            migrate(conn, path, [good, bad])
        assert str(path) in str(caught.value)
        assert isinstance(caught.value.__cause__, sqlite3.Error)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert names == {"a"}
        assert not conn.in_transaction
    finally:
        conn.close()


# --- files that must be refused and left alone ---------------------------------------


async def _real_file(path: Path, batches: int) -> bytes:
    async with await HistoryStore.open(path) as store:
        for _ in range(batches):
            await stored_batch(store, [f"instance {i}" for i in range(20)])
    return path.read_bytes()


async def assert_refused(path: Path, *words: str) -> None:
    before = digest(path)
    size = path.stat().st_size
    with pytest.raises(StoreError) as caught:
        await HistoryStore.open(path)
    message = str(caught.value)
    assert str(path) in message
    for word in words:
        assert word in message
    assert path.exists() and path.stat().st_size == size
    assert digest(path) == before


@pytest.mark.parametrize("kind", ["random", "magic_then_random", "short_header", "truncated"])
async def test_corrupt_file_is_refused_untouched(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "history.db"
    noise = random.Random(kind).randbytes(8192)
    if kind == "random":
        path.write_bytes(noise)
        await assert_refused(path, "not an SQLite database")
    elif kind == "magic_then_random":
        path.write_bytes(b"SQLite format 3\x00" + noise)
        await assert_refused(path, "damaged")
    elif kind == "short_header":
        real = await _real_file(tmp_path / "real.db", 0)
        path.write_bytes(real[:60])
        await assert_refused(path, "not an SQLite database")
    else:
        real = await _real_file(tmp_path / "real.db", 30)
        assert len(real) > 4 * 4096
        path.write_bytes(real[: len(real) // 2])
        await assert_refused(path, "truncated")


async def test_foreign_database_with_tables_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.execute("INSERT INTO users VALUES ('ann')")
    conn.commit()
    conn.close()
    await assert_refused(path, "another application", "users")


async def test_foreign_application_id_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 123456")
    conn.execute("CREATE TABLE batches (id TEXT)")
    conn.commit()
    conn.close()
    await assert_refused(path, "another application")


async def test_database_of_a_newer_amc_tui_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    await _real_file(path, 1)
    conn = sqlite3.connect(path)
    newer = latest_migration_number() + 1
    conn.execute(f"PRAGMA user_version = {newer}")
    conn.commit()
    conn.close()
    await assert_refused(path, "newer amc-tui", str(newer))
    assert pragma(path, "user_version") == newer


async def test_data_dir_under_a_regular_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file")
    path = blocker / "data" / "history.db"
    with pytest.raises(StoreError) as caught:
        await HistoryStore.open(path)
    assert str(blocker / "data") in str(caught.value)
    assert blocker.read_text() == "a file"


async def test_directory_in_place_of_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    path.mkdir()
    with pytest.raises(StoreError, match="is a directory") as caught:
        await HistoryStore.open(path)
    assert str(path) in str(caught.value)


async def test_read_only_data_dir_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "ro"
    data_dir.mkdir(mode=0o700)
    with unwritable(data_dir), pytest.raises(StoreError) as caught:
        await HistoryStore.open(data_dir / "history.db")
    assert str(data_dir / "history.db") in str(caught.value)


def test_an_sqlite_too_old_for_the_store_is_refused_by_name() -> None:
    from amc_tui.store.database import check_sqlite_version

    check_sqlite_version((3, 35, 0))
    with pytest.raises(
        StoreError, match=r"needs SQLite 3\.35\.0 or newer; this Python has SQLite 3\.34\.1"
    ):
        check_sqlite_version((3, 34, 1))
