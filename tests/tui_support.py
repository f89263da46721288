"""Helpers for the TUI tests: an AmcApp on a fast in-process simulator, and waiting.

Time is made fast by configuration (a fast simulator, tiny retry and poll
intervals), never by patching the app.  Tests wait on conditions with
:func:`wait_for`, never on fixed sleeps.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from engine_support import SQL, WINDOW, fast_engine, fast_simulator
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import DataTable

from amc_tui.amc.simulator import AmcSimulator, SimulatorConfig
from amc_tui.domain import Batch, utc_now
from amc_tui.engine.validation import build_batch, build_query
from amc_tui.settings import Settings, ensure_data_dir, load_settings
from amc_tui.tui.app import AmcApp
from amc_tui.tui.widgets.live_table import LiveTable
from amc_tui.tui.widgets.table import FixedTable


def tui_settings(tmp_path: Path, *, data_dir: Path | None = None, **engine: Any) -> Settings:
    """Demo settings with their own data and config dirs, and a fast engine."""
    # The config file itself need not exist: the conftest points the platform config
    # dir into the test's own home, and queries_dir is beside it.
    settings = load_settings(data_dir=data_dir or tmp_path / "data", demo=True)
    settings = dataclasses.replace(settings, engine=fast_engine(**engine))
    ensure_data_dir(settings.paths)
    return settings


def make_app(
    tmp_path: Path,
    *,
    simulator: SimulatorConfig | None = None,
    read_only: bool = False,
    clock: Callable[[], datetime] = utc_now,
    offer_resume: bool = True,
    settings: Settings | None = None,
    sim: AmcSimulator | None = None,
    **engine: Any,
) -> AmcApp:
    """An AmcApp in demo mode on an in-process simulator (fast unless told otherwise).

    Pass ``sim`` to share one simulator between apps (as AMC is shared by processes).
    """
    settings = settings or tui_settings(tmp_path, **engine)
    sim = sim or AmcSimulator(simulator or fast_simulator())
    return AmcApp(
        settings,
        read_only=read_only,
        simulator=sim,
        clock=clock,
        offer_resume=offer_resume,
    )


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], object], *, timeout: float = 20.0, what: str = ""
) -> None:
    """Let the app run until ``condition()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.02)


async def new_batch(app: AmcApp, n: int, *, name: str = "weekly reach") -> Batch:
    """A validated batch on the profile's first ``n`` instances (not stored)."""
    known = await app.services.instances()
    batch, _ = build_batch(
        refs=[i.instance_id for i in known[:n]],
        known=known,
        query=build_query(sql=SQL, time_window=WINDOW),
        engine=app.settings.engine,
        profile=app.settings.profile_name,
        name=name,
    )
    return batch


class OneTable(App[None]):
    """An app showing one table of ``kind`` (20 lines high), for tests of the tables."""

    CSS = "#table { height: 20; }"

    def __init__(self, kind: type[FixedTable]) -> None:
        super().__init__()
        self.kind = kind

    def compose(self) -> ComposeResult:
        yield self.kind(id="table", cursor_type="row", zebra_stripes=True)

    @property
    def table(self) -> FixedTable:
        return self.query_one("#table", FixedTable)


@asynccontextmanager
async def live_table(size: tuple[int, int]) -> AsyncIterator[tuple[Pilot[None], LiveTable]]:
    """A running :class:`OneTable` app of a LiveTable at ``size``: its pilot and table."""
    app = OneTable(LiveTable)
    async with app.run_test(size=size) as pilot:
        table = app.table
        assert isinstance(table, LiveTable)
        yield pilot, table


def body_cells_drawn_by_datatable(monkeypatch: pytest.MonkeyPatch, table_id: str) -> list[int]:
    """The rows of the body cells of table ``table_id`` that DataTable's own cell path
    (Rich's padding and cutting layers, a ``str`` parsed as markup) draws from now on."""
    rows: list[int] = []
    datatable_cell = DataTable._render_cell

    def counted(self: DataTable[Any], row_index: int, *args: Any, **kwargs: Any) -> Any:
        if row_index >= 0 and self.id == table_id:
            rows.append(row_index)
        return datatable_cell(self, row_index, *args, **kwargs)

    monkeypatch.setattr(DataTable, "_render_cell", counted)
    return rows
