"""kill -9 at seeded random moments, then ``amc-tui resume`` until done: nothing lost or doubled.

The simulator runs on a real port in its own process (AMC outlives amc-tui).  Each
trial runs ``amc-tui run`` on 30 instances and kills it with SIGKILL at a moment
chosen by the trial's seed, in one of three ways:

- **create**: once the store shows an execution SUBMITTING (its create written ahead,
  the call on its way or awaiting AMC's slow answer), after a further 0-20 ms;
- **commit**: when one of the process's threads is inside ``fsync``/``fdatasync``
  (read from ``/proc/PID/task/*/syscall``), i.e. in the middle of a SQLite commit;
- **anytime**: after a delay drawn between 0.1 s and 3 s (from start-up to the end).

Then ``amc-tui history`` must already show the batch ``interrupted`` (the start-up
recovery found its owner gone), and ``amc-tui resume`` is run until it exits 0.
Each trial checks: every instance has exactly one execution on the simulator for this
trial's query, and it SUCCEEDED (none lost, none made twice); the store passes
``PRAGMA integrity_check``; and ``amc-tui show --json`` agrees with the simulator,
execution by execution.  A kill before the batch was stored must leave nothing on AMC.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
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
from reliability import record

pytestmark = [pytest.mark.socket, pytest.mark.reliability]

INSTANCES = [f"amc{n:09x}" for n in range(0xC0FFEE000, 0xC0FFEE000 + 30)]
TRIALS_PER_WAY = 7
SYNC_SYSCALLS = {"x86_64": {74, 75}, "aarch64": {82, 83}}.get(os.uname().machine, set())
"""fsync and fdatasync, by machine."""


@dataclass
class Trial:
    seed: int
    way: str
    killed_at: float = 0.0
    submitting_at_kill: int = 0
    in_sync_at_kill: bool = False
    finished_before_kill: bool = False
    stored: bool = True
    resumes: int = 0


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    knobs = {
        "seed": 9,
        "time_scale": 600.0,
        "duration_min": 30.0,  # 0.05-0.15 s of real time
        "duration_max": 90.0,
        "latency_min": 0.005,  # every answer takes a while: creates are caught in flight
        "latency_max": 0.05,
        "lost_answer_rate": 0.05,  # some creates are made but answered 504
        "failure_rate": 0.0,
        "instances": simulated_instances(INSTANCES, "Kill test"),
    }
    with SimulatorProcess(tmp_path_factory.mktemp("simulator"), **knobs) as served:
        yield served


def sql_for(trial: Trial) -> str:
    return f"-- kill test, trial {trial.way} {trial.seed}\nSELECT 1 AS one"


def _store_status_counts(db: Path) -> Counter[str]:
    return Counter(row[0] for row in read_rows(db, "SELECT status FROM executions"))


def _threads_in_sync(pid: int) -> bool:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/syscall") as handle:
                first = handle.read().split(" ", 1)[0]
        except OSError:
            continue
        if first.isdigit() and int(first) in SYNC_SYSCALLS:
            return True
    return False


def _kill_when(trial: Trial, proc: subprocess.Popen[str], db: Path) -> None:
    """SIGKILL ``proc`` at the trial's moment (or note that it finished first)."""
    rng = random.Random(trial.seed)
    start = time.monotonic()
    if trial.way == "anytime":
        deadline = start + rng.uniform(0.1, 3.0)
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.005)
    elif trial.way == "create":
        wait_after = rng.uniform(0.0, 0.02)
        while proc.poll() is None and not _store_status_counts(db)["SUBMITTING"]:
            time.sleep(0.002)
        time.sleep(wait_after)
    else:  # commit: the nth commit seen, n drawn by the seed
        wanted = rng.randint(1, 40)
        seen = 0
        was_in_sync = False
        while proc.poll() is None and seen < wanted:
            in_sync = _threads_in_sync(proc.pid)
            if in_sync and not was_in_sync:
                seen += 1
            was_in_sync = in_sync
        trial.in_sync_at_kill = seen >= wanted
    if proc.poll() is not None:
        trial.finished_before_kill = True
        return
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    trial.killed_at = time.monotonic() - start
    trial.submitting_at_kill = _store_status_counts(db)["SUBMITTING"]


def run_trial(trial: Trial, simulator: SimulatorProcess, workdir: Path) -> None:
    home = home_on(
        workdir,
        simulator.base_url,
        max_concurrent_executions=8,
        retry_delay_base=0.05,
        poll_interval_min=0.02,
        poll_interval_max=0.2,
    )
    db, env = home.db, home.env
    sql_file = workdir / "query.sql"
    sql_file.write_text(sql_for(trial))
    began = datetime.now(UTC) - timedelta(seconds=5)
    proc = subprocess.Popen(
        [*AMC_TUI, "run", "--sql-file", str(sql_file), "--all-instances", "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        _kill_when(trial, proc, db)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    context = f"trial {trial}"

    listed = amc_cli("history", "--json", env=env)
    assert listed.returncode == 0, f"{context}: {listed.stderr}"
    batches = json.loads(listed.stdout)
    if not batches:
        # Killed before the batch was stored: then nothing may have reached AMC.
        trial.stored = False
        on_amc = asyncio.run(
            executions_on_amc(simulator.base_url, INSTANCES, since=began, sql=sql_for(trial))
        )
        assert not any(on_amc.values()), f"{context}: executions on AMC for a batch never stored"
        return
    (batch,) = batches
    # The start-up of `history` found the owner gone; a kill after the batch's last
    # write (while the process printed its result) leaves it completed.
    assert batch["status"] in ("interrupted", "completed"), f"{context}: {batch}"

    final = None
    while trial.resumes < 5:
        trial.resumes += 1
        resumed = amc_cli("resume", batch["batch_id"], "--json", env=env)
        final = json.loads(resumed.stdout) if resumed.stdout.strip() else None
        if resumed.returncode == 0:
            break
    assert final is not None and final["status"] == "completed", f"{context}: {final}"

    made = asyncio.run(
        executions_on_amc(simulator.base_url, INSTANCES, since=began, sql=sql_for(trial))
    )
    counts = {instance: len(items) for instance, items in made.items()}
    assert counts == dict.fromkeys(INSTANCES, 1), f"{context}: executions per instance {counts}"
    assert all(items[0].raw_status == "SUCCEEDED" for items in made.values()), context

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", context
    shown = amc_cli("show", batch["batch_id"], "--json", env=env)
    assert shown.returncode == 0, f"{context}: {shown.stderr}"
    history = {e["instance_id"]: e for e in json.loads(shown.stdout)["executions"]}
    assert set(history) == set(INSTANCES), context
    for instance, items in made.items():
        assert history[instance]["status"] == "SUCCEEDED", f"{context}: {history[instance]}"
        assert history[instance]["amc_execution_id"] == items[0].execution_id, context


@pytest.mark.parametrize("way", ["create", "commit", "anytime"])
def test_kill_9_then_resume_loses_and_doubles_nothing(
    way: str, simulator: SimulatorProcess, tmp_path: Path
) -> None:
    if way == "commit" and not SYNC_SYSCALLS:
        pytest.skip(f"no fsync syscall numbers known for {os.uname().machine}")
    trials = [Trial(seed=1000 * n + len(way), way=way) for n in range(TRIALS_PER_WAY)]
    for trial in trials:
        run_trial(trial, simulator, tmp_path / f"trial-{trial.seed}")
    killed = [t for t in trials if not t.finished_before_kill]
    assert len(killed) >= TRIALS_PER_WAY // 2, trials  # the kills really landed mid-run
    if way == "create":
        assert any(t.submitting_at_kill for t in killed), trials
    if way == "commit":
        assert any(t.in_sync_at_kill for t in killed), trials
    in_flight = sum(1 for t in killed if t.submitting_at_kill)
    record(
        f"kill -9 of `amc-tui run` on 30 instances, {way} ({len(trials)} seeded trials)",
        f"{len(killed)} killed mid-run ({in_flight} with a create in flight"
        + (f", {sum(t.in_sync_at_kill for t in killed)} inside fsync" if way == "commit" else "")
        + f"), {sum(not t.stored for t in trials)} before the batch was stored (nothing "
        "on AMC then); every stored batch resumed to 30 succeeded with exactly one "
        "execution per instance on AMC, integrity_check ok, history equal to AMC "
        f"({sum(t.resumes for t in trials)} resumes in all)",
        group="Process",
    )


def test_two_resumes_at_once_after_a_kill_one_wins(
    simulator: SimulatorProcess, tmp_path: Path
) -> None:
    trial = Trial(seed=77, way="create")
    home = home_on(tmp_path, simulator.base_url, poll_interval_min=0.02, poll_interval_max=0.2)
    sql_file = tmp_path / "query.sql"
    sql_file.write_text(sql_for(trial))
    began = datetime.now(UTC) - timedelta(seconds=5)
    run = subprocess.Popen(
        [*AMC_TUI, "run", "--sql-file", str(sql_file), "--all-instances", "--json"],
        env=home.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _kill_when(trial, run, home.db)
    assert not trial.finished_before_kill
    ((batch_id,),) = read_rows(home.db, "SELECT id FROM batches")
    resumes = [
        subprocess.Popen(
            [*AMC_TUI, "resume", str(batch_id), "--json"],
            env=home.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    ended = [(p.wait(timeout=120), *p.communicate()) for p in resumes]
    winners = [e for e in ended if e[0] == 0 and "resuming" in e[2]]
    assert len(winners) == 1, ended
    (loser,) = [e for e in ended if e is not winners[0]]
    refused = loser[0] == 2 and f"Batch {batch_id} is being run by process" in loser[2]
    too_late = loser[0] == 0 and "nothing to resume" in loser[2]
    assert refused or too_late, loser
    made = asyncio.run(
        executions_on_amc(simulator.base_url, INSTANCES, since=began, sql=sql_for(trial))
    )
    assert {i: len(items) for i, items in made.items()} == dict.fromkeys(INSTANCES, 1)
    record(
        "two `amc-tui resume` of one killed batch started at the same moment",
        "one ran it to completed; the other "
        + ("was refused (exit 2, naming the process running it)" if refused else "found it done")
        + "; one execution per instance on AMC",
        group="Process",
    )
