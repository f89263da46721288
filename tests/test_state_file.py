"""The program-owned state file: atomic writes, unreadable files set aside, not lost."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from amc_tui.state_file import StateFile, atomic_write_bytes


def test_round_trip_and_private_mode(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "state" / "state.toml")
    assert state.load() == {}
    state.save({"theme": "nord", "selection": {"demo": ["amc1", "amc2"]}})
    assert StateFile(state.path).load() == {
        "theme": "nord",
        "selection": {"demo": ["amc1", "amc2"]},
    }
    assert stat.S_IMODE(state.path.stat().st_mode) == 0o600
    assert state.update(theme="dark")["selection"] == {"demo": ["amc1", "amc2"]}
    assert StateFile(state.path).load()["theme"] == "dark"


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "state" / "f.toml"
    target.parent.mkdir()
    target.write_bytes(b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.toml"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "state" / "f.toml"
    target.parent.mkdir()
    target.write_bytes(b"old")

    state = StateFile(target)
    with pytest.raises(TypeError):
        state.save({"bad": object()})  # tomli_w cannot encode an object
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.toml"]


def test_unreadable_state_is_set_aside_not_deleted(tmp_path: Path) -> None:
    target = tmp_path / "state" / "state.toml"
    target.parent.mkdir()
    target.write_bytes(b"theme = = broken")
    state = StateFile(target)
    assert state.load() == {}
    state.save({"theme": "nord"})
    assert StateFile(target).load() == {"theme": "nord"}
    aside = [p for p in target.parent.iterdir() if p.name.startswith("state.toml.unreadable-")]
    assert len(aside) == 1
    assert aside[0].read_bytes() == b"theme = = broken"
