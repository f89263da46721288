"""Helpers for tests that run amc-tui as real processes against a real-port simulator.

:class:`SimulatorProcess` serves ``amc-tui simulator`` in its own process (AMC lives
on when an amc-tui process is killed); :func:`profile_config` writes a config whose
profile points at it; :func:`amc_cli` runs ``python -m amc_tui``; and
:func:`executions_on_amc` asks the simulator, through the AMC API, what it holds.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import tomli_w
from pydantic import SecretStr

from amc_tui.amc.client import AmcClient
from amc_tui.amc.connection import open_client
from amc_tui.amc.models import AmcExecution
from amc_tui.amc.simulator import (
    DEMO_ADVERTISER_ID,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_MARKETPLACE_ID,
    DEMO_REFRESH_TOKEN,
    TOKEN_PATH,
)
from amc_tui.settings import HttpSettings

SECRETS = {"AMC_CLIENT_SECRET": DEMO_CLIENT_SECRET, "AMC_REFRESH_TOKEN": DEMO_REFRESH_TOKEN}
AMC_TUI = [sys.executable, "-m", "amc_tui"]


class SimulatorProcess:
    """``amc-tui simulator --port 0`` in a subprocess, with the given knobs."""

    def __init__(self, workdir: Path, **knobs: Any) -> None:
        self.workdir = workdir
        self.knobs = knobs
        self.base_url = ""
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        knobs_file = self.workdir / "knobs.toml"
        knobs_file.write_text(tomli_w.dumps(self.knobs))
        env = {**os.environ, "AMC_TUI_DATA_DIR": str(self.workdir / "data")}
        command = [*AMC_TUI, "simulator", "--port", "0", "--knobs", str(knobs_file)]
        self.proc = subprocess.Popen(
            command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
        )
        assert self.proc.stderr is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if match:
                self.base_url = match.group(1)
            if "startup complete" in line:
                break
        if not self.base_url:
            self.stop()
            raise AssertionError("the simulator did not start:\n" + "".join(lines))
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def profile_config(path: Path, base_url: str, **engine: Any) -> Path:
    """A config file whose default profile is the simulator at ``base_url``."""
    config: dict[str, Any] = {
        "default_profile": "sim",
        "profiles": {
            "sim": {
                "api_url": base_url,
                "token_url": base_url + TOKEN_PATH,
                "client_id": DEMO_CLIENT_ID,
                "advertiser_id": DEMO_ADVERTISER_ID,
                "marketplace_id": DEMO_MARKETPLACE_ID,
            }
        },
    }
    if engine:
        config["engine"] = engine
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(config))
    return path


def simulated_instances(instance_ids: list[str], label: str) -> list[dict[str, str]]:
    """The ``instances`` knob: one simulated instance per id, named ``label N``."""
    return [
        {"instance_id": instance, "instance_name": f"{label} {n:02d}"}
        for n, instance in enumerate(instance_ids)
    ]


@dataclass
class Home:
    """A config whose profile is the simulator, a data dir, and the env that uses them."""

    env: dict[str, str]
    data_dir: Path

    @property
    def db(self) -> Path:
        return self.data_dir / "history.db"


def home_on(workdir: Path, base_url: str, **engine: Any) -> Home:
    """A fresh config (``[engine]`` from ``engine``) and data dir under ``workdir``."""
    config = profile_config(workdir / "config.toml", base_url, **engine)
    return Home(cli_env(config, workdir / "data"), workdir / "data")


def read_rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on the history file, read as another process would (or [])."""
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return list(conn.execute(sql))
    except sqlite3.Error:
        return []


def cli_env(config: Path, data_dir: Path) -> dict[str, str]:
    """The environment of an amc-tui process using ``config`` and ``data_dir``."""
    return {
        **os.environ,
        **SECRETS,
        "AMC_TUI_CONFIG": str(config),
        "AMC_TUI_DATA_DIR": str(data_dir),
    }


def amc_cli(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``amc-tui ARGS`` to its end; stdout and stderr captured as text."""
    return subprocess.run(
        [*AMC_TUI, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def socket_client(base_url: str, http: HttpSettings | None = None) -> AmcClient:
    """An AmcClient with the demo credentials for the simulator served at ``base_url``."""
    return open_client(
        api_url=base_url,
        token_url=base_url + TOKEN_PATH,
        client_id=DEMO_CLIENT_ID,
        advertiser_id=DEMO_ADVERTISER_ID,
        marketplace_id=DEMO_MARKETPLACE_ID,
        client_secret=SecretStr(DEMO_CLIENT_SECRET),
        refresh_token=SecretStr(DEMO_REFRESH_TOKEN),
        http=http,
    )


async def executions_on_amc(
    base_url: str, instance_ids: list[str], *, since: datetime, sql: str | None = None
) -> dict[str, list[AmcExecution]]:
    """Per instance, the executions the simulator holds made since ``since`` (of ``sql``)."""
    async with socket_client(base_url) as client:
        found = {
            instance: await client.list_executions(instance, min_creation_time=since)
            for instance in instance_ids
        }
    if sql is None:
        return found
    return {i: [e for e in items if e.sql_query == sql] for i, items in found.items()}
