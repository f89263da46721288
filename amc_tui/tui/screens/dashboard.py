"""PLACEHOLDER (being written): the dashboard screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer, Header, Static

from amc_tui.tui.screens.base import AmcScreen
from amc_tui.tui.widgets.running_bar import RunningBar


class DashboardScreen(AmcScreen):
    def __init__(self, batch_id: str) -> None:
        super().__init__()
        self.batch_id = batch_id

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self.batch_id)
        yield RunningBar()
        yield Footer()
