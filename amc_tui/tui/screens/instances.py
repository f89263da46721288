"""PLACEHOLDER (to be replaced): the instances screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer, Header, Static

from amc_tui.tui.screens.base import AmcScreen
from amc_tui.tui.widgets.running_bar import RunningBar


class InstancesScreen(AmcScreen):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("instances")
        yield RunningBar()
        yield Footer()
