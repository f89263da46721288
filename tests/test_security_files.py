"""Every file amc-tui writes is private, and a config holding secrets must be too.

``amc-tui`` runs with umask 0 (so nothing but the code decides a mode) on a real
profile with failures and in demo mode: every file under the data dir (the log and
its rotations, the store and its ``-wal``/``-shm``, batch locks, the demo
simulator's state file) must be 0600 and every directory 0700; the log file must
never exist, even for a moment, with a looser mode.  A config file holding secrets
that others may read is refused (exit 3) with the ``chmod`` to run, before anything
is written.  (``state.toml`` is checked by the TUI test in ``test_security_secrets``.)
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from engine_support import SQL
from reliability import record
from security_support import (
    amc_tui,
    cli_env,
    found_in,
    loose_modes,
    new_secrets,
    serve,
    umask,
    write_config,
    written_files,
)

from amc_tui.amc.simulator import SimInstance
from amc_tui.logs import PrivateRotatingFileHandler

pytestmark = [pytest.mark.socket, pytest.mark.reliability]

INSTANCES = [
    SimInstance(instance_id=f"amcfile{n:05d}", instance_name=f"File {n}") for n in range(4)
]
FAULTS: dict[str, Any] = {
    "time_scale": 1000.0,
    "duration_min": 20.0,
    "duration_max": 50.0,
    "failure_rate": 0.3,
    "instance_scripts": {INSTANCES[0].instance_id: ["403"]},
}


def test_file_modes_are_private_whatever_the_umask(tmp_path: Path) -> None:
    data, demo_data = tmp_path / "data", tmp_path / "demo"
    sql = tmp_path / "query.sql"
    sql.write_text(SQL)
    with serve(INSTANCES, **FAULTS) as server:
        config = write_config(tmp_path / "config" / "config.toml", server.base_url, server.secrets)
        ran = amc_tui("run", "--sql-file", str(sql), "--all-instances", env=cli_env(config, data))
    assert ran.returncode == 1, ran.stderr
    demo = amc_tui(
        "run",
        "--demo",
        "--sql-file",
        str(sql),
        "--instances",
        "amc359b33843",
        "--window",
        "ALL",
        env=cli_env(config, demo_data),
    )
    assert demo.returncode in (0, 1), demo.stderr
    expected = {
        data: ["logs/amc-tui.log", "history.db", "locks"],
        demo_data: ["logs/amc-tui.log", "history.db", "simulator-state.json"],
    }
    for root, names in expected.items():
        for name in names:
            assert (root / name).exists(), name
        assert stat.S_IMODE(root.stat().st_mode) == 0o700
        assert loose_modes(root) == {}
    checked = len(written_files(data, demo_data))
    record(
        "file modes of everything amc-tui writes, run with umask 0",
        f"all {checked} files 0600 and their dirs 0700 (log, store and -wal, locks, "
        "the demo simulator's state file)",
        group="Security",
    )


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_config_holding_secrets_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    secrets = new_secrets()
    config = write_config(tmp_path / "config.toml", "http://127.0.0.1:9", secrets, mode=mode)
    data = tmp_path / "data"
    for command in (["history"], ["instances"], ["run", "--workflow-id", "w", "--all-instances"]):
        done = amc_tui(*command, env=cli_env(config, data))
        assert done.returncode == 3, done.stderr
        assert f"chmod 600 {config}" in done.stderr
        assert f"mode {mode:04o}" in done.stderr
        assert found_in((done.stdout + done.stderr).encode(), secrets.values()) == []
    assert not data.exists()  # refused before anything was written
    config.chmod(0o600)
    assert amc_tui("history", env=cli_env(config, data)).returncode == 0
    record(
        f"a config file holding secrets at mode {mode:04o}",
        "history, instances and run refused with exit 3 and the chmod to run; nothing "
        "written; accepted once 0600",
        group="Security",
    )


def test_the_log_file_is_never_readable_by_others_not_even_for_a_moment(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "amc-tui.log"
    log_file.parent.mkdir(mode=0o700)
    modes_at_open: list[int | None] = []
    with umask(0):
        handler = PrivateRotatingFileHandler(log_file, maxBytes=300, backupCount=2, delay=True)
        real_open = handler._builtin_open

        def watched_open(path: str, *args: Any, **kwargs: Any) -> Any:
            """The file's mode when the stream is about to open it (None: not there)."""
            exists = os.path.exists(path)
            modes_at_open.append(stat.S_IMODE(os.stat(path).st_mode) if exists else None)
            return real_open(path, *args, **kwargs)

        handler._builtin_open = watched_open
        logger = logging.getLogger("amc_tui.tests.rotation")
        logger.addHandler(handler)
        try:
            for n in range(40):
                logger.warning("line %d of a log that rotates", n)
        finally:
            logger.removeHandler(handler)
            handler.close()
    assert len(modes_at_open) >= 3  # the first file and rotations
    assert modes_at_open == [0o600] * len(modes_at_open)
    files = written_files(log_file.parent)
    assert len(files) == 3 and loose_modes(log_file.parent) == {}
    record(
        "the log file and its rotations created with umask 0",
        f"each of {len(modes_at_open)} files was 0600 before it was opened for writing, "
        "never 0666 for a moment",
        group="Security",
    )
