"""Shared fixtures: every test runs with its own config and data dirs.

The environment variables that point amc-tui at files or secrets are cleared, so a
test never reads or writes the developer's real config, history or logs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sim_support import Harness, MakeHarness, quiet

from amc_tui.amc.simulator import SimulatorConfig
from amc_tui.store import HistoryStore

_ENV = ("AMC_TUI_CONFIG", "AMC_TUI_DATA_DIR", "AMC_CLIENT_SECRET", "AMC_REFRESH_TOKEN")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    yield


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """Where a test may write a config file (not created)."""
    return tmp_path / "config" / "config.toml"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data dir for the test (not created)."""
    return tmp_path / "data"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[HistoryStore]:
    """A fresh history store in the test's own data dir."""
    opened = await HistoryStore.open(tmp_path / "data" / "history.db")
    yield opened
    await opened.close()


@pytest.fixture
async def make() -> AsyncIterator[MakeHarness]:
    """Builds simulator harnesses (logged in by default) and closes them afterwards."""
    made: list[Harness] = []

    async def factory(config: SimulatorConfig | None = None, *, login: bool = True) -> Harness:
        harness = Harness(config or quiet())
        made.append(harness)
        if login:
            await harness.login()
        return harness

    yield factory
    for harness in made:
        await harness.http.aclose()
