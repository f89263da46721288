"""The history file under faults: writes cut off by kill -9, a disk that refuses a
commit, and data dirs that cannot be used.

Each fault is real: a process killed in the middle of an SQLite transaction, a file
size limit (``RLIMIT_FSIZE``) that makes the kernel refuse a write while amc-tui
commits, and directories made unwritable (for root too, see :mod:`fs_support`).
"""

from __future__ import annotations

import asyncio
import json
import resource
import signal
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fs_support import unwritable
from process_support import (
    AMC_TUI,
    SimulatorProcess,
    amc_cli,
    cli_env,
    executions_on_amc,
    home_on,
    simulated_instances,
)
from pty_support import PtySession
from reliability import record

from amc_tui.store.history import HistoryStore

pytestmark = pytest.mark.reliability

INSTANCES = [f"amc{n:09x}" for n in range(0xD15C000, 0xD15C000 + 12)]

# A transaction that spills pages to disk (a one-page cache) and is then killed.
CUT_OFF_WRITE = textwrap.dedent(
    """
    import os, signal, sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("PRAGMA cache_size = 1")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("CREATE TABLE junk (x BLOB)")
    for _ in range(300):
        conn.execute("INSERT INTO junk VALUES (randomblob(4000))")
    conn.execute("UPDATE batches SET name = 'half-written'") if sys.argv[2:] else None
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def cut_off_write(db: Path, *, on_store: bool) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CUT_OFF_WRITE, str(db), *(["store"] if on_store else [])],
        check=False,
        capture_output=True,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


async def test_the_first_write_cut_off_by_kill_9_leaves_a_usable_history(tmp_path: Path) -> None:
    db = tmp_path / "data" / "history.db"
    db.parent.mkdir()
    cut_off_write(db, on_store=False)
    assert Path(f"{db}-journal").stat().st_size > 0  # a hot journal, the header not yet written
    async with await HistoryStore.open(db) as store:
        assert await store.list_batches() == []
    assert integrity(db) == "ok"
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "junk" not in tables and "batches" in tables
    record(
        "kill -9 in the middle of the history file's very first write",
        "the next start rolled the journal back and created the history; integrity_check ok",
        group="Store and files",
    )


async def test_a_later_write_cut_off_by_kill_9_is_undone_whole(tmp_path: Path) -> None:
    from engine_support import fast_engine

    from amc_tui.domain import Instance, QuerySpec, TimeWindow
    from amc_tui.engine.validation import build_batch

    db = tmp_path / "data" / "history.db"
    instance = Instance(uuid=uuid.uuid4(), instance_id="amc000000001", name="One", profile="demo")
    batch, _ = build_batch(
        refs=["amc000000001"],
        known=[instance],
        query=QuerySpec(
            sql="SELECT 1",
            time_window=TimeWindow(start="2025-01-01T00:00:00", end="2025-01-02T00:00:00"),
        ),
        engine=fast_engine(),
        profile="demo",
        name="kept",
    )
    async with await HistoryStore.open(db) as store:
        await store.create_batch(batch)
    cut_off_write(db, on_store=True)
    assert Path(f"{db}-wal").stat().st_size > 100_000  # uncommitted frames on disk
    async with await HistoryStore.open(db) as store:
        (summary,) = await store.list_batches()
        assert summary.name == "kept"
    assert integrity(db) == "ok"
    record(
        "kill -9 in the middle of a write to an existing history (WAL frames on disk)",
        "the half-written transaction was gone on the next start, every committed batch "
        "kept; integrity_check ok",
        group="Store and files",
    )


# --- a disk that refuses a commit ------------------------------------------------------


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    knobs = {
        "time_scale": 600.0,
        "duration_min": 30.0,
        "duration_max": 90.0,
        "failure_rate": 0.0,
        "instances": simulated_instances(INSTANCES, "Disk test"),
    }
    with SimulatorProcess(tmp_path_factory.mktemp("simulator"), **knobs) as served:
        yield served


@pytest.mark.socket
def test_a_disk_error_while_committing_stops_the_run_safely(
    simulator: SimulatorProcess, tmp_path: Path
) -> None:
    home = home_on(
        tmp_path,
        simulator.base_url,
        poll_interval_min=0.02,
        poll_interval_max=0.2,
        max_concurrent_executions=4,
    )
    db, env = home.db, home.env
    assert amc_cli("instances", "--refresh", env=env).returncode == 0
    limit = db.stat().st_size + 48 * 1024  # room for the batch, not for the whole run

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a refused write, not a dead process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    sql = tmp_path / "query.sql"
    sql.write_text("SELECT 'disk test' AS marker")
    began = datetime.now(UTC) - timedelta(seconds=5)
    done = subprocess.run(
        [*AMC_TUI, "run", "--sql-file", str(sql), "--all-instances", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limited,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout == ""
    assert f"The history file {db} could not be read or written" in done.stderr
    assert "Executions already on AMC keep running there" in done.stderr
    assert "Traceback" not in done.stderr
    assert integrity(db) == "ok"

    listed = amc_cli("history", "--json", env=env)
    (batch,) = json.loads(listed.stdout)
    assert batch["status"] == "interrupted"
    resumed = amc_cli("resume", batch["batch_id"], "--json", env=env)
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads(resumed.stdout)
    assert final["counts"]["succeeded"] == len(INSTANCES)
    on_amc = asyncio.run(
        executions_on_amc(simulator.base_url, INSTANCES, since=began, sql=sql.read_text())
    )
    counts = {instance: len(items) for instance, items in on_amc.items()}
    assert counts == dict.fromkeys(INSTANCES, 1)
    record(
        "the disk refuses a write while a run commits (file size limit: EFBIG)",
        "the run stopped with exit 3 and a message naming the history file and how to "
        "resume; integrity_check ok; the batch showed interrupted at the next start and "
        f"resume finished all {len(INSTANCES)} with one execution each",
        group="Store and files",
    )


# --- data dirs that cannot be used -----------------------------------------------------


def test_a_read_only_data_dir_is_refused_at_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    env = {**cli_env(tmp_path / "none.toml", data_dir)}
    env.pop("AMC_TUI_CONFIG")
    expected = (
        f"data dir {data_dir} is not writable (choose another with --data-dir or AMC_TUI_DATA_DIR)"
    )
    with unwritable(data_dir):
        for args in (["history"], ["run", "--sql-file", "/dev/null", "--all-instances"]):
            done = amc_cli(*args, env=env)
            assert done.returncode == 3, done.stderr
            assert expected in done.stderr
            assert "Traceback" not in done.stderr
        tui = PtySession([*AMC_TUI], env)
        try:
            code = tui.proc.wait(timeout=60)
            tui.wait_for_text("is not writable", timeout=10)
        finally:
            tui.close()
        assert code == 3
    assert list(data_dir.iterdir()) == []
    record(
        "a read-only data dir",
        "history, run and the TUI each refused at start with exit 3, naming the dir and "
        "how to choose another; nothing written",
        group="Store and files",
    )


def test_a_data_dir_that_cannot_be_created_is_refused_at_start(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    data_dir = blocker / "data"
    env = {**cli_env(tmp_path / "none.toml", data_dir)}
    env.pop("AMC_TUI_CONFIG")
    done = amc_cli("history", env=env)
    assert done.returncode == 3
    assert f"data dir {data_dir} cannot be created: Not a directory" in done.stderr
    assert blocker.read_text() == "not a directory"
    record(
        "a data dir that cannot be created (a file in its path)",
        "refused at start with exit 3, naming the dir and the reason",
        group="Store and files",
    )


def test_a_read_only_history_file_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {**cli_env(tmp_path / "none.toml", data_dir)}
    env.pop("AMC_TUI_CONFIG")
    assert amc_cli("history", env=env).returncode == 0  # creates the history
    db = data_dir / "history.db"
    sql = tmp_path / "query.sql"
    sql.write_text("SELECT 1")
    with unwritable(db):
        done = amc_cli("run", "--demo", "--sql-file", str(sql), "--all-instances", env=env)
    assert done.returncode == 3, done.stderr
    assert f"The history file {db} cannot be opened for writing" in done.stderr
    assert "Traceback" not in done.stderr
    assert "running" not in done.stderr  # refused before a batch existed
    record(
        "a read-only history file",
        "run refused with exit 3 naming the file, before any call to AMC",
        group="Store and files",
    )
