"""PLACEHOLDER (to be replaced): the history screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer, Header, Static

from amc_tui.tui.screens.base import AmcScreen
from amc_tui.tui.widgets.running_bar import RunningBar


class HistoryScreen(AmcScreen):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("history")
        yield RunningBar()
        yield Footer()
