"""Shared fixtures: every test runs with its own config and data dirs.

The environment variables that point amc-tui at files or secrets are cleared, so a
test never reads or writes the developer's real config, history or logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
