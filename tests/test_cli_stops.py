"""A run stopped by refused credentials says why and how to resume, and is resumable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from process_support import SimulatorProcess, amc_cli, home_on, simulated_instances
from reliability import record

pytestmark = [pytest.mark.socket, pytest.mark.reliability]

INSTANCES = [f"amc{n:09x}" for n in range(0xC4ED000, 0xC4ED000 + 6)]


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    knobs = {
        "time_scale": 600.0,
        "duration_min": 30.0,
        "duration_max": 60.0,
        "instances": simulated_instances(INSTANCES, "Credentials test"),
    }
    with SimulatorProcess(tmp_path_factory.mktemp("simulator"), **knobs) as served:
        yield served


def test_refused_credentials_stop_the_run_with_a_resume_hint(
    simulator: SimulatorProcess, tmp_path: Path
) -> None:
    home = home_on(tmp_path, simulator.base_url, poll_interval_min=0.02, poll_interval_max=0.2)
    assert amc_cli("instances", "--refresh", env=home.env).returncode == 0  # cached
    sql = tmp_path / "query.sql"
    sql.write_text("SELECT 1")
    revoked = {**home.env, "AMC_REFRESH_TOKEN": "Atzr|revoked-meanwhile"}
    stopped = amc_cli("run", "--sql-file", str(sql), "--all-instances", "--json", env=revoked)
    assert stopped.returncode == 3
    assert stopped.stdout == ""
    (batch,) = json.loads(amc_cli("history", "--json", env=home.env).stdout)
    hint = (
        f"batch {batch['batch_id']} stopped: Login with Amazon refused the credentials. "
        "Executions already on AMC keep running there; once the cause is fixed, "
        f"`amc-tui resume {batch['batch_id']}`"
    )
    assert hint in stopped.stderr
    assert "revoked-meanwhile" not in stopped.stderr
    assert batch["status"] == "interrupted"
    resumed = amc_cli("resume", batch["batch_id"], "--json", env=home.env)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["counts"]["succeeded"] == len(INSTANCES)
    record(
        "the refresh token is refused once a run has started (revoked credentials)",
        "the run stopped with exit 3, naming Login with Amazon and the resume command; the "
        "batch was interrupted, and a resume with good credentials completed it",
        group="Token",
    )
