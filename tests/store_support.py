"""Helpers shared by the history store tests."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import uuid
from importlib import resources
from pathlib import Path

from amc_tui.domain import (
    Batch,
    Execution,
    QuerySpec,
)
from amc_tui.store import HistoryStore

TABLES = {"instances", "batches", "executions", "attempts"}


def latest_migration_number() -> int:
    folder = resources.files("amc_tui.store").joinpath("migrations")
    numbers = [
        int(m.group(1))
        for entry in folder.iterdir()
        if (m := re.match(r"^(\d{4})_\w+\.sql$", entry.name))
    ]
    assert numbers, "no migration files found"
    return max(numbers)


def pragma(path: Path, name: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"PRAGMA {name}").fetchone()[0])
    finally:
        conn.close()


def tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return {r[0] for r in rows}
    finally:
        conn.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_batch(names: list[str], **fields: object) -> Batch:
    batch = Batch(query=QuerySpec(sql="SELECT 1"), **fields)
    batch.executions = [
        Execution(
            batch_id=batch.id,
            instance_uuid=uuid.uuid4(),
            instance_id=f"amc{i:04d}",
            instance_name=name,
        )
        for i, name in enumerate(names)
    ]
    return batch


async def stored_batch(store: HistoryStore, names: list[str], **fields: object) -> Batch:
    return await store.create_batch(make_batch(names, **fields))
