"""End to end over real sockets: `amc-tui simulator` in its own process, and the
AmcClient and `amc-tui instances` talking to it through a configured profile."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from process_support import socket_client

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
from amc_tui.domain import ExecutionStatus, QuerySpec, TimeWindow
from amc_tui.errors import InvalidRequestError

pytestmark = pytest.mark.socket

SECRETS = {"AMC_CLIENT_SECRET": DEMO_CLIENT_SECRET, "AMC_REFRESH_TOKEN": DEMO_REFRESH_TOKEN}


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "amc_tui", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.fixture
def simulator_process(tmp_path: Path) -> Iterator[str]:
    """`amc-tui simulator --port 0` in a subprocess; yields its base URL."""
    env = {**os.environ, "AMC_TUI_DATA_DIR": str(tmp_path / "simdata")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "amc_tui",
            "simulator",
            "--port",
            "0",
            "--time-scale",
            "600",
            "--throttle-rate",
            "0",
            "--server-error-rate",
            "0",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    base_url = None
    deadline = time.monotonic() + 30
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if match:
            base_url = match.group(1)
        if "startup complete" in line:
            break
    assert base_url, "".join(lines)
    try:
        yield base_url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise


def test_instances_through_a_profile_on_the_simulator_port(
    simulator_process: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[profiles.sim]
api_url = "{simulator_process}"
token_url = "{simulator_process}{TOKEN_PATH}"
client_id = "{DEMO_CLIENT_ID}"
advertiser_id = "{DEMO_ADVERTISER_ID}"
marketplace_id = "{DEMO_MARKETPLACE_ID}"
"""
    )
    env = {
        **os.environ,
        **SECRETS,
        "AMC_TUI_CONFIG": str(config),
        "AMC_TUI_DATA_DIR": str(tmp_path / "data"),
    }
    done = cli("instances", "--refresh", "--json", env=env)
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    expected = {
        i.instance_id for i in SimulatorConfig().instances if i.advertiser_id == DEMO_ADVERTISER_ID
    }
    assert {item["instance_id"] for item in listed} == expected
    assert "demo mode" not in done.stderr
    # The UUIDs are stable: a second listing (from the store) gives the same mapping.
    again = json.loads(cli("instances", "--json", env=env).stdout)
    assert {i["instance_id"]: i["instance_uuid"] for i in again} == {
        i["instance_id"]: i["instance_uuid"] for i in listed
    }
    refused = cli("instances", "--refresh", env={**env, "AMC_CLIENT_SECRET": "not-the-secret"})
    assert refused.returncode == 3
    assert "Login with Amazon refused the credentials" in refused.stderr
    assert "not-the-secret" not in refused.stderr + refused.stdout
    log_text = (tmp_path / "data" / "logs" / "amc-tui.log").read_text()
    assert DEMO_CLIENT_SECRET not in log_text
    assert "not-the-secret" not in log_text


async def test_amc_client_over_a_real_port() -> None:
    config = SimulatorConfig.reliable(time_scale=2000.0, duration_min=100.0, duration_max=200.0)
    simulator = AmcSimulator(config)
    with ThreadedServer(simulator) as server:
        client = socket_client(server.base_url)
        async with client:
            instances = await client.list_instances()
            instance = instances[0].instance_id
            query = QuerySpec(
                sql="SELECT 1",
                time_window=TimeWindow(start="2025-01-01T00:00:00", end="2025-01-02T00:00:00"),
            )
            created = await client.create_execution(instance, query)
            status = created.status
            for _ in range(1000):
                status = (await client.get_execution(instance, created.execution_id)).status
                if status.is_terminal:
                    break
                await asyncio.sleep(0.01)
            assert status is ExecutionStatus.SUCCEEDED
            urls = await client.get_download_urls(instance, created.execution_id)
            result = await client.http.get(urls.download_urls[0])
            assert result.status_code == 200
            assert result.text.count("\n") == config.result_rows + 1

            second = await client.create_execution(instance, query)
            await client.cancel_execution(instance, second.execution_id)
            cancelled = await client.get_execution(instance, second.execution_id)
            assert cancelled.status is ExecutionStatus.CANCELLED
            with pytest.raises(InvalidRequestError):
                await client.cancel_execution(instance, second.execution_id)
    assert simulator.stats.token_requests == 1
    assert simulator.stats.in_flight() == 0
