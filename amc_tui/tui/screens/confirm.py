"""PLACEHOLDER (to be replaced): the confirm screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer, Header, Static

from amc_tui.domain import Instance, QuerySpec
from amc_tui.tui.screens.base import AmcScreen
from amc_tui.tui.widgets.running_bar import RunningBar


class ConfirmScreen(AmcScreen):
    def __init__(
        self, instances: list[Instance], *, query: QuerySpec | None = None, name: str = ""
    ) -> None:
        super().__init__()
        self.instances = instances
        self.initial_query = query
        self.initial_name = name

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("confirm")
        yield RunningBar()
        yield Footer()
