"""What the TUI remembers between runs: the last selection of instances, per profile.

Kept in the data dir's ``state.toml`` (:class:`~amc_tui.state_file.StateFile`: atomic
writes; an unreadable file is set aside, never lost).  Losing it loses nothing but
convenience, so a failure to write it is logged, not shown as an error.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from amc_tui.errors import ConfigError
from amc_tui.state_file import StateFile

log = logging.getLogger(__name__)

MAX_REMEMBERED = 1000


class UiState:
    """The ``[tui.<profile>]`` table of the state file."""

    def __init__(self, path: Path, profile: str) -> None:
        self._file = StateFile(path)
        self._profile = profile

    def _table(self, state: dict[str, Any]) -> dict[str, Any]:
        tui = state.get("tui")
        if not isinstance(tui, dict):
            return {}
        table = tui.get(self._profile)
        return table if isinstance(table, dict) else {}

    def _load(self) -> dict[str, Any]:
        try:
            return self._file.load()
        except ConfigError as error:
            log.warning("%s", error.user_message)
            return {}

    def selection(self) -> list[str]:
        """The AMC instance ids selected last time (may name instances gone since)."""
        ids = self._table(self._load()).get("selection", [])
        if not isinstance(ids, list):
            return []
        return [i for i in ids if isinstance(i, str)][:MAX_REMEMBERED]

    def remember_selection(self, instance_ids: list[str]) -> None:
        self._set("selection", list(instance_ids)[:MAX_REMEMBERED])

    def get(self, key: str, default: str = "") -> str:
        value = self._table(self._load()).get(key, default)
        return value if isinstance(value, str) else default

    def set(self, key: str, value: str) -> None:
        self._set(key, value)

    def _set(self, key: str, value: object) -> None:
        state = self._load()
        tui = state.get("tui")
        if not isinstance(tui, dict):
            tui = state["tui"] = {}
        table = tui.get(self._profile)
        if not isinstance(table, dict):
            table = tui[self._profile] = {}
        table[key] = value
        try:
            self._file.save(state)
        except ConfigError as error:
            log.warning("%s", error.user_message)
