"""What each way of starting amc-tui loads: the part of start-up time a test can hold.

Issue 6 wants ``--help`` and ``history`` to start fast (``bench/startup.py`` has the
figures).  Their time is mostly imports, so the tests pin down which libraries each
command loads, in a fresh interpreter: no headless command imports textual; those
that make no HTTP call import neither httpx nor the AMC client or simulator; and
``--help`` loads no event loop and no pydantic.  The TUI, run on a real terminal,
does import textual and httpx, which shows that the probe sees an import when there
is one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pty_support import PtySession
from store_support import stored_batch

from amc_tui.amc.simulator import SimulatorConfig
from amc_tui.amc.simulator.demo_data import demo_instances
from amc_tui.store import HistoryStore

WATCHED = ("textual", "httpx", "amc_tui.amc", "asyncio", "pydantic")
"""Top-level packages (and ``amc_tui.amc``: the AMC client and simulator) looked for."""

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


def probe(tmp_path: Path, *args: str) -> tuple[int, set[str]]:
    """``amc-tui ARGS`` in a fresh interpreter: its exit code and the watched packages it loaded."""
    out = tmp_path / "probe.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env={**os.environ, "PROBE_OUT": str(out)},
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


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["history", "--help"]])
def test_help_loads_no_event_loop_pydantic_or_textual(tmp_path: Path, args: list[str]) -> None:
    code, loaded = probe(tmp_path, *args)
    assert code == 0
    assert loaded.isdisjoint(HEADLESS | {"asyncio", "pydantic"}), loaded


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
def test_reading_the_history_loads_neither_textual_nor_http(
    tmp_path: Path, data_dir_with_batch: tuple[Path, str], args: list[str]
) -> None:
    data_dir, batch_id = data_dir_with_batch
    argv = [arg.format(batch=batch_id) for arg in args]
    code, loaded = probe(tmp_path, "--data-dir", str(data_dir), *argv)
    assert code == 0
    assert "pydantic" in loaded  # it did read the history
    assert loaded.isdisjoint(HEADLESS), loaded


def test_history_of_an_empty_data_dir_loads_neither_textual_nor_http(tmp_path: Path) -> None:
    code, loaded = probe(tmp_path, "--data-dir", str(tmp_path / "data"), "history")
    assert code == 0
    assert loaded.isdisjoint(HEADLESS), loaded


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
