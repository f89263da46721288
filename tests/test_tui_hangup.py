"""The TUI on a real terminal loses it (SSH drop) or gets SIGTERM mid-batch.

The app runs on a pty as the leader of its own session, against the simulator in its
own process.  The test launches a batch with the keyboard (select all, type SQL,
ctrl+s), waits until executions are on AMC, then closes the terminal (the kernel sends
SIGHUP, as when an SSH session drops) or sends SIGTERM.  In the third case the app
goes on drawing on the lost terminal for a while (SIGHUP held), as a busy app does
before it handles the signal, and is then stopped with SIGTERM: the failed writes
must not hang it.  The app must end promptly,
with 128 + the signal, having written the batch ``interrupted`` itself (the store is
read directly, before any other amc-tui start could recover it), cancelled nothing on
AMC, and left a store that ``amc-tui resume`` finishes with one execution per
instance.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from process_support import (
    AMC_TUI,
    SimulatorProcess,
    amc_cli,
    executions_on_amc,
    home_on,
    read_rows,
    simulated_instances,
)
from pty_support import PtySession
from reliability import record

pytestmark = [pytest.mark.socket, pytest.mark.reliability]

INSTANCES = [f"amc{n:09x}" for n in range(0xABCDE000, 0xABCDE000 + 8)]


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    knobs = {
        "time_scale": 60.0,
        "duration_min": 90.0,  # 1.5-3 s of real time: still running when the signal comes
        "duration_max": 180.0,
        "failure_rate": 0.0,
        "instances": simulated_instances(INSTANCES, "Hangup test"),
    }
    with SimulatorProcess(tmp_path_factory.mktemp("simulator"), **knobs) as served:
        yield served


def _wait_for_executions_on_amc(db: Path, at_least: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        placed = read_rows(db, "SELECT count(*) FROM executions WHERE amc_execution_id IS NOT NULL")
        if placed and int(str(placed[0][0])) >= at_least:
            return
        time.sleep(0.02)
    raise AssertionError("the batch did not reach AMC in time")


@pytest.mark.parametrize("how", ["ssh-drop", "sigterm", "drawing-after-drop"])
def test_tui_leaves_amc_running_and_the_batch_resumable(
    how: str, simulator: SimulatorProcess, tmp_path: Path
) -> None:
    home = home_on(
        tmp_path,
        simulator.base_url,
        max_concurrent_executions=4,
        poll_interval_min=0.05,
        poll_interval_max=0.3,
    )
    data_dir, db, env = home.data_dir, home.db, home.env
    sql = f"SELECT 42 AS hangup_test -- {how}"
    began = datetime.now(UTC) - timedelta(seconds=5)
    session = PtySession([*AMC_TUI], env, hold_sighup=how == "drawing-after-drop")
    try:
        session.wait_for_text(f"Hangup test {len(INSTANCES) - 1:02d}")  # the list is in
        session.send("a")
        session.wait_for_text(f"{len(INSTANCES)} selected")
        session.send("\r")
        session.wait_for_text("Launch")  # the confirm screen's footer
        session.wait_until_quiet()  # mounted, focus on the query source
        session.send("\t")  # from the query source to the SQL field
        session.wait_until_quiet()
        session.send(sql)
        session.wait_for_text("hangup_test")
        session.send("\x13")  # ctrl+s: launch
        _wait_for_executions_on_amc(db, at_least=2)
        stopped_at = time.monotonic()
        if how == "ssh-drop":
            session.hang_up()
            expected = 128 + signal.SIGHUP
        elif how == "drawing-after-drop":
            session.hang_up()
            time.sleep(2.5)  # the dashboard's clocks redraw each second, on no terminal
            stopped_at = time.monotonic()
            session.proc.send_signal(signal.SIGTERM)
            expected = 128 + signal.SIGTERM
        else:
            session.proc.send_signal(signal.SIGTERM)
            expected = 128 + signal.SIGTERM
        code = session.proc.wait(timeout=60)
        took = time.monotonic() - stopped_at
        drawn = session.screen_text()
    finally:
        session.close()
    log_text = (data_dir / "logs" / "amc-tui.log").read_text()
    assert code == expected, log_text[-3000:] + drawn[-3000:]

    # The app itself wrote the batch interrupted (nothing else has opened the store).
    ((batch_id, status),) = read_rows(db, "SELECT id, status FROM batches")
    assert status == "interrupted"
    statuses = [row[0] for row in read_rows(db, "SELECT status FROM executions")]
    assert "CANCELLED" not in statuses and "SUBMITTING" not in statuses
    assert any(s in ("PENDING", "RUNNING") for s in statuses), statuses
    name = "SIGHUP" if how == "ssh-drop" else "SIGTERM"
    assert f"{name}: leaving" in log_text
    if how == "drawing-after-drop":
        assert "the terminal has gone" in log_text  # it did draw on the lost terminal

    on_amc = asyncio.run(executions_on_amc(simulator.base_url, INSTANCES, since=began, sql=sql))
    mine = [e for items in on_amc.values() for e in items]
    assert mine and all(e.raw_status != "CANCELLED" for e in mine)
    left_running = len(mine)

    resumed = amc_cli("resume", str(batch_id), "--json", env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "completed"
    per_instance = asyncio.run(
        executions_on_amc(simulator.base_url, INSTANCES, since=began, sql=sql)
    )
    assert {i: len(items) for i, items in per_instance.items()} == dict.fromkeys(INSTANCES, 1)
    record(
        {
            "ssh-drop": "SSH session drops under the TUI mid-batch (pty closed: SIGHUP)",
            "sigterm": "SIGTERM to the TUI mid-batch",
            "drawing-after-drop": "the TUI draws on a lost terminal, then gets SIGTERM",
        }[how],
        f"the app ended in {took:.1f} s with {expected}, the batch interrupted, "
        f"{left_running} executions left running on AMC (none cancelled); `amc-tui resume` "
        f"completed all {len(INSTANCES)} with one execution each",
        group="Process",
    )
