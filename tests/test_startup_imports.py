"""What each way of starting amc-tui loads: the part of start-up time a test can hold.

Issue 6 wants ``--help`` and ``history`` to start fast (``bench/startup.py`` has the
figures).  Their time is mostly imports, so the tests pin down which libraries each
command loads, in a fresh interpreter: no headless command imports textual; those
that make no HTTP call import neither httpx nor the AMC client or simulator; and
``--help`` and ``history`` (with no config file, nothing to recover) load no event
loop, no pydantic and no domain models.  The TUI, run on a real terminal, does import
textual and httpx, and ``show``, or ``history`` with a batch to recover, do load
pydantic and asyncio: that shows the probe sees an import when there is one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pty_support import PtySession
from store_support import stored_batch

from amc_tui.amc.simulator import SimulatorConfig
from amc_tui.amc.simulator.demo_data import demo_instances
from amc_tui.domain import BatchStatus, ExecutionStatus
from amc_tui.engine.locks import BatchLock
from amc_tui.store import HistoryStore

WATCHED = (
    "textual",
    "httpx",
    "amc_tui.amc",
    "amc_tui.amc.simulator",
    "asyncio",
    "pydantic",
    "pydantic_core",
    "amc_tui.domain",
    "amc_tui.store.history",
)
"""Top-level packages, and of amc-tui's own: the AMC client and simulator, the pydantic
domain models and the store's asynchronous face (with its worker thread)."""

# Runs the command line in this interpreter, then writes what was loaded to $PROBE_OUT.
PROBE = f"""
import json, os, sys
from amc_tui.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as stop:  # argparse's --help
    code = stop.code
watched = {WATCHED!r}
loaded = sorted(w for w in watched if any(m == w or m.startswith(w + ".") for m in sys.modules))
with open(os.environ["PROBE_OUT"], "w") as out:
    json.dump({{"code": code, "loaded": loaded}}, out)
"""

HEADLESS = {"textual", "httpx", "amc_tui.amc"}
"""Never loaded by a command that only reads the history (or prints help)."""

QUICK = HEADLESS | {
    "asyncio",
    "pydantic",
    "pydantic_core",
    "amc_tui.domain",
    "amc_tui.store.history",
}
"""Never loaded by ``--help``, nor by ``history`` when it has nothing to recover."""


def probe(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, set[str]]:
    """``amc-tui ARGS`` in a fresh interpreter: its exit code and the watched packages it loaded."""
    out = tmp_path / "probe.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env={**os.environ, **(env or {}), "PROBE_OUT": str(out)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.exists(), done.stderr
    found = json.loads(out.read_text())
    return found["code"], set(found["loaded"])


@pytest.fixture
async def data_dir_with_batch(tmp_path: Path) -> tuple[Path, str]:
    """A data dir whose history holds one batch left unfinished (``history`` recovers it)."""
    data_dir = tmp_path / "data"
    async with await HistoryStore.open(data_dir / "history.db") as store:
        batch = await stored_batch(store, ["Acme Outdoor US", "Acme Outdoor CA"])
    return data_dir, batch.id


@pytest.fixture
async def data_dir_with_history(tmp_path: Path) -> AsyncIterator[Path]:
    """A data dir holding a finished batch and one run by a live process (this one)."""
    data_dir = tmp_path / "data"
    async with await HistoryStore.open(data_dir / "history.db") as store:
        done = await stored_batch(store, ["Acme Outdoor US", "Acme Outdoor CA"])
        for execution in done.executions:
            assert execution.id is not None
            await store.transition_execution(execution.id, ExecutionStatus.CANCELLED)
        await store.transition_batch(done.id, BatchStatus.CANCELLED)
        running = await stored_batch(store, ["Acme Outdoor MX"])
    with BatchLock(data_dir / "locks", running.id):
        yield data_dir


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["history", "--help"]])
def test_help_loads_no_event_loop_pydantic_or_textual(tmp_path: Path, args: list[str]) -> None:
    code, loaded = probe(tmp_path, *args)
    assert code == 0
    assert loaded.isdisjoint(QUICK), loaded


@pytest.mark.parametrize("args", [["history"], ["history", "--json"]], ids=" ".join)
def test_history_loads_no_event_loop_pydantic_or_models(
    tmp_path: Path, data_dir_with_history: Path, args: list[str]
) -> None:
    code, loaded = probe(tmp_path, "--data-dir", str(data_dir_with_history), *args)
    assert code == 0
    assert loaded.isdisjoint(QUICK), loaded


def test_history_of_an_empty_data_dir_loads_no_event_loop_pydantic_or_models(
    tmp_path: Path,
) -> None:
    code, loaded = probe(tmp_path, "--data-dir", str(tmp_path / "data"), "history")
    assert code == 0
    assert loaded.isdisjoint(QUICK), loaded


@pytest.mark.parametrize(
    ("engine", "checked_by_models"),
    [("max_batch_size = 50", False), ("max_batch_size = 50.0", True)],
    ids=["plain", "to coerce"],
)
def test_history_checks_a_config_file_with_pydantic_only_when_in_doubt(
    tmp_path: Path, config_path: Path, engine: str, checked_by_models: bool
) -> None:
    """A plain valid file is vouched for without pydantic; a float where an integer
    belongs is left to the models (which accept it), and they are loaded."""
    config_path.parent.mkdir(parents=True)
    config_path.write_text(
        '[profiles.default]\nclient_id = "amzn1.application-oa2-client.abc"\n'
        f'advertiser_id = "ENTITY1AA1AA11AAA1"\n[engine]\n{engine}\n',
        encoding="utf-8",
    )
    secrets = {"AMC_CLIENT_SECRET": "s3cret", "AMC_REFRESH_TOKEN": "Atzr|r"}
    args = ["--config", str(config_path), "--data-dir", str(tmp_path / "data"), "history"]
    code, loaded = probe(tmp_path, *args, env=secrets)
    assert code == 0
    if checked_by_models:
        assert "pydantic" in loaded
        assert loaded.isdisjoint(HEADLESS | {"asyncio", "amc_tui.domain"}), loaded
    else:
        assert loaded.isdisjoint(QUICK), loaded


@pytest.mark.parametrize(
    "args",
    [
        ["history"],
        ["history", "--json"],
        ["show", "{batch}"],
        ["show", "{batch}", "--json"],
    ],
    ids=lambda args: " ".join(args),
)
def test_reading_through_the_models_loads_neither_textual_nor_http(
    tmp_path: Path, data_dir_with_batch: tuple[Path, str], args: list[str]
) -> None:
    """``show``, and ``history`` with a batch to recover, read through the store's models."""
    data_dir, batch_id = data_dir_with_batch
    argv = [arg.format(batch=batch_id) for arg in args]
    code, loaded = probe(tmp_path, "--data-dir", str(data_dir), *argv)
    assert code == 0
    assert {"pydantic", "asyncio", "amc_tui.domain"} <= loaded  # the probe sees them
    assert loaded.isdisjoint(HEADLESS), loaded


def test_a_command_talking_to_amc_itself_does_not_load_the_simulator(
    tmp_path: Path, config_path: Path
) -> None:
    """With a profile, ``run`` loads the AMC client (it fails on the closed port it is
    given) but not the simulator, which only demo mode needs."""
    config_path.parent.mkdir(parents=True)
    closed = "http://127.0.0.1:9"
    config_path.write_text(
        f'[profiles.default]\napi_url = "{closed}"\ntoken_url = "{closed}/token"\n'
        'client_id = "amzn1.application-oa2-client.abc"\nadvertiser_id = "ENTITY1AA1AA11AAA1"\n'
        "[engine]\nmax_retry_attempts = 0\n",
        encoding="utf-8",
    )
    secrets = {"AMC_CLIENT_SECRET": "s3cret", "AMC_REFRESH_TOKEN": "Atzr|r"}
    args = ["--config", str(config_path), "--data-dir", str(tmp_path / "data")]
    run = ["run", "--sql", "SELECT 1", "--instances", "amcabc123", "--json"]
    code, loaded = probe(tmp_path, *args, *run, env=secrets)
    assert code != 0
    assert {"httpx", "amc_tui.amc"} <= loaded  # the probe sees the client
    assert "amc_tui.amc.simulator" not in loaded


def test_the_tui_does_load_textual_and_httpx(tmp_path: Path) -> None:
    mine = SimulatorConfig().advertiser_id
    names = [i.instance_name for i in demo_instances() if i.advertiser_id == mine]
    out = tmp_path / "probe.json"
    env = {**os.environ, "PROBE_OUT": str(out)}
    argv = [sys.executable, "-c", PROBE, "--data-dir", str(tmp_path / "data")]
    session = PtySession(argv, env)
    try:
        deadline = time.monotonic() + 60
        while not any(name in session.screen_text() for name in names):
            assert session.proc.poll() is None, session.screen_text()[-2000:]
            assert time.monotonic() < deadline, session.screen_text()[-2000:]
            time.sleep(0.05)
        session.wait_until_quiet()
        session.send("\x11")  # ctrl+q
        session.proc.wait(timeout=60)
    finally:
        session.close()
    found = json.loads(out.read_text())
    assert found["code"] == 0
    assert {"textual", "httpx", "amc_tui.amc", "asyncio", "pydantic"} <= set(found["loaded"])
