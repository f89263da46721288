"""A fixed history for the TUI's snapshot tests: same ids, times and states every run.

The instances come from the simulator through the real catalog; their UUIDs, and the
batches' ids, times and outcomes, are then pinned so that every screen draws the same
picture on every run (together with a fixed clock and ``TZ=UTC``).  The batches are
written with the store's own API and their times and outcomes pinned with plain SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from engine_support import fast_simulator
from tui_support import tui_settings

from amc_tui.amc.connection import open_demo_client
from amc_tui.amc.simulator import AmcSimulator
from amc_tui.domain import Batch, Execution, QuerySpec, TimeWindow
from amc_tui.engine.instances import InstanceCatalog
from amc_tui.engine.locks import BatchLock
from amc_tui.settings import Settings
from amc_tui.store.history import HistoryStore
from amc_tui.tui.ui_state import UiState

NOW = datetime(2026, 11, 28, 15, 0, 0, tzinfo=UTC)
SQL = "SELECT campaign, SUM(impressions) AS impressions\nFROM dsp_impressions\nGROUP BY 1"
WINDOW = TimeWindow(start="2026-11-01T00:00:00", end="2026-11-08T00:00:00")

# (id, name, minutes before NOW it was created, its executions' outcomes, batch status)
BATCHES = [
    ("batch_demo0001", "Weekly reach, all EU", 30, "SSSSSSSFSSRRRPPQQQ", "running"),
    ("batch_demo0002", "New-to-brand Q4", 180, "SSSSSSFSSSSX", "partial"),
    ("batch_demo0003", "Path to conversion", 1440, "SSSSSS", "completed"),
    ("batch_demo0004", "Overlap test", 2880, "CCCSSS", "cancelled"),
    ("batch_demo0005", "Friday reach", 4320, "SSPPQQ", "interrupted"),
]
STATUS = {
    "S": "SUCCEEDED",
    "F": "FAILED",
    "R": "RUNNING",
    "P": "PENDING",
    "Q": "QUEUED",
    "C": "CANCELLED",
    "X": "UNKNOWN",
}


def fixed_clock() -> datetime:
    return NOW


def _t(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def _seed(settings: Settings) -> None:
    async with await HistoryStore.open(settings.paths.history_db) as store:
        catalog = InstanceCatalog.for_settings(store, settings)
        async with open_demo_client(AmcSimulator(fast_simulator())) as client:
            await catalog.refresh(client)
    conn = sqlite3.connect(settings.paths.history_db, isolation_level=None)
    try:
        for (instance_id,) in conn.execute("SELECT instance_id FROM instances").fetchall():
            pinned = str(uuid.uuid5(uuid.NAMESPACE_URL, f"amc-tui-demo/{instance_id}"))
            conn.execute(
                "UPDATE instances SET uuid = ? WHERE instance_id = ?", (pinned, instance_id)
            )
    finally:
        conn.close()

    async with await HistoryStore.open(settings.paths.history_db) as store:
        instances = await store.list_instances(settings.profile_name)
        for batch_id, name, minutes, outcomes, _ in BATCHES:
            created = NOW - timedelta(minutes=minutes)
            batch = Batch(
                id=batch_id,
                name=name,
                profile=settings.profile_name,
                query=QuerySpec(sql=SQL, time_window=WINDOW),
                created_at=created,
            )
            batch.executions = [
                Execution(
                    batch_id=batch_id,
                    instance_uuid=instance.uuid,
                    instance_id=instance.instance_id,
                    instance_name=instance.name,
                    created_at=created,
                    updated_at=created,
                )
                for instance in instances[: len(outcomes)]
            ]
            await store.create_batch(batch)
    _pin_outcomes(settings)


def _pin_outcomes(settings: Settings) -> None:
    conn = sqlite3.connect(settings.paths.history_db, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for batch_id, _, minutes, outcomes, status in BATCHES:
            created = NOW - timedelta(minutes=minutes)
            rows = conn.execute(
                "SELECT id FROM executions WHERE batch_id = ? "
                "ORDER BY instance_name COLLATE NOCASE, instance_name, id",
                (batch_id,),
            ).fetchall()
            ended = [None]
            for n, ((execution_id,), code) in enumerate(zip(rows, outcomes, strict=True)):
                _pin_execution(conn, execution_id, n, code, created, ended)
            finished = None if status in ("running", "interrupted") else ended[0]
            conn.execute(
                "UPDATE batches SET status = ?, started_at = ?, finished_at = ? WHERE id = ?",
                (status, _t(created), finished, batch_id),
            )
        conn.execute("COMMIT")
    finally:
        conn.close()


def _pin_execution(
    conn: sqlite3.Connection,
    execution_id: int,
    n: int,
    code: str,
    created: datetime,
    ended: list[str | None],
) -> None:
    status = STATUS[code]
    submitted = created + timedelta(seconds=5 + 40 * (n // 5))
    changed = submitted + timedelta(seconds=90 + 37 * n)
    tries = 0 if code == "Q" else (3 if code == "F" else 1)
    error = (None, None)
    if code == "F":
        error = ("throttled", "AMC kept throttling requests; gave up after 3 tries")
    elif code == "X":
        error = ("lost_answer", "The answer from AMC was lost")
    amc_id = None if code in "QF" else str(uuid.uuid5(uuid.NAMESPACE_URL, f"{execution_id}"))
    final = status in ("SUCCEEDED", "FAILED", "CANCELLED")
    conn.execute(
        """UPDATE executions SET status = ?, amc_execution_id = ?, attempts = ?,
           error_category = ?, error_message = ?, updated_at = ?, submitted_at = ?,
           finished_at = ? WHERE id = ?""",
        (
            status,
            amc_id,
            tries,
            error[0],
            error[1],
            _t(changed),
            _t(submitted) if tries else None,
            _t(changed) if final else None,
            execution_id,
        ),
    )
    if final:
        ended[0] = max(ended[0] or "", _t(changed))
    for number in range(1, tries + 1):
        last = number == tries
        failed = code == "F"
        conn.execute(
            """INSERT INTO attempts (execution_id, number, started_at, finished_at,
               error_category, error_message, retry_delay) VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (
                execution_id,
                number,
                _t(submitted + timedelta(seconds=2**number)),
                _t(submitted + timedelta(seconds=2**number + 1)),
                "throttled" if failed else None,
                "AMC is throttling requests; retrying" if failed else None,
                float(2**number) if failed and not last else None,
            ),
        )


@contextlib.contextmanager
def running_elsewhere(settings: Settings) -> Iterator[None]:
    """Hold the locks of the batches seeded ``running``, as the live process running them
    would (otherwise the app's start-up takes them for orphans and marks them interrupted)."""
    with contextlib.ExitStack() as held:
        for batch_id, *_, status in BATCHES:
            if status == "running":
                held.enter_context(BatchLock(settings.paths.lock_dir, batch_id))
        yield


def seed_history(settings: Settings, *, selection: int = 3) -> None:
    """Write the fixed history (and a remembered selection) into ``settings``' data dir."""
    asyncio.run(_seed(settings))
    conn = sqlite3.connect(settings.paths.history_db)
    try:
        ids = [r[0] for r in conn.execute("SELECT instance_id FROM instances ORDER BY name")]
    finally:
        conn.close()
    UiState(settings.paths.state_file, settings.profile_name).remember_selection(ids[:selection])


@contextlib.contextmanager
def seeded_in_utc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings holding the fixed history, for pictures of the app: in UTC, under the
    test's own home (so that paths on screen read the same, ``~/amc-data/...``), with
    the batches seeded running held as their live process would hold them."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        settings = tui_settings(tmp_path, data_dir=Path.home() / "amc-data")
        seed_history(settings)
        with running_elsewhere(settings):
            yield settings
    finally:
        monkeypatch.undo()
        time.tzset()
