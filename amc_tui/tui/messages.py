"""The messages the app posts to its screens (dataclass messages, as in ``posting``).

The runner's events arrive as plain callbacks (:mod:`amc_tui.engine.events`); the app
wraps each one in :class:`EngineUpdate`, applies it to its
:class:`~amc_tui.tui.live.LiveBatch`, and tells every screen which rows changed with
:class:`BatchUpdated`, so a dashboard redraws single rows and never polls the store
for batches run here.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from amc_tui.engine.events import EngineEvent


@dataclass
class EngineUpdate(Message):
    """An event of this process's runner (already committed to the store)."""

    event: EngineEvent


@dataclass
class BatchUpdated(Message):
    """The batch's live state changed: these executions' rows, and maybe its header."""

    batch_id: str
    execution_ids: frozenset[int]
    finished: bool = False
