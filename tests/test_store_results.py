"""The store's result records: migration 3, what is kept, and what is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from store_support import stored_batch

from amc_tui.errors import ErrorCategory, StoreError
from amc_tui.store.history import HistoryStore
from amc_tui.store.results import FileKind, ResultStatus
from amc_tui.store.schema import load_migrations

SHA = "a" * 64


async def test_a_version_2_file_gains_the_result_tables_and_keeps_its_batches(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.db"
    async with await HistoryStore.open(path) as store:
        batch = await stored_batch(store, ["Acme US"])
    conn = sqlite3.connect(path)
    conn.executescript("DROP TABLE result_files; DROP TABLE result_sets; PRAGMA user_version = 2;")
    conn.close()

    async with await HistoryStore.open(path) as store:
        assert (await store.get_batch(batch.id)) == batch
        execution_id = batch.executions[0].id
        assert execution_id is not None
        await store.results.start(execution_id)
        assert (await store.results.get(execution_id)) is not None
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    conn.close()


async def test_a_download_is_recorded_file_by_file(store: HistoryStore) -> None:
    batch = await stored_batch(store, ["Acme US"])
    execution_id = batch.executions[0].id
    assert execution_id is not None
    await store.results.start(execution_id)
    await store.results.count_files(execution_id, 2)
    await store.results.start_file(execution_id, FileKind.DATA, 1, "1.csv", etag='"e1"', size=10)
    await store.results.finish_file(execution_id, FileKind.DATA, 1, size=10, sha256=SHA)
    await store.results.start_file(execution_id, FileKind.DATA, 2, "2.csv", etag=None, size=None)

    got = await store.results.get(execution_id)
    assert got is not None
    assert got.status is ResultStatus.DOWNLOADING and got.files == 2
    one, two = got.data_files
    assert (one.name, one.done, one.size, one.sha256, one.etag) == ("1.csv", True, 10, SHA, '"e1"')
    assert one.finished_at is not None
    assert (two.done, two.size, two.sha256, two.finished_at) == (False, None, None, None)
    assert got.size == 10  # only whole files count

    await store.results.end(execution_id, ResultStatus.FAILED, (ErrorCategory.NETWORK, "cut"))
    failed = await store.results.get(execution_id)
    assert failed is not None and failed.status is ResultStatus.FAILED
    assert (failed.error_category, failed.error_message) == (ErrorCategory.NETWORK, "cut")

    await store.results.start(execution_id)  # a new try clears the error, keeps the files
    again = await store.results.get(execution_id)
    assert again is not None and again.error_message is None and len(again.recorded) == 2

    await store.results.forget_files(execution_id)
    forgotten = await store.results.get(execution_id)
    assert forgotten is not None and forgotten.recorded == ()


async def test_restarting_a_file_clears_what_was_recorded_of_it(store: HistoryStore) -> None:
    batch = await stored_batch(store, ["Acme US"])
    execution_id = batch.executions[0].id
    assert execution_id is not None
    await store.results.start(execution_id)
    await store.results.start_file(execution_id, FileKind.DATA, 1, "1.csv", etag='"a"', size=5)
    await store.results.finish_file(execution_id, FileKind.DATA, 1, size=5, sha256=SHA)
    await store.results.start_file(execution_id, FileKind.DATA, 1, "1.csv", etag='"b"', size=9)
    got = await store.results.get(execution_id)
    assert got is not None
    [row] = got.recorded
    assert (row.done, row.etag, row.size, row.sha256) == (False, '"b"', 9, None)


async def test_results_of_many_executions_are_read_together(store: HistoryStore) -> None:
    batch = await stored_batch(store, [f"Instance {n}" for n in range(3)])
    ids = [ex.id for ex in batch.executions if ex.id is not None]
    for execution_id in ids[:2]:
        await store.results.start(execution_id)
    found = await store.results.of_executions(ids)
    assert sorted(found) == sorted(ids[:2])


async def test_records_for_what_does_not_exist_are_refused(store: HistoryStore) -> None:
    with pytest.raises(StoreError, match="No execution 999"):
        await store.results.start(999)
    with pytest.raises(StoreError, match="No execution 999"):
        await store.results.start_file(999, FileKind.DATA, 1, "1.csv", etag=None, size=None)
    batch = await stored_batch(store, ["Acme US"])
    execution_id = batch.executions[0].id
    assert execution_id is not None
    with pytest.raises(StoreError, match="No result download was started"):
        await store.results.end(execution_id, ResultStatus.DOWNLOADED)
    with pytest.raises(StoreError, match="No download of data file 1"):
        await store.results.finish_file(execution_id, FileKind.DATA, 1, size=1, sha256=SHA)
    with pytest.raises(StoreError, match="size and SHA-256"):
        await store.results.finish_file(execution_id, FileKind.DATA, 1, size=1, sha256="short")
    assert await store.results.get(execution_id) is None


def test_the_schema_refuses_a_done_file_without_its_digest() -> None:
    results = next(m for m in load_migrations() if m.name == "0003_results.sql")
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE executions (id INTEGER PRIMARY KEY)")
    for statement in results.statements():
        conn.execute(statement)
    conn.execute("INSERT INTO executions (id) VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO result_files (execution_id, kind, number, name, status, started_at) "
            "VALUES (1, 'data', 1, '1.csv', 'done', 'now')"
        )
