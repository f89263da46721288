"""`amc-tui run`, `show`, `history`, `cancel` and `resume` as real processes.

The simulator runs on a real port (uvicorn in a thread of the test process, so the
test can read what it counted); each command is a subprocess using a profile that
points at it.  Signals are real signals sent to a real `amc-tui run`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from contract import BATCH_KEYS, COUNT_KEYS, EXECUTION_KEYS

from amc_tui.amc.simulator import (
    DEMO_ADVERTISER_ID,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_MARKETPLACE_ID,
    DEMO_REFRESH_TOKEN,
    TOKEN_PATH,
    AmcSimulator,
    SimulatorConfig,
)
from amc_tui.amc.simulator.server import ThreadedServer

pytestmark = pytest.mark.socket

SHORT = 30.0  # simulated seconds: 0.03 s real at 1000x
LONG = 200_000.0  # 200 s real: still running when the test acts


@dataclass
class Cli:
    sim: AmcSimulator
    env: dict[str, str]
    instances: list[str]
    sql_file: Path

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "amc_tui", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "amc_tui", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )

    def run_args(self, n: int, *extra: str) -> list[str]:
        return [
            "run",
            "--sql-file",
            str(self.sql_file),
            "--instances",
            ",".join(self.instances[:n]),
            *extra,
        ]

    def set_duration(self, seconds: float) -> None:
        self.sim.config.duration_min = self.sim.config.duration_max = seconds


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    config = SimulatorConfig.reliable(
        time_scale=1000.0,
        duration_min=SHORT,
        duration_max=SHORT,
        failure_rate=0.0,
        retry_after=0.0,
    )
    sim = AmcSimulator(config)
    with ThreadedServer(sim) as server:
        url = server.base_url
        config_file = tmp_path / "config.toml"
        config_file.write_text(
            f"""
[profiles.sim]
api_url = "{url}"
token_url = "{url}{TOKEN_PATH}"
client_id = "{DEMO_CLIENT_ID}"
advertiser_id = "{DEMO_ADVERTISER_ID}"
marketplace_id = "{DEMO_MARKETPLACE_ID}"

[engine]
retry_delay_base = 0.01
poll_interval_min = 0.02
poll_interval_max = 0.2
"""
        )
        sql_file = tmp_path / "query.sql"
        sql_file.write_text("SELECT campaign, COUNT(*) FROM dsp_impressions GROUP BY 1\n")
        env = {
            **os.environ,
            "AMC_CLIENT_SECRET": DEMO_CLIENT_SECRET,
            "AMC_REFRESH_TOKEN": DEMO_REFRESH_TOKEN,
            "AMC_TUI_CONFIG": str(config_file),
            "AMC_TUI_DATA_DIR": str(tmp_path / "data"),
        }
        ids = [i.instance_id for i in config.instances if i.advertiser_id == DEMO_ADVERTISER_ID]
        yield Cli(sim, env, ids, sql_file)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.02)


def batch_id_of(proc: subprocess.Popen[str]) -> str:
    """The batch id from the line `run` writes to stderr when it starts."""
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("amc-tui: batch batch_"):
            return line.split()[2].rstrip(":")
    raise AssertionError("no start line on stderr")


def finish(proc: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


# --- success, JSON, show, history -------------------------------------------------------


def test_run_json_show_and_history(cli: Cli) -> None:
    done = cli(*cli.run_args(3, "--name", "weekly", "--json"))
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # nothing but one JSON object on stdout
    assert set(document) == BATCH_KEYS
    assert set(document["counts"]) == COUNT_KEYS
    assert document["counts"]["total"] == document["counts"]["succeeded"] == 3
    assert document["status"] == "completed" and document["name"] == "weekly"
    assert document["finished_at"].endswith("Z")
    for execution in document["executions"]:
        assert set(execution) == EXECUTION_KEYS
        assert execution["status"] == "SUCCEEDED" and execution["attempts"] == 1
        assert execution["amc_execution_id"] in cli.sim.executions
        assert execution["error"] is None
    assert {e["instance_id"] for e in document["executions"]} == set(cli.instances[:3])

    shown = cli("show", document["batch_id"], "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout) == document
    table = cli("show", document["batch_id"])
    assert document["batch_id"] in table.stdout and cli.instances[0] in table.stdout

    listed = cli("history", "--json")
    assert listed.returncode == 0
    rows = json.loads(listed.stdout)
    assert rows[0]["batch_id"] == document["batch_id"] and "executions" not in rows[0]


def test_failures_exit_1_with_the_reason(cli: Cli) -> None:
    cli.sim.config.instance_scripts[cli.instances[0]] = ["fail"]
    cli.sim.config.instance_scripts[cli.instances[1]] = ["403"]
    done = cli(*cli.run_args(3, "--json"))
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert document["status"] == "partial"
    errors = {e["instance_id"]: e["error"] for e in document["executions"]}
    assert errors[cli.instances[0]].startswith("The query failed on AMC")
    assert errors[cli.instances[1]] == "Access denied for this instance"
    assert errors[cli.instances[2]] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--instances", "amcnothere"], "Unknown instance 'amcnothere'"),
        (["--start", "2024-05-08T00:00:00", "--end", "2024-05-01T00:00:00"], "is not before"),
        (["--start", "2024-05-01"], "--start '2024-05-01' is not in the form"),
        (["--param", "novalue"], "--param 'novalue'"),
        (["--max-concurrency", "0"], "--max-concurrency 0"),
        (["--window", "SOMETIME"], "--window 'SOMETIME': expected one of"),
    ],
)
def test_invalid_input_exits_2_and_stores_nothing(cli: Cli, args: list[str], message: str) -> None:
    base = ["run", "--sql-file", str(cli.sql_file)]
    if "--instances" not in args:
        base += ["--instances", cli.instances[0]]
    if args[0] == "--start" and "--end" not in args:
        args = [*args, "--end", "2024-05-08T00:00:00"]
    done = cli(*base, *args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "details in" not in done.stderr  # the message says it all
    assert done.stdout == ""
    assert json.loads(cli("history", "--json").stdout) == []
    assert cli.sim.stats.requests["POST create"] == 0


def test_bad_files_exit_2(cli: Cli, tmp_path: Path) -> None:
    missing = cli("run", "--sql-file", str(tmp_path / "nope.sql"), "--all-instances")
    assert missing.returncode == 2 and "nope.sql: no such file" in missing.stderr
    empty = tmp_path / "empty.sql"
    empty.write_text("  \n")
    blank = cli("run", "--sql-file", str(empty), "--all-instances")
    assert blank.returncode == 2 and "the file is empty" in blank.stderr
    unknown = cli("show", "batch_nothere1")
    assert unknown.returncode == 2 and "batch_nothere1" in unknown.stderr


def test_credentials_refused_exit_3(cli: Cli) -> None:
    env = {**cli.env, "AMC_CLIENT_SECRET": "wrong-secret"}
    done = subprocess.run(
        [sys.executable, "-m", "amc_tui", *cli.run_args(1)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3
    assert "wrong-secret" not in done.stderr + done.stdout


# --- cancel, signals, resume -----------------------------------------------------------


def test_cancel_from_another_process_exits_4(cli: Cli) -> None:
    cli.set_duration(LONG)
    proc = cli.start(*cli.run_args(8, "--json"))
    batch_id = batch_id_of(proc)
    wait_for(lambda: cli.sim.stats.in_flight() == 5)
    busy = cli("resume", batch_id)  # one process runs a batch at a time
    assert busy.returncode == 2 and f"Batch {batch_id} is being run by process" in busy.stderr
    cancelled = cli("cancel", batch_id)
    assert cancelled.returncode == 0, cancelled.stderr
    code, out, err = finish(proc)
    assert code == 4, err
    document = json.loads(out)
    assert document["status"] == "cancelled"
    assert document["counts"]["cancelled"] == 8
    assert cli.sim.stats.in_flight() == 0
    assert cli.sim.stats.requests["POST create"] == 5


def test_ctrl_c_cancels_on_amc_and_exits_130(cli: Cli) -> None:
    cli.set_duration(LONG)
    proc = cli.start(*cli.run_args(8))
    batch_id = batch_id_of(proc)
    wait_for(lambda: cli.sim.stats.in_flight() == 5)
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc)
    assert code == 130, err
    assert cli.sim.stats.in_flight() == 0
    shown = json.loads(cli("show", batch_id, "--json").stdout)
    assert shown["status"] == "cancelled"


def test_second_ctrl_c_leaves_the_batch_interrupted(cli: Cli) -> None:
    cli.set_duration(LONG)
    cli.sim.config.cancel_delay = LONG  # AMC takes its time to confirm the cancels
    proc = cli.start(*cli.run_args(8))
    batch_id = batch_id_of(proc)
    wait_for(lambda: cli.sim.stats.in_flight() == 5)
    proc.send_signal(signal.SIGINT)
    wait_for(lambda: cli.sim.stats.requests["PUT cancel"] >= 1)
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc)
    assert code == 130, err
    shown = json.loads(cli("show", batch_id, "--json").stdout)
    assert shown["status"] == "interrupted"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_leave_amc_running_then_resume_finishes(
    cli: Cli, signum: signal.Signals
) -> None:
    cli.set_duration(LONG)
    proc = cli.start(*cli.run_args(8))
    batch_id = batch_id_of(proc)
    wait_for(lambda: cli.sim.stats.in_flight() == 5)
    started = time.monotonic()
    proc.send_signal(signum)
    code, _, err = finish(proc)
    assert code == 128 + signum, err
    assert time.monotonic() - started < 10  # promptly
    assert cli.sim.stats.in_flight() == 5  # left running on AMC
    assert cli.sim.stats.requests["PUT cancel"] == 0
    shown = json.loads(cli("show", batch_id, "--json").stdout)
    assert shown["status"] == "interrupted"

    for record in cli.sim.executions.values():  # let AMC finish the long ones
        record.duration_seconds = record.pending_seconds = 0.0
    cli.set_duration(SHORT)
    resumed = cli("resume", batch_id, "--json")
    assert resumed.returncode == 0, resumed.stderr
    document = json.loads(resumed.stdout)
    assert document["status"] == "completed" and document["counts"]["succeeded"] == 8
    made = cli.sim.stats.executions_made_per_instance
    assert sorted(made) == sorted(cli.instances[:8]) and set(made.values()) == {1}


def test_cancel_of_an_interrupted_batch_cancels_on_amc(cli: Cli) -> None:
    cli.set_duration(LONG)
    proc = cli.start(*cli.run_args(8))
    batch_id = batch_id_of(proc)
    wait_for(lambda: cli.sim.stats.in_flight() == 5)
    proc.send_signal(signal.SIGTERM)
    assert finish(proc)[0] == 128 + signal.SIGTERM
    assert cli.sim.stats.in_flight() == 5

    cancelled = cli("cancel", batch_id)  # nobody runs it now: this process cancels
    assert cancelled.returncode == 0, cancelled.stderr
    assert "ended cancelled" in cancelled.stderr
    assert cli.sim.stats.in_flight() == 0
    shown = json.loads(cli("show", batch_id, "--json").stdout)
    assert shown["status"] == "cancelled" and shown["counts"]["cancelled"] == 8
    again = cli("cancel", batch_id)  # idempotent
    assert again.returncode == 0 and "already ended cancelled" in again.stderr


def test_parameters_from_a_file_and_the_command_line_reach_amc(cli: Cli, tmp_path: Path) -> None:
    first, second = cli.instances[:2]
    params = tmp_path / "params.toml"
    params.write_text(
        f'[params]\nbrand = "Acme"\nlookback = 30\n\n[instances."{second}"]\nbrand = "Acme UK"\n'
    )
    done = cli(*cli.run_args(2, "--param-file", str(params), "--param", "lookback=7"))
    assert done.returncode == 0, done.stderr
    sent = {r.instance_id: dict(r.request.parameter_values) for r in cli.sim.executions.values()}
    assert sent[first] == {"brand": "Acme", "lookback": "7"}
    assert sent[second] == {"brand": "Acme UK", "lookback": "7"}

    stray = tmp_path / "stray.toml"
    stray.write_text('[instances."amcnotinbatch"]\nbrand = "x"\n')
    refused = cli(*cli.run_args(1, "--param-file", str(stray)))
    assert refused.returncode == 2
    assert "'amcnotinbatch', which is not in this batch" in refused.stderr


def test_sighup_with_the_terminal_gone_still_exits_129(cli: Cli) -> None:
    cli.set_duration(LONG)
    proc = cli.start(*cli.run_args(6, "--json"))
    batch_id = batch_id_of(proc)
    wait_for(lambda: cli.sim.stats.in_flight() == 5)
    assert proc.stdout is not None
    proc.stdout.close()  # the SSH session is gone: writing to it fails
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(timeout=30) == 128 + signal.SIGHUP
    assert proc.stderr is not None
    proc.stderr.close()
    shown = json.loads(cli("show", batch_id, "--json").stdout)
    assert shown["status"] == "interrupted"
    assert cli.sim.stats.in_flight() == 5
